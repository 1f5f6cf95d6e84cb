//! Running a sweep: load the data once, expand the grid, judge what each run needs from its
//! folder (new, partial, finished, damaged), train what is left in parallel on a rayon pool
//! with periodic checkpoints, save each run's files as soon as it ends, and rebuild the
//! summaries from the per-run files. A stop request (Ctrl-C, SIGTERM) saves what is in flight.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use crate::config::{Config, Precision};
use crate::data::{self, Prepared};
use crate::grid::{self, RunSpec};
use crate::model::{Params, Real, Shape};
use crate::resume::{self, Action, RunLock, SweepLock};
use crate::shard::{self, Shard};
use crate::store::{self, RunId, RunMeta, SweepDir, run_file};
use crate::summary;
use crate::train::{self, Evaluator, Flow, Hyper, State, Status};

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
        line
    }
}

/// The description of a sweep saved as `sweep.toml`, for reports.
#[derive(Debug, Serialize)]
struct SweepMeta<'a> {
    format: u32,
    name: &'a str,
    data: &'a str,
    data_fingerprint: &'a str,
    train_samples: usize,
    test_samples: usize,
    features: usize,
    classes: usize,
    objective: &'static str,
    precision: &'static str,
    iterations: usize,
    chunk_size: usize,
    hidden: &'a [usize],
    gamma: &'a [f64],
    alpha: &'a [f64],
    seed: &'a [u64],
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

