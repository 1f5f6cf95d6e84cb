//! What a report shows, computed from the finished runs with no I/O: each method's best
//! setting per M in each view, how far that choice can be trusted, the iterations to a target
//! loss, and momentum against GD seed by seed.
//!
//! The bests are chosen on the selection seeds (the grid's) by the view's selection: the
//! optimisation view by `[confirm]`'s or `[tune]`'s training-loss criterion, else by the late
//! training loss, seeds by their median; the generalisation view by the final test loss
//! (`tune::select`, the rule the confirmation round uses too). When the sweep confirmed them on
//! fresh seeds, every statistic of the comparison is computed on those seeds alone and the
//! selection seeds' figures are labelled in-sample.

use super::measures::{lowest_loss, mean_sd};
use super::paired::{Paired, PairedStats, SeedsUsed, hitting_time, paired_at, paired_stats};
use super::stats::median;
use crate::config::{Precision, Selection};
use crate::store::{RunRecord, SweepMeta};
use crate::tune::{
    self, Fragility, Setting, Tried, Verdict, fresh_seeds, grid_ratio, judge, point_score, run_score,
    seed_span,
};

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

/// One setting's runs on some seeds, summed up.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The seeds.
    pub seeds: Vec<u64>,
    /// Seeds diverged.
    pub diverged: usize,
    /// The view's criterion per seed, summed up as the view's selection says (+∞ when that
    /// sum is: a mean over a diverged seed).
    pub score: f64,
    /// The lowest and highest seed's value of the criterion.
    pub score_range: (f64, f64),
    /// Final training loss: mean, sd over the seeds that did not diverge.
    pub final_loss: (f64, f64),
    /// Final test loss: mean, sd.
    pub test_loss: (f64, f64),
    /// Final test accuracy: mean, sd.
    pub test_accuracy: (f64, f64),
    /// Each seed's iterations to the target, +∞ when it never reached it.
    pub to_target: Vec<f64>,
    /// The median initial training loss (row 0), the scale the criterion is read against.
    pub initial_loss: f64,
    /// The iterations the runs trained for: what a censored hitting time exceeds.
    pub iterations: usize,
}

impl Summary {
    /// The median iterations to the target (+∞ when more than half never reached it).
    pub fn median_to_target(&self) -> f64 {
        median(&mut self.to_target.clone())
    }

    /// Seeds that reached the target.
    pub fn reached(&self) -> usize {
        self.to_target.iter().filter(|t| t.is_finite()).count()
    }
}

/// Sums up `runs` (one setting, some seeds) under `selection`, with `target` for the hitting
/// times.
fn summarise(runs: &[&RunRecord], selection: Selection, target: f64) -> Summary {
    let finite = |f: &dyn Fn(&RunRecord) -> Option<f64>| -> Vec<f64> {
        runs.iter().filter(|r| !r.diverged()).filter_map(|r| f(r)).filter(|v| v.is_finite()).collect()
    };
    let values: Vec<f64> = runs.iter().map(|r| run_score(r, selection.by)).collect();
    let mut initial: Vec<f64> = runs.iter().filter_map(|r| r.curve.first().map(|c| c.train_loss)).collect();
    Summary {
        seeds: runs.iter().map(|r| r.meta.seed).collect(),
        diverged: runs.iter().filter(|r| r.diverged()).count(),
        score: point_score(runs, selection),
        score_range: (
            values.iter().copied().fold(f64::INFINITY, f64::min),
            values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ),
        final_loss: mean_sd(&finite(&|r| r.curve.last().map(|c| c.train_loss))),
        test_loss: mean_sd(&finite(&|r| r.curve.last().and_then(|c| c.test_loss))),
        test_accuracy: mean_sd(&finite(&|r| r.curve.last().and_then(|c| c.test_accuracy))),
        to_target: runs.iter().map(|r| hitting_time(r, target)).collect(),
        initial_loss: median(&mut initial),
        iterations: runs.iter().map(|r| r.meta.target_iterations).max().unwrap_or(0),
    }
}

/// One method's best setting at one M.
#[derive(Clone, Debug)]
pub struct Best {
    /// Which method.
    pub method: Method,
    /// γ.
    pub gamma: f64,
    /// α.
    pub alpha: f64,
    /// Its runs on the selection seeds, which chose it: in-sample figures.
    pub selection: Summary,
    /// Its runs on the confirmation seeds, when the sweep confirmed it.
    pub confirmation: Option<Summary>,
    /// Whether this best γ (at its α and M) is bracketed by worse tried γ values.
    pub bracket: Option<Verdict>,
    /// Its neighbours and seeds: whether the verdict rests on one γ.
    pub fragility: Fragility,
}

