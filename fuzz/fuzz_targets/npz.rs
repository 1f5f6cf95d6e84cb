//! The checkpoint and parameter readers: any file gives a state of the run's shape or an
//! error, and never allocates what a header claims.
#![no_main]

use heavyball_core::model::Shape;
use heavyball::store::files::{read_checkpoint, read_params};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("heavyball-fuzz-npz-{}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let shape = Shape { n_features: 4, n_hidden: 3, n_classes: 2 };
    if let Ok(state) = read_checkpoint::<f32>(&path, "key", shape) {
        assert_eq!(state.theta.shape(), shape);
        assert!(state.curve.len() == state.iteration || state.curve.len() == state.iteration + 1);
    }
    let _ = read_checkpoint::<f64>(&path, "key", shape);
    if let Ok(params) = read_params::<f64>(&path, shape) {
        assert_eq!(params.shape(), shape);
    }
});