fn run_typed<T: Real>(config: &Config, opts: &RunOptions, prepared: Loaded<T>) -> Result<SweepReport> {
    let Loaded { data, runs, ids } = prepared;
    let dir = SweepDir::new(&opts.results, &config.name);
    std::fs::create_dir_all(dir.runs())
        .with_context(|| format!("cannot create results folder {}", dir.runs().display()))?;
    let _lock = SweepLock::acquire(dir.root(), opts.shard.is_some())?;
    if opts.shard.is_none() {
        resume::remove_temporaries(dir.root())?;
    }
    write_sweep_meta(config, opts, &data, &dir)?;
    let stale = resume::stale_runs(&dir.runs(), &ids)?.len();
    let mine: Vec<usize> = match opts.shard {
        None => (0..runs.len()).collect(),
        Some(shard) => {
            let of = assignment(&runs, &data, shard.count);
            (0..runs.len()).filter(|&i| of[i] == shard.index).collect()
        }
    };

    let progress = Progress::new((mine.len() * config.train.iterations) as u64, mine.len(), opts.quiet);
    let started = Instant::now();
    // Largest runs first, each taken by the next free worker (list scheduling): the small runs
    // fill the gaps at the end, and a worker with no run left helps with the others' chunks.
    // Which thread trains a run never changes its numbers.
    let work = run_work(&runs, &data);
    let mut order = mine.clone();
    order.sort_by(|&a, &b| work[b].total_cmp(&work[a]));
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<RunOutcome>>>> = order.iter().map(|_| Mutex::new(None)).collect();
    let train_run = |i: usize| -> Result<RunOutcome> {
        let Some(_run_lock) = RunLock::try_acquire(dir.root(), &ids[i].dir_name())? else {
            progress.run_ended(false, config.train.iterations as u64);
            return Ok(RunOutcome { status: None, how: How::Busy, flops: 0.0 });
        };
        if opts.shard.is_some() {
            // Only this process may touch the run now; clear what a killed one left.
            resume::remove_temporaries_in(&[dir.run(&ids[i])])?;
        }
        train_one(config, &data, &runs[i], &ids[i], &dir, &progress, &opts.stop)
    };
    rayon::scope(|scope| {
        for _ in 0..rayon::current_num_threads().min(order.len()) {
            scope.spawn(|_| {
                // After an error or an interrupt, runs not yet begun stay untouched.
                while !failed.load(Ordering::SeqCst) && !opts.stop.load(Ordering::SeqCst) {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&i) = order.get(k) else { break };
                    let outcome = train_run(i);
                    failed.fetch_or(outcome.is_err(), Ordering::SeqCst);
                    *slots[k].lock().expect("no worker panics while holding its slot") = Some(outcome);
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

    {
        let _summary_lock = resume::lock_summaries(dir.root())?;
        summary::rebuild(&dir, &ids, data.test.is_some())?;
    }
    let count = |f: &dyn Fn(&RunOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let report = SweepReport {
        dir: dir.root().to_path_buf(),
        runs: mine.len(),
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
    };
    let stopped = count(&|o| o.status == Some(Status::Stopped));
    if stopped > 0 || opts.stop.load(Ordering::SeqCst) && report.done + report.diverged < report.runs {
        return Err(Interrupted {
            saved: stopped,
            finished: report.done + report.diverged,
            runs: report.runs,
        }
        .into());
    }
    Ok(report)
}

fn write_sweep_meta<T: Real>(
    config: &Config,
    opts: &RunOptions,
    data: &Prepared<T>,
    dir: &SweepDir,
) -> Result<()> {
    let meta = SweepMeta {
        format: store::FORMAT_VERSION,
        name: &config.name,
        data: &data.origin,
        data_fingerprint: &data.fingerprint,
        train_samples: data.train.len(),
        test_samples: data.test.as_ref().map_or(0, |t| t.len()),
        features: data.n_features(),
        classes: data.n_classes,
        objective: config.train.objective.name(),
        precision: config.train.precision.name(),
        iterations: config.train.iterations,
        chunk_size: config.train.chunk_size,
        hidden: &config.grid.hidden,
        gamma: &config.grid.gamma,
        alpha: &config.grid.alpha,
        seed: &config.grid.seed,
    };
    let text = toml::to_string(&meta).expect("sweep metadata serialises");
    store::write_atomic(&dir.sweep_meta(), |w| w.write_all(text.as_bytes()))?;
    if let Some(config_text) = &opts.config_text {
        store::write_atomic(&dir.config_copy(), |w| w.write_all(config_text.as_bytes()))?;
    }
    Ok(())
}

/// How a run was handled in this invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    New,
    Resumed,
    Restarted,
    Skipped,
    NotStarted,
    Busy,
}

/// How one run ended in this invocation.
struct RunOutcome {
    /// The run's status now; `None` when it was not started before a stop request.
    status: Option<Status>,
    how: How,
    flops: f64,
}

/// When to save checkpoints: every n iterations, or by time so that writing costs under 1% of
/// training (at least 10 s apart, and at least 100× the last write's duration).
struct CheckpointClock {
    every: Option<usize>,
    last: Instant,
    min_gap: Duration,
}

impl CheckpointClock {
    fn new(every: Option<usize>) -> Self {
        CheckpointClock { every, last: Instant::now(), min_gap: Duration::from_secs(10) }
    }

    fn due(&self, iteration: usize) -> bool {
        match self.every {
            Some(n) => iteration.is_multiple_of(n),
            None => self.last.elapsed() >= self.min_gap,
        }
    }

    fn written(&mut self, took: Duration) {
        self.last = Instant::now();
        self.min_gap = self.min_gap.max(took * 100);
    }
}

fn train_one<T: Real>(
    config: &Config,
    data: &Prepared<T>,
    spec: &RunSpec,
    id: &RunId,
    dir: &SweepDir,
    progress: &Progress,
    stop: &AtomicBool,
) -> Result<RunOutcome> {
    let target = config.train.iterations;
    if stop.load(Ordering::SeqCst) {
        return Ok(RunOutcome { status: None, how: How::NotStarted, flops: 0.0 });
    }
    let started = Instant::now();
    let shape = Shape { n_features: data.n_features(), n_hidden: spec.hidden, n_classes: data.n_classes };
    let run_dir = dir.run(id);
    let inspection = resume::inspect::<T>(&run_dir, id, shape, target);
    let meta = |status: Status, iterations: usize, wall: f64| RunMeta {
        format: store::FORMAT_VERSION,
        key: id.key.clone(),
        name: id.name.clone(),
        hidden: spec.hidden,
        gamma: spec.gamma,
        alpha: spec.alpha,
        seed: spec.seed,
        objective: config.train.objective.name().into(),
        precision: config.train.precision.name().into(),
        chunk_size: config.train.chunk_size,
        data: data.fingerprint.clone(),
        status: if status == Status::Stopped { "running".into() } else { status.name().into() },
        iterations,
        target_iterations: target,
        wall_seconds: wall,
    };

    // init.npz, while it is still to be written (with the run's first checkpoint).
    let mut init_bytes: Option<Vec<u8>> = None;
    let (mut state, how) = match inspection.action {
        Action::Finished { status, .. } => {
            progress.run_ended(status == "diverged", target as u64);
            let status = if status == "diverged" { Status::Diverged } else { Status::Done };
            return Ok(RunOutcome { status: Some(status), how: How::Skipped, flops: 0.0 });
        }
        Action::Resume { from, .. } => {
            progress.advance(from as u64);
            (inspection.state.expect("a resumable state"), How::Resumed)
        }
        Action::New | Action::Restart(_) => {
            let how = if let Action::Restart(why) = &inspection.action {
                progress.warn(&format!("warning: restarting run {}: {why}", id.dir_name()));
                std::fs::remove_dir_all(&run_dir)
                    .with_context(|| format!("cannot clear damaged run folder {}", run_dir.display()))?;
                How::Restarted
            } else {
                How::New
            };
            std::fs::create_dir_all(&run_dir)
                .with_context(|| format!("cannot create {}", run_dir.display()))?;
            // Nothing is written until the first checkpoint: a run killed before it starts over,
            // which gives the same numbers.
            let init = Params::<T>::init(shape, spec.seed);
            init_bytes = Some(store::encode_params(&run_dir.join(run_file::INIT), &init)?);
            (State::start(init), how)
        }
    };
    let wall_before = inspection.wall_seconds;
    let first_iteration = state.iteration;

    let hyper = Hyper {
        gamma: spec.gamma,
        alpha: spec.alpha,
        objective: config.train.objective,
        iterations: target,
        divergence_factor: config.train.divergence_factor,
    };
    let chunk = config.train.chunk_size;
    let mut train_eval = Evaluator::new(&data.train, shape, chunk, true);
    let mut test_eval = data.test.as_ref().map(|t| Evaluator::new(t, shape, chunk, false));
    let mut clock = CheckpointClock::new(config.train.checkpoint_every);
    let mut write_error = None;
    let status = train::train(&mut state, &hyper, &mut train_eval, test_eval.as_mut(), &mut |s| {
        progress.advance(1);
        if s.iteration < target && clock.due(s.iteration) {
            let t0 = Instant::now();
            if let Err(e) = save_run_files(&run_dir, &id.key, s, &mut init_bytes, &[]) {
                write_error = Some(e);
                return Flow::Stop;
            }
            clock.written(t0.elapsed());
        }
        if stop.load(Ordering::SeqCst) { Flow::Stop } else { Flow::Continue }
    });
    if let Some(e) = write_error {
        return Err(e);
    }
    let wall = wall_before + started.elapsed().as_secs_f64();
    let steps = state.iteration;

    if status == Status::Stopped {
        save_run_files(&run_dir, &id.key, &state, &mut init_bytes, &[])?;
    } else {
        let curve = store::encode_curve(&state.curve, data.test.is_some());
        let last = store::encode_params(&run_dir.join(run_file::FINAL), &state.theta)?;
        let ending: [(&str, &[u8]); 2] = [(run_file::CURVE, &curve), (run_file::FINAL, &last)];
        save_run_files(&run_dir, &id.key, &state, &mut init_bytes, &ending)?;
        progress.run_ended(status == Status::Diverged, (target - steps) as u64);
    }
    // run.toml goes last: a final status in it marks the run's files as complete.
    meta(status, steps, wall).write(&run_dir.join(run_file::META))?;
    let flops = (steps - first_iteration) as f64 * shape.flops_per_iteration(data.train.len());
    Ok(RunOutcome { status: Some(status), how, flops })
}

/// Writes a run's checkpoint as one group of atomic writes with `init.npz` (the first time:
/// `init` is then taken) and `extra` (the curve and final.npz when the run ends).
fn save_run_files<T: Real>(
    run_dir: &Path,
    key: &str,
    state: &State<T>,
    init: &mut Option<Vec<u8>>,
    extra: &[(&str, &[u8])],
) -> Result<()> {
    let checkpoint = store::encode_checkpoint(&run_dir.join(run_file::CHECKPOINT), key, state)?;
    let mut files: Vec<(&str, &[u8])> = Vec::new();
    if let Some(bytes) = init.as_deref() {
        files.push((run_file::INIT, bytes));
    }
    files.push((run_file::CHECKPOINT, &checkpoint));
    files.extend_from_slice(extra);
    store::write_atomic_group(run_dir, &files)?;
    *init = None;
    Ok(())
}

/// One run's line in a plan.
#[derive(Clone, Debug)]
pub struct PlanRow {
    /// The run's folder name.
    pub run: String,
    /// What it needs.
    pub action: Action,
    /// Iterations of work left.
    pub work_left: usize,
    /// Useful flops of that work.
    pub flops_left: f64,
    /// The run's shard, when the plan is for a sharded sweep.
    pub shard: Option<usize>,
    /// True when a process is training the run right now.
    pub busy: bool,
}

/// A dry run: what `heavyball run` would do with each run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The sweep's folder.
    pub dir: PathBuf,
    /// One row per grid point, in grid order.
    pub rows: Vec<PlanRow>,
    /// Run folders of earlier configs.
    pub stale: Vec<PathBuf>,
    /// The number of shards, for a sharded sweep.
    pub shards: Option<usize>,
}

impl Plan {
    /// The plan as text: a line per run, then totals.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let width = self.rows.iter().map(|r| r.run.len()).max().unwrap_or(3);
        for r in &self.rows {
            let shard = r.shard.map(|s| format!("shard {s:<3} ")).unwrap_or_default();
            let busy = if r.busy { ", training now" } else { "" };
            out.push_str(&format!("{:width$}  {shard}{}{busy}\n", r.run, r.action.describe()));
        }
        for s in &self.stale {
            let name = s.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            out.push_str(&format!("{name:width$}  stale (not in the current grid; left untouched)\n"));
        }
        for (shard, rows) in self.by_shard() {
            let finished = rows.iter().filter(|r| matches!(r.action, Action::Finished { .. })).count();
            let busy = rows.iter().filter(|r| r.busy && !matches!(r.action, Action::Finished { .. })).count();
            let left: usize = rows.iter().map(|r| r.work_left).sum();
            out.push_str(&format!(
                "shard {shard}: {finished}/{} runs finished, {busy} training now, {} not started or partial; \
                 {left} iterations left\n",
                rows.len(),
                rows.len() - finished - busy,
            ));
        }
        let count = |f: &dyn Fn(&Action) -> bool| self.rows.iter().filter(|r| f(&r.action)).count();
        let left: usize = self.rows.iter().map(|r| r.work_left).sum();
        let flops: f64 = self.rows.iter().map(|r| r.flops_left).sum();
        out.push_str(&format!(
            "{} runs: {} new, {} partial, {} to extend, {} finished, {} to restart; {} stale. \
             Work left: {left} iterations, {:.3} TFLOP. Results in {}\n",
            self.rows.len(),
            count(&|a| *a == Action::New),
            count(&|a| matches!(a, Action::Resume { extend: false, .. })),
            count(&|a| matches!(a, Action::Resume { extend: true, .. })),
            count(&|a| matches!(a, Action::Finished { .. })),
            count(&|a| matches!(a, Action::Restart(_))),
            self.stale.len(),
            flops / 1e12,
            self.dir.display()
        ));
        out
    }
}

impl Plan {
    /// The rows of each shard, in shard order (empty when the plan is not sharded).
    pub fn by_shard(&self) -> Vec<(usize, Vec<&PlanRow>)> {
        let Some(shards) = self.shards else { return Vec::new() };
        (0..shards).map(|s| (s, self.rows.iter().filter(|r| r.shard == Some(s)).collect())).collect()
    }

    /// The shards that still have runs to train (or being trained).
    pub fn unfinished_shards(&self) -> Vec<usize> {
        self.by_shard()
            .into_iter()
            .filter(|(_, rows)| rows.iter().any(|r| r.work_left > 0 || r.busy))
            .map(|(s, _)| s)
            .collect()
    }
}

/// Builds the plan for a config without training or writing anything; with `shards`, also
/// which shard of that many each run belongs to.
pub fn plan(config: &Config, results: &Path, shards: Option<usize>) -> Result<Plan> {
    with_data(config, None, |d| match d {
        Dispatch::F32(p) => plan_typed(config, results, p, shards),
        Dispatch::F64(p) => plan_typed(config, results, p, shards),
    })
}

fn plan_typed<T: Real>(
    config: &Config,
    results: &Path,
    prepared: Loaded<T>,
    shards: Option<usize>,
) -> Result<Plan> {
    let Loaded { data, runs, ids } = prepared;
    let dir = SweepDir::new(results, &config.name);
    let target = config.train.iterations;
    let shard_of = shards.map(|n| assignment(&runs, &data, n));
    let rows = runs
        .par_iter()
        .zip(ids.par_iter())
        .enumerate()
        .map(|(i, (spec, id))| {
            let shape =
                Shape { n_features: data.n_features(), n_hidden: spec.hidden, n_classes: data.n_classes };
            let action = resume::inspect::<T>(&dir.run(id), id, shape, target).action;
            let work_left = action.work_left(target);
            let flops_left = work_left as f64 * shape.flops_per_iteration(data.train.len());
            let busy = resume::run_is_busy(dir.root(), &id.dir_name());
            let shard = shard_of.as_ref().map(|of| of[i]);
            PlanRow { run: id.dir_name(), action, work_left, flops_left, shard, busy }
        })
        .collect();
    let stale = resume::stale_runs(&dir.runs(), &ids)?;
    Ok(Plan { dir: dir.root().to_path_buf(), rows, stale, shards })
}

/// The progress bar over a whole sweep, drawn only on a terminal.
struct Progress {
    bar: ProgressBar,
    counts: Mutex<(usize, usize)>,
    runs: usize,
}

impl Progress {
    fn new(total_iterations: u64, runs: usize, quiet: bool) -> Self {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new(total_iterations);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} [{wide_bar}] {human_pos}/{human_len} it, {per_sec}, ETA {eta} | {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        };
        let progress = Progress { bar, counts: Mutex::new((0, 0)), runs };
        progress.show(0, 0);
        progress
    }

    fn show(&self, done: usize, diverged: usize) {
        self.bar.set_message(format!("runs {done}/{} done, {diverged} diverged", self.runs));
    }

    fn advance(&self, iterations: u64) {
        self.bar.inc(iterations);
    }

    /// Counts a finished run; `rest` iterations (skipped, or left after a divergence) are added.
    fn run_ended(&self, diverged: bool, rest: u64) {
        let mut counts = self.counts.lock().expect("progress counts");
        counts.0 += 1;
        counts.1 += usize::from(diverged);
        self.show(counts.0, counts.1);
        self.bar.inc(rest);
    }

    /// Prints a line on stderr without tearing the bar.
    fn warn(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Checks that the results folder can be used before any work starts: it must not be a file.
pub fn check_results_dir(results: &Path) -> Result<()> {
    if results.exists() && !results.is_dir() {
        anyhow::bail!("results path {} exists and is not a folder", results.display());
    }
    Ok(())
}
