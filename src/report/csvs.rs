//! The report's CSV files: `comparison.csv` (each view's two bests per M, with the paired
//! statistics on momentum's row) and `paired.csv` (momentum against GD seed by seed at every
//! (M, γ, α < 1)).

use anyhow::{Context, Result};

use super::analysis::{Analysis, Method};
use super::format::csv_num;
use super::stats::Interval;

/// The bytes of `comparison.csv`.
pub(super) fn comparison(analysis: &Analysis) -> Result<Vec<u8>> {
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
    paired.into_inner().context("cannot encode paired.csv")
}