impl Best {
    /// The figures a table shows: the confirmation seeds', else the selection seeds'.
    pub fn shown(&self) -> &Summary {
        self.confirmation.as_ref().unwrap_or(&self.selection)
    }

    /// True when a neighbour or its own seeds make the verdict rest on one γ.
    pub fn is_fragile(&self) -> bool {
        self.fragility.is_fragile()
    }
}

pub use crate::tune::View;

/// The comparison at one M, in one view.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// M.
    pub hidden: usize,
    /// Which best this is.
    pub view: View,
    /// What each best was chosen by, and what the paired statistics compare.
    pub selection: Selection,
    /// The target training loss (NaN in the generalisation view, which has none).
    pub target: f64,
    /// Plain GD at its best γ.
    pub gd: Option<Best>,
    /// Momentum at its best (γ, α).
    pub momentum: Option<Best>,
    /// The two bests seed by seed, when both exist.
    pub stats: Option<PairedStats>,
}

/// Everything a report shows.
pub struct Analysis {
    /// One comparison per M, each method at its best by training loss.
    pub comparisons: Vec<Comparison>,
    /// One comparison per M, each method at its best by test loss; empty without a test set.
    pub generalisation: Vec<Comparison>,
    /// One row per (M, γ, α < 1) with pairs, on the selection seeds.
    pub paired: Vec<Paired>,
    /// The seeds that chose the bests (the grid's).
    pub selection_seeds: Vec<u64>,
    /// The fresh seeds that confirmed them, for a sweep with `[confirm]`.
    pub confirmation_seeds: Vec<u64>,
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

    /// True when some comparison's statistics rest on the seeds that chose its bests.
    pub fn in_sample(&self) -> bool {
        self.all_views().filter_map(|c| c.stats.as_ref()).any(|s| s.seeds_used == SeedsUsed::Selection)
    }
}

/// How to judge whether a best γ is bracketed: a tuned sweep's resolution; for an untuned one,
/// only the edges of the tried values matter.
struct Bracketing {
    selection: Selection,
    ratio: f64,
    resolution: f64,
}

impl Bracketing {
    fn of(info: &SweepMeta, selection: Selection) -> Self {
        Bracketing {
            selection,
            ratio: if info.gamma.len() > 1 { grid_ratio(&info.gamma) } else { 10.0 },
            resolution: info.tune.map_or(f64::INFINITY, |t| t.resolution),
        }
    }

    /// The verdict on the method with α = `alpha` among the settings of one M.
    fn verdict(&self, settings: &[Setting], alpha: f64) -> Option<Verdict> {
        let mut tried: Vec<Tried> = settings
            .iter()
            .filter(|s| s.alpha == alpha)
            .map(|s| Tried {
                gamma: s.gamma,
                score: point_score(&s.runs, self.selection),
                span: seed_span(&s.runs, self.selection.by),
            })
            .collect();
        tried.sort_by(|a, b| a.gamma.total_cmp(&b.gamma));
        if tried.is_empty() {
            return None;
        }
        Some(match judge(&tried, self.ratio, self.resolution) {
            // Untuned, a best between worse neighbours is bracketed by the grid, rough or not:
            // whether it is fragile is the fragility rule's to say, not tuning's.
            Verdict::Fragile { best, .. } if self.resolution.is_infinite() => Verdict::Bracketed { best },
            v => v,
        })
    }
}

/// The default target at one M: the lowest training loss that every compared seed of both
/// bests reaches, diverged ones aside (their confirmation seeds when confirmed, else the
/// selection seeds), that is the largest of those seeds' lowest losses; a diverged seed never
/// reaches it. Both methods reach it, so the speed-up compares
/// them on ground both cover, and the selection seeds never enter a confirmed comparison. NaN
/// when no setting qualifies.
fn common_target(bests: &[Option<&Setting>]) -> f64 {
    bests
        .iter()
        .flatten()
        .flat_map(|s| s.runs.iter().filter(|r| !r.diverged()).map(|r| lowest_loss(r)))
        .reduce(f64::max)
        .unwrap_or(f64::NAN)
}

/// The selection seeds' settings and the confirmation seeds' settings at one M.
struct AtM<'a> {
    selection: Vec<Setting<'a>>,
    confirmation: Vec<Setting<'a>>,
    /// How many fresh seeds a confirmation has when it is finished.
    fresh: usize,
}

