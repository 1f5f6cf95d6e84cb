//! `heavyball report`: does momentum beat plain gradient descent here, by how much, at which
//! step sizes and widths? Built from the files on disk, for a finished or a partial sweep.
//!
//! For each M it compares plain GD (α = 1) at its best γ with momentum at its best (γ, α), both
//! chosen by the seed-mean final training loss, and counts the iterations each needs to reach a
//! target loss: by default the lowest loss that both reach with every seed. The paired view uses that runs at the same (M, seed) share their initial point:
//! at each (M, γ, α < 1) it compares momentum with GD seed by seed.

mod plots;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::grid::{RunSpec, short_number};
use crate::store::{self, RunMeta, run_file};
use crate::train::CurveRow;

/// `sweep.toml`, as far as reports need it.
#[derive(Clone, Debug, Deserialize)]
pub struct SweepInfo {
    /// The sweep's name.
    pub name: String,
    /// Where the data came from.
    pub data: String,
    /// The data fingerprint runs must match.
    pub data_fingerprint: String,
    /// Training samples.
    pub train_samples: usize,
    /// Test samples (0 = no test set).
    pub test_samples: usize,
    /// p.
    pub features: usize,
    /// K.
    pub classes: usize,
    /// `sum` or `mean`.
    pub objective: String,
    /// `f32` or `f64`.
    pub precision: String,
    /// T.
    pub iterations: usize,
    /// Rows per gradient chunk.
    pub chunk_size: usize,
    /// The grid's M values.
    pub hidden: Vec<usize>,
    /// The grid's γ values.
    pub gamma: Vec<f64>,
    /// The grid's α values.
    pub alpha: Vec<f64>,
    /// The grid's seeds.
    pub seed: Vec<u64>,
}

/// One finished run.
#[derive(Clone, Debug)]
pub struct Run {
    /// `run.toml`.
    pub meta: RunMeta,
    /// `curve.csv`.
    pub curve: Vec<CurveRow>,
}

impl Run {
    /// The final training loss, +∞ for a diverged run.
    pub fn final_loss(&self) -> f64 {
        if self.diverged() {
            f64::INFINITY
        } else {
            self.curve.last().map_or(f64::INFINITY, |r| r.train_loss)
        }
    }

    /// The lowest training loss on the curve (NaN rows ignored; +∞ for an empty curve).
    pub fn lowest_loss(&self) -> f64 {
        self.curve.iter().map(|r| r.train_loss).filter(|l| !l.is_nan()).fold(f64::INFINITY, f64::min)
    }

    /// True when the run diverged.
    pub fn diverged(&self) -> bool {
        self.meta.status == "diverged"
    }

    /// The first iteration whose training loss is at or below `target`.
    pub fn iterations_to(&self, target: f64) -> Option<usize> {
        self.curve.iter().find(|r| r.train_loss <= target).map(|r| r.iteration)
    }
}

/// A sweep as found on disk.
pub struct Sweep {
    /// The sweep's folder.
    pub dir: PathBuf,
    /// Its description.
    pub info: SweepInfo,
    /// The finished runs of its grid, in grid order.
    pub runs: Vec<Run>,
    /// Grid points without a finished run, by name.
    pub missing: Vec<String>,
}

/// Finds the sweep folder from a results folder of a sweep, or a config path.
pub fn locate(target: &Path, results: &Path) -> Result<PathBuf> {
    if target.is_file() {
        let config = crate::config::Config::from_path(target)?;
        return Ok(results.join(config.name));
    }
    Ok(target.to_path_buf())
}

