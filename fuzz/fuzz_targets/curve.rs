//! `curve.csv` as the report and resume read it: rows or an error naming the file.
#![no_main]

use heavyball::store::files::read_curve;
use heavyball::store::summary::whole_curve;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("heavyball-fuzz-curve-{}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    match read_curve(&path) {
        Ok(rows) => {
            let _ = whole_curve(&rows, rows.len().saturating_sub(1));
        }
        Err(e) => assert!(format!("{e:#}").contains("heavyball-fuzz-curve"), "{e:#}"),
    }
});
