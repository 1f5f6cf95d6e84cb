//! The work the model hands to the product kernel, to run on its output while it is still in
//! the cache or in registers: the hidden layer's bias and tanh after S = X·Wᵀ, and the
//! backward step through tanh after G·V.

use crate::num::Element;
use crate::num::fastmath::simd_kernel;
use crate::num::kernels::{Epilogue, Lanes};

/// H = tanh(S + b), applied to S's rows as the kernel finishes them.
pub(super) struct BiasTanh<'a, T> {
    pub(super) bias: &'a [T],
}

impl<T: Element> Epilogue<T> for BiasTanh<'_, T> {
    #[inline(always)]
    fn finish(&mut self, _r: usize, j: usize, row: &mut [T]) {
        T::bias_tanh(row, &self.bias[j..]);
    }
}

/// D = (G·V) ⊙ (1 − H²) and db = Σ_rows D (in row order, from zero), applied to G·V's tiles
/// while the kernel still holds them in registers; H has rows of `m`. Against a pass over each
/// finished row, that saves storing and reloading D and a load and store of db per row, with
/// bitwise the same D and db.
pub(super) struct TanhBackward<'a, T> {
    pub(super) h: &'a [T],
    pub(super) m: usize,
    pub(super) db: &'a mut [T],
}

impl<T: Element> Epilogue<T> for TanhBackward<'_, T> {
    const TILES: bool = true;

    #[inline(always)]
    fn finish(&mut self, r: usize, j: usize, row: &mut [T]) {
        let h = &self.h[r * self.m + j..][..row.len()];
        for ((d, &h), acc) in row.iter_mut().zip(h).zip(&mut self.db[j..]) {
            *d = *d * (T::one() - h * h);
            *acc = *acc + *d;
        }
    }

    /// As [`TanhBackward::finish`] on the tile's rows in order, with the same operations, while
    /// the tile is in registers: each vector of db is loaded once per tile and takes the tile's
    /// rows one after the other, instead of a load, add and store per row.
    #[inline(always)]
    unsafe fn finish_tile<V: Lanes<Elem = T>, const MR: usize, const NV: usize>(
        &mut self,
        r: usize,
        j: usize,
        tile: &mut [[V; NV]; MR],
    ) {
        let w = V::WIDTH;
        let one = T::one();
        // SAFETY (whole block): the kernel runs this only where `V`'s instructions exist; every
        // load and store is of w elements at v·w < NV·w in a bounds-checked slice of NV·w.
        unsafe {
            let one = V::splat(&one);
            let db = &mut self.db[j..][..NV * w];
            let mut sums = [V::zero(); NV];
            for (v, sum) in sums.iter_mut().enumerate() {
                *sum = V::load(db.as_ptr().add(v * w));
            }
            for (i, row) in tile.iter_mut().enumerate() {
                let h = self.h[(r + i) * self.m + j..][..NV * w].as_ptr();
                for (v, (d, sum)) in row.iter_mut().zip(&mut sums).enumerate() {
                    let h = V::load(h.add(v * w));
                    *d = d.mul(one.sub(h.mul(h)));
                    *sum = sum.add(*d);
                }
            }
            for (v, sum) in sums.iter().enumerate() {
                sum.store(db.as_mut_ptr().add(v * w));
            }
        }
    }
}

simd_kernel!(
    /// d ← d·(1 − h²) along a row: [`TanhBackward`]'s step on a row of Dᵀ and Hᵀ whose
    /// samples run along it (the layout of [`super::lanes`]), with the same operations.
    pub(super) fn tanh_backward_row / tanh_backward_row_with<T: Element>(d: &mut [T], h: &[T]) {
        for (d, &h) in d.iter_mut().zip(h) {
            *d = *d * (T::one() - h * h);
        }
    }
);

