//! Resuming: what each run of a sweep needs, judged from its folder on disk: start, continue
//! from a checkpoint, skip as finished, or restart because its files are damaged.
//!
//! Judging is two steps: [`OnDisk::read`] gathers what the folder holds, and [`decide`] turns
//! that into an [`Action`] with no I/O, so that the decision table is tested on its own.

use heavyball_core::Real;
use heavyball_core::model::Shape;

use crate::store::files::{read_checkpoint, read_curve, read_params, same_curve};
use crate::store::summary::{status_disagrees, whole_curve};
use crate::store::{RunDir, RunFile, RunId, RunMeta, RunStatus};
use crate::train::{CurveRow, State};

/// What a run needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// No files yet: train from the initial parameters.
    New,
    /// Continue from a checkpoint at this iteration: an interrupted run, or a finished run whose
    /// `iterations` were raised (and which may have been interrupted while being extended).
    Resume {
        /// The checkpoint's iteration.
        from: usize,
        /// For an extension: the iterations the run had finished with.
        done_at: Option<usize>,
    },
    /// Finished with this number of steps, at the current target (or diverged before it).
    Finished {
        /// `done` or `diverged`.
        status: RunStatus,
        /// Steps taken.
        iterations: usize,
        /// Why some of `init.npz`, `curve.csv` and `final.npz` must be written again from the
        /// checkpoint and the seed; `None` when every file is sound.
        repair: Option<String>,
    },
    /// Its files cannot be trusted or reused: start over, saying why.
    Restart(String),
}

