//! The matrix-product kernel every evaluation is made of: C = A·B, where B and C have
//! contiguous rows and A may have any strides.
//!
//! Each output element is one chain of fused multiply-adds over the inner index in increasing
//! order, c = fma(a_l, b_l, c) from c = 0. Tiles, vector widths and thread counts only decide
//! which elements are computed together, never the order within one, so the result is bitwise
//! the same on every build (AVX-512, AVX2, or the baseline with the C library's correctly
//! rounded `fma`), on every x86-64 CPU and at any thread count.
//!
//! The kernel holds a tile of C in registers: `MR` rows by `NV` vectors. For each inner index l
//! it loads the NV vectors of row l of B and multiplies them by MR broadcast entries of column l
//! of A. A needs no packing (its entries are read one at a time), and B's rows are read
//! straight from memory, or from a copy of the block in use when several row blocks read it
//! (rows a multiple of 4 KiB apart would share L1 sets); column blocks go outermost so that
//! the block of B in use stays in the L1 cache while every row block of A passes over it.

mod build;
mod lane_sums;
mod lanes;
mod tile;

pub use build::Build;
pub use lane_sums::{LANES, LaneOperands};
pub use lanes::Lanes;

/// The operands of one product C (m×n) = A (m×k) · B (k×n), as raw pointers and strides in
/// elements: A's entry (r, l) is at `a + r·a_rs + l·a_cs`, B's (l, j) at `b + l·ldb + j`, C's
/// (r, j) at `c + r·ldc + j·c_cs`. With `c_cs` > 1 the tiles are written lane by lane (C stored
/// column-major), which only epilogue-free products may ask for. With `resume`, every chain starts
/// from C's value instead of 0, so that products over consecutive ranges of the inner index
/// give bitwise what one product over the whole range gives.
#[derive(Clone, Copy)]
pub struct Operands<T> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: *const T,
    pub a_rs: usize,
    pub a_cs: usize,
    pub b: *const T,
    pub ldb: usize,
    pub c: *mut T,
    pub ldc: usize,
    pub c_cs: usize,
    pub resume: bool,
}

/// Work on each finished row segment of C while it is still in the L1 cache, such as a bias
/// and an activation. Within each column panel it sees the segments in increasing row order, so
/// running sums over rows keep the order of a separate pass. Only for C with contiguous rows.
///
/// An epilogue may instead work on whole tiles while they are still in registers
/// ([`Epilogue::TILES`], [`Epilogue::finish_tile`]): that saves storing and reloading C, and
/// lets a running sum over rows stay in registers for a tile's rows.
pub trait Epilogue<T> {
    /// True for [`Plain`], which does nothing (and so also suits C with strided rows).
    const NOTHING: bool = false;

    /// True if the kernel calls [`Epilogue::finish_tile`] on its tiles instead of
    /// [`Epilogue::finish`] on rows (which it still uses for products with no inner index).
    const TILES: bool = false;

    /// Called with `row` = C[r, j..j + row.len()] once its values are final.
    fn finish(&mut self, r: usize, j: usize, row: &mut [T]);

    /// Called (when [`Epilogue::TILES`]) with the final values of C[r..r + MR, j..j + NV·WIDTH]
    /// in registers, `tile[i][v]` holding C[r + i, j + v·WIDTH..]; the kernel stores what this
    /// leaves. It must give bitwise what [`Epilogue::finish`] gives on the same rows in order.
    ///
    /// # Safety
    /// Only the kernel calls it, on a CPU that supports `V`'s instructions.
    #[inline(always)]
    unsafe fn finish_tile<V: Lanes<Elem = T>, const MR: usize, const NV: usize>(
        &mut self,
        r: usize,
        j: usize,
        tile: &mut [[V; NV]; MR],
    ) {
        let _ = (r, j, tile);
        unimplemented!("an epilogue with TILES = true implements finish_tile");
    }
}

/// No epilogue: C = A·B.
pub struct Plain;

impl<T> Epilogue<T> for Plain {
    const NOTHING: bool = true;

    #[inline(always)]
    fn finish(&mut self, _r: usize, _j: usize, _row: &mut [T]) {}
}

