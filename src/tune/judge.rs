//! The bracketing rule: one method's best γ among those tried, whether worse neighbours close
//! it in within the resolution, whether the landscape around it is too rough to bisect, and
//! which γ to try next.

use std::fmt;

use super::score::{ROUGH, rough};
use crate::config::round_value;
use crate::grid::short_number;

/// One γ tried for a method: its score and how far its seeds lie apart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tried {
    /// γ.
    pub gamma: f64,
    /// The seeds' values of the criterion, summed up (+∞ when diverged).
    pub score: f64,
    /// The largest seed's value over the smallest's (`score::span`).
    pub span: f64,
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
    /// Not bracketed, and no γ is added: the γ the rule calls for next would be 0, infinite,
    /// subnormal or one already tried (a grid at the ends of what f64 holds, or values closer
    /// than its resolution).
    Stuck {
        /// The best γ so far (none when every γ diverged).
        best: Option<f64>,
        /// Why it is not bracketed.
        why: Open,
    },
    /// Not bracketed, and no γ is added: a tried neighbour scores more than [`ROUGH`] times
    /// worse, or the best's own seeds lie more than that apart. Bisecting would bracket noise.
    Fragile {
        /// The best γ.
        best: f64,
        /// The largest factor seen: the worse neighbour's score over the best's, or the seeds'
        /// span.
        factor: f64,
    },
}

impl Verdict {
    /// The best γ so far.
    pub fn best(&self) -> Option<f64> {
        match *self {
            Verdict::Bracketed { best } => Some(best),
            Verdict::Open { best, .. } | Verdict::Stuck { best, .. } => best,
            Verdict::Fragile { best, .. } => Some(best),
        }
    }

    /// True when the best γ is bracketed.
    pub fn is_bracketed(&self) -> bool {
        matches!(self, Verdict::Bracketed { .. })
    }
}

/// Why a method is open, in words.
fn open_reason(f: &mut fmt::Formatter<'_>, best: Option<f64>, why: Open) -> fmt::Result {
    let Some(best) = best else { return write!(f, "every γ tried diverged") };
    let best = short_number(best);
    match why {
        Open::Largest => write!(f, "best γ = {best} is the largest tried"),
        Open::Smallest => write!(f, "best γ = {best} is the smallest tried"),
        _ => write!(f, "best γ = {best} has a tried neighbour farther than the resolution"),
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Verdict::Bracketed { best } => write!(f, "best γ = {} is bracketed", short_number(best)),
            Verdict::Open { best, why, .. } => open_reason(f, best, why),
            Verdict::Stuck { best, why } => {
                open_reason(f, best, why)?;
                write!(
                    f,
                    "; the next γ it calls for would be 0, infinite or one already tried: tuning stopped \
                     there"
                )
            }
            Verdict::Fragile { best, factor } => write!(
                f,
                "best γ = {} is fragile (a tried neighbour within the resolution, or its own worst seed, {} times \
                 worse): tuning stopped there",
                short_number(best),
                if factor.is_finite() { format!("{factor:.0}") } else { "infinitely many".into() }
            ),
        }
    }
}