/// Reads `sweep.toml` and the finished runs that belong to its grid.
pub fn load(dir: &Path) -> Result<Sweep> {
    let info_path = dir.join("sweep.toml");
    let text = std::fs::read_to_string(&info_path).with_context(|| {
        format!("cannot read {}: is {} the results folder of a sweep?", info_path.display(), dir.display())
    })?;
    let info: SweepInfo = toml::from_str(&text)
        .with_context(|| format!("{} is not a heavyball sweep file", info_path.display()))?;
    let mut found = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("runs")) {
        for entry in entries.flatten() {
            let Ok(meta) = RunMeta::read(&entry.path().join(run_file::META)) else { continue };
            let belongs = meta.data == info.data_fingerprint
                && meta.objective == info.objective
                && meta.precision == info.precision
                && meta.chunk_size == info.chunk_size;
            let finished =
                meta.status == "diverged" || (meta.status == "done" && meta.iterations == info.iterations);
            if belongs && finished {
                let curve = store::read_curve(&entry.path().join(run_file::CURVE))?;
                found.insert(meta.name.clone(), Run { meta, curve });
            }
        }
    }
    let mut runs = Vec::new();
    let mut missing = Vec::new();
    for &m in &info.hidden {
        for &g in &info.gamma {
            for &a in &info.alpha {
                for &s in &info.seed {
                    let name = RunSpec { index: 0, hidden: m, gamma: g, alpha: a, seed: s }.name();
                    match found.remove(&name) {
                        Some(run) => runs.push(run),
                        None => missing.push(name),
                    }
                }
            }
        }
    }
    Ok(Sweep { dir: dir.to_path_buf(), info, runs, missing })
}

/// Mean and sample standard deviation (0 for one value); NaN for none.
fn mean_sd(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

/// One method's best setting at one M, summarised over seeds.
#[derive(Clone, Debug)]
pub struct Best {
    /// `gd` or `momentum`.
    pub method: &'static str,
    /// γ.
    pub gamma: f64,
    /// α.
    pub alpha: f64,
    /// Seeds finished.
    pub seeds: usize,
    /// Seeds diverged.
    pub diverged: usize,
    /// Final training loss: mean, sd.
    pub final_loss: (f64, f64),
    /// Best training loss: mean, sd.
    pub best_loss: (f64, f64),
    /// Final test loss: mean, sd.
    pub test_loss: (f64, f64),
    /// Final test accuracy: mean, sd.
    pub test_accuracy: (f64, f64),
    /// Iterations to the target: mean, sd over the seeds that reached it.
    pub to_target: (f64, f64),
    /// Seeds that reached the target.
    pub reached: usize,
}

/// The comparison at one M.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// M.
    pub hidden: usize,
    /// The target training loss.
    pub target: f64,
    /// Plain GD at its best γ.
    pub gd: Option<Best>,
    /// Momentum at its best (γ, α).
    pub momentum: Option<Best>,
}

impl Comparison {
    /// GD's mean iterations to target over momentum's, when both reach it with every seed.
    pub fn speedup(&self) -> Option<f64> {
        let (gd, mo) = (self.gd.as_ref()?, self.momentum.as_ref()?);
        (gd.reached == gd.seeds && mo.reached == mo.seeds && mo.to_target.0 > 0.0)
            .then(|| gd.to_target.0 / mo.to_target.0)
    }
}

/// Seed-by-seed momentum against GD at one (M, γ, α).
#[derive(Clone, Debug)]
pub struct Paired {
    /// M.
    pub hidden: usize,
    /// γ.
    pub gamma: f64,
    /// α < 1.
    pub alpha: f64,
    /// Seeds where both runs finished.
    pub pairs: usize,
    /// Share of pairs where momentum ends lower (a diverged run loses).
    pub win_rate: f64,
    /// Median of momentum's final loss over GD's, over pairs where neither diverged.
    pub loss_ratio: f64,
    /// Median of momentum's iterations to target over GD's, over pairs where both reach it.
    pub iteration_ratio: f64,
}

/// Everything a report shows.
pub struct Analysis {
    /// One comparison per M.
    pub comparisons: Vec<Comparison>,
    /// One row per (M, γ, α < 1) with pairs.
    pub paired: Vec<Paired>,
}

