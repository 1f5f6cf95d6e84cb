//! One run's lifecycle: judge its folder, start or continue it, train with periodic
//! checkpoints, and save its files in groups that a crash can never leave inconsistent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use heavyball_core::Real;
use heavyball_core::model::{Params, Shape};

use super::progress::Progress;
use super::resume::{self, Action};
use crate::config::Config;
use crate::data::Prepared;
use crate::grid::RunSpec;
use crate::store::files::{encode_checkpoint, encode_curve, encode_params};
use crate::store::{FORMAT_VERSION, RunDir, RunFile, RunId, RunMeta, RunStatus, SweepDir};
use crate::train::{self, Evaluator, Flow, Hyper, State, Status};

/// How a run was handled in this invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Handled {
    New,
    Resumed,
    Restarted,
    Skipped,
    NotStarted,
    Busy,
}

/// How one run ended in this invocation.
pub(super) struct RunOutcome {
    /// The run's status now; `None` when it was not started before a stop request.
    pub(super) status: Option<Status>,
    pub(super) handled: Handled,
    pub(super) flops: f64,
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

/// A run taken up for training: everything needed to checkpoint and save it (its state travels
/// beside it, see [`TakeUp::Train`]).
pub(super) struct Member<'a> {
    spec: &'a RunSpec,
    id: &'a RunId,
    run_dir: RunDir,
    shape: Shape,
    handled: Handled,
    /// init.npz, while it is still to be written (with the run's first checkpoint).
    init_bytes: Option<Vec<u8>>,
    wall_before: f64,
    first_iteration: usize,
    started: Instant,
    clock: CheckpointClock,
}

/// What [`take_up`] found a run to need.
pub(super) enum TakeUp<'a, T> {
    /// Nothing to train (finished before, or a stop came first).
    Skip(RunOutcome),
    /// A run to train, and the state it starts from (θ⁰ or its checkpoint).
    Train(Box<Member<'a>>, State<T>),
}

/// Judges a run's folder and makes it ready to train: a finished run is skipped (repaired if
/// need be), a partial one continues from its checkpoint, a damaged one starts over.
///
/// A run's folder (or `runs/`) that is a symbolic link is refused: its files would be written
/// elsewhere.
pub(super) fn take_up<'a, T: Real>(
    config: &Config,
    data: &Prepared<T>,
    spec: &'a RunSpec,
    id: &'a RunId,
    dir: &SweepDir,
    progress: &Progress,
    stop: &AtomicBool,
) -> Result<TakeUp<'a, T>> {
    let target = config.train.iterations;
    if stop.load(Ordering::SeqCst) {
        return Ok(TakeUp::Skip(RunOutcome { status: None, handled: Handled::NotStarted, flops: 0.0 }));
    }
    let started = Instant::now();
    let shape = Shape { n_features: data.n_features(), n_hidden: spec.hidden, n_classes: data.n_classes };
    let run_dir = dir.run(id);
    refuse_link(dir, &run_dir)?;
    let inspection = resume::inspect::<T>(&run_dir, id, shape, target);
    let mut init_bytes: Option<Vec<u8>> = None;
    let (state, handled) = match inspection.action {
        Action::Finished { status, repair, .. } => {
            if let (Some(why), Some(state)) = (repair, inspection.state) {
                progress.warn(&format!("warning: repairing run {}: {why}", id.dir_name()));
                repair_finished(&run_dir, spec, shape, &state, data.test.is_some())?;
            }
            let diverged = status == RunStatus::Diverged;
            progress.run_ended(diverged, target as u64);
            let status = if diverged { Status::Diverged } else { Status::Done };
            return Ok(TakeUp::Skip(RunOutcome {
                status: Some(status),
                handled: Handled::Skipped,
                flops: 0.0,
            }));
        }
        Action::Resume { from, .. } => {
            progress.advance(from as u64);
            if inspection.rewrite_init {
                let init = Params::<T>::init(shape, spec.seed);
                init_bytes = Some(encode_params(&run_dir.file(RunFile::Init), &init)?);
            }
            (inspection.state.expect("a resumable state"), Handled::Resumed)
        }
        Action::New | Action::Restart(_) => {
            let handled = if let Action::Restart(why) = &inspection.action {
                progress.warn(&format!("warning: restarting run {}: {why}", id.dir_name()));
                std::fs::remove_dir_all(run_dir.path()).with_context(|| {
                    format!("cannot clear damaged run folder {}", run_dir.path().display())
                })?;
                Handled::Restarted
            } else {
                Handled::New
            };
            let path = run_dir.path();
            crate::store::create_within(path.parent().unwrap_or(path), path)?;
            // Nothing is written until the first checkpoint: a run killed before it starts over,
            // which gives the same numbers.
            let init = Params::<T>::init(shape, spec.seed);
            init_bytes = Some(encode_params(&run_dir.file(RunFile::Init), &init)?);
            (State::start(init), handled)
        }
    };
    let first_iteration = state.iteration;
    let member = Member {
        spec,
        id,
        run_dir,
        shape,
        first_iteration,
        handled,
        init_bytes,
        wall_before: inspection.wall_seconds,
        started,
        clock: CheckpointClock::new(config.train.checkpoint_every),
    };
    Ok(TakeUp::Train(Box::new(member), state))
}

