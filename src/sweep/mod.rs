//! Running a sweep: load the data once, expand the grid, judge what each run needs from its
//! folder (new, partial, finished, damaged), train what is left in parallel on a rayon pool
//! with periodic checkpoints, save each run's files as soon as it ends, and rebuild the
//! summaries from the per-run files. A stop request (Ctrl-C, SIGTERM) saves what is in flight.
//!
//! - this file: `run`, from the loaded sweep to the summaries, round after round when tuned;
//! - `load`: the data read once in the config's precision, the grid and its run keys;
//! - `schedule`: which runs this process trains, in which fused groups, on which workers;
//! - `run_one`: one run's lifecycle and its checkpoints;
//! - [`resume`]: the decision table for a run folder found on disk;
//! - `plan`: the dry run ([`plan()`]);
//! - `hessian`: the Hessian's extreme eigenvalues at every finished run's ends ([`hessian()`]);
//! - `progress`: the progress bar.

mod hessian;
mod load;
mod plan;
mod progress;
pub mod resume;
mod run_one;
mod schedule;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use heavyball_core::Real;
use heavyball_core::model::Shape;

use crate::config::Config;
use crate::data::Prepared;
use crate::grid::RunSpec;
use crate::shard::Shard;
use crate::store::summary;
use crate::store::{DataFacts, RunId, SweepDir, SweepLock, SweepMeta, lock_summaries, write_atomic};
use crate::train::Status;
use crate::tune::{Confirmation, Rounds, Tuning, Verdict};
use load::{InPrecision, Loaded, load_from};
use run_one::{Handled, RunOutcome};
use schedule::{most_members, train_runs, training_bytes};

pub use hessian::{HessianReport, NoFinishedRuns, hessian};
pub use plan::{Plan, PlanRow, plan};
pub use schedule::{GROUP_SIZE_VAR, group_size};

/// How to run a sweep, beyond its config.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The results directory; the sweep lands in `results/<name>`.
    pub results: PathBuf,
    /// The rayon pool size; `None` uses every core (or `RAYON_NUM_THREADS`).
    pub threads: Option<usize>,
    /// Hide the progress bar.
    pub quiet: bool,
    /// The config file's text, saved beside the results.
    pub config_text: Option<String>,
    /// Set from outside (a signal handler) to stop: runs in flight save a checkpoint and no
    /// new run starts.
    pub stop: Arc<AtomicBool>,
    /// Train only this shard's runs, side by side with the other shards' processes.
    pub shard: Option<Shard>,
    /// True until training starts (cleared by `run`): a signal handler that exits at once while
    /// it is set has nothing in flight to save.
    pub nothing_in_flight: Arc<AtomicBool>,
}

/// The sweep was stopped before every run finished; everything in flight was saved.
#[derive(Debug, thiserror::Error)]
#[error(
    "interrupted: saved {saved} runs in flight; {finished} of {runs} runs are finished. Run the same command again to resume"
)]
pub struct Interrupted {
    /// Runs that were in flight and saved a checkpoint.
    pub saved: usize,
    /// Runs finished, now or before.
    pub finished: usize,
    /// Runs in the grid.
    pub runs: usize,
}

/// What a sweep did.
#[derive(Clone, Debug, Default)]
pub struct SweepReport {
    /// The sweep's folder.
    pub dir: PathBuf,
    /// Runs in the grid.
    pub runs: usize,
    /// Runs that finished all their iterations (now or before).
    pub done: usize,
    /// Runs whose loss diverged (now or before).
    pub diverged: usize,
    /// Runs trained from scratch in this invocation.
    pub new: usize,
    /// Runs continued from a checkpoint (interrupted or extended).
    pub resumed: usize,
    /// Runs restarted because their files were damaged.
    pub restarted: usize,
    /// Runs found finished and skipped.
    pub skipped: usize,
    /// Run folders of earlier configs, left untouched.
    pub stale: usize,
    /// Runs of this config's keys from tuning rounds that the rounds decided now do not include
    /// (or not yet, in a shard), left untouched.
    pub undecided: usize,
    /// Runs skipped because another process was training them.
    pub busy: usize,
    /// The shard trained, and the number of runs in the whole grid.
    pub shard: Option<(Shard, usize)>,
    /// Wall time of the training phase.
    pub elapsed: Duration,
    /// Useful floating-point operations of the gradient evaluations performed.
    pub flops: f64,
    /// Where the tuning stands, for a tuned sweep.
    pub tuning: Option<Tuning>,
    /// The confirmation round, once decided.
    pub confirmation: Option<Confirmation>,
    /// True when `[confirm]` is set and the round is not decided yet.
    pub confirmation_pending: bool,
    /// Runs of the decided confirmation round not finished yet (another shard's, say).
    pub confirmation_left: usize,
}

