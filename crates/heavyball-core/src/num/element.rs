//! The element types of every array, f32 and f64, and the element-wise kernels each one uses:
//! the only place where the two precisions differ in code. (`model::Real` adds the model's
//! entry points on top.)

use std::fmt::{Debug, Display};

use ndarray::{LinalgScalar, ScalarOperand};
use num_traits::{Float, FromPrimitive};

use super::fastmath;
use super::kernels::Kernel;

/// The floating-point element types (`f32` and `f64`): arithmetic, the product kernel, the
/// element-wise functions, and reading and writing as `.npy` arrays.
pub trait Element:
    Float
    + FromPrimitive
    + LinalgScalar
    + ScalarOperand
    + Send
    + Sync
    + Debug
    + Display
    + ndarray_npy::WritableElement
    + ndarray_npy::ReadableElement
    + ndarray_npy::ViewElement
    + Kernel
    + 'static
{
    /// The name used in configs and file metadata: `"f32"` or `"f64"`.
    const NAME: &'static str;

    /// Replaces x_j by tanh(x_j + b_j) along a row (`bias` at least as long), by the
    /// branch-free kernels of [`fastmath`], vectorised and chosen for the CPU at run time.
    fn bias_tanh(row: &mut [Self], bias: &[Self]);

    /// Replaces every element by its exponential.
    fn exp_in_place(xs: &mut [Self]);

    /// Replaces every element by its natural logarithm (libm-free, so the same bits on every
    /// machine).
    fn ln_in_place(xs: &mut [Self]);

    /// tanh(x), value by value: the function [`Element::bias_tanh`] applies, for code that
    /// vectorises its own loops.
    fn tanh_of(x: Self) -> Self;

    /// e^x, value by value (as [`Element::exp_in_place`]).
    fn exp_of(x: Self) -> Self;

    /// ln(x), value by value (as [`Element::ln_in_place`]).
    fn ln_of(x: Self) -> Self;
}

/// f32 uses the vectorised kernels of [`fastmath`] (exp within 2 ulp of the exact values, tanh
/// within 3, ln within half an ulp).
impl Element for f32 {
    const NAME: &'static str = "f32";

    fn bias_tanh(row: &mut [f32], bias: &[f32]) {
        fastmath::bias_tanh_row(row, bias);
    }

    fn exp_in_place(xs: &mut [f32]) {
        fastmath::exp_in_place(xs);
    }

    fn ln_in_place(xs: &mut [f32]) {
        fastmath::ln_in_place(xs);
    }

    #[inline(always)]
    fn tanh_of(x: f32) -> f32 {
        fastmath::tanh_f32(x)
    }

    #[inline(always)]
    fn exp_of(x: f32) -> f32 {
        fastmath::exp_f32(x)
    }

    #[inline(always)]
    fn ln_of(x: f32) -> f32 {
        fastmath::ln_f32(x)
    }
}

/// f64 uses the f64 kernels of [`fastmath`] (within a few ulp of the exact values), so f64
/// sweeps stay within 1e-12 of an independent reference.
impl Element for f64 {
    const NAME: &'static str = "f64";

    fn bias_tanh(row: &mut [f64], bias: &[f64]) {
        fastmath::bias_tanh_row_f64(row, bias);
    }

    fn exp_in_place(xs: &mut [f64]) {
        fastmath::exp_in_place_f64(xs);
    }

    fn ln_in_place(xs: &mut [f64]) {
        fastmath::ln_in_place_f64(xs);
    }

    #[inline(always)]
    fn tanh_of(x: f64) -> f64 {
        fastmath::tanh_f64(x)
    }

    #[inline(always)]
    fn exp_of(x: f64) -> f64 {
        fastmath::exp_f64(x)
    }

    #[inline(always)]
    fn ln_of(x: f64) -> f64 {
        fastmath::ln_f64(x)
    }
}