/// The round value nearest `x` unless it collides with a tried γ (when the tried values are
/// closer than rounding), then `x` itself; `None` when even `x` is tried, or when `x` is no
/// step size to train with: 0, subnormal, infinite or NaN (an outward step past what f64
/// holds).
fn fresh(x: f64, tried: &[Tried]) -> Option<f64> {
    if !(x.is_normal() && x > 0.0) {
        return None;
    }
    let taken = |v: f64| !(v.is_normal() && v > 0.0) || tried.iter().any(|t| t.gamma == v);
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
    let outward = |from: f64, factor: f64, why: Open, best: Option<f64>| match fresh(from * factor, tried) {
        Some(next) => Verdict::Open { best, why, next },
        None => Verdict::Stuck { best, why },
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
    // A rough landscape: a neighbour within the resolution far worse, or the best's seeds far
    // apart. Bisecting would chase the luck of one step size; the method stops here, said so.
    // (A neighbour farther away may be far worse on a smooth landscape too: the loss after T
    // steps can fall by decades over a factor of 3 in γ. Bisection looks closer first.)
    let near = |n: &Tried| (n.gamma / best.gamma).max(best.gamma / n.gamma) <= resolution;
    let neighbours = [tried[b - 1], tried[b + 1]];
    let rough_near = neighbours.iter().filter(|n| near(n)).any(|n| rough(best.score, n.score));
    if rough_near || best.span > ROUGH {
        let worse =
            neighbours.iter().filter(|n| near(n) && n.score.is_finite()).map(|n| n.score / best.score);
        let factor = worse.chain([best.span]).map(|f| if f.is_nan() { f64::INFINITY } else { f });
        return Verdict::Fragile { best: best.gamma, factor: factor.fold(1.0, f64::max) };
    }
    // Each side still too far from the best, with the midpoint that would close it (none when
    // the two are closer than f64 can split). The geometric mean of the roots, so that it
    // neither underflows nor overflows where the product would.
    let sides = [tried[b - 1], tried[b + 1]].into_iter().filter_map(|neighbour| {
        let far = (neighbour.gamma / best.gamma).max(best.gamma / neighbour.gamma) > resolution;
        far.then(|| (neighbour, fresh(neighbour.gamma.sqrt() * best.gamma.sqrt(), tried)))
    });
    // Towards the better neighbour (the lower side among equals: `min_by` keeps the first).
    match sides.min_by(|(a, _), (b, _)| a.score.total_cmp(&b.score)) {
        Some((_, Some(next))) => Verdict::Open { best: Some(best.gamma), why: Open::Coarse, next },
        Some((_, None)) => Verdict::Stuck { best: Some(best.gamma), why: Open::Coarse },
        None => Verdict::Bracketed { best: best.gamma },
    }
}

/// The grid's step between neighbouring γ values: the geometric mean ratio of its sorted list.
pub fn grid_ratio(gamma: &[f64]) -> f64 {
    let lowest = gamma.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = gamma.iter().copied().fold(0.0, f64::max);
    let span = highest / lowest;
    if span.is_finite() {
        span.powf(1.0 / (gamma.len() as f64 - 1.0))
    } else {
        // A grid wider than f64's range (1e-150 to 1e160): its step from logarithms instead.
        ((highest.ln() - lowest.ln()) / (gamma.len() as f64 - 1.0)).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_step_of_a_grid_wider_than_the_range_of_f64_is_finite() {
        assert_eq!(grid_ratio(&[0.1, 1.0, 10.0]), 10.0);
        let step = grid_ratio(&[1e-150, 1.0, 1e160]);
        assert!((step.log10() - 155.0).abs() < 1e-9, "{step}");
    }

    fn tried(points: &[(f64, f64)]) -> Vec<Tried> {
        points.iter().map(|&(gamma, score)| Tried { gamma, score, span: 1.0 }).collect()
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
    fn a_proposal_is_a_normal_positive_untried_number_or_the_method_stops() {
        // One grid step outward from 1e-200 by 1e300 underflows to 0: stop, say why.
        let v = judge(&tried(&[(1e-200, 1.0), (1e100, INF)]), 1e300, 1.3);
        assert_eq!(v, Verdict::Stuck { best: Some(1e-200), why: Open::Smallest });
        assert!(v.to_string().contains("would be 0, infinite or one already tried"), "{v}");
        assert!(!v.is_bracketed() && v.best() == Some(1e-200));
        // Upward past f64's largest: infinite.
        let v = judge(&tried(&[(1e-100, 2.0), (1e200, 1.0)]), 1e300, 1.3);
        assert_eq!(v, Verdict::Stuck { best: Some(1e200), why: Open::Largest });
        // Every γ diverged, and the next one down would be subnormal.
        let v = judge(&tried(&[(1e-300, INF), (1e-200, INF)]), 1e100, 1.3);
        assert_eq!(v, Verdict::Stuck { best: None, why: Open::AllDiverged });
        // A midpoint is the geometric mean of the roots: no underflow where the product would
        // (1e-200 · 1e-180 is 0 in f64), and a subnormal midpoint is no step size.
        let v = judge(&tried(&[(1e-200, 2.0), (1e-180, 1.0), (1e-160, 3.0)]), 1e20, 1.3);
        assert_eq!(v, Verdict::Open { best: Some(1e-180), why: Open::Coarse, next: 1e-190 });
        let v = judge(&tried(&[(1e-320, 2.0), (1e-300, 1.0), (1e-290, 3.0)]), 1e10, 1.3);
        assert_eq!(v, Verdict::Stuck { best: Some(1e-300), why: Open::Coarse });
    }

    #[test]
    fn values_closer_than_rounding_fall_back_to_exact_midpoints() {
        let v = judge(&tried(&[(1.0, 2.0), (1.001, 1.0), (1.002, 2.0)]), 10.0, 1.0001);
        let Verdict::Open { next, .. } = v else { panic!("{v:?}") };
        assert!(next > 1.0 && next < 1.001 && next != 1.0, "{next}");
    }

    #[test]
    fn a_rough_landscape_stops_the_bisection_and_says_why() {
        // The best scores 4.5e-9 between neighbours 1.15× away at 0.14 and 2.3e-3 (the tuned
        // digits sweep's momentum at M = 64): bisecting would chase one lucky step size.
        let v =
            judge(&tried(&[(3.0, 0.5), (3.65, 0.14), (4.21, 4.5e-9), (4.86, 2.3e-3), (6.0, INF)]), 1.15, 1.3);
        assert_eq!(v, Verdict::Fragile { best: 4.21, factor: 0.14 / 4.5e-9 });
        // One rough side within the resolution is enough, however far the other.
        let v = judge(&tried(&[(1.0, 1.0), (4.21, 4.5e-9), (4.86, 2.3e-3)]), 1.15, 1.3);
        assert_eq!(v, Verdict::Fragile { best: 4.21, factor: 2.3e-3 / 4.5e-9 });
        // Far worse but farther than the resolution: the loss may fall by decades over a
        // factor of 3 in γ on a smooth landscape too, so the bisection looks closer first.
        let v = judge(&tried(&[(0.0316, 1.3e-5), (0.1, 1e-6), (0.316, 0.012)]), 3.16, 1.3);
        assert_eq!(v, Verdict::Open { best: Some(0.1), why: Open::Coarse, next: 0.0562 });
        // Seeds that end far apart make a best fragile too.
        let mut spread = tried(&[(0.1, 2.0), (1.0, 1.0), (10.0, 2.0)]);
        spread[1].span = 1e3;
        assert_eq!(judge(&spread, 10.0, 1.3), Verdict::Fragile { best: 1.0, factor: 1e3 });
        // A diverged neighbour is a cliff, not roughness: the bisection goes on.
        let v = judge(&tried(&[(0.1, 2e-8), (1.0, 1e-9), (10.0, INF)]), 10.0, 1.3);
        assert!(matches!(v, Verdict::Open { why: Open::Coarse, .. }), "{v:?}");
        // Within the resolution on both sides, a rough best is fragile, not bracketed: the
        // bracket would hold noise.
        let v = judge(&tried(&[(0.9, 1.0), (1.0, 1e-6), (1.1, 1.0)]), 10.0, 1.3);
        assert!(matches!(v, Verdict::Fragile { best: 1.0, .. }), "{v:?}");
    }
}
