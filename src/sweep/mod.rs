//! Running a sweep: load the data once, expand the grid, judge what each run needs from its
//! folder (new, partial, finished, damaged), train what is left in parallel on a rayon pool
//! with periodic checkpoints, save each run's files as soon as it ends, and rebuild the
//! summaries from the per-run files. A stop request (Ctrl-C, SIGTERM) saves what is in flight.
//!
//! - this file: loading (once, in the config's precision), the pool and the scheduler;
//! - `run_one`: one run's lifecycle and its checkpoints;
//! - [`resume`]: the decision table for a run folder found on disk;
//! - `plan`: the dry run ([`plan()`]);
//! - `hessian`: the Hessian's extreme eigenvalues at every finished run's ends ([`hessian()`]);
//! - `progress`: the progress bar.

mod hessian;
mod plan;
mod progress;
pub mod resume;
mod run_one;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use heavyball_core::Real;
use heavyball_core::model::Shape;

use crate::config::{Config, Precision};
use crate::data::{self, Prepared};
use crate::grid::{self, RunSpec};
use crate::shard::{self, Shard};
use crate::store::summary;
use crate::store::{DataFacts, RunId, RunLock, SweepDir, SweepLock, SweepMeta, lock_summaries, write_atomic};
use crate::train::Status;
use crate::tune::Tuning;
use progress::Progress;
use run_one::{Begun, How, RunOutcome, begin, train_members};

pub use hessian::{HessianReport, hessian};
pub use plan::{Plan, PlanRow, plan};

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
    pub preparing: Arc<AtomicBool>,
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
            self.flops / secs.max(1e-9) / 1e9,
            self.dir.display()
        );
        if self.stale > 0 {
            line.push_str(&format!("; {} stale runs of an earlier config left untouched", self.stale));
        }
        if self.busy > 0 {
            line.push_str(&format!("; {} runs left to another process that is training them", self.busy));
        }
        if let Some(tuning) = &self.tuning {
            let bracketed = tuning.verdicts.iter().filter(|(_, v)| v.is_bracketed()).count();
            let methods = tuning.verdicts.len();
            line.push_str(&if tuning.finished {
                format!(
                    "\ntuning finished after {} rounds: {bracketed} of {methods} methods bracketed (heavyball plan lists them)",
                    tuning.round()
                )
            } else {
                format!(
                    "\ntuning round {} in progress: run again (every shard, when sharded) to go on",
                    tuning.round()
                )
            });
        }
        line
    }
}

/// A sweep's data, grid points and run identities, ready to train or to plan.
pub struct Loaded<T> {
    /// The shared data.
    pub data: Prepared<T>,
    /// The grid points.
    pub runs: Vec<RunSpec>,
    /// Their identities.
    pub ids: Vec<RunId>,
}

/// Loads the data in the config's precision and calls `f` with it, inside the thread pool.
fn with_data<R: Send>(
    config: &Config,
    threads: Option<usize>,
    f: impl FnOnce(Dispatch) -> Result<R> + Send,
) -> Result<R> {
    let table = data::load(&config.data.source)?;
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        builder = builder.num_threads(n);
    }
    let pool = builder.build().context("cannot start the thread pool")?;
    pool.install(|| match config.train.precision {
        Precision::F32 => f(Dispatch::F32(prepare(config, data::prepare(table, &config.data)?))),
        Precision::F64 => f(Dispatch::F64(prepare(config, data::prepare(table, &config.data)?))),
    })
}

/// Prepared data in one of the two precisions.
enum Dispatch {
    F32(Loaded<f32>),
    F64(Loaded<f64>),
}

fn prepare<T: Real>(config: &Config, data: Prepared<T>) -> Loaded<T> {
    let runs = grid::expand(&config.grid);
    let ids = runs.iter().map(|r| RunId::from_spec(r, &config.train, &data.fingerprint)).collect();
    Loaded { data, runs, ids }
}

/// The shard of each run among `shards`, sharing out runs by their useful flops per iteration.
fn assignment<T: Real>(runs: &[RunSpec], data: &Prepared<T>, shards: usize) -> Vec<usize> {
    shard::assign(&run_work(runs, data), shards)
}

