//! Momentum against plain GD seed by seed: runs at the same (M, seed) share their initial
//! point, so each seed is a pair. The two bests' paired statistics ([`PairedStats`]) and, at
//! every (M, γ, α < 1) whose γ GD also ran, the paired rows ([`Paired`]).

use super::analysis::{Setting, final_loss, iterations_to};
use super::stats::{self, Interval, median};
use crate::config::Criterion;
use crate::store::RunRecord;
use crate::tune::run_score;

/// Momentum's runs paired with GD's of the same seed (runs at one (M, seed) share their
/// initial point); seeds without both are left out.
pub(super) fn pairs_by_seed<'a>(
    momentum: &[&'a RunRecord],
    gd: &[&'a RunRecord],
) -> Vec<(&'a RunRecord, &'a RunRecord)> {
    momentum
        .iter()
        .filter_map(|mo| gd.iter().find(|g| g.meta.seed == mo.meta.seed).map(|g| (*mo, *g)))
        .collect()
}

/// Momentum's best against GD's best at one M, seed by seed: runs at the same (M, seed) start
/// from the same parameters, so each seed is a pair.
#[derive(Clone, Debug, PartialEq)]
pub struct PairedStats {
    /// Seeds with both runs finished.
    pub pairs: usize,
    /// Pairs where momentum's value is lower (a diverged run's is +∞).
    pub wins: usize,
    /// Pairs where GD's is lower.
    pub losses: usize,
    /// Momentum's value over GD's, per seed: median and 95% bootstrap interval (pairs where
    /// both diverged are left out).
    pub ratio: Option<Interval>,
    /// Wilcoxon's signed-rank test on the log ratios, exact, two-sided.
    pub signed_rank_p: Option<f64>,
    /// The sign test on wins against losses, exact, two-sided.
    pub sign_p: Option<f64>,
    /// GD's iterations to the target over momentum's, per seed where both reach it: median
    /// and 95% bootstrap interval.
    pub speedup: Option<Interval>,
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

/// Momentum against GD seed by seed at each (M, γ, α < 1) whose γ also has GD runs.
pub(super) fn paired_at(m: usize, groups: &[Setting], gammas: &[f64], target: f64) -> Vec<Paired> {
    let mut out = Vec::new();
    for &g in gammas {
        let Some((_, base)) = groups.iter().find(|(k, _)| *k == (g, 1.0)) else { continue };
        for ((_, a), runs) in groups.iter().filter(|(k, _)| k.0 == g && k.1 < 1.0) {
            let pairs = pairs_by_seed(runs, base);
            if pairs.is_empty() {
                continue;
            }
            let wins = pairs.iter().filter(|(mo, gd)| final_loss(mo) < final_loss(gd)).count();
            let mut ratios: Vec<f64> = pairs
                .iter()
                .filter(|(mo, gd)| !mo.diverged() && !gd.diverged())
                .map(|(mo, gd)| final_loss(mo) / final_loss(gd))
                .collect();
            let mut iters: Vec<f64> = pairs
                .iter()
                .filter_map(|(mo, gd)| {
                    Some((iterations_to(mo, target)? as f64, iterations_to(gd, target)? as f64))
                })
                .filter(|(_, gd)| *gd > 0.0)
                .map(|(mo, gd)| mo / gd)
                .collect();
            out.push(Paired {
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
    out
}

/// The two bests at one M seed by seed, comparing `by` and the iterations to `target`. The
/// bootstrap's generator is seeded with `seed`, so a report is the same each time.
pub(super) fn paired_stats(
    gd: &[&RunRecord],
    momentum: &[&RunRecord],
    by: Criterion,
    target: f64,
    seed: u64,
) -> PairedStats {
    let pairs = pairs_by_seed(momentum, gd);
    let values: Vec<(f64, f64)> = pairs.iter().map(|(mo, g)| (run_score(mo, by), run_score(g, by))).collect();
    let ratios: Vec<f64> = values.iter().map(|(mo, g)| mo / g).collect();
    let log_differences: Vec<f64> = values.iter().map(|(mo, g)| mo.ln() - g.ln()).collect();
    let wins = values.iter().filter(|(mo, g)| mo < g).count();
    let losses = values.iter().filter(|(mo, g)| mo > g).count();
    let speedups: Vec<f64> = pairs
        .iter()
        .filter_map(|(mo, g)| Some((iterations_to(mo, target)? as f64, iterations_to(g, target)? as f64)))
        .filter(|(mo, _)| *mo > 0.0)
        .map(|(mo, g)| g / mo)
        .collect();
    PairedStats {
        pairs: pairs.len(),
        wins,
        losses,
        ratio: stats::median_interval(&ratios, seed),
        signed_rank_p: stats::signed_rank_p(&log_differences),
        sign_p: stats::sign_test_p(wins, losses),
        speedup: stats::median_interval(&speedups, seed ^ 0x5eed),
    }
}

#[cfg(test)]
mod tests {
    use crate::report::analyse;
    use crate::report::fixtures::{info, known_runs};

    #[test]
    fn paired_rows_compare_seed_by_seed_and_a_divergence_loses() {
        let a = analyse(&info(vec![4], vec![0.1, 0.2], vec![1.0, 0.5]), &known_runs(), Some(0.65));
        assert_eq!(a.paired.len(), 2);
        let p = &a.paired[0];
        assert_eq!((p.gamma, p.alpha, p.pairs, p.win_rate), (0.1, 0.5, 2, 1.0));
        assert!((p.loss_ratio - (0.1 / 0.9 + 0.3 / 1.0) / 2.0).abs() < 1e-15);
        // Seed 0's momentum run diverged: a loss, and no loss ratio; seed 1 wins.
        let p = &a.paired[1];
        assert_eq!((p.gamma, p.pairs, p.win_rate), (0.2, 2, 0.5));
        assert!((p.loss_ratio - 0.2 / 0.6).abs() < 1e-15);
        // Iterations to 0.65: momentum seed 1 at 1 against GD's 4.
        assert_eq!(p.iteration_ratio, 0.25);
    }
}
