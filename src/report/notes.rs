//! What the report says about the sweep itself, on the terminal and in `report.md`: a line
//! describing it, and the caveats (damaged or missing runs, a method missing, fragile or
//! unbracketed bests, f32's resolution, a pending confirmation, partial Hessian values,
//! divergences).

use super::Sweep;
use super::analysis::{Analysis, Best, View, near_f32_resolution};
use super::format::num;
use super::paired::SeedsUsed;
use crate::grid::short_number;
use crate::store::SweepMeta;
use crate::tune::{Neighbour, ROUGH, Verdict};

/// What cannot be compared, and what is missing, as sentences.
pub(super) fn caveats(sweep: &Sweep, analysis: &Analysis) -> Vec<String> {
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
    if sweep.info.confirm.is_some() && sweep.confirmation.is_none() {
        notes.push(
            "Confirmation pending: the bests are trained again on fresh seeds once every selection run is \
             finished; run `heavyball run` on the config to go on. Until then the statistics are in-sample."
                .into(),
        );
    } else if sweep.info.confirm.is_some() {
        // The round is decided, but a comparison with bests is still on the selection seeds:
        // some of its fresh-seed runs are not finished (or were left out as damaged).
        let unfinished: Vec<String> = analysis
            .all_views()
            .filter(|c| c.stats.as_ref().is_some_and(|s| s.seeds_used == SeedsUsed::Selection))
            .map(|c| format!("M = {} ({} view)", c.hidden, c.view.name()))
            .collect();
        if !unfinished.is_empty() {
            notes.push(format!(
                "Confirmation unfinished at {}: not every fresh-seed run of the bests there is recorded, so \
                 both methods' figures and the statistics are on the selection seeds (in-sample). Run \
                 `heavyball run` on the config to finish the confirmation round.",
                unfinished.join(", ")
            ));
        }
    }
    for c in analysis.all_views() {
        for b in [&c.gd, &c.momentum].into_iter().flatten() {
            let method = crate::tune::Method { hidden: c.hidden, alpha: b.alpha };
            if b.is_fragile() {
                notes.push(fragile_note(&method.to_string(), b, c.view, sweep.info.tune.is_some()));
            }
            if near_f32_resolution(&sweep.info, b) {
                notes.push(format!(
                    "Near f32's resolution: {method} ({} view) ends at {} against an initial loss of {}, below a \
                     millionth of it, where rounding may decide which γ wins. `precision = \"f64\"` in `[train]` \
                     settles it.",
                    c.view.name(),
                    num(b.selection.score),
                    num(b.selection.initial_loss)
                ));
            }
        }
    }
    for c in &analysis.comparisons {
        for b in [&c.gd, &c.momentum].into_iter().flatten() {
            if let Some(verdict) = b.bracket.filter(|v| !v.is_bracketed()) {
                let method = crate::tune::Method { hidden: c.hidden, alpha: b.alpha };
                if matches!(verdict, Verdict::Fragile { .. } | Verdict::Stuck { .. }) {
                    notes.push(format!("Tuning stopped: {method}: {verdict}."));
                    continue;
                }
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
    let with_values = sweep.hessians.len();
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

/// A fragile best in words, with its neighbours' scores: "momentum α = 0.2 at M = 64: best γ =
/// 4.21 (4.5e-9) lies between 3.65 (0.14) and 4.86 (0.0023); the verdict at this M rests on
/// one γ".
pub(super) fn fragile_note(method: &str, b: &Best, view: View, tuned: bool) -> String {
    let f = &b.fragility;
    let side = |n: Option<Neighbour>| {
        n.map(|n| {
            let score = if n.score.is_finite() { num(n.score) } else { "diverged".into() };
            format!("{} ({score})", short_number(n.gamma))
        })
    };
    let place = match (side(f.below), side(f.above)) {
        (Some(lo), Some(hi)) => format!("lies between {lo} and {hi}"),
        (Some(lo), None) => format!("is the largest tried, above {lo}"),
        (None, Some(hi)) => format!("is the smallest tried, below {hi}"),
        (None, None) => "is the only γ tried".into(),
    };
    let seeds = if f.span > ROUGH {
        format!(
            "; its own seeds end {} times apart",
            if f.span.is_finite() { num(f.span) } else { "infinitely many".into() }
        )
    } else {
        String::new()
    };
    let edge = if f.at_edge() {
        "; a neighbouring γ diverged, so the best sits at the edge of stability, where fresh seeds may cross it"
    } else {
        ""
    };
    let remedy = if tuned || view == View::Generalisation {
        ""
    } else {
        " A `[tune]` section looks closer around it, and `[confirm]` tries it on fresh seeds."
    };
    format!(
        "Fragile ({} view): {method}: best γ = {} ({}) {place}{seeds}{edge}; the verdict at this M rests on one γ.{remedy}",
        view.name(),
        short_number(b.gamma),
        num(f.score)
    )
}

/// The data, its sizes and the training settings, in one line.
pub(super) fn describe(info: &SweepMeta) -> String {
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
