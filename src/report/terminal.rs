//! What `heavyball report` prints: the sweep in a line, the notes, the best settings of each
//! view and the seed-by-seed statistics, and where the report was written.

use std::fmt::Write as _;

use super::Sweep;
use super::analysis::{Analysis, View};
use super::format::{criterion_short, interval, p_value, selection_words};
use super::notes::{caveats, describe};
use super::paired::SeedsUsed;
use super::stability::stability;
use super::stats;
use super::tables::{comparison_table, generalisation_table};

/// The text printed on the terminal.
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
    if !stability(&sweep.info, &sweep.runs, &sweep.hessians).is_empty() {
        let _ = writeln!(
            t,
            "stability: the γ the sharpness at init predicts stable, beside the γ that converged and diverged, in report.md"
        );
    }
    for note in caveats(sweep, analysis) {
        let _ = writeln!(t, "note: {note}");
    }
    let _ =
        writeln!(t, "\nOptimisation: each method at its lowest {}", selection_words(sweep.info.selection()));
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
                "  M = {}, {}, on the {} seeds{}: momentum / GD {} {}, lower in {} of {} seeds, signed-rank p = {}, \
                 sign-test p = {}{}",
                c.hidden,
                c.view.name(),
                st.seeds_used.name(),
                if st.seeds_used == SeedsUsed::Selection { " (in-sample)" } else { "" },
                criterion_short(c.selection.by),
                interval(st.ratio, ""),
                st.wins,
                st.pairs,
                p_value(st.signed_rank_p),
                p_value(st.sign_p),
                match (c.view, st.speedup) {
                    (View::Optimisation, Some(s)) => format!("; speed-up {}", interval(Some(s), "×")),
                    _ => String::new(),
                }
            );
        }
        if analysis.in_sample() {
            let remedy = match analysis.confirmation_seeds.is_empty() {
                true => "add [confirm] seeds = 8 to the config to test on fresh seeds",
                false => "finish the confirmation round (heavyball run on the config) to test on fresh seeds",
            };
            let _ = writeln!(
                t,
                "  post-selection: these p-values are on the seeds that chose the bests and overstate the evidence; \
                 {remedy}."
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
