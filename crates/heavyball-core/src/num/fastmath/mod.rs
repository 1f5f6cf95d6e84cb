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

mod double;
mod single;

pub use double::{exp_f64, ln_f64, tanh_f64};
pub use single::{exp_f32, ln_f32, tanh_f32};

use double::bias_tanh_row_steps_f64;

/// Defines the function written inside it, `name / name_with` (optionally generic over one type
/// parameter, with or without a return value), its body compiled three times: for the baseline
/// CPU and, on x86-64, for AVX2 (256-bit vectors) and AVX-512 (512-bit). `name` runs the build
/// [`Build::detect`] picks, as the product kernel does; `name_with` takes the build, so that
/// tests run every build the CPU has. All builds round identically: their fused multiply-adds
/// round once everywhere, and nothing else depends on the vector width.
macro_rules! simd_kernel {
    (
        $(#[$attr:meta])*
        $vis:vis fn $name:ident / $with:ident $(<$t:ident: $bound:path>)? ($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        $body:block
    ) => {
        $(#[$attr])*
        $vis fn $name $(<$t: $bound>)? ($($arg: $ty),*) $(-> $ret)? {
            $with $(::<$t>)? ($crate::num::kernels::Build::detect(), $($arg),*)
        }

        #[doc = concat!("[`", stringify!($name), "`] in a given build (tests compare the builds).")]
        #[doc = ""]
        #[doc = "**Panics** if this CPU cannot run `build`."]
        #[inline(always)]
        #[cfg_attr(not(test), allow(dead_code))]
        #[allow(clippy::too_many_arguments)]
        $vis fn $with $(<$t: $bound>)? (build: $crate::num::kernels::Build, $($arg: $ty),*) $(-> $ret)? {
            assert!(build.is_supported(), "this CPU cannot run the {build:?} build");
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,fma")]
                fn wide512 $(<$t: $bound>)? ($($arg: $ty),*) $(-> $ret)? $body
                #[target_feature(enable = "avx2,fma")]
                fn wide256 $(<$t: $bound>)? ($($arg: $ty),*) $(-> $ret)? $body
                match build {
                    // SAFETY (both arms): the CPU runs the build, checked above.
                    $crate::num::kernels::Build::Avx512 => return unsafe { wide512 $(::<$t>)? ($($arg),*) },
                    $crate::num::kernels::Build::Avx2 => return unsafe { wide256 $(::<$t>)? ($($arg),*) },
                    $crate::num::kernels::Build::Scalar => {}
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
    pub fn bias_tanh_row / bias_tanh_row_with(row: &mut [f32], bias: &[f32]) {
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
    pub fn bias_tanh_row_f64 / bias_tanh_row_f64_with(row: &mut [f64], bias: &[f64]) {
        bias_tanh_row_steps_f64(row, bias);
    }
);

simd_kernel!(
    /// Replaces every element by its exponential.
    pub fn exp_in_place / exp_in_place_with(xs: &mut [f32]) {
        for x in xs {
            *x = exp_f32(*x);
        }
    }
);

simd_kernel!(
    /// Replaces every element by its exponential, in f64.
    pub fn exp_in_place_f64 / exp_in_place_f64_with(xs: &mut [f64]) {
        for x in xs {
            *x = exp_f64(*x);
        }
    }
);

simd_kernel!(
    /// Replaces every element by its natural logarithm (via f64, see [`ln_f32`]).
    pub fn ln_in_place / ln_in_place_with(xs: &mut [f32]) {
        for x in xs {
            *x = ln_f32(*x);
        }
    }
);

simd_kernel!(
    /// Replaces every element by its natural logarithm, in f64.
    pub fn ln_in_place_f64 / ln_in_place_f64_with(xs: &mut [f64]) {
        for x in xs {
            *x = ln_f64(*x);
        }
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::kernels::Build;

    /// Inputs for the f32 slice kernels: every 613th bit pattern (both signs, all exponents), a
    /// dense sweep of exp's range, and specials.
    fn sample_f32() -> Vec<f32> {
        let sparse = (0..u32::MAX / 613).map(|i| f32::from_bits(i * 613));
        let dense = (0..=200_000).map(|i| -104.5 + 194.0 * (i as f32 / 200_000.0));
        let specials = [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MIN_POSITIVE, 1e-45];
        sparse.chain(dense).chain(specials).collect()
    }

    /// Inputs for the f64 slice kernels: the accuracy test's points, thinned, and specials.
    fn sample_f64() -> Vec<f64> {
        let specials =
            [0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, f64::MIN_POSITIVE, 5e-324, 710.0];
        double::tests::inputs_f64(-40.0, 40.0).step_by(7).chain(specials).collect()
    }

    #[test]
    fn every_build_of_the_f32_slices_gives_the_scalar_functions_bits() {
        let xs = sample_f32();
        let bias = [0.25, -1.5, 0.0, 3.0, -0.0];
        for build in Build::available() {
            let mut e = xs.clone();
            exp_in_place_with(build, &mut e);
            let mut l = xs.clone();
            ln_in_place_with(build, &mut l);
            let mut t = xs.clone();
            t.chunks_mut(bias.len()).for_each(|row| bias_tanh_row_with(build, row, &bias));
            for (i, &x) in xs.iter().enumerate() {
                assert_eq!(e[i].to_bits(), exp_f32(x).to_bits(), "{build:?} exp({x})");
                assert_eq!(l[i].to_bits(), ln_f32(x).to_bits(), "{build:?} ln({x})");
                let b = bias[i % bias.len()];
                assert_eq!(t[i].to_bits(), tanh_f32(x + b).to_bits(), "{build:?} tanh({x} + {b})");
            }
        }
    }

    #[test]
    fn every_build_of_the_f64_slices_gives_the_scalar_functions_bits() {
        let xs = sample_f64();
        for build in Build::available() {
            let mut e = xs.clone();
            exp_in_place_f64_with(build, &mut e);
            let mut l = xs.clone();
            ln_in_place_f64_with(build, &mut l);
            for (i, &x) in xs.iter().enumerate() {
                assert_eq!(e[i].to_bits(), exp_f64(x).to_bits(), "{build:?} exp({x})");
                assert_eq!(l[i].to_bits(), ln_f64(x).to_bits(), "{build:?} ln({x})");
            }
        }
    }

    #[test]
    fn f64_tanh_rows_in_every_build_equal_the_value_by_value_function_bit_for_bit() {
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
            // The blocks as compiled for this test, then every build the CPU runs, on two rows.
            let mut row = xs.clone();
            bias_tanh_row_steps_f64(&mut row, &bias);
            for i in 0..len {
                let what = format!("length {len}, element {i}: {} + {}", xs[i], bias[i]);
                assert_eq!(row[i].to_bits(), tanh_f64(xs[i] + bias[i]).to_bits(), "{what}");
            }
            for build in Build::available() {
                let mut rows = [xs.clone(), xs.clone()].concat();
                rows.chunks_mut(len).for_each(|r| bias_tanh_row_f64_with(build, r, &bias));
                for i in 0..len {
                    let want = tanh_f64(xs[i] + bias[i]).to_bits();
                    let what = format!("{build:?}, length {len}, element {i}: {} + {}", xs[i], bias[i]);
                    assert_eq!((rows[i].to_bits(), rows[len + i].to_bits()), (want, want), "{what}");
                }
            }
        }
    }
}
