//! The one matrix product every evaluation is made of, C = A·B, on strided ndarray views.
//!
//! It goes through the pure-Rust `gemm` crate (with its `x86-v4` feature), which picks AVX2/FMA
//! or AVX-512 kernels at run time. Chosen by measurement against ndarray's default,
//! matrixmultiply (AVX2 at most), with `cargo bench --bench gradient -- matmul/`: one 1024-row
//! chunk of bench-A at M = 128, f32, one core, GFLOP/s, on an AVX-512 Xeon:
//!
//! | product | shape (m·k·n) | `gemm` crate | matrixmultiply |
//! |---|---|---|---|
//! | S = X·Wᵀ | 1024·64·128 | 64 | 61 |
//! | F = H·Vᵀ | 1024·128·10 | 49 | 27 |
//! | dV = Gᵀ·H | 10·1024·128 | 107 | 26 |
//! | G·V | 1024·10·128 | 99 | 49 |
//! | dW = Dᵀ·X | 128·1024·64 | 58 | 44 |
//!
//! F is written class-major (as Fᵀ, for the softmax), which costs it about 10% against a
//! row-major F. F is the slowest product because the crate packs H (1024×M, used only K times)
//! first. With H stored hidden-major, F ran at 110 GFLOP/s, but dV = Gᵀ·H fell to 17 and S
//! slowed a little, so H stays row-major.
//!
//! With AVX2 only (before the `x86-v4` feature) the two were level on S and dW (56–65) and the
//! `gemm` crate still won the thin products involving K. It runs single-threaded here:
//! parallelism comes from rayon, over runs and chunks. For a fixed CPU and shape the kernel and
//! the order of its sums are fixed, so results do not depend on the thread count.

use ndarray::{ArrayView2, ArrayViewMut2};

use crate::model::Real;

/// C = A·B, overwriting C.
///
/// **Panics** if the shapes do not chain: A is m×k, B is k×n, C is m×n.
pub fn matmul<T: Real>(a: ArrayView2<T>, b: ArrayView2<T>, c: &mut ArrayViewMut2<T>) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert_eq!(k, k2, "inner dimensions");
    assert_eq!(c.dim(), (m, n), "output shape");
    if m == 0 || n == 0 {
        return;
    }
    let [a_rs, a_cs] = [a.strides()[0], a.strides()[1]];
    let [b_rs, b_cs] = [b.strides()[0], b.strides()[1]];
    let [c_rs, c_cs] = [c.strides()[0], c.strides()[1]];
    // SAFETY: the pointers and strides come from live ndarray views whose dimensions were
    // checked above; C is borrowed mutably, so it aliases neither A nor B. T is f32 or f64,
    // both supported by `gemm`. With read_dst = false, C's old contents are never read.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            c_cs,
            c_rs,
            false,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            T::zero(),
            T::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
