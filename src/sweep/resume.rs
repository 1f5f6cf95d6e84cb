//! Resuming: what each run of a sweep needs, judged from its folder on disk: start, continue
//! from a checkpoint, skip as finished, or restart because its files are damaged.
//!
//! Judging is two steps: [`OnDisk::read`] gathers what the folder holds, and [`decide`] turns
//! that into an [`Action`] with no I/O, so that the decision table is tested on its own.

use crate::model::Shape;
use crate::num::Real;
use crate::store::files::{read_checkpoint, read_curve, same_curve};
use crate::store::{RunDir, RunFile, RunId, RunMeta, RunStatus};
use crate::train::{CurveRow, State};

/// What a run needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// No files yet: train from the initial parameters.
    New,
    /// Continue from a checkpoint at this iteration: an interrupted run, or a finished run whose
    /// `iterations` were raised.
    Resume {
        /// The checkpoint's iteration.
        from: usize,
        /// True when the run had finished with fewer iterations.
        extend: bool,
    },
    /// Finished with this number of steps, at the current target (or diverged before it).
    Finished {
        /// `done` or `diverged`.
        status: RunStatus,
        /// Steps taken.
        iterations: usize,
    },
    /// Its files cannot be trusted or reused: start over, saying why.
    Restart(String),
}

impl Action {
    /// A short description for `heavyball plan`.
    pub fn describe(&self) -> String {
        match self {
            Action::New => "new".into(),
            Action::Resume { from, extend: false } => format!("partial (at iteration {from})"),
            Action::Resume { from, extend: true } => format!("extend (done at {from})"),
            Action::Finished { status, iterations } => format!("{} ({iterations} iterations)", status.name()),
            Action::Restart(why) => format!("restart ({why})"),
        }
    }

    /// Iterations of work left to reach `target`.
    pub fn work_left(&self, target: usize) -> usize {
        match self {
            Action::New | Action::Restart(_) => target,
            Action::Resume { from, .. } => target - from,
            Action::Finished { .. } => 0,
        }
    }
}

/// A run's action, with the state to continue from and the wall time already spent.
pub struct Inspection<T> {
    /// What to do.
    pub action: Action,
    /// For `Resume`: θ, φ, the iteration and the curve rows before it.
    pub state: Option<State<T>>,
    /// Seconds spent on the run by earlier sessions.
    pub wall_seconds: f64,
}

impl<T> Inspection<T> {
    fn action(action: Action) -> Self {
        Inspection { action, state: None, wall_seconds: 0.0 }
    }
}

/// One file of a run's folder as found: absent, present but unreadable (and why), or read.
#[derive(Clone, Debug)]
pub enum Found<V> {
    /// There is no such file.
    Missing,
    /// The file is there but cannot be used; the reason names it.
    Damaged(String),
    /// The file's contents.
    Read(V),
}

impl<V> Found<V> {
    fn from_read(exists: bool, read: impl FnOnce() -> anyhow::Result<V>) -> Self {
        if !exists {
            return Found::Missing;
        }
        match read() {
            Ok(v) => Found::Read(v),
            Err(e) => Found::Damaged(format!("{e:#}")),
        }
    }
}

/// What a run's folder holds.
pub struct OnDisk<T> {
    /// Whether the folder exists at all.
    pub folder: bool,
    /// `run.toml`.
    pub meta: Found<RunMeta>,
    /// `checkpoint.npz`, checked against the run's key and shape.
    pub checkpoint: Found<State<T>>,
    /// `curve.csv`.
    pub curve: Found<Vec<CurveRow>>,
    /// Whether `final.npz` exists.
    pub has_final: bool,
}

impl<T: Real> OnDisk<T> {
    /// Reads the folder of run `id`, a network of `shape`.
    pub fn read(run: &RunDir, id: &RunId, shape: Shape) -> Self {
        let exists = |f| run.file(f).exists();
        OnDisk {
            folder: run.path().exists(),
            meta: Found::from_read(exists(RunFile::Meta), || RunMeta::read(&run.file(RunFile::Meta))),
            checkpoint: Found::from_read(exists(RunFile::Checkpoint), || {
                read_checkpoint(&run.file(RunFile::Checkpoint), &id.key, shape)
            }),
            curve: Found::from_read(exists(RunFile::Curve), || read_curve(&run.file(RunFile::Curve))),
            has_final: exists(RunFile::Final),
        }
    }
}

/// Judges a run folder against the run's key, its network shape and the target iterations.
pub fn inspect<T: Real>(run: &RunDir, id: &RunId, shape: Shape, target: usize) -> Inspection<T> {
    decide(OnDisk::read(run, id, shape), &id.key, target)
}