/// Each run's useful flops per iteration: its share of a sweep's work.
fn run_work<T: Real>(runs: &[RunSpec], data: &Prepared<T>) -> Vec<f64> {
    runs.iter()
        .map(|r| {
            let shape =
                Shape { n_features: data.n_features(), n_hidden: r.hidden, n_classes: data.n_classes };
            shape.flops_per_iteration(data.train.len())
        })
        .collect()
}

/// Runs a validated sweep: reads the data, then trains and saves every grid point that is not
/// finished yet.
pub fn run(config: &Config, opts: &RunOptions) -> Result<SweepReport> {
    with_data(config, opts.threads, |d| match d {
        Dispatch::F32(p) => run_typed(config, opts, p),
        Dispatch::F64(p) => run_typed(config, opts, p),
    })
}

/// The memory training needs at most, in bytes: as many runs at once as there are threads (or
/// runs), each with its parameters, momentum, a gradient per chunk and a workspace per thread,
/// sized for the widest fused group (R runs of M hidden units count as one network of R·M).
/// `None` beyond 64-bit counting.
fn training_bytes<T: Real>(config: &Config, data: &Prepared<T>, runs: usize, most: usize) -> Option<u64> {
    let threads = rayon::current_num_threads().min(runs).max(1) as u64;
    let n = data.train.len().max(1) as u64;
    let chunk = (config.train.chunk_size as u64).min(n);
    let chunks = n.div_ceil(chunk);
    let (p, k) = (data.n_features() as u64, data.n_classes as u64);
    let m = config.grid.hidden.iter().map(|&m| group_size::<T>(m, most) * m).max()? as u64;
    let params = m.checked_mul(p.checked_add(k)?.checked_add(1)?)?.checked_add(k)?;
    let per_run = params.checked_mul(chunks.checked_add(8)?)?;
    let workspace = chunk.checked_mul(m.checked_mul(2)?.checked_add(k)?.checked_add(24)?)?;
    let per_run = per_run.checked_add(workspace.checked_mul(threads)?)?;
    per_run.checked_mul(threads)?.checked_mul(std::mem::size_of::<T>() as u64)
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
    std::fs::create_dir_all(dir.runs())
        .with_context(|| format!("cannot create results folder {}", dir.runs().display()))?;
    let _lock = SweepLock::acquire(&dir, opts.shard.is_some())?;
    if opts.shard.is_none() {
        dir.remove_temporaries()?;
    }
    write_sweep_meta(config, opts, &data, &dir)?;
    // A tuned sweep holds the rounds its finished runs decided, on top of the grid.
    let (mut runs, mut ids, mut tuning) = match config.tune {
        None => (runs, ids, None),
        Some(_) => tuned_runs(config, &dir, &data),
    };
    let stale = dir.stale_runs(&ids)?.len();

    // From here a signal asks the runs in flight to save instead of ending the process.
    opts.preparing.store(false, Ordering::SeqCst);
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
        if stopped || opts.stop.load(Ordering::SeqCst) || config.tune.is_none() || opts.shard.is_some() {
            break stopped || opts.stop.load(Ordering::SeqCst);
        }
        // The next round, now that this one is finished.
        let (next_runs, next_ids, next_tuning) = tuned_runs(config, &dir, &data);
        tuning = next_tuning;
        if next_runs.len() == runs.len() {
            break false;
        }
        from = runs.len();
        (runs, ids) = (next_runs, next_ids);
    };
    if opts.shard.is_some() && config.tune.is_some() {
        // Where the tuning stands once this shard's share of the round is done.
        tuning = tuned_runs(config, &dir, &data).2;
    }

    {
        let _summary_lock = lock_summaries(&dir)?;
        summary::rebuild(&dir, &ids, config.train.iterations, data.test.is_some())?;
    }
    let count = |f: &dyn Fn(&RunOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let report = SweepReport {
        dir: dir.root().to_path_buf(),
        runs: mine,
        done: count(&|o| o.status == Some(Status::Done)),
        diverged: count(&|o| o.status == Some(Status::Diverged)),
        new: count(&|o| o.how == How::New),
        resumed: count(&|o| o.how == How::Resumed),
        restarted: count(&|o| o.how == How::Restarted),
        skipped: count(&|o| o.how == How::Skipped),
        stale,
        busy: count(&|o| o.how == How::Busy),
        shard: opts.shard.map(|s| (s, runs.len())),
        elapsed,
        flops: outcomes.iter().map(|o| o.flops).sum(),
        tuning,
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

/// The runs of a tuned sweep so far, rebuilt from its finished runs, with their identities and
/// the tuning that decided them.
fn tuned_runs<T: Real>(
    config: &Config,
    dir: &SweepDir,
    data: &Prepared<T>,
) -> (Vec<RunSpec>, Vec<RunId>, Option<Tuning>) {
    let tuning = config
        .tune
        .map(|spec| crate::tune::on_disk(dir, &config.grid, &config.train, &data.fingerprint, &spec));
    let runs = crate::tune::run_specs(&config.grid, tuning.as_ref());
    let ids = runs.iter().map(|r| RunId::from_spec(r, &config.train, &data.fingerprint)).collect();
    (runs, ids, tuning)
}

/// What one call of [`train_runs`] did.
struct Trained {
    /// This process's share of the runs considered.
    mine: usize,
    /// One outcome per run taken up.
    outcomes: Vec<RunOutcome>,
    /// Wall time.
    elapsed: Duration,
}

/// Trains the runs `runs[from..]` that are this process's (all, or its shard's share of the
/// whole list), largest first, in fused groups of at most `most` runs, each saved as it ends.
#[allow(clippy::too_many_arguments)]
fn train_runs<T: Real>(
    config: &Config,
    opts: &RunOptions,
    data: &Prepared<T>,
    dir: &SweepDir,
    runs: &[RunSpec],
    ids: &[RunId],
    from: usize,
    most: usize,
) -> Result<Trained> {
    let mine: Vec<usize> = match opts.shard {
        None => (from..runs.len()).collect(),
        Some(shard) => {
            let of = assignment(runs, data, shard.count);
            (from..runs.len()).filter(|&i| of[i] == shard.index).collect()
        }
    };
    let progress = Progress::new((mine.len() * config.train.iterations) as u64, mine.len(), opts.quiet);
    let started = Instant::now();
    // Largest runs first, each group taken by the next free worker (list scheduling): the small
    // runs fill the gaps at the end, and a worker with no group left helps with the others'
    // chunks. Runs of one shape train together as fused groups. Which thread trains a run, and
    // with which others, never changes its numbers.
    let work = run_work(runs, data);
    let mut order = mine.clone();
    order.sort_by(|&a, &b| work[b].total_cmp(&work[a]));
    let threads = rayon::current_num_threads();
    let groups = fused_groups::<T>(&order, runs, threads, most);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<RunOutcome>>>> = order.iter().map(|_| Mutex::new(None)).collect();
    // Takes up the group's runs (each under its lock) and trains those left to train together;
    // one outcome per run, in the group's order.
    let train_group = |group: &[usize]| -> Vec<Result<RunOutcome>> {
        let mut outcomes: Vec<Option<Result<RunOutcome>>> = group.iter().map(|_| None).collect();
        let mut locks = Vec::new();
        let (mut members, mut states, mut trained) = (Vec::new(), Vec::new(), Vec::new());
        for (slot, &k) in group.iter().enumerate() {
            let i = order[k];
            let begun = (|| {
                let Some(lock) = RunLock::try_acquire(dir, &ids[i])? else {
                    progress.run_ended(false, config.train.iterations as u64);
                    return Ok(Begun::Ended(RunOutcome { status: None, how: How::Busy, flops: 0.0 }));
                };
                locks.push(lock);
                if opts.shard.is_some() {
                    // Only this process may touch the run now; clear what a killed one left.
                    dir.run(&ids[i]).remove_temporaries()?;
                }
                begin(config, data, &runs[i], &ids[i], dir, &progress, &opts.stop)
            })();
            match begun {
                Ok(Begun::Train(member, state)) => {
                    members.push(*member);
                    states.push(state);
                    trained.push(slot);
                }
                Ok(Begun::Ended(outcome)) => outcomes[slot] = Some(Ok(outcome)),
                Err(e) => outcomes[slot] = Some(Err(e)),
            }
        }
        for (slot, outcome) in
            trained.into_iter().zip(train_members(config, data, members, states, &progress, &opts.stop))
        {
            outcomes[slot] = Some(outcome);
        }
        drop(locks);
        outcomes.into_iter().map(|o| o.expect("an outcome for every run of the group")).collect()
    };
    rayon::scope(|scope| {
        for _ in 0..threads.min(groups.len()) {
            scope.spawn(|_| {
                // After an error or an interrupt, groups not yet begun stay untouched.
                while !failed.load(Ordering::SeqCst) && !opts.stop.load(Ordering::SeqCst) {
                    let g = next.fetch_add(1, Ordering::SeqCst);
                    let Some(group) = groups.get(g) else { break };
                    for (&k, outcome) in group.iter().zip(train_group(group)) {
                        failed.fetch_or(outcome.is_err(), Ordering::SeqCst);
                        *slots[k].lock().expect("no worker panics while holding its slot") = Some(outcome);
                    }
                }
            });
        }
    });
    let outcomes: Vec<RunOutcome> = slots
        .into_iter()
        .filter_map(|slot| slot.into_inner().expect("no worker panics while holding its slot"))
        .collect::<Result<_>>()?;
    let elapsed = started.elapsed();
    progress.finish();
    Ok(Trained { mine: mine.len(), outcomes, elapsed })
}

/// The most bytes a row of a fused group's hidden layer spans: R·M values of 64 f32 or 32 f64,
/// four AVX-512 (eight AVX2) vectors, what the product kernel's widest tiles fill. Wider rows
/// gain nothing on the forward product, and a group's workspace grows with R.
const FUSED_ROW_BYTES: usize = 256;

/// The most runs in a fused group.
const MOST_MEMBERS: usize = 16;

/// The environment variable that caps the runs in a fused group, from 1 (every run alone) to
/// 16: for benchmarks and tests. Results are bitwise the same at any setting.
pub const GROUP_SIZE_VAR: &str = "HEAVYBALL_GROUP_SIZE";

/// How many runs of M hidden units train as one fused group: enough to fill a row of 256 bytes
/// (64 f32 or 32 f64 values), and one (no fusing) when M alone fills it, where bench-A shows fusing
/// does not pay; never more than `most`.
pub fn group_size<T>(hidden: usize, most: usize) -> usize {
    (FUSED_ROW_BYTES / std::mem::size_of::<T>() / hidden.max(1)).clamp(1, most.clamp(1, MOST_MEMBERS))
}

/// The cap on a group's runs: [`GROUP_SIZE_VAR`] when set, otherwise [`MOST_MEMBERS`].
fn most_members() -> Result<usize> {
    match std::env::var(GROUP_SIZE_VAR) {
        Err(std::env::VarError::NotPresent) => Ok(MOST_MEMBERS),
        Ok(text) => match text.trim().parse::<usize>() {
            Ok(n @ 1..=MOST_MEMBERS) => Ok(n),
            _ => anyhow::bail!(
                "{GROUP_SIZE_VAR} must be a whole number from 1 to {MOST_MEMBERS} (got '{text}')"
            ),
        },
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("{GROUP_SIZE_VAR} must be a whole number from 1 to {MOST_MEMBERS}")
        }
    }
}

/// Splits `order` (positions into it, in its order) into fused groups: consecutive runs of one
/// network size, at most [`group_size`] of them, and no more than leaves each of the `threads`
/// workers a group of that size when there are few runs.
fn fused_groups<T: Real>(order: &[usize], runs: &[RunSpec], threads: usize, most: usize) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut k = 0;
    while k < order.len() {
        let hidden = runs[order[k]].hidden;
        let same = order[k..].iter().take_while(|&&i| runs[i].hidden == hidden).count();
        let size = group_size::<T>(hidden, most).min(same.div_ceil(threads.max(1))).max(1);
        for start in (k..k + same).step_by(size) {
            groups.push((start..(start + size).min(k + same)).collect());
        }
        k += same;
    }
    groups
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
