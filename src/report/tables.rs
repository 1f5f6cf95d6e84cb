//! The report's tables, as markdown: `report.md` shows them all, the terminal some of them.

use std::fmt::Write as _;

use super::Sweep;
use super::analysis::{Analysis, View};
use super::format::{criterion_words, interval, num, p_value, pm};
use super::stability::{MINIMUM_TOLERANCE, stability};
use super::stats;
use crate::config::TuneSpec;
use crate::grid::short_number;
use crate::tune::Tuning;

/// Each method at its best by the optimisation view's criterion: its setting, losses, the
/// iterations to the target and momentum's speed-up.
pub(super) fn comparison_table(analysis: &Analysis, with_test: bool) -> String {
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
pub(super) fn generalisation_table(analysis: &Analysis) -> String {
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

/// Momentum's best against GD's best seed by seed, in each view: the median ratio with its
/// bootstrap interval, the exact tests, and the speed-up with its interval.
pub(super) fn statistics_table(analysis: &Analysis) -> String {
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
pub(super) fn tuning_table(spec: &TuneSpec, tuning: &Tuning) -> String {
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
pub(super) fn stability_table(sweep: &Sweep) -> Option<String> {
    let rows = stability(&sweep.info, &sweep.runs, &sweep.hessians);
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
        if sweep.hessians.is_empty() {
            "λ₀ from the curves' sharpness column at iteration 0; run `heavyball hessian` for the values at the final \
             points."
                .to_string()
        } else {
            format!(
                "Values from `heavyball hessian` ({} of {} finished runs).",
                sweep.hessians.len(),
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

pub(super) fn paired_table(analysis: &Analysis) -> String {
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
