//! The results folder, and the only code that knows its layout: every path is built here
//! ([`SweepDir`], [`RunDir`], [`ReportDir`], [`SlurmDir`]), every file format has one type or
//! pair of functions that writes and reads it, and every write is atomic ([`atomic`]).
//!
//! ```text
//! DIR/<sweep>/
//!   config.toml          the config the sweep last ran with
//!   sweep.toml           what the data and settings were (SweepMeta)
//!   summary.csv          one row per finished run of the current grid
//!   curves.csv           every curve in one long table
//!   hessian.csv          λ_max and λ_min at every finished run's init and final point
//!   runs/<run>-<key8>/   run.toml, curve.csv, init.npz, final.npz, checkpoint.npz,
//!                        hessian.toml (heavyball hessian's values for the run)
//!   report/              heavyball report's tables and plots
//!   slurm/               the job script heavyball slurm wrote, and logs/
//!   .lock, .locks/       the sweep's lock and the per-run locks
//! ```

pub mod atomic;
pub mod files;
#[cfg(test)]
pub mod fixtures;
pub mod hessian;
pub mod locks;
pub mod run_id;
pub mod schema;
pub mod study;
pub mod summary;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub use atomic::{replace_folder, write_atomic, write_atomic_group};
pub use locks::{InUse, RunLock, SweepLock, lock_summaries, run_is_busy};
pub use run_id::{FORMAT_VERSION, INIT_SCHEME, RunId};
pub use schema::{DataFacts, RunMeta, RunStatus, SweepMeta};
pub use summary::RunRecord;

/// The folder of one sweep, `DIR/<sweep name>`.
#[derive(Clone, Debug)]
pub struct SweepDir {
    root: PathBuf,
}

impl SweepDir {
    /// The folder of sweep `name` under the results directory `results`.
    pub fn new(results: &Path, name: &str) -> Self {
        SweepDir { root: results.join(name) }
    }

    /// An existing sweep folder, such as `results/quickstart`.
    pub fn at(root: &Path) -> Self {
        SweepDir { root: root.to_path_buf() }
    }

    /// `DIR/<sweep>`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `runs/`, which holds one folder per run.
    pub fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }

    /// The folder of one run.
    pub fn run(&self, id: &RunId) -> RunDir {
        RunDir { path: self.runs().join(id.dir_name()) }
    }

    /// `summary.csv`.
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.csv")
    }

    /// `curves.csv`.
    pub fn curves(&self) -> PathBuf {
        self.root.join("curves.csv")
    }

    /// `hessian.csv`: λ_max and λ_min at every finished run's init and final point.
    pub fn hessian(&self) -> PathBuf {
        self.root.join("hessian.csv")
    }

    /// `sweep.toml`.
    pub fn sweep_meta(&self) -> PathBuf {
        self.root.join("sweep.toml")
    }

    /// `config.toml`.
    pub fn config_copy(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// `report/`.
    pub fn report(&self) -> ReportDir {
        ReportDir { path: self.root.join("report") }
    }

    /// `slurm/`.
    pub fn slurm(&self) -> SlurmDir {
        SlurmDir { path: self.root.join("slurm") }
    }

    /// `.lock`, the sweep's lock file.
    pub fn lock(&self) -> PathBuf {
        self.root.join(".lock")
    }

    /// `.locks/<run>`, the lock file of one run.
    pub fn run_lock(&self, id: &RunId) -> PathBuf {
        self.root.join(".locks").join(id.dir_name())
    }

    /// `.locks/summary`, held while a process rebuilds the summaries.
    pub fn summary_lock(&self) -> PathBuf {
        self.root.join(".locks").join("summary")
    }

    /// Run folders under `runs/` that belong to none of `ids`: runs of an earlier config (or, in
    /// a tuned sweep, of a round not decided now), left untouched and never mixed into the
    /// summaries. Sorted by path.
    pub fn stale_runs(&self, ids: &[RunId]) -> Result<Vec<PathBuf>> {
        let runs = self.runs();
        let current: std::collections::HashSet<String> = ids.iter().map(RunId::dir_name).collect();
        let mut stale = Vec::new();
        let entries = match std::fs::read_dir(&runs) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(stale),
            Err(e) => return Err(e).with_context(|| format!("cannot list {}", runs.display())),
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", runs.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && !current.contains(&name) {
                stale.push(entry.path());
            }
        }
        stale.sort();
        Ok(stale)
    }

    /// Splits run folders outside the decided runs (from [`SweepDir::stale_runs`]) into those
    /// whose `run.toml` names a run this config would train, under the same key (a tuned
    /// sweep's runs of rounds not decided now: after `iterations` is raised, until the rounds
    /// before them are extended) and the stale rest, of earlier configs.
    pub fn split_undecided(
        outside: Vec<PathBuf>,
        train: &crate::config::TrainSpec,
        fingerprint: &str,
    ) -> (Vec<PathBuf>, Vec<PathBuf>) {
        outside.into_iter().partition(|path| {
            let Ok(meta) = RunMeta::read(&path.join(RunFile::Meta.name())) else { return false };
            let id = RunId::from_spec(&meta.spec(), train, fingerprint);
            path.file_name().is_some_and(|name| name.to_string_lossy() == id.dir_name())
        })
    }

    /// Removes temporary files that a killed process left behind (never renamed into place)
    /// from the sweep folder and its run folders; returns how many. Call it only while holding
    /// the sweep's lock exclusively.
    pub fn remove_temporaries(&self) -> Result<usize> {
        let mut dirs = vec![self.root.clone()];
        if let Ok(runs) = std::fs::read_dir(self.runs()) {
            dirs.extend(runs.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
        let mut removed = 0;
        for dir in &dirs {
            removed += remove_temporaries_in(dir)?;
        }
        Ok(removed)
    }
}

/// Creates the folder `path` and those between it and `root` (the sweep's folder), refusing a
/// symbolic link or a file at any of them: heavyball writes only inside the sweep's own
/// folders, never through a link to somewhere else.
pub fn create_within(root: &Path, path: &Path) -> Result<()> {
    let inside = path.strip_prefix(root).unwrap_or(path);
    let mut at = root.to_path_buf();
    for part in inside.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => anyhow::bail!(
                "{} is a symbolic link; heavyball writes only inside the sweep's own folders: replace it \
                 with a folder",
                at.display()
            ),
            Ok(meta) if !meta.is_dir() => {
                anyhow::bail!("{} is not a folder; move it away and try again", at.display())
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::create_dir_all(&at) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                    return Err(e).with_context(|| format!("cannot create {}", at.display()));
                }
                _ => {}
            },
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", at.display())),
        }
    }
    Ok(())
}

