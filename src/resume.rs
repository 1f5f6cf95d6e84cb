//! Resuming: what each run of a sweep needs, judged from its folder on disk — start, continue
//! from a checkpoint, skip as finished, or restart because its files are damaged — and the
//! results-directory lock that keeps two `heavyball run`s apart.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::model::{Real, Shape};
use crate::store::{self, RunId, RunMeta, run_file};
use crate::train::State;

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
        /// The run's status word: `done` or `diverged`.
        status: String,
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
            Action::Finished { status, iterations } => format!("{status} ({iterations} iterations)"),
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

/// Judges a run folder against the run's key, its network shape and the target iterations.
pub fn inspect<T: Real>(run_dir: &Path, id: &RunId, shape: Shape, target: usize) -> Inspection<T> {
    if !run_dir.exists() {
        return Inspection::action(Action::New);
    }
    let checkpoint = run_dir.join(run_file::CHECKPOINT);
    let meta_path = run_dir.join(run_file::META);
    let (status, wall_seconds) = match RunMeta::read(&meta_path) {
        Ok(meta) if meta.key != id.key => {
            return Inspection::action(Action::Restart("run.toml names another run".into()));
        }
        Ok(meta) => (meta.status, meta.wall_seconds),
        // The folder was made but the run never got going (or its metadata is torn).
        Err(_) if !checkpoint.exists() => return Inspection::action(Action::New),
        // run.toml is written when a run ends or stops: until then the checkpoint, which names
        // its run, says how far it got.
        Err(_) if !meta_path.exists() => ("running".to_string(), 0.0),
        Err(e) => return Inspection::action(Action::Restart(format!("{e:#}"))),
    };
    if !checkpoint.exists() {
        return if status == "running" {
            Inspection::action(Action::New)
        } else {
            Inspection::action(Action::Restart("checkpoint.npz is missing".into()))
        };
    }
    let mut state: State<T> = match store::read_checkpoint(&checkpoint, &id.key, shape) {
        Ok(state) => state,
        Err(e) => return Inspection::action(Action::Restart(format!("{e:#}"))),
    };
    let finished_state = state.curve.len() == state.iteration + 1;
    if status != "running" {
        match store::read_curve(&run_dir.join(run_file::CURVE)) {
            Ok(curve) if store::same_curve(&curve, &state.curve) && finished_state => {}
            Ok(_) => {
                return Inspection::action(Action::Restart("curve.csv disagrees with checkpoint.npz".into()));
            }
            Err(e) => return Inspection::action(Action::Restart(format!("{e:#}"))),
        }
        if !run_dir.join(run_file::FINAL).exists() {
            return Inspection::action(Action::Restart("final.npz is missing".into()));
        }
    }
    let diverged = status == "diverged";
    if diverged && state.iteration <= target {
        let action = Action::Finished { status, iterations: state.iteration };
        return Inspection { action, state: None, wall_seconds };
    }
    if state.iteration > target {
        return Inspection::action(Action::Restart(format!(
            "it has {} iterations, more than the {target} asked for",
            state.iteration
        )));
    }
    if status == "done" && state.iteration == target {
        let action = Action::Finished { status, iterations: state.iteration };
        return Inspection { action, state: None, wall_seconds };
    }
    // A trailing row at θ^k is recomputed when training continues from k.
    if finished_state {
        state.curve.pop();
    }
    let action = Action::Resume { from: state.iteration, extend: status == "done" };
    Inspection { action, state: Some(state), wall_seconds }
}

/// Run folders under `runs/` that belong to none of `ids`: runs of an earlier config, left
/// untouched and never mixed into the summaries.
pub fn stale_runs(runs_dir: &Path, ids: &[RunId]) -> Result<Vec<PathBuf>> {
    let current: std::collections::HashSet<String> = ids.iter().map(RunId::dir_name).collect();
    let mut stale = Vec::new();
    let entries = match std::fs::read_dir(runs_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(stale),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", runs_dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", runs_dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !current.contains(&name) {
            stale.push(entry.path());
        }
    }
    stale.sort();
    Ok(stale)
}

