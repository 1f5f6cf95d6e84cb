//! Training curves against values computed independently, in plain numpy, by
//! `benches/peers/reference.py` (the model and the method written from the formulas alone),
//! from heavyball's own initial parameters:
//!
//! ```text
//! python3 benches/peers/reference.py iris.csv runs/<run>/init.npz --gamma G --alpha A \
//!     --iterations 60 --objective sum|mean          # the raw built-in iris data; M = 6, seed 7
//! ```
//!
//! Every 10th row is kept here; the f64 values agree with that script's to the last digit or
//! two. They depend on heavyball's initialisation scheme (a change to it changes the run key
//! too, and these numbers must then be regenerated).

use crate::common::{Sweep, iris_csv};

const CONFIG: &str = r#"
name = "ref"
[data]
csv = "iris.csv"
test_fraction = 0
standardize = false
[train]
iterations = 60
objective = "sum"
precision = "f64"
chunk_size = 64
[grid]
hidden = [6]
gamma = [0.001]
alpha = [1.0, 0.3]
seed = [7]
"#;

/// Runs the reference config and returns the train_loss column of each α's curve.
fn curves(objective: &str, precision: &str, gamma: &str) -> Vec<(String, Vec<f64>)> {
    let sweep = Sweep::new(CONFIG).with(&[
        ("train.objective", &format!("{objective:?}")),
        ("train.precision", &format!("{precision:?}")),
        ("grid.gamma", &format!("[{gamma}]")),
    ]);
    iris_csv(sweep.dir());
    sweep.run(&[]);
    ["a1-", "a0.3-"]
        .iter()
        .map(|alpha| {
            let prefix = format!("M6-g{gamma}-{alpha}");
            let text = std::fs::read_to_string(sweep.run_dir(&prefix).join("curve.csv")).unwrap();
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
