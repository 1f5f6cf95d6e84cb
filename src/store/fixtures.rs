//! Hand-made finished runs for unit tests (scores, selection, the report), whose answers are
//! known.

use crate::config::{Aggregate, ConfirmSpec, Criterion, Objective, Precision};
use crate::store::{RunMeta, RunRecord, RunStatus, SweepMeta};
use crate::train::CurveRow;

pub fn info(hidden: Vec<usize>, gamma: Vec<f64>, alpha: Vec<f64>) -> SweepMeta {
    SweepMeta {
        format: 1,
        name: "t".into(),
        data: "hand-made".into(),
        data_fingerprint: "fp".into(),
        train_samples: 10,
        test_samples: 0,
        features: 2,
        classes: 2,
        objective: Objective::Sum,
        precision: Precision::F64,
        iterations: 4,
        chunk_size: 1024,
        divergence_factor: None,
        hidden,
        gamma,
        alpha,
        seed: vec![0, 1],
        tune: None,
        sharpness: None,
        confirm: None,
        config_folder: None,
    }
}

/// A finished run at M = 4 with these training losses at iterations 0, 1, …
pub fn run(gamma: f64, alpha: f64, seed: u64, losses: &[f64]) -> RunRecord {
    let diverged = !losses.last().unwrap().is_finite();
    let curve = losses
        .iter()
        .enumerate()
        .map(|(iteration, &train_loss)| CurveRow {
            iteration,
            train_loss,
            train_accuracy: 0.5,
            test_loss: None,
            test_accuracy: None,
            sharpness: None,
        })
        .collect();
    let meta = RunMeta {
        format: 1,
        key: format!("{gamma}-{alpha}-{seed}"),
        name: format!("M4-g{gamma}-a{alpha}-s{seed}"),
        hidden: 4,
        gamma,
        alpha,
        seed,
        objective: Objective::Sum,
        precision: Precision::F64,
        chunk_size: 1024,
        data: "fp".into(),
        status: if diverged { RunStatus::Diverged } else { RunStatus::Done },
        iterations: losses.len() - 1,
        target_iterations: 4,
        wall_seconds: 0.0,
    };
    RunRecord { dir_name: meta.name.clone(), meta, curve }
}

/// GD's best is γ = 0.2 (final 0.4 and 0.6); momentum's is γ = 0.1, α = 0.5 (final 0.1 and
/// 0.3); γ = 0.2, α = 0.5 diverges with seed 0 and so is never the best.
pub fn known_runs() -> Vec<RunRecord> {
    vec![
        run(0.1, 1.0, 0, &[2.0, 1.5, 1.2, 1.0, 0.9]),
        run(0.1, 1.0, 1, &[2.0, 1.6, 1.3, 1.1, 1.0]),
        run(0.1, 0.5, 0, &[2.0, 0.5, 0.2, 0.1, 0.1]),
        run(0.1, 0.5, 1, &[2.0, 0.9, 0.5, 0.35, 0.3]),
        run(0.2, 1.0, 0, &[2.0, 1.0, 0.8, 0.5, 0.4]),
        run(0.2, 1.0, 1, &[2.0, 1.2, 0.9, 0.7, 0.6]),
        run(0.2, 0.5, 0, &[2.0, f64::NAN]),
        run(0.2, 0.5, 1, &[2.0, 0.3, 0.25, 0.2, 0.2]),
    ]
}

/// The known runs' sweep, confirmed on 2 fresh seeds.
pub fn confirmed_meta() -> SweepMeta {
    let mut meta = info(vec![4], vec![0.1, 0.2], vec![1.0, 0.5]);
    meta.confirm = Some(ConfirmSpec { seeds: 2, by: Criterion::LateTrainLoss, aggregate: Aggregate::Median });
    meta
}

/// The known runs' best settings (GD γ = 0.2, momentum γ = 0.1 α = 0.5) on the fresh seeds 2
/// and 3, where momentum is worse than GD: GD's two, then momentum's two.
pub fn fresh_runs() -> [RunRecord; 4] {
    [
        run(0.2, 1.0, 2, &[2.0, 1.0, 0.5, 0.3, 0.2]),
        run(0.2, 1.0, 3, &[2.0, 1.0, 0.5, 0.3, 0.1]),
        run(0.1, 0.5, 2, &[2.0, 1.0, 0.8, 0.7, 0.6]),
        run(0.1, 0.5, 3, &[2.0, 1.0, 0.8, 0.7, 0.5]),
    ]
}
