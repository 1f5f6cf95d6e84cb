//! Momentum against plain GD seed by seed: runs at the same (M, seed) share their initial
//! point, so each seed is a pair. The two bests' paired statistics ([`PairedStats`]) and, at
//! every (M, γ, α < 1) whose γ GD also ran, the paired rows ([`Paired`]).
//!
//! One speed-up, defined once: GD's iterations to the target over momentum's, seed by seed,
//! their median (> 1: momentum is faster). A seed that never reaches the target is censored:
//! its time is "more than T", which ranks above every time that reached it (+∞), never T. A pair
//! where neither reached it says nothing and is left out.

use super::measures::iterations_to;
use super::stats::{self, Interval, median};
use crate::config::Criterion;
use crate::store::RunRecord;
use crate::tune::{Setting, run_score};

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

/// A run's iterations to `target`, +∞ when it never reaches it (censored at its last row).
pub fn hitting_time(run: &RunRecord, target: f64) -> f64 {
    iterations_to(run, target).map_or(f64::INFINITY, |i| i as f64)
}

/// One pair's speed-up: GD's hitting time over momentum's. +∞ when only momentum reached the
/// target, 0 when only GD did; None when neither did, or both at iteration 0.
pub fn speedup(gd: f64, momentum: f64) -> Option<f64> {
    let ratio = gd / momentum;
    (!ratio.is_nan()).then_some(ratio)
}

/// Which seeds a comparison's statistics were computed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedsUsed {
    /// The confirmation round's fresh seeds: none of them took part in choosing the bests.
    Confirmation,
    /// The seeds that chose the bests: in-sample, so the evidence is overstated.
    Selection,
}

impl SeedsUsed {
    /// The word used in `comparison.csv`.
    pub fn name(self) -> &'static str {
        match self {
            SeedsUsed::Confirmation => "confirmation",
            SeedsUsed::Selection => "selection",
        }
    }
}

/// Momentum's best against GD's best at one M, seed by seed.
#[derive(Clone, Debug, PartialEq)]
pub struct PairedStats {
    /// Which seeds these are.
    pub seeds_used: SeedsUsed,
    /// Seeds with both runs finished.
    pub pairs: usize,
    /// Pairs where momentum's value is lower (a diverged run's is +∞).
    pub wins: usize,
    /// Pairs where GD's is lower.
    pub losses: usize,
    /// Momentum's value over GD's, per seed: the median and its distribution-free interval
    /// (pairs where both diverged are left out).
    pub ratio: Option<Interval>,
    /// Wilcoxon's signed-rank test on the log ratios, exact, two-sided.
    pub signed_rank_p: Option<f64>,
    /// The sign test on wins against losses, exact, two-sided.
    pub sign_p: Option<f64>,
    /// The speed-up per seed (see the module notes): the median and its interval.
    pub speedup: Option<Interval>,
    /// Pairs whose speed-up rests on a censored time (one side never reached the target).
    pub censored: usize,
}

/// One seed's pair: momentum's value over GD's, and GD's hitting time over momentum's (None when
/// neither reached the target).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeedPair {
    /// The seed.
    pub seed: u64,
    /// Momentum's value of the criterion over GD's (+∞ when only momentum diverged).
    pub ratio: f64,
    /// The pair's speed-up.
    pub speedup: Option<f64>,
}

/// The pairs of the two bests' runs, seed by seed, as the statistics see them.
pub fn seed_pairs(gd: &[&RunRecord], momentum: &[&RunRecord], by: Criterion, target: f64) -> Vec<SeedPair> {
    pairs_by_seed(momentum, gd)
        .iter()
        .map(|(mo, g)| SeedPair {
            seed: mo.meta.seed,
            ratio: run_score(mo, by) / run_score(g, by),
            speedup: speedup(hitting_time(g, target), hitting_time(mo, target)),
        })
        .collect()
}

