//! The locks that keep processes apart: one on the sweep folder (a plain `heavyball run` holds
//! it alone, the tasks of a sharded run share it), one per run while it trains, and one around
//! the rebuilding of the summaries. All are advisory `flock`s, so a lock left by a dead process
//! is no obstacle.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use anyhow::{Context, Result};

use super::{RunId, SweepDir};

/// A lock on a sweep folder, held until dropped or the process ends (an advisory `flock`, so a
/// lock left by a dead process is no obstacle). A plain `heavyball run` holds it exclusively and
/// writes its pid into the lock file for the message others get; the tasks of a sharded sweep
/// and `heavyball hessian` hold it shared, so they run side by side but never beside a plain
/// run.
pub struct SweepLock {
    _file: File,
}

/// A sweep's lock is held by another process where this one needs it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InUse(String);

impl SweepLock {
    /// Takes the lock on the sweep's `.lock` (shared or exclusive), or fails naming the holder.
    pub fn acquire(dir: &SweepDir, shared: bool) -> Result<SweepLock> {
        let path = dir.lock();
        let mut file = open_no_follow(&path, true)?;
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
                } else if super::study::StudyDir::at(dir.root()).exists() {
                    // A study's own lock: only its shards share it.
                    "the tasks of a sharded run".to_string()
                } else {
                    "the tasks of a sharded run, or heavyball hessian".to_string()
                };
                return Err(InUse(format!(
                    "{} is in use by another heavyball process ({who}); wait for it to finish or stop it first",
                    dir.root().display()
                ))
                .into());
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

/// Opens (creating it and its folder if needed) a lock file under `.locks/`.
fn open_lock_file(path: &Path) -> Result<File> {
    // `.locks/` of a sweep's folder: never a link to a folder elsewhere.
    if let Some(locks) = path.parent() {
        super::create_within(locks.parent().unwrap_or(locks), locks)?;
    }
    open_no_follow(path, false)
}

/// Opens or creates a lock file, refusing a symbolic link or anything else that is not a
/// regular file: a lock is written to, and must never write through to a file elsewhere.
fn open_no_follow(path: &Path, read: bool) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let refuse = || anyhow::anyhow!("{} is not a regular file; remove it and try again", path.display());
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && !meta.file_type().is_file()
    {
        return Err(refuse());
    }
    let file = OpenOptions::new()
        .read(read)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => refuse(),
            _ => anyhow::Error::new(e).context(format!("cannot open lock file {}", path.display())),
        })?;
    if !file.metadata().map(|m| m.file_type().is_file()).unwrap_or(false) {
        return Err(refuse());
    }
    Ok(file)
}

/// An exclusive lock on one run, held while it trains, so that two processes handed the same
/// run (two tasks given one shard by mistake, say) never write its files at once.
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the run's lock, or returns `None` when another process holds it. A holder that
    /// lets go within half a second (`heavyball plan` probing the lock) is waited for.
    pub fn try_acquire(dir: &SweepDir, id: &RunId) -> Result<Option<RunLock>> {
        let path = dir.run_lock(id);
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
///
/// Anything but a regular file there (a link, a FIFO) holds no lock of heavyball's and is never
/// opened in a way that could block or read elsewhere; whoever takes the lock refuses it.
pub fn run_is_busy(dir: &SweepDir, id: &RunId) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(dir.run_lock(id));
    let Ok(file) = opened else { return false };
    if !file.metadata().is_ok_and(|m| m.file_type().is_file()) {
        return false;
    }
    matches!(file.try_lock(), Err(TryLockError::WouldBlock))
}

/// Serialises the rebuilding of a sweep's summaries between processes (a blocking lock on
/// `.locks/summary`): whoever rebuilds last sees every run finished before it started.
pub fn lock_summaries(dir: &SweepDir) -> Result<File> {
    let path = dir.summary_lock();
    let file = open_lock_file(&path)?;
    file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}
