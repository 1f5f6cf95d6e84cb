//! Seeded synthetic data of any size: a random linear "teacher" with noisy logits.
//!
//! X ~ N(0, 1) is N×p, A ~ N(0, 1/p) is p×K, and y_i = argmax_k (X·A + noise·E)_{ik} with
//! E ~ N(0, 1) — the same recipe as the benchmark peers' bench-A data, drawn from ChaCha8.

use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::Table;
use crate::config::Synthetic;

/// The bytes of memory generating and preparing `spec` takes: the f64 table, its split and
/// standardised copy, and the copy in the sweep's precision; `None` beyond 64-bit counting.
pub fn bytes_needed(spec: &Synthetic) -> Option<u64> {
    (spec.samples as u64).checked_mul(spec.features as u64)?.checked_mul(8 * 3)
}

/// Generates the samples; the same spec always gives the same table.
pub fn generate(spec: &Synthetic) -> Table {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut normal = move || -> f64 { StandardNormal.sample(&mut rng) };
    let x = Array2::from_shape_simple_fn((spec.samples, spec.features), &mut normal);
    let scale = (spec.features as f64).sqrt().recip();
    let a = Array2::from_shape_simple_fn((spec.features, spec.classes), || normal() * scale);
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
        origin: format!("synthetic data (seed {})", spec.seed),
        source_lines: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_seeded_and_uses_every_class() {
        let spec = Synthetic { samples: 2000, features: 8, classes: 5, seed: 1, noise: 0.5 };
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
}
