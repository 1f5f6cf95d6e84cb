//! Tuning each method's step size fairly: the bracketing rule and the rounds it drives.
//!
//! A *method* is one α at one M (α = 1 is plain gradient descent). Its score at a γ is the
//! seed-mean of the tuning criterion, +∞ when a seed diverged; its best γ is the one with the
//! lowest score (the smallest γ among equals). The best is *bracketed* when a tried γ below and
//! a tried γ above it are no better and each lies within `resolution` of it. Otherwise the next
//! round adds one γ for the method: the next value outward, at the grid's ratio, when the best
//! is the smallest or largest tried (or every γ diverged, then downward); the geometric midpoint
//! towards the better neighbour that is still too far otherwise.
//!
//! Everything here is pure: [`replay`] rebuilds every round from the scores of finished runs,
//! so the rounds depend only on results, which are bitwise reproducible. There is no tuning
//! state on disk to lose or to disagree with the runs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use crate::config::{Criterion, GridSpec, TrainSpec, TuneSpec, round_value};
use crate::grid::{RunSpec, expand, short_number};
use crate::store::summary::finished_runs;
use crate::store::{RunId, RunRecord, SweepDir, SweepMeta};

/// A finished run's value of `by`: +∞ when it diverged, or the value is missing or NaN.
pub fn run_score(run: &RunRecord, by: Criterion) -> f64 {
    let last = run.curve.last();
    let value = match by {
        _ if run.diverged() => None,
        Criterion::FinalTrainLoss => last.map(|r| r.train_loss),
        Criterion::BestTrainLoss => {
            run.curve.iter().map(|r| r.train_loss).filter(|l| !l.is_nan()).reduce(f64::min)
        }
        Criterion::TestLoss => last.and_then(|r| r.test_loss),
    };
    value.filter(|v| !v.is_nan()).unwrap_or(f64::INFINITY)
}

/// The score of one (M, γ, α): the seed-mean of `by`, +∞ when a seed diverged.
pub fn point_score(runs: &[&RunRecord], by: Criterion) -> f64 {
    runs.iter().map(|r| run_score(r, by)).sum::<f64>() / runs.len() as f64
}

/// One γ tried for a method and its score (+∞ when a seed diverged).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tried {
    /// γ.
    pub gamma: f64,
    /// The seed-mean of the criterion.
    pub score: f64,
}

/// Why a method's best γ is not bracketed yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open {
    /// The best is the largest γ tried.
    Largest,
    /// The best is the smallest γ tried.
    Smallest,
    /// The best is inside, but a neighbour is farther than the resolution.
    Coarse,
    /// Every γ tried diverged.
    AllDiverged,
}

/// Where one method's tuning stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// The best γ is bracketed within the resolution.
    Bracketed {
        /// The best γ.
        best: f64,
    },
    /// Not bracketed: `next` is the γ the next round adds.
    Open {
        /// The best γ so far (none when every γ diverged).
        best: Option<f64>,
        /// Why it is not bracketed.
        why: Open,
        /// The γ to try next.
        next: f64,
    },
}

impl Verdict {
    /// The best γ so far.
    pub fn best(&self) -> Option<f64> {
        match *self {
            Verdict::Bracketed { best } => Some(best),
            Verdict::Open { best, .. } => best,
        }
    }

    /// True when the best γ is bracketed.
    pub fn is_bracketed(&self) -> bool {
        matches!(self, Verdict::Bracketed { .. })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Verdict::Bracketed { best } => write!(f, "best γ = {} is bracketed", short_number(best)),
            Verdict::Open { best: Some(best), why, .. } => {
                let best = short_number(best);
                match why {
                    Open::Largest => write!(f, "best γ = {best} is the largest tried"),
                    Open::Smallest => write!(f, "best γ = {best} is the smallest tried"),
                    _ => write!(f, "best γ = {best} has a tried neighbour farther than the resolution"),
                }
            }
            Verdict::Open { best: None, .. } => write!(f, "every γ tried diverged"),
        }
    }
}

/// The round value nearest `x` unless it collides with a tried γ (when the tried values are
/// closer than rounding), then `x` itself; `None` when even `x` is tried.
fn fresh(x: f64, tried: &[Tried]) -> Option<f64> {
    let taken = |v: f64| tried.iter().any(|t| t.gamma == v);
    let rounded = round_value(x);
    if !taken(rounded) {
        Some(rounded)
    } else if !taken(x) {
        Some(x)
    } else {
        None
    }
}

