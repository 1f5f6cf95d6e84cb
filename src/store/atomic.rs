//! Atomic writes: every file of a results folder is written to a temporary name beside its
//! final one, fsynced, and renamed over it, so a crash leaves the old version or the new one,
//! never a torn file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};

/// The prefix of temporary files; a killed process may leave some, which
/// [`super::SweepDir::remove_temporaries`] clears.
pub(crate) const TEMPORARY_PREFIX: &str = ".tmp-";

/// A new temporary file in `dir`, created with the permissions an ordinary file gets (0666 less
/// the umask) rather than tempfile's private 0600, since it becomes a result file.
fn temporary_in(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(TEMPORARY_PREFIX)
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
}

/// The folder a path lies in (`.` for a bare name).
fn folder_of(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Writes a file atomically: `fill` writes into a temporary file beside `path`, which is
/// flushed, fsynced and renamed over `path`; the folder is fsynced after the rename.
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    let dir = folder_of(path);
    let attempt = || -> io::Result<()> {
        let tmp = temporary_in(dir)?;
        let mut out = BufWriter::new(Budgeted(tmp));
        fill(&mut out)?;
        let Budgeted(tmp) = out.into_inner().map_err(|e| e.into_error())?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        renamed();
        // Make the rename itself durable.
        File::open(dir)?.sync_all()
    };
    attempt().with_context(|| format!("cannot write {}", path.display()))
}

/// Writes several files of one folder atomically, as [`write_atomic`] does each, but with one
/// fsync of the folder for all of them: every file is written to a temporary name and fsynced,
/// then all are renamed in the order given, then the folder is fsynced. A crash leaves each file
/// old or new, never torn; files later in the list are never newer than earlier ones.
pub fn write_atomic_group(dir: &Path, files: &[(&str, &[u8])]) -> Result<()> {
    let mut staged = Vec::with_capacity(files.len());
    for &(name, bytes) in files {
        let path = dir.join(name);
        let attempt = || -> io::Result<tempfile::NamedTempFile> {
            let mut tmp = temporary_in(dir)?;
            charge(bytes.len())?;
            // Through the plain file: tempfile's own writes add the temporary name to errors,
            // and messages name the result file.
            tmp.as_file_mut().write_all(bytes)?;
            tmp.as_file().sync_all()?;
            Ok(tmp)
        };
        staged.push((attempt().with_context(|| format!("cannot write {}", path.display()))?, path));
    }
    for (tmp, path) in staged {
        tmp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", path.display()))?;
        renamed();
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync the folder {}", dir.display()))
}

/// The environment variable of the crash test hook: with `HEAVYBALL_TEST_CRASH_AFTER_RENAMES=n`
/// the process aborts right after its n-th file lands.
pub const CRASH_AFTER_RENAMES: &str = "HEAVYBALL_TEST_CRASH_AFTER_RENAMES";

/// Counts a file renamed into place. For tests: when the environment sets
/// `HEAVYBALL_TEST_CRASH_AFTER_RENAMES=n`, the process aborts right after its n-th rename, with
/// no cleanup, as a power cut or `kill -9` would stop it there. That puts a crash at every
/// boundary between the writes of a sweep, whatever the machine's speed.
fn renamed() {
    static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let limit = *LIMIT.get_or_init(|| std::env::var(CRASH_AFTER_RENAMES).ok().and_then(|v| v.parse().ok()));
    if let Some(limit) = limit
        && COUNT.fetch_add(1, Ordering::SeqCst) + 1 >= limit
    {
        std::process::abort();
    }
}

/// The environment variable of the disk-full test hook: with `HEAVYBALL_TEST_DISK_BYTES=n`,
/// writes into result files fail with "No space left on device" once n bytes have been written
/// in all, as they would on a full disk.
pub const DISK_BYTES: &str = "HEAVYBALL_TEST_DISK_BYTES";

/// Counts `bytes` about to be written into a result file. For tests: when the environment sets
/// `HEAVYBALL_TEST_DISK_BYTES=n`, fails with ENOSPC once the process has written n bytes, so a
/// test can fill the disk at every point of a sweep without a small file system of its own.
fn charge(bytes: usize) -> io::Result<()> {
    static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
    static WRITTEN: AtomicU64 = AtomicU64::new(0);
    let limit = *LIMIT.get_or_init(|| std::env::var(DISK_BYTES).ok().and_then(|v| v.parse().ok()));
    match limit {
        Some(limit) if WRITTEN.fetch_add(bytes as u64, Ordering::SeqCst) + bytes as u64 > limit => {
            Err(io::Error::from_raw_os_error(28)) // ENOSPC
        }
        _ => Ok(()),
    }
}

/// A temporary file whose writes are counted by [`charge`].
struct Budgeted(tempfile::NamedTempFile);

impl Write for Budgeted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        charge(buf.len())?;
        // Through the plain file: tempfile's own writes add the temporary name to errors.
        self.0.as_file_mut().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.as_file_mut().flush()
    }
}

/// Puts a folder written in full under a temporary name in place of `dest`, in one step: on
/// Linux the two are exchanged atomically (`renameat2` with `RENAME_EXCHANGE`), so a reader or
/// a crash sees the old folder or the new one, whole, never a mix; the old one is then removed.
/// Where the exchange is not supported, the old folder is moved aside first, leaving a moment
/// without `dest`, never a half-written one.
pub fn replace_folder(staged: tempfile::TempDir, dest: &Path) -> Result<()> {
    let context = || format!("cannot put {} in place", dest.display());
    let parent = folder_of(dest);
    let sync_parent = || File::open(parent).and_then(|d| d.sync_all()).with_context(context);
    match std::fs::symlink_metadata(dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let path = staged.keep();
            std::fs::rename(&path, dest).with_context(context)?;
            renamed();
            return sync_parent();
        }
        Err(e) => return Err(e).with_context(context),
        // A file of the user's where the folder goes is theirs to move: never swapped out of
        // sight. (A link is replaced, never followed.)
        Ok(meta) if !meta.is_dir() && !meta.file_type().is_symlink() => anyhow::bail!(
            "{} is a file, not a folder: move or remove it, and heavyball writes its folder there",
            dest.display()
        ),
        Ok(_) => {}
    }
    if exchange(staged.path(), dest).is_ok() {
        renamed();
        sync_parent()?;
        // `staged` now names the old folder: dropping it removes it.
        drop(staged);
        return Ok(());
    }
    // Renaming a folder over an empty one replaces it: move the old folder onto a fresh
    // empty name, then the new one into place.
    let old = tempfile::Builder::new().prefix(".report-old-").tempdir_in(parent).with_context(context)?;
    std::fs::rename(dest, old.path()).with_context(context)?;
    let path = staged.keep();
    std::fs::rename(&path, dest).with_context(context)?;
    renamed();
    sync_parent()?;
    drop(old);
    Ok(())
}

/// Swaps two paths atomically (`renameat2` with `RENAME_EXCHANGE`).
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
}
