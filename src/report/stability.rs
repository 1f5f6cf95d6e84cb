//! Theory beside the experiment: per (M, α), the largest γ the sharpness at the initial point
//! predicts stable, against the γ that converged and diverged, and how many runs ended at a
//! minimum (from `heavyball hessian`'s values or the curves' sharpness column).

use std::collections::HashMap;

use heavyball_core::model::stability_threshold;

use super::measures::{converged, distinct_gammas};
use crate::store::hessian::RunHessian;
use crate::store::{RunRecord, SweepMeta};

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
    /// The largest γ tried whose every seed converged: finished (did not diverge) below its
    /// initial loss.
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
    hessians: &HashMap<String, RunHessian>,
) -> Vec<Stability> {
    let mut out = Vec::new();
    for &m in &info.hidden {
        let at_m: Vec<&RunRecord> = runs.iter().filter(|r| r.meta.hidden == m).collect();
        // λ₀ per seed (every γ and α at (M, seed) start from the same point: take the first),
        // from `heavyball hessian`'s values, else from the curve's sharpness column at row 0.
        let mut by_seed: Vec<(u64, f64)> = Vec::new();
        let at_init =
            [&|r: &RunRecord| hessians.get(&r.dir_name).map(|c| c.init.lambda_max), &|r: &RunRecord| {
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
            let at = |g: f64| with_alpha.iter().filter(move |r| r.meta.gamma == g);
            let diverged_at = |g: f64| at(g).any(|r| r.diverged());
            let converged_at = |g: f64| at(g).all(|r| converged(r));
            let finals: Vec<_> = with_alpha.iter().filter_map(|r| hessians.get(&r.dir_name)?.last).collect();
            let at_minimum =
                finals.iter().filter(|c| c.lambda_min >= -MINIMUM_TOLERANCE * c.lambda_max.abs()).count();
            out.push(Stability {
                hidden: m,
                alpha,
                sharpness_at_init: lambda0,
                predicted: stability_threshold(1.0, alpha) / lambda0,
                converged: gammas.iter().copied().filter(|&g| converged_at(g)).reduce(f64::max),
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
    use crate::store::fixtures::{info, known_runs};

    #[test]
    fn the_stability_table_sets_the_predicted_limit_beside_what_happened() {
        use crate::store::hessian::{HessianPoint, RunHessian};
        let runs = known_runs();
        let point =
            |max: f64, min: f64| HessianPoint { lambda_max: max, lambda_min: min, steps: 10, residual: 0.0 };
        let mut hessians = std::collections::HashMap::new();
        for r in &runs {
            let init = point(if r.meta.seed == 0 { 8.0 } else { 12.0 }, -1.0);
            // GD ends at minima; momentum at γ = 0.1 ends at a saddle with seed 1.
            let last = (!r.diverged()).then(|| {
                point(
                    1.0,
                    if r.meta.alpha < 1.0 && r.meta.seed == 1 && r.meta.gamma == 0.1 { -0.5 } else { -1e-5 },
                )
            });
            let values = RunHessian {
                key: r.meta.key.clone(),
                iterations: 4,
                max_steps: 10,
                tolerance: 1e-6,
                init,
                last,
            };
            hessians.insert(r.dir_name.clone(), values);
        }
        let table = stability(&info(vec![4], vec![0.1, 0.2], vec![1.0, 0.5]), &runs, &hessians);
        assert_eq!(table.len(), 2);
        let (gd, mo) = (&table[0], &table[1]);
        // λ₀ = (8 + 12)/2 = 10: GD is predicted stable below 2/10, momentum α = 0.5 below 6/10.
        assert_eq!((gd.alpha, gd.sharpness_at_init, gd.predicted), (1.0, 10.0, 0.2));
        assert!((mo.predicted - 0.6).abs() < 1e-15);
        assert_eq!((gd.converged, gd.diverged, gd.at_minimum), (Some(0.2), None, (4, 4)));
        // γ = 0.2, α = 0.5 diverged with seed 0: the smallest diverged; its other seed has values.
        assert_eq!((mo.converged, mo.diverged, mo.at_minimum), (Some(0.1), Some(0.2), (2, 3)));
        assert!(stability(&info(vec![4], vec![0.1], vec![1.0]), &runs, &Default::default()).is_empty());
        // A run that ended far above its start without being stopped did not converge: GD at
        // γ = 0.4 ends at 156 from 2; a run that ends at exactly 0 did converge.
        let mut more = runs.clone();
        more.push(crate::store::fixtures::run(0.4, 1.0, 0, &[2.0, 40.0, 156.0]));
        more.push(crate::store::fixtures::run(0.3, 1.0, 0, &[2.0, 0.1, 0.0]));
        let table = stability(&info(vec![4], vec![0.1, 0.2], vec![1.0, 0.5]), &more, &hessians);
        assert_eq!((table[0].converged, table[0].diverged), (Some(0.3), None));
    }
}
