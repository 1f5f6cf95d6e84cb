//! The report's CSV files: `comparison.csv` (each view's two bests per M, with the paired
//! statistics on momentum's row) and `paired.csv` (momentum against GD seed by seed at every
//! (M, γ, α < 1)).

use anyhow::{Context, Result};

use super::analysis::{Analysis, Method};
use super::format::csv_num;
use super::paired::SeedsUsed;
use super::stats::Interval;

/// The columns of `comparison.csv`: per view and M, one row per method's best. Its figures
/// are on the seeds `seeds_used` names (the confirmation seeds when the sweep confirmed its
/// bests, else the seeds that chose them); the paired statistics sit on momentum's row.
const COMPARISON: [&str; 38] = [
    "view",
    "criterion",
    "aggregate",
    "hidden",
    "method",
    "gamma",
    "alpha",
    "seeds_used",
    "seeds",
    "diverged",
    "score",
    "score_lowest",
    "score_highest",
    "final_train_loss_mean",
    "final_train_loss_sd",
    "final_test_loss_mean",
    "final_test_loss_sd",
    "final_test_accuracy_mean",
    "final_test_accuracy_sd",
    "target_loss",
    "iterations_to_target_median",
    "seeds_reaching_target",
    "gamma_bracketed",
    "gamma_verdict",
    "fragile",
    "pairs",
    "momentum_wins",
    "momentum_losses",
    "ratio_median",
    "ratio_ci_low",
    "ratio_ci_high",
    "ratio_ci_coverage",
    "signed_rank_p",
    "sign_test_p",
    "speedup_median",
    "speedup_ci_low",
    "speedup_ci_high",
    "speedup_censored",
];

/// The bytes of `comparison.csv`.
pub(super) fn comparison(analysis: &Analysis) -> Result<Vec<u8>> {
    let mut comparison = csv::Writer::from_writer(Vec::new());
    comparison.write_record(COMPARISON)?;
    for c in analysis.all_views() {
        for b in [&c.gd, &c.momentum].into_iter().flatten() {
            let s = b.shown();
            let seeds_used =
                if b.confirmation.is_some() { SeedsUsed::Confirmation } else { SeedsUsed::Selection };
            let mut record = vec![
                c.view.name().to_string(),
                c.selection.by.name().to_string(),
                c.selection.aggregate.name().to_string(),
                c.hidden.to_string(),
                b.method.name().into(),
                b.gamma.to_string(),
                b.alpha.to_string(),
                seeds_used.name().to_string(),
                s.seeds.len().to_string(),
                s.diverged.to_string(),
                csv_num(s.score),
                csv_num(s.score_range.0),
                csv_num(s.score_range.1),
                csv_num(s.final_loss.0),
                csv_num(s.final_loss.1),
                csv_num(s.test_loss.0),
                csv_num(s.test_loss.1),
                csv_num(s.test_accuracy.0),
                csv_num(s.test_accuracy.1),
                csv_num(c.target),
                // No target (the generalisation view): no hitting times either.
                if c.target.is_nan() { String::new() } else { csv_num(s.median_to_target()) },
                if c.target.is_nan() { String::new() } else { s.reached().to_string() },
                b.bracket.is_some_and(|v| v.is_bracketed()).to_string(),
                b.bracket.map_or(String::new(), |v| v.to_string()),
                b.is_fragile().to_string(),
            ];
            // The paired statistics belong to the pair: on momentum's row.
            let interval = |i: Option<Interval>| -> [String; 3] {
                match i {
                    Some(i) => [
                        csv_num(i.estimate),
                        i.bounds.map_or(String::new(), |b| csv_num(b.0)),
                        i.bounds.map_or(String::new(), |b| csv_num(b.1)),
                    ],
                    None => Default::default(),
                }
            };
            match c.stats.as_ref().filter(|_| b.method == Method::Momentum) {
                Some(st) => {
                    record.extend([st.pairs.to_string(), st.wins.to_string(), st.losses.to_string()]);
                    record.extend(interval(st.ratio));
                    record.push(st.ratio.and_then(|r| r.coverage).map_or(String::new(), csv_num));
                    record.extend([st.signed_rank_p, st.sign_p].map(|p| p.map_or(String::new(), csv_num)));
                    record.extend(interval(st.speedup));
                    record.push(st.censored.to_string());
                }
                None => record.extend(std::iter::repeat_n(String::new(), COMPARISON.len() - record.len())),
            }
            comparison.write_record(&record)?;
        }
    }
    comparison.into_inner().context("cannot encode comparison.csv")
}

/// The bytes of `paired.csv`.
pub(super) fn paired(analysis: &Analysis) -> Result<Vec<u8>> {
    let mut paired = csv::Writer::from_writer(Vec::new());
    paired.write_record([
        "hidden",
        "gamma",
        "alpha",
        "pairs",
        "win_rate",
        "median_final_loss_ratio",
        "median_speedup",
    ])?;
    for p in &analysis.paired {
        paired.write_record([
            p.hidden.to_string(),
            p.gamma.to_string(),
            p.alpha.to_string(),
            p.pairs.to_string(),
            p.win_rate.to_string(),
            csv_num(p.loss_ratio),
            csv_num(p.speedup),
        ])?;
    }
    paired.into_inner().context("cannot encode paired.csv")
}
