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
    /// Reads `hessian.toml`, refusing values no computation gives (NaN or infinite
    /// eigenvalues, λ_min above λ_max, more steps than allowed): such a file is damaged.
    pub fn read(path: &Path) -> Result<RunHessian> {
        let text = read_small(path)?;
        let values: RunHessian = toml::from_str(&text)
            .with_context(|| format!("{} is not a heavyball hessian file", path.display()))?;
        values.check().map_err(|e| anyhow::anyhow!("{} is damaged: {e}", path.display()))?;
        Ok(values)
    }

    /// The first value no computation gives, in words.
    pub fn check(&self) -> std::result::Result<(), String> {
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(format!("tolerance = {} is not a number > 0", self.tolerance));
        }
        if !(2..=MAX_STEPS).contains(&self.max_steps) {
            return Err(format!("max_steps = {} is not between 2 and {MAX_STEPS}", self.max_steps));
        }
        let points = [("init", Some(&self.init)), ("final", self.last.as_ref())];
        for (name, point) in points.into_iter().filter_map(|(n, p)| Some((n, p?))) {
            let HessianPoint { lambda_max, lambda_min, steps, residual } = *point;
            if !(lambda_max.is_finite() && lambda_min.is_finite() && lambda_min <= lambda_max) {
                return Err(format!(
                    "[{name}] lambda_max = {lambda_max} and lambda_min = {lambda_min} are not two finite \
                     numbers, the smaller first"
                ));
            }
            if !(1..=self.max_steps).contains(&steps) {
                return Err(format!(
                    "[{name}] steps = {steps} is not between 1 and max_steps = {}",
                    self.max_steps
                ));
            }
            if residual.is_nan() || residual < 0.0 {
                return Err(format!("[{name}] residual = {residual} is not a number ≥ 0"));
            }
        }
        Ok(())
    }

    /// Writes `hessian.toml` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).expect("hessian values serialise");
        write_atomic(path, |w| w.write_all(text.as_bytes()))
    }
}

/// The most Lanczos steps `heavyball hessian --steps` takes.
pub const MAX_STEPS: usize = 1000;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> RunHessian {
        let point = HessianPoint { lambda_max: 3.5, lambda_min: -0.25, steps: 12, residual: 1e-7 };
        RunHessian {
            key: "ab".into(),
            iterations: 10,
            max_steps: 20,
            tolerance: 1e-6,
            init: point,
            last: Some(point),
        }
    }

    #[test]
    fn values_no_computation_gives_make_the_file_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hessian.toml");
        values().write(&path).unwrap();
        assert_eq!(RunHessian::read(&path).unwrap(), values());
        type Change = fn(&mut RunHessian);
        let changes: [(Change, &str); 7] = [
            (|v| v.init.lambda_max = f64::NAN, "lambda_max = NaN"),
            (|v| v.last.as_mut().unwrap().lambda_min = f64::NEG_INFINITY, "lambda_min = -inf"),
            (|v| v.init.lambda_min = 4.0, "the smaller first"),
            (|v| v.init.steps = 21, "steps = 21 is not between 1 and max_steps = 20"),
            (|v| v.max_steps = 5000, "max_steps = 5000 is not between 2 and 1000"),
            (|v| v.init.residual = f64::NAN, "residual = NaN"),
            (|v| v.tolerance = 0.0, "tolerance = 0"),
        ];
        for (change, said) in changes {
            let mut bad = values();
            change(&mut bad);
            std::fs::write(&path, toml::to_string(&bad).unwrap()).unwrap();
            let e = format!("{:#}", RunHessian::read(&path).unwrap_err());
            assert!(e.contains("hessian.toml is damaged") && e.contains(said), "{said}: {e}");
        }
    }
}
