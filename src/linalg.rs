//! The one matrix product every evaluation is made of, C = A·B, on strided ndarray views.
//!
//! Two pure-Rust backends, both picking AVX2/FMA kernels at run time, are chosen by shape from
//! measurements (`cargo bench --bench gradient -- matmul/`, one 1024-row chunk of bench-A at
//! M = 128, f32, one core, GFLOP/s):
//!
//! | product | shape (m·k·n) | `gemm` crate | matrixmultiply |
//! |---|---|---|---|
//! | S = X·Wᵀ | 1024·64·128 | 56 | 65 |
//! | F = H·Vᵀ | 1024·128·10 | 31 | 26 |
//! | dV = Gᵀ·H | 10·1024·128 | 54 | 27 |
//! | G·V | 1024·10·128 | 59 | 47 |
//! | dW = Dᵀ·X | 128·1024·64 | 53 | 57 |
//!
//! matrixmultiply (ndarray's own) wins on the large square-ish products, the `gemm` crate on the
//! thin ones that involve K: products with a dimension of at most [`THIN`] go to `gemm`. Both
//! run single-threaded here; parallelism comes from rayon, over runs and chunks. For a fixed
//! CPU and shape the kernel and the order of its sums are fixed, so results do not depend on
//! the thread count.

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