/// Groups runs by (M, γ, α); the seeds stay together.
fn groups(runs: &[Run], hidden: usize) -> Vec<Setting<'_>> {
    let mut out: Vec<Setting> = Vec::new();
    for r in runs.iter().filter(|r| r.meta.hidden == hidden) {
        let key = (r.meta.gamma, r.meta.alpha);
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(r),
            None => out.push((key, vec![r])),
        }
    }
    out
}

fn summarise(method: &'static str, (gamma, alpha): (f64, f64), runs: &[&Run], target: f64) -> Best {
    let finite = |f: &dyn Fn(&Run) -> Option<f64>| -> Vec<f64> {
        runs.iter().filter(|r| !r.diverged()).filter_map(|r| f(r)).filter(|v| v.is_finite()).collect()
    };
    let reached: Vec<f64> = runs.iter().filter_map(|r| r.iterations_to(target)).map(|i| i as f64).collect();
    Best {
        method,
        gamma,
        alpha,
        seeds: runs.len(),
        diverged: runs.iter().filter(|r| r.diverged()).count(),
        final_loss: mean_sd(&finite(&|r| r.curve.last().map(|c| c.train_loss))),
        best_loss: mean_sd(&finite(&|r| {
            r.curve.iter().map(|c| c.train_loss).filter(|v| v.is_finite()).reduce(f64::min)
        })),
        test_loss: mean_sd(&finite(&|r| r.curve.last().and_then(|c| c.test_loss))),
        test_accuracy: mean_sd(&finite(&|r| r.curve.last().and_then(|c| c.test_accuracy))),
        to_target: mean_sd(&reached),
        reached: reached.len(),
    }
}

/// One setting (γ, α) at some M, with its runs (one per seed).
type Setting<'a> = ((f64, f64), Vec<&'a Run>);

/// The setting with the lowest seed-mean final loss (a diverged seed makes it +∞), if any
/// setting has a finite score.
fn best_of<'a>(candidates: impl Iterator<Item = &'a Setting<'a>>) -> Option<&'a Setting<'a>> {
    candidates
        .map(|c| (c.1.iter().map(|r| r.final_loss()).sum::<f64>() / c.1.len() as f64, c))
        .filter(|(score, _)| score.is_finite())
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The default target at one M: the lowest training loss that every seed of every tuned setting
/// reaches, that is the largest of their seeds' lowest losses. Both methods reach it, so the
/// speed-up compares them on ground both cover. NaN when no setting qualifies.
fn common_target(best: &[Option<&Setting>]) -> f64 {
    best.iter()
        .flatten()
        .flat_map(|(_, runs)| runs.iter().map(|r| r.lowest_loss()))
        .reduce(f64::max)
        .unwrap_or(f64::NAN)
}

/// Computes the comparisons and the paired view. `target` overrides the per-M default, the
/// lowest loss both tuned methods reach with every seed ([`common_target`]).
pub fn analyse(sweep: &Sweep, target: Option<f64>) -> Analysis {
    let mut comparisons = Vec::new();
    let mut paired = Vec::new();
    for &m in &sweep.info.hidden {
        let groups = groups(&sweep.runs, m);
        let best_gd = best_of(groups.iter().filter(|(k, _)| k.1 == 1.0));
        let best_momentum = best_of(groups.iter().filter(|(k, _)| k.1 < 1.0));
        let target = target.unwrap_or_else(|| common_target(&[best_gd, best_momentum]));
        let gd = best_gd.map(|(k, r)| summarise("gd", *k, r, target));
        let momentum = best_momentum.map(|(k, r)| summarise("momentum", *k, r, target));
        if !groups.is_empty() {
            comparisons.push(Comparison { hidden: m, target, gd, momentum });
        }

        for &g in &sweep.info.gamma {
            let Some((_, base)) = groups.iter().find(|(k, _)| *k == (g, 1.0)) else { continue };
            for ((_, a), runs) in groups.iter().filter(|(k, _)| k.0 == g && k.1 < 1.0) {
                let pairs: Vec<(&Run, &Run)> = runs
                    .iter()
                    .filter_map(|mo| base.iter().find(|gd| gd.meta.seed == mo.meta.seed).map(|gd| (*mo, *gd)))
                    .collect();
                if pairs.is_empty() {
                    continue;
                }
                let wins = pairs.iter().filter(|(mo, gd)| mo.final_loss() < gd.final_loss()).count();
                let mut ratios: Vec<f64> = pairs
                    .iter()
                    .filter(|(mo, gd)| !mo.diverged() && !gd.diverged())
                    .map(|(mo, gd)| mo.final_loss() / gd.final_loss())
                    .collect();
                let mut iters: Vec<f64> = pairs
                    .iter()
                    .filter_map(|(mo, gd)| {
                        Some((mo.iterations_to(target)? as f64, gd.iterations_to(target)? as f64))
                    })
                    .filter(|(_, gd)| *gd > 0.0)
                    .map(|(mo, gd)| mo / gd)
                    .collect();
                paired.push(Paired {
                    hidden: m,
                    gamma: g,
                    alpha: *a,
                    pairs: pairs.len(),
                    win_rate: wins as f64 / pairs.len() as f64,
                    loss_ratio: median(&mut ratios),
                    iteration_ratio: median(&mut iters),
                });
            }
        }
    }
    Analysis { comparisons, paired }
}

