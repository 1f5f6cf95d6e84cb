//! exp, tanh and ln of one f64, branch-free so that loops over them vectorise, and tanh of
//! whole blocks of a row (see the parent module for their error bounds).

/// 1.5·2⁵²: adding it rounds an f64 of magnitude < 2⁵¹ to an integer in the low mantissa bits.
const ROUND_MAGIC_F64: f64 = 6_755_399_441_055_744.0;

/// ln 2 split so that n·LN2_HI_F64 is exact for |n| < 2²⁰.
const LN2_HI_F64: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);

const LN2_LO_F64: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// tanh(x) rounds to ±1 in f64 beyond |x| ≈ 19.06; clamping |x| here keeps e^{2|x|} finite.
const TANH_CLAMP_F64: f64 = 19.1;

/// 1/k! for k = 0..=13: e^r to degree 13.
const EXP_TAYLOR_F64: [f64; 14] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
];

/// p·2^e for −1100 < e ≤ 1025, as two exact multiplications by normal powers of two.
#[inline(always)]
fn scale_pow2_f64(p: f64, e: i64) -> f64 {
    let e1 = e >> 1;
    let e2 = e - e1;
    p * f64::from_bits(((e1 + 1023) as u64) << 52) * f64::from_bits(((e2 + 1023) as u64) << 52)
}

/// e^x in f64 without libm: Cody–Waite reduction and the Taylor series to degree 13 (truncation
/// below 5e-18 relative); within 2 ulp of the standard library's `exp` (see the tests).
#[inline(always)]
pub fn exp_f64(x: f64) -> f64 {
    let x = x.clamp(-746.0, 710.0);
    let t = x.mul_add(std::f64::consts::LOG2_E, ROUND_MAGIC_F64);
    let n = t - ROUND_MAGIC_F64;
    let e = t.to_bits() as i64 - ROUND_MAGIC_F64.to_bits() as i64;
    let r = (-n).mul_add(LN2_LO_F64, (-n).mul_add(LN2_HI_F64, x));
    let mut p = EXP_TAYLOR_F64[13];
    for &c in EXP_TAYLOR_F64[..13].iter().rev() {
        p = p.mul_add(r, c);
    }
    scale_pow2_f64(p, e)
}

/// tanh(x) in f64 without libm (see the module notes for the error bound).
///
/// The same formula as [`super::tanh_f32`]: u/(u + 2) with u = e^{2|x|} − 1 = 2ⁿ·(e^r − 1) + (2ⁿ − 1),
/// and e^r − 1 = r + r²·(1/2! + r/3! + … + r¹¹/13!), whose first omitted term is below 2e-17
/// relative for |r| ≤ ln2/2.
#[inline(always)]
pub fn tanh_f64(x: f64) -> f64 {
    tanh_steps_f64([x])[0]
}

/// [`tanh_f64`] of L values, one step of the formula for all of them before the next. Each
/// value's steps form a chain of about 30 dependent operations (11 of them the polynomial's
/// multiply-adds) ending in a division; written value after value, the chains filled the CPU's
/// scheduler and left its vector units waiting. Step by step, with L = 32, the compiler
/// interleaves four AVX-512 vectors. Every value goes through the operations it would alone, so
/// the results are bitwise those of [`tanh_f64`]. (f32's chain is half as long and gains
/// nothing from this.)
#[inline(always)]
fn tanh_steps_f64<const L: usize>(x: [f64; L]) -> [f64; L] {
    let (mut a, mut t, mut r) = ([0.0; L], [0.0; L], [0.0; L]);
    // clamp keeps NaN, which then flows through every step below.
    for i in 0..L {
        a[i] = x[i].abs().clamp(0.0, TANH_CLAMP_F64);
        t[i] = a[i].mul_add(2.0 * std::f64::consts::LOG2_E, ROUND_MAGIC_F64);
    }
    for i in 0..L {
        let n = t[i] - ROUND_MAGIC_F64;
        r[i] = (-n).mul_add(LN2_LO_F64, (-n).mul_add(LN2_HI_F64, a[i] + a[i]));
    }
    let mut c = [EXP_TAYLOR_F64[13]; L];
    for &k in EXP_TAYLOR_F64[2..13].iter().rev() {
        for i in 0..L {
            c[i] = c[i].mul_add(r[i], k);
        }
    }
    let mut out = [0.0; L];
    for i in 0..L {
        let expm1_r = (r[i] * r[i]).mul_add(c[i], r[i]);
        // 0 ≤ n ≤ 56 here, so 2ⁿ is a normal f64 and 2ⁿ − 1 is exact up to where tanh rounds to 1.
        let e = t[i].to_bits() as i64 - ROUND_MAGIC_F64.to_bits() as i64;
        let scale = f64::from_bits(((e + 1023) as u64) << 52);
        let u = scale.mul_add(expm1_r, scale - 1.0);
        out[i] = (u / (u + 2.0)).copysign(x[i]);
    }
    out
}

