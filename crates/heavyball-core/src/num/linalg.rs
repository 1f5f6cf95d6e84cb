//! The one matrix product every evaluation is made of, C = A·B, on strided ndarray views.
//!
//! It runs heavyball's own kernel ([`super::kernels`]): register tiles of fused multiply-adds
//! that read A and B in place, with AVX-512 or AVX2 chosen at run time. Every output element is
//! a single chain of FMAs in a fixed order, so products are bitwise the same on every CPU, build
//! and thread count. The kernel runs single-threaded: parallelism comes from rayon, over runs
//! and chunks. Why this kernel and not a BLAS or the `gemm` crate: `docs/performance.md`.

use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use super::Element;
use super::kernels::{Epilogue, LANES, LaneOperands, Operands, Plain};

/// C = A·B, overwriting C. B is read in place when its rows are contiguous (unit column
/// stride), otherwise from a row-major copy; C may have any non-negative strides, but writing
/// it is fastest with contiguous rows.
///
/// **Panics** if the shapes do not chain: A is m×k, B is k×n, C is m×n.
pub fn matmul<T: Element>(a: ArrayView2<T>, b: ArrayView2<T>, c: &mut ArrayViewMut2<T>) {
    matmul_then(a, b, c, &mut Plain);
}

/// C = A·B like [`matmul`], with `e` run on each row segment of C as soon as it is final
/// (see [`Epilogue`]).
///
/// **Panics** if the shapes do not chain, or if C's rows are not contiguous and `e` is not
/// [`Plain`].
pub fn matmul_then<T: Element, E: Epilogue<T>>(
    a: ArrayView2<T>,
    b: ArrayView2<T>,
    c: &mut ArrayViewMut2<T>,
    e: &mut E,
) {
    product(a, b, c, e, false);
}

/// Carries on a product over further inner indices: with A = [A₁ A₂] split by columns and B =
/// [B₁; B₂] by rows, `matmul(A₁, B₁, C)` then `matmul_continue(A₂, B₂, C)` leaves in C bitwise
/// what `matmul(A, B, C)` gives, because every element's chain of fused multiply-adds goes on
/// from the value in C. (That is not C + A₂·B₂ rounded: the chain never starts anew.)
///
/// **Panics** if the shapes do not chain.
pub fn matmul_continue<T: Element>(a: ArrayView2<T>, b: ArrayView2<T>, c: &mut ArrayViewMut2<T>) {
    product(a, b, c, &mut Plain, true);
}

fn product<T: Element, E: Epilogue<T>>(
    a: ArrayView2<T>,
    b: ArrayView2<T>,
    c: &mut ArrayViewMut2<T>,
    e: &mut E,
    resume: bool,
) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert_eq!(k, k2, "inner dimensions");
    assert_eq!(c.dim(), (m, n), "output shape");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if resume {
            return;
        }
        c.fill(T::zero());
        for (r, mut row) in c.rows_mut().into_iter().enumerate() {
            if let Some(row) = row.as_slice_mut() {
                e.finish(r, 0, row);
            }
        }
        return;
    }
    let (Some([a_rs, a_cs]), Some([b_rs, b_cs]), Some([c_rs, c_cs])) =
        (strides(a.shape(), a.strides()), strides(b.shape(), b.strides()), strides(c.shape(), c.strides()))
    else {
        // A negative stride somewhere: work on standard-layout copies.
        let (a, b) = (a.as_standard_layout().into_owned(), b.as_standard_layout().into_owned());
        let mut out = if resume { c.to_owned() } else { Array2::zeros((m, n)) };
        product(a.view(), b.view(), &mut out.view_mut(), e, resume);
        c.assign(&out);
        return;
    };
    if b_cs != 1 {
        let packed = b.as_standard_layout().into_owned();
        return product(a, packed.view(), c, e, resume);
    }
    let operands = Operands {
        m,
        n,
        k,
        a: a.as_ptr(),
        a_rs,
        a_cs,
        b: b.as_ptr(),
        ldb: b_rs,
        c: c.as_mut_ptr(),
        ldc: c_rs,
        c_cs,
        resume,
    };
    // SAFETY: the pointers and strides come from live ndarray views whose dimensions were
    // checked above, every stride is non-negative and B's and C's columns are contiguous; C is
    // borrowed mutably, so it aliases neither A nor B.
    unsafe { T::product(&operands, e) }
}

/// Adds the lane products of a batch into `acc`: for every row i of `a` (r×w) and j of `b`
/// (c×w), both with contiguous rows and w a multiple of 16, entry (i, j)'s 16 partial sums
/// `acc[(i·c + j)·16..][..16]` take Σ_blocks a[i, block] ⊙ b[j, block], lane by lane, each
/// lane a chain of fused multiply-adds over the blocks in order (see the kernel's
/// `lane_sums`). The same bits in every build.
///
/// **Panics** if the widths differ or are not a multiple of 16, a row is not contiguous, or
/// `acc` holds fewer than r·c·16 values.
pub fn lane_products<T: Element>(acc: &mut [T], a: ArrayView2<T>, b: ArrayView2<T>) {
    let ((rows, width), (cols, width_b)) = (a.dim(), b.dim());
    assert_eq!(width, width_b, "the batch widths");
    assert_eq!(width % LANES, 0, "whole blocks of {LANES} samples");
    assert!(acc.len() >= rows * cols * LANES, "lanes for every entry");
    if rows == 0 || cols == 0 || width == 0 {
        return;
    }
    let (Some([lda, 1]), Some([ldb, 1])) = (strides(a.shape(), a.strides()), strides(b.shape(), b.strides()))
    else {
        panic!("lane products need rows with contiguous columns");
    };
    let o = LaneOperands {
        rows,
        cols,
        width,
        a: a.as_ptr(),
        lda,
        b: b.as_ptr(),
        ldb,
        acc: acc.as_mut_ptr(),
        acc_rs: cols,
        acc_cs: 1,
    };
    // Tiles of four rows want four rows: a side shorter than that goes across instead.
    let o = if rows < 4 && cols > rows { o.transposed() } else { o };
    // SAFETY: the views' dimensions and strides were checked above and every row read lies in
    // them; `acc` is borrowed mutably, so it aliases neither view, and holds every entry's lanes.
    unsafe { T::lane_products(&o) }
}

/// A matrix view's strides in elements, with 0 for an axis of length 1 (never stepped along)
/// and 1 for the columns of a one-column matrix; `None` if a stride used is negative.
fn strides(shape: &[usize], strides: &[isize]) -> Option<[usize; 2]> {
    let rows = if shape[0] == 1 { 0 } else { usize::try_from(strides[0]).ok()? };
    let cols = if shape[1] == 1 { 1 } else { usize::try_from(strides[1]).ok()? };
    Some([rows, cols])
}
