//! Seeded synthetic data of any size: a random linear "teacher" with noisy logits.
//!
//! From one ChaCha8 stream seeded by `seed`: Z ~ N(0, 1), N×p, row by row; then A ~ N(0, 1/p),
//! p×K, row by row; then per sample, class by class, the label noise E ~ N(0, 1). The features
//! are X = Z when `condition` κ = 1 (the benchmark peers' bench-A recipe, bytes unchanged), and
//! otherwise X = Z·diag(s)·Q with s_j = κ^(−j / (2(p−1))), j = 0…p−1 (log-spaced from 1 down to
//! 1/√κ, so the covariance Qᵀ·diag(s²)·Q has condition number κ) and Q a random orthogonal
//! matrix (a rotation or a reflection): the Q factor, by modified Gram–Schmidt over its columns
//! in order (each column's projections on the earlier ones subtracted twice over, then the
//! column normalised), of a p×p matrix of N(0, 1) drawn row by row from stream 1 of the same
//! seed's ChaCha8 (the data come from stream 0). Q mixes the scales across columns, so
//! standardising each column does not undo the conditioning. The labels are
//! y_i = argmax_k (X·A + noise·E)_{ik}, a tie going to the smaller k. The README gives the
//! same recipe with the libraries' sampling rules, for reproducing it elsewhere.

use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::Table;
use crate::config::Synthetic;

/// The bytes of memory generating and preparing `spec` takes: the f64 table, its split and
/// standardised copy, and the copy in the sweep's precision; `None` beyond 64-bit counting.
pub fn bytes_needed(spec: &Synthetic) -> Option<u64> {
    // A conditioned table is made from a copy: one more of them at once. The teacher (p × K)
    // and its logits (N × K) count too: a huge K is refused here, not by the allocator.
    let copies = if spec.condition > 1.0 { 4 } else { 3 };
    let (n, p, k) = (spec.samples as u64, spec.features as u64, spec.classes as u64);
    let table = n.checked_mul(p)?.checked_mul(8 * copies)?;
    let teacher = p.checked_mul(k)?.checked_add(n.checked_mul(k)?)?.checked_mul(8)?;
    table.checked_add(teacher)
}

/// Generates the samples; the same spec always gives the same table.
pub fn generate(spec: &Synthetic) -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut normal = move || -> f64 { StandardNormal.sample(&mut rng) };
    let z = Array2::from_shape_simple_fn((spec.samples, spec.features), &mut normal);
    let scale = (spec.features as f64).sqrt().recip();
    let a = Array2::from_shape_simple_fn((spec.features, spec.classes), || normal() * scale);
    let x = if spec.condition > 1.0 { conditioned(z, spec) } else { z };
    let logits = x.dot(&a);
    let y = logits
        .rows()
        .into_iter()
        .map(|row| {
            let mut best = (0, f64::NEG_INFINITY);
            for (k, &v) in row.iter().enumerate() {
                let v = v + spec.noise * normal();
                if v > best.1 {
                    best = (k, v);
                }
            }
            best.0 as u32
        })
        .collect();
    Table {
        x,
        y,
        n_classes: spec.classes,
        origin: if spec.condition > 1.0 {
            format!("synthetic data (seed {}, condition {})", spec.seed, spec.condition)
        } else {
            format!("synthetic data (seed {})", spec.seed)
        },
        source_lines: None,
    }
}

/// Z·diag(s)·Q: see the module's description.
fn conditioned(z: Array2<f64>, spec: &Synthetic) -> Array2<f64> {
    let p = spec.features;
    let s: Vec<f64> = (0..p).map(|j| spec.condition.powf(-(j as f64) / (2.0 * (p - 1) as f64))).collect();
    let mut scaled = z;
    for mut row in scaled.rows_mut() {
        row.iter_mut().zip(&s).for_each(|(v, s)| *v *= s);
    }
    scaled.dot(&rotation(p, spec.seed))
}

