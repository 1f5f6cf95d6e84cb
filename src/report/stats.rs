//! Statistics for paired comparisons over a handful of seeds: medians with exact,
//! distribution-free intervals, and exact tests (Wilcoxon's signed-rank test, the sign test).
//! Pure functions.
//!
//! Seeds are few (often 2 to 10), so everything is exact: the interval for a median is the one
//! between two order statistics that the binomial distribution guarantees to cover the median
//! with at least the stated probability, whatever the values' distribution, and the tests' null
//! distributions are counted, not approximated.

/// The level the intervals promise at least, and the tests' threshold.
pub const LEVEL: f64 = 0.95;

/// How the intervals are made, in words, for the report.
pub const INTERVAL_METHOD: &str = "the order-statistic interval for the median (the sign test inverted): \
[x₍ₖ₎, x₍ₙ₊₁₋ₖ₎] with the largest k whose binomial coverage 1 − 2·P(B ≤ k − 1), B ~ Binomial(n, ½), is at least 95%";

pub use crate::tune::median;

/// P(B ≤ k) for B ~ Binomial(n, ½), summed in logs so that it stays accurate for large n.
pub fn binomial_tail(n: usize, k: usize) -> f64 {
    let ln_choose = |n: usize, k: usize| -> f64 {
        (1..=k).map(|i| ((n - k + i) as f64).ln() - (i as f64).ln()).sum::<f64>()
    };
    (0..=k.min(n)).map(|i| (ln_choose(n, i) - n as f64 * std::f64::consts::LN_2).exp()).sum::<f64>().min(1.0)
}

/// The ranks that bound the distribution-free interval for the median of n values, and its
/// coverage: the largest k ≥ 1 whose interval [x₍ₖ₎, x₍ₙ₊₁₋ₖ₎] covers the median with probability
/// 1 − 2·P(B ≤ k − 1) ≥ [`LEVEL`] (it misses only when fewer than k values fall on one side of the
/// median). None when even [x₍₁₎, x₍ₙ₎] falls short: n ≤ 5, where it covers with 1 − 2/2ⁿ.
pub fn median_ranks(n: usize) -> Option<(usize, f64)> {
    let coverage = |k: usize| 1.0 - 2.0 * binomial_tail(n, k - 1);
    (1..=n.div_ceil(2)).take_while(|&k| coverage(k) >= LEVEL).last().map(|k| (k, coverage(k)))
}

/// A median with its interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The median of the values.
    pub estimate: f64,
    /// The interval's ends, when n values allow one at [`LEVEL`] (n ≥ 6).
    pub bounds: Option<(f64, f64)>,
    /// The interval's exact coverage (at least [`LEVEL`]), when there is one.
    pub coverage: Option<f64>,
    /// How many values it rests on.
    pub n: usize,
}

/// The median of `values` with its distribution-free interval at [`LEVEL`] ([`median_ranks`]).
/// NaN values are left out, ±∞ kept (they rank at the ends); None when no value remains.
pub fn median_interval(values: &[f64]) -> Option<Interval> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    let estimate = median(&mut sorted);
    let n = sorted.len();
    let ranks = median_ranks(n);
    Some(Interval {
        estimate,
        bounds: ranks.map(|(k, _)| (sorted[k - 1], sorted[n - k])),
        coverage: ranks.map(|(_, c)| c),
        n,
    })
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
    (n > 0).then(|| (2.0 * binomial_tail(n, wins.min(losses))).min(1.0))
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
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

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
        // Large n stays finite and symmetric, and agrees with the exact fraction.
        let (tail, all) = exact_tail(30, 9);
        assert!((sign_test_p(9, 21).unwrap() - 2.0 * tail as f64 / all as f64).abs() < 1e-14);
        let p = sign_test_p(600, 400).unwrap();
        assert!(p > 0.0 && p < 1e-9 && Some(p) == sign_test_p(400, 600), "{p}");
        assert_eq!(fewest_pairs(), 6);
    }

    /// P(B ≤ k) for B ~ Binomial(n, ½) as an exact fraction: (Σ C(n, i), 2ⁿ).
    fn exact_tail(n: u32, k: u32) -> (u128, u128) {
        let mut choose = 1u128;
        let mut sum = 0u128;
        for i in 0..=k {
            if i > 0 {
                choose = choose * u128::from(n - i + 1) / u128::from(i);
            }
            sum += choose;
        }
        (sum, 1u128 << n)
    }

    #[test]
    fn median_intervals_keep_their_coverage_at_every_n() {
        // Below 6 seeds no pair of order statistics reaches 95%: even [min, max] covers with
        // 1 − 2/2ⁿ (n = 5: 93.75%).
        for n in 1..=5 {
            assert_eq!(median_ranks(n), None, "{n}");
        }
        for n in 6..=30u32 {
            let (k, coverage) = median_ranks(n as usize).unwrap();
            // Exactly: coverage = 1 − 2·P(B ≤ k − 1) ≥ 95%, and k + 1 would fall short.
            let (tail, all) = exact_tail(n, k as u32 - 1);
            assert!(20 * (all - 2 * tail) >= 19 * all, "n = {n}, k = {k}");
            assert!((coverage - (1.0 - 2.0 * tail as f64 / all as f64)).abs() < 1e-12, "n = {n}");
            let (next, _) = exact_tail(n, k as u32);
            assert!(20 * (all - 2 * next) < 19 * all, "n = {n}: k = {} still covers", k + 1);
        }
        // Known ranks: n = 8 takes [x₍₁₎, x₍₈₎] (99.2%), not the bootstrap's [x₍₂₎, x₍₇₎] (93%);
        // n = 20 takes [x₍₆₎, x₍₁₅₎] (95.9%).
        assert_eq!(median_ranks(8).map(|r| r.0), Some(1));
        assert_eq!(median_ranks(20).map(|r| r.0), Some(6));
        assert!((median_ranks(20).unwrap().1 - 0.958611).abs() < 1e-6);
    }

    #[test]
    fn median_intervals_are_order_statistics() {
        let values = [0.5, 0.8, 0.9, 1.1, 0.7, 0.6, 0.95, f64::NAN, 1.3];
        let i = median_interval(&values).unwrap();
        // 8 values (NaN left out): median of 0.8 and 0.9, interval [min, max].
        assert!((i.estimate - 0.85).abs() < 1e-15);
        assert_eq!((i.bounds, i.n), (Some((0.5, 1.3)), 8));
        assert!(i.coverage.unwrap() > 0.99);
        // Five values: a median, no interval.
        let five = median_interval(&[3.0, 1.0, 2.0, 5.0, 4.0]).unwrap();
        assert_eq!((five.estimate, five.bounds, five.coverage), (3.0, None, None));
        assert_eq!(median_interval(&[f64::NAN]), None);
        // A diverged pair (+∞) is carried, not dropped, and ranks last.
        let inf = median_interval(&[1.0, f64::INFINITY, 2.0, 3.0, 4.0, f64::INFINITY]).unwrap();
        assert_eq!((inf.estimate, inf.bounds), (3.5, Some((1.0, f64::INFINITY))));
    }

    #[test]
    fn medians_of_even_counts_and_infinities() {
        assert_eq!(median(&mut [3.0, 1.0]), 2.0);
        assert_eq!(median(&mut [f64::INFINITY, f64::INFINITY]), f64::INFINITY);
        assert_eq!(median(&mut [1.0, f64::INFINITY]), f64::INFINITY);
        assert!(median(&mut []).is_nan());
    }
}