/// The element types with a product kernel, chosen for the CPU at run time.
pub trait Kernel: Sized + Copy {
    /// Computes the product described by `o`, overwriting C, and runs `e` on C's rows as they
    /// are finished.
    ///
    /// # Safety
    /// The operands must describe valid, non-overlapping buffers of the stated shapes.
    ///
    /// **Panics** if an epilogue is given for a C whose rows are not contiguous.
    #[inline]
    unsafe fn product<E: Epilogue<Self>>(o: &Operands<Self>, e: &mut E) {
        // SAFETY: the detected build runs on this CPU; the operands are the caller's.
        unsafe { Self::product_with(Build::detect(), o, e) }
    }

    /// [`Kernel::product`] in a given build (tests compare the builds with each other).
    ///
    /// # Safety
    /// As for [`Kernel::product`].
    ///
    /// **Panics** if this CPU cannot run `build`, or as [`Kernel::product`] does.
    unsafe fn product_with<E: Epilogue<Self>>(build: Build, o: &Operands<Self>, e: &mut E);

    /// Adds a batch's lane products into the lanes of `o.acc` (`lane_sums`): bitwise the
    /// same in every build.
    ///
    /// # Safety
    /// The operands must describe valid buffers of the stated shapes, `acc` overlapping
    /// neither A nor B.
    #[inline]
    unsafe fn lane_products(o: &LaneOperands<Self>) {
        // SAFETY: the detected build runs on this CPU; the operands are the caller's.
        unsafe { Self::lane_products_with(Build::detect(), o) }
    }

    /// [`Kernel::lane_products`] in a given build.
    ///
    /// # Safety
    /// As for [`Kernel::lane_products`].
    ///
    /// **Panics** if this CPU cannot run `build`.
    unsafe fn lane_products_with(build: Build, o: &LaneOperands<Self>);
}