impl SweepReport {
    /// The one-line summary printed at the end of `heavyball run`.
    pub fn line(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let mut line = match self.shard {
            Some((shard, total)) => format!("shard {shard}: {} of the grid's {total} runs; ", self.runs),
            None => String::new(),
        };
        line += &format!(
            "{} runs ({} done, {} diverged); trained {} ({} new, {} resumed, {} restarted), {} already finished; \
             {:.2} s, {:.1} GFLOP/s useful; results in {}",
            self.runs,
            self.done,
            self.diverged,
            self.new + self.resumed + self.restarted,
            self.new,
            self.resumed,
            self.restarted,
            self.skipped,
            secs,
            // + 0.0: an empty sum of f64 is −0.0, which would print as "-0.0".
            self.flops / secs.max(1e-9) / 1e9 + 0.0,
            self.dir.display()
        );
        if self.stale > 0 {
            line.push_str(&format!("; {} stale runs of an earlier config left untouched", self.stale));
        }
        if self.undecided > 0 {
            line.push_str(&format!(
                "; {} runs of this config outside the tuning and confirmation rounds decided now (of other rounds, or of more seeds), left untouched",
                self.undecided
            ));
        }
        if self.busy > 0 {
            line.push_str(&format!("; {} runs left to another process that is training them", self.busy));
        }
        if let Some(tuning) = &self.tuning {
            let bracketed = tuning.verdicts.iter().filter(|(_, v)| v.is_bracketed()).count();
            let count = |f: fn(&Verdict) -> bool| tuning.verdicts.iter().filter(|(_, v)| f(v)).count();
            let fragile = count(|v| matches!(v, Verdict::Fragile { .. }));
            let stuck = count(|v| matches!(v, Verdict::Stuck { .. }));
            let methods = tuning.verdicts.len();
            let mut stopped = String::new();
            if fragile > 0 {
                stopped.push_str(&format!(", {fragile} stopped at a fragile best"));
            }
            if stuck > 0 {
                stopped.push_str(&format!(", {stuck} stopped with no γ left to try"));
            }
            line.push_str(&if tuning.finished {
                format!(
                    "\ntuning finished after {} rounds: {bracketed} of {methods} methods bracketed{stopped} (heavyball plan lists them)",
                    tuning.round()
                )
            } else {
                format!(
                    "\ntuning round {} in progress: run again (every shard, when sharded) to go on",
                    tuning.round()
                )
            });
        }
        if let Some(c) = self.confirmation.as_ref().filter(|_| self.confirmation_left > 0) {
            line.push_str(&format!(
                "\nconfirmation round in progress: {} of its {} runs left; run again (every shard, when sharded) to go on",
                self.confirmation_left,
                c.picks.len() * c.seeds.len()
            ));
        } else if let Some(c) = &self.confirmation {
            line.push_str(&format!(
                "\nconfirmation: {} selected settings trained on {} fresh seeds ({}); heavyball report compares them",
                c.picks.len(),
                c.seeds.len(),
                seed_list(&c.seeds)
            ));
        } else if self.confirmation_pending {
            line.push_str(
                "\nconfirmation waits for every selection run to finish: run again (every shard, when sharded) to go on",
            );
        }
        line
    }
}

/// Seeds as people write them: `2–9` for a run of consecutive values, else a list.
pub fn seed_list(seeds: &[u64]) -> String {
    match seeds {
        [] => String::new(),
        [one] => one.to_string(),
        [first, .., last] if seeds.windows(2).all(|w| w[1] == w[0] + 1) => format!("{first}–{last}"),
        _ => seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
    }
}

/// Runs a validated sweep: reads the data, then trains and saves every grid point that is not
/// finished yet.
pub fn run(config: &Config, opts: &RunOptions) -> Result<SweepReport> {
    run_on(config, crate::data::load(&config.data.source)?, opts)
}

/// [`run`] on samples already read from the config's data source.
pub fn run_on(config: &Config, samples: crate::data::Samples, opts: &RunOptions) -> Result<SweepReport> {
    load_from(config, samples, opts.threads, |loaded| match loaded {
        InPrecision::F32(p) => run_typed(config, opts, p),
        InPrecision::F64(p) => run_typed(config, opts, p),
    })
}

