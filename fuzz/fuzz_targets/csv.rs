//! The CSV data reader: any bytes give a table or an error naming the file.
#![no_main]

use heavyball::data::csv::load_reader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match load_reader(data, "label", "fuzz.csv") {
        Ok(table) => {
            assert_eq!(table.x.nrows(), table.y.len());
            assert!(table.n_classes >= 2 && table.y.iter().all(|&c| (c as usize) < table.n_classes));
            assert!(table.x.iter().all(|v| v.is_finite()));
        }
        Err(e) => assert!(e.to_string().starts_with("fuzz.csv"), "{e}"),
    }
});
