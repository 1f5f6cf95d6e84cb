//! What a report shows, computed from the finished runs with no I/O: each method's best
//! setting per M, the iterations to a common target loss, and the paired view seed by seed.
//!
//! For each M it compares plain GD (α = 1) at its best γ with momentum at its best (γ, α), both
//! chosen by the seed-mean of the sweep's tuning criterion (`[tune] by`; the final training loss
//! when the sweep is not tuned), and counts the iterations each needs to reach a
//! target loss: by default the lowest loss that both reach with every seed. The paired view
//! uses that runs at the same (M, seed) share their initial point: at each (M, γ, α < 1) it
//! compares momentum with GD seed by seed.

use super::paired::{Paired, PairedStats, paired_at, paired_stats};
use crate::config::Criterion;
use crate::store::{RunRecord, SweepMeta};
use crate::tune::{Tried, Verdict, grid_ratio, judge, point_score};

/// The final training loss of a run, +∞ for a diverged run (or an empty curve).
pub fn final_loss(run: &RunRecord) -> f64 {
    if run.diverged() { f64::INFINITY } else { run.curve.last().map_or(f64::INFINITY, |r| r.train_loss) }
}

/// The lowest training loss on a run's curve (NaN rows ignored; +∞ for an empty curve).
pub fn lowest_loss(run: &RunRecord) -> f64 {
    run.curve.iter().map(|r| r.train_loss).filter(|l| !l.is_nan()).fold(f64::INFINITY, f64::min)
}

/// The first iteration whose training loss is at or below `target`.
pub fn iterations_to(run: &RunRecord, target: f64) -> Option<usize> {
    run.curve.iter().find(|r| r.train_loss <= target).map(|r| r.iteration)
}

/// The mean of the seeds' final losses: +∞ when a seed diverged.
pub fn mean_final_loss(runs: &[&RunRecord]) -> f64 {
    runs.iter().map(|r| final_loss(r)).sum::<f64>() / runs.len() as f64
}

/// The distinct γ values of some runs, ascending.
pub fn distinct_gammas<'a>(runs: impl IntoIterator<Item = &'a RunRecord>) -> Vec<f64> {
    let mut gammas: Vec<f64> = runs.into_iter().map(|r| r.meta.gamma).collect();
    gammas.sort_by(f64::total_cmp);
    gammas.dedup();
    gammas
}

/// Mean and sample standard deviation (0 for one value); NaN for none.
fn mean_sd(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// The two methods compared: plain gradient descent (α = 1) and heavy-ball momentum (α < 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Plain gradient descent, α = 1.
    Gd,
    /// Heavy-ball momentum, α < 1.
    Momentum,
}

impl Method {
    /// The word used in CSV files: `gd` or `momentum`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Gd => "gd",
            Method::Momentum => "momentum",
        }
    }

    /// The label used in tables and plots: `plain GD` or `momentum`.
    pub fn label(self) -> &'static str {
        match self {
            Method::Gd => "plain GD",
            Method::Momentum => "momentum",
        }
    }
}

/// One method's best setting at one M, summarised over seeds.
#[derive(Clone, Debug)]
pub struct Best {
    /// Which method.
    pub method: Method,
    /// γ.
    pub gamma: f64,
    /// α.
    pub alpha: f64,
    /// Seeds finished.
    pub seeds: usize,
    /// Seeds diverged.
    pub diverged: usize,
    /// Final training loss: mean, sd.
    pub final_loss: (f64, f64),
    /// Best training loss: mean, sd.
    pub best_loss: (f64, f64),
    /// Final test loss: mean, sd.
    pub test_loss: (f64, f64),
    /// Final test accuracy: mean, sd.
    pub test_accuracy: (f64, f64),
    /// Iterations to the target: mean, sd over the seeds that reached it.
    pub to_target: (f64, f64),
    /// Seeds that reached the target.
    pub reached: usize,
    /// Whether this method's best γ (at its α and M) is bracketed by worse tried γ values.
    pub bracket: Option<Verdict>,
}

/// Which "best" a comparison is about: the lowest training loss (how well each method
/// optimises) or the lowest test loss (how well what it finds generalises).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Chosen by training loss: the sweep's tuning criterion, or the final training loss.
    Optimisation,
    /// Chosen by the final test loss (only for sweeps with a test set).
    Generalisation,
}

impl View {
    /// The word used in CSV files.
    pub fn name(self) -> &'static str {
        match self {
            View::Optimisation => "optimisation",
            View::Generalisation => "generalisation",
        }
    }
}