/// A number for tables: 4 significant digits, `–` for NaN.
fn num(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else if v.is_infinite() {
        "∞".into()
    } else if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e5) {
        format!("{v:.3e}")
    } else {
        format!("{}", (v * 1e4).round() / 1e4).chars().take(8).collect()
    }
}

fn pm((mean, sd): (f64, f64)) -> String {
    if mean.is_nan() { "–".into() } else { format!("{} ± {}", num(mean), num(sd)) }
}

fn csv_num(v: f64) -> String {
    if v.is_nan() { String::new() } else { v.to_string() }
}

/// Writes `report/comparison.csv`, `report/paired.csv`, the plots and `report/report.md`, and
/// returns the text printed on the terminal.
pub fn write(sweep: &Sweep, analysis: &Analysis) -> Result<String> {
    let out = sweep.dir.join("report");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let with_test = sweep.info.test_samples > 0;

    let mut comparison = csv::Writer::from_writer(Vec::new());
    comparison.write_record([
        "hidden",
        "method",
        "gamma",
        "alpha",
        "seeds",
        "diverged",
        "final_train_loss_mean",
        "final_train_loss_sd",
        "best_train_loss_mean",
        "best_train_loss_sd",
        "final_test_loss_mean",
        "final_test_loss_sd",
        "final_test_accuracy_mean",
        "final_test_accuracy_sd",
        "target_loss",
        "iterations_to_target_mean",
        "iterations_to_target_sd",
        "seeds_reaching_target",
        "speedup",
    ])?;
    for c in &analysis.comparisons {
        for b in [&c.gd, &c.momentum].into_iter().flatten() {
            let speedup = if b.method == "momentum" {
                c.speedup().map_or(String::new(), |s| s.to_string())
            } else {
                String::new()
            };
            comparison.write_record([
                c.hidden.to_string(),
                b.method.into(),
                b.gamma.to_string(),
                b.alpha.to_string(),
                b.seeds.to_string(),
                b.diverged.to_string(),
                csv_num(b.final_loss.0),
                csv_num(b.final_loss.1),
                csv_num(b.best_loss.0),
                csv_num(b.best_loss.1),
                csv_num(b.test_loss.0),
                csv_num(b.test_loss.1),
                csv_num(b.test_accuracy.0),
                csv_num(b.test_accuracy.1),
                c.target.to_string(),
                csv_num(b.to_target.0),
                csv_num(b.to_target.1),
                b.reached.to_string(),
                speedup,
            ])?;
        }
    }
    let bytes = comparison.into_inner().context("cannot encode comparison.csv")?;
    store::write_atomic(&out.join("comparison.csv"), |w| w.write_all(&bytes))?;

    let mut paired = csv::Writer::from_writer(Vec::new());
    paired.write_record([
        "hidden",
        "gamma",
        "alpha",
        "pairs",
        "win_rate",
        "median_final_loss_ratio",
        "median_iterations_ratio",
    ])?;
    for p in &analysis.paired {
        paired.write_record([
            p.hidden.to_string(),
            p.gamma.to_string(),
            p.alpha.to_string(),
            p.pairs.to_string(),
            p.win_rate.to_string(),
            csv_num(p.loss_ratio),
            csv_num(p.iteration_ratio),
        ])?;
    }
    let bytes = paired.into_inner().context("cannot encode paired.csv")?;
    store::write_atomic(&out.join("paired.csv"), |w| w.write_all(&bytes))?;

    let figures = plots::draw_all(sweep, analysis, &out)?;
    let text = render_markdown(sweep, analysis, &figures, with_test);
    store::write_atomic(&out.join("report.md"), |w| w.write_all(text.as_bytes()))?;
    Ok(terminal_text(sweep, analysis, with_test))
}

