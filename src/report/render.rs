//! The report's words and tables: `comparison.csv` and `paired.csv`, `report.md` and the text
//! printed on the terminal, from an [`Analysis`].

use std::fmt::Write as _;

use anyhow::{Context, Result};

use super::analysis::{Analysis, MINIMUM_TOLERANCE, Method, View, optimisation_criterion, stability};
use super::stats::{self, Interval};
use super::{Sweep, plots};
use crate::config::{Criterion, TuneSpec};
use crate::grid::short_number;
use crate::store::{ReportDir, SweepMeta, replace_folder, write_atomic};
use crate::tune::Tuning;

/// A number for tables: 4 significant digits, `–` for NaN.
pub(super) fn num(v: f64) -> String {
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
    // Everything is written into a staging folder beside `report/` and put in its place whole:
    // a crash or an error leaves the previous report as it was, never a mix.
    let dest = sweep.dir.report();
    remove_abandoned_staging(sweep.dir.root());
    let staged = tempfile::Builder::new()
        .prefix(".report-")
        .tempdir_in(sweep.dir.root())
        .with_context(|| format!("cannot create a folder in {}", sweep.dir.root().display()))?;
    let out = ReportDir::at(staged.path());
    let with_test = sweep.info.has_test_set();

    let mut comparison = csv::Writer::from_writer(Vec::new());
    comparison.write_record([
        "view",
        "criterion",
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
        "gamma_bracketed",
        "gamma_verdict",
        "pairs",
        "momentum_wins",
        "momentum_losses",
        "ratio_median",
        "ratio_ci_low",
        "ratio_ci_high",
        "signed_rank_p",
        "sign_test_p",
        "speedup_median",
        "speedup_ci_low",
        "speedup_ci_high",
    ])?;
    for c in analysis.all_views() {
        for b in [&c.gd, &c.momentum].into_iter().flatten() {
            let momentum = b.method == Method::Momentum;
            let speedup =
                if momentum { c.speedup().map_or(String::new(), |s| s.to_string()) } else { String::new() };
            let mut record = vec![
                c.view.name().to_string(),
                c.criterion.name().to_string(),
                c.hidden.to_string(),
                b.method.name().into(),
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
                csv_num(c.target),
                csv_num(b.to_target.0),
                csv_num(b.to_target.1),
                b.reached.to_string(),
                speedup,
                b.bracket.is_some_and(|v| v.is_bracketed()).to_string(),
                b.bracket.map_or(String::new(), |v| v.to_string()),
            ];
            // The paired statistics belong to the pair: on momentum's row.
            let interval = |i: Option<Interval>| match i {
                Some(i) => [csv_num(i.estimate), csv_num(i.low), csv_num(i.high)],
                None => Default::default(),
            };
            match c.stats.as_ref().filter(|_| momentum) {
                Some(st) => {
                    record.extend([st.pairs.to_string(), st.wins.to_string(), st.losses.to_string()]);
                    record.extend(interval(st.ratio));
                    record.extend([st.signed_rank_p, st.sign_p].map(|p| p.map_or(String::new(), csv_num)));
                    record.extend(interval(st.speedup));
                }
                None => record.extend(std::iter::repeat_n(String::new(), 11)),
            }
            comparison.write_record(&record)?;
        }
    }
    let bytes = comparison.into_inner().context("cannot encode comparison.csv")?;
    write_atomic(&out.comparison(), |w| w.write_all(&bytes))?;

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
    write_atomic(&out.paired(), |w| w.write_all(&bytes))?;

    let figures = plots::draw_all(sweep, analysis, &out)?;
    let text = render_markdown(sweep, analysis, &figures, with_test);
    write_atomic(&out.markdown(), |w| w.write_all(text.as_bytes()))?;
    let page = super::page::render(sweep, &text, out.path());
    write_atomic(&out.page(), |w| w.write_all(page.as_bytes()))?;
    replace_folder(staged, dest.path())?;
    Ok(terminal_text(sweep, analysis, with_test))
}