/// tanh(x_j + b_j) in place for a block of exactly L values (see [`tanh_steps_f64`]).
#[inline(always)]
fn bias_tanh_block_f64<const L: usize>(xs: &mut [f64], bias: &[f64]) {
    let xs: &mut [f64; L] = xs.try_into().expect("a whole block");
    let bias: &[f64; L] = bias.try_into().expect("a whole block");
    *xs = tanh_steps_f64(std::array::from_fn(|i| xs[i] + bias[i]));
}

/// Replaces x_j by tanh(x_j + b_j) along a row: in blocks of 32 values (the width of the
/// product kernel's widest AVX-512 tile), then of 8, then one by one; bitwise [`tanh_f64`] of
/// each sum.
///
/// **Panics** if `bias` is shorter than `row`.
#[inline(always)]
pub(super) fn bias_tanh_row_steps_f64(row: &mut [f64], bias: &[f64]) {
    let bias = &bias[..row.len()];
    let (mut wide, mut wide_bias) = (row.chunks_exact_mut(32), bias.chunks_exact(32));
    for (xs, bs) in (&mut wide).zip(&mut wide_bias) {
        bias_tanh_block_f64::<32>(xs, bs);
    }
    let (row, bias) = (wide.into_remainder(), wide_bias.remainder());
    let (mut narrow, mut narrow_bias) = (row.chunks_exact_mut(8), bias.chunks_exact(8));
    for (xs, bs) in (&mut narrow).zip(&mut narrow_bias) {
        bias_tanh_block_f64::<8>(xs, bs);
    }
    for (x, &b) in narrow.into_remainder().iter_mut().zip(narrow_bias.remainder()) {
        *x = tanh_f64(*x + b);
    }
}

/// ln(1 + f) = f − f²/2 + s·(f²/2 + R(s²)) with s = f/(2 + f), R(z) = Σ LN_C[i]·z^{i+1}: the
/// coefficients of fdlibm's `e_log.c`, fitted on |s| ≤ 0.1716 (|f| ≤ √2 − 1) to 2⁻⁵⁸·⁴⁵.
const LN_C: [f64; 7] = [
    f64::from_bits(0x3fe5_5555_5555_5593),
    f64::from_bits(0x3fd9_9999_9997_fa04),
    f64::from_bits(0x3fd2_4924_9422_9359),
    f64::from_bits(0x3fcc_71c5_1d8e_78af),
    f64::from_bits(0x3fc7_4664_96cb_03de),
    f64::from_bits(0x3fc3_9a09_d078_c69f),
    f64::from_bits(0x3fc2_f112_df3e_5244),
];

/// The bits of √½: subtracting them from x's bits splits x = 2^k·m with m ∈ [√½, √2).
const SQRT_HALF_BITS: i64 = 0x3fe6_a09e_667f_3bcd;

