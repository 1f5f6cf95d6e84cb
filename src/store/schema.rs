//! The two metadata files of a results folder, each one type that both writes and reads it:
//! `sweep.toml` ([`SweepMeta`], what the sweep was) and `runs/<run>/run.toml` ([`RunMeta`],
//! what one run is and how it ended, with its [`RunStatus`]).

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::run_id::FORMAT_VERSION;
use crate::config::{
    Config, ConfirmSpec, GridSpec, MAX_CONFIRM_SEEDS, MAX_ITERATIONS, MAX_LIST, MAX_ROUNDS, MAX_RUNS,
    Objective, Precision, Selection, SharpnessSpec, Source, TrainSpec, TuneSpec, optimisation_selection,
};

/// The largest `sweep.toml` or `run.toml` read: far beyond what heavyball writes.
const MAX_META_BYTES: u64 = 64 << 20;

/// Reads a metadata file of the results folder, refusing anything but a regular file of at
/// most [`MAX_META_BYTES`].
pub(crate) fn read_small(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = super::open_regular(path)?;
    let meta = file.metadata().with_context(|| format!("cannot read {}", path.display()))?;
    if meta.len() > MAX_META_BYTES {
        bail!("{} is not a heavyball metadata file (not a regular file of at most 64 MiB)", path.display());
    }
    let mut text = String::new();
    file.take(MAX_META_BYTES)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text)
}

/// Where a run stands, as `run.toml` records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Not finished: its checkpoint says how far it got.
    Running,
    /// Trained for all the iterations `run.toml` names.
    Done,
    /// Its loss became NaN, infinite, or larger than the divergence factor allows; training
    /// stopped at the curve's last row.
    Diverged,
}

impl RunStatus {
    /// The word used in files and tables: `running`, `done` or `diverged`.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Diverged => "diverged",
        }
    }

    /// True for `done` and `diverged`: the run's files are complete.
    pub fn is_final(self) -> bool {
        self != RunStatus::Running
    }
}

/// `sweep.toml`: the sweep as last run, for reports and for finding its runs by key. It holds
/// everything a run key is made of besides the grid point, so the keys of the sweep's runs can
/// be computed from it alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepMeta {
    /// The format version.
    pub format: u32,
    /// The sweep's name.
    pub name: String,
    /// Where the data came from.
    pub data: String,
    /// The data fingerprint (see `data::prepare`).
    pub data_fingerprint: String,
    /// Training samples.
    pub train_samples: usize,
    /// Test samples (0 = no test set).
    pub test_samples: usize,
    /// p.
    pub features: usize,
    /// K.
    pub classes: usize,
    /// What the gradient is taken of.
    pub objective: Objective,
    /// The floating-point type.
    pub precision: Precision,
    /// T, the iterations every run trains for.
    pub iterations: usize,
    /// Rows per gradient chunk.
    pub chunk_size: usize,
    /// The divergence factor, when the config sets one. (Absent in folders written before it
    /// was recorded here.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divergence_factor: Option<f64>,
    /// The grid's M values.
    pub hidden: Vec<usize>,
    /// The grid's γ values.
    pub gamma: Vec<f64>,
    /// The grid's α values.
    pub alpha: Vec<f64>,
    /// The grid's seeds.
    pub seed: Vec<u64>,
    /// The tuning settings, for a tuned sweep: its added rounds are rebuilt from its runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tune: Option<TuneSpec>,
    /// The sharpness settings, when the curves carry a sharpness column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharpness: Option<SharpnessSpec>,
    /// The confirmation settings, for a sweep that trains its bests again on fresh seeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<ConfirmSpec>,
    /// The folder of the config the sweep last ran with, as an absolute path, for sweeps that
    /// read a data file: relative data paths in the config copy (`config.toml`) are resolved
    /// against it, wherever `heavyball hessian DIR` is run from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_folder: Option<String>,
}

/// The prepared data's description, as `sweep.toml` records it.
#[derive(Clone, Debug, PartialEq)]
pub struct DataFacts {
    /// Where the data came from.
    pub origin: String,
    /// The data fingerprint.
    pub fingerprint: String,
    /// Training samples.
    pub train_samples: usize,
    /// Test samples (0 = no test set).
    pub test_samples: usize,
    /// p.
    pub features: usize,
    /// K.
    pub classes: usize,
}

/// The absolute folder of a config file at `origin` (its path as given), when it resolves.
fn config_folder(origin: &str) -> Option<String> {
    let parent = Path::new(origin).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let folder = std::fs::canonicalize(parent).ok()?;
    folder.to_str().map(str::to_string)
}