/// Judges one method from the γ values tried (sorted ascending, distinct, at least one): its
/// best, whether that is bracketed within `resolution` (> 1), and what to try next. `ratio` (> 1)
/// is the grid's step between neighbouring γ values, used to go beyond an edge.
pub fn judge(tried: &[Tried], ratio: f64, resolution: f64) -> Verdict {
    let (lowest, highest) = (tried[0].gamma, tried[tried.len() - 1].gamma);
    let outward = |from: f64, factor: f64, why: Open, best: Option<f64>| {
        // Far beyond any tried value, rounding can never collide; fall back to the exact value.
        let next = fresh(from * factor, tried).unwrap_or(from * factor);
        Verdict::Open { best, why, next }
    };
    let best = tried
        .iter()
        .enumerate()
        .filter(|(_, t)| t.score.is_finite())
        .min_by(|(_, a), (_, b)| a.score.total_cmp(&b.score).then(a.gamma.total_cmp(&b.gamma)));
    let Some((b, best)) = best else {
        return outward(lowest, 1.0 / ratio, Open::AllDiverged, None);
    };
    if b + 1 == tried.len() {
        return outward(highest, ratio, Open::Largest, Some(best.gamma));
    }
    if b == 0 {
        return outward(lowest, 1.0 / ratio, Open::Smallest, Some(best.gamma));
    }
    // Each side still too far from the best, with the midpoint that would close it.
    let sides = [tried[b - 1], tried[b + 1]].into_iter().filter_map(|neighbour| {
        let far = (neighbour.gamma / best.gamma).max(best.gamma / neighbour.gamma) > resolution;
        let midpoint = fresh((neighbour.gamma * best.gamma).sqrt(), tried)?;
        far.then_some((neighbour, midpoint))
    });
    // Towards the better neighbour (the lower side among equals: `min_by` keeps the first).
    match sides.min_by(|(a, _), (b, _)| a.score.total_cmp(&b.score)) {
        Some((_, next)) => Verdict::Open { best: Some(best.gamma), why: Open::Coarse, next },
        None => Verdict::Bracketed { best: best.gamma },
    }
}

/// The grid's step between neighbouring γ values: the geometric mean ratio of its sorted list.
pub fn grid_ratio(gamma: &[f64]) -> f64 {
    let lowest = gamma.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = gamma.iter().copied().fold(0.0, f64::max);
    (highest / lowest).powf(1.0 / (gamma.len() as f64 - 1.0))
}

/// One method: an M and an α.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Method {
    /// M.
    pub hidden: usize,
    /// α (1 = plain gradient descent).
    pub alpha: f64,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.alpha == 1.0 {
            write!(f, "plain GD at M = {}", self.hidden)
        } else {
            write!(f, "momentum α = {} at M = {}", short_number(self.alpha), self.hidden)
        }
    }
}

/// The γ values one round adds, per method (every seed of each is a run).
#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    /// (method, γ) in the grid's order of methods.
    pub added: Vec<(Method, f64)>,
}

/// Where a tuned sweep stands, rebuilt from the scores of its finished runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Tuning {
    /// The rounds decided so far beyond the grid (the grid itself is round 1).
    pub rounds: Vec<Round>,
    /// Each method's verdict on the γ values whose scores are known (all of them, once the
    /// tuning is finished).
    pub verdicts: Vec<(Method, Verdict)>,
    /// True when every run decided so far has a score and no further round will be added:
    /// every method is bracketed, or the rounds reached `max_rounds`.
    pub finished: bool,
}

impl Tuning {
    /// The round now in progress, counting the grid as round 1.
    pub fn round(&self) -> usize {
        self.rounds.len() + 1
    }

    /// Every (method, γ) the tuning has decided to try, the grid's first, in a fixed order.
    pub fn points<'a>(&'a self, grid: &'a GridSpec) -> impl Iterator<Item = (Method, f64)> + 'a {
        let base = methods(grid).flat_map(|m| grid.gamma.iter().map(move |&g| (m, g)));
        base.chain(self.rounds.iter().flat_map(|r| r.added.iter().copied()))
    }
    /// Where the tuning stands, as lines: its round, the γ values each round added, then one
    /// line per method with its best γ so far, whether that is bracketed, and what comes next.
    pub fn describe(&self, spec: &TuneSpec) -> String {
        let state = if self.finished { "finished" } else { "in progress" };
        let mut out = format!(
            "Tuning γ by {} to a resolution of {}: round {} of at most {} ({state})\n",
            spec.by.name(),
            spec.resolution,
            self.round(),
            spec.max_rounds,
        );
        for (r, round) in self.rounds.iter().enumerate() {
            let added: Vec<String> =
                round.added.iter().map(|(m, g)| format!("γ = {} for {m}", short_number(*g))).collect();
            out.push_str(&format!("  round {} added {}\n", r + 2, added.join(", ")));
        }
        let so_far = if self.finished { "" } else { " so far" };
        for (method, verdict) in &self.verdicts {
            let next = match verdict {
                Verdict::Open { next, .. } if !self.finished => {
                    format!("; the next round adds γ = {}", short_number(*next))
                }
                Verdict::Open { .. } => format!("; not bracketed within max_rounds = {}", spec.max_rounds),
                Verdict::Bracketed { .. } => String::new(),
            };
            out.push_str(&format!("  {method}: {verdict}{so_far}{next}\n"));
        }
        out
    }
}