impl<'a> AtM<'a> {
    /// The confirmation runs of the setting `s`, once every fresh seed of it is recorded.
    fn confirmed(&self, s: &Setting) -> Option<&Setting<'a>> {
        self.confirmation
            .iter()
            .find(|c| (c.gamma, c.alpha) == (s.gamma, s.alpha))
            .filter(|c| c.runs.len() == self.fresh)
    }
}

/// The comparison at one M in one view: each method's best by the view's selection, summed
/// up on the selection seeds and, when confirmed, on the confirmation seeds; paired on the
/// confirmation seeds when both bests have them, else on the selection seeds.
fn compare(info: &SweepMeta, at: &AtM, m: usize, view: View, target: Option<f64>) -> Comparison {
    let selection = view.selection(info.selection());
    let bracketing = Bracketing::of(info, selection);
    let (best_gd, best_momentum) = tune::bests(&at.selection, selection);
    // The pair the statistics compare: the bests' confirmation runs when both have them, else
    // the runs that chose them.
    let (confirmed_gd, confirmed_momentum) =
        (best_gd.and_then(|s| at.confirmed(s)), best_momentum.and_then(|s| at.confirmed(s)));
    // One set of seeds for both rows: the confirmation seeds once every best there is has all
    // of its own (a round cut short leaves both on the selection seeds).
    let confirmed = [best_gd, best_momentum].iter().flatten().all(|s| at.confirmed(s).is_some());
    let (compared, seeds_used) = match (confirmed_gd, confirmed_momentum) {
        (Some(gd), Some(mo)) => ([Some(gd), Some(mo)], SeedsUsed::Confirmation),
        _ => ([best_gd, best_momentum], SeedsUsed::Selection),
    };
    let target = match view {
        View::Optimisation => target.unwrap_or_else(|| common_target(&compared)),
        View::Generalisation => f64::NAN,
    };
    let judged = |method, s: &Setting| Best {
        method,
        gamma: s.gamma,
        alpha: s.alpha,
        selection: summarise(&s.runs, selection, target),
        confirmation: at.confirmed(s).filter(|_| confirmed).map(|c| summarise(&c.runs, selection, target)),
        bracket: bracketing.verdict(&at.selection, s.alpha),
        fragility: tune::fragility(&at.selection, s, selection),
    };
    let stats = match compared {
        [Some(gd), Some(mo)] => Some(paired_stats(&gd.runs, &mo.runs, selection.by, target, seeds_used)),
        _ => None,
    };
    Comparison {
        hidden: m,
        view,
        selection,
        target,
        gd: best_gd.map(|s| judged(Method::Gd, s)),
        momentum: best_momentum.map(|s| judged(Method::Momentum, s)),
        stats,
    }
}

/// Computes the comparisons in both views and the paired rows. `target` overrides the per-M
/// default, the lowest loss both bests reach with every compared seed.
pub fn analyse(info: &SweepMeta, runs: &[RunRecord], target: Option<f64>) -> Analysis {
    let confirmation_seeds = info.confirm.map(|c| fresh_seeds(&info.seed, c.seeds)).unwrap_or_default();
    let mut analysis = Analysis {
        comparisons: Vec::new(),
        generalisation: Vec::new(),
        paired: Vec::new(),
        selection_seeds: info.seed.clone(),
        confirmation_seeds,
    };
    for &m in &info.hidden {
        let at = AtM {
            selection: tune::settings(runs, m, &info.seed),
            confirmation: tune::settings(runs, m, &analysis.confirmation_seeds),
            fresh: analysis.confirmation_seeds.len(),
        };
        if at.selection.is_empty() {
            continue;
        }
        let c = compare(info, &at, m, View::Optimisation, target);
        analysis.paired.extend(paired_at(m, &at.selection, &info.gamma, c.target));
        analysis.comparisons.push(c);
        if info.has_test_set() {
            analysis.generalisation.push(compare(info, &at, m, View::Generalisation, None));
        }
    }
    analysis
}