/// Removes the staging folders of reports that crashed: hidden `.report-*` folders of the sweep
/// untouched for an hour (a report writes for seconds, so none of these is being
/// written). Best effort: what cannot be removed stays.
fn remove_abandoned_staging(root: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(meta) = entry.path().symlink_metadata() else { continue };
        let idle = meta.modified().ok().and_then(|t| t.elapsed().ok()).is_some_and(|d| d.as_secs() > 3600);
        if name.starts_with(".report-") && meta.is_dir() && idle {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// What cannot be compared, and what is missing, as sentences.
fn caveats(sweep: &Sweep, analysis: &Analysis) -> Vec<String> {
    let mut notes = Vec::new();
    let total = sweep.runs.len() + sweep.missing.len() + sweep.damaged.len();
    if !sweep.damaged.is_empty() {
        let shown: Vec<String> =
            sweep.damaged.iter().take(3).map(|(name, why)| format!("{name} ({why})")).collect();
        let more = match sweep.damaged.len() {
            n if n > 3 => format!(" and {} more", n - 3),
            _ => String::new(),
        };
        notes.push(format!(
            "Damaged: {} finished runs are left out because their files cannot be read: {}{more}. \
             Run `heavyball run` on the config to repair or retrain them.",
            sweep.damaged.len(),
            shown.join("; ")
        ));
    }
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
    for c in &analysis.comparisons {
        for b in [&c.gd, &c.momentum].into_iter().flatten() {
            if let Some(verdict) = b.bracket.filter(|v| !v.is_bracketed()) {
                let method = crate::tune::Method { hidden: c.hidden, alpha: b.alpha };
                let advice = if sweep.tuning.as_ref().is_some_and(|t| t.finished) {
                    "the tuning stopped at max_rounds"
                } else if sweep.tuning.is_some() {
                    "the tuning is not finished; run the sweep again to go on"
                } else {
                    "its optimum may lie beyond; add a [tune] section to bracket it"
                };
                notes.push(format!("Not bracketed: {method}: {verdict}; {advice}."));
            }
        }
    }
    let with_values = sweep.curvature.len();
    if with_values > 0 && with_values < sweep.runs.len() {
        notes.push(format!(
            "Hessian values for {with_values} of {} finished runs; run `heavyball hessian` on the sweep for the rest.",
            sweep.runs.len()
        ));
    }
    let diverged = sweep.runs.iter().filter(|r| r.diverged()).count();
    if diverged > 0 {
        notes.push(format!("{diverged} of {} finished runs diverged; they count as losses and as +∞ when choosing the best setting.", sweep.runs.len()));
    }
    notes
}

/// What a best setting is chosen by, in words.
fn criterion_words(by: Criterion) -> &'static str {
    match by {
        Criterion::FinalTrainLoss => "final training loss",
        Criterion::BestTrainLoss => "training loss along the curve",
        Criterion::TestLoss => "final test loss",
    }
}

fn describe(info: &SweepMeta) -> String {
    format!(
        "{}: {} training samples{}, p = {}, K = {}; {} objective, {}, {} iterations",
        info.data,
        info.train_samples,
        if info.test_samples > 0 { format!(" + {} test", info.test_samples) } else { String::new() },
        info.features,
        info.classes,
        info.objective.name(),
        info.precision.name(),
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
                match b.bracket {
                    Some(v) if !v.is_bracketed() => format!("{} (not bracketed)", short_number(b.gamma)),
                    _ => short_number(b.gamma),
                },
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

/// Each method at its best by the final test loss: how well what it finds generalises.
fn generalisation_table(analysis: &Analysis) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "| M | method | γ | α | final test loss | test accuracy | final train loss |");
    let _ = writeln!(t, "|---|---|---|---|---|---|---|");
    for c in &analysis.generalisation {
        for (label, b) in [("plain GD", &c.gd), ("momentum", &c.momentum)] {
            match b {
                Some(b) => {
                    let _ = writeln!(
                        t,
                        "| {} | {label} | {} | {} | {} | {} | {} |",
                        c.hidden,
                        match b.bracket {
                            Some(v) if !v.is_bracketed() =>
                                format!("{} (not bracketed)", short_number(b.gamma)),
                            _ => short_number(b.gamma),
                        },
                        short_number(b.alpha),
                        pm(b.test_loss),
                        pm(b.test_accuracy),
                        pm(b.final_loss)
                    );
                }
                None => {
                    let _ = writeln!(
                        t,
                        "| {} | {label} | – | – | not in the grid or every setting diverged | | |",
                        c.hidden
                    );
                }
            }
        }
    }
    t
}

/// An interval as `median [low, high]`.
fn interval(i: Option<Interval>, unit: &str) -> String {
    match i {
        Some(i) if i.n > 1 => format!("{}{unit} [{}, {}]", num(i.estimate), num(i.low), num(i.high)),
        Some(i) => format!("{}{unit} (one seed)", num(i.estimate)),
        None => "–".into(),
    }
}

fn p_value(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 1e-4 => format!("{p:.1e}"),
        Some(p) => format!("{p:.3}"),
        None => "–".into(),
    }
}

