//! `heavyball hessian`: the Hessian's extreme eigenvalues (λ_max, the sharpness, and λ_min) at
//! every finished run's initial and final parameters, for a sweep already on disk.
//!
//! Each run's values go into its own `hessian.toml` (atomically, with the settings and the
//! run's iterations they belong to), so an interrupted computation resumes where it stopped and
//! a run extended since is computed again; `hessian.csv` is rebuilt from them at the end. Runs
//! are computed in parallel, and each product inside a run too; the values do not depend on
//! the thread count.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use heavyball_core::Real;
use heavyball_core::model::Shape;
use rayon::prelude::*;

use super::load::{InPrecision, load};
use crate::config::Config;
use crate::data::Prepared;
use crate::hessian::{self, TOLERANCE};
use crate::store::files::read_params;
use crate::store::hessian::{HessianPoint, RunHessian, write_csv};
use crate::store::summary::finished_runs;
use crate::store::{RunFile, RunId, RunRecord, SweepDir, SweepMeta};
use crate::train::CurveRow;
use crate::tune;

/// What `heavyball hessian` did.
#[derive(Debug)]
pub struct HessianReport {
    /// `hessian.csv`.
    pub csv: PathBuf,
    /// Runs with values (computed now or kept).
    pub runs: usize,
    /// Runs computed now.
    pub computed: usize,
    /// Runs whose values were kept from an earlier call.
    pub kept: usize,
    /// Runs left out because a file cannot be read: (folder, why).
    pub damaged: Vec<(String, String)>,
}

/// A sweep with no finished run: nothing to compute yet.
#[derive(Debug, thiserror::Error)]
#[error("{} has no finished runs: nothing to compute (run the sweep first)", .0.display())]
pub struct NoFinishedRuns(pub PathBuf);

/// Finds the sweep (a folder, or a config file and the results directory) and its config.
fn locate(target: &Path, results: &Path) -> Result<(SweepDir, SweepMeta, Config)> {
    let (dir, config) = if target.is_file() {
        let config = Config::from_path(target)?;
        (SweepDir::new(results, &config.name), Some(config))
    } else {
        (SweepDir::at(target), None)
    };
    let info = SweepMeta::read_in(&dir)?;
    let config = match config {
        Some(config) => config,
        None => {
            // The config the sweep last ran with, saved beside its results.
            let copy = dir.config_copy();
            let mut text = String::new();
            crate::store::open_regular(&copy)
                .and_then(|mut f| Ok(f.read_to_string(&mut text)?))
                .with_context(|| {
                    format!(
                        "cannot read {} (give the sweep's config file instead of its folder)",
                        copy.display()
                    )
                })?;
            // Relative data paths as the original config meant them: from its folder.
            let base = info.config_folder.as_deref().map_or(dir.root(), Path::new);
            let config = Config::from_str(&text, &copy.display().to_string(), &info.name, base)?;
            // A study's config: this folder is one of its workloads.
            match config.is_study() {
                true => config.workloads().into_iter().find(|w| w.name == info.name).with_context(|| {
                    format!("{} names no workload {} of its study", copy.display(), info.name)
                })?,
                false => config,
            }
        }
    };
    Ok((dir, info, config))
}

/// Runs `heavyball hessian` on a sweep folder or config file: at most `steps` Lanczos steps at
/// each point.
pub fn hessian(target: &Path, results: &Path, steps: usize, threads: Option<usize>) -> Result<HessianReport> {
    let (dir, info, config) = locate(target, results)?;
    // Shared, as a shard's: beside other readers and shards, never beside a plain `run`, which
    // clears the temporary files of writes in progress.
    let _lock = crate::store::SweepLock::acquire(&dir, true)?;
    load(&config, threads, |loaded| match loaded {
        InPrecision::F32(loaded) => compute(&dir, &info, &loaded.data, steps),
        InPrecision::F64(loaded) => compute(&dir, &info, &loaded.data, steps),
    })
}

