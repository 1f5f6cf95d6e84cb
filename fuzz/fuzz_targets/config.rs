//! The config reader: any text gives a validated config or an error naming the file.
#![no_main]

use std::path::Path;

use heavyball::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Config::from_str(&text, "fuzz.toml", "fuzz", Path::new("/nonexistent")) {
        Ok(config) => {
            let runs = config.grid.hidden.len() * config.grid.gamma.len() * config.grid.alpha.len();
            assert!(runs * config.grid.seed.len() <= heavyball::config::MAX_RUNS);
            assert!(config.train.iterations >= 1 && config.train.iterations <= heavyball::config::MAX_ITERATIONS);
        }
        // Every message names the file: at its start, or as "in [section] of fuzz.toml".
        Err(e) => assert!(e.to_string().contains("fuzz.toml"), "{e}"),
    }
});