/// Removes temporary files that a killed process left behind (`.tmp-*`, never renamed into
/// place) from the sweep folder and its run folders. Call it only while holding the lock.
pub fn remove_temporaries(sweep_dir: &Path) -> Result<usize> {
    let mut dirs = vec![sweep_dir.to_path_buf()];
    if let Ok(runs) = std::fs::read_dir(sweep_dir.join("runs")) {
        dirs.extend(runs.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    remove_temporaries_in(&dirs)
}

/// Removes `.tmp-*` files directly inside each of `dirs`; returns how many.
pub fn remove_temporaries_in(dirs: &[PathBuf]) -> Result<usize> {
    let mut removed = 0;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                std::fs::remove_file(entry.path())
                    .with_context(|| format!("cannot remove {}", entry.path().display()))?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// A lock on a sweep folder, held until dropped or the process ends (an advisory `flock`, so a
/// lock left by a dead process is no obstacle). A plain `heavyball run` holds it exclusively and
/// writes its pid into the lock file for the message others get; the tasks of a sharded sweep
/// hold it shared, so they run side by side but never beside a plain run.
pub struct SweepLock {
    _file: File,
}

impl SweepLock {
    /// Takes the lock on `sweep_dir/.lock` (shared or exclusive), or fails naming the holder.
    pub fn acquire(sweep_dir: &Path, shared: bool) -> Result<SweepLock> {
        let path = sweep_dir.join(".lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        let attempt = if shared { file.try_lock_shared() } else { file.try_lock() };
        match attempt {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if !holder.is_empty() {
                    format!("pid {holder}")
                } else if shared {
                    "another process".to_string()
                } else {
                    "the tasks of a sharded run".to_string()
                };
                bail!(
                    "{} is in use by another heavyball run ({who}); wait for it to finish or stop it first",
                    sweep_dir.display()
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| if shared { Ok(()) } else { writeln!(file, "{}", std::process::id()) })
            .with_context(|| format!("cannot write lock file {}", path.display()))?;
        Ok(SweepLock { _file: file })
    }
}

/// The lock file of one run: `sweep/.locks/<run folder name>`.
fn run_lock_path(sweep_dir: &Path, run: &str) -> PathBuf {
    sweep_dir.join(".locks").join(run)
}

/// Opens (creating it and its folder if needed) a lock file under `.locks/`.
fn open_lock_file(path: &Path) -> Result<File> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open lock file {}", path.display()))
}

/// An exclusive lock on one run, held while it trains, so that two processes handed the same
/// run (two tasks given one shard by mistake, say) never write its files at once.
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the run's lock, or returns `None` when another process holds it. A holder that
    /// lets go within half a second (`heavyball plan` probing the lock) is waited for.
    pub fn try_acquire(sweep_dir: &Path, run: &str) -> Result<Option<RunLock>> {
        let path = run_lock_path(sweep_dir, run);
        let file = open_lock_file(&path)?;
        for attempt in 0..5 {
            match file.try_lock() {
                Ok(()) => return Ok(Some(RunLock { _file: file })),
                Err(TryLockError::WouldBlock) if attempt < 4 => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock {}", path.display()));
                }
            }
        }
        Ok(None)
    }
}

/// True when some process is training this run right now (holds its lock). The probe takes
/// the lock for an instant; [`RunLock::try_acquire`] waits out such probes.
pub fn run_is_busy(sweep_dir: &Path, run: &str) -> bool {
    let Ok(file) = File::open(run_lock_path(sweep_dir, run)) else { return false };
    matches!(file.try_lock(), Err(TryLockError::WouldBlock))
}

/// Serialises the rebuilding of a sweep's summaries between processes (a blocking lock on
/// `sweep/.locks/summary`): whoever rebuilds last sees every run finished before it started.
pub fn lock_summaries(sweep_dir: &Path) -> Result<File> {
    let path = run_lock_path(sweep_dir, "summary");
    let file = open_lock_file(&path)?;
    file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}
