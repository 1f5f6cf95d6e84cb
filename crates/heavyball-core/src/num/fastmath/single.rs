//! exp, tanh and ln of one f32, branch-free so that loops over them vectorise (see the parent
//! module for their error bounds).

use super::double::ln_f64;

/// 1.5·2²³: adding it rounds an f32 of magnitude < 2²² to an integer held in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

const LOG2_E: f32 = std::f32::consts::LOG2_E;

/// ln 2 split so that n·LN2_HI is exact for |n| < 2¹²: Cody and Waite's range reduction.
const LN2_HI: f32 = 0.693_145_75;

const LN2_LO: f32 = 1.428_606_8e-6;

/// Below this e^x rounds to 0 in f32; above the upper bound it overflows to +∞.
const EXP_LOW: f32 = -104.0;

const EXP_HIGH: f32 = 89.0;

/// tanh(x) rounds to ±1 in f32 beyond |x| ≈ 9.01; clamping |x| here keeps e^{2|x|} finite.
const TANH_CLAMP: f32 = 9.1;

/// 2·log₂e: n = round(2|x|·log₂e) is the power of two split off e^{2|x|}.
const TWO_LOG2_E: f32 = 2.0 * std::f32::consts::LOG2_E;

/// (e^r − 1 − r)/r² ≈ c₀ + c₁r + … + c₄r⁴ on |r| ≤ ln2/2, fitted for minimal relative error of
/// e^r − 1 (1.3e-8, a quarter of an f32 ulp) by iteratively reweighted least squares.
const EXPM1_C: [f32; 5] = [0.499_999_97, 0.166_665_43, 0.041_667_2, 0.008_366_511, 0.001_388_249_3];

/// 2^e for −150 < e ≤ 128 as the product of two normal powers of two: p·2^e1·2^e2.
#[inline(always)]
fn scale_pow2(p: f32, e: i32) -> f32 {
    let e1 = e >> 1;
    let e2 = e - e1;
    let f1 = f32::from_bits(((e1 + 127) as u32) << 23);
    let f2 = f32::from_bits(((e2 + 127) as u32) << 23);
    p * f1 * f2
}

/// e^x in f32 without libm (see the module notes for the error bound).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // clamp keeps NaN, which then flows through every step below.
    let x = x.clamp(EXP_LOW, EXP_HIGH);
    // n = round(x / ln 2), read back as an integer from the mantissa bits.
    let t = x.mul_add(LOG2_E, ROUND_MAGIC);
    let n = t - ROUND_MAGIC;
    let e = t.to_bits() as i32 - ROUND_MAGIC.to_bits() as i32;
    // r = x − n·ln 2 with |r| ≤ ln2/2 + rounding; e^r by its Taylor series to degree 7
    // (truncation below 6e-9 relative), evaluated by Estrin's scheme.
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, x));
    // Estrin's scheme: independent pairs, then powers of r, keep the dependency chain short.
    let r2 = r * r;
    let r4 = r2 * r2;
    let p01 = 1.0 + r;
    let p23 = r.mul_add(1.0 / 6.0, 0.5);
    let p45 = r.mul_add(1.0 / 120.0, 1.0 / 24.0);
    let p67 = r.mul_add(1.0 / 5040.0, 1.0 / 720.0);
    let p = r4.mul_add(r2.mul_add(p67, p45), r2.mul_add(p23, p01));
    scale_pow2(p, e)
}

/// tanh(x) in f32 without libm (see the module notes for the error bound).
///
/// tanh|x| = u/(u + 2) with u = e^{2|x|} − 1. The relative error of u reaches the quotient
/// damped by 2/(u + 2) ≤ 1, so one formula is accurate from 0 to saturation: no cancellation near
/// 0, no second branch to blend. u = 2ⁿ·(e^r − 1) + (2ⁿ − 1) after Cody and Waite's reduction
/// 2|x| = n·ln 2 + r; both terms are exact or rounded once, and n ≥ 0 keeps them from cancelling.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    // clamp keeps NaN, which then flows through every step below.
    let a = x.abs().clamp(0.0, TANH_CLAMP);
    let t = a.mul_add(TWO_LOG2_E, ROUND_MAGIC);
    let n = t - ROUND_MAGIC;
    let e = t.to_bits() as i32 - ROUND_MAGIC.to_bits() as i32;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, a + a));
    let r2 = r * r;
    let r4 = r2 * r2;
    let c01 = r.mul_add(EXPM1_C[1], EXPM1_C[0]);
    let c23 = r.mul_add(EXPM1_C[3], EXPM1_C[2]);
    let c = r4.mul_add(EXPM1_C[4], r2.mul_add(c23, c01));
    let expm1_r = r2.mul_add(c, r);
    // 0 ≤ n ≤ 27 here, so 2ⁿ is a normal f32 and 2ⁿ − 1 is exact up to where tanh rounds to 1.
    let scale = f32::from_bits(((e + 127) as u32) << 23);
    let u = scale.mul_add(expm1_r, scale - 1.0);
    (u / (u + 2.0)).copysign(x)
}