/// One run's outcome.
enum Outcome {
    Kept(RunHessian),
    Computed(RunHessian),
    Damaged(String),
}

fn compute<T: Real>(
    dir: &SweepDir,
    info: &SweepMeta,
    data: &Prepared<T>,
    steps: usize,
) -> Result<HessianReport> {
    if data.fingerprint != info.data_fingerprint {
        bail!(
            "the data the config gives is not the data sweep {} was trained on (its fingerprint differs \
             from {}'s): give the config the sweep ran with",
            info.name,
            dir.sweep_meta().display()
        );
    }
    let (ids, _) = tune::recorded_runs(dir, info);
    let found = finished_runs(dir, &ids, info.iterations);
    if found.runs.is_empty() {
        return Err(NoFinishedRuns(dir.root().to_path_buf()).into());
    }
    let memory = bytes_needed::<T>(data, info, found.runs.len(), steps);
    crate::memory::check(&format!("heavyball hessian on {}", info.name), memory)
        .map_err(anyhow::Error::msg)?;

    let by_name: HashMap<String, &RunId> = ids.iter().map(|id| (id.dir_name(), id)).collect();
    let outcomes: Vec<Result<Outcome>> = found
        .runs
        .par_iter()
        .map(|run| one_run(dir, info, data, by_name[&run.dir_name], run, steps))
        .collect();
    let mut report =
        HessianReport { csv: dir.hessian(), runs: 0, computed: 0, kept: 0, damaged: found.damaged };
    let mut rows = Vec::new();
    for (run, outcome) in found.runs.iter().zip(outcomes) {
        match outcome? {
            Outcome::Kept(values) => {
                report.kept += 1;
                rows.push((run.dir_name.clone(), values));
            }
            Outcome::Computed(values) => {
                report.computed += 1;
                rows.push((run.dir_name.clone(), values));
            }
            Outcome::Damaged(why) => report.damaged.push((run.dir_name.clone(), why)),
        }
    }
    report.runs = rows.len();
    if rows.is_empty() {
        bail!(
            "no run of {} has readable parameters: {}",
            dir.root().display(),
            report.damaged.first().map_or(String::new(), |(name, why)| format!("{name}: {why}"))
        );
    }
    write_csv(&dir.hessian(), &rows)?;
    Ok(report)
}

/// The memory the computation holds at most: per run in flight, each chunk's cached pass at θ
/// (H, A and their scratch: 4·n·M; P, G and scratch: 3·n·K) and the Lanczos vectors.
fn bytes_needed<T: Real>(data: &Prepared<T>, info: &SweepMeta, runs: usize, steps: usize) -> Option<u64> {
    let threads = rayon::current_num_threads().min(runs).max(1);
    let widest =
        Shape { n_features: info.features, n_hidden: *info.hidden.iter().max()?, n_classes: info.classes };
    let at_once = Held { samples: data.train.len(), widest, element: std::mem::size_of::<T>(), steps };
    at_once.bytes(threads, runs, info.iterations)
}

/// What `heavyball hessian` holds, for the memory check.
struct Held {
    /// Training samples.
    samples: usize,
    /// The sweep's widest network.
    widest: Shape,
    /// Bytes per element of the data's precision.
    element: usize,
    /// The most Lanczos steps.
    steps: usize,
}

impl Held {
    /// The bytes for `threads` runs measured at once among `runs` finished runs of `iterations`:
    /// per thread the activations of a Hessian-vector product and the Lanczos basis (`steps` + 2
    /// vectors of the parameters in f64); and every finished run's curve, read to find them.
    fn bytes(&self, threads: usize, runs: usize, iterations: usize) -> Option<u64> {
        let (n, m, k) = (self.samples as u64, self.widest.n_hidden as u64, self.widest.n_classes as u64);
        let activations = n.checked_mul(m.checked_mul(4)?.checked_add(k.checked_mul(3)?)?)?;
        let basis = (self.widest.n_params() as u64).checked_mul(self.steps as u64 + 2)?.checked_mul(8)?;
        let per_thread = activations.checked_mul(self.element as u64)?.checked_add(basis)?;
        let rows = (iterations as u64).checked_add(1)?;
        let curves = (runs as u64).checked_mul(rows)?.checked_mul(std::mem::size_of::<CurveRow>() as u64)?;
        per_thread.checked_mul(threads as u64)?.checked_add(curves)
    }
}

