//! What a report shows, computed from the finished runs with no I/O: each method's best
//! setting per M, the iterations to a common target loss, and the paired view seed by seed.
//!
//! For each M it compares plain GD (α = 1) at its best γ with momentum at its best (γ, α), both
//! chosen by the seed-mean of the sweep's tuning criterion (`[tune] by`; the final training loss
//! when the sweep is not tuned), and counts the iterations each needs to reach a
//! target loss: by default the lowest loss that both reach with every seed. The paired view
//! uses that runs at the same (M, seed) share their initial point: at each (M, γ, α < 1) it
//! compares momentum with GD seed by seed.

use super::stats::{self, Interval};
use crate::config::Criterion;
use crate::store::{RunRecord, SweepMeta};
use crate::tune::{Tried, Verdict, grid_ratio, judge, point_score, run_score};
use stats::median;

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

/// Momentum's runs paired with GD's of the same seed (runs at one (M, seed) share their
/// initial point); seeds without both are left out.
fn pairs_by_seed<'a>(
    momentum: &[&'a RunRecord],
    gd: &[&'a RunRecord],
) -> Vec<(&'a RunRecord, &'a RunRecord)> {
    momentum
        .iter()
        .filter_map(|mo| gd.iter().find(|g| g.meta.seed == mo.meta.seed).map(|g| (*mo, *g)))
        .collect()
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
type Setting<'a> = ((f64, f64), Vec<&'a RunRecord>);

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

/// Momentum against GD seed by seed at each (M, γ, α < 1) whose γ also has GD runs.
fn paired_at(m: usize, groups: &[Setting], gammas: &[f64], target: f64) -> Vec<Paired> {
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

/// The criterion of the optimisation view: the sweep's tuning criterion when it is about the
/// training loss, else the final training loss.
pub fn optimisation_criterion(info: &SweepMeta) -> Criterion {
    match info.tune.map(|t| t.by) {
        Some(by @ (Criterion::FinalTrainLoss | Criterion::BestTrainLoss)) => by,
        _ => Criterion::FinalTrainLoss,
    }
}

/// The two bests at one M seed by seed, comparing `by` and the iterations to `target`. The
/// bootstrap's generator is seeded with `seed`, so a report is the same each time.
fn paired_stats(
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

/// Theory beside the experiment at one (M, α): the step sizes the sharpness at the initial
/// point predicts stable, against those that converged and diverged.
#[derive(Clone, Debug, PartialEq)]
pub struct Stability {
    /// M.
    pub hidden: usize,
    /// α.
    pub alpha: f64,
    /// λ₀: the seed-mean sharpness at the initial point (the same for every γ and α at M).
    pub sharpness_at_init: f64,
    /// The largest γ predicted stable: 2(2−α)/(α·λ₀).
    pub predicted: f64,
    /// The largest γ tried whose every seed converged (did not diverge).
    pub converged: Option<f64>,
    /// The smallest γ tried at which a seed diverged.
    pub diverged: Option<f64>,
    /// Runs whose final point is a minimum (λ_min ≥ −[`MINIMUM_TOLERANCE`]·λ_max), of those
    /// with values at their final point.
    pub at_minimum: (usize, usize),
}

/// How negative λ_min may be, relative to λ_max, for a point to count as a minimum: Lanczos's
/// λ_min is approximate, and flat directions give tiny values of either sign.
pub const MINIMUM_TOLERANCE: f64 = 1e-3;

/// The stability table, from each run's Hessian values at its init and final points (by run
/// folder name; runs without values are left out), or, for λ₀ where no run of a seed has them,
/// from the sharpness column of its curve at row 0. Empty when neither exists.
pub fn stability(
    info: &SweepMeta,
    runs: &[RunRecord],
    curvature: &std::collections::HashMap<String, crate::store::curvature::RunCurvature>,
) -> Vec<Stability> {
    let mut out = Vec::new();
    for &m in &info.hidden {
        let at_m: Vec<&RunRecord> = runs.iter().filter(|r| r.meta.hidden == m).collect();
        // λ₀ per seed (every γ and α at (M, seed) start from the same point: take the first),
        // from `heavyball hessian`'s values, else from the curve's sharpness column at row 0.
        let mut by_seed: Vec<(u64, f64)> = Vec::new();
        let at_init =
            [&|r: &RunRecord| curvature.get(&r.dir_name).map(|c| c.init.lambda_max), &|r: &RunRecord| {
                r.curve.first().and_then(|row| row.sharpness)
            }] as [&dyn Fn(&RunRecord) -> Option<f64>; 2];
        for source in at_init {
            for r in &at_m {
                if let Some(l) = source(r)
                    && !by_seed.iter().any(|(s, _)| *s == r.meta.seed)
                {
                    by_seed.push((r.meta.seed, l));
                }
            }
        }
        if by_seed.is_empty() {
            continue;
        }
        let lambda0 = by_seed.iter().map(|(_, l)| l).sum::<f64>() / by_seed.len() as f64;
        for &alpha in &info.alpha {
            let with_alpha: Vec<&&RunRecord> = at_m.iter().filter(|r| r.meta.alpha == alpha).collect();
            if with_alpha.is_empty() {
                continue;
            }
            let gammas = distinct_gammas(with_alpha.iter().map(|r| **r));
            let diverged_at = |g: f64| with_alpha.iter().any(|r| r.meta.gamma == g && r.diverged());
            let finals: Vec<_> = with_alpha.iter().filter_map(|r| curvature.get(&r.dir_name)?.last).collect();
            let at_minimum =
                finals.iter().filter(|c| c.lambda_min >= -MINIMUM_TOLERANCE * c.lambda_max.abs()).count();
            out.push(Stability {
                hidden: m,
                alpha,
                sharpness_at_init: lambda0,
                predicted: heavyball_core::model::stability_threshold(1.0, alpha) / lambda0,
                converged: gammas.iter().copied().filter(|&g| !diverged_at(g)).reduce(f64::max),
                diverged: gammas.iter().copied().find(|&g| diverged_at(g)),
                at_minimum: (at_minimum, finals.len()),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Objective, Precision};
    use crate::store::{RunMeta, RunStatus};
    use crate::train::CurveRow;

    fn info(hidden: Vec<usize>, gamma: Vec<f64>, alpha: Vec<f64>) -> SweepMeta {
        SweepMeta {
            format: 1,
            name: "t".into(),
            data: "hand-made".into(),
            data_fingerprint: "fp".into(),
            train_samples: 10,
            test_samples: 0,
            features: 2,
            classes: 2,
            objective: Objective::Sum,
            precision: Precision::F64,
            iterations: 4,
            chunk_size: 1024,
            divergence_factor: None,
            hidden,
            gamma,
            alpha,
            seed: vec![0, 1],
            tune: None,
            sharpness: None,
        }
    }

    /// A finished run at M = 4 with these training losses at iterations 0, 1, …
    fn run(gamma: f64, alpha: f64, seed: u64, losses: &[f64]) -> RunRecord {
        let diverged = !losses.last().unwrap().is_finite();
        let curve = losses
            .iter()
            .enumerate()
            .map(|(iteration, &train_loss)| CurveRow {
                iteration,
                train_loss,
                train_accuracy: 0.5,
                test_loss: None,
                test_accuracy: None,
                sharpness: None,
            })
            .collect();
        let meta = RunMeta {
            format: 1,
            key: format!("{gamma}-{alpha}-{seed}"),
            name: format!("M4-g{gamma}-a{alpha}-s{seed}"),
            hidden: 4,
            gamma,
            alpha,
            seed,
            objective: Objective::Sum,
            precision: Precision::F64,
            chunk_size: 1024,
            data: "fp".into(),
            status: if diverged { RunStatus::Diverged } else { RunStatus::Done },
            iterations: losses.len() - 1,
            target_iterations: 4,
            wall_seconds: 0.0,
        };
        RunRecord { dir_name: meta.name.clone(), meta, curve }
    }

    /// GD's best is γ = 0.2 (final 0.4 and 0.6); momentum's is γ = 0.1, α = 0.5 (final 0.1 and
    /// 0.3); γ = 0.2, α = 0.5 diverges with seed 0 and so is never the best.
    fn known_runs() -> Vec<RunRecord> {
        vec![
            run(0.1, 1.0, 0, &[2.0, 1.5, 1.2, 1.0, 0.9]),
            run(0.1, 1.0, 1, &[2.0, 1.6, 1.3, 1.1, 1.0]),
            run(0.1, 0.5, 0, &[2.0, 0.5, 0.2, 0.1, 0.1]),
            run(0.1, 0.5, 1, &[2.0, 0.9, 0.5, 0.35, 0.3]),
            run(0.2, 1.0, 0, &[2.0, 1.0, 0.8, 0.5, 0.4]),
            run(0.2, 1.0, 1, &[2.0, 1.2, 0.9, 0.7, 0.6]),
            run(0.2, 0.5, 0, &[2.0, f64::NAN]),
            run(0.2, 0.5, 1, &[2.0, 0.3, 0.25, 0.2, 0.2]),
        ]
    }

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
    fn the_stability_table_sets_the_predicted_limit_beside_what_happened() {
        use crate::store::curvature::{PointCurvature, RunCurvature};
        let runs = known_runs();
        let point = |max: f64, min: f64| PointCurvature {
            lambda_max: max,
            lambda_min: min,
            steps: 10,
            residual: 0.0,
        };
        let mut curvature = std::collections::HashMap::new();
        for r in &runs {
            let init = point(if r.meta.seed == 0 { 8.0 } else { 12.0 }, -1.0);
            // GD ends at minima; momentum at γ = 0.1 ends at a saddle with seed 1.
            let last = (!r.diverged()).then(|| {
                point(
                    1.0,
                    if r.meta.alpha < 1.0 && r.meta.seed == 1 && r.meta.gamma == 0.1 { -0.5 } else { -1e-5 },
                )
            });
            let values = RunCurvature {
                key: r.meta.key.clone(),
                iterations: 4,
                max_steps: 10,
                tolerance: 1e-6,
                init,
                last,
            };
            curvature.insert(r.dir_name.clone(), values);
        }
        let table = stability(&info(vec![4], vec![0.1, 0.2], vec![1.0, 0.5]), &runs, &curvature);
        assert_eq!(table.len(), 2);
        let (gd, mo) = (&table[0], &table[1]);
        // λ₀ = (8 + 12)/2 = 10: GD is predicted stable below 2/10, momentum α = 0.5 below 6/10.
        assert_eq!((gd.alpha, gd.sharpness_at_init, gd.predicted), (1.0, 10.0, 0.2));
        assert!((mo.predicted - 0.6).abs() < 1e-15);
        assert_eq!((gd.converged, gd.diverged, gd.at_minimum), (Some(0.2), None, (4, 4)));
        // γ = 0.2, α = 0.5 diverged with seed 0: the smallest diverged; its other seed has values.
        assert_eq!((mo.converged, mo.diverged, mo.at_minimum), (Some(0.1), Some(0.2), (2, 3)));
        assert!(stability(&info(vec![4], vec![0.1], vec![1.0]), &runs, &Default::default()).is_empty());
    }

    #[test]
    fn the_default_target_is_the_lowest_loss_both_tuned_methods_reach_with_every_seed() {
        let a = analyse(&info(vec![4], vec![0.1, 0.2], vec![1.0, 0.5]), &known_runs(), None);
        // The tuned settings' seeds reach at best 0.4, 0.6 (GD) and 0.1, 0.3 (momentum).
        assert_eq!(a.comparisons[0].target, 0.6);
    }

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
    fn means_and_medians() {
        assert_eq!(mean_sd(&[1.0, 3.0]), (2.0, 2f64.sqrt()));
        assert_eq!(mean_sd(&[5.0]), (5.0, 0.0));
        assert!(mean_sd(&[]).0.is_nan());
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }
}
