//! Vectorisable `exp`, `tanh` and `ln` for f32 and f64 slices.
//!
//! The standard library's `f32::tanh` calls libm once per element; a sweep evaluates N·M of
//! them per iteration, which would cost more than the matrix products around them. These
//! versions are branch-free, so the compiler turns each loop into SIMD code; on x86-64 the
//! slice functions switch to AVX2 or AVX-512 builds of the same loop at run time.
//!
//! **Accuracy** (checked by the tests against f64 `exp`/`tanh` over every 61st f32 bit pattern
//! and densely over the interesting ranges):
//! - [`exp_f32`]: at most 2 ulp (1.77 measured) for results in the normal range; 0 below
//!   e^−103.97 and +∞ above e^88.72, like `f32::exp`; subnormal results within 2 steps.
//! - [`tanh_f32`]: at most 3 ulp (2.51 measured), exactly ±1 beyond |x| ≈ 9.01, `tanh(±0) = ±0`.
//! - [`exp_f64`] within 2 ulp of the standard library's `exp`; [`tanh_f64`] within 2.5 ulp of
//!   the exact value (3 million points against 80-bit long double) and within 4 ulp of glibc's
//!   `tanh`, which itself errs by up to about 2.
//! - [`ln_f64`] within 1 ulp of glibc's `log` (fdlibm's method and coefficients); [`ln_f32`]
//!   goes through it and rounds once more, so it is within half an ulp and a hair of the exact
//!   value (0.500000 measured over every 7th f32); glibc 2.36's `logf` rounds 2 in 10 000 of
//!   those inputs the other way.
//!   The loss sums use them, so their bits no longer depend on the C library either.
//!
//! NaN goes in, NaN comes out. Polynomials use fused multiply-adds (`mul_add`), which round
//! once on every build: the FMA instruction in the AVX2 and AVX-512 builds (which are chosen
//! only on CPUs with FMA), the C library's correctly rounded `fma` in the baseline build. So the
//! SIMD and scalar builds round identically: results are bitwise the same on every x86-64
//! machine and at any thread count.

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
/// The same formula as [`tanh_f32`]: u/(u + 2) with u = e^{2|x|} − 1 = 2ⁿ·(e^r − 1) + (2ⁿ − 1),
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
fn bias_tanh_row_steps_f64(row: &mut [f64], bias: &[f64]) {
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

/// ln(x) in f32: [`ln_f64`] of x, rounded once more (within 0.5 ulp and a hair).
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    ln_f64(x as f64) as f32
}

/// Defines the function written inside it (optionally generic over one type parameter, with or
/// without a return value), its body compiled three times: for the baseline CPU and, on x86-64,
/// for AVX2 (256-bit vectors) and AVX-512 (512-bit), chosen at run time. All builds round
/// identically: their fused multiply-adds round once everywhere, and nothing else depends on the
/// vector width.
macro_rules! simd_kernel {
    (
        $(#[$doc:meta])*
        $vis:vis fn $name:ident $(<$t:ident: $bound:path>)? ($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        $body:block
    ) => {
        $(#[$doc])*
        $vis fn $name $(<$t: $bound>)? ($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,fma")]
                fn wide512 $(<$t: $bound>)? ($($arg: $ty),*) $(-> $ret)? $body
                #[target_feature(enable = "avx2,fma")]
                fn wide256 $(<$t: $bound>)? ($($arg: $ty),*) $(-> $ret)? $body
                let fma = std::arch::is_x86_feature_detected!("fma");
                if fma && std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports AVX-512F and FMA, checked just above.
                    return unsafe { wide512 $(::<$t>)? ($($arg),*) };
                }
                if fma && std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                    return unsafe { wide256 $(::<$t>)? ($($arg),*) };
                }
            }
            $body
        }
    };
}
pub(crate) use simd_kernel;

simd_kernel!(
    /// Replaces x_j by tanh(x_j + b_j) along a row (`bias` at least as long): the product
    /// kernel's epilogue on each finished row of S = X·Wᵀ. One copy per build, called by every
    /// tile shape of the kernel, keeps the kernel quick to compile.
    #[inline(never)]
    pub fn bias_tanh_row(row: &mut [f32], bias: &[f32]) {
        for (x, &b) in row.iter_mut().zip(bias) {
            *x = tanh_f32(*x + b);
        }
    }
);

simd_kernel!(
    /// [`bias_tanh_row`] in f64: in blocks of 32 values, then 8, then one by one, each value
    /// bitwise [`tanh_f64`] of its sum.
    ///
    /// **Panics** if `bias` is shorter than `row`.
    #[inline(never)]
    pub fn bias_tanh_row_f64(row: &mut [f64], bias: &[f64]) {
        bias_tanh_row_steps_f64(row, bias);
    }
);

simd_kernel!(
    /// Replaces every element by its exponential.
    pub fn exp_in_place(xs: &mut [f32]) {
        for x in xs {
            *x = exp_f32(*x);
        }
    }
);

simd_kernel!(
    /// Replaces every element by its exponential, in f64.
    pub fn exp_in_place_f64(xs: &mut [f64]) {
        for x in xs {
            *x = exp_f64(*x);
        }
    }
);

simd_kernel!(
    /// Replaces every element by its natural logarithm (via f64, see [`ln_f32`]).
    pub fn ln_in_place(xs: &mut [f32]) {
        for x in xs {
            *x = ln_f32(*x);
        }
    }
);

