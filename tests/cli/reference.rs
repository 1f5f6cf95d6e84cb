//! Training curves against values computed independently by the numpy reference implementation
//! `ref_numpy.py` (heavyball's shared peers; its gradient agrees with central finite differences
//! to 1.5e-10 and with jax.grad to 3e-16). The values below were produced by
//!
//! ```text
//! X, y = ref_numpy.load_csv("iris.csv", "label")            # the raw built-in iris data
//! W, b, V, c = np.load("runs/<run>/init.npz")               # heavyball's init, M = 6, seed 7
//! losses, _ = ref_numpy.train(X.astype(W.dtype), y, W, b, V, c, gamma, alpha, 60, reduction)
//! ```
//!
//! and every 10th row is kept here. They depend on heavyball's initialisation scheme (a change to
//! it changes the run key too, and these numbers must then be regenerated).

use crate::common::{heavyball, iris_csv, run_dir, write};

const CONFIG: &str = r#"
name = "ref"
[data]
csv = "iris.csv"
test_fraction = 0
standardize = false
[train]
iterations = 60
objective = "OBJECTIVE"
precision = "PRECISION"
chunk_size = 64
[grid]
hidden = [6]
gamma = [GAMMA]
alpha = [1.0, 0.3]
seed = [7]
"#;

/// Runs the reference config and returns the train_loss column of each α's curve.
fn curves(objective: &str, precision: &str, gamma: &str) -> Vec<(String, Vec<f64>)> {
    let dir = tempfile::tempdir().unwrap();
    iris_csv(dir.path());
    let text = CONFIG.replace("OBJECTIVE", objective).replace("PRECISION", precision).replace("GAMMA", gamma);
    let config = write(dir.path(), "ref.toml", &text);
    heavyball().arg("run").arg(&config).arg("--results").arg(dir.path().join("out")).assert().success();
    let sweep = dir.path().join("out/ref");
    ["a1-", "a0.3-"]
        .iter()
        .map(|alpha| {
            let prefix = format!("M6-g{gamma}-{alpha}");
            let text = std::fs::read_to_string(run_dir(&sweep, &prefix).join("curve.csv")).unwrap();
            let losses =
                text.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
            (prefix, losses)
        })
        .collect()
}

fn check(got: &[(String, Vec<f64>)], expected: [[f64; 7]; 2], tolerance: f64) {
    for ((name, losses), want) in got.iter().zip(expected) {
        assert_eq!(losses.len(), 61, "{name}");
        for (i, w) in want.iter().enumerate() {
            let g = losses[i * 10];
            let rel = (g - w).abs() / w.abs();
            assert!(
                rel < tolerance,
                "{name} iteration {}: heavyball {g}, numpy {w}, relative {rel:.2e}",
                i * 10
            );
        }
    }
}

#[test]
fn f64_sum_objective_matches_numpy_to_1e_12() {
    let expected = [
        [
            1.3365470901073893,
            0.8622955442869468,
            0.7330818059087938,
            0.6504909388858509,
            0.598940253781686,
            0.5639770710805708,
            0.5340939954953752,
        ],
        [
            1.3365470901073893,
            0.9012039060088178,
            0.7592162751926321,
            0.662910274141984,
            0.6035259237332928,
            0.5651174436345069,
            0.535972085528068,
        ],
    ];
    check(&curves("sum", "f64", "0.001"), expected, 1e-12);
}

#[test]
fn f32_mean_objective_matches_numpy_to_single_precision() {
    // The same trajectories with R/N and γ scaled by N = 150, in float32.
    let expected = [
        [
            1.3365470170974731,
            0.8622955083847046,
            0.7330818772315979,
            0.650490939617157,
            0.5989402532577515,
            0.5639770030975342,
            0.5340938568115234,
        ],
        [
            1.3365470170974731,
            0.9012039303779602,
            0.7592161893844604,
            0.6629102826118469,
            0.6035259366035461,
            0.5651174187660217,
            0.5359720587730408,
        ],
    ];
    check(&curves("mean", "f32", "0.15"), expected, 2e-6);
}