/// A selected best whose criterion lies below a millionth of its initial loss in f32: there,
/// rounding may decide which γ wins.
pub fn near_f32_resolution(info: &SweepMeta, best: &Best) -> bool {
    let s = &best.selection;
    info.precision == Precision::F32 && s.score.is_finite() && s.score < 1e-6 * s.initial_loss
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Aggregate, Criterion};
    use crate::store::fixtures::{confirmed_meta, fresh_runs, info, known_runs, run};

    #[test]
    fn one_seed_or_one_method_gives_what_can_be_computed_and_no_more() {
        // One seed: one pair, a ratio with no interval, and tests that cannot reject (p = 1).
        let one: Vec<RunRecord> = known_runs().into_iter().filter(|r| r.meta.seed == 0).collect();
        let mut meta = info(vec![4], vec![0.1, 0.2], vec![1.0, 0.5]);
        meta.seed = vec![0];
        let a = analyse(&meta, &one, Some(0.65));
        let st = a.comparisons[0].stats.as_ref().unwrap();
        assert_eq!((st.pairs, st.wins, st.losses, st.seeds_used), (1, 1, 0, SeedsUsed::Selection));
        let ratio = st.ratio.unwrap();
        assert_eq!((ratio.n, ratio.bounds), (1, None));
        assert!((ratio.estimate - 0.1 / 0.4).abs() < 1e-15);
        assert_eq!((st.signed_rank_p, st.sign_p), (Some(1.0), Some(1.0)));
        assert!(a.in_sample());
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
        assert_eq!((gd.method, gd.gamma, gd.alpha, gd.selection.seeds.len()), (Method::Gd, 0.2, 1.0, 2));
        assert!((gd.selection.final_loss.0 - 0.5).abs() < 1e-15);
        assert_eq!((mo.method, mo.gamma, mo.alpha), (Method::Momentum, 0.1, 0.5));
        // The late loss of T = 4 is the last row; by the seeds' median: (0.1 + 0.3) / 2.
        assert!((mo.selection.score - 0.2).abs() < 1e-15);
        // Iterations to 0.65: GD at 3 and 4, momentum at 1 and 2; momentum is 2.5× faster seed
        // by seed (3/1 and 4/2).
        assert_eq!(
            (gd.selection.to_target.clone(), mo.selection.to_target.clone()),
            (vec![3.0, 4.0], vec![1.0, 2.0])
        );
        assert_eq!(c.stats.as_ref().unwrap().speedup.unwrap().estimate, 2.5);
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
        let by_late = analyse(&meta, &runs, None);
        assert_eq!(by_late.comparisons[0].gd.as_ref().unwrap().gamma, 0.2);
        meta.tune = Some(crate::config::TuneSpec {
            by: Criterion::BestTrainLoss,
            aggregate: Aggregate::Mean,
            resolution: 1.3,
            max_rounds: 8,
        });
        let by_best = analyse(&meta, &runs, None);
        let gd = by_best.comparisons[0].gd.as_ref().unwrap();
        assert_eq!(gd.gamma, 0.1);
        // Its verdict is judged by the same criterion: 0.1 is the smallest tried.
        assert_eq!(gd.bracket.unwrap().to_string(), "best γ = 0.1 is the smallest tried");
    }

    #[test]
    fn confirmation_seeds_carry_every_statistic_and_selection_seeds_only_choose() {
        let meta = confirmed_meta();
        let mut runs = known_runs();
        runs.extend(fresh_runs());
        // A run of a setting not chosen is ignored.
        runs.push(run(0.1, 1.0, 2, &[2.0, 0.0, 0.0, 0.0, 0.0]));
        let a = analyse(&meta, &runs, None);
        let c = &a.comparisons[0];
        let (gd, mo) = (c.gd.as_ref().unwrap(), c.momentum.as_ref().unwrap());
        assert_eq!((gd.gamma, mo.gamma, mo.alpha), (0.2, 0.1, 0.5));
        assert_eq!(gd.confirmation.as_ref().unwrap().seeds, [2, 3]);
        let st = c.stats.as_ref().unwrap();
        assert_eq!((st.seeds_used, st.pairs, st.wins, st.losses), (SeedsUsed::Confirmation, 2, 0, 2));
        // Ratios 0.6/0.2 and 0.5/0.1: median 4.
        assert!((st.ratio.unwrap().estimate - 4.0).abs() < 1e-12);
        assert!(!a.in_sample());
        assert_eq!(a.confirmation_seeds, [2, 3]);
    }

    #[test]
    fn an_unfinished_confirmation_is_used_for_neither_method() {
        // The confirmation round was cut short: GD's best has both its fresh seeds, momentum's
        // one of two. Both rows, and the statistics, stay on the selection seeds (in-sample),
        // never one method on fresh seeds beside the other on the seeds that chose it.
        let meta = confirmed_meta();
        let [gd_2, gd_3, mo_2, mo_3] = fresh_runs();
        let mut runs = known_runs();
        runs.extend([gd_2, gd_3, mo_2]);
        let a = analyse(&meta, &runs, None);
        let c = &a.comparisons[0];
        let (gd, mo) = (c.gd.as_ref().unwrap(), c.momentum.as_ref().unwrap());
        assert!(gd.confirmation.is_none() && mo.confirmation.is_none());
        let st = c.stats.as_ref().unwrap();
        assert_eq!((st.seeds_used, st.pairs), (SeedsUsed::Selection, 2));
        assert!(a.in_sample());
        // With momentum's second fresh seed, both go over to the confirmation seeds.
        runs.push(mo_3);
        let a = analyse(&meta, &runs, None);
        let c = &a.comparisons[0];
        assert_eq!(c.gd.as_ref().unwrap().confirmation.as_ref().unwrap().seeds, [2, 3]);
        assert_eq!(c.momentum.as_ref().unwrap().confirmation.as_ref().unwrap().seeds, [2, 3]);
        assert_eq!(c.stats.as_ref().unwrap().seeds_used, SeedsUsed::Confirmation);
    }

    #[test]
    fn the_default_target_is_the_lowest_loss_both_selected_bests_reach_with_every_seed() {
        let a = analyse(&info(vec![4], vec![0.1, 0.2], vec![1.0, 0.5]), &known_runs(), None);
        // The selected settings' seeds reach at best 0.4, 0.6 (GD) and 0.1, 0.3 (momentum).
        assert_eq!(a.comparisons[0].target, 0.6);
        // A diverged seed (its lowest loss its initial one) never sets the target, and never
        // reaches it: its hitting time is censored.
        let runs = vec![
            run(0.1, 1.0, 0, &[2.0, 1.0, 0.5]),
            run(0.1, 1.0, 1, &[2.0, 1.0, 0.6]),
            run(0.1, 1.0, 2, &[2.0, 1.0, 0.7]),
            run(0.1, 0.5, 0, &[2.0, 0.5, 0.2]),
            run(0.1, 0.5, 1, &[2.0, 0.5, 0.3]),
            run(0.1, 0.5, 2, &[2.5, f64::NAN]),
        ];
        let mut meta = info(vec![4], vec![0.1], vec![1.0, 0.5]);
        meta.seed = vec![0, 1, 2];
        let a = analyse(&meta, &runs, None);
        let c = &a.comparisons[0];
        assert_eq!(c.target, 0.7);
        assert_eq!(c.momentum.as_ref().unwrap().selection.to_target, [1.0, 1.0, f64::INFINITY]);
    }

    #[test]
    fn ties_go_to_the_smaller_gamma_and_diverged_settings_never_win() {
        let runs = vec![
            run(0.2, 1.0, 0, &[2.0, 1.0]),
            run(0.1, 1.0, 0, &[2.0, 1.0]),
            run(0.3, 1.0, 0, &[2.0, f64::INFINITY]),
            run(0.3, 0.5, 0, &[2.0, f64::NAN]),
        ];
        let mut meta = info(vec![4], vec![0.1, 0.2, 0.3], vec![1.0, 0.5]);
        meta.seed = vec![0];
        let a = analyse(&meta, &runs, None);
        let c = &a.comparisons[0];
        assert_eq!(c.gd.as_ref().unwrap().gamma, 0.1);
        // The verdict on its bracketing names the same best: one rule for the table and it.
        assert_eq!(c.gd.as_ref().unwrap().bracket.and_then(|v| v.best()), Some(0.1));
        // Momentum's only setting diverged: there is no best momentum and no statistics.
        assert!(c.momentum.is_none() && c.stats.is_none());
    }

    #[test]
    fn a_best_between_far_worse_neighbours_is_fragile() {
        // GD's best γ = 0.2 scores 1e-7; its neighbour 0.1 scores 0.5 (5e6 times worse).
        let runs = vec![
            run(0.1, 1.0, 0, &[2.0, 0.5]),
            run(0.2, 1.0, 0, &[2.0, 1e-7]),
            run(0.4, 1.0, 0, &[2.0, f64::NAN]),
        ];
        let mut meta = info(vec![4], vec![0.1, 0.2, 0.4], vec![1.0]);
        meta.seed = vec![0];
        let a = analyse(&meta, &runs, None);
        let gd = a.comparisons[0].gd.as_ref().unwrap();
        assert!(gd.is_fragile());
        assert_eq!(gd.fragility.below.unwrap().gamma, 0.1);
        assert_eq!(gd.fragility.above.unwrap().score, f64::INFINITY);
        // In f32, a best below a millionth of its initial loss is at the mercy of rounding.
        assert!(!near_f32_resolution(&meta, gd));
        meta.precision = Precision::F32;
        assert!(near_f32_resolution(&meta, gd));
    }

    #[test]
    fn widths_without_runs_are_left_out() {
        let a = analyse(&info(vec![4, 8], vec![0.1, 0.2], vec![1.0, 0.5]), &known_runs(), None);
        assert_eq!(a.comparisons.len(), 1);
        assert_eq!(a.comparisons[0].hidden, 4);
    }
}