impl Action {
    /// A short description for `heavyball plan`.
    pub fn describe(&self) -> String {
        match self {
            Action::New => "new".into(),
            Action::Resume { from, done_at: None } => format!("partial (at iteration {from})"),
            Action::Resume { from, done_at: Some(done) } if from == done => {
                format!("extend (done at {done})")
            }
            Action::Resume { from, done_at: Some(done) } => {
                format!("extend (done at {done}, now at iteration {from})")
            }
            Action::Finished { status, iterations, repair: None } => {
                format!("{} ({iterations} iterations)", status.name())
            }
            Action::Finished { status, iterations, repair: Some(why) } => {
                format!("{} ({iterations} iterations), to repair: {why}", status.name())
            }
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
    /// For `Resume`, and for `Finished` with a repair when the checkpoint is sound: θ, φ, the
    /// iteration and the curve rows (before the iteration, for `Resume`).
    pub state: Option<State<T>>,
    /// For `Resume`: `init.npz` is missing or damaged and is written with the next checkpoint.
    pub rewrite_init: bool,
    /// Seconds spent on the run by earlier sessions.
    pub wall_seconds: f64,
}

impl<T> Inspection<T> {
    fn action(action: Action) -> Self {
        Inspection { action, state: None, rewrite_init: false, wall_seconds: 0.0 }
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
            Err(e) => Found::Damaged(crate::errors::one_line(&e)),
        }
    }

    /// Why the file cannot be used, or `None` when it was read.
    fn problem(&self, name: &str) -> Option<String> {
        match self {
            Found::Read(_) => None,
            Found::Missing => Some(format!("{name} is missing")),
            Found::Damaged(why) => Some(why.clone()),
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
    /// `init.npz`, checked against the run's shape (its values are not kept).
    pub init: Found<()>,
    /// `final.npz`, checked against the run's shape (its values are not kept).
    pub last: Found<()>,
}

impl<T: Real> OnDisk<T> {
    /// Reads the folder of run `id`, a network of `shape`.
    pub fn read(run: &RunDir, id: &RunId, shape: Shape) -> Self {
        let exists = |f| run.file(f).exists();
        let params = |f| Found::from_read(exists(f), || read_params::<T>(&run.file(f), shape).map(|_| ()));
        OnDisk {
            folder: run.path().exists(),
            meta: Found::from_read(exists(RunFile::Meta), || {
                let meta = RunMeta::read(&run.file(RunFile::Meta))?;
                // Its own key with another run's settings: hand-edited, so not to be trusted.
                if meta.key == id.key && !meta.is_of(id) {
                    anyhow::bail!(
                        "{} holds settings that are not its run's",
                        run.file(RunFile::Meta).display()
                    );
                }
                Ok(meta)
            }),
            checkpoint: Found::from_read(exists(RunFile::Checkpoint), || {
                read_checkpoint(&run.file(RunFile::Checkpoint), &id.key, shape)
            }),
            curve: Found::from_read(exists(RunFile::Curve), || read_curve(&run.file(RunFile::Curve))),
            init: params(RunFile::Init),
            last: params(RunFile::Final),
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
/// run, says how far it got. The checkpoint is the run's record: it holds θ, φ and the curve,
/// so a finished run whose other files are missing or damaged is repaired from it (and the
/// seed), and a checkpoint beyond the iterations a finished `run.toml` names is an extension
/// in progress, continued from there. Without a sound checkpoint, a finished run whose curve
/// and parameters are sound stays finished; only extending it needs a restart.
pub fn decide<T>(found: OnDisk<T>, key: &str, target: usize) -> Inspection<T> {
    if !found.folder {
        return Inspection::action(Action::New);
    }
    let has_checkpoint = !matches!(found.checkpoint, Found::Missing);
    let (status, done_at, wall_seconds) = match found.meta {
        Found::Read(meta) if meta.key != key => {
            return Inspection::action(Action::Restart("run.toml names another run".into()));
        }
        Found::Read(meta) => (meta.status, meta.iterations, meta.wall_seconds),
        // The folder was made but the run never got going (or its metadata is garbage).
        _ if !has_checkpoint => return Inspection::action(Action::New),
        // Without a readable run.toml the checkpoint, which names its run, says how far it got;
        // continuing from it recomputes the last row and so the run's status.
        Found::Missing | Found::Damaged(_) => (RunStatus::Running, 0, 0.0),
    };
    let rewrite_init = found.init.problem("init.npz").is_some();
    if !status.is_final() {
        let state = match found.checkpoint {
            Found::Missing => return Inspection::action(Action::New),
            Found::Damaged(why) => return Inspection::action(Action::Restart(why)),
            Found::Read(state) => state,
        };
        return resume(state, None, target, rewrite_init, wall_seconds);
    }

    // A finished run.
    let state = match found.checkpoint {
        Found::Read(state) => state,
        checkpoint => {
            let why = checkpoint.problem("checkpoint.npz").unwrap_or_default();
            let sound = matches!(&found.curve, Found::Read(c) if whole_curve(c, done_at))
                && found.init.problem("").is_none()
                && found.last.problem("").is_none();
            return match sound {
                true if done_at == target || (status == RunStatus::Diverged && done_at <= target) => {
                    let action = Action::Finished { status, iterations: done_at, repair: None };
                    Inspection { wall_seconds, ..Inspection::action(action) }
                }
                true if done_at < target => {
                    Inspection::action(Action::Restart(format!("{why}, and extending the run needs it")))
                }
                _ if done_at > target => Inspection::action(Action::Restart(more_than(done_at, target))),
                _ => Inspection::action(Action::Restart(why)),
            };
        }
    };
    let ended = state.curve.len() == state.iteration + 1;
    if state.iteration > done_at {
        // Interrupted while being extended: run.toml still names the earlier end.
        return resume(state, Some(done_at), target, rewrite_init, wall_seconds);
    }
    if state.iteration != done_at || !ended {
        return Inspection::action(Action::Restart("checkpoint.npz disagrees with run.toml".into()));
    }
    if let Some(why) = status_disagrees(status, &state.curve) {
        return Inspection::action(Action::Restart(why));
    }
    if state.iteration > target {
        return Inspection::action(Action::Restart(more_than(state.iteration, target)));
    }
    let curve = match &found.curve {
        Found::Read(curve) if !same_curve(curve, &state.curve) => {
            Some("curve.csv disagrees with checkpoint.npz".to_string())
        }
        curve => curve.problem("curve.csv"),
    };
    let problems: Vec<String> = [found.init.problem("init.npz"), curve, found.last.problem("final.npz")]
        .into_iter()
        .flatten()
        .collect();
    if status == RunStatus::Diverged || state.iteration == target {
        let repair = (!problems.is_empty()).then(|| problems.join("; "));
        let keep = repair.is_some().then_some(state);
        let action = Action::Finished { status, iterations: done_at, repair };
        return Inspection { action, state: keep, rewrite_init: false, wall_seconds };
    }
    // Done below the target: extend. Its curve and final.npz are rewritten when it ends.
    resume(state, Some(done_at), target, rewrite_init, wall_seconds)
}

fn more_than(iterations: usize, target: usize) -> String {
    format!("it has {iterations} iterations, more than the {target} asked for")
}

/// Continue `state` towards `target`.
fn resume<T>(
    mut state: State<T>,
    done_at: Option<usize>,
    target: usize,
    rewrite_init: bool,
    wall_seconds: f64,
) -> Inspection<T> {
    if state.iteration > target {
        return Inspection::action(Action::Restart(more_than(state.iteration, target)));
    }
    // A trailing row at θ^k is recomputed when training continues from k.
    if state.curve.len() == state.iteration + 1 {
        state.curve.pop();
    }
    let action = Action::Resume { from: state.iteration, done_at };
    Inspection { action, state: Some(state), rewrite_init, wall_seconds }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heavyball_core::model::Params;

    const KEY: &str = "k";
    const SHAPE: Shape = Shape { n_features: 1, n_hidden: 1, n_classes: 2 };

    fn row(iteration: usize) -> CurveRow {
        let loss = 1.0 / (iteration + 1) as f64;
        CurveRow {
            iteration,
            train_loss: loss,
            train_accuracy: 0.5,
            test_loss: None,
            test_accuracy: None,
            sharpness: None,
        }
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

    /// A run that ended at `k` with `status`, with every file in place (a diverged one's last
    /// loss not finite, as training records it).
    fn ended(status: RunStatus, k: usize) -> OnDisk<f64> {
        let mut checkpoint = state(k, true);
        if status == RunStatus::Diverged {
            checkpoint.curve[k].train_loss = f64::NAN;
        }
        OnDisk {
            folder: true,
            meta: Found::Read(meta(KEY, status, k)),
            curve: Found::Read(checkpoint.curve.clone()),
            checkpoint: Found::Read(checkpoint),
            init: Found::Read(()),
            last: Found::Read(()),
        }
    }

    /// A run stopped or killed at `k`: a checkpoint, and `run.toml` as given.
    fn partial(k: usize, meta: Found<RunMeta>) -> OnDisk<f64> {
        OnDisk {
            folder: true,
            meta,
            checkpoint: Found::Read(state(k, false)),
            curve: Found::Missing,
            init: Found::Read(()),
            last: Found::Missing,
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
            init: Found::Missing,
            last: Found::Missing,
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
        assert_eq!(found.action, Action::Finished { status: RunStatus::Done, iterations: 10, repair: None });
        assert!(found.state.is_none());
        assert_eq!(found.wall_seconds, 2.5);
        // A diverged run is finished at any target it did not pass.
        let diverged = Action::Finished { status: RunStatus::Diverged, iterations: 4, repair: None };
        assert_eq!(action(ended(RunStatus::Diverged, 4), 10), diverged);
        assert_eq!(action(ended(RunStatus::Diverged, 4), 4), diverged);
    }

    #[test]
    fn interrupted_runs_resume_from_their_checkpoint() {
        let found = decide(partial(6, Found::Read(meta(KEY, RunStatus::Running, 6))), KEY, 10);
        assert_eq!(found.action, Action::Resume { from: 6, done_at: None });
        let state = found.state.unwrap();
        assert_eq!((state.iteration, state.curve.len()), (6, 6));
        // Killed before its run.toml was first written: the checkpoint names the run.
        assert_eq!(action(partial(3, Found::Missing), 10), Action::Resume { from: 3, done_at: None });
    }

    #[test]
    fn raised_targets_extend_finished_runs_and_lowered_ones_restart_them() {
        let found = decide(ended(RunStatus::Done, 10), KEY, 20);
        assert_eq!(found.action, Action::Resume { from: 10, done_at: Some(10) });
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
        // A garbage run.toml beside a sound checkpoint: continue from the checkpoint, which
        // recomputes the last row and so the status.
        let bad_meta = OnDisk { meta: Found::Damaged("run.toml: bad".into()), ..ended(RunStatus::Done, 10) };
        assert_eq!(action(bad_meta, 10), Action::Resume { from: 10, done_at: None });
        let running = || Found::Read(meta(KEY, RunStatus::Running, 6));
        assert_eq!(
            action(OnDisk { checkpoint: Found::Damaged("torn".into()), ..partial(6, running()) }, 10),
            restart("torn")
        );
        // A checkpoint behind the end that run.toml names.
        let behind = OnDisk { checkpoint: Found::Read(state(8, true)), ..ended(RunStatus::Done, 10) };
        assert_eq!(action(behind, 10), restart("checkpoint.npz disagrees with run.toml"));
    }

    #[test]
    fn a_finished_run_with_damaged_files_is_repaired_from_its_checkpoint() {
        let repair = |found: OnDisk<f64>, why: &str| {
            let found = decide(found, KEY, 10);
            let expected =
                Action::Finished { status: RunStatus::Done, iterations: 10, repair: Some(why.into()) };
            assert_eq!(found.action, expected);
            assert_eq!(found.state.expect("the checkpoint to repair from").curve.len(), 11);
        };
        repair(OnDisk { init: Found::Missing, ..ended(RunStatus::Done, 10) }, "init.npz is missing");
        repair(
            OnDisk { init: Found::Damaged("init.npz: torn".into()), ..ended(RunStatus::Done, 10) },
            "init.npz: torn",
        );
        repair(OnDisk { curve: Found::Missing, ..ended(RunStatus::Done, 10) }, "curve.csv is missing");
        let short = OnDisk { curve: Found::Read((0..5).map(row).collect()), ..ended(RunStatus::Done, 10) };
        repair(short, "curve.csv disagrees with checkpoint.npz");
        let all = OnDisk {
            init: Found::Missing,
            curve: Found::Missing,
            last: Found::Missing,
            ..ended(RunStatus::Done, 10)
        };
        repair(all, "init.npz is missing; curve.csv is missing; final.npz is missing");
        // Extending a run with a damaged init.npz writes it again with the next checkpoint.
        let found = decide(OnDisk { init: Found::Missing, ..ended(RunStatus::Done, 10) }, KEY, 20);
        assert_eq!(found.action, Action::Resume { from: 10, done_at: Some(10) });
        assert!(found.rewrite_init);
    }

    #[test]
    fn a_finished_run_without_a_sound_checkpoint_keeps_its_results() {
        for checkpoint in [Found::Missing, Found::Damaged("checkpoint.npz: torn".into())] {
            let found = || OnDisk { checkpoint: checkpoint.clone(), ..ended(RunStatus::Done, 10) };
            let done = Action::Finished { status: RunStatus::Done, iterations: 10, repair: None };
            assert_eq!(action(found(), 10), done);
            let why = checkpoint.problem("checkpoint.npz").unwrap();
            assert_eq!(action(found(), 20), restart(&format!("{why}, and extending the run needs it")));
            // With its curve or parameters damaged too, nothing is left to trust.
            assert_eq!(action(OnDisk { last: Found::Missing, ..found() }, 10), restart(&why));
            let short = OnDisk { curve: Found::Read((0..5).map(row).collect()), ..found() };
            assert_eq!(action(short, 10), restart(&why));
        }
    }

    #[test]
    fn an_extension_interrupted_at_any_point_resumes_from_its_checkpoint() {
        // Killed after a checkpoint of the extension: run.toml still says done at 10, curve.csv
        // and final.npz are those of iteration 10.
        let found = decide(
            OnDisk { checkpoint: Found::Read(state(12, false)), ..ended(RunStatus::Done, 10) },
            KEY,
            20,
        );
        assert_eq!(found.action, Action::Resume { from: 12, done_at: Some(10) });
        assert_eq!(found.state.unwrap().curve.len(), 12);
        // Killed after the extension's last files were written but before run.toml.
        let found = decide(
            OnDisk { checkpoint: Found::Read(state(20, true)), ..ended(RunStatus::Done, 10) },
            KEY,
            20,
        );
        assert_eq!(found.action, Action::Resume { from: 20, done_at: Some(10) });
        assert_eq!(found.action.work_left(20), 0);
        // The target lowered again below the checkpoint: too many iterations.
        let over = OnDisk { checkpoint: Found::Read(state(15, false)), ..ended(RunStatus::Done, 10) };
        assert_eq!(action(over, 12), restart("it has 15 iterations, more than the 12 asked for"));
    }

    #[test]
    fn plan_words_and_work_left() {
        let cases = [
            (Action::New, "new", 10),
            (Action::Resume { from: 4, done_at: None }, "partial (at iteration 4)", 6),
            (Action::Resume { from: 4, done_at: Some(4) }, "extend (done at 4)", 6),
            (Action::Resume { from: 7, done_at: Some(4) }, "extend (done at 4, now at iteration 7)", 3),
            (
                Action::Finished { status: RunStatus::Diverged, iterations: 3, repair: None },
                "diverged (3 iterations)",
                0,
            ),
            (
                Action::Finished {
                    status: RunStatus::Done,
                    iterations: 10,
                    repair: Some("init.npz is missing".into()),
                },
                "done (10 iterations), to repair: init.npz is missing",
                0,
            ),
            (restart("why"), "restart (why)", 10),
        ];
        for (action, words, left) in cases {
            assert_eq!((action.describe(), action.work_left(10)), (words.to_string(), left));
        }
    }
}
