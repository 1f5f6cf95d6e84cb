//! The confirmation round (`[confirm]`): once the grid and every tuning round are finished,
//! each view's selected bests at every M (plain GD's best γ, momentum's best (γ, α)) are trained
//! again on fresh seeds, the smallest non-negative integers not among the grid's seeds. They
//! are ordinary runs; the report computes its statistics on them alone, so that no number that
//! claims evidence rests on the seeds that chose what it compares.
//!
//! Like the tuning rounds, the round is a pure function of the finished runs: every process
//! that sees the same results decides the same settings.

use super::Tuning;
use super::select::{View, bests, settings};
use crate::config::{ConfirmSpec, GridSpec, Selection, TrainSpec};
use crate::grid::RunSpec;
use crate::store::summary::finished_runs;
use crate::store::{RunId, RunRecord, SweepDir};

/// The `n` smallest non-negative integers that are not among `grid`: the confirmation seeds,
/// so their initial points are ones no selection run started from.
pub fn fresh_seeds(grid: &[u64], n: usize) -> Vec<u64> {
    (0..).filter(|s| !grid.contains(s)).take(n).collect()
}

/// One setting to confirm: an M and a (γ, α).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pick {
    /// M.
    pub hidden: usize,
    /// γ.
    pub gamma: f64,
    /// α.
    pub alpha: f64,
}

/// The confirmation round, decided: the settings and the fresh seeds each is trained on.
#[derive(Clone, Debug, PartialEq)]
pub struct Confirmation {
    /// Per M (in the grid's order), each view's two bests, each setting once.
    pub picks: Vec<Pick>,
    /// The fresh seeds.
    pub seeds: Vec<u64>,
}

impl Confirmation {
    /// The round's runs, numbered from `first`: every fresh seed of every pick.
    pub fn run_specs(&self, first: usize) -> Vec<RunSpec> {
        let pairs = self.picks.iter().flat_map(|p| self.seeds.iter().map(move |&seed| (p, seed)));
        pairs
            .enumerate()
            .map(|(i, (p, seed))| RunSpec {
                index: first + i,
                hidden: p.hidden,
                gamma: p.gamma,
                alpha: p.alpha,
                seed,
            })
            .collect()
    }
}

/// The settings to confirm, from the finished selection runs (the grid's seeds only): per M,
/// each view's best plain GD and best momentum, each setting once, in the grid's order of M.
pub fn picks(runs: &[RunRecord], grid: &GridSpec, optimisation: Selection, has_test_set: bool) -> Vec<Pick> {
    let mut out: Vec<Pick> = Vec::new();
    for &hidden in &grid.hidden {
        let at_m = settings(runs, hidden, &grid.seed);
        for view in View::of(has_test_set) {
            let (gd, momentum) = bests(&at_m, view.selection(optimisation));
            for s in [gd, momentum].into_iter().flatten() {
                let pick = Pick { hidden, gamma: s.gamma, alpha: s.alpha };
                if !out.contains(&pick) {
                    out.push(pick);
                }
            }
        }
    }
    out
}

/// Decides the confirmation round of a sweep on disk: None until every run of the grid and
/// of the tuning rounds (`selection`) is finished and the tuning, if any, is finished too.
#[allow(clippy::too_many_arguments)]
pub fn on_disk(
    dir: &SweepDir,
    grid: &GridSpec,
    train: &TrainSpec,
    fingerprint: &str,
    tuning: Option<&Tuning>,
    selection: &[RunSpec],
    spec: &ConfirmSpec,
    has_test_set: bool,
) -> Option<Confirmation> {
    if tuning.is_some_and(|t| !t.finished) {
        return None;
    }
    let ids: Vec<RunId> = selection.iter().map(|r| RunId::from_spec(r, train, fingerprint)).collect();
    let found = finished_runs(dir, &ids, train.iterations);
    if found.runs.len() < ids.len() {
        return None;
    }
    Some(Confirmation {
        picks: picks(&found.runs, grid, spec.selection(), has_test_set),
        seeds: fresh_seeds(&grid.seed, spec.seeds),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_seeds_are_the_smallest_integers_the_grid_did_not_use() {
        assert_eq!(fresh_seeds(&[0, 1], 3), [2, 3, 4]);
        assert_eq!(fresh_seeds(&[3, 0, 7], 5), [1, 2, 4, 5, 6]);
        assert_eq!(fresh_seeds(&[5], 2), [0, 1]);
        assert_eq!(fresh_seeds(&[], 1), [0]);
        assert_eq!(fresh_seeds(&[u64::MAX], 2), [0, 1]);
    }

    #[test]
    fn each_setting_is_confirmed_once_on_every_fresh_seed() {
        let c = Confirmation {
            picks: vec![
                Pick { hidden: 4, gamma: 0.1, alpha: 1.0 },
                Pick { hidden: 4, gamma: 0.3, alpha: 0.5 },
            ],
            seeds: vec![2, 3],
        };
        let runs = c.run_specs(10);
        let got: Vec<(usize, f64, f64, u64)> =
            runs.iter().map(|r| (r.index, r.gamma, r.alpha, r.seed)).collect();
        assert_eq!(got, [(10, 0.1, 1.0, 2), (11, 0.1, 1.0, 3), (12, 0.3, 0.5, 2), (13, 0.3, 0.5, 3)]);
    }
}
