//! The extreme eigenvalues of a symmetric operator known only by its products, by the Lanczos
//! method with full reorthogonalisation, in f64.
//!
//! From a unit start vector q₁ drawn from a fixed seed, step j applies the operator, keeps the
//! new vector orthogonal to every earlier one (Gram–Schmidt twice), and extends the tridiagonal
//! matrix T_j whose eigenvalues (Ritz values) approach the operator's extreme eigenvalues from
//! inside. The residual of a Ritz pair (θ, s) is β_j·|s_j|, the norm of A·y − θ·y for its Ritz
//! vector y. The method stops after `steps` steps, when the residuals of the largest and the
//! smallest Ritz values fall below `tolerance` times the spectrum's scale, or when the Krylov space is invariant (then the
//! Ritz values are eigenvalues). Every sum runs in a fixed order: the same operator gives the
//! same bits.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The extreme eigenvalues found and how far the method went.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Extremes {
    /// The largest Ritz value: λ_max from inside.
    pub max: f64,
    /// The smallest Ritz value: λ_min from inside.
    pub min: f64,
    /// Lanczos steps taken (operator products).
    pub steps: usize,
    /// The larger residual ‖A·y − λ·y‖ of the two extreme Ritz pairs (λ_max and λ_min).
    pub residual: f64,
}

