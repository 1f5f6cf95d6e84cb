//! The readers of `run.toml`, `sweep.toml`, `hessian.toml` and `study.toml`: any file gives
//! metadata or an error naming it.
#![no_main]

use heavyball::store::hessian::RunHessian;
use heavyball::store::study::StudyMeta;
use heavyball::store::{RunMeta, SweepMeta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("heavyball-fuzz-meta-{}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    if let Err(e) = RunMeta::read(&path) {
        assert!(format!("{e:#}").contains("heavyball-fuzz-meta"), "{e:#}");
    }
    match RunHessian::read(&path) {
        Err(e) => assert!(format!("{e:#}").contains("heavyball-fuzz-meta"), "{e:#}"),
        // Values read back are values a computation gives: finite, ordered, steps in bounds.
        Ok(h) => {
            for p in [Some(h.init), h.last].into_iter().flatten() {
                assert!(p.lambda_min.is_finite() && p.lambda_max.is_finite() && p.lambda_min <= p.lambda_max);
                assert!((1..=h.max_steps).contains(&p.steps) && h.max_steps <= 1000 && p.residual >= 0.0);
            }
        }
    }
    match StudyMeta::read(&path) {
        Err(e) => assert!(format!("{e:#}").contains("heavyball-fuzz-meta"), "{e:#}"),
        // Workloads read back are folder names heavyball writes, each once.
        Ok(study) => {
            for (i, w) in study.workloads.iter().enumerate() {
                assert!(!w.name.is_empty() && !w.name.starts_with('.') && !w.name.contains('/'), "{:?}", w.name);
                assert!(study.workloads[..i].iter().all(|v| v.name != w.name), "{:?} twice", w.name);
            }
        }
    }
    if let Ok(meta) = SweepMeta::read(&path) {
        let grid = meta.grid();
        let runs = grid.hidden.len() * grid.gamma.len() * grid.alpha.len() * grid.seed.len();
        assert!(runs <= heavyball::config::MAX_RUNS);
        if runs <= 64 {
            assert_eq!(heavyball::grid::expand(&grid).len(), runs);
        }
    }
});