/// ln(x) in f32: [`ln_f64`] of x, rounded once more (within 0.5 ulp and a hair).
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    ln_f64(x as f64) as f32
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The distance in units in the last place between an f32 and the exact value (in f64),
    /// measured with the ulp of the exact value rounded to f32.
    pub(in crate::num::fastmath) fn ulps(got: f32, exact: f64) -> f64 {
        let rounded = exact as f32;
        if rounded == 0.0 || !rounded.is_normal() {
            // Subnormal or zero: measure in steps of the smallest subnormal.
            return (got as f64 - exact).abs() / f32::from_bits(1) as f64;
        }
        let ulp = (f32::from_bits(rounded.abs().to_bits() + 1) - rounded.abs()) as f64;
        (got as f64 - exact).abs() / ulp
    }

    /// Every 61st bit pattern (both signs, all exponents) plus dense sweeps of [lo, hi].
    pub(in crate::num::fastmath) fn inputs(lo: f32, hi: f32) -> impl Iterator<Item = f32> {
        let sparse = (0..u32::MAX / 61).map(|i| f32::from_bits(i * 61));
        let dense = (0..=400_000).map(move |i| lo + (hi - lo) * (i as f32 / 400_000.0));
        sparse.chain(dense).filter(|x| x.is_finite())
    }

    #[test]
    fn exp_is_within_two_ulp_of_the_exact_value() {
        let mut worst = (0.0, 0.0f32);
        for x in inputs(-104.5, 89.5) {
            let exact = (x as f64).exp();
            let got = exp_f32(x);
            if exact > f32::MAX as f64 {
                assert_eq!(got, f32::INFINITY, "exp({x})");
                continue;
            }
            let e = ulps(got, exact);
            if e > worst.0 {
                worst = (e, x);
            }
        }
        assert!(worst.0 <= 2.0, "exp: {} ulp at x = {}", worst.0, worst.1);
    }

    #[test]
    fn tanh_is_within_three_ulp_of_the_exact_value_and_never_beyond_one() {
        let mut worst = (0.0, 0.0f32);
        for x in inputs(-10.0, 10.0) {
            let got = tanh_f32(x);
            assert!(got.abs() <= 1.0, "tanh({x}) = {got}");
            let e = ulps(got, (x as f64).tanh());
            if e > worst.0 {
                worst = (e, x);
            }
        }
        assert!(worst.0 <= 3.0, "tanh: {} ulp at x = {}", worst.0, worst.1);
    }

    #[test]
    fn special_values_follow_the_standard_library() {
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(tanh_f32(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh_f32(20.0), 1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
    }

    #[test]
    fn f32_log_is_correctly_rounded_but_for_a_hair() {
        // Against f64 ln of the same input: within half an ulp (plus f64 rounding), so it
        // agrees with a correctly rounded logf almost everywhere.
        let mut worst = (0.0, 0.0f32);
        let subnormals = (1..200_000u32).map(|i| f32::from_bits(i * 41));
        for x in inputs(0.5, 12.0).chain(subnormals).filter(|&x| x > 0.0) {
            let e = ulps(ln_f32(x), (x as f64).ln());
            if e > worst.0 {
                worst = (e, x);
            }
        }
        assert!(worst.0 <= 0.5001, "ln: {} ulp at x = {}", worst.0, worst.1);
        assert_eq!(ln_f32(1.0).to_bits(), 0.0f32.to_bits());
        assert_eq!((ln_f32(0.0), ln_f32(-0.0)), (f32::NEG_INFINITY, f32::NEG_INFINITY));
        assert_eq!(ln_f32(f32::INFINITY), f32::INFINITY);
        assert!(ln_f32(-1.0).is_nan() && ln_f32(f32::NEG_INFINITY).is_nan() && ln_f32(f32::NAN).is_nan());
    }
}