/// Momentum's best against GD's best seed by seed, in each view: the median ratio with its
/// bootstrap interval, the exact tests, and the speed-up with its interval.
fn statistics_table(analysis: &Analysis) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| M | view | compared | seeds paired | momentum lower | momentum / GD: median [95% CI] | signed-rank p | sign-test p | speed-up to target: median [95% CI] |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|");
    for c in analysis.all_views() {
        let Some(st) = &c.stats else { continue };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} of {} | {} | {} | {} | {} |",
            c.hidden,
            c.view.name(),
            criterion_words(c.criterion),
            st.pairs,
            st.wins,
            st.pairs,
            interval(st.ratio, ""),
            p_value(st.signed_rank_p),
            p_value(st.sign_p),
            if c.view == View::Optimisation { interval(st.speedup, "×") } else { "–".into() }
        );
    }
    let fewest = analysis.fewest_pairs();
    let _ = writeln!(
        t,
        "\nEach seed is a pair: the two bests at one (M, seed) start from the same parameters. The ratio is \
         momentum's value over GD's per seed (below 1 favours momentum; +∞ when momentum diverged), its interval a \
         percentile bootstrap over seeds ({} resamples, seeded, so the report is reproducible). The signed-rank test \
         (Wilcoxon, exact) is on the log ratios, the sign test on wins against losses; both two-sided. The speed-up \
         is GD's iterations to the target over momentum's, per seed where both reach it.",
        stats::RESAMPLES
    );
    if let Some(n) = fewest
        && n < stats::fewest_pairs()
    {
        let _ = writeln!(
            t,
            "\n**Too few seeds for a test to mean anything**: with {n} pair(s) the smallest p-value any of these tests \
             can give is {}, so none can reach p < {:.2}. The intervals only span the seeds seen. Run at least {} \
             seeds before reading these as evidence.",
            p_value(Some(stats::smallest_p(n))),
            1.0 - stats::LEVEL,
            stats::fewest_pairs()
        );
    }
    t
}

/// The tuning of each method: the γ values each round added, and the verdict.
fn tuning_table(spec: &TuneSpec, tuning: &Tuning) -> String {
    let mut t = String::new();
    let state = if tuning.finished { "finished" } else { "in progress" };
    let _ = writeln!(
        t,
        "Each method's γ tuned by {} to a resolution of {}: round {} of at most {} ({state}). Round 1 is the \
         grid; each later round added, for every method whose best γ was not yet bracketed, one γ towards it \
         (every seed of each).\n",
        spec.by.name(),
        spec.resolution,
        tuning.round(),
        spec.max_rounds
    );
    let _ = writeln!(t, "| method | γ added (round) | verdict |\n|---|---|---|");
    for (method, verdict) in &tuning.verdicts {
        let added: Vec<String> = tuning
            .rounds
            .iter()
            .enumerate()
            .flat_map(|(r, round)| {
                round.added.iter().filter(|(m, _)| m == method).map(move |(_, g)| (r + 2, *g))
            })
            .map(|(round, gamma)| format!("{} ({round})", short_number(gamma)))
            .collect();
        let added = if added.is_empty() { "–".to_string() } else { added.join(", ") };
        let _ = writeln!(t, "| {method} | {added} | {verdict} |");
    }
    t
}