impl SweepMeta {
    /// The description of a sweep about to run `config` on data described by `data`.
    pub fn from_config(config: &Config, data: DataFacts) -> Self {
        SweepMeta {
            format: FORMAT_VERSION,
            name: config.name.clone(),
            data: data.origin,
            data_fingerprint: data.fingerprint,
            train_samples: data.train_samples,
            test_samples: data.test_samples,
            features: data.features,
            classes: data.classes,
            objective: config.train.objective,
            precision: config.train.precision,
            iterations: config.train.iterations,
            chunk_size: config.train.chunk_size,
            divergence_factor: config.train.divergence_factor,
            hidden: config.grid.hidden.clone(),
            gamma: config.grid.gamma.clone(),
            alpha: config.grid.alpha.clone(),
            seed: config.grid.seed.clone(),
            tune: config.tune,
            sharpness: config.train.sharpness,
            confirm: config.confirm,
            config_folder: matches!(config.data.source, Source::Csv { .. } | Source::Idx { .. })
                .then(|| config_folder(&config.origin))
                .flatten(),
        }
    }

    /// The training settings that enter run keys (checkpointing never changes a result, so it
    /// is not recorded).
    pub fn train(&self) -> TrainSpec {
        TrainSpec {
            iterations: self.iterations,
            objective: self.objective,
            precision: self.precision,
            chunk_size: self.chunk_size,
            divergence_factor: self.divergence_factor,
            checkpoint_every: None,
            sharpness: self.sharpness,
        }
    }

    /// The grid.
    pub fn grid(&self) -> GridSpec {
        GridSpec {
            hidden: self.hidden.clone(),
            gamma: self.gamma.clone(),
            alpha: self.alpha.clone(),
            seed: self.seed.clone(),
        }
    }

    /// What the optimisation view's bests are chosen by (see `Config::selection`).
    pub fn selection(&self) -> Selection {
        optimisation_selection(self.tune, self.confirm)
    }

    /// True when the sweep has a test set.
    pub fn has_test_set(&self) -> bool {
        self.test_samples > 0
    }

    /// Reads the `sweep.toml` of a sweep's folder; a folder without one is named as not the
    /// results folder of a sweep.
    pub fn read_in(dir: &super::SweepDir) -> Result<SweepMeta> {
        let path = dir.sweep_meta();
        if !path.exists() {
            bail!(
                "cannot read {}: is {} the results folder of a sweep that has run?",
                path.display(),
                dir.root().display()
            );
        }
        SweepMeta::read(&path)
    }

    /// Reads `sweep.toml`.
    pub fn read(path: &Path) -> Result<SweepMeta> {
        let text = read_small(path)?;
        let meta: SweepMeta = toml::from_str(&text)
            .with_context(|| format!("{} is not a heavyball sweep file", path.display()))?;
        let lists = [meta.hidden.len(), meta.gamma.len(), meta.alpha.len(), meta.seed.len()];
        let runs = meta.grid().run_count();
        if lists.iter().any(|&n| n > MAX_LIST) || runs > MAX_RUNS {
            bail!("{} describes a grid larger than heavyball writes ({runs} runs)", path.display());
        }
        if let Some(tune) = meta.tune
            && !(tune.resolution > 1.0
                && (1..=MAX_ROUNDS).contains(&tune.max_rounds)
                && meta.gamma.len() >= 2)
        {
            bail!("{} holds tuning settings heavyball never writes", path.display());
        }
        let divergence_ok = meta.divergence_factor.is_none_or(|f| f.is_finite() && f > 1.0);
        if !((1..=MAX_ITERATIONS).contains(&meta.iterations) && meta.chunk_size >= 1 && divergence_ok) {
            bail!("{} holds training settings heavyball never writes", path.display());
        }
        if let Some(sharpness) = meta.sharpness
            && !(sharpness.every >= 1 && sharpness.steps >= 2)
        {
            bail!("{} holds sharpness settings heavyball never writes", path.display());
        }
        if let Some(confirm) = meta.confirm
            && !(1..=MAX_CONFIRM_SEEDS).contains(&confirm.seeds)
        {
            bail!("{} holds confirmation settings heavyball never writes", path.display());
        }
        Ok(meta)
    }

    /// Writes `sweep.toml` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).expect("sweep metadata serialises");
        write_atomic(path, |w| w.write_all(text.as_bytes()))
    }
}