/// A p×p orthogonal matrix drawn from stream 1 of the seed's ChaCha8: the orthonormalised columns of a
/// matrix of N(0, 1), by modified Gram–Schmidt twice (the second pass removes what rounding
/// left of the first's projections).
fn rotation(p: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(1);
    let mut q: Array2<f64> = Array2::from_shape_simple_fn((p, p), || StandardNormal.sample(&mut rng));
    for j in 0..p {
        for _ in 0..2 {
            for i in 0..j {
                let dot: f64 = q.column(i).dot(&q.column(j));
                let previous = q.column(i).to_owned();
                q.column_mut(j).scaled_add(-dot, &previous);
            }
        }
        let norm = q.column(j).dot(&q.column(j)).sqrt();
        q.column_mut(j).mapv_inplace(|v| v / norm);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_seeded_and_uses_every_class() {
        let spec = Synthetic { samples: 2000, features: 8, classes: 5, seed: 1, noise: 0.5, condition: 1.0 };
        let a = generate(&spec);
        let b = generate(&spec);
        assert_eq!(a.x, b.x);
        assert_eq!(a.y, b.y);
        assert_eq!(a.x.dim(), (2000, 8));
        let c = generate(&Synthetic { seed: 2, ..spec.clone() });
        assert_ne!(a.x, c.x);
        for k in 0..5 {
            let share = a.y.iter().filter(|&&y| y == k).count() as f64 / 2000.0;
            assert!(share > 0.05, "class {k} has share {share}");
        }
    }

    #[test]
    fn the_condition_knob_sets_the_covariance_condition_number() {
        use nalgebra::{DMatrix, SymmetricEigen};
        let spec =
            Synthetic { samples: 200_000, features: 8, classes: 4, seed: 3, noise: 0.5, condition: 1.0 };
        let plain = generate(&spec);
        for kappa in [10.0, 100.0, 1000.0] {
            let t = generate(&Synthetic { condition: kappa, ..spec.clone() });
            // The sample covariance about the sample mean.
            let n = t.x.nrows() as f64;
            let mean = t.x.mean_axis(ndarray::Axis(0)).unwrap();
            let centred = &t.x - &mean;
            let cov = centred.t().dot(&centred) / n;
            let cov = DMatrix::from_fn(8, 8, |i, j| cov[[i, j]]);
            let eig = SymmetricEigen::new(cov).eigenvalues;
            let (lo, hi) = (eig.min(), eig.max());
            assert!((hi / lo / kappa - 1.0).abs() < 0.1, "κ = {kappa}: measured {}", hi / lo);
            // Rotated: no single column carries the small scales.
            let column_sd: Vec<f64> = (0..8).map(|j| centred.column(j).std(0.0)).collect();
            let spread = column_sd.iter().cloned().fold(0.0, f64::max)
                / column_sd.iter().cloned().fold(f64::INFINITY, f64::min);
            assert!(spread < kappa.sqrt() / 1.5, "κ = {kappa}: column sds {column_sd:?}");
            // Same draws otherwise: every class still occurs, and the generation is seeded.
            assert_eq!(t.x, generate(&Synthetic { condition: kappa, ..spec.clone() }).x);
            assert!((0..4).all(|k| t.y.contains(&k)));
            assert!(t.origin.contains(&format!("condition {kappa}")));
        }
        // κ = 1 is today's data: X = Z, as the first draws of the stream.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let first: f64 = StandardNormal.sample(&mut rng);
        assert_eq!(plain.x[[0, 0]], first);
        assert_eq!(plain.origin, "synthetic data (seed 3)");
    }

    #[test]
    fn the_rotation_is_orthonormal() {
        let q = rotation(16, 9);
        let gram = q.t().dot(&q);
        for ((i, j), v) in gram.indexed_iter() {
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((v - want).abs() < 1e-12, "({i}, {j}): {v}");
        }
    }
}
