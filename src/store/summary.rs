//! The finished runs of a grid, read once and by key, and the summaries built from them:
//! `summary.csv` and `curves.csv`, always rebuilt from the per-run files so that they agree
//! with them.

use anyhow::{Context, Result};

use super::files::{curve_fields, curve_header, has_sharpness, read_curve};
use super::{RunFile, RunId, RunMeta, RunStatus, SweepDir, write_atomic};
use crate::train::CurveRow;

/// One finished run as read back from its folder.
#[derive(Clone, Debug)]
pub struct RunRecord {
    /// The folder name.
    pub dir_name: String,
    /// `run.toml`.
    pub meta: RunMeta,
    /// `curve.csv`.
    pub curve: Vec<CurveRow>,
}

impl RunRecord {
    /// True when the run diverged.
    pub fn diverged(&self) -> bool {
        self.meta.status == RunStatus::Diverged
    }
}

/// A run counts as finished at `iterations` when it diverged (at or before them) or was trained
/// for exactly that many.
pub fn is_finished(meta: &RunMeta, iterations: usize) -> bool {
    match meta.status {
        RunStatus::Diverged => meta.iterations <= iterations,
        RunStatus::Done => meta.iterations == iterations,
        RunStatus::Running => false,
    }
}

/// The finished runs of a grid, and those whose files say they finished but cannot be read.
#[derive(Debug, Default)]
pub struct FinishedRuns {
    /// Sound finished runs, in the order of the ids.
    pub runs: Vec<RunRecord>,
    /// (folder name, why) for each run left out because a file is damaged.
    pub damaged: Vec<(String, String)>,
}

/// The runs `ids` that are finished at `iterations`, in the order of `ids`, with their curves.
/// A run folder belongs to an id only by its key: a folder of an earlier config whose readable
/// name matches is never read. Runs not finished (or not started) are left out; so are runs
/// whose `run.toml` cannot be read or whose `curve.csv` is unreadable or not the length
/// `run.toml` gives, which are listed as damaged.
pub fn finished_runs(dir: &SweepDir, ids: &[RunId], iterations: usize) -> FinishedRuns {
    let mut found = FinishedRuns::default();
    for id in ids {
        match finished_run(dir, id, iterations) {
            Some(Ok(run)) => found.runs.push(run),
            Some(Err(damaged)) => found.damaged.push(damaged),
            None => {}
        }
    }
    found
}

/// The run `id` with its curve when it is finished at `iterations`; `None` when it is not (or
/// was never started); (folder name, why) when its files are damaged. See [`finished_runs`].
fn finished_run(
    dir: &SweepDir,
    id: &RunId,
    iterations: usize,
) -> Option<Result<RunRecord, (String, String)>> {
    let run = dir.run(id);
    let meta_path = run.file(RunFile::Meta);
    if !meta_path.exists() {
        return None;
    }
    let meta = match RunMeta::read(&meta_path) {
        Ok(meta) => meta,
        Err(e) => return Some(Err((id.dir_name(), crate::errors::one_line(&e)))),
    };
    if !meta.is_of(id) {
        let why = format!("{} names another run (its key or settings were changed)", meta_path.display());
        return Some(Err((id.dir_name(), why)));
    }
    if !is_finished(&meta, iterations) {
        return None;
    }
    let curve_path = run.file(RunFile::Curve);
    Some(match read_curve(&curve_path) {
        Ok(curve) if whole_curve(&curve, meta.iterations) => match status_disagrees(meta.status, &curve) {
            Some(why) => Err((id.dir_name(), why)),
            None => Ok(RunRecord { dir_name: id.dir_name(), meta, curve }),
        },
        Ok(curve) => Err((
            id.dir_name(),
            format!(
                "{} has {} rows where run.toml gives {} iterations",
                curve_path.display(),
                curve.len(),
                meta.iterations
            ),
        )),
        Err(e) => Err((id.dir_name(), crate::errors::one_line(&e))),
    })
}

/// Why a finished run's status cannot be what its curve shows, if it cannot: a run diverges
/// when its training loss is not finite or rises above a factor (> 1) of its initial loss, so a
/// diverged run's curve ends above its start or not finite, and a run that finished never met
/// a loss that is not finite.
pub fn status_disagrees(status: RunStatus, curve: &[CurveRow]) -> Option<String> {
    let (first, last) = (curve.first()?.train_loss, curve.last()?.train_loss);
    match status {
        RunStatus::Diverged if last.is_finite() && last <= first => Some(format!(
            "run.toml says the run diverged, but its curve ends at {last}, not above its start {first}"
        )),
        RunStatus::Done if curve.iter().any(|r| !r.train_loss.is_finite()) => {
            Some("run.toml says the run finished, but its curve holds a loss that is not finite".into())
        }
        _ => None,
    }
}

/// True when `curve` holds the rows of iterations 0..=iterations, in order.
pub fn whole_curve(curve: &[CurveRow], iterations: usize) -> bool {
    curve.len() == iterations + 1 && curve.iter().enumerate().all(|(i, r)| r.iteration == i)
}