/// The comparison at one M, in one view.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// M.
    pub hidden: usize,
    /// Which best this is.
    pub view: View,
    /// What each best was chosen by, and what the paired statistics compare.
    pub criterion: Criterion,
    /// The target training loss (NaN in the generalisation view, which has none).
    pub target: f64,
    /// Plain GD at its best γ.
    pub gd: Option<Best>,
    /// Momentum at its best (γ, α).
    pub momentum: Option<Best>,
    /// The two bests seed by seed, when both exist.
    pub stats: Option<PairedStats>,
}

impl Comparison {
    /// GD's mean iterations to target over momentum's, when both reach it with every seed.
    pub fn speedup(&self) -> Option<f64> {
        let (gd, mo) = (self.gd.as_ref()?, self.momentum.as_ref()?);
        (gd.reached == gd.seeds && mo.reached == mo.seeds && mo.to_target.0 > 0.0)
            .then(|| gd.to_target.0 / mo.to_target.0)
    }
}

/// Everything a report shows.
pub struct Analysis {
    /// One comparison per M, each method at its best by training loss.
    pub comparisons: Vec<Comparison>,
    /// One comparison per M, each method at its best by test loss; empty without a test set.
    pub generalisation: Vec<Comparison>,
    /// One row per (M, γ, α < 1) with pairs.
    pub paired: Vec<Paired>,
}

impl Analysis {
    /// The comparisons of both views: optimisation, then generalisation.
    pub fn all_views(&self) -> impl Iterator<Item = &Comparison> {
        self.comparisons.iter().chain(&self.generalisation)
    }

    /// The fewest seed pairs behind any comparison's statistics, if any has them.
    pub fn fewest_pairs(&self) -> Option<usize> {
        self.all_views().filter_map(|c| c.stats.as_ref()).map(|s| s.pairs).min()
    }
}

/// Groups runs by (M, γ, α); the seeds stay together.
fn groups(runs: &[RunRecord], hidden: usize) -> Vec<Setting<'_>> {
    let mut out: Vec<Setting> = Vec::new();
    for r in runs.iter().filter(|r| r.meta.hidden == hidden) {
        let key = (r.meta.gamma, r.meta.alpha);
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(r),
            None => out.push((key, vec![r])),
        }
    }
    out
}

fn summarise(method: Method, (gamma, alpha): (f64, f64), runs: &[&RunRecord], target: f64) -> Best {
    let finite = |f: &dyn Fn(&RunRecord) -> Option<f64>| -> Vec<f64> {
        runs.iter().filter(|r| !r.diverged()).filter_map(|r| f(r)).filter(|v| v.is_finite()).collect()
    };
    let reached: Vec<f64> = runs.iter().filter_map(|r| iterations_to(r, target)).map(|i| i as f64).collect();
    Best {
        method,
        gamma,
        alpha,
        seeds: runs.len(),
        diverged: runs.iter().filter(|r| r.diverged()).count(),
        final_loss: mean_sd(&finite(&|r| r.curve.last().map(|c| c.train_loss))),
        best_loss: mean_sd(&finite(&|r| {
            r.curve.iter().map(|c| c.train_loss).filter(|v| v.is_finite()).reduce(f64::min)
        })),
        test_loss: mean_sd(&finite(&|r| r.curve.last().and_then(|c| c.test_loss))),
        test_accuracy: mean_sd(&finite(&|r| r.curve.last().and_then(|c| c.test_accuracy))),
        to_target: mean_sd(&reached),
        reached: reached.len(),
        bracket: None,
    }
}

/// How to judge whether a best γ is bracketed: a tuned sweep's criterion and resolution; for
/// an untuned one, the final training loss, and only the edges of the tried values matter.
struct Bracketing {
    by: Criterion,
    ratio: f64,
    resolution: f64,
}

impl Bracketing {
    fn of(info: &SweepMeta, by: Criterion) -> Self {
        Bracketing {
            by,
            ratio: if info.gamma.len() > 1 { grid_ratio(&info.gamma) } else { 10.0 },
            resolution: info.tune.map_or(f64::INFINITY, |t| t.resolution),
        }
    }

    /// The verdict on the method with α = `alpha` among the settings of one M.
    fn verdict(&self, groups: &[Setting], alpha: f64) -> Option<Verdict> {
        let mut tried: Vec<Tried> = groups
            .iter()
            .filter(|(k, _)| k.1 == alpha)
            .map(|((gamma, _), runs)| Tried { gamma: *gamma, score: point_score(runs, self.by) })
            .collect();
        tried.sort_by(|a, b| a.gamma.total_cmp(&b.gamma));
        (!tried.is_empty()).then(|| judge(&tried, self.ratio, self.resolution))
    }
}

/// One setting (γ, α) at some M, with its runs (one per seed).
pub(super) type Setting<'a> = ((f64, f64), Vec<&'a RunRecord>);

