//! `heavyball report`: does momentum beat plain gradient descent here, by how much, at which
//! step sizes and widths? Built from the files on disk, for a finished or a partial sweep.
//!
//! - this file: find the sweep and read its finished runs, by key;
//! - the numbers, pure and unit-tested: [`analysis`] (each method's best per M and view),
//!   `paired` (momentum against GD seed by seed), `stability` (theory beside the experiment),
//!   [`stats`] (medians, intervals, exact tests);
//! - the words: `format` (numbers and phrases), `tables`, `notes`, `markdown` (`report.md`),
//!   `terminal`, `csvs` (`comparison.csv`, `paired.csv`), `page` (`index.html`);
//! - `figures`: one file per figure, drawn in memory;
//! - `write`: every file of `report/`, staged and put in place whole.

pub mod analysis;
mod csvs;
mod figures;
mod format;
mod markdown;
mod measures;
mod notes;
mod page;
mod paired;
mod stability;
pub mod stats;
pub mod study;
mod tables;
mod terminal;
mod write;

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Result, bail};

use crate::config::Config;
use crate::store::files::{read_checkpoint_curve, same_curve};
use crate::store::hessian::RunHessian;
use crate::store::summary::finished_runs;
use crate::store::{RunFile, RunRecord, SweepDir, SweepMeta};
use crate::tune;

pub use analysis::{Analysis, analyse};
pub use write::write;

/// A sweep as found on disk.
pub struct Sweep {
    /// The sweep's folder.
    pub dir: SweepDir,
    /// Its description (`sweep.toml`).
    pub info: SweepMeta,
    /// The finished runs of its grid, in grid order.
    pub runs: Vec<RunRecord>,
    /// Grid points without a finished run, by readable name.
    pub missing: Vec<String>,
    /// Runs left out because their files are damaged: (folder name, why).
    pub damaged: Vec<(String, String)>,
    /// Where the tuning stands, for a tuned sweep.
    pub tuning: Option<tune::Tuning>,
    /// The confirmation round, for a sweep with `[confirm]` whose round is decided.
    pub confirmation: Option<tune::Confirmation>,
    /// `heavyball hessian`'s values of the finished runs that have them (current ones only),
    /// by run folder name.
    pub hessians: HashMap<String, RunHessian>,
}

/// Finds the sweep folder from a results folder of a sweep, or a config path.
pub fn locate(target: &Path, results: &Path) -> Result<SweepDir> {
    if target.is_file() {
        let config = Config::from_path(target)?;
        return Ok(SweepDir::new(results, &config.name));
    }
    Ok(SweepDir::at(target))
}

/// Reads `sweep.toml` and the finished runs of its grid. A run is found by its key, which
/// `sweep.toml` determines, so the folders of earlier configs never enter a report even when
/// their readable names match.
pub fn load(dir: &SweepDir) -> Result<Sweep> {
    let info = SweepMeta::read_in(dir)?;
    let (ids, rounds) = tune::recorded_runs(dir, &info);
    // Every finished run's curve is held at once (the figures and tables read them all), its
    // rows as read and about as much again for what is drawn and written from them.
    let rows = (info.iterations as u64).saturating_add(1);
    let row_bytes = 2 * std::mem::size_of::<crate::train::CurveRow>() as u64;
    let curves = (ids.len() as u64).checked_mul(rows).and_then(|r| r.checked_mul(row_bytes));
    crate::memory::check(&format!("the report of {}", dir.root().display()), curves)
        .map_err(anyhow::Error::msg)?;
    let mut found = finished_runs(dir, &ids, info.iterations);
    // A finished run's checkpoint is its record: a curve.csv that says otherwise (edited, or
    // saved again by a spreadsheet) is left out, as `run` would repair it. Without a readable
    // checkpoint of that length, the curve stands, as it does for `run`.
    let (sound, belied): (Vec<_>, Vec<_>) = std::mem::take(&mut found.runs).into_iter().partition(|r| {
        let path = dir.runs().join(&r.dir_name).join(RunFile::Checkpoint.name());
        match read_checkpoint_curve(&path, &r.meta.key) {
            Ok((iteration, curve)) if iteration == r.meta.iterations => same_curve(&curve, &r.curve),
            _ => true,
        }
    });
    found.runs = sound;
    let why = "curve.csv disagrees with checkpoint.npz (heavyball run repairs it)";
    found.damaged.extend(belied.into_iter().map(|r| (r.dir_name, why.to_string())));
    let known: std::collections::HashSet<&str> = found
        .runs
        .iter()
        .map(|r| r.dir_name.as_str())
        .chain(found.damaged.iter().map(|(d, _)| d.as_str()))
        .collect();
    let missing =
        ids.iter().filter(|id| !known.contains(id.dir_name().as_str())).map(|id| id.name.clone()).collect();
    // Values computed before a run was extended belong to its old final point: left out.
    let hessians = found
        .runs
        .iter()
        .filter_map(|r| {
            let path = dir.runs().join(&r.dir_name).join(RunFile::Hessian.name());
            let values = RunHessian::read(&path).ok()?;
            (values.key == r.meta.key && values.iterations == r.meta.iterations)
                .then(|| (r.dir_name.clone(), values))
        })
        .collect();
    Ok(Sweep {
        dir: dir.clone(),
        info,
        runs: found.runs,
        missing,
        damaged: found.damaged,
        tuning: rounds.tuning,
        confirmation: rounds.confirmation,
        hessians,
    })
}

