//! The second kernel: sums over samples kept in 16 lanes. With the samples of a batch along the
//! rows of A (r×w) and B (c×w), it adds Σ_blocks A[i, block] ⊙ B[j, block] into the 16 partial
//! sums of every entry (i, j): lane l of entry (i, j) takes the products of samples l, l + 16,
//! l + 32, …, each a fused multiply-add onto the lane's running value, blocks in order.
//!
//! A build holds the 16 lanes in N vectors of its width (one AVX-512 register of f32, two of
//! AVX2, sixteen scalars), and every lane is the same chain, so the sums are the same on every
//! build. Tiles of entries stay in registers over the batch, loaded and stored once: 4×4 of
//! them where 16 lanes are one vector (eight loads for every sixteen fused multiply-adds),
//! fewer where they take several; the tiles run along the longer of A's and B's sides.

use super::Lanes;

/// The partial sums per entry.
pub const LANES: usize = 16;

/// The operands of one batch: A's row i starts at `a + i·lda`, B's row j at `b + j·ldb`, each
/// `width` (a multiple of [`LANES`]) long; entry (i, j)'s lanes are at
/// `acc + (i·acc_rs + j·acc_cs)·16`.
#[derive(Clone, Copy)]
pub struct LaneOperands<T> {
    pub rows: usize,
    pub cols: usize,
    pub width: usize,
    pub a: *const T,
    pub lda: usize,
    pub b: *const T,
    pub ldb: usize,
    pub acc: *mut T,
    pub acc_rs: usize,
    pub acc_cs: usize,
}

impl<T> LaneOperands<T> {
    /// The same sums with A and B swapped: the kernel's tiles run along the longer side.
    pub fn transposed(self) -> Self {
        LaneOperands {
            rows: self.cols,
            cols: self.rows,
            a: self.b,
            lda: self.ldb,
            b: self.a,
            ldb: self.lda,
            acc_rs: self.acc_cs,
            acc_cs: self.acc_rs,
            ..self
        }
    }
}

/// Every entry's lanes, in tiles of TR rows (then single rows) by TC columns (then single
/// columns): TR·TC·N accumulators, TR·N + TC·N vectors loaded per block.
///
/// # Safety
/// The operands describe valid buffers, `acc` overlaps neither A nor B, and the CPU runs `V`.
#[inline(always)]
pub(super) unsafe fn lane_products<V: Lanes, const N: usize, const TR: usize, const TC: usize>(
    o: &LaneOperands<V::Elem>,
) {
    debug_assert_eq!(N * V::WIDTH, LANES);
    let mut r = 0;
    // SAFETY: every tile lies inside the operands.
    unsafe {
        while r + TR <= o.rows {
            along::<V, N, TR, TC>(o, r);
            r += TR;
        }
        while r < o.rows {
            along::<V, N, 1, TC>(o, r);
            r += 1;
        }
    }
}

#[inline(always)]
unsafe fn along<V: Lanes, const N: usize, const TR: usize, const TC: usize>(
    o: &LaneOperands<V::Elem>,
    r: usize,
) {
    let mut c = 0;
    // SAFETY: as for `lane_products`.
    unsafe {
        while c + TC <= o.cols {
            tile::<V, N, TR, TC>(o, r, c);
            c += TC;
        }
        if TC > 2 && c + 2 <= o.cols {
            tile::<V, N, TR, 2>(o, r, c);
            c += 2;
        }
        while c < o.cols {
            tile::<V, N, TR, 1>(o, r, c);
            c += 1;
        }
    }
}

#[inline(always)]
unsafe fn tile<V: Lanes, const N: usize, const TR: usize, const TC: usize>(
    o: &LaneOperands<V::Elem>,
    r: usize,
    c: usize,
) {
    let w = V::WIDTH;
    // SAFETY (whole block): rows r..r + TR of A, c..c + TC of B and their entries' lanes lie
    // inside the operands; every offset below stays within a row's `width` or an entry's lanes.
    unsafe {
        let at = |i: usize, j: usize, k: usize| {
            o.acc.add(((r + i) * o.acc_rs + (c + j) * o.acc_cs) * LANES + k * w)
        };
        let mut t = [[[V::zero(); N]; TC]; TR];
        for (i, row) in t.iter_mut().enumerate() {
            for (j, lanes) in row.iter_mut().enumerate() {
                for (k, v) in lanes.iter_mut().enumerate() {
                    *v = V::load(at(i, j, k));
                }
            }
        }
        let mut block = 0;
        while block < o.width {
            let mut a = [[V::zero(); N]; TR];
            for (i, lanes) in a.iter_mut().enumerate() {
                for (k, v) in lanes.iter_mut().enumerate() {
                    *v = V::load(o.a.add((r + i) * o.lda + block + k * w));
                }
            }
            let mut b = [[V::zero(); N]; TC];
            for (j, lanes) in b.iter_mut().enumerate() {
                for (k, v) in lanes.iter_mut().enumerate() {
                    *v = V::load(o.b.add((c + j) * o.ldb + block + k * w));
                }
            }
            for (row, a) in t.iter_mut().zip(&a) {
                for (lanes, b) in row.iter_mut().zip(&b) {
                    for ((v, &x), &y) in lanes.iter_mut().zip(a).zip(b) {
                        *v = v.fma(x, y);
                    }
                }
            }
            block += LANES;
        }
        for (i, row) in t.iter().enumerate() {
            for (j, lanes) in row.iter().enumerate() {
                for (k, v) in lanes.iter().enumerate() {
                    v.store(at(i, j, k));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::kernels::tests::same_bits;
    use crate::num::kernels::{Build, Kernel};

    /// The lane products in every build the CPU runs give exactly the per-lane chains of
    /// fused multiply-adds over the blocks, in both orientations of the tiles, at shapes that
    /// reach every tile and remainder.
    fn check_lane_products<T: Kernel + num_traits::Float + num_traits::FromPrimitive>(name: &str) {
        for (rows, cols, width) in
            [(1, 1, 16), (3, 5, 32), (4, 4, 128), (7, 2, 48), (16, 12, 512), (2, 13, 64)]
        {
            let mut state = 0.41f64;
            let mut next = || {
                state = (state * 3.7 + 0.13).fract();
                T::from_f64(state - 0.5).expect("finite")
            };
            let (lda, ldb) = (width + 16, width + 32);
            let a: Vec<T> = (0..rows * lda).map(|_| next()).collect();
            let b: Vec<T> = (0..cols * ldb).map(|_| next()).collect();
            let start: Vec<T> = (0..rows * cols * LANES).map(|_| next()).collect();
            let mut want = start.clone();
            for i in 0..rows {
                for j in 0..cols {
                    for l in 0..LANES {
                        let acc = &mut want[(i * cols + j) * LANES + l];
                        for block in (0..width).step_by(LANES) {
                            *acc = a[i * lda + block + l].mul_add(b[j * ldb + block + l], *acc);
                        }
                    }
                }
            }
            for build in Build::available() {
                for transposed in [false, true] {
                    let mut acc = start.clone();
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
                    let o = if transposed { o.transposed() } else { o };
                    // SAFETY: the buffers hold every row and lane the operands reach.
                    unsafe { T::lane_products_with(build, &o) };
                    let what =
                        format!("{name} lanes {rows}×{cols}×{width} {build:?} transposed {transposed}");
                    same_bits(&acc, &want, &what);
                }
            }
        }
    }

    #[test]
    fn every_build_of_the_lane_products_gives_the_lane_chains() {
        check_lane_products::<f32>("f32");
        check_lane_products::<f64>("f64");
    }
}