simd_kernel!(
    /// h ← tanh(h + b) along a row of Hᵀ (the layout of [`super::lanes`]), for one hidden unit
    /// and its bias: bitwise what [`Element::bias_tanh`] gives with a row of b.
    pub(super) fn tanh_plus_row / tanh_plus_row_with<T: Element>(h: &mut [T], b: T) {
        for h in h.iter_mut() {
            *h = T::tanh_of(*h + b);
        }
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::kernels::{Build, Operands, Plain};

    /// C = A·B for row-major A (m×k) and B (k×n), in `build`, with epilogue `e`.
    fn product<T: Element, E: Epilogue<T>>(
        build: Build,
        a: &[T],
        b: &[T],
        (m, n, k): (usize, usize, usize),
        e: &mut E,
    ) -> Vec<T> {
        let mut c = vec![T::nan(); m * n];
        let o = Operands {
            m,
            n,
            k,
            a: a.as_ptr(),
            a_rs: k,
            a_cs: 1,
            b: b.as_ptr(),
            ldb: n,
            c: c.as_mut_ptr(),
            ldc: n,
            c_cs: 1,
            resume: false,
        };
        assert!(a.len() >= m * k && b.len() >= k * n);
        // SAFETY: the operands describe the buffers above, whose lengths were checked.
        unsafe { T::product_with(build, &o, e) };
        c
    }

    /// D and db from [`TanhBackward`] on tiles in registers, in every build of the kernel, are
    /// bitwise what its row-by-row form gives after a plain product, at shapes that reach every
    /// tile height, panel width and scalar tail.
    fn check<T: Element>() {
        for shape @ (m, n, k) in
            [(1, 1, 1), (3, 5, 2), (37, 19, 7), (64, 64, 64), (13, 33, 300), (25, 71, 10)]
        {
            let value =
                |i: usize, shift: f64| T::from_f64((i * 37 % 101) as f64 / 60.0 - shift).expect("small");
            let a: Vec<T> = (0..m * k).map(|i| value(i, 0.7)).collect();
            let b: Vec<T> = (0..k * n).map(|i| value(i + 5, 0.9)).collect();
            let h: Vec<T> = (0..m * n).map(|i| value(i + 11, 0.8)).collect();
            let mut want = product(Build::Scalar, &a, &b, shape, &mut Plain);
            let mut want_db = vec![T::zero(); n];
            let mut rows = TanhBackward { h: &h, m: n, db: &mut want_db };
            for (r, row) in want.chunks_mut(n).enumerate() {
                rows.finish(r, 0, row);
            }
            let same = |x: &[T], y: &[T]| x.iter().zip(y).all(|(p, q)| p == q || (p.is_nan() && q.is_nan()));
            for build in Build::available() {
                let mut db = vec![T::zero(); n];
                let got = product(build, &a, &b, shape, &mut TanhBackward { h: &h, m: n, db: &mut db });
                assert!(same(&got, &want), "{} D, {m}×{k}·{k}×{n}, {build:?}", T::NAME);
                assert!(same(&db, &want_db), "{} db, {m}×{k}·{k}×{n}, {build:?}", T::NAME);
            }
        }
    }

    #[test]
    fn backward_tiles_equal_the_row_by_row_step_in_every_build() {
        check::<f32>();
        check::<f64>();
    }

    /// The lanes form's step through tanh gives, in every build, exactly what
    /// [`TanhBackward::finish`] gives on the same values.
    #[test]
    fn the_lanes_step_through_tanh_is_the_row_step_in_every_build() {
        let h: Vec<f32> = (0..77).map(|i| (i * 37 % 101) as f32 / 60.0 - 0.8).collect();
        let d: Vec<f32> = (0..77).map(|i| (i * 53 % 89) as f32 / 40.0 - 1.1).collect();
        let mut want = d.clone();
        let mut db = vec![0.0f32; 77];
        TanhBackward { h: &h, m: 77, db: &mut db }.finish(0, 0, &mut want);
        for build in Build::available() {
            let mut got = d.clone();
            tanh_backward_row_with(build, &mut got, &h);
            assert!(got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "{build:?}");
        }
    }

    /// The lanes form's tanh of a row and one bias gives, in every build and precision, the bits
    /// of the row kernels ([`Element::bias_tanh`]) with the bias repeated along the row.
    fn tanh_plus_is_bias_tanh<T: Element>() {
        let s: Vec<T> =
            (0..77).map(|i| T::from_f64((i * 37 % 101) as f64 / 9.0 - 5.6).expect("finite")).collect();
        let b = T::from_f64(0.37).expect("finite");
        let mut want = s.clone();
        T::bias_tanh(&mut want, &[b; 77]);
        for build in Build::available() {
            let mut got = s.clone();
            tanh_plus_row_with(build, &mut got, b);
            assert!(got.iter().zip(&want).all(|(a, w)| a.to_f64() == w.to_f64()), "{build:?} in {}", T::NAME);
        }
    }

    #[test]
    fn the_lanes_tanh_is_the_row_tanh_in_every_build() {
        tanh_plus_is_bias_tanh::<f32>();
        tanh_plus_is_bias_tanh::<f64>();
    }
}