/// Refuses `sharpness_steps` beyond the parameters of the sweep's smallest network (Lanczos
/// cannot take more steps than the dimension); only the data tells p and K.
fn check_sharpness<T: Real>(config: &Config, data: &Prepared<T>) -> Result<()> {
    let (Some(s), Some(&m)) = (config.train.sharpness, config.grid.hidden.iter().min()) else {
        return Ok(());
    };
    let shape = Shape { n_features: data.n_features(), n_hidden: m, n_classes: data.n_classes };
    if s.steps > shape.n_params() {
        anyhow::bail!(
            "in [train] of {}: sharpness_steps = {} is more than the {} parameters of its smallest \
             network (M = {m}); use at most {}",
            config.origin,
            s.steps,
            shape.n_params(),
            shape.n_params()
        );
    }
    Ok(())
}

fn run_typed<T: Real>(config: &Config, opts: &RunOptions, prepared: Loaded<T>) -> Result<SweepReport> {
    let Loaded { data, runs, ids } = prepared;
    check_sharpness(config, &data)?;
    let most = most_members()?;
    crate::memory::check(
        &format!("training sweep {}", config.name),
        training_bytes(config, &data, runs.len(), most),
    )
    .map_err(anyhow::Error::msg)?;
    let dir = SweepDir::new(&opts.results, &config.name);
    if crate::store::study::StudyDir::at(dir.root()).exists() {
        anyhow::bail!(
            "{} holds a study, not a sweep: give the sweep another name or results folder",
            dir.root().display()
        );
    }
    std::fs::create_dir_all(dir.root())
        .with_context(|| format!("cannot create results folder {}", dir.root().display()))?;
    crate::store::create_within(dir.root(), &dir.runs())?;
    let _lock = SweepLock::acquire(&dir, opts.shard.is_some())?;
    if opts.shard.is_none() {
        dir.remove_temporaries()?;
    }
    refuse_shortening(config, &dir, &data.fingerprint)?;
    write_sweep_meta(config, opts, &data, &dir)?;
    // A tuned or confirmed sweep holds the rounds its finished runs decided, on top of the grid.
    let rounded = config.tune.is_some() || config.confirm.is_some();
    let (mut runs, mut ids, mut rounds) = match rounded {
        false => (runs, ids, Rounds::default()),
        true => decided_runs(config, &dir, &data),
    };

    // From here a signal asks the runs in flight to save instead of ending the process.
    opts.nothing_in_flight.store(false, Ordering::SeqCst);
    let mut outcomes = Vec::new();
    let mut mine = 0;
    let mut elapsed = Duration::ZERO;
    let mut from = 0;
    let interrupted = loop {
        let trained = train_runs(config, opts, &data, &dir, &runs, &ids, from, most)?;
        mine += trained.mine;
        elapsed += trained.elapsed;
        outcomes.extend(trained.outcomes);
        let stopped = outcomes.iter().any(|o| o.status == Some(Status::Stopped));
        // A shard trains its share of the round in progress and ends: the next round is the
        // next array's (on Slurm, submitted by the chain job once every shard has ended).
        if stopped || opts.stop.load(Ordering::SeqCst) || !rounded || opts.shard.is_some() {
            break stopped || opts.stop.load(Ordering::SeqCst);
        }
        // The next round (of tuning, or the confirmation), now that this one is finished.
        let (next_runs, next_ids, next_rounds) = decided_runs(config, &dir, &data);
        rounds = next_rounds;
        if next_runs.len() == runs.len() {
            break false;
        }
        from = runs.len();
        (runs, ids) = (next_runs, next_ids);
    };
    if opts.shard.is_some() && rounded {
        // Where the rounds stand once this shard's share of the round is done.
        rounds = decided_runs(config, &dir, &data).2;
    }

    {
        let _summary_lock = lock_summaries(&dir)?;
        summary::rebuild(&dir, &ids, config.train.iterations, data.test.is_some())?;
    }
    // Counted once the rounds stand: a tuned sweep's later rounds are decided only as the
    // earlier ones finish (after `iterations` is raised, say), and their runs are not stale.
    let (undecided, stale) = split_outside(config, &dir, &ids, &data.fingerprint)?;
    let (undecided, stale) = (undecided.len(), stale.len());
    let count = |f: &dyn Fn(&RunOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let report = SweepReport {
        dir: dir.root().to_path_buf(),
        runs: mine,
        done: count(&|o| o.status == Some(Status::Done)),
        diverged: count(&|o| o.status == Some(Status::Diverged)),
        new: count(&|o| o.handled == Handled::New),
        resumed: count(&|o| o.handled == Handled::Resumed),
        restarted: count(&|o| o.handled == Handled::Restarted),
        skipped: count(&|o| o.handled == Handled::Skipped),
        stale,
        undecided,
        busy: count(&|o| o.handled == Handled::Busy),
        shard: opts.shard.map(|s| (s, runs.len())),
        elapsed,
        flops: outcomes.iter().map(|o| o.flops).sum(),
        confirmation_pending: rounds.confirmation_pending(config.confirm.as_ref()),
        confirmation_left: rounds.confirmation.as_ref().map_or(0, |c| unfinished(config, &dir, &data, c)),
        confirmation: rounds.confirmation.clone(),
        tuning: rounds.tuning,
    };
    let stopped = count(&|o| o.status == Some(Status::Stopped));
    if stopped > 0 || interrupted && report.done + report.diverged < report.runs {
        return Err(Interrupted {
            saved: stopped,
            finished: report.done + report.diverged,
            runs: report.runs,
        }
        .into());
    }
    Ok(report)
}

/// How many runs of the confirmation round `c` are not finished on disk.
fn unfinished<T: Real>(config: &Config, dir: &SweepDir, data: &Prepared<T>, c: &Confirmation) -> usize {
    let finished = |spec: &RunSpec| {
        let id = RunId::from_spec(spec, &config.train, &data.fingerprint);
        crate::store::RunMeta::read(&dir.run(&id).file(crate::store::RunFile::Meta))
            .is_ok_and(|meta| summary::is_finished(&meta, config.train.iterations))
    };
    c.run_specs(0).iter().filter(|spec| !finished(spec)).count()
}

/// Refuses to lower `iterations` below what runs of this config already trained: restarting
/// them shorter would discard their longer results. Nothing is written before the refusal.
fn refuse_shortening(config: &Config, dir: &SweepDir, fingerprint: &str) -> Result<()> {
    let target = config.train.iterations;
    let Ok(entries) = std::fs::read_dir(dir.runs()) else { return Ok(()) };
    let mut longer: Vec<(String, usize)> = Vec::new();
    for entry in entries.flatten() {
        let Ok(meta) = crate::store::RunMeta::read(&entry.path().join("run.toml")) else { continue };
        let ours = RunId::from_spec(&meta.spec(), &config.train, fingerprint).dir_name()
            == entry.file_name().to_string_lossy();
        if ours && meta.iterations > target {
            longer.push((entry.file_name().to_string_lossy().into_owned(), meta.iterations));
        }
    }
    longer.sort();
    if let Some((first, iterations)) = longer.first() {
        anyhow::bail!(
            "{} runs of this config already have more iterations than the {target} asked for ({first} has \
             {iterations}); training them again shorter would discard that: raise iterations back, or use \
             another results folder or name",
            longer.len()
        );
    }
    Ok(())
}

/// The run folders outside `ids`: those of rounds not decided now (tuned or confirmed sweeps
/// only; see [`SweepDir::split_undecided`]) and the stale rest.
pub(super) fn split_outside(
    config: &Config,
    dir: &SweepDir,
    ids: &[RunId],
    fingerprint: &str,
) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let outside = dir.stale_runs(ids)?;
    Ok(match config.tune.is_some() || config.confirm.is_some() {
        true => SweepDir::split_undecided(outside, &config.train, fingerprint),
        false => (Vec::new(), outside),
    })
}