/// The setting with the lowest seed-mean of `by` (a diverged seed makes it +∞), if any setting
/// has a finite score; the first in grid order among equals.
fn best_of<'a>(candidates: impl Iterator<Item = &'a Setting<'a>>, by: Criterion) -> Option<&'a Setting<'a>> {
    candidates
        .map(|c| (point_score(&c.1, by), c))
        .filter(|(score, _)| score.is_finite())
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The default target at one M: the lowest training loss that every seed of every tuned setting
/// reaches, that is the largest of their seeds' lowest losses. Both methods reach it, so the
/// speed-up compares them on ground both cover. NaN when no setting qualifies.
fn common_target(best: &[Option<&Setting>]) -> f64 {
    best.iter()
        .flatten()
        .flat_map(|(_, runs)| runs.iter().map(|r| lowest_loss(r)))
        .reduce(f64::max)
        .unwrap_or(f64::NAN)
}

/// The criterion of the optimisation view: the sweep's tuning criterion when it is about the
/// training loss, else the final training loss.
pub fn optimisation_criterion(info: &SweepMeta) -> Criterion {
    match info.tune.map(|t| t.by) {
        Some(by @ (Criterion::FinalTrainLoss | Criterion::BestTrainLoss)) => by,
        _ => Criterion::FinalTrainLoss,
    }
}

/// The comparison at one M in one view: each method's best by `by`, summarised and paired.
fn compare(
    info: &SweepMeta,
    groups: &[Setting],
    m: usize,
    view: View,
    by: Criterion,
    target: Option<f64>,
) -> Comparison {
    let bracketing = Bracketing::of(info, by);
    let best_gd = best_of(groups.iter().filter(|(k, _)| k.1 == 1.0), by);
    let best_momentum = best_of(groups.iter().filter(|(k, _)| k.1 < 1.0), by);
    let target = match view {
        View::Optimisation => target.unwrap_or_else(|| common_target(&[best_gd, best_momentum])),
        View::Generalisation => f64::NAN,
    };
    let judged = |method, (k, r): &Setting| Best {
        bracket: bracketing.verdict(groups, k.1),
        ..summarise(method, *k, r, target)
    };
    let stats = match (best_gd, best_momentum) {
        (Some((_, gd)), Some((_, mo))) => {
            Some(paired_stats(gd, mo, by, target, 2 * m as u64 + (view == View::Generalisation) as u64))
        }
        _ => None,
    };
    Comparison {
        hidden: m,
        view,
        criterion: by,
        target,
        gd: best_gd.map(|s| judged(Method::Gd, s)),
        momentum: best_momentum.map(|s| judged(Method::Momentum, s)),
        stats,
    }
}

