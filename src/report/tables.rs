//! The report's tables, as markdown: `report.md` shows them all, the terminal some of them.

use std::fmt::Write as _;

use super::Sweep;
use super::analysis::{Analysis, Best, Comparison, Method, Summary, View};
use super::format::{criterion_short, interval, iterations, num, p_value, pm};
use super::paired::SeedsUsed;
use super::stability::{MINIMUM_TOLERANCE, stability};
use super::stats;
use crate::config::TuneSpec;
use crate::grid::short_number;
use crate::sweep::seed_list;
use crate::tune::Tuning;

/// The seeds a table's figures are on, in words.
fn seeds_words(analysis: &Analysis, confirmed: bool) -> String {
    if confirmed {
        format!(
            "Figures on the {} confirmation seeds ({}), fresh initial points that took no part in choosing; the \
             bests were chosen on seeds {}.",
            analysis.confirmation_seeds.len(),
            seed_list(&analysis.confirmation_seeds),
            seed_list(&analysis.selection_seeds)
        )
    } else {
        format!(
            "Figures on the seeds that chose the bests ({}): in-sample, so they flatter the winner.",
            seed_list(&analysis.selection_seeds)
        )
    }
}

/// The γ of a best, with what the tuning says of it and whether it is fragile.
fn gamma_cell(b: &Best) -> String {
    let mut cell = short_number(b.gamma);
    if b.bracket.is_some_and(|v| !v.is_bracketed()) {
        cell.push_str(" (not bracketed)");
    }
    if b.is_fragile() {
        cell.push_str(" **fragile**");
    }
    cell
}

/// A summary's criterion: "median [lowest, highest]" over its seeds.
fn score_cell(s: &Summary) -> String {
    if s.seeds.len() > 1 {
        format!("{} [{}, {}]", num(s.score), num(s.score_range.0), num(s.score_range.1))
    } else {
        num(s.score)
    }
}

/// One view's table: each method at its best, its figures on the seeds shown (confirmation or
/// selection), and momentum's speed-up.
fn bests_table(analysis: &Analysis, comparisons: &[Comparison], with_test: bool, speed: bool) -> String {
    let mut t = String::new();
    let Some(first) = comparisons.first() else { return t };
    let confirmed =
        comparisons.iter().flat_map(|c| [&c.gd, &c.momentum]).flatten().all(|b| b.confirmation.is_some());
    let _ = writeln!(t, "{}\n", seeds_words(analysis, confirmed));
    let test_cols = if with_test { " final test loss | test accuracy |" } else { "" };
    let speed_cols =
        if speed { " iterations to target: median | speed-up: median [95% interval] |" } else { "" };
    let _ = writeln!(
        t,
        "| M | method | γ | α | seeds | {}: median [range] | final train loss |{test_cols}{speed_cols}",
        criterion_short(first.selection.by)
    );
    let columns = 7 + if with_test { 2 } else { 0 } + if speed { 2 } else { 0 };
    let _ = writeln!(t, "|{}", "---|".repeat(columns));
    for c in comparisons {
        for (label, b) in [("plain GD", &c.gd), ("momentum", &c.momentum)] {
            let Some(b) = b else {
                let _ = writeln!(
                    t,
                    "| {} | {label} | – | – | – | not in the grid or every setting diverged |{}",
                    c.hidden,
                    " |".repeat(columns - 6)
                );
                continue;
            };
            let s = b.shown();
            let test = if with_test {
                format!(" {} | {} |", pm(s.test_loss), pm(s.test_accuracy))
            } else {
                String::new()
            };
            let speed_cells = if speed {
                let reach = match s.reached() {
                    n if n == s.seeds.len() => iterations(s.median_to_target(), s.iterations),
                    n => format!(
                        "{} ({n} of {} seeds reach it)",
                        iterations(s.median_to_target(), s.iterations),
                        s.seeds.len()
                    ),
                };
                let speedup = match (b.method, &c.stats) {
                    (Method::Momentum, Some(st)) => interval(st.speedup, "×"),
                    _ => String::new(),
                };
                format!(" {reach} | {speedup} |")
            } else {
                String::new()
            };
            let _ = writeln!(
                t,
                "| {} | {label} | {} | {} | {} | {} | {} |{test}{speed_cells}",
                c.hidden,
                gamma_cell(b),
                short_number(b.alpha),
                s.seeds.len(),
                score_cell(s),
                pm(s.final_loss),
            );
        }
    }
    t
}