/// What cannot be compared, and what is missing, as sentences.
fn caveats(sweep: &Sweep) -> Vec<String> {
    let mut notes = Vec::new();
    let total = sweep.runs.len() + sweep.missing.len();
    if !sweep.missing.is_empty() {
        let shown: Vec<&str> = sweep.missing.iter().take(6).map(String::as_str).collect();
        let more = if sweep.missing.len() > 6 {
            format!(" and {} more", sweep.missing.len() - 6)
        } else {
            String::new()
        };
        notes.push(format!(
            "Partial sweep: {} of {total} runs are finished; missing {}{more}. Run `heavyball run` on the config to finish it.",
            sweep.runs.len(),
            shown.join(", ")
        ));
    }
    if !sweep.info.alpha.contains(&1.0) {
        notes.push("The grid has no α = 1, so there is no plain gradient descent to compare with.".into());
    }
    if !sweep.info.alpha.iter().any(|&a| a < 1.0) {
        notes.push(
            "The grid has only α = 1 (plain gradient descent), so there is no momentum to compare with."
                .into(),
        );
    }
    let diverged = sweep.runs.iter().filter(|r| r.diverged()).count();
    if diverged > 0 {
        notes.push(format!("{diverged} of {} finished runs diverged; they count as losses and as +∞ when choosing the best setting.", sweep.runs.len()));
    }
    notes
}

fn describe(info: &SweepInfo) -> String {
    format!(
        "{}: {} training samples{}, p = {}, K = {}; {} objective, {}, {} iterations",
        info.data,
        info.train_samples,
        if info.test_samples > 0 { format!(" + {} test", info.test_samples) } else { String::new() },
        info.features,
        info.classes,
        info.objective,
        info.precision,
        info.iterations
    )
}

fn comparison_table(analysis: &Analysis, with_test: bool) -> String {
    let mut t = String::new();
    let test_cols = if with_test { " final test loss | test accuracy |" } else { "" };
    let _ = writeln!(
        t,
        "| M | method | γ | α | final train loss | best train loss |{test_cols} iterations to target | speed-up |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|{}---|---|", if with_test { "---|---|" } else { "" });
    for c in &analysis.comparisons {
        for (label, b) in [("plain GD", &c.gd), ("momentum", &c.momentum)] {
            let Some(b) = b else {
                let _ = writeln!(
                    t,
                    "| {} | {label} | – | – | not in the grid or every setting diverged | | {}| | |",
                    c.hidden,
                    if with_test { "| | " } else { "" }
                );
                continue;
            };
            let test = if with_test {
                format!(" {} | {} |", pm(b.test_loss), pm(b.test_accuracy))
            } else {
                String::new()
            };
            let reach = if b.reached == b.seeds {
                pm(b.to_target)
            } else {
                format!("{} ({} of {} seeds reach {})", pm(b.to_target), b.reached, b.seeds, num(c.target))
            };
            let speedup = if label == "momentum" {
                c.speedup().map_or("–".into(), |s| format!("{s:.2}×"))
            } else {
                String::new()
            };
            let _ = writeln!(
                t,
                "| {} | {label} | {} | {} | {} | {} |{test} {reach} | {speedup} |",
                c.hidden,
                short_number(b.gamma),
                short_number(b.alpha),
                pm(b.final_loss),
                pm(b.best_loss)
            );
        }
    }
    let targets: Vec<String> =
        analysis.comparisons.iter().map(|c| format!("M = {}: {}", c.hidden, num(c.target))).collect();
    if !targets.is_empty() {
        let _ = writeln!(t, "\nTarget training loss: {}.", targets.join("; "));
    }
    t
}