/// The columns of `summary.csv`.
pub fn summary_header(with_test: bool) -> Vec<&'static str> {
    let mut h = vec![
        "run",
        "hidden",
        "gamma",
        "alpha",
        "seed",
        "status",
        "iterations",
        "final_train_loss",
        "best_train_loss",
        "final_train_accuracy",
    ];
    if with_test {
        h.extend(["final_test_loss", "best_test_loss", "final_test_accuracy"]);
    }
    h.extend(["wall_seconds", "key"]);
    h
}

/// The columns of `curves.csv`: the run and its hyperparameters, then the curve's columns.
pub fn curves_header(with_test: bool, with_sharpness: bool) -> String {
    format!("run,hidden,gamma,alpha,seed,{}", curve_header(with_test, with_sharpness))
}

/// The smallest finite value, or NaN when there is none.
fn best(values: impl Iterator<Item = f64>) -> f64 {
    values.filter(|v| v.is_finite()).fold(f64::NAN, f64::min)
}

/// Rewrites `summary.csv` and `curves.csv` for the runs `ids` (in grid order) finished at
/// `iterations`. One run's curve is in memory at a time, however many runs and iterations the
/// sweep holds: a first pass writes the summary's rows and learns whether any curve carries
/// sharpness values (the curves' header says so); a second streams the curves into their file.
pub fn rebuild(dir: &SweepDir, ids: &[RunId], iterations: usize, with_test: bool) -> Result<()> {
    let mut summary = csv::Writer::from_writer(Vec::new());
    summary.write_record(summary_header(with_test))?;
    // Damaged runs stay out until `run` repairs or restarts them.
    let mut finished = Vec::new();
    let mut with_sharpness = false;
    for id in ids {
        let Some(Ok(r)) = finished_run(dir, id, iterations) else { continue };
        summary.write_record(summary_row(&r, with_test)?)?;
        with_sharpness |= has_sharpness(&r.curve);
        let prefix =
            format!("{},{},{},{},{}", r.dir_name, r.meta.hidden, r.meta.gamma, r.meta.alpha, r.meta.seed);
        finished.push((id, prefix, r.curve.len()));
    }
    let summary = summary.into_inner().context("cannot encode summary.csv")?;
    // The curves first: if one cannot be read again, neither file changes.
    write_atomic(&dir.curves(), |w| {
        writeln!(w, "{}", curves_header(with_test, with_sharpness))?;
        for (id, prefix, rows) in &finished {
            let path = dir.run(id).file(RunFile::Curve);
            let curve = read_curve(&path).map_err(std::io::Error::other)?;
            // A run extended since the first pass keeps its first rows: the summary's are taken.
            let Some(curve) = curve.get(..*rows) else {
                return Err(std::io::Error::other(format!(
                    "{} became shorter while being read",
                    path.display()
                )));
            };
            for c in curve {
                writeln!(w, "{prefix},{}", curve_fields(c, with_sharpness))?;
            }
        }
        Ok(())
    })?;
    write_atomic(&dir.summary(), |w| w.write_all(&summary))?;
    Ok(())
}

/// One run's row of `summary.csv`.
fn summary_row(r: &RunRecord, with_test: bool) -> Result<Vec<String>> {
    let m = &r.meta;
    let last = r.curve.last().with_context(|| format!("run {} has an empty curve", r.dir_name))?;
    let mut row = vec![
        r.dir_name.clone(),
        m.hidden.to_string(),
        m.gamma.to_string(),
        m.alpha.to_string(),
        m.seed.to_string(),
        m.status.name().to_string(),
        m.iterations.to_string(),
        last.train_loss.to_string(),
        best(r.curve.iter().map(|c| c.train_loss)).to_string(),
        last.train_accuracy.to_string(),
    ];
    if with_test {
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        row.push(opt(last.test_loss));
        row.push(best(r.curve.iter().filter_map(|c| c.test_loss)).to_string());
        row.push(opt(last.test_accuracy));
    }
    row.push(format!("{:.3}", m.wall_seconds));
    row.push(m.key.clone());
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::run;

    #[test]
    fn a_status_must_be_what_the_curve_shows() {
        let curve = |losses: &[f64]| run(0.1, 1.0, 0, losses).curve;
        // Diverged: above the start (the factor exceeds 1) or not finite, never below it.
        assert_eq!(status_disagrees(RunStatus::Diverged, &curve(&[2.0, 1.0, 250.0])), None);
        assert_eq!(status_disagrees(RunStatus::Diverged, &curve(&[2.0, f64::NAN])), None);
        assert_eq!(status_disagrees(RunStatus::Diverged, &curve(&[f64::INFINITY])), None);
        let why = status_disagrees(RunStatus::Diverged, &curve(&[2.0, 1.0, 0.5])).unwrap();
        assert!(why.contains("ends at 0.5, not above its start 2"), "{why}");
        // Done: every loss finite; a loss of exactly 0 is a finished run.
        assert_eq!(status_disagrees(RunStatus::Done, &curve(&[2.0, 1.0, 0.0])), None);
        assert!(status_disagrees(RunStatus::Done, &curve(&[2.0, f64::NAN, 0.5])).is_some());
        assert_eq!(status_disagrees(RunStatus::Running, &curve(&[2.0, f64::NAN])), None);
    }
}