simd_kernel!(
    /// Replaces every element by its natural logarithm, in f64.
    pub fn ln_in_place_f64(xs: &mut [f64]) {
        for x in xs {
            *x = ln_f64(*x);
        }
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Treats `xs` as rows of `bias.len()` and replaces x_ij by tanh(x_ij + bias_j).
    fn bias_tanh_in_place(xs: &mut [f32], bias: &[f32]) {
        xs.chunks_exact_mut(bias.len()).for_each(|row| bias_tanh_row(row, bias));
    }

    /// [`bias_tanh_in_place`] in f64.
    fn bias_tanh_in_place_f64(xs: &mut [f64], bias: &[f64]) {
        xs.chunks_exact_mut(bias.len()).for_each(|row| bias_tanh_row_f64(row, bias));
    }

    /// The distance in units in the last place between an f32 and the exact value (in f64),
    /// measured with the ulp of the exact value rounded to f32.
    fn ulps(got: f32, exact: f64) -> f64 {
        let rounded = exact as f32;
        if rounded == 0.0 || !rounded.is_normal() {
            // Subnormal or zero: measure in steps of the smallest subnormal.
            return (got as f64 - exact).abs() / f32::from_bits(1) as f64;
        }
        let ulp = (f32::from_bits(rounded.abs().to_bits() + 1) - rounded.abs()) as f64;
        (got as f64 - exact).abs() / ulp
    }

    /// Every 61st bit pattern (both signs, all exponents) plus dense sweeps of [lo, hi].
    fn inputs(lo: f32, hi: f32) -> impl Iterator<Item = f32> {
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
    fn slices_match_the_scalar_functions_bit_for_bit() {
        // Lengths that exercise the vector body and the scalar tail.
        let xs: Vec<f32> = (0..1037).map(|i| (i as f32 - 500.0) * 0.037).collect();
        let mut e = xs.clone();
        exp_in_place(&mut e);
        let bias = [0.25, -1.5, 0.0];
        let mut tb = xs[..1035].to_vec();
        bias_tanh_in_place(&mut tb, &bias);
        for (i, &x) in xs.iter().enumerate() {
            if i < 1035 {
                assert_eq!(tb[i].to_bits(), tanh_f32(x + bias[i % 3]).to_bits(), "tanh at {x} + bias");
            }
            assert_eq!(e[i].to_bits(), exp_f32(x).to_bits(), "exp at {x}");
        }
    }

    #[test]
    fn f64_tanh_rows_equal_the_value_by_value_function_bit_for_bit() {
        // Every row length up to past two blocks, with values across the whole range, signed
        // zeros, saturation, infinities and NaN among them.
        let specials = [0.0, -0.0, 19.0, -19.2, 40.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1e-300];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for len in 1..=70 {
            let xs: Vec<f64> = (0..len)
                .map(
                    |i| if i % 11 == 5 { specials[(i + len) % specials.len()] } else { 24.0 * next() - 12.0 },
                )
                .collect();
            let bias: Vec<f64> = (0..len).map(|i| if i % 7 == 3 { -0.0 } else { next() - 0.5 }).collect();
            // The baseline build, then the run-time choice (AVX-512 or AVX2 where the CPU has
            // them) on two rows at once.
            let mut row = xs.clone();
            bias_tanh_row_steps_f64(&mut row, &bias);
            let mut rows = [xs.clone(), xs.clone()].concat();
            bias_tanh_in_place_f64(&mut rows, &bias);
            for i in 0..len {
                let want = tanh_f64(xs[i] + bias[i]).to_bits();
                let what = format!("length {len}, element {i}: {} + {}", xs[i], bias[i]);
                assert_eq!(row[i].to_bits(), want, "{what}");
                assert_eq!((rows[i].to_bits(), rows[len + i].to_bits()), (want, want), "{what}, dispatched");
            }
        }
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
        let xs: Vec<f32> = (0..1037).map(|i| 1.0 + i as f32 * 0.0173).collect();
        let mut l = xs.clone();
        ln_in_place(&mut l);
        for (i, &x) in xs.iter().enumerate() {
            assert_eq!(l[i].to_bits(), ln_f32(x).to_bits(), "ln at {x}");
        }
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
        let xs: Vec<f64> = (0..517).map(|i| 1.0 + i as f64 * 0.0191).collect();
        let mut l = xs.clone();
        ln_in_place_f64(&mut l);
        for (i, &x) in xs.iter().enumerate() {
            assert_eq!(l[i].to_bits(), ln_f64(x).to_bits(), "ln at {x}");
        }
    }

    /// Distance in ulps between two f64 values of the same sign.
    fn ulps_f64(a: f64, b: f64) -> f64 {
        if a == b {
            return 0.0;
        }
        let ulp = f64::from_bits(b.abs().to_bits() + 1) - b.abs();
        (a - b).abs() / if ulp > 0.0 { ulp } else { f64::from_bits(1) }
    }

    /// Dense sweeps of [lo, hi] and pseudo-random bit patterns (all exponents, both signs).
    fn inputs_f64(lo: f64, hi: f64) -> impl Iterator<Item = f64> {
        let dense = (0..=2_000_000).map(move |i| lo + (hi - lo) * (i as f64 / 2_000_000.0));
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let random = (0..2_000_000).map(move |_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            f64::from_bits(state)
        });
        dense.chain(random).filter(|x| x.is_finite())
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
        let xs: Vec<f64> = (0..517).map(|i| (i as f64 - 250.0) * 0.031).collect();
        let mut t = xs.clone();
        bias_tanh_in_place_f64(&mut t, &[0.5]);
        let mut e = xs.clone();
        exp_in_place_f64(&mut e);
        for (i, &x) in xs.iter().enumerate() {
            assert_eq!(t[i].to_bits(), tanh_f64(x + 0.5).to_bits());
            assert_eq!(e[i].to_bits(), exp_f64(x).to_bits());
        }
    }
}
