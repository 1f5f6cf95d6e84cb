//! Tuning each method's step size fairly: the bracketing rule and the rounds it drives.
//!
//! A *method* is one α at one M (α = 1 is plain gradient descent). Its score at a γ is its
//! seeds' values of the tuning criterion summed up (`score`: by default the late training
//! loss, seeds by their median); its best γ is the one with the lowest score (the smallest γ
//! among equals). The best is *bracketed* when a tried γ below and a tried γ above it are no
//! better and each lies within `resolution` of it. Otherwise the next round adds one γ for the
//! method (`judge`): the next value outward, at the grid's ratio, when the best is the smallest
//! or largest tried (or every γ diverged, then downward); the geometric midpoint towards the
//! better neighbour that is still too far otherwise, unless the landscape there is too rough
//! to bisect (the best is *fragile*: the method stops, said so).
//!
//! After the tuning, a sweep with `[confirm]` trains each view's bests again on fresh seeds
//! (`select` chooses the bests, `confirm` the round).
//!
//! Everything here is pure: [`replay`] rebuilds every round from the scores of finished runs,
//! so the rounds depend only on results, which are bitwise reproducible. There is no tuning
//! state on disk to lose or to disagree with the runs.

mod confirm;
mod judge;
mod score;
mod select;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use crate::config::{ConfirmSpec, GridSpec, TrainSpec, TuneSpec};
use crate::grid::{RunSpec, expand, short_number};
use crate::store::summary::finished_runs;
use crate::store::{RunId, RunRecord, SweepDir, SweepMeta};
pub use confirm::{Confirmation, Pick, fresh_seeds};
pub use judge::{Open, Tried, Verdict, grid_ratio, judge};
pub use score::{ROUGH, aggregate, late_window, median, point_score, rough, run_score, seed_span, span};
pub use select::{Fragility, Neighbour, Setting, View, best, bests, fragility, settings};

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
    /// The methods with γ values of the round in progress still training: their verdicts are
    /// on part of the round, and say nothing yet of the next.
    pub waiting: Vec<Method>,
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
            "Tuning γ by {} (seeds by their {}) to a resolution of {}: round {} of at most {} ({state})\n",
            spec.by.name(),
            spec.aggregate.name(),
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
            if self.waiting.contains(method) {
                // Judged on part of the round: its best so far, and nothing of what comes next.
                let best =
                    verdict.best().map_or("none converged".into(), |g| format!("γ = {}", short_number(g)));
                out.push_str(&format!(
                    "  {method}: γ values of this round still training; best of those finished: {best}\n"
                ));
                continue;
            }
            let next = match verdict {
                Verdict::Open { next, .. } if !self.finished => {
                    format!("; the next round adds γ = {}", short_number(*next))
                }
                Verdict::Open { .. } => format!("; not bracketed within max_rounds = {}", spec.max_rounds),
                Verdict::Bracketed { .. } | Verdict::Fragile { .. } | Verdict::Stuck { .. } => String::new(),
            };
            out.push_str(&format!("  {method}: {verdict}{so_far}{next}\n"));
        }
        for method in self.waiting.iter().filter(|m| !self.verdicts.iter().any(|(v, _)| v == *m)) {
            out.push_str(&format!("  {method}: γ values of this round still training; none finished yet\n"));
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
pub fn replay(grid: &GridSpec, spec: &TuneSpec, score: impl Fn(Method, f64) -> Option<(f64, f64)>) -> Tuning {
    let ratio = grid_ratio(&grid.gamma);
    let mut tried: Vec<(Method, Vec<f64>)> = methods(grid).map(|m| (m, grid.gamma.clone())).collect();
    let mut rounds = Vec::new();
    loop {
        let mut waiting = Vec::new();
        let mut verdicts = Vec::with_capacity(tried.len());
        for (method, gammas) in &tried {
            let mut known: Vec<Tried> = gammas
                .iter()
                .filter_map(|&gamma| {
                    let (score, span) = score(*method, gamma)?;
                    Some(Tried { gamma, score, span })
                })
                .collect();
            if known.len() < gammas.len() {
                waiting.push(*method);
            }
            if !known.is_empty() {
                known.sort_by(|a, b| a.gamma.total_cmp(&b.gamma));
                verdicts.push((*method, judge(&known, ratio, spec.resolution)));
            }
        }
        if !waiting.is_empty() {
            return Tuning { rounds, verdicts, finished: false, waiting };
        }
        let added: Vec<(Method, f64)> = verdicts
            .iter()
            .filter_map(|(m, v)| match v {
                Verdict::Open { next, .. } => Some((*m, *next)),
                Verdict::Bracketed { .. } | Verdict::Fragile { .. } | Verdict::Stuck { .. } => None,
            })
            .collect();
        if added.is_empty() || rounds.len() + 1 >= spec.max_rounds {
            return Tuning { rounds, verdicts, finished: true, waiting };
        }
        for (m, g) in &added {
            let (_, gammas) = tried.iter_mut().find(|(t, _)| t == m).expect("every method is tried");
            gammas.push(*g);
        }
        rounds.push(Round { added });
    }
}

/// Every run a sweep holds so far: the grid's, then each tuning round's (every seed of each added
/// (method, γ)), then the confirmation round's, numbered in that order.
pub fn run_specs(
    grid: &GridSpec,
    tuning: Option<&Tuning>,
    confirmation: Option<&Confirmation>,
) -> Vec<RunSpec> {
    let mut runs = selection_specs(grid, tuning);
    if let Some(c) = confirmation {
        let first = runs.len();
        runs.extend(c.run_specs(first));
    }
    runs
}

/// The runs the bests are selected from: the grid's and every tuning round's, on the grid's
/// seeds.
fn selection_specs(grid: &GridSpec, tuning: Option<&Tuning>) -> Vec<RunSpec> {
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

/// The rounds a sweep on disk has decided so far: its tuning, for a tuned sweep, and its
/// confirmation round, once decided.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rounds {
    /// Where the tuning stands.
    pub tuning: Option<Tuning>,
    /// The confirmation round, once the selection runs are all finished.
    pub confirmation: Option<Confirmation>,
}

impl Rounds {
    /// Every run these rounds hold, the grid's first.
    pub fn run_specs(&self, grid: &GridSpec) -> Vec<RunSpec> {
        run_specs(grid, self.tuning.as_ref(), self.confirmation.as_ref())
    }

    /// True while a confirmation is asked for but not decided yet (the selection runs are not
    /// all finished).
    pub fn confirmation_pending(&self, spec: Option<&ConfirmSpec>) -> bool {
        spec.is_some() && self.confirmation.is_none()
    }
}

/// Rebuilds the rounds of a sweep from the finished runs in its folder: the tuning rounds
/// (`tune`), then the confirmation round (`confirm`).
#[allow(clippy::too_many_arguments)]
pub fn rounds_on_disk(
    dir: &SweepDir,
    grid: &GridSpec,
    train: &TrainSpec,
    fingerprint: &str,
    tune: Option<&TuneSpec>,
    confirm: Option<&ConfirmSpec>,
    has_test_set: bool,
) -> Rounds {
    let tuning = tune.map(|spec| on_disk(dir, grid, train, fingerprint, spec));
    let confirmation = confirm.and_then(|spec| {
        let selection = selection_specs(grid, tuning.as_ref());
        confirm::on_disk(dir, grid, train, fingerprint, tuning.as_ref(), &selection, spec, has_test_set)
    });
    Rounds { tuning, confirmation }
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
    // Score and seed span by (M, α bits, γ bits), once per point however often replay asks.
    type Memo = HashMap<(usize, u64, u64), Option<(f64, f64)>>;
    let known: RefCell<Memo> = RefCell::default();
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
            (runs.len() == ids.len())
                .then(|| (point_score(&runs, spec.selection()), seed_span(&runs, spec.by)))
        })
    })
}