/// Theory beside the experiment: per (M, α), the largest γ the sharpness at init predicts
/// stable against the largest that converged and the smallest that diverged.
fn stability_table(sweep: &Sweep) -> Option<String> {
    let rows = stability(&sweep.info, &sweep.runs, &sweep.curvature);
    if rows.is_empty() {
        return None;
    }
    let mut t = String::new();
    let _ = writeln!(
        t,
        "On a quadratic with curvature λ, heavy ball with step γα and momentum 1−α is stable for γλ < 2(2−α)/α \
         (plain GD: γλ < 2). With λ₀, the sharpness (the Hessian's largest eigenvalue) at the initial point, \
         averaged over seeds, the largest γ predicted stable is 2(2−α)/(α·λ₀). Networks are not quadratics: \
         the sharpness changes as they train, so the prediction is a reference, not a verdict. {}\n",
        if sweep.curvature.is_empty() {
            "λ₀ from the curves' sharpness column at iteration 0; run `heavyball hessian` for the values at the final \
             points."
                .to_string()
        } else {
            format!(
                "Values from `heavyball hessian` ({} of {} finished runs).",
                sweep.curvature.len(),
                sweep.runs.len()
            )
        }
    );
    let _ = writeln!(
        t,
        "| M | α | λ₀ | largest γ predicted stable | largest γ converged | smallest γ diverged | ended at a minimum |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|---|");
    let gamma = |g: Option<f64>| g.map_or("–".to_string(), short_number);
    for r in rows {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.hidden,
            short_number(r.alpha),
            num(r.sharpness_at_init),
            num(r.predicted),
            gamma(r.converged),
            gamma(r.diverged),
            if r.at_minimum.1 == 0 {
                "–".to_string()
            } else {
                format!("{} of {}", r.at_minimum.0, r.at_minimum.1)
            }
        );
    }
    let _ = writeln!(
        t,
        "\nA run ended at a minimum when λ_min ≥ −{}·λ_max at its final point (diverged runs have no final values).",
        MINIMUM_TOLERANCE
    );
    Some(t)
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

pub(super) fn render_markdown(
    sweep: &Sweep,
    analysis: &Analysis,
    figures: &[plots::Figure],
    with_test: bool,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Momentum against plain gradient descent: `{}`\n", sweep.info.name);
    let _ = writeln!(md, "{}.\n", describe(&sweep.info));
    let _ = writeln!(
        md,
        "Heavy-ball momentum φ ← (1−α)φ + α∇R, θ ← θ − γφ; α = 1 is plain gradient descent. Each method is shown at \
         its own best setting (lowest {}, averaged over {} seed(s); a diverged seed counts as +∞); values are mean \
         ± standard deviation over seeds. The target at each M is the lowest training loss that both tuned settings reach \
         with every seed (unless `--target` set it); the speed-up is GD's iterations to the target over \
         momentum's.\n",
        criterion_words(optimisation_criterion(&sweep.info)),
        sweep.info.seed.len()
    );
    for note in caveats(sweep, analysis) {
        let _ = writeln!(md, "> {note}\n");
    }
    let _ = writeln!(
        md,
        "## Best settings: optimisation\n\nEach method at its lowest {}.\n\n{}",
        criterion_words(optimisation_criterion(&sweep.info)),
        comparison_table(analysis, with_test)
    );
    if !sweep.info.has_test_set() {
        let _ = writeln!(
            md,
            "## Best settings: generalisation\n\nNot computed: this sweep has no test set. Set `test_fraction` in `[data]` \
             (IDX data brings its own test set) for a view of each method at its lowest test loss.\n"
        );
    } else if !analysis.generalisation.is_empty() {
        let _ = writeln!(
            md,
            "## Best settings: generalisation\n\nEach method at its lowest final test loss (seed mean): how well what \
             it finds does on the held-out data.\n\n{}",
            generalisation_table(analysis)
        );
    }
    if analysis.fewest_pairs().is_some() {
        let _ = writeln!(md, "## Is the difference real? Seed by seed\n\n{}", statistics_table(analysis));
    }
    if let (Some(spec), Some(tuning)) = (&sweep.info.tune, &sweep.tuning) {
        let _ = writeln!(md, "## Tuning\n\n{}", tuning_table(spec, tuning));
    }
    let _ = writeln!(
        md,
        "## Every γ, seed by seed\n\nRuns at the same (M, seed) start from the same parameters, so at each (M, γ) \
         momentum and GD are compared on equal footing. A win is a lower final training loss; ratios below 1 favour \
         momentum.\n\n{}",
        if analysis.paired.is_empty() {
            "No pairs: the grid needs both α = 1 and α < 1 at the same γ.\n".into()
        } else {
            paired_table(analysis)
        }
    );
    if let Some(table) = stability_table(sweep) {
        let _ = writeln!(md, "## Stability: theory beside the experiment\n\n{table}");
    }
    let _ = writeln!(md, "## Plots\n");
    for f in figures {
        let _ = writeln!(md, "### {}\n\n![{}]({})\n", f.title, f.title, f.svg);
    }
    md
}