/// The runs of a tuned or confirmed sweep so far, rebuilt from its finished runs, with their
/// identities and the rounds that decided them.
pub(super) fn decided_runs<T: Real>(
    config: &Config,
    dir: &SweepDir,
    data: &Prepared<T>,
) -> (Vec<RunSpec>, Vec<RunId>, Rounds) {
    let rounds = crate::tune::rounds_on_disk(
        dir,
        &config.grid,
        &config.train,
        &data.fingerprint,
        config.tune.as_ref(),
        config.confirm.as_ref(),
        data.test.is_some(),
    );
    let runs = rounds.run_specs(&config.grid);
    let ids = runs.iter().map(|r| RunId::from_spec(r, &config.train, &data.fingerprint)).collect();
    (runs, ids, rounds)
}

fn write_sweep_meta<T: Real>(
    config: &Config,
    opts: &RunOptions,
    data: &Prepared<T>,
    dir: &SweepDir,
) -> Result<()> {
    let facts = DataFacts {
        origin: data.origin.clone(),
        fingerprint: data.fingerprint.clone(),
        train_samples: data.train.len(),
        test_samples: data.test.as_ref().map_or(0, |t| t.len()),
        features: data.n_features(),
        classes: data.n_classes,
    };
    SweepMeta::from_config(config, facts).write(&dir.sweep_meta())?;
    if let Some(config_text) = &opts.config_text {
        write_atomic(&dir.config_copy(), |w| w.write_all(config_text.as_bytes()))?;
    }
    Ok(())
}

/// Checks that the results folder can be used before any work starts: it must not be a file.
pub fn check_results_dir(results: &Path) -> Result<()> {
    if results.exists() && !results.is_dir() {
        anyhow::bail!("results path {} exists and is not a folder", results.display());
    }
    Ok(())
}