/// ln(x) in f64 without libm, branch-free (see the module notes for the error bound). Plain
/// multiplications and additions in fdlibm's order, no fused ones: every build rounds them alike.
#[inline(always)]
pub fn ln_f64(x: f64) -> f64 {
    // Subnormals are scaled into the normal range first; every other special case is patched
    // in at the end, so the arithmetic below only has to be right for positive normal values.
    let tiny = x < f64::MIN_POSITIVE;
    let xs = if tiny { x * f64::from_bits(0x4350_0000_0000_0000) } else { x }; // 2⁵⁴
    let bits = xs.to_bits() as i64;
    let k = (bits.wrapping_sub(SQRT_HALF_BITS)) >> 52;
    let m = f64::from_bits(bits.wrapping_sub(k << 52) as u64);
    // Exact (Sterbenz), since m ∈ [√½, √2).
    let f = m - 1.0;
    let half_f2 = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let even = w * (LN_C[1] + w * (LN_C[3] + w * LN_C[5]));
    let odd = z * (LN_C[0] + w * (LN_C[2] + w * (LN_C[4] + w * LN_C[6])));
    let dk = (k - if tiny { 54 } else { 0 }) as f64;
    let y = dk * LN2_HI_F64 - ((half_f2 - (s * (half_f2 + (odd + even)) + dk * LN2_LO_F64)) - f);
    if x == 0.0 {
        f64::NEG_INFINITY
    } else if x.is_nan() || x < 0.0 {
        f64::NAN
    } else if x == f64::INFINITY {
        x
    } else {
        y
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Distance in ulps between two f64 values of the same sign.
    fn ulps_f64(a: f64, b: f64) -> f64 {
        if a == b {
            return 0.0;
        }
        let ulp = f64::from_bits(b.abs().to_bits() + 1) - b.abs();
        (a - b).abs() / if ulp > 0.0 { ulp } else { f64::from_bits(1) }
    }

    /// Dense sweeps of [lo, hi] and pseudo-random bit patterns (all exponents, both signs).
    pub(in crate::num::fastmath) fn inputs_f64(lo: f64, hi: f64) -> impl Iterator<Item = f64> {
        let dense = (0..=2_000_000).map(move |i| lo + (hi - lo) * (i as f64 / 2_000_000.0));
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let random = (0..2_000_000).map(move |_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            f64::from_bits(state)
        });
        dense.chain(random).filter(|x| x.is_finite())
    }

    #[test]
    fn f64_log_stays_within_one_ulp_of_the_standard_library() {
        let mut worst = (0.0, 0.0f64);
        let subnormals = (1..100_000u64).map(|i| f64::from_bits(i * 0x1_0000_0001));
        for x in inputs_f64(0.25, 12.0).chain(subnormals) {
            let want = x.ln();
            let got = ln_f64(x);
            if want.is_nan() {
                assert!(got.is_nan(), "ln({x}) = {got}");
                continue;
            }
            let e = ulps_f64(got, want);
            if e > worst.0 {
                worst = (e, x);
            }
        }
        assert!(worst.0 <= 1.0, "ln: {} ulp at {}", worst.0, worst.1);
        assert_eq!(ln_f64(1.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(ln_f64(std::f64::consts::E), 1.0);
        assert_eq!((ln_f64(0.0), ln_f64(-0.0)), (f64::NEG_INFINITY, f64::NEG_INFINITY));
        assert_eq!((ln_f64(f64::INFINITY), ln_f64(f64::MAX)), (f64::INFINITY, f64::MAX.ln()));
        assert!(ln_f64(-1e-300).is_nan() && ln_f64(f64::NEG_INFINITY).is_nan() && ln_f64(f64::NAN).is_nan());
    }

    #[test]
    fn f64_versions_stay_within_a_few_ulp_of_the_standard_library() {
        let mut worst = [(0.0, 0.0f64); 2];
        // Points where glibc's tanh and this one err in opposite directions (4 ulp apart).
        let hard = [-0.220459903659469, 0.45073432436133487, 0.18437142715447052];
        for x in inputs_f64(-40.0, 40.0).chain(hard) {
            let (e, t) = (ulps_f64(exp_f64(x), x.exp()), ulps_f64(tanh_f64(x), x.tanh()));
            if e > worst[0].0 {
                worst[0] = (e, x);
            }
            if t > worst[1].0 {
                worst[1] = (t, x);
            }
        }
        assert!(worst[0].0 <= 2.0, "exp: {} ulp at {}", worst[0].0, worst[0].1);
        // glibc's tanh errs by up to about 2 ulp itself; this one is within 2.5 of the exact value.
        assert!(worst[1].0 <= 4.0, "tanh: {} ulp at {}", worst[1].0, worst[1].1);
        assert_eq!(exp_f64(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp_f64(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp_f64(709.0), 709.0f64.exp());
        assert!(exp_f64(f64::NAN).is_nan() && tanh_f64(f64::NAN).is_nan());
        assert_eq!(tanh_f64(-0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!((tanh_f64(30.0), tanh_f64(-30.0)), (1.0, -1.0));
        assert_eq!((tanh_f64(f64::INFINITY), tanh_f64(19.0).abs() <= 1.0), (1.0, true));
    }
}