/// The methods of a grid, M slowest.
pub fn methods(grid: &GridSpec) -> impl Iterator<Item = Method> + '_ {
    grid.hidden.iter().flat_map(|&hidden| grid.alpha.iter().map(move |&alpha| Method { hidden, alpha }))
}

/// Rebuilds the rounds of a tuned sweep: starting from the grid, while every γ tried so far has
/// a `score` (`None` for a point whose seeds are not all finished), judges every method and adds
/// the next round, until every method is bracketed or `spec.max_rounds` rounds (the grid's
/// included) are decided. Only results decide, so every process that sees the same finished
/// runs decides the same rounds. While a round is unfinished, the verdicts are those on the
/// points known so far (what `plan` and an interrupted sweep show).
pub fn replay(grid: &GridSpec, spec: &TuneSpec, score: impl Fn(Method, f64) -> Option<f64>) -> Tuning {
    let ratio = grid_ratio(&grid.gamma);
    let mut tried: Vec<(Method, Vec<f64>)> = methods(grid).map(|m| (m, grid.gamma.clone())).collect();
    let mut rounds = Vec::new();
    loop {
        let mut complete = true;
        let mut verdicts = Vec::with_capacity(tried.len());
        for (method, gammas) in &tried {
            let mut known: Vec<Tried> = gammas
                .iter()
                .filter_map(|&gamma| Some(Tried { gamma, score: score(*method, gamma)? }))
                .collect();
            complete &= known.len() == gammas.len();
            if !known.is_empty() {
                known.sort_by(|a, b| a.gamma.total_cmp(&b.gamma));
                verdicts.push((*method, judge(&known, ratio, spec.resolution)));
            }
        }
        if !complete {
            return Tuning { rounds, verdicts, finished: false };
        }
        let added: Vec<(Method, f64)> = verdicts
            .iter()
            .filter_map(|(m, v)| match v {
                Verdict::Open { next, .. } => Some((*m, *next)),
                Verdict::Bracketed { .. } => None,
            })
            .collect();
        if added.is_empty() || rounds.len() + 1 >= spec.max_rounds {
            return Tuning { rounds, verdicts, finished: true };
        }
        for (m, g) in &added {
            let (_, gammas) = tried.iter_mut().find(|(t, _)| t == m).expect("every method is tried");
            gammas.push(*g);
        }
        rounds.push(Round { added });
    }
}

/// Every run a sweep holds so far: the grid's, then each tuning round's (every seed of each added
/// (method, γ)), numbered in that order.
pub fn run_specs(grid: &GridSpec, tuning: Option<&Tuning>) -> Vec<RunSpec> {
    let mut runs = expand(grid);
    for round in tuning.map_or(&[][..], |t| &t.rounds[..]) {
        for &(m, gamma) in &round.added {
            for &seed in &grid.seed {
                runs.push(RunSpec { index: runs.len(), hidden: m.hidden, gamma, alpha: m.alpha, seed });
            }
        }
    }
    runs
}

/// Rebuilds the tuning of a sweep from the finished runs in its folder: a point's score is
/// known once every seed of it is finished and sound.
pub fn on_disk(
    dir: &SweepDir,
    grid: &GridSpec,
    train: &TrainSpec,
    fingerprint: &str,
    spec: &TuneSpec,
) -> Tuning {
    let known: RefCell<HashMap<(usize, u64, u64), Option<f64>>> = RefCell::default();
    replay(grid, spec, |m, gamma| {
        *known.borrow_mut().entry((m.hidden, m.alpha.to_bits(), gamma.to_bits())).or_insert_with(|| {
            let ids: Vec<RunId> = grid
                .seed
                .iter()
                .map(|&seed| {
                    let run = RunSpec { index: 0, hidden: m.hidden, gamma, alpha: m.alpha, seed };
                    RunId::from_spec(&run, train, fingerprint)
                })
                .collect();
            let found = finished_runs(dir, &ids, train.iterations);
            let runs: Vec<&RunRecord> = found.runs.iter().collect();
            (runs.len() == ids.len()).then(|| point_score(&runs, spec.by))
        })
    })
}