/// Each method at its best by the optimisation view's selection: its setting, its criterion,
/// losses, the iterations to the target and momentum's speed-up; then the targets.
pub(super) fn comparison_table(analysis: &Analysis, with_test: bool) -> String {
    let mut t = bests_table(analysis, &analysis.comparisons, with_test, true);
    let targets: Vec<String> =
        analysis.comparisons.iter().map(|c| format!("M = {}: {}", c.hidden, num(c.target))).collect();
    if !targets.is_empty() {
        let _ = writeln!(
            t,
            "\nTarget training loss: {}. The speed-up is GD's iterations to the target over momentum's, seed by seed \
             (above 1: momentum is faster); a seed that never reaches the target counts as more than the last \
             iteration, never as it.",
            targets.join("; ")
        );
    }
    t
}

/// Each method at its best by the final test loss: how well what it finds generalises.
pub(super) fn generalisation_table(analysis: &Analysis) -> String {
    bests_table(analysis, &analysis.generalisation, true, false)
}

/// Momentum's best against GD's best seed by seed, in each view: the median ratio with its
/// distribution-free interval, both exact tests, and the speed-up with its interval.
pub(super) fn statistics_table(analysis: &Analysis) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| M | view | compared | seeds | pairs | momentum lower | momentum / GD: median [95% interval] | signed-rank p | sign-test p | speed-up: median [95% interval] |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|---|");
    for c in analysis.all_views() {
        let Some(st) = &c.stats else { continue };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} of {} | {} | {} | {} | {} |",
            c.hidden,
            c.view.name(),
            criterion_short(c.selection.by),
            match st.seeds_used {
                SeedsUsed::Confirmation => "confirmation",
                SeedsUsed::Selection => "selection (in-sample)",
            },
            st.pairs,
            st.wins,
            st.pairs,
            interval(st.ratio, ""),
            p_value(st.signed_rank_p),
            p_value(st.sign_p),
            if c.view == View::Optimisation { interval(st.speedup, "×") } else { "–".into() }
        );
    }
    let _ = writeln!(
        t,
        "\nEach seed is a pair: the two bests at one (M, seed) start from the same parameters. The ratio is \
         momentum's value over GD's per seed (below 1 favours momentum; +∞ when momentum diverged). Intervals are {}: \
         they cover the median with at least 95% probability whatever the values' distribution, and with fewer than \
         6 seeds no such interval exists. The signed-rank test (Wilcoxon, exact) is on the log ratios, the sign test on \
         wins against losses; both two-sided. The speed-up is GD's iterations to the target over momentum's, per seed \
         (a seed that never reaches it counts as slower than any that does).",
        stats::INTERVAL_METHOD
    );
    if analysis.in_sample() {
        let remedy = match analysis.confirmation_seeds.is_empty() {
            true => {
                "Add a `[confirm]` section (`seeds = 8`) to train the bests again on fresh seeds and compute them there."
            }
            false => {
                "Finish the confirmation round (`heavyball run` on the config) to compute them on fresh seeds."
            }
        };
        let _ = writeln!(
            t,
            "\n**Post-selection**: these statistics are computed on the seeds that chose the bests they compare, and \
             momentum chose from more settings than GD, so they overstate the evidence. {remedy}"
        );
    }
    if let Some(n) = analysis.fewest_pairs()
        && n < stats::fewest_pairs()
    {
        let _ = writeln!(
            t,
            "\n**Too few seeds for a test to mean anything**: with {n} pair(s) the smallest p-value either test can \
             give is {}, so none can reach p < {:.2}. Use at least {} seeds before reading these as evidence.",
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
        "Each method's γ tuned by {} (seeds by their {}) to a resolution of {}: round {} of at most {} ({state}). \
         Round 1 is the grid; each later round added, for every method whose best γ was not yet bracketed, one γ \
         towards it (every seed of each). A method whose best is fragile stops there: bisecting a rough \
         landscape would bracket noise.\n",
        spec.by.name(),
        spec.aggregate.name(),
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
        "| M | α | λ₀ | largest γ predicted stable | largest γ that converged | smallest γ diverged | ended at a minimum |"
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
        "\nA γ converged when every seed finished below its initial loss. A run ended at a minimum when \
         λ_min ≥ −{}·λ_max at its final point (diverged runs have no final values).",
        MINIMUM_TOLERANCE
    );
    Some(t)
}

pub(super) fn paired_table(analysis: &Analysis) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| M | γ | α | seeds | momentum wins | median final-loss ratio (momentum / GD) | median speed-up to target (GD / momentum) |"
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
            num(p.speedup)
        );
    }
    t
}
