//! Running a sweep: load the data once, expand the grid, train every run in parallel on a
//! rayon pool, save each run's files as soon as it ends, and rebuild the summaries from the
//! per-run files.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use crate::config::{Config, Precision};
use crate::data::{self, Prepared};
use crate::grid::{self, RunSpec};
use crate::model::{Params, Real, Shape};
use crate::store::{self, RunId, RunMeta, SweepDir, run_file};
use crate::summary;
use crate::train::{self, Evaluator, Flow, Hyper, State, Status};

/// How to run a sweep, beyond its config.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The results directory; the sweep lands in `results/<name>`.
    pub results: PathBuf,
    /// The rayon pool size; `None` uses every core (or `RAYON_NUM_THREADS`).
    pub threads: Option<usize>,
    /// Hide the progress bar.
    pub quiet: bool,
    /// The config file's text, saved beside the results.
    pub config_text: Option<String>,
}

/// What a sweep did.
#[derive(Clone, Debug)]
pub struct SweepReport {
    /// The sweep's folder.
    pub dir: PathBuf,
    /// Runs in the grid.
    pub runs: usize,
    /// Runs that finished all their iterations.
    pub done: usize,
    /// Runs whose loss became NaN or infinite.
    pub diverged: usize,
    /// Wall time of the training phase.
    pub elapsed: Duration,
    /// Useful floating-point operations of the gradient evaluations performed.
    pub flops: f64,
}

impl SweepReport {
    /// The one-line summary printed at the end of `heavyball run`.
    pub fn line(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        format!(
            "{} runs ({} done, {} diverged) in {:.2} s, {:.1} GFLOP/s useful; results in {}",
            self.runs,
            self.done,
            self.diverged,
            secs,
            self.flops / secs.max(1e-9) / 1e9,
            self.dir.display()
        )
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

/// Runs a validated sweep: reads the data, then trains and saves every grid point.
pub fn run(config: &Config, opts: &RunOptions) -> Result<SweepReport> {
    let table = data::load(&config.data.source)?;
    let pool = {
        let mut builder = rayon::ThreadPoolBuilder::new();
        if let Some(n) = opts.threads {
            builder = builder.num_threads(n);
        }
        builder.build().context("cannot start the thread pool")?
    };
    pool.install(|| match config.train.precision {
        Precision::F32 => run_typed::<f32>(config, opts, data::prepare(table, &config.data)?),
        Precision::F64 => run_typed::<f64>(config, opts, data::prepare(table, &config.data)?),
    })
}

fn run_typed<T: Real>(config: &Config, opts: &RunOptions, data: Prepared<T>) -> Result<SweepReport> {
    let runs = grid::expand(&config.grid);
    let ids: Vec<RunId> =
        runs.iter().map(|r| RunId::from_spec(r, &config.train, &data.fingerprint)).collect();
    let dir = SweepDir::new(&opts.results, &config.name);
    prepare_dirs(&dir)?;
    write_sweep_meta(config, opts, &data, &dir)?;

    let total_iterations = (runs.len() * config.train.iterations) as u64;
    let progress = Progress::new(total_iterations, runs.len(), opts.quiet);
    let started = Instant::now();
    let outcomes: Vec<RunOutcome> = runs
        .par_iter()
        .zip(ids.par_iter())
        .map(|(spec, id)| train_one(config, &data, spec, id, &dir, &progress))
        .collect::<Result<_>>()?;
    let elapsed = started.elapsed();
    progress.finish();

    summary::rebuild(&dir, &ids, data.test.is_some())?;
    Ok(SweepReport {
        dir: dir.root().to_path_buf(),
        runs: runs.len(),
        done: outcomes.iter().filter(|o| o.status == Status::Done).count(),
        diverged: outcomes.iter().filter(|o| o.status == Status::Diverged).count(),
        elapsed,
        flops: outcomes.iter().map(|o| o.flops).sum(),
    })
}

fn prepare_dirs(dir: &SweepDir) -> Result<()> {
    std::fs::create_dir_all(dir.runs())
        .with_context(|| format!("cannot create results folder {}", dir.runs().display()))
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

/// How one run ended in this invocation.
struct RunOutcome {
    status: Status,
    flops: f64,
}

fn train_one<T: Real>(
    config: &Config,
    data: &Prepared<T>,
    spec: &RunSpec,
    id: &RunId,
    dir: &SweepDir,
    progress: &Progress,
) -> Result<RunOutcome> {
    let started = Instant::now();
    let shape = Shape { n_features: data.n_features(), n_hidden: spec.hidden, n_classes: data.n_classes };
    let run_dir = dir.run(id);
    std::fs::create_dir_all(&run_dir).with_context(|| format!("cannot create {}", run_dir.display()))?;

    let init = Params::<T>::init(shape, spec.seed);
    store::write_params(&run_dir.join(run_file::INIT), &init)?;
    let mut state = State::start(init);

    let hyper = Hyper {
        gamma: spec.gamma,
        alpha: spec.alpha,
        objective: config.train.objective,
        iterations: config.train.iterations,
        divergence_factor: config.train.divergence_factor,
    };
    let chunk = config.train.chunk_size;
    let mut train_eval = Evaluator::new(&data.train, shape, chunk, true);
    let mut test_eval = data.test.as_ref().map(|t| Evaluator::new(t, shape, chunk, false));
    let status = train::train(&mut state, &hyper, &mut train_eval, test_eval.as_mut(), &mut |_| {
        progress.step();
        Flow::Continue
    });
    let steps = state.iteration;

    store::write_curve(&run_dir.join(run_file::CURVE), &state.curve, data.test.is_some())?;
    store::write_params(&run_dir.join(run_file::FINAL), &state.theta)?;
    let meta = RunMeta {
        format: store::FORMAT_VERSION,
        key: id.key.clone(),
        name: id.name.clone(),
        hidden: spec.hidden,
        gamma: spec.gamma,
        alpha: spec.alpha,
        seed: spec.seed,
        objective: config.train.objective.name().into(),
        precision: config.train.precision.name().into(),
        chunk_size: chunk,
        data: data.fingerprint.clone(),
        status: status.name().into(),
        iterations: steps,
        target_iterations: config.train.iterations,
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    // run.toml goes last: its presence with a final status marks the run as complete.
    meta.write(&run_dir.join(run_file::META))?;
    progress.run_ended(status, config.train.iterations - steps);
    Ok(RunOutcome { status, flops: steps as f64 * shape.flops_per_iteration(data.train.len()) })
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

    fn step(&self) {
        self.bar.inc(1);
    }

    /// Counts a finished run; `skipped` iterations (after a divergence) leave the total.
    fn run_ended(&self, status: Status, skipped: usize) {
        let mut counts = self.counts.lock().expect("progress counts");
        counts.0 += 1;
        if status == Status::Diverged {
            counts.1 += 1;
        }
        self.show(counts.0, counts.1);
        self.bar.inc(skipped as u64);
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
