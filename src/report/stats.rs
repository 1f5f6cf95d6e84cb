//! Statistics for paired comparisons over a handful of seeds: medians with seeded bootstrap
//! intervals, and exact tests (Wilcoxon's signed-rank test, the sign test). Pure functions.
//!
//! Seeds are few (often 2 to 10), so everything is exact where it can be: the signed-rank
//! test's null distribution is counted, not approximated, and the bootstrap draws from a fixed
//! seed so that a report is the same each time it is written.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Resamples drawn for a bootstrap interval.
pub const RESAMPLES: usize = 10_000;

/// The level of the intervals and of "significant".
pub const LEVEL: f64 = 0.95;

/// The median; NaN for no values. An even count gives the mean of the middle two (+∞ when
/// either is +∞).
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        let (a, b) = (values[n / 2 - 1], values[n / 2]);
        if a == b { a } else { (a + b) / 2.0 }
    }
}

/// An estimate with its interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The median of the values.
    pub estimate: f64,
    /// The interval's lower end.
    pub low: f64,
    /// The interval's upper end.
    pub high: f64,
    /// How many values it rests on.
    pub n: usize,
}

/// The median of `values` with a percentile bootstrap interval at [`LEVEL`]: the values are
/// resampled with replacement [`RESAMPLES`] times from a generator seeded with `seed`. NaN
/// values are left out; None when none remain.
pub fn median_interval(values: &[f64], seed: u64) -> Option<Interval> {
    let values: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if values.is_empty() {
        return None;
    }
    let n = values.len();
    let estimate = median(&mut values.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sample = vec![0.0; n];
    let mut medians: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            for s in sample.iter_mut() {
                *s = values[rng.random_range(0..n)];
            }
            median(&mut sample)
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    let tail = (1.0 - LEVEL) / 2.0;
    let at = |q: f64| medians[((q * RESAMPLES as f64).floor() as usize).min(RESAMPLES - 1)];
    Some(Interval { estimate, low: at(tail), high: at(1.0 - tail), n })
}

/// The exact two-sided p-value of Wilcoxon's signed-rank test that the differences are
/// symmetric about 0. Zeros and NaN are dropped (Wilcoxon's convention); tied magnitudes get
/// their mean rank, and the null distribution is counted over all 2ⁿ sign patterns of those
/// ranks, so ties are exact too. ±∞ ranks above every finite difference. None when no nonzero
/// difference remains.
pub fn signed_rank_p(differences: &[f64]) -> Option<f64> {
    let mut d: Vec<f64> = differences.iter().copied().filter(|v| !v.is_nan() && *v != 0.0).collect();
    if d.is_empty() {
        return None;
    }
    d.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    // Doubled ranks are whole numbers even when ties share a mean rank.
    let n = d.len();
    let mut doubled = vec![0usize; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && d[j + 1].abs() == d[i].abs() {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean, (i + j + 2) / 2; doubled: i + j + 2.
        for r in &mut doubled[i..=j] {
            *r = i + j + 2;
        }
        i = j + 1;
    }
    let total: usize = doubled.iter().sum();
    // ways[s]: sign patterns whose positive ranks sum (doubled) to s.
    let mut ways = vec![0.0f64; total + 1];
    ways[0] = 1.0;
    for &r in &doubled {
        for s in (r..=total).rev() {
            ways[s] += ways[s - r];
        }
    }
    let patterns: f64 = ways.iter().sum();
    let observed: usize = d.iter().zip(&doubled).filter(|(v, _)| **v > 0.0).map(|(_, r)| r).sum();
    let below: f64 = ways[..=observed].iter().sum();
    let above: f64 = ways[observed..].iter().sum();
    Some((2.0 * below.min(above) / patterns).min(1.0))
}

/// The exact two-sided p-value of the sign test: `wins` of `wins + losses` under a fair coin.
/// None when there are no trials.
pub fn sign_test_p(wins: usize, losses: usize) -> Option<f64> {
    let n = wins + losses;
    if n == 0 {
        return None;
    }
    let k = wins.min(losses);
    // P(X ≤ k) for X ~ Binomial(n, 1/2), summed in logs to stay exact for large n.
    let ln_choose = |n: usize, k: usize| -> f64 {
        (1..=k).map(|i| ((n - k + i) as f64).ln() - (i as f64).ln()).sum::<f64>()
    };
    let tail: f64 = (0..=k).map(|i| (ln_choose(n, i) - n as f64 * std::f64::consts::LN_2).exp()).sum();
    Some((2.0 * tail).min(1.0))
}

/// The smallest two-sided p-value the signed-rank (and the sign) test can give with `n` pairs:
/// every pair on one side, 2/2ⁿ.
pub fn smallest_p(n: usize) -> f64 {
    2.0 * 0.5f64.powi(n as i32)
}

/// The fewest pairs with which a test can reach p < 1 − [`LEVEL`] at all.
pub fn fewest_pairs() -> usize {
    (1..64).find(|&n| smallest_p(n) < 1.0 - LEVEL).unwrap_or(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_rank_p_values_match_the_tables() {
        // Every difference positive: p = 2/2ⁿ.
        for n in 1..=12 {
            let d: Vec<f64> = (1..=n).map(|i| i as f64).collect();
            assert!((signed_rank_p(&d).unwrap() - smallest_p(n)).abs() < 1e-15, "{n}");
        }
        // n = 5, W+ = 1 (only rank 1 positive): P(W+ ≤ 1) = 2/32, two-sided 0.125.
        assert!((signed_rank_p(&[0.1, -0.2, -0.3, -0.4, -0.5]).unwrap() - 0.125).abs() < 1e-15);
        // n = 6, W+ = 3: sign patterns with W+ ≤ 3 are {}, {1}, {2}, {3}, {1,2}: 5/64, two-sided
        // 10/64 (scipy.stats.wilcoxon([-1,-2,3,-4,-5,-6]) gives 0.15625).
        let p = signed_rank_p(&[-1.0, -2.0, 3.0, -4.0, -5.0, -6.0]).unwrap();
        assert!((p - 10.0 / 64.0).abs() < 1e-15, "{p}");
        // Symmetric in the sign, zeros dropped, and ∞ ranks highest.
        assert_eq!(signed_rank_p(&[1.0, 2.0, -3.0]), signed_rank_p(&[-1.0, -2.0, 3.0]));
        assert_eq!(signed_rank_p(&[0.0, 1.0, 2.0, -3.0]), signed_rank_p(&[1.0, 2.0, -3.0]));
        assert_eq!(signed_rank_p(&[1.0, 2.0, -f64::INFINITY]), signed_rank_p(&[1.0, 2.0, -3.0]));
        assert_eq!(signed_rank_p(&[0.0, f64::NAN]), None);
    }

    #[test]
    fn ties_share_their_mean_rank_and_the_null_counts_them() {
        // |d| = 1, 1, 2: doubled ranks 3, 3, 6; patterns of sums: 0,3,3,6,6,9,9,12 → W+ (doubled)
        // of [1, 1, -2] is 6: P(≤ 6) = 5/8, P(≥ 6) = 5/8 → p = 1.
        assert_eq!(signed_rank_p(&[1.0, 1.0, -2.0]), Some(1.0));
        // [1, 1, 2] all positive: 1/8 each side → 0.25.
        assert_eq!(signed_rank_p(&[1.0, 1.0, 2.0]), Some(0.25));
    }

    /// The signed-rank p-value by brute force: mean ranks by counting, then every one of the 2ⁿ
    /// sign patterns.
    fn brute_force_p(d: &[f64]) -> f64 {
        let d: Vec<f64> = d.iter().copied().filter(|v| *v != 0.0).collect();
        let rank = |x: f64| {
            let below = d.iter().filter(|v| v.abs() < x.abs()).count() as f64;
            let equal = d.iter().filter(|v| v.abs() == x.abs()).count() as f64;
            below + (equal + 1.0) / 2.0
        };
        let ranks: Vec<f64> = d.iter().map(|&x| rank(x)).collect();
        let w = |positive: &dyn Fn(usize) -> bool| {
            (0..d.len()).filter(|&i| positive(i)).map(|i| ranks[i]).sum::<f64>()
        };
        let observed = w(&|i| d[i] > 0.0);
        let all: Vec<f64> = (0..1u32 << d.len()).map(|bits| w(&|i| bits >> i & 1 == 1)).collect();
        let count = |f: &dyn Fn(f64) -> bool| all.iter().filter(|&&x| f(x)).count() as f64;
        let n = all.len() as f64;
        (2.0 * count(&|x| x <= observed + 1e-9).min(count(&|x| x >= observed - 1e-9)) / n).min(1.0)
    }

    #[test]
    fn signed_rank_p_values_match_brute_force_enumeration() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for case in 0..200 {
            let n = 1 + case % 12;
            // Few distinct magnitudes, so ties and zeros are common.
            let d: Vec<f64> = (0..n).map(|_| rng.random_range(-4i32..=4) as f64 * 0.5).collect();
            if d.iter().all(|v| *v == 0.0) {
                continue;
            }
            let (fast, slow) = (signed_rank_p(&d).unwrap(), brute_force_p(&d));
            assert!((fast - slow).abs() < 1e-12, "{d:?}: {fast} against {slow}");
        }
    }

    #[test]
    fn sign_test_is_the_binomial_tail() {
        assert_eq!(sign_test_p(0, 0), None);
        assert_eq!(sign_test_p(3, 3), Some(1.0));
        assert!((sign_test_p(6, 0).unwrap() - 2.0 / 64.0).abs() < 1e-15);
        // 8 of 10: P(X ≤ 2) = (1 + 10 + 45)/1024; two-sided 112/1024.
        assert!((sign_test_p(8, 2).unwrap() - 112.0 / 1024.0).abs() < 1e-14);
        // Large n stays finite and symmetric.
        let p = sign_test_p(600, 400).unwrap();
        assert!(p > 0.0 && p < 1e-9 && Some(p) == sign_test_p(400, 600), "{p}");
        assert_eq!(fewest_pairs(), 6);
    }

    #[test]
    fn bootstrap_intervals_are_reproducible_and_hold_the_median() {
        let values = [0.5, 0.8, 0.9, 1.1, 0.7, 0.6, 0.95];
        let a = median_interval(&values, 7).unwrap();
        assert_eq!(Some(a), median_interval(&values, 7));
        assert_eq!(a.estimate, 0.8);
        assert!(a.low <= a.estimate && a.estimate <= a.high && a.low >= 0.5 && a.high <= 1.1, "{a:?}");
        assert_eq!(a.n, 7);
        // One value: no spread.
        let one = median_interval(&[2.0, f64::NAN], 1).unwrap();
        assert_eq!((one.estimate, one.low, one.high, one.n), (2.0, 2.0, 2.0, 1));
        assert_eq!(median_interval(&[], 1), None);
        // A diverged pair (+∞) is carried, not dropped.
        let inf = median_interval(&[1.0, f64::INFINITY, f64::INFINITY], 3).unwrap();
        assert_eq!((inf.estimate, inf.high), (f64::INFINITY, f64::INFINITY));
    }

    #[test]
    fn medians_of_even_counts_and_infinities() {
        assert_eq!(median(&mut [3.0, 1.0]), 2.0);
        assert_eq!(median(&mut [f64::INFINITY, f64::INFINITY]), f64::INFINITY);
        assert_eq!(median(&mut [1.0, f64::INFINITY]), f64::INFINITY);
        assert!(median(&mut []).is_nan());
    }
}