/// A fused group's members once training has stopped, each with its state and status, still to
/// be saved ([`Ended::save`]): the scheduler hands it to a writer so that the next group's
/// training does not wait on the disk.
pub(super) struct Ended<'a, T> {
    members: Vec<Member<'a>>,
    states: Vec<State<T>>,
    statuses: Vec<Status>,
    /// A member's periodic checkpoint that could not be written: it stopped there.
    write_errors: Vec<Option<anyhow::Error>>,
    /// When training stopped: a run's wall time ends here, not when a writer gets to it.
    trained: Instant,
}

impl<T: Real> Ended<'_, T> {
    /// Saves each member's files ([`end`]); one outcome per member, in order. A member whose
    /// files could not be written gets its error, and the others are saved all the same.
    pub(super) fn save(
        self,
        config: &Config,
        data: &Prepared<T>,
        progress: &Progress,
    ) -> Vec<Result<RunOutcome>> {
        let Ended { members, states, statuses, write_errors, trained } = self;
        members
            .into_iter()
            .zip(states)
            .zip(statuses)
            .zip(write_errors)
            .map(|(((member, state), status), error)| match error {
                Some(e) => Err(e),
                None => end(config, data, member, state, status, trained, progress),
            })
            .collect()
    }
}

/// Trains runs of one network shape together as one fused group ([`train::train_group`]), each
/// from its state in `states` (one per member, as [`take_up`] gave them), with its periodic
/// checkpoints; [`Ended::save`] then saves each one's files. A member whose checkpoint could
/// not be written stops there while the others carry on; all stop once `stop` says so.
///
/// **Panics** if the members' shapes differ.
pub(super) fn train_members<'a, T: Real>(
    config: &Config,
    data: &Prepared<T>,
    mut members: Vec<Member<'a>>,
    mut states: Vec<State<T>>,
    progress: &Progress,
    stop: &dyn Fn() -> bool,
) -> Ended<'a, T> {
    let Some(shape) = members.first().map(|m| m.shape) else {
        return Ended {
            members,
            states,
            statuses: Vec::new(),
            write_errors: Vec::new(),
            trained: Instant::now(),
        };
    };
    let target = config.train.iterations;
    let hypers: Vec<Hyper> = members
        .iter()
        .map(|m| Hyper {
            gamma: m.spec.gamma,
            alpha: m.spec.alpha,
            objective: config.train.objective,
            iterations: target,
            divergence_factor: config.train.divergence_factor,
            sharpness: config.train.sharpness,
        })
        .collect();
    let chunk = config.train.chunk_size;
    let count = members.len();
    let mut train_eval = Evaluator::for_group(&data.train, shape, chunk, true, count);
    let mut test_eval = data.test.as_ref().map(|t| Evaluator::for_group(t, shape, chunk, false, count));
    let mut write_errors: Vec<Option<anyhow::Error>> = (0..count).map(|_| None).collect();
    let statuses =
        train::train_group(&mut states, &hypers, &mut train_eval, test_eval.as_mut(), &mut |i, s| {
            progress.advance(1);
            let member = &mut members[i];
            if s.iteration < target && member.clock.due(s.iteration) {
                let t0 = Instant::now();
                if let Err(e) =
                    save_run_files(&member.run_dir, &member.id.key, s, &mut member.init_bytes, &[])
                {
                    write_errors[i] = Some(e);
                    return Flow::Stop;
                }
                member.clock.written(t0.elapsed());
            }
            if stop() { Flow::Stop } else { Flow::Continue }
        });
    Ended { members, states, statuses, write_errors, trained: Instant::now() }
}