/// The values of one run: kept from its `hessian.toml` when that was computed with the same
/// settings at the run's current iterations, otherwise computed and saved.
fn one_run<T: Real>(
    dir: &SweepDir,
    info: &SweepMeta,
    data: &Prepared<T>,
    id: &RunId,
    run: &RunRecord,
    steps: usize,
) -> Result<Outcome> {
    let run_dir = dir.run(id);
    super::run_one::refuse_link(dir, &run_dir)?;
    let path = run_dir.file(RunFile::Hessian);
    if let Ok(saved) = RunHessian::read(&path)
        && saved.key == id.key
        && saved.iterations == run.meta.iterations
        && saved.max_steps == steps
        && saved.tolerance == TOLERANCE
        && saved.last.is_some() != run.diverged()
    {
        return Ok(Outcome::Kept(saved));
    }
    let shape = Shape { n_features: info.features, n_hidden: run.meta.hidden, n_classes: info.classes };
    let measure = |file: RunFile| -> Result<HessianPoint> {
        let theta = read_params::<T>(&run_dir.file(file), shape)?;
        let e = hessian::extremes(&theta, &data.train, info.chunk_size, info.objective, steps);
        Ok(HessianPoint { lambda_max: e.max, lambda_min: e.min, steps: e.steps, residual: e.residual })
    };
    let init = match measure(RunFile::Init) {
        Ok(v) => v,
        Err(e) => return Ok(Outcome::Damaged(crate::errors::one_line(&e))),
    };
    // A diverged run's last parameters are where it blew up: not a point to measure.
    let last = if run.diverged() {
        None
    } else {
        match measure(RunFile::Final) {
            Ok(v) => Some(v),
            Err(e) => return Ok(Outcome::Damaged(crate::errors::one_line(&e))),
        }
    };
    let values = RunHessian {
        key: id.key.clone(),
        iterations: run.meta.iterations,
        max_steps: steps,
        tolerance: TOLERANCE,
        init,
        last,
    };
    // What the reader would refuse is never written (it would be computed again at every call).
    if let Err(why) = values.check() {
        return Ok(Outcome::Damaged(format!(
            "its Hessian gave values no computation should ({why}); nothing written"
        )));
    }
    values.write(&path)?;
    Ok(Outcome::Computed(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_check_counts_the_steps_asked_for_and_every_curve_read() {
        // A network of M = 30000 on 784 features: 23.9 M parameters.
        let widest = Shape { n_features: 784, n_hidden: 30000, n_classes: 10 };
        let held = |steps| Held { samples: 100, widest, element: 4, steps };
        let (few, most) = (held(20).bytes(1, 1, 10).unwrap(), held(1000).bytes(1, 1, 10).unwrap());
        // 22 vectors of 23.9 M f64 values: 4.2 GB, not the 191 GB of 1000 steps.
        assert!(few < 5_000_000_000 && most > 190_000_000_000, "{few} {most}");
        // Curves: 3 M iterations of 10 runs are 2.2 GB of rows, read whole.
        let small = Shape { n_features: 4, n_hidden: 8, n_classes: 3 };
        let curves =
            Held { samples: 150, widest: small, element: 8, steps: 20 }.bytes(1, 10, 3_000_000).unwrap();
        assert!(curves > 10 * 3_000_000 * std::mem::size_of::<CurveRow>() as u64, "{curves}");
    }
}