/// What a run is and how it ended: `run.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunMeta {
    /// The format version.
    pub format: u32,
    /// The run key (hex SHA-256).
    pub key: String,
    /// The readable name.
    pub name: String,
    /// M.
    pub hidden: usize,
    /// γ.
    pub gamma: f64,
    /// α.
    pub alpha: f64,
    /// The initialisation seed.
    pub seed: u64,
    /// What the gradient is taken of.
    pub objective: Objective,
    /// The floating-point type.
    pub precision: Precision,
    /// Rows per gradient chunk.
    pub chunk_size: usize,
    /// The data fingerprint.
    pub data: String,
    /// Where the run stands.
    pub status: RunStatus,
    /// Steps taken: the curve's last row.
    pub iterations: usize,
    /// Steps asked for.
    pub target_iterations: usize,
    /// Seconds spent training this run, summed over every session that worked on it.
    pub wall_seconds: f64,
}

impl RunMeta {
    /// Reads `run.toml`.
    pub fn read(path: &Path) -> Result<RunMeta> {
        let text = read_small(path)?;
        toml::from_str(&text).with_context(|| format!("{} is not a heavyball run file", path.display()))
    }

    /// The grid point the file names: its M, γ, α and seed.
    pub fn spec(&self) -> crate::grid::RunSpec {
        crate::grid::RunSpec {
            index: 0,
            hidden: self.hidden,
            gamma: self.gamma,
            alpha: self.alpha,
            seed: self.seed,
        }
    }

    /// True when this is run `id`'s metadata: its key, and settings (M, γ, α, seed) that make
    /// the run's name (a hand-edited γ or seed would otherwise be reported as trained).
    pub fn is_of(&self, id: &super::RunId) -> bool {
        self.key == id.key && self.spec().name() == id.name
    }

    /// Writes `run.toml` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).expect("run metadata serialises");
        write_atomic(path, |w| w.write_all(text.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep_meta() -> SweepMeta {
        SweepMeta {
            format: FORMAT_VERSION,
            name: "s".into(),
            data: "builtin digits".into(),
            data_fingerprint: "ab".into(),
            train_samples: 10,
            test_samples: 0,
            features: 2,
            classes: 3,
            objective: Objective::Mean,
            precision: Precision::F64,
            iterations: 7,
            chunk_size: 128,
            divergence_factor: Some(10.0),
            hidden: vec![4],
            gamma: vec![0.1, 1e-5],
            alpha: vec![1.0],
            seed: vec![0, 3],
            tune: None,
            sharpness: None,
            confirm: None,
            config_folder: None,
        }
    }

    #[test]
    fn sweep_files_round_trip_and_hold_the_key_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.toml");
        let meta = sweep_meta();
        meta.write(&path).unwrap();
        assert_eq!(SweepMeta::read(&path).unwrap(), meta);
        let train = meta.train();
        assert_eq!((train.iterations, train.chunk_size, train.divergence_factor), (7, 128, Some(10.0)));
        assert_eq!(meta.grid().gamma, [0.1, 1e-5]);
        // Folders written before the divergence factor was recorded still read.
        let old = std::fs::read_to_string(&path).unwrap().replace("divergence_factor = 10.0\n", "");
        std::fs::write(&path, old).unwrap();
        assert_eq!(SweepMeta::read(&path).unwrap().divergence_factor, None);
    }

    #[test]
    fn training_settings_no_config_allows_make_the_sweep_file_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.toml");
        let good = toml::to_string(&sweep_meta()).unwrap();
        // A chunk of 0 rows once reached a division by zero in `hessian DIR`.
        for (from, to) in [
            ("chunk_size = 128", "chunk_size = 0"),
            ("iterations = 7", "iterations = 0"),
            ("divergence_factor = 10.0", "divergence_factor = 0.5"),
            ("divergence_factor = 10.0", "divergence_factor = nan"),
        ] {
            assert!(good.contains(from), "{from}");
            std::fs::write(&path, good.replace(from, to)).unwrap();
            let e = SweepMeta::read(&path).unwrap_err().to_string();
            assert!(e.contains("holds training settings heavyball never writes"), "{to}: {e}");
        }
    }

    #[test]
    fn statuses_are_lowercase_words() {
        #[derive(Serialize, Deserialize)]
        struct S {
            status: RunStatus,
        }
        for (status, word) in
            [(RunStatus::Running, "running"), (RunStatus::Done, "done"), (RunStatus::Diverged, "diverged")]
        {
            assert_eq!(toml::to_string(&S { status }).unwrap(), format!("status = \"{word}\"\n"));
            assert_eq!(status.name(), word);
            assert_eq!(status.is_final(), status != RunStatus::Running);
        }
        assert!(toml::from_str::<S>("status = \"stopped\"").is_err());
    }
}