/// The decision table: what a run whose folder holds `found` needs to reach `target`
/// iterations.
///
/// `run.toml` is written when a run ends or stops; until then its checkpoint, which names its
/// run, says how far it got. A finished run (`done` or `diverged`) must also have a curve equal
/// to its checkpoint's and a `final.npz`.
pub fn decide<T>(found: OnDisk<T>, key: &str, target: usize) -> Inspection<T> {
    if !found.folder {
        return Inspection::action(Action::New);
    }
    let has_checkpoint = !matches!(found.checkpoint, Found::Missing);
    let (status, wall_seconds) = match found.meta {
        Found::Read(meta) if meta.key != key => {
            return Inspection::action(Action::Restart("run.toml names another run".into()));
        }
        Found::Read(meta) => (meta.status, meta.wall_seconds),
        // The folder was made but the run never got going (or its metadata is garbage).
        _ if !has_checkpoint => return Inspection::action(Action::New),
        Found::Missing => (RunStatus::Running, 0.0),
        Found::Damaged(why) => return Inspection::action(Action::Restart(why)),
    };
    let mut state = match found.checkpoint {
        Found::Missing if status == RunStatus::Running => return Inspection::action(Action::New),
        Found::Missing => return Inspection::action(Action::Restart("checkpoint.npz is missing".into())),
        Found::Damaged(why) => return Inspection::action(Action::Restart(why)),
        Found::Read(state) => state,
    };
    let finished_state = state.curve.len() == state.iteration + 1;
    if status.is_final() {
        match found.curve {
            Found::Read(curve) if same_curve(&curve, &state.curve) && finished_state => {}
            Found::Read(_) => {
                return Inspection::action(Action::Restart("curve.csv disagrees with checkpoint.npz".into()));
            }
            Found::Missing => return Inspection::action(Action::Restart("curve.csv is missing".into())),
            Found::Damaged(why) => return Inspection::action(Action::Restart(why)),
        }
        if !found.has_final {
            return Inspection::action(Action::Restart("final.npz is missing".into()));
        }
    }
    if status == RunStatus::Diverged && state.iteration <= target {
        let action = Action::Finished { status, iterations: state.iteration };
        return Inspection { action, state: None, wall_seconds };
    }
    if state.iteration > target {
        return Inspection::action(Action::Restart(format!(
            "it has {} iterations, more than the {target} asked for",
            state.iteration
        )));
    }
    if status == RunStatus::Done && state.iteration == target {
        let action = Action::Finished { status, iterations: state.iteration };
        return Inspection { action, state: None, wall_seconds };
    }
    // A trailing row at θ^k is recomputed when training continues from k.
    if finished_state {
        state.curve.pop();
    }
    let action = Action::Resume { from: state.iteration, extend: status == RunStatus::Done };
    Inspection { action, state: Some(state), wall_seconds }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Params;

    const KEY: &str = "k";
    const SHAPE: Shape = Shape { n_features: 1, n_hidden: 1, n_classes: 2 };

    fn row(iteration: usize) -> CurveRow {
        let loss = 1.0 / (iteration + 1) as f64;
        CurveRow { iteration, train_loss: loss, train_accuracy: 0.5, test_loss: None, test_accuracy: None }
    }

    /// A checkpoint at iteration k: rows 0..k, or 0..=k once the run ended there.
    fn state(k: usize, ended: bool) -> State<f64> {
        let rows = if ended { k + 1 } else { k };
        let mut state = State::start(Params::init(SHAPE, 0));
        state.iteration = k;
        state.curve = (0..rows).map(row).collect();
        state
    }

    fn meta(key: &str, status: RunStatus, iterations: usize) -> RunMeta {
        RunMeta {
            format: 1,
            key: key.into(),
            name: "M1-g0.1-a1-s0".into(),
            hidden: 1,
            gamma: 0.1,
            alpha: 1.0,
            seed: 0,
            objective: crate::config::Objective::Sum,
            precision: crate::config::Precision::F64,
            chunk_size: 1024,
            data: "fp".into(),
            status,
            iterations,
            target_iterations: iterations,
            wall_seconds: 2.5,
        }
    }

    /// A run that ended at `k` with `status`, with every file in place.
    fn ended(status: RunStatus, k: usize) -> OnDisk<f64> {
        OnDisk {
            folder: true,
            meta: Found::Read(meta(KEY, status, k)),
            checkpoint: Found::Read(state(k, true)),
            curve: Found::Read((0..=k).map(row).collect()),
            has_final: true,
        }
    }

    /// A run stopped or killed at `k`: a checkpoint, and `run.toml` as given.
    fn partial(k: usize, meta: Found<RunMeta>) -> OnDisk<f64> {
        OnDisk {
            folder: true,
            meta,
            checkpoint: Found::Read(state(k, false)),
            curve: Found::Missing,
            has_final: false,
        }
    }

    fn action(found: OnDisk<f64>, target: usize) -> Action {
        decide(found, KEY, target).action
    }

    fn restart(why: &str) -> Action {
        Action::Restart(why.into())
    }

    #[test]
    fn fresh_and_never_started_runs_are_new() {
        let nothing = || OnDisk::<f64> {
            folder: false,
            meta: Found::Missing,
            checkpoint: Found::Missing,
            curve: Found::Missing,
            has_final: false,
        };
        assert_eq!(action(nothing(), 10), Action::New);
        assert_eq!(action(OnDisk { folder: true, ..nothing() }, 10), Action::New);
        // A garbage run.toml with nothing else to lose starts over as new.
        assert_eq!(
            action(OnDisk { folder: true, meta: Found::Damaged("bad".into()), ..nothing() }, 10),
            Action::New
        );
        // Stopped before its first checkpoint.
        let stopped =
            OnDisk { folder: true, meta: Found::Read(meta(KEY, RunStatus::Running, 0)), ..nothing() };
        assert_eq!(action(stopped, 10), Action::New);
    }

    #[test]
    fn finished_runs_are_skipped_at_their_target() {
        let found = decide(ended(RunStatus::Done, 10), KEY, 10);
        assert_eq!(found.action, Action::Finished { status: RunStatus::Done, iterations: 10 });
        assert!(found.state.is_none());
        assert_eq!(found.wall_seconds, 2.5);
        // A diverged run is finished at any target it did not pass.
        let diverged = Action::Finished { status: RunStatus::Diverged, iterations: 4 };
        assert_eq!(action(ended(RunStatus::Diverged, 4), 10), diverged);
        assert_eq!(action(ended(RunStatus::Diverged, 4), 4), diverged);
    }

    #[test]
    fn interrupted_runs_resume_from_their_checkpoint() {
        let found = decide(partial(6, Found::Read(meta(KEY, RunStatus::Running, 6))), KEY, 10);
        assert_eq!(found.action, Action::Resume { from: 6, extend: false });
        let state = found.state.unwrap();
        assert_eq!((state.iteration, state.curve.len()), (6, 6));
        // Killed before its run.toml was first written: the checkpoint names the run.
        assert_eq!(action(partial(3, Found::Missing), 10), Action::Resume { from: 3, extend: false });
    }

    #[test]
    fn raised_targets_extend_finished_runs_and_lowered_ones_restart_them() {
        let found = decide(ended(RunStatus::Done, 10), KEY, 20);
        assert_eq!(found.action, Action::Resume { from: 10, extend: true });
        // The row at θ^10 is recomputed when training goes on from there.
        assert_eq!(found.state.unwrap().curve.len(), 10);
        assert_eq!(
            action(ended(RunStatus::Done, 10), 5),
            restart("it has 10 iterations, more than the 5 asked for")
        );
        assert_eq!(
            action(ended(RunStatus::Diverged, 8), 5),
            restart("it has 8 iterations, more than the 5 asked for")
        );
    }

    #[test]
    fn damaged_or_foreign_folders_restart_saying_why() {
        let foreign =
            OnDisk { meta: Found::Read(meta("other", RunStatus::Done, 10)), ..ended(RunStatus::Done, 10) };
        assert_eq!(action(foreign, 10), restart("run.toml names another run"));
        let bad_meta = OnDisk { meta: Found::Damaged("run.toml: bad".into()), ..ended(RunStatus::Done, 10) };
        assert_eq!(action(bad_meta, 10), restart("run.toml: bad"));
        let no_checkpoint = OnDisk { checkpoint: Found::Missing, ..ended(RunStatus::Done, 10) };
        assert_eq!(action(no_checkpoint, 10), restart("checkpoint.npz is missing"));
        let bad_checkpoint =
            OnDisk { checkpoint: Found::Damaged("torn".into()), ..ended(RunStatus::Done, 10) };
        assert_eq!(action(bad_checkpoint, 10), restart("torn"));
        let no_curve = OnDisk { curve: Found::Missing, ..ended(RunStatus::Done, 10) };
        assert_eq!(action(no_curve, 10), restart("curve.csv is missing"));
        let short_curve =
            OnDisk { curve: Found::Read((0..5).map(row).collect()), ..ended(RunStatus::Done, 10) };
        assert_eq!(action(short_curve, 10), restart("curve.csv disagrees with checkpoint.npz"));
        // A finished run.toml beside a checkpoint that moved on.
        let moved_on = OnDisk { checkpoint: Found::Read(state(12, false)), ..ended(RunStatus::Done, 10) };
        assert_eq!(action(moved_on, 20), restart("curve.csv disagrees with checkpoint.npz"));
        let no_final = OnDisk { has_final: false, ..ended(RunStatus::Done, 10) };
        assert_eq!(action(no_final, 10), restart("final.npz is missing"));
    }

    #[test]
    fn plan_words_and_work_left() {
        let cases = [
            (Action::New, "new", 10),
            (Action::Resume { from: 4, extend: false }, "partial (at iteration 4)", 6),
            (Action::Resume { from: 4, extend: true }, "extend (done at 4)", 6),
            (Action::Finished { status: RunStatus::Diverged, iterations: 3 }, "diverged (3 iterations)", 0),
            (restart("why"), "restart (why)", 10),
        ];
        for (action, words, left) in cases {
            assert_eq!((action.describe(), action.work_left(10)), (words.to_string(), left));
        }
    }
}