/// Saves a run that [`train::train_group`] left with `status`: its checkpoint when stopped, or
/// its curve and final parameters when finished, then `run.toml`.
fn end<T: Real>(
    config: &Config,
    data: &Prepared<T>,
    member: Member<'_>,
    state: State<T>,
    status: Status,
    trained: Instant,
    progress: &Progress,
) -> Result<RunOutcome> {
    let Member {
        spec,
        id,
        run_dir,
        shape,
        handled,
        mut init_bytes,
        wall_before,
        first_iteration,
        started,
        ..
    } = member;
    let target = config.train.iterations;
    let wall = wall_before + trained.saturating_duration_since(started).as_secs_f64();
    let steps = state.iteration;
    if status == Status::Stopped {
        save_run_files(&run_dir, &id.key, &state, &mut init_bytes, &[])?;
    } else {
        let curve = encode_curve(&state.curve, data.test.is_some());
        let last = encode_params(&run_dir.file(RunFile::Final), &state.theta)?;
        let ending: [(RunFile, &[u8]); 2] = [(RunFile::Curve, &curve), (RunFile::Final, &last)];
        save_run_files(&run_dir, &id.key, &state, &mut init_bytes, &ending)?;
        progress.run_ended(status == Status::Diverged, (target - steps) as u64);
    }
    // run.toml goes last: a final status in it marks the run's files as complete.
    let meta = RunMeta {
        format: FORMAT_VERSION,
        key: id.key.clone(),
        name: id.name.clone(),
        hidden: spec.hidden,
        gamma: spec.gamma,
        alpha: spec.alpha,
        seed: spec.seed,
        objective: config.train.objective,
        precision: config.train.precision,
        chunk_size: config.train.chunk_size,
        data: data.fingerprint.clone(),
        status: run_status(status),
        iterations: steps,
        target_iterations: target,
        wall_seconds: wall,
    };
    meta.write(&run_dir.file(RunFile::Meta))?;
    let flops = (steps - first_iteration) as f64 * shape.flops_per_iteration(data.train.len());
    Ok(RunOutcome { status: Some(status), handled, flops })
}

/// Writes a run's checkpoint as one group of atomic writes with `init.npz` (the first time:
/// `init` is then taken) and `extra` (the curve and final.npz when the run ends).
fn save_run_files<T: Real>(
    run_dir: &RunDir,
    key: &str,
    state: &State<T>,
    init: &mut Option<Vec<u8>>,
    extra: &[(RunFile, &[u8])],
) -> Result<()> {
    let checkpoint = encode_checkpoint(&run_dir.file(RunFile::Checkpoint), key, state)?;
    let mut files: Vec<(RunFile, &[u8])> = Vec::new();
    if let Some(bytes) = init.as_deref() {
        files.push((RunFile::Init, bytes));
    }
    files.push((RunFile::Checkpoint, &checkpoint));
    files.extend_from_slice(extra);
    run_dir.write_group(&files)?;
    *init = None;
    Ok(())
}

/// Writes again, from its checkpoint and seed, the `init.npz`, `curve.csv` and `final.npz` of a
/// finished run: the same bytes the run wrote when it ended.
fn repair_finished<T: Real>(
    run_dir: &RunDir,
    spec: &RunSpec,
    shape: Shape,
    state: &State<T>,
    with_test: bool,
) -> Result<()> {
    let init = encode_params(&run_dir.file(RunFile::Init), &Params::<T>::init(shape, spec.seed))?;
    let curve = encode_curve(&state.curve, with_test);
    let last = encode_params(&run_dir.file(RunFile::Final), &state.theta)?;
    run_dir.write_group(&[(RunFile::Init, &init), (RunFile::Curve, &curve), (RunFile::Final, &last)])
}

/// What `run.toml` says of a run that [`train::train`] left with `status`: a stopped run is
/// still running, to be resumed from its checkpoint.
fn run_status(status: Status) -> RunStatus {
    match status {
        Status::Done => RunStatus::Done,
        Status::Diverged => RunStatus::Diverged,
        Status::Stopped => RunStatus::Running,
    }
}

/// Refuses a run folder reached through a symbolic link (the folder itself or `runs/`), when it
/// exists: everything written to it would land outside the sweep.
pub(super) fn refuse_link(dir: &SweepDir, run_dir: &crate::store::RunDir) -> Result<()> {
    for path in [dir.runs(), run_dir.path().to_path_buf()] {
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            anyhow::bail!(
                "{} is a symbolic link; heavyball writes only inside the sweep's own folders: replace it with a folder",
                path.display()
            );
        }
    }
    Ok(())
}