/// Runs Lanczos on the symmetric operator `apply` (y ← A·x) of dimension `dim` ≥ 1 for at most
/// `steps` ≥ 1 steps (and at most `dim`), stopping early once the residuals of the largest and
/// the smallest Ritz values are at most `tolerance` × max(|λ_max|, |λ_min|). The start vector
/// is drawn from `seed`.
pub fn extremes(
    dim: usize,
    steps: usize,
    tolerance: f64,
    seed: u64,
    mut apply: impl FnMut(&[f64], &mut [f64]),
) -> Extremes {
    assert!(dim >= 1 && steps >= 1, "Lanczos needs a dimension and a step");
    let steps = steps.min(dim);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut start: Vec<f64> = (0..dim).map(|_| StandardNormal.sample(&mut rng)).collect();
    let length = norm(&start);
    scale(&mut start, 1.0 / length);
    let mut basis = vec![start];
    let (mut alpha, mut beta) = (Vec::new(), Vec::new());
    let mut w = vec![0.0; dim];
    loop {
        let q = basis.last().expect("one vector at least");
        apply(q, &mut w);
        alpha.push(dot(q, &w));
        for _ in 0..2 {
            for b in &basis {
                let c = dot(b, &w);
                axpy(-c, b, &mut w);
            }
        }
        let next = norm(&w);
        let (values, vectors) = tridiagonal_eigen(&alpha, &beta);
        let j = alpha.len();
        let top = j - 1;
        let (max, min) = (values[top], values[0]);
        // The larger residual of the two extreme Ritz pairs: both ends are wanted.
        let residual = next * vectors[(j - 1) * j + top].abs().max(vectors[(j - 1) * j].abs());
        let spectrum = max.abs().max(min.abs());
        let invariant = next <= 1e-12 * spectrum.max(f64::MIN_POSITIVE);
        if j == steps || invariant || residual <= tolerance * spectrum {
            return Extremes { max, min, steps: j, residual };
        }
        beta.push(next);
        let mut q = w.clone();
        scale(&mut q, 1.0 / next);
        basis.push(q);
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    let squares = dot(a, a);
    if squares.is_finite() && squares >= f64::MIN_POSITIVE {
        return squares.sqrt();
    }
    // Entries beyond about 1e154 overflow their squares, entries below about 1e-154 underflow
    // theirs: scale by the largest first.
    let largest = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if !(largest.is_finite() && largest > 0.0) {
        return squares.sqrt();
    }
    largest * a.iter().map(|x| (x / largest).powi(2)).sum::<f64>().sqrt()
}

fn scale(a: &mut [f64], factor: f64) {
    a.iter_mut().for_each(|x| *x *= factor);
}

fn axpy(factor: f64, x: &[f64], y: &mut [f64]) {
    y.iter_mut().zip(x).for_each(|(y, x)| *y += factor * x);
}

/// Eigenvalues (ascending) and eigenvectors of the symmetric tridiagonal matrix with diagonal
/// `diag` (length j) and off-diagonal `off` (length j − 1), by cyclic Jacobi rotations on the
/// dense matrix: `vectors[r * j + i]` is component r of the eigenvector of eigenvalue i.
/// Lanczos matrices are small (j ≤ a few hundred), where Jacobi is accurate and simple.
pub fn tridiagonal_eigen(diag: &[f64], off: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let j = diag.len();
    let mut a = vec![0.0; j * j];
    for i in 0..j {
        a[i * j + i] = diag[i];
        if i + 1 < j {
            a[i * j + i + 1] = off[i];
            a[(i + 1) * j + i] = off[i];
        }
    }
    symmetric_eigen(&mut a, j)
}

/// Eigen-decomposition of the dense symmetric j×j matrix `a` (row-major, destroyed) by cyclic
/// Jacobi: eigenvalues ascending, eigenvectors as columns of the returned row-major matrix.
fn symmetric_eigen(a: &mut [f64], j: usize) -> (Vec<f64>, Vec<f64>) {
    // Entries near f64's ends would overflow (or underflow) the sums of squares that decide
    // convergence: such a matrix is scaled by a power of two, exactly, and its eigenvalues back.
    let largest = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    // (At most 2^1000 either way: 2^1030, for a subnormal largest entry, is beyond f64.)
    let exponent = if largest.is_finite() && largest > 0.0 {
        (largest.log2().floor() as i32).clamp(-1000, 1000)
    } else {
        0
    };
    if exponent.abs() > 400 {
        let factor = 2f64.powi(-exponent);
        a.iter_mut().for_each(|x| *x *= factor);
        let (mut values, vectors) = symmetric_eigen(a, j);
        values.iter_mut().for_each(|x| *x /= factor);
        return (values, vectors);
    }
    let mut v = vec![0.0; j * j];
    for i in 0..j {
        v[i * j + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..j)
            .flat_map(|r| (0..j).filter(move |&c| c != r).map(move |c| (r, c)))
            .map(|(r, c)| a[r * j + c].powi(2))
            .sum();
        let total: f64 = a.iter().map(|x| x * x).sum();
        if off <= 1e-30 * total.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..j {
            for q in p + 1..j {
                let apq = a[p * j + q];
                if apq == 0.0 {
                    continue;
                }
                let (app, aqq) = (a[p * j + p], a[q * j + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..j {
                    let (akp, akq) = (a[k * j + p], a[k * j + q]);
                    a[k * j + p] = c * akp - s * akq;
                    a[k * j + q] = s * akp + c * akq;
                }
                for k in 0..j {
                    let (apk, aqk) = (a[p * j + k], a[q * j + k]);
                    a[p * j + k] = c * apk - s * aqk;
                    a[q * j + k] = s * apk + c * aqk;
                }
                for k in 0..j {
                    let (vkp, vkq) = (v[k * j + p], v[k * j + q]);
                    v[k * j + p] = c * vkp - s * vkq;
                    v[k * j + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..j).collect();
    order.sort_by(|&x, &y| a[x * j + x].total_cmp(&a[y * j + y]));
    let values = order.iter().map(|&i| a[i * j + i]).collect();
    let mut vectors = vec![0.0; j * j];
    for (new, &old) in order.iter().enumerate() {
        for r in 0..j {
            vectors[r * j + new] = v[r * j + old];
        }
    }
    (values, vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A = Q·diag(λ)·Qᵀ with a fixed orthogonal Q (a product of Householder reflections).
    fn known_matrix(eigenvalues: &[f64], seed: u64) -> Vec<f64> {
        let n = eigenvalues.len();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut q = vec![0.0; n * n];
        for i in 0..n {
            q[i * n + i] = 1.0;
        }
        for _ in 0..3 {
            let mut u: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
            let length = norm(&u);
            scale(&mut u, 1.0 / length);
            // Q ← Q·(I − 2uuᵀ).
            for r in 0..n {
                let d: f64 = (0..n).map(|k| q[r * n + k] * u[k]).sum();
                for k in 0..n {
                    q[r * n + k] -= 2.0 * d * u[k];
                }
            }
        }
        let mut a = vec![0.0; n * n];
        for r in 0..n {
            for c in 0..n {
                a[r * n + c] = (0..n).map(|k| q[r * n + k] * eigenvalues[k] * q[c * n + k]).sum();
            }
        }
        a
    }

    fn operator(a: &[f64], n: usize) -> impl FnMut(&[f64], &mut [f64]) + '_ {
        move |x, y| {
            for r in 0..n {
                y[r] = (0..n).map(|c| a[r * n + c] * x[c]).sum();
            }
        }
    }

    #[test]
    fn jacobi_recovers_known_eigenvalues() {
        let eigenvalues = [-3.0, -0.5, 0.0, 1.0, 2.5, 7.0];
        let a = known_matrix(&eigenvalues, 1);
        let (values, vectors) = symmetric_eigen(&mut a.clone(), 6);
        for (got, want) in values.iter().zip(eigenvalues) {
            assert!((got - want).abs() < 1e-12, "{got} against {want}");
        }
        // A·v = λ·v for each column.
        for i in 0..6 {
            for r in 0..6 {
                let av: f64 = (0..6).map(|c| a[r * 6 + c] * vectors[c * 6 + i]).sum();
                assert!((av - values[i] * vectors[r * 6 + i]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn values_near_the_ends_of_f64_keep_their_sums_of_squares() {
        assert!((norm(&[3e200, 4e200]) / 5e200 - 1.0).abs() < 1e-15);
        assert_eq!(norm(&[3.0, 4.0]), 5.0);
        assert!((norm(&[3e-200, 4e-200]) / 5e-200 - 1.0).abs() < 1e-15);
        for scale in [1e200, 1e-200, 1e-310] {
            let eigenvalues = [-3.0, -0.5, 0.0, 1.0, 2.5, 7.0];
            let mut a = known_matrix(&eigenvalues, 1);
            a.iter_mut().for_each(|x| *x *= scale);
            let (values, _) = symmetric_eigen(&mut a, 6);
            for (got, want) in values.iter().zip(eigenvalues) {
                // Subnormal entries keep fewer digits.
                let tolerance = if scale < 1e-300 { 1e-4 } else { 1e-12 };
                assert!((got / scale - want).abs() < tolerance, "{scale}: {got} against {want}");
            }
        }
    }

    #[test]
    fn lanczos_finds_both_ends_of_a_spread_spectrum() {
        let n = 60;
        let eigenvalues: Vec<f64> =
            (0..n).map(|i| -2.0 + 0.5 * i as f64 + if i == n - 1 { 20.0 } else { 0.0 }).collect();
        let a = known_matrix(&eigenvalues, 2);
        let e = extremes(n, 60, 1e-10, 7, operator(&a, n));
        assert!((e.max - eigenvalues[n - 1]).abs() < 1e-8, "{e:?}");
        assert!((e.min - eigenvalues[0]).abs() < 1e-8, "{e:?}");
        assert!(e.steps < n, "an isolated top eigenvalue converges early: {e:?}");
        assert!(e.residual <= 1e-10 * e.max.abs());
        // The same operator and seed give the same bits; fewer steps give inner values.
        assert_eq!(extremes(n, 60, 1e-10, 7, operator(&a, n)), e);
        let short = extremes(n, 5, 0.0, 7, operator(&a, n));
        assert_eq!(short.steps, 5);
        assert!(short.max <= e.max + 1e-12 && short.min >= e.min - 1e-12, "{short:?}");
    }

    #[test]
    fn an_invariant_start_ends_at_once_with_exact_values() {
        // The identity times 3: every vector is an eigenvector.
        let e = extremes(10, 8, 1e-12, 1, |x, y| y.iter_mut().zip(x).for_each(|(y, x)| *y = 3.0 * x));
        assert_eq!(e.steps, 1);
        assert!((e.max - 3.0).abs() < 1e-15 && (e.min - 3.0).abs() < 1e-15);
        // A dimension of one.
        let e = extremes(1, 20, 0.0, 1, |x, y| y[0] = -2.0 * x[0]);
        assert_eq!(e.steps, 1);
        assert!((e.max + 2.0).abs() < 1e-15 && e.min == e.max, "{e:?}");
    }
}
