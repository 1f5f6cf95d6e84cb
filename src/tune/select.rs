//! Choosing each method's best setting at one M, in each view, and saying how far that choice
//! can be trusted: the one rule that the confirmation round and the report share.

use super::score::{ROUGH, point_score, seed_span};
use crate::config::{Criterion, Selection};
use crate::store::RunRecord;

/// Which "best" a comparison is about: the lowest training loss (how well each method
/// optimises) or the lowest test loss (how well what it finds generalises).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Chosen by a training loss: `[confirm]`'s or `[tune]`'s criterion, else the late loss.
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

    /// The views of a sweep: optimisation, and generalisation when there is a test set.
    pub fn of(has_test_set: bool) -> &'static [View] {
        if has_test_set { &[View::Optimisation, View::Generalisation] } else { &[View::Optimisation] }
    }

    /// What this view chooses by, given the optimisation view's selection: the generalisation
    /// view takes the final test loss, its seeds summed up the same way.
    pub fn selection(self, optimisation: Selection) -> Selection {
        match self {
            View::Optimisation => optimisation,
            View::Generalisation => Selection { by: Criterion::TestLoss, ..optimisation },
        }
    }
}

/// One setting (γ, α) at one M, with its runs (one per seed).
#[derive(Clone, Debug)]
pub struct Setting<'a> {
    /// γ.
    pub gamma: f64,
    /// α.
    pub alpha: f64,
    /// Its finished runs, one per seed.
    pub runs: Vec<&'a RunRecord>,
}

impl Setting<'_> {
    /// True for plain gradient descent (α = 1).
    pub fn is_gd(&self) -> bool {
        self.alpha == 1.0
    }
}

/// The settings at M among `runs` whose seed is one of `seeds`, in the order first met.
pub fn settings<'a>(runs: &'a [RunRecord], hidden: usize, seeds: &[u64]) -> Vec<Setting<'a>> {
    let mut out: Vec<Setting> = Vec::new();
    for r in runs.iter().filter(|r| r.meta.hidden == hidden && seeds.contains(&r.meta.seed)) {
        match out.iter_mut().find(|s| (s.gamma, s.alpha) == (r.meta.gamma, r.meta.alpha)) {
            Some(s) => s.runs.push(r),
            None => out.push(Setting { gamma: r.meta.gamma, alpha: r.meta.alpha, runs: vec![r] }),
        }
    }
    out
}

/// The best of some settings by `selection`: the lowest finite score; among equal scores the
/// smaller γ, then the larger α (one rule wherever a best is chosen). None when every score
/// is +∞.
pub fn best<'s, 'a>(
    candidates: impl Iterator<Item = &'s Setting<'a>>,
    selection: Selection,
) -> Option<&'s Setting<'a>>
where
    'a: 's,
{
    candidates
        .map(|s| (point_score(&s.runs, selection), s))
        .filter(|(score, _)| score.is_finite())
        .min_by(|(a, s), (b, t)| {
            a.total_cmp(b).then(s.gamma.total_cmp(&t.gamma)).then(t.alpha.total_cmp(&s.alpha))
        })
        .map(|(_, s)| s)
}

/// Plain GD's best and momentum's best (over every α < 1) among the settings of one M.
pub fn bests<'s, 'a>(
    settings: &'s [Setting<'a>],
    selection: Selection,
) -> (Option<&'s Setting<'a>>, Option<&'s Setting<'a>>) {
    (
        best(settings.iter().filter(|s| s.is_gd()), selection),
        best(settings.iter().filter(|s| !s.is_gd()), selection),
    )
}

/// A tried neighbour of a best: its γ and its score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Neighbour {
    /// γ.
    pub gamma: f64,
    /// Its score (+∞ when diverged).
    pub score: f64,
}

/// What says how far a best can be trusted: its score, its nearest tried γ on each side (at
/// the same α), and how far its own seeds end apart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fragility {
    /// The best's score.
    pub score: f64,
    /// The nearest tried γ below, if any.
    pub below: Option<Neighbour>,
    /// The nearest tried γ above, if any.
    pub above: Option<Neighbour>,
    /// Its worst seed's value over its best seed's.
    pub span: f64,
}

impl Fragility {
    /// True when the verdict rests on one γ: a neighbour scores more than [`ROUGH`] times worse
    /// (a diverged one counts as infinitely worse), or the best's seeds lie more than that apart.
    pub fn is_fragile(&self) -> bool {
        let far_worse = |n: &Neighbour| far_worse(self.score, n.score);
        [self.below, self.above].iter().flatten().any(far_worse) || self.span > ROUGH
    }

    /// True when a tried neighbour diverged: the best sits at the edge of stability, where
    /// fresh seeds may cross it.
    pub fn at_edge(&self) -> bool {
        [self.below, self.above].iter().flatten().any(|n| !n.score.is_finite())
    }
}

/// True when `other` is more than [`ROUGH`] times `best`, +∞ included (from a best of 0, any
/// score above 0 is).
fn far_worse(best: f64, other: f64) -> bool {
    if best <= 0.0 { other > 0.0 } else { other > ROUGH * best }
}

/// The fragility of `chosen` among `settings` (the settings of its M), by `selection`.
pub fn fragility(settings: &[Setting], chosen: &Setting, selection: Selection) -> Fragility {
    let same_alpha = || settings.iter().filter(|s| s.alpha == chosen.alpha);
    let neighbour = |s: &Setting| Neighbour { gamma: s.gamma, score: point_score(&s.runs, selection) };
    let below = same_alpha().filter(|s| s.gamma < chosen.gamma).max_by(|a, b| a.gamma.total_cmp(&b.gamma));
    let above = same_alpha().filter(|s| s.gamma > chosen.gamma).min_by(|a, b| a.gamma.total_cmp(&b.gamma));
    Fragility {
        score: point_score(&chosen.runs, selection),
        below: below.map(neighbour),
        above: above.map(neighbour),
        span: seed_span(&chosen.runs, selection.by),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    fn at(score: f64, below: Option<f64>, above: Option<f64>, span: f64) -> Fragility {
        let side = |g: f64| move |s: f64| Neighbour { gamma: g, score: s };
        Fragility { score, below: below.map(side(0.1)), above: above.map(side(0.4)), span }
    }

    #[test]
    fn the_fragility_rule() {
        // Neighbours up to 100 times worse and seeds up to 100 times apart: a best to rely on.
        assert!(!at(1e-3, Some(0.1), Some(0.05), 100.0).is_fragile());
        assert!(!at(1e-3, None, Some(0.1), 1.0).is_fragile());
        assert!(!at(1e-3, None, None, 1.0).is_fragile());
        // Either neighbour more than 100 times worse, or seeds more than 100 times apart: fragile.
        assert!(at(1e-3, Some(0.1001), Some(1e-3), 1.0).is_fragile());
        assert!(at(1e-3, Some(2e-3), Some(0.2), 1.0).is_fragile());
        assert!(at(1e-3, Some(2e-3), None, 101.0).is_fragile());
        assert!(at(1e-3, Some(2e-3), None, INF).is_fragile());
        // A neighbour that diverged: fragile, and at the edge of stability.
        let edge = at(1e-3, Some(2e-3), Some(INF), 1.0);
        assert!(edge.is_fragile() && edge.at_edge());
        assert!(!at(1e-3, Some(0.2), None, 1.0).at_edge());
        // From a best of exactly 0, any neighbour above 0 is infinitely worse.
        assert!(at(0.0, Some(1e-12), None, 1.0).is_fragile());
        assert!(!at(0.0, Some(0.0), None, 1.0).is_fragile());
    }
}
