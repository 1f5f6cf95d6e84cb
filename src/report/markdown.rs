//! `report.md`: the whole report as markdown, its tables, notes and figures in order. The page
//! (`index.html`) is made from it.

use std::fmt::Write as _;

use super::Sweep;
use super::analysis::Analysis;
use super::figures::Figure;
use super::format::selection_words;
use super::notes::{caveats, describe};
use super::tables::{
    comparison_table, generalisation_table, paired_table, stability_table, statistics_table, tuning_table,
};

/// The heading of the section with the bests head to head, which the page shows first.
pub(super) const HEAD_TO_HEAD: &str = "## Head to head";

/// The markdown of the report, the figures linked by their SVG files.
pub(super) fn render_markdown(
    sweep: &Sweep,
    analysis: &Analysis,
    figures: &[Figure],
    with_test: bool,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Momentum against plain gradient descent: `{}`\n", sweep.info.name);
    let _ = writeln!(md, "{}.\n", describe(&sweep.info));
    let _ = writeln!(
        md,
        "Heavy-ball momentum φ ← (1−α)φ + α∇R, θ ← θ − γφ; α = 1 is plain gradient descent. Each method is shown at \
         its own best setting, chosen on the {} selection seed(s) by the lowest {} (a diverged seed counts as +∞).{} \
         The target at each M is the lowest training loss that both bests reach with every seed compared (the \
         confirmation seeds when there are, unless `--target` set it); the speed-up is GD's iterations to the target over momentum's, seed by seed.\n",
        sweep.info.seed.len(),
        selection_words(sweep.info.selection()),
        match &sweep.confirmation {
            Some(c) => format!(
                " Each best was then trained again on {} fresh seeds, and every statistic of the comparison is computed \
                 on those alone.",
                c.seeds.len()
            ),
            None => String::new(),
        }
    );
    for note in caveats(sweep, analysis) {
        let _ = writeln!(md, "> {note}\n");
    }
    let _ = writeln!(
        md,
        "## Best settings: optimisation\n\nEach method at its lowest {}.\n\n{}",
        selection_words(sweep.info.selection()),
        comparison_table(analysis, with_test)
    );
    // The bests head to head and seed by seed: the figures the page opens on.
    let (head, rest): (Vec<&Figure>, Vec<&Figure>) = figures.iter().partition(|f| f.is_head_to_head());
    if !head.is_empty() {
        let _ = writeln!(
            md,
            "{HEAD_TO_HEAD}\n\nPer M, the two bests' training loss on every compared seed (thin) and their median (bold), \
             then seed by seed the ratio of their criterion and the speed-up to the target, with the median and its 95% \
             interval.\n"
        );
        for f in head {
            let _ = writeln!(md, "### {}\n\n![{}]({})\n", f.title, f.title, f.svg_name());
        }
    }
    if !sweep.info.has_test_set() {
        let _ = writeln!(
            md,
            "## Best settings: generalisation\n\nNot computed: this sweep has no test set. Set `test_fraction` in `[data]` \
             (IDX data brings its own test set) for a view of each method at its lowest test loss.\n"
        );
    } else if !analysis.generalisation.is_empty() {
        let _ = writeln!(
            md,
            "## Best settings: generalisation\n\nEach method at its lowest final test loss (seeds by the same rule): \
             how well what it finds does on the held-out data.\n\n{}",
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
         momentum and GD are compared on equal footing, here on the selection seeds. A win is a lower final training \
         loss; loss ratios below 1 and speed-ups above 1 favour momentum. A speed-up of ∞ means that on at least \
         half the seeds GD never reached the target and momentum did; 0 the reverse; – that on no seed either did.\n\n{}",
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
    for f in rest {
        let _ = writeln!(md, "### {}\n\n![{}]({})\n", f.title, f.title, f.svg_name());
    }
    md
}