pub(super) fn terminal_text(sweep: &Sweep, analysis: &Analysis, with_test: bool) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "{} — {}", sweep.info.name, describe(&sweep.info));
    if let Some(tuning) = &sweep.tuning {
        let bracketed = tuning.verdicts.iter().filter(|(_, v)| v.is_bracketed()).count();
        let state = if tuning.finished { "finished" } else { "in progress" };
        let _ = writeln!(
            t,
            "tuning {state}: round {}, {bracketed} of {} methods bracketed (report.md lists each round's γ values)",
            tuning.round(),
            tuning.verdicts.len()
        );
    }
    if !stability(&sweep.info, &sweep.runs, &sweep.curvature).is_empty() {
        let _ = writeln!(
            t,
            "stability: the γ the sharpness at init predicts stable, beside the γ that converged and diverged, in report.md"
        );
    }
    for note in caveats(sweep, analysis) {
        let _ = writeln!(t, "note: {note}");
    }
    let _ = writeln!(
        t,
        "\nOptimisation: each method at its lowest {}",
        criterion_words(optimisation_criterion(&sweep.info))
    );
    t.push_str(&comparison_table(analysis, with_test));
    if !analysis.generalisation.is_empty() {
        let _ = writeln!(t, "\nGeneralisation: each method at its lowest final test loss");
        t.push_str(&generalisation_table(analysis));
    }
    if analysis.fewest_pairs().is_some() {
        let _ = writeln!(t, "\nSeed by seed (momentum's best against GD's):");
        for c in analysis.all_views() {
            let Some(st) = &c.stats else { continue };
            let _ = writeln!(
                t,
                "  M = {}, {}: momentum / GD {} {}, lower in {} of {} seeds, signed-rank p = {}{}",
                c.hidden,
                c.view.name(),
                criterion_words(c.criterion),
                interval(st.ratio, ""),
                st.wins,
                st.pairs,
                p_value(st.signed_rank_p),
                match (c.view, st.speedup) {
                    (View::Optimisation, Some(s)) => format!("; speed-up {}", interval(Some(s), "×")),
                    _ => String::new(),
                }
            );
        }
        if let Some(n) = analysis.fewest_pairs()
            && n < stats::fewest_pairs()
        {
            let _ = writeln!(
                t,
                "  {n} seed(s): too few for a test to reach p < {:.2}; run at least {} for evidence.",
                1.0 - stats::LEVEL,
                stats::fewest_pairs()
            );
        }
    }
    let _ = writeln!(t, "\nreport written to {}", sweep.dir.report().markdown().display());
    t
}