/// Runs `heavyball report`: locate, load, analyse, write; returns the text for the terminal.
pub fn run(target_path: &Path, results: &Path, target: Option<f64>) -> Result<String> {
    if let Some(t) = target
        && !(t.is_finite() && t > 0.0)
    {
        bail!("--target must be a positive loss (got {t})");
    }
    let dir = locate(target_path, results)?;
    let (text, sweep, _) = report_dir(&dir, target)?;
    // Given a config, the report is still of what the sweep holds: say so when they differ.
    let note = match target_path.is_file() {
        true => config_note(target_path, &Config::from_path(target_path)?, &sweep.info),
        false => None,
    };
    Ok(note.unwrap_or_default() + &text)
}

/// A line for the top of a report made through the config at `path` when `config` differs from
/// what the sweep `info` was run with: the report is of the runs the sweep holds. The training
/// settings, the grid, `[tune]` and `[confirm]` are compared; the data are `plan`'s to compare
/// (only reading them tells).
pub fn config_note(path: &Path, config: &Config, info: &SweepMeta) -> Option<String> {
    let t = &config.train;
    let differs: Vec<&str> = [
        (t.iterations != info.iterations, "iterations"),
        (
            t.objective != info.objective
                || t.precision != info.precision
                || t.chunk_size != info.chunk_size
                || t.sharpness != info.sharpness
                || t.divergence_factor != info.divergence_factor,
            "[train]",
        ),
        (config.grid != info.grid(), "[grid]"),
        (config.tune != info.tune, "[tune]"),
        (config.confirm != info.confirm, "[confirm]"),
    ]
    .into_iter()
    .filter_map(|(differs, what)| differs.then_some(what))
    .collect();
    if differs.is_empty() {
        return None;
    }
    let then = match t.iterations < info.iterations {
        true => "`heavyball run` refuses to lower iterations, so they stay as they are",
        false => "run `heavyball run` on the config to bring them up to it",
    };
    Some(format!(
        "note: {} differs from the config sweep {} was run with ({}); this report is of the runs the sweep \
         holds: {then}\n",
        path.display(),
        info.name,
        differs.join(", ")
    ))
}

/// Reports the sweep in `dir`: writes its `report/`, and returns the terminal's text with the
/// sweep and its analysis (a study's report goes on from them).
pub fn report_dir(dir: &SweepDir, target: Option<f64>) -> Result<(String, Sweep, Analysis)> {
    let sweep = load(dir)?;
    if sweep.runs.is_empty() {
        bail!("{} has no finished runs yet; nothing to report", dir.root().display());
    }
    let analysis = analyse(&sweep.info, &sweep.runs, target);
    let text = write(&sweep, &analysis)?;
    Ok((text, sweep, analysis))
}