/// Computes the comparisons in both views and the paired view. `target` overrides the per-M
/// default, the lowest loss both tuned methods reach with every seed.
pub fn analyse(info: &SweepMeta, runs: &[RunRecord], target: Option<f64>) -> Analysis {
    let mut comparisons = Vec::new();
    let mut generalisation = Vec::new();
    let mut paired = Vec::new();
    let by = optimisation_criterion(info);
    for &m in &info.hidden {
        let groups = groups(runs, m);
        if groups.is_empty() {
            continue;
        }
        let c = compare(info, &groups, m, View::Optimisation, by, target);
        paired.extend(paired_at(m, &groups, &info.gamma, c.target));
        comparisons.push(c);
        if info.has_test_set() {
            generalisation.push(compare(info, &groups, m, View::Generalisation, Criterion::TestLoss, None));
        }
    }
    Analysis { comparisons, generalisation, paired }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{info, known_runs, run};

    #[test]
    fn one_seed_or_one_method_gives_what_can_be_computed_and_no_more() {
        // One seed: one pair, a ratio without spread, and tests that cannot reject (p = 1).
        let one: Vec<RunRecord> = known_runs().into_iter().filter(|r| r.meta.seed == 0).collect();
        let a = analyse(&info(vec![4], vec![0.1, 0.2], vec![1.0, 0.5]), &one, Some(0.65));
        let st = a.comparisons[0].stats.as_ref().unwrap();
        assert_eq!((st.pairs, st.wins, st.losses), (1, 1, 0));
        let ratio = st.ratio.unwrap();
        assert_eq!((ratio.n, ratio.low, ratio.high), (1, ratio.estimate, ratio.estimate));
        assert!((ratio.estimate - 0.1 / 0.4).abs() < 1e-15);
        assert_eq!((st.signed_rank_p, st.sign_p), (Some(1.0), Some(1.0)));
        // Only GD: no momentum best, no pairs.
        let gd: Vec<RunRecord> = known_runs().into_iter().filter(|r| r.meta.alpha == 1.0).collect();
        let a = analyse(&info(vec![4], vec![0.1, 0.2], vec![1.0]), &gd, None);
        assert!(a.comparisons[0].momentum.is_none() && a.comparisons[0].stats.is_none());
        // No test set: no generalisation view.
        assert!(a.generalisation.is_empty());
    }

    #[test]
    fn each_method_is_taken_at_its_best_setting() {
        let a = analyse(&info(vec![4], vec![0.1, 0.2], vec![1.0, 0.5]), &known_runs(), Some(0.65));
        let c = &a.comparisons[0];
        let (gd, mo) = (c.gd.as_ref().unwrap(), c.momentum.as_ref().unwrap());
        assert_eq!((gd.method, gd.gamma, gd.alpha, gd.seeds, gd.diverged), (Method::Gd, 0.2, 1.0, 2, 0));
        assert!((gd.final_loss.0 - 0.5).abs() < 1e-15 && (gd.final_loss.1 - 0.02f64.sqrt()).abs() < 1e-15);
        assert_eq!((mo.method, mo.gamma, mo.alpha), (Method::Momentum, 0.1, 0.5));
        assert!((mo.final_loss.0 - 0.2).abs() < 1e-15);
        // Iterations to 0.65: GD at 3 and 4, momentum at 1 and 2.
        assert_eq!((gd.to_target.0, gd.reached, mo.to_target.0, mo.reached), (3.5, 2, 1.5, 2));
        assert_eq!(c.speedup(), Some(3.5 / 1.5));
    }

    #[test]
    fn a_tuned_sweep_chooses_each_best_by_its_criterion() {
        // γ = 0.1 is the best by the lowest loss along the curve (0.05), γ = 0.2 by the final
        // loss (0.4).
        let runs = vec![
            run(0.1, 1.0, 0, &[2.0, 0.05, 0.9]),
            run(0.1, 1.0, 1, &[2.0, 0.05, 0.9]),
            run(0.2, 1.0, 0, &[2.0, 0.5, 0.4]),
            run(0.2, 1.0, 1, &[2.0, 0.5, 0.4]),
        ];
        let mut meta = info(vec![4], vec![0.1, 0.2], vec![1.0]);
        let by_final = analyse(&meta, &runs, None);
        assert_eq!(by_final.comparisons[0].gd.as_ref().unwrap().gamma, 0.2);
        meta.tune =
            Some(crate::config::TuneSpec { by: Criterion::BestTrainLoss, resolution: 1.3, max_rounds: 8 });
        let by_best = analyse(&meta, &runs, None);
        let gd = by_best.comparisons[0].gd.as_ref().unwrap();
        assert_eq!(gd.gamma, 0.1);
        // Its verdict is judged by the same criterion: 0.1 is the smallest tried.
        assert_eq!(gd.bracket.unwrap().to_string(), "best γ = 0.1 is the smallest tried");
    }

    #[test]
    fn the_default_target_is_the_lowest_loss_both_tuned_methods_reach_with_every_seed() {
        let a = analyse(&info(vec![4], vec![0.1, 0.2], vec![1.0, 0.5]), &known_runs(), None);
        // The tuned settings' seeds reach at best 0.4, 0.6 (GD) and 0.1, 0.3 (momentum).
        assert_eq!(a.comparisons[0].target, 0.6);
    }

    #[test]
    fn ties_go_to_the_first_setting_in_grid_order_and_diverged_settings_never_win() {
        let runs = vec![
            run(0.1, 1.0, 0, &[2.0, 1.0]),
            run(0.2, 1.0, 0, &[2.0, 1.0]),
            run(0.3, 1.0, 0, &[2.0, f64::INFINITY]),
            run(0.3, 0.5, 0, &[2.0, f64::NAN]),
        ];
        let a = analyse(&info(vec![4], vec![0.1, 0.2, 0.3], vec![1.0, 0.5]), &runs, None);
        let c = &a.comparisons[0];
        assert_eq!(c.gd.as_ref().unwrap().gamma, 0.1);
        // Momentum's only setting diverged: there is no best momentum and no speed-up.
        assert!(c.momentum.is_none() && c.speedup().is_none());
    }

    #[test]
    fn widths_without_runs_are_left_out() {
        let a = analyse(&info(vec![4, 8], vec![0.1, 0.2], vec![1.0, 0.5]), &known_runs(), None);
        assert_eq!(a.comparisons.len(), 1);
        assert_eq!(a.comparisons[0].hidden, 4);
    }

    #[test]
    fn means_and_standard_deviations() {
        assert_eq!(mean_sd(&[1.0, 3.0]), (2.0, 2f64.sqrt()));
        assert_eq!(mean_sd(&[5.0]), (5.0, 0.0));
        assert!(mean_sd(&[]).0.is_nan());
    }
}