/// The two bests at one M, seed by seed, on the seeds both have: comparing `by` and the
/// iterations to `target`.
pub(super) fn paired_stats(
    gd: &[&RunRecord],
    momentum: &[&RunRecord],
    by: Criterion,
    target: f64,
    seeds_used: SeedsUsed,
) -> PairedStats {
    let pairs = pairs_by_seed(momentum, gd);
    let values: Vec<(f64, f64)> = pairs.iter().map(|(mo, g)| (run_score(mo, by), run_score(g, by))).collect();
    let ratios: Vec<f64> = values.iter().map(|(mo, g)| mo / g).collect();
    let log_differences: Vec<f64> = values.iter().map(|(mo, g)| mo.ln() - g.ln()).collect();
    let wins = values.iter().filter(|(mo, g)| mo < g).count();
    let losses = values.iter().filter(|(mo, g)| mo > g).count();
    let times: Vec<(f64, f64)> =
        pairs.iter().map(|(mo, g)| (hitting_time(g, target), hitting_time(mo, target))).collect();
    let speedups: Vec<f64> = times.iter().filter_map(|&(g, mo)| speedup(g, mo)).collect();
    let censored = times.iter().filter(|(g, mo)| g.is_infinite() != mo.is_infinite()).count();
    PairedStats {
        seeds_used,
        pairs: pairs.len(),
        wins,
        losses,
        ratio: stats::median_interval(&ratios),
        signed_rank_p: stats::signed_rank_p(&log_differences),
        sign_p: stats::sign_test_p(wins, losses),
        speedup: stats::median_interval(&speedups),
        censored,
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
    /// The median speed-up to the target, GD's iterations over momentum's (censored as in the
    /// module notes; NaN when no pair says anything).
    pub speedup: f64,
}

/// Momentum against GD seed by seed at each (M, γ, α < 1) whose γ also has GD runs, in γ order.
pub(super) fn paired_at(m: usize, settings: &[Setting], gammas: &[f64], target: f64) -> Vec<Paired> {
    let final_train = |r: &RunRecord| run_score(r, Criterion::FinalTrainLoss);
    let mut out = Vec::new();
    for &g in gammas {
        let Some(base) = settings.iter().find(|s| s.gamma == g && s.is_gd()) else { continue };
        for s in settings.iter().filter(|s| s.gamma == g && !s.is_gd()) {
            let pairs = pairs_by_seed(&s.runs, &base.runs);
            if pairs.is_empty() {
                continue;
            }
            let wins = pairs.iter().filter(|(mo, gd)| final_train(mo) < final_train(gd)).count();
            let mut ratios: Vec<f64> = pairs
                .iter()
                .filter(|(mo, gd)| !mo.diverged() && !gd.diverged())
                .map(|(mo, gd)| final_train(mo) / final_train(gd))
                .collect();
            let mut speedups: Vec<f64> = pairs
                .iter()
                .filter_map(|(mo, gd)| speedup(hitting_time(gd, target), hitting_time(mo, target)))
                .collect();
            out.push(Paired {
                hidden: m,
                gamma: g,
                alpha: s.alpha,
                pairs: pairs.len(),
                win_rate: wins as f64 / pairs.len() as f64,
                loss_ratio: median(&mut ratios),
                speedup: median(&mut speedups),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::analyse;
    use crate::store::fixtures::{info, known_runs, run};

    #[test]
    fn paired_rows_compare_seed_by_seed_and_a_divergence_loses() {
        let a = analyse(&info(vec![4], vec![0.1, 0.2], vec![1.0, 0.5]), &known_runs(), Some(0.65));
        assert_eq!(a.paired.len(), 2);
        let p = &a.paired[0];
        assert_eq!((p.gamma, p.alpha, p.pairs, p.win_rate), (0.1, 0.5, 2, 1.0));
        assert!((p.loss_ratio - (0.1 / 0.9 + 0.3 / 1.0) / 2.0).abs() < 1e-15);
        // Iterations to 0.65: GD never (censored: +∞) against momentum's 1 and 2, so both
        // speed-ups are +∞.
        assert_eq!(p.speedup, f64::INFINITY);
        // Seed 0's momentum run diverged: a loss, and no loss ratio; seed 1 wins.
        let p = &a.paired[1];
        assert_eq!((p.gamma, p.pairs, p.win_rate), (0.2, 2, 0.5));
        assert!((p.loss_ratio - 0.2 / 0.6).abs() < 1e-15);
        // Seed 0: GD reaches 0.65 at 3, momentum never (speed-up 0); seed 1: GD at 4, momentum
        // at 1 (4): the median is 2, GD/momentum, above 1 when momentum is faster.
        assert_eq!(p.speedup, 2.0);
    }

    #[test]
    fn censored_seeds_rank_beyond_every_reached_time_and_never_count_as_t() {
        assert_eq!(speedup(10.0, 5.0), Some(2.0));
        assert_eq!(speedup(f64::INFINITY, 5.0), Some(f64::INFINITY));
        assert_eq!(speedup(10.0, f64::INFINITY), Some(0.0));
        assert_eq!(speedup(f64::INFINITY, f64::INFINITY), None);
        assert_eq!(speedup(0.0, 0.0), None);
        // A run that reaches the target only at its last row is not censored; one that never
        // does is, even though its curve ends at T.
        let at_end = run(0.1, 1.0, 0, &[2.0, 1.5, 1.0]);
        assert_eq!(hitting_time(&at_end, 1.0), 2.0);
        assert_eq!(hitting_time(&at_end, 0.5), f64::INFINITY);
        // Six pairs, two censored on GD's side: the median rests on the reached ones.
        let gd: Vec<RunRecord> = (0..6)
            .map(|s| match s {
                0 | 1 => run(0.1, 1.0, s, &[2.0, 1.5, 1.2]),
                _ => run(0.1, 1.0, s, &[2.0, 1.5, 1.2, 0.9, 0.5]),
            })
            .collect();
        let mo: Vec<RunRecord> = (0..6).map(|s| run(0.3, 0.5, s, &[2.0, 0.5, 0.4, 0.3, 0.2])).collect();
        let (gd, mo): (Vec<&RunRecord>, Vec<&RunRecord>) = (gd.iter().collect(), mo.iter().collect());
        let st = paired_stats(&gd, &mo, Criterion::FinalTrainLoss, 0.5, SeedsUsed::Confirmation);
        assert_eq!((st.pairs, st.censored), (6, 2));
        let s = st.speedup.unwrap();
        // Speed-ups: 4, 4, 4, 4 (GD at 4, momentum at 1) and +∞, +∞: the median is 4.
        assert_eq!((s.estimate, s.n, s.bounds), (4.0, 6, Some((4.0, f64::INFINITY))));
    }
}