/// The runs a sweep on disk holds so far, from its `sweep.toml` alone: the grid's and those of
/// the rounds its finished runs decided; with those rounds.
pub fn recorded_runs(dir: &SweepDir, info: &SweepMeta) -> (Vec<RunId>, Rounds) {
    let (grid, train) = (info.grid(), info.train());
    let fingerprint = &info.data_fingerprint;
    let rounds = rounds_on_disk(
        dir,
        &grid,
        &train,
        fingerprint,
        info.tune.as_ref(),
        info.confirm.as_ref(),
        info.has_test_set(),
    );
    let ids =
        rounds.run_specs(&grid).iter().map(|spec| RunId::from_spec(spec, &train, fingerprint)).collect();
    (ids, rounds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Aggregate, Criterion};

    const INF: f64 = f64::INFINITY;

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
        let spec = TuneSpec {
            by: Criterion::FinalTrainLoss,
            aggregate: Aggregate::Mean,
            resolution: 1.3,
            max_rounds: 20,
        };
        let grid = grid(vec![0.01, 0.1]);
        let tuning = replay(&grid, &spec, |m, g| Some((bowl(m, g), 1.0)));
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
        let spec = TuneSpec {
            by: Criterion::FinalTrainLoss,
            aggregate: Aggregate::Mean,
            resolution: 1.3,
            max_rounds: 3,
        };
        let grid = grid(vec![0.01, 0.1]);
        let full = replay(&grid, &spec, |m, g| Some((bowl(m, g), 1.0)));
        assert_eq!(full.rounds.len(), 2, "the grid and two more rounds");
        assert!(full.finished);
        assert!(full.verdicts.iter().any(|(_, v)| !v.is_bracketed()));
        // With the second round's scores missing, the replay stops there, unfinished.
        let second: Vec<(Method, f64)> = full.rounds[0].added.clone();
        let partial = replay(&grid, &spec, |m, g| (!second.contains(&(m, g))).then(|| (bowl(m, g), 1.0)));
        assert!(!partial.finished);
        assert_eq!(partial.rounds, full.rounds[..1]);
        assert_eq!(partial.round(), 2);
        // The methods waiting on the round say so and propose nothing from part of it.
        let waiting: Vec<Method> = second.iter().map(|(m, _)| *m).collect();
        assert_eq!(partial.waiting, waiting);
        let text = partial.describe(&spec);
        assert!(!text.contains("the next round adds"), "{text}");
        assert_eq!(text.matches("γ values of this round still training").count(), waiting.len(), "{text}");
        // Nothing known yet: round 1, no verdicts.
        let none = replay(&grid, &spec, |_, _| None);
        assert_eq!((none.round(), none.verdicts.len(), none.finished), (1, 0, false));
        assert!(none.describe(&spec).contains("none finished yet"));
    }
}