/// The runs a sweep on disk holds so far, from its `sweep.toml` alone: the grid's and, for a
/// tuned sweep, those of the rounds its finished runs decided; with the tuning, when tuned.
pub fn recorded_runs(dir: &SweepDir, info: &SweepMeta) -> (Vec<RunId>, Option<Tuning>) {
    let (grid, train) = (info.grid(), info.train());
    let tuning = info.tune.map(|spec| on_disk(dir, &grid, &train, &info.data_fingerprint, &spec));
    let ids = run_specs(&grid, tuning.as_ref())
        .iter()
        .map(|spec| RunId::from_spec(spec, &train, &info.data_fingerprint))
        .collect();
    (ids, tuning)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Criterion;

    fn tried(points: &[(f64, f64)]) -> Vec<Tried> {
        points.iter().map(|&(gamma, score)| Tried { gamma, score }).collect()
    }

    const INF: f64 = f64::INFINITY;

    #[test]
    fn a_best_at_an_edge_goes_one_grid_step_outward() {
        let up = judge(&tried(&[(0.01, 3.0), (0.1, 2.0), (1.0, 1.0)]), 10.0, 1.3);
        assert_eq!(up, Verdict::Open { best: Some(1.0), why: Open::Largest, next: 10.0 });
        let down = judge(&tried(&[(0.01, 1.0), (0.1, 2.0), (1.0, 3.0)]), 10.0, 1.3);
        assert_eq!(down, Verdict::Open { best: Some(0.01), why: Open::Smallest, next: 0.001 });
        // The next value is a round one.
        let third = judge(&tried(&[(0.1, 2.0), (0.3, 1.0)]), 3.0f64.sqrt(), 1.3);
        assert_eq!(third, Verdict::Open { best: Some(0.3), why: Open::Largest, next: 0.52 });
    }

    #[test]
    fn an_interior_best_is_refined_towards_its_better_neighbour() {
        // 0.1 is better than 10: the midpoint of 1 and 0.1 comes first.
        let v = judge(&tried(&[(0.1, 2.0), (1.0, 1.0), (10.0, 5.0)]), 10.0, 1.3);
        assert_eq!(v, Verdict::Open { best: Some(1.0), why: Open::Coarse, next: 0.316 });
        let v = judge(&tried(&[(0.1, 5.0), (1.0, 1.0), (10.0, 2.0)]), 10.0, 1.3);
        assert_eq!(v, Verdict::Open { best: Some(1.0), why: Open::Coarse, next: 3.16 });
        // A side already within the resolution is left alone, even if its neighbour is better.
        let v = judge(&tried(&[(0.9, 1.5), (1.0, 1.0), (10.0, 5.0)]), 10.0, 1.3);
        assert_eq!(v, Verdict::Open { best: Some(1.0), why: Open::Coarse, next: 3.16 });
    }

    #[test]
    fn neighbours_no_better_and_within_the_resolution_bracket_the_best() {
        let v = judge(&tried(&[(0.01, 9.0), (0.8, 1.2), (1.0, 1.0), (1.2, 1.1), (10.0, 9.0)]), 10.0, 1.3);
        assert_eq!(v, Verdict::Bracketed { best: 1.0 });
        assert_eq!(v.to_string(), "best γ = 1 is bracketed");
        // A resolution tighter than the neighbours keeps it open.
        let v = judge(&tried(&[(0.8, 1.2), (1.0, 1.0), (1.2, 1.1)]), 10.0, 1.1);
        assert_eq!(v, Verdict::Open { best: Some(1.0), why: Open::Coarse, next: 1.1 });
    }

    #[test]
    fn diverged_neighbours_count_as_worse() {
        // Above the best everything diverged: the best is bracketed once the diverged γ is close.
        let v = judge(&tried(&[(0.8, 2.0), (1.0, 1.0), (1.2, INF), (10.0, INF)]), 10.0, 1.3);
        assert_eq!(v, Verdict::Bracketed { best: 1.0 });
        // A diverged largest γ is never the best, so the search never runs off upward; the
        // finite neighbour is the better one, so refinement starts below.
        let v = judge(&tried(&[(0.1, 2.0), (1.0, 1.0), (10.0, INF)]), 10.0, 1.3);
        assert_eq!(v, Verdict::Open { best: Some(1.0), why: Open::Coarse, next: 0.316 });
        // When every γ diverged, the search goes downward.
        let v = judge(&tried(&[(0.1, INF), (1.0, INF)]), 10.0, 1.3);
        assert_eq!(v, Verdict::Open { best: None, why: Open::AllDiverged, next: 0.01 });
        assert_eq!(v.to_string(), "every γ tried diverged");
    }

    #[test]
    fn ties_choose_the_smaller_gamma_and_the_lower_side() {
        let v = judge(&tried(&[(0.1, 3.0), (0.3, 1.0), (1.0, 1.0), (3.0, 3.0)]), 3.0, 1.3);
        assert_eq!(v.best(), Some(0.3));
        // Neighbours of equal score: the lower side first.
        let v = judge(&tried(&[(0.1, 2.0), (1.0, 1.0), (10.0, 2.0)]), 10.0, 1.3);
        assert_eq!(v, Verdict::Open { best: Some(1.0), why: Open::Coarse, next: 0.316 });
        // A tie within the resolution is as good as worse: the optimum is flat there.
        let v = judge(&tried(&[(0.9, 2.0), (1.0, 1.0), (1.1, 1.0)]), 10.0, 1.3);
        assert_eq!(v, Verdict::Bracketed { best: 1.0 });
    }

    #[test]
    fn values_closer_than_rounding_fall_back_to_exact_midpoints() {
        let v = judge(&tried(&[(1.0, 2.0), (1.001, 1.0), (1.002, 2.0)]), 10.0, 1.0001);
        let Verdict::Open { next, .. } = v else { panic!("{v:?}") };
        assert!(next > 1.0 && next < 1.001 && next != 1.0, "{next}");
    }

    fn grid(gamma: Vec<f64>) -> GridSpec {
        GridSpec { hidden: vec![4, 8], gamma, alpha: vec![1.0, 0.3], seed: vec![0, 1] }
    }

    /// A smooth score with its optimum at a γ that depends on the method.
    fn bowl(m: Method, gamma: f64) -> f64 {
        let optimum = 0.05 * m.hidden as f64 / m.alpha.sqrt();
        let x = (gamma / optimum).ln();
        if gamma > 40.0 * optimum { INF } else { 1.0 + x * x }
    }

    #[test]
    fn replay_brackets_every_method_within_the_resolution() {
        let spec = TuneSpec { by: Criterion::FinalTrainLoss, resolution: 1.3, max_rounds: 20 };
        let grid = grid(vec![0.01, 0.1]);
        let tuning = replay(&grid, &spec, |m, g| Some(bowl(m, g)));
        assert!(tuning.finished);
        assert_eq!(tuning.verdicts.len(), 4);
        for (m, v) in &tuning.verdicts {
            let best = v.best().unwrap();
            let optimum = 0.05 * m.hidden as f64 / m.alpha.sqrt();
            assert!(v.is_bracketed(), "{m}: {v}");
            assert!((best / optimum).max(optimum / best) <= 1.3, "{m}: best {best}, optimum {optimum}");
        }
        // One γ per open method per round, each an ordinary point.
        for round in &tuning.rounds {
            let methods: Vec<_> = round.added.iter().map(|(m, _)| (m.hidden, m.alpha.to_bits())).collect();
            let mut unique = methods.clone();
            unique.dedup();
            assert_eq!(unique, methods);
        }
        let points: Vec<_> = tuning.points(&grid).collect();
        assert_eq!(points.len(), 8 + tuning.rounds.iter().map(|r| r.added.len()).sum::<usize>());
    }

    #[test]
    fn replay_waits_for_missing_scores_and_stops_at_max_rounds() {
        let spec = TuneSpec { by: Criterion::FinalTrainLoss, resolution: 1.3, max_rounds: 3 };
        let grid = grid(vec![0.01, 0.1]);
        let full = replay(&grid, &spec, |m, g| Some(bowl(m, g)));
        assert_eq!(full.rounds.len(), 2, "the grid and two more rounds");
        assert!(full.finished);
        assert!(full.verdicts.iter().any(|(_, v)| !v.is_bracketed()));
        // With the second round's scores missing, the replay stops there, unfinished.
        let second: Vec<(Method, f64)> = full.rounds[0].added.clone();
        let partial = replay(&grid, &spec, |m, g| (!second.contains(&(m, g))).then(|| bowl(m, g)));
        assert!(!partial.finished);
        assert_eq!(partial.rounds, full.rounds[..1]);
        assert_eq!(partial.round(), 2);
        // Nothing known yet: round 1, no verdicts.
        let none = replay(&grid, &spec, |_, _| None);
        assert_eq!((none.round(), none.verdicts.len(), none.finished), (1, 0, false));
    }
}