macro_rules! kernel_impl {
    ($t:ty, $builds:ident, $v512:ty, $v256:ty, $v128:ty, $n512:literal, $n256:literal, $tile512:literal) => {
        /// The kernel's builds for one element type; [`Kernel::product`] picks one for the CPU.
        /// C with strided rows takes no epilogue ([`Kernel::product_with`] checks that), so it
        /// is built for [`Plain`] alone.
        mod $builds {
            use super::*;
            use crate::num::kernels::tile::product;

            /// AVX-512 has 32 vector registers: tiles of 6×4, 12×2 and 16×1 vectors use 24, 24
            /// and 16 as accumulators.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,fma")]
            pub(super) unsafe fn avx512<E: Epilogue<$t>>(o: &Operands<$t>, e: &mut E) {
                if o.c_cs == 1 {
                    unsafe { product::<$v512, $v256, $v128, $t, E, 6, 4, 12, 2, 16, false>(o, e) }
                } else {
                    unsafe { product::<$v512, $v256, $v128, $t, Plain, 6, 4, 12, 2, 16, true>(o, &mut Plain) }
                }
            }

            /// AVX2 has 16: 4×3, 6×2 and 12×1 use 12.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            pub(super) unsafe fn avx2<E: Epilogue<$t>>(o: &Operands<$t>, e: &mut E) {
                if o.c_cs == 1 {
                    unsafe { product::<$v256, $v128, $v128, $t, E, 4, 3, 6, 2, 12, false>(o, e) }
                } else {
                    unsafe { product::<$v256, $v128, $v128, $t, Plain, 4, 3, 6, 2, 12, true>(o, &mut Plain) }
                }
            }

            /// The lane sums in 512-bit vectors (16 lanes in one of f32, two of f64), tiles of
            /// 4 × `$tile512` entries: at most 16 accumulators of the 32 registers.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,fma")]
            pub(super) unsafe fn lanes512(o: &LaneOperands<$t>) {
                unsafe { lane_sums::lane_products::<$v512, $n512, 4, $tile512>(o) }
            }

            /// The lane sums in 256-bit vectors, tiles of 2×2 entries.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            pub(super) unsafe fn lanes256(o: &LaneOperands<$t>) {
                unsafe { lane_sums::lane_products::<$v256, $n256, 2, 2>(o) }
            }

            /// The lane sums one value at a time, an entry at a time.
            pub(super) unsafe fn lanes_scalar(o: &LaneOperands<$t>) {
                unsafe { lane_sums::lane_products::<$t, 16, 1, 1>(o) }
            }

            /// Scalar code for any CPU, rounding as the others do through `mul_add`.
            pub(super) unsafe fn scalar<E: Epilogue<$t>>(o: &Operands<$t>, e: &mut E) {
                if o.c_cs == 1 {
                    unsafe { product::<$t, $t, $t, $t, E, 4, 1, 4, 1, 4, false>(o, e) }
                } else {
                    unsafe { product::<$t, $t, $t, $t, Plain, 4, 1, 4, 1, 4, true>(o, &mut Plain) }
                }
            }
        }

        impl Kernel for $t {
            unsafe fn product_with<E: Epilogue<$t>>(build: Build, o: &Operands<$t>, e: &mut E) {
                assert!(o.c_cs == 1 || E::NOTHING, "epilogues need contiguous rows of C");
                assert!(build.is_supported(), "this CPU cannot run the {build:?} build");
                match build {
                    // SAFETY (each arm): the CPU runs the build, checked above; the operands are
                    // the caller's.
                    #[cfg(target_arch = "x86_64")]
                    Build::Avx512 => unsafe { $builds::avx512(o, e) },
                    #[cfg(target_arch = "x86_64")]
                    Build::Avx2 => unsafe { $builds::avx2(o, e) },
                    _ => unsafe { $builds::scalar(o, e) },
                }
            }

            unsafe fn lane_products_with(build: Build, o: &LaneOperands<$t>) {
                assert!(build.is_supported(), "this CPU cannot run the {build:?} build");
                match build {
                    // SAFETY (each arm): the CPU runs the build, checked above; the operands are
                    // the caller's.
                    #[cfg(target_arch = "x86_64")]
                    Build::Avx512 => unsafe { $builds::lanes512(o) },
                    #[cfg(target_arch = "x86_64")]
                    Build::Avx2 => unsafe { $builds::lanes256(o) },
                    _ => unsafe { $builds::lanes_scalar(o) },
                }
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{__m128, __m128d, __m256, __m256d, __m512, __m512d};
kernel_impl!(f32, builds_f32, __m512, __m256, __m128, 1, 2, 4);
kernel_impl!(f64, builds_f64, __m512d, __m256d, __m128d, 2, 4, 2);

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic m×k·k×n problem in `T`, with A strided by `(a_rs, a_cs)` inside a larger
    /// buffer and B and C with padded rows.
    struct Problem<T> {
        m: usize,
        n: usize,
        k: usize,
        a: Vec<T>,
        a_rs: usize,
        a_cs: usize,
        b: Vec<T>,
        ldb: usize,
        ldc: usize,
    }

    impl<T: Kernel + num_traits::Float + num_traits::FromPrimitive> Problem<T> {
        fn new(m: usize, n: usize, k: usize, transposed_a: bool) -> Self {
            let mut state = 0.3f64;
            let mut next = || {
                state = (state * 3.7 + 0.11).fract();
                T::from_f64(state - 0.45).expect("finite")
            };
            let (a_rs, a_cs) = if transposed_a { (1, m + 3) } else { (k + 2, 1) };
            let a = (0..(m + 3) * (k + 2)).map(|_| next()).collect();
            let ldb = n + 5;
            let b = (0..k * ldb).map(|_| next()).collect();
            Problem { m, n, k, a, a_rs, a_cs, b, ldb, ldc: n + 1 }
        }

        /// C = A·B in `build` with epilogue `e`: row-major with rows `ldc` long, or
        /// (`column_major`) written column by column with columns `m + 2` long and read back
        /// row-major.
        fn run<E: Epilogue<T>>(&self, build: Build, column_major: bool, e: &mut E) -> Vec<T> {
            let ld = self.m + 2;
            let mut c = vec![T::nan(); if column_major { self.n * ld } else { self.m * self.ldc }];
            let (ldc, c_cs) = if column_major { (1, ld) } else { (self.ldc, 1) };
            let o = Operands {
                m: self.m,
                n: self.n,
                k: self.k,
                a: self.a.as_ptr(),
                a_rs: self.a_rs,
                a_cs: self.a_cs,
                b: self.b.as_ptr(),
                ldb: self.ldb,
                c: c.as_mut_ptr(),
                ldc,
                c_cs,
                resume: false,
            };
            // SAFETY: the buffers hold every index the strides reach.
            unsafe { T::product_with(build, &o, e) };
            if !column_major {
                return c;
            }
            let mut rows = vec![T::nan(); self.m * self.ldc];
            for r in 0..self.m {
                for j in 0..self.n {
                    rows[r * self.ldc + j] = c[j * ld + r];
                }
            }
            rows
        }

        /// Each element as one chain of `mul_add` over l in increasing order.
        fn chains(&self) -> Vec<T> {
            let mut c = vec![T::nan(); self.m * self.ldc];
            for r in 0..self.m {
                for j in 0..self.n {
                    let mut acc = T::zero();
                    for l in 0..self.k {
                        acc = self.a[r * self.a_rs + l * self.a_cs].mul_add(self.b[l * self.ldb + j], acc);
                    }
                    c[r * self.ldc + j] = acc;
                }
            }
            c
        }
    }

    /// Shapes that reach every tile and remainder path: rows below and above each tile height,
    /// columns in every kind of panel plus scalar tails, and inner sizes past the L1 blocking.
    const SHAPES: [(usize, usize, usize); 9] = [
        (1, 1, 1),
        (3, 5, 2),
        (10, 128, 1030),
        (37, 19, 7),
        (64, 64, 64),
        (17, 100, 300),
        (1024, 16, 40),
        (13, 33, 2000),
        (25, 71, 10),
    ];

    /// Bitwise equality of two results (NaN equal to NaN), naming the first element that differs.
    pub(super) fn same_bits<T: Copy + num_traits::Float>(got: &[T], want: &[T], what: &str) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(g == w || (g.is_nan() && w.is_nan()), "{what}: element {i} differs");
        }
    }

    /// Every build of the kernel (scalar, AVX2, AVX-512, whichever the CPU runs) gives exactly
    /// the single in-order FMA chain per element.
    fn check_chains<T: Kernel + num_traits::Float + num_traits::FromPrimitive>(name: &str) {
        for &(m, n, k) in &SHAPES {
            for transposed in [false, true] {
                let problem = Problem::<T>::new(m, n, k, transposed);
                let want = problem.chains();
                for build in Build::available() {
                    for column_major in [false, true] {
                        let what = format!("{name} {m}×{k}·{k}×{n} {build:?}");
                        same_bits(&problem.run(build, column_major, &mut Plain), &want, &what);
                    }
                }
            }
        }
    }

    /// C = A·B with every buffer exactly as large as the strides reach (no padding), so that a
    /// read or write past any edge lands outside its allocation, where AddressSanitizer (the
    /// `.ci/run` step under `-Zsanitizer=address`) sees it. Checked against the FMA chain too.
    fn tight<T: Kernel + num_traits::Float + num_traits::FromPrimitive>(
        m: usize,
        n: usize,
        k: usize,
        transposed: bool,
        column_major: bool,
        build: Build,
    ) {
        let mut state = 0.7f64;
        let mut next = || {
            state = (state * 3.3 + 0.17).fract();
            T::from_f64(state - 0.5).expect("finite")
        };
        let a: Vec<T> = (0..m * k).map(|_| next()).collect();
        let b: Vec<T> = (0..k * n).map(|_| next()).collect();
        let mut c = vec![T::nan(); m * n];
        let (a_rs, a_cs) = if transposed { (1, m) } else { (k, 1) };
        let (ldc, c_cs) = if column_major { (1, m) } else { (n, 1) };
        let o = Operands {
            m,
            n,
            k,
            a: a.as_ptr(),
            a_rs,
            a_cs,
            b: b.as_ptr(),
            ldb: n,
            c: c.as_mut_ptr(),
            ldc,
            c_cs,
            resume: false,
        };
        // SAFETY: each buffer holds exactly the indices its strides reach.
        unsafe { T::product_with(build, &o, &mut Plain) };
        for r in 0..m {
            for j in 0..n {
                let mut acc = T::zero();
                for l in 0..k {
                    acc = a[r * a_rs + l * a_cs].mul_add(b[l * n + j], acc);
                }
                let got = c[r * ldc + j * c_cs];
                assert!(
                    got == acc,
                    "{m}×{k}·{k}×{n} {build:?} transposed {transposed} column-major {column_major}: ({r}, {j})"
                );
            }
        }
    }

    #[test]
    fn tight_buffers_at_every_remainder_are_never_overrun() {
        // Every row remainder of the tallest tile, columns around each panel width and the
        // scalar tail, inner sizes of one, a few, and past a block.
        let columns = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65];
        for build in Build::available() {
            for m in 1..=17 {
                for &n in &columns {
                    for k in [1, 3, 300] {
                        for (transposed, column_major) in [(false, false), (true, false), (false, true)] {
                            tight::<f32>(m, n, k, transposed, column_major, build);
                            tight::<f64>(m, n, k, transposed, column_major, build);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn every_build_equals_the_in_order_fma_chain() {
        assert_eq!(Build::available().last(), Some(&Build::detect()));
        check_chains::<f32>("f32");
        check_chains::<f64>("f64");
    }

    /// A tile epilogue of the model's shape: C ← C ⊙ W for a weight matrix W with rows of `m`,
    /// and running column sums of the result in row order.
    struct WeightAndSum<'a, T> {
        w: &'a [T],
        m: usize,
        sums: Vec<T>,
    }

    impl<T: num_traits::Float> Epilogue<T> for WeightAndSum<'_, T> {
        const TILES: bool = true;

        fn finish(&mut self, r: usize, j: usize, row: &mut [T]) {
            for (i, v) in row.iter_mut().enumerate() {
                *v = *v * self.w[r * self.m + j + i];
                self.sums[j + i] = self.sums[j + i] + *v;
            }
        }

        unsafe fn finish_tile<V: Lanes<Elem = T>, const MR: usize, const NV: usize>(
            &mut self,
            r: usize,
            j: usize,
            tile: &mut [[V; NV]; MR],
        ) {
            let width = V::WIDTH;
            // SAFETY (whole block): the kernel runs this only where V's instructions exist, and
            // every slice below holds NV·width elements.
            unsafe {
                for v in 0..NV {
                    let mut sum = V::load(self.sums[j + v * width..][..width].as_ptr());
                    for (i, row) in tile.iter_mut().enumerate() {
                        let w = V::load(self.w[(r + i) * self.m + j + v * width..][..width].as_ptr());
                        row[v] = row[v].mul(w);
                        sum = sum.add(row[v]);
                    }
                    sum.store(self.sums[j + v * width..][..width].as_mut_ptr());
                }
            }
        }
    }

    /// A tile epilogue sees every tile once, with its true row and column, at every tile height,
    /// panel width and scalar tail, in every build: the result is what its operations give done
    /// row by row after the product.
    fn check_tile_epilogue<T: Kernel + num_traits::Float + num_traits::FromPrimitive>(name: &str) {
        for &(m, n, k) in &SHAPES {
            let problem = Problem::<T>::new(m, n, k, true);
            let w: Vec<T> = (0..m * n)
                .map(|i| T::from_usize(i * 37 % 101).unwrap() / T::from_f64(60.0).unwrap())
                .collect();
            let mut want = problem.chains();
            let mut want_sums = vec![T::zero(); n];
            for r in 0..m {
                for j in 0..n {
                    let d = &mut want[r * problem.ldc + j];
                    *d = *d * w[r * n + j];
                    want_sums[j] = want_sums[j] + *d;
                }
            }
            for build in Build::available() {
                let what = format!("{name} {m}×{k}·{k}×{n} {build:?}");
                let mut e = WeightAndSum { w: &w, m: n, sums: vec![T::zero(); n] };
                same_bits(&problem.run(build, false, &mut e), &want, &what);
                same_bits(&e.sums, &want_sums, &what);
            }
        }
    }

    #[test]
    fn tile_epilogues_equal_rows_after_the_product_in_every_build() {
        check_tile_epilogue::<f32>("f32");
        check_tile_epilogue::<f64>("f64");
    }

    /// The chains themselves compute the product: against an f64 sum, within f32 rounding.
    #[test]
    fn products_agree_with_a_plain_sum() {
        for &(m, n, k) in &SHAPES {
            let problem = Problem::<f32>::new(m, n, k, true);
            let got = problem.run(Build::detect(), false, &mut Plain);
            for r in 0..m {
                for j in 0..n {
                    let exact: f64 = (0..k)
                        .map(|l| {
                            f64::from(problem.a[r + l * problem.a_cs])
                                * f64::from(problem.b[l * problem.ldb + j])
                        })
                        .sum();
                    let bound = 1e-6 * (k as f64) + 1e-6;
                    assert!(
                        (f64::from(got[r * problem.ldc + j]) - exact).abs() < bound,
                        "{m}×{k}·{k}×{n} at ({r}, {j})"
                    );
                }
            }
        }
    }
}
