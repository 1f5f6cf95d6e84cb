//! The files of `heavyball hessian`: each run's `hessian.toml` (its values, with the settings
//! they were computed under, so a rerun knows what it can keep) and the sweep's `hessian.csv`,
//! rebuilt from them.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::schema::read_small;
use super::write_atomic;

/// The extreme eigenvalues of the Hessian at one point, and how Lanczos got them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HessianPoint {
    /// λ_max, the sharpness.
    pub lambda_max: f64,
    /// λ_min (negative away from a minimum).
    pub lambda_min: f64,
    /// Lanczos steps taken.
    pub steps: usize,
    /// The larger residual of the two extreme Ritz pairs.
    pub residual: f64,
}

/// `runs/<run>/hessian.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunHessian {
    /// The run's key: the values belong to that run only.
    pub key: String,
    /// The run's iterations when computed: `final` is the point after that many.
    pub iterations: usize,
    /// The most Lanczos steps allowed.
    pub max_steps: usize,
    /// The relative residual Lanczos stopped at.
    pub tolerance: f64,
    /// At `init.npz`.
    pub init: HessianPoint,
    /// At `final.npz`; absent for a diverged run, whose final point is not a place to measure.
    #[serde(rename = "final", default, skip_serializing_if = "Option::is_none")]
    pub last: Option<HessianPoint>,
}

impl RunHessian {
    /// Reads `hessian.toml`.
    pub fn read(path: &Path) -> Result<RunHessian> {
        let text = read_small(path)?;
        toml::from_str(&text).with_context(|| format!("{} is not a heavyball hessian file", path.display()))
    }

    /// Writes `hessian.toml` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).expect("hessian values serialise");
        write_atomic(path, |w| w.write_all(text.as_bytes()))
    }
}

/// The header of `hessian.csv`.
pub const HESSIAN_HEADER: &str = "run,point,lambda_max,lambda_min,steps,residual";

/// Writes `hessian.csv` from (run folder name, values) in run order: a row for each run's init
/// point and one for its final point when it has one.
pub fn write_csv(path: &Path, runs: &[(String, RunHessian)]) -> Result<()> {
    let mut out = Vec::new();
    writeln!(out, "{HESSIAN_HEADER}")?;
    for (name, r) in runs {
        let points = [("init", Some(r.init)), ("final", r.last)];
        for (point, values) in points {
            if let Some(v) = values {
                writeln!(out, "{name},{point},{},{},{},{}", v.lambda_max, v.lambda_min, v.steps, v.residual)?;
            }
        }
    }
    write_atomic(path, |w| w.write_all(&out))
}