/// Opens a file of the results folder for reading, refusing anything but a regular file, and
/// without blocking: a FIFO put in its place would otherwise hang the reader (and, in `run`,
/// the handling of SIGTERM).
pub fn open_regular(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let meta = file.metadata().with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() {
        anyhow::bail!(
            "{} is not a regular file; heavyball reads only the files it wrote there",
            path.display()
        );
    }
    Ok(file)
}

/// Removes `.tmp-*` files directly inside `dir`; returns how many.
fn remove_temporaries_in(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(0) };
    for entry in entries.flatten() {
        // Only files (or links) heavyball could have left: a folder of that name is the user's.
        let is_folder = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_folder && entry.file_name().to_string_lossy().starts_with(atomic::TEMPORARY_PREFIX) {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The files of a run's folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunFile {
    /// `run.toml`: the run's identity and status ([`RunMeta`]).
    Meta,
    /// `curve.csv`: the loss curve.
    Curve,
    /// `init.npz`: the initial parameters.
    Init,
    /// `final.npz`: the parameters at the curve's last row.
    Final,
    /// `checkpoint.npz`: the latest training state (θ, φ, the iteration and the curve so far).
    Checkpoint,
    /// `hessian.toml`: the Hessian's extreme eigenvalues at the run's init and final points.
    Hessian,
}

impl RunFile {
    /// The file's name in the run's folder.
    pub fn name(self) -> &'static str {
        match self {
            RunFile::Meta => "run.toml",
            RunFile::Curve => "curve.csv",
            RunFile::Init => "init.npz",
            RunFile::Final => "final.npz",
            RunFile::Checkpoint => "checkpoint.npz",
            RunFile::Hessian => "hessian.toml",
        }
    }
}

/// The folder of one run, `runs/<run>-<key8>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One of its files.
    pub fn file(&self, file: RunFile) -> PathBuf {
        self.path.join(file.name())
    }

    /// Writes some of its files as one atomic group ([`write_atomic_group`]), in the order
    /// given.
    pub fn write_group(&self, files: &[(RunFile, &[u8])]) -> Result<()> {
        let named: Vec<(&str, &[u8])> = files.iter().map(|&(f, bytes)| (f.name(), bytes)).collect();
        write_atomic_group(&self.path, &named)
    }

    /// Removes the temporary files a killed process left in this folder; call it only while
    /// holding the run's lock.
    pub fn remove_temporaries(&self) -> Result<usize> {
        remove_temporaries_in(&self.path)
    }
}

/// `report/`, where `heavyball report` writes.
#[derive(Clone, Debug)]
pub struct ReportDir {
    path: PathBuf,
}

impl ReportDir {
    /// A report written at `path` (a staging folder, put in place of `report/` once whole).
    pub fn at(path: &Path) -> ReportDir {
        ReportDir { path: path.to_path_buf() }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `comparison.csv`: each method at its best setting, per M.
    pub fn comparison(&self) -> PathBuf {
        self.path.join("comparison.csv")
    }

    /// `paired.csv`: momentum against GD seed by seed.
    pub fn paired(&self) -> PathBuf {
        self.path.join("paired.csv")
    }

    /// `report.md`.
    pub fn markdown(&self) -> PathBuf {
        self.path.join("report.md")
    }

    /// `index.html`: the interactive page.
    pub fn page(&self) -> PathBuf {
        self.path.join("index.html")
    }

    /// A figure's file name, relative to the folder: `<stem>.<ext>`.
    pub fn figure_name(stem: &str, ext: &str) -> String {
        format!("{stem}.{ext}")
    }

    /// A figure's path: `<stem>.<ext>`.
    pub fn figure(&self, stem: &str, ext: &str) -> PathBuf {
        self.path.join(Self::figure_name(stem, ext))
    }
}

/// `slurm/`, where `heavyball slurm` writes its job script and the tasks their logs.
#[derive(Clone, Debug)]
pub struct SlurmDir {
    path: PathBuf,
}

impl SlurmDir {
    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<sweep>.sbatch`, the job script.
    pub fn script(&self, sweep: &str) -> PathBuf {
        self.path.join(format!("{sweep}.sbatch"))
    }

    /// `<sweep>-next.sbatch`, the dependent job that submits a tuned sweep's next round.
    pub fn next_script(&self, sweep: &str) -> PathBuf {
        self.path.join(format!("{sweep}-next.sbatch"))
    }

    /// `logs/`, the array tasks' output.
    pub fn logs(&self) -> PathBuf {
        self.path.join("logs")
    }
}