fn paired_table(analysis: &Analysis) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| M | γ | α | seeds | momentum wins | median final-loss ratio (momentum / GD) | median iterations-to-target ratio |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|---|");
    for p in &analysis.paired {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {:.0}% | {} | {} |",
            p.hidden,
            short_number(p.gamma),
            short_number(p.alpha),
            p.pairs,
            p.win_rate * 100.0,
            num(p.loss_ratio),
            num(p.iteration_ratio)
        );
    }
    t
}

fn render_markdown(sweep: &Sweep, analysis: &Analysis, figures: &[plots::Figure], with_test: bool) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Momentum against plain gradient descent: `{}`\n", sweep.info.name);
    let _ = writeln!(md, "{}.\n", describe(&sweep.info));
    let _ = writeln!(
        md,
        "Heavy-ball momentum φ ← (1−α)φ + α∇R, θ ← θ − γφ; α = 1 is plain gradient descent. Each method is shown at \
         its own best setting (lowest final training loss, averaged over {} seed(s)); values are mean ± standard \
         deviation over seeds. The target at each M is the lowest training loss that both tuned settings reach \
         with every seed (unless `--target` set it); the speed-up is GD's iterations to the target over \
         momentum's.\n",
        sweep.info.seed.len()
    );
    for note in caveats(sweep) {
        let _ = writeln!(md, "> {note}\n");
    }
    let _ = writeln!(md, "## Best settings\n\n{}", comparison_table(analysis, with_test));
    let _ = writeln!(
        md,
        "## Paired, seed by seed\n\nRuns at the same (M, seed) start from the same parameters, so at each (M, γ) \
         momentum and GD are compared on equal footing. A win is a lower final training loss; ratios below 1 favour \
         momentum.\n\n{}",
        if analysis.paired.is_empty() {
            "No pairs: the grid needs both α = 1 and α < 1 at the same γ.\n".into()
        } else {
            paired_table(analysis)
        }
    );
    let _ = writeln!(md, "## Plots\n");
    for f in figures {
        let _ = writeln!(md, "### {}\n\n![{}]({})\n", f.title, f.title, f.svg);
    }
    md
}

fn terminal_text(sweep: &Sweep, analysis: &Analysis, with_test: bool) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "{} — {}", sweep.info.name, describe(&sweep.info));
    for note in caveats(sweep) {
        let _ = writeln!(t, "note: {note}");
    }
    let _ = writeln!(t);
    t.push_str(&comparison_table(analysis, with_test));
    let _ = writeln!(t, "\nreport written to {}", sweep.dir.join("report/report.md").display());
    t
}

/// Runs `heavyball report`: locate, load, analyse, write.
pub fn run(target_path: &Path, results: &Path, target: Option<f64>) -> Result<String> {
    if let Some(t) = target
        && !(t.is_finite() && t > 0.0)
    {
        bail!("--target must be a positive loss (got {t})");
    }
    let dir = locate(target_path, results)?;
    let sweep = load(&dir)?;
    if sweep.runs.is_empty() {
        bail!("{} has no finished runs yet; nothing to report", dir.display());
    }
    let analysis = analyse(&sweep, target);
    write(&sweep, &analysis)
}
