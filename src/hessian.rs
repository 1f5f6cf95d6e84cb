//! The Hessian of a network's risk at a point, over a data set: its largest and smallest
//! eigenvalues λ_max (the sharpness) and λ_min, by Lanczos on exact Hessian-vector products
//! (sum or mean over the training set, as the sweep's objective).
//!
//! Products are chunked and reduced as the gradient is (`train::Evaluator`): each chunk of the
//! data has its own [`Hessian`] (the forward and backward pass at θ, done once) and its own
//! output buffer, filled in parallel and summed in chunk order, so the eigenvalues are bitwise
//! the same at any thread count. Lanczos runs in f64 from a start vector drawn from a fixed
//! seed; an f32 sweep's products run in f32.
//!
//! Theory puts these beside the experiment: on a quadratic with curvature λ, heavy ball with
//! step γα and momentum 1−α is stable for γλ < 2(2−α)/α (plain GD: γλ < 2), so
//! `heavyball_core::model::stability_threshold` is the sharpness above which a run with (γ, α)
//! cannot settle.

use heavyball_core::Real;
use heavyball_core::model::{Hessian, Params};
use heavyball_core::num::lanczos::{self, Extremes};
use rayon::prelude::*;

use crate::config::Objective;
use crate::data::Dataset;

/// The seed of Lanczos's start vector: the same for every run, so that runs compare alike.
pub const START_SEED: u64 = 0x5eed;

/// The relative residual at which Lanczos stops early: the residuals of the largest and the
/// smallest Ritz values below this fraction of the spectrum's scale.
pub const TOLERANCE: f64 = 1e-6;

/// λ_max and λ_min of the Hessian of the risk at `theta` over `data`, by at most `steps`
/// Lanczos steps (fewer once both ends have converged).
///
/// **Panics** if the data is empty or shapes disagree.
pub fn extremes<T: Real>(
    theta: &Params<T>,
    data: &Dataset<T>,
    chunk_size: usize,
    objective: Objective,
    steps: usize,
) -> Extremes {
    assert!(!data.is_empty(), "the Hessian over an empty data set");
    let shape = theta.shape();
    let ranges = data.chunks(chunk_size);
    let mut chunks: Vec<(Hessian<T>, Params<T>)> = ranges
        .par_iter()
        .map(|r| {
            let (x, y) = data.rows(r.clone());
            (T::hessian_at(theta, x, y), Params::zeros(shape))
        })
        .collect();
    let inv_n = T::from_f64(1.0 / data.len() as f64).expect("finite");
    let mut v = Params::<T>::zeros(shape);
    let mut total = Params::<T>::zeros(shape);
    lanczos::extremes(shape.n_params(), steps, TOLERANCE, START_SEED, |x, y| {
        v.as_flat_mut().iter_mut().zip(x).for_each(|(v, &x)| *v = T::from_f64(x).expect("finite"));
        chunks.par_iter_mut().zip(ranges.par_iter()).for_each(|((hessian, out), r)| {
            T::hessian_product(hessian, theta, data.rows(r.clone()).0, &v, out);
        });
        // The fixed-order sum that makes the result independent of the thread count.
        total.as_flat_mut().assign(&chunks[0].1.as_flat());
        for (_, out) in &chunks[1..] {
            total.add_assign(out);
        }
        if objective == Objective::Mean {
            total.scale_inplace(inv_n);
        }
        y.iter_mut().zip(total.as_flat().iter()).for_each(|(y, t)| *y = t.to_f64().expect("float"));
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use heavyball_core::model::Shape;
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    fn problem(seed: u64, n: usize, shape: Shape) -> (Dataset<f64>, Params<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, shape.n_features), |_| StandardNormal.sample(&mut rng));
        let y = (0..n).map(|_| rng.random_range(0..shape.n_classes as u32)).collect();
        let mut theta = Params::<f64>::init(shape, seed);
        for t in theta.as_flat_mut().iter_mut() {
            let z: f64 = StandardNormal.sample(&mut rng);
            *t += 0.3 * z;
        }
        (Dataset { x, y }, theta)
    }

    /// The whole Hessian, one product per column, from one chunk.
    fn dense_hessian(theta: &Params<f64>, data: &Dataset<f64>) -> Vec<f64> {
        let shape = theta.shape();
        let d = shape.n_params();
        let mut hessian = f64::hessian_at(theta, data.x.view(), &data.y);
        let mut h = vec![0.0; d * d];
        let (mut e, mut out) = (Params::zeros(shape), Params::zeros(shape));
        for j in 0..d {
            e.as_flat_mut().fill(0.0);
            e.as_flat_mut()[j] = 1.0;
            f64::hessian_product(&mut hessian, theta, data.x.view(), &e, &mut out);
            for i in 0..d {
                h[i * d + j] = out.as_flat()[i];
            }
        }
        h
    }

    #[test]
    fn lanczos_on_products_matches_a_dense_eigensolver() {
        for (seed, (p, m, k, n)) in [(3, 4, 3, 40), (2, 6, 4, 25), (5, 3, 2, 60)].into_iter().enumerate() {
            let shape = Shape { n_features: p, n_hidden: m, n_classes: k };
            let (data, theta) = problem(seed as u64, n, shape);
            let d = shape.n_params();
            let h = dense_hessian(&theta, &data);
            let scale = h.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            for i in 0..d {
                for j in 0..i {
                    let (a, b) = (h[i * d + j], h[j * d + i]);
                    assert!((a - b).abs() <= 1e-12 * scale, "H[{i},{j}] = {a}, H[{j},{i}] = {b}");
                }
            }
            let dense = nalgebra::DMatrix::from_row_slice(d, d, &h);
            let eigen = nalgebra::SymmetricEigen::new((&dense + dense.transpose()) * 0.5);
            let max = eigen.eigenvalues.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let min = eigen.eigenvalues.iter().copied().fold(f64::INFINITY, f64::min);
            // Chunks of 7 rows: the reduction must not matter beyond rounding.
            let found = extremes(&theta, &data, 7, Objective::Sum, d);
            assert!((found.max - max).abs() <= 1e-9 * max.abs(), "{shape:?}: {found:?}, dense {max}");
            assert!((found.min - min).abs() <= 1e-9 * max.abs(), "{shape:?}: {found:?}, dense {min}");
            let mean = extremes(&theta, &data, 7, Objective::Mean, d);
            assert!((mean.max - max / n as f64).abs() <= 1e-9 * max.abs() / n as f64);
        }
    }

    #[test]
    fn sharpness_is_bitwise_the_same_at_any_thread_count() {
        let shape = Shape { n_features: 5, n_hidden: 8, n_classes: 3 };
        let (data, theta) = problem(4, 300, shape);
        let cast = |x: f64| x as f32;
        let data32 = Dataset { x: data.x.mapv(cast), y: data.y.clone() };
        let mut theta32 = Params::<f32>::zeros(shape);
        theta32.as_flat_mut().zip_mut_with(&theta.as_flat(), |t, &x| *t = x as f32);
        let on = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                (
                    extremes(&theta, &data, 32, Objective::Sum, 20),
                    extremes(&theta32, &data32, 32, Objective::Mean, 20),
                )
            })
        };
        let one = on(1);
        assert_eq!(on(4), one);
        assert_eq!(on(3), one);
        // f32 products agree with f64 to f32 rounding.
        assert!((one.1.max - one.0.max / 300.0).abs() <= 1e-4 * one.1.max.abs(), "{one:?}");
    }
}
