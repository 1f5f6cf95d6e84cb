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
//! straight from memory, so there is no packing cost at all; column blocks go outermost so that
//! the block of B in use stays in the L1 cache while every row block of A passes over it.

/// A vector of `WIDTH` lanes of `Elem`, or a single `Elem` (the scalar build and the tails): the
/// accumulators of a tile, as [`Epilogue::finish_tile`] sees them.
///
/// Every method is `unsafe`: the CPU must support the instructions of the vector type, which
/// holds inside the kernel's builds.
pub trait Lanes: Copy {
    /// The element type.
    type Elem: Copy + Default;
    /// Number of lanes.
    const WIDTH: usize;
    /// All lanes zero.
    ///
    /// # Safety
    /// The CPU supports the vector type's instructions.
    unsafe fn zero() -> Self;
    /// Every lane set to `*p`.
    ///
    /// # Safety
    /// The CPU supports the vector type's instructions, and `p` is valid for reads.
    unsafe fn splat(p: *const Self::Elem) -> Self;
    /// `WIDTH` elements from `p` (no alignment needed).
    ///
    /// # Safety
    /// The CPU supports the vector type's instructions, and `p` points at `WIDTH`
    /// readable elements.
    unsafe fn load(p: *const Self::Elem) -> Self;
    /// Writes the lanes to `p` (no alignment needed).
    ///
    /// # Safety
    /// The CPU supports the vector type's instructions, and `p` points at `WIDTH`
    /// writable elements.
    unsafe fn store(self, p: *mut Self::Elem);
    /// self + a·b, rounded once.
    ///
    /// # Safety
    /// The CPU supports the vector type's instructions.
    unsafe fn fma(self, a: Self, b: Self) -> Self;
    /// self + b, lane by lane.
    ///
    /// # Safety
    /// The CPU supports the vector type's instructions.
    unsafe fn add(self, b: Self) -> Self;
    /// self − b, lane by lane.
    ///
    /// # Safety
    /// The CPU supports the vector type's instructions.
    unsafe fn sub(self, b: Self) -> Self;
    /// self · b, lane by lane.
    ///
    /// # Safety
    /// The CPU supports the vector type's instructions.
    unsafe fn mul(self, b: Self) -> Self;

    /// Lane i from `p + i·stride`.
    ///
    /// # Safety
    /// The CPU supports the vector type's instructions, and each `p + i·stride` (i < `WIDTH`) is
    /// valid for reads.
    #[inline(always)]
    unsafe fn load_strided(p: *const Self::Elem, stride: usize) -> Self {
        let mut lanes = [Self::Elem::default(); 16];
        for (i, lane) in lanes.iter_mut().take(Self::WIDTH).enumerate() {
            // SAFETY: the caller's guarantee.
            *lane = unsafe { *p.add(i * stride) };
        }
        // SAFETY: WIDTH ≤ 16 elements are read.
        unsafe { Self::load(lanes.as_ptr()) }
    }

    /// Writes lane i to `p + i·stride`.
    ///
    /// # Safety
    /// The CPU supports the vector type's instructions, and each `p + i·stride` (i < `WIDTH`) is
    /// valid for writes.
    #[inline(always)]
    unsafe fn store_strided(self, p: *mut Self::Elem, stride: usize) {
        let mut lanes = [Self::Elem::default(); 16];
        // SAFETY: WIDTH ≤ 16 elements are written.
        unsafe { self.store(lanes.as_mut_ptr()) };
        for (i, &lane) in lanes.iter().take(Self::WIDTH).enumerate() {
            // SAFETY: the caller's guarantee.
            unsafe { *p.add(i * stride) = lane };
        }
    }
}

macro_rules! scalar_lanes {
    ($t:ty) => {
        impl Lanes for $t {
            type Elem = $t;
            const WIDTH: usize = 1;
            #[inline(always)]
            unsafe fn zero() -> Self {
                0.0
            }
            #[inline(always)]
            unsafe fn splat(p: *const $t) -> Self {
                unsafe { *p }
            }
            #[inline(always)]
            unsafe fn load(p: *const $t) -> Self {
                unsafe { *p }
            }
            #[inline(always)]
            unsafe fn store(self, p: *mut $t) {
                unsafe { *p = self }
            }
            #[inline(always)]
            unsafe fn fma(self, a: Self, b: Self) -> Self {
                a.mul_add(b, self)
            }
            #[inline(always)]
            unsafe fn add(self, b: Self) -> Self {
                self + b
            }
            #[inline(always)]
            unsafe fn sub(self, b: Self) -> Self {
                self - b
            }
            #[inline(always)]
            unsafe fn mul(self, b: Self) -> Self {
                self * b
            }
        }
    };
}
scalar_lanes!(f32);
scalar_lanes!(f64);

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::Lanes;

    macro_rules! vector_lanes {
        (
            $v:ty,
            $t:ty,
            $width:expr,
            $zero:ident,
            $set1:ident,
            $load:ident,
            $store:ident,
            $fma:ident,
            $add:ident,
            $sub:ident,
            $mul:ident
        ) => {
            impl Lanes for $v {
                type Elem = $t;
                const WIDTH: usize = $width;
                #[inline(always)]
                unsafe fn zero() -> Self {
                    unsafe { $zero() }
                }
                #[inline(always)]
                unsafe fn splat(p: *const $t) -> Self {
                    unsafe { $set1(*p) }
                }
                #[inline(always)]
                unsafe fn load(p: *const $t) -> Self {
                    unsafe { $load(p) }
                }
                #[inline(always)]
                unsafe fn store(self, p: *mut $t) {
                    unsafe { $store(p, self) }
                }
                #[inline(always)]
                unsafe fn fma(self, a: Self, b: Self) -> Self {
                    unsafe { $fma(a, b, self) }
                }
                #[inline(always)]
                unsafe fn add(self, b: Self) -> Self {
                    unsafe { $add(self, b) }
                }
                #[inline(always)]
                unsafe fn sub(self, b: Self) -> Self {
                    unsafe { $sub(self, b) }
                }
                #[inline(always)]
                unsafe fn mul(self, b: Self) -> Self {
                    unsafe { $mul(self, b) }
                }
            }
        };
    }
    vector_lanes!(
        __m512,
        f32,
        16,
        _mm512_setzero_ps,
        _mm512_set1_ps,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        _mm512_fmadd_ps,
        _mm512_add_ps,
        _mm512_sub_ps,
        _mm512_mul_ps
    );
    vector_lanes!(
        __m512d,
        f64,
        8,
        _mm512_setzero_pd,
        _mm512_set1_pd,
        _mm512_loadu_pd,
        _mm512_storeu_pd,
        _mm512_fmadd_pd,
        _mm512_add_pd,
        _mm512_sub_pd,
        _mm512_mul_pd
    );
    vector_lanes!(
        __m256,
        f32,
        8,
        _mm256_setzero_ps,
        _mm256_set1_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_fmadd_ps,
        _mm256_add_ps,
        _mm256_sub_ps,
        _mm256_mul_ps
    );
    vector_lanes!(
        __m256d,
        f64,
        4,
        _mm256_setzero_pd,
        _mm256_set1_pd,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_fmadd_pd,
        _mm256_add_pd,
        _mm256_sub_pd,
        _mm256_mul_pd
    );
}

/// The operands of one product C (m×n) = A (m×k) · B (k×n), as raw pointers and strides in
/// elements: A's entry (r, l) is at `a + r·a_rs + l·a_cs`, B's (l, j) at `b + l·ldb + j`, C's
/// (r, j) at `c + r·ldc + j·c_cs`. With `c_cs` > 1 the tiles are written lane by lane: that
/// is how F is stored class-major straight from the kernel. With `resume`, every chain starts
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

/// The inner indices `l0..l0 + kc` of one column panel: `b` points at B's entry (l0, j), or at
/// a copy of that block, with rows `ldb` apart.
#[derive(Clone, Copy)]
struct Slab<T> {
    l0: usize,
    kc: usize,
    b: *const T,
    ldb: usize,
}

/// One MR×(NV·WIDTH) tile of C at row `r`, column `j`, over the slab `s`:
/// the chains start from 0 when the slab starts at l = 0 (unless the product resumes) and
/// otherwise continue from the values in C.
///
/// # Safety
/// The tile and the entries of A and B it reads must lie inside the operands' buffers, and the
/// CPU must support the instructions `V` uses.
#[inline(always)]
unsafe fn tile<V: Lanes, E: Epilogue<V::Elem>, const MR: usize, const NV: usize, const STRIDED: bool>(
    o: &Operands<V::Elem>,
    e: &mut E,
    r: usize,
    j: usize,
    s: &Slab<V::Elem>,
) {
    let Slab { l0, kc, b, ldb } = *s;
    // SAFETY (whole block): the caller guarantees every offset below is in bounds.
    unsafe {
        let c = o.c.add(r * o.ldc + j * o.c_cs);
        let at = |i: usize, v: usize| c.add(i * o.ldc + v * V::WIDTH * o.c_cs);
        let mut acc = [[V::zero(); NV]; MR];
        if l0 > 0 || o.resume {
            for (i, row) in acc.iter_mut().enumerate() {
                for (v, slot) in row.iter_mut().enumerate() {
                    *slot = if STRIDED { V::load_strided(at(i, v), o.c_cs) } else { V::load(at(i, v)) };
                }
            }
        }
        let mut a = o.a.add(r * o.a_rs + l0 * o.a_cs);
        let mut b = b;
        for _ in 0..kc {
            let mut bv = [V::zero(); NV];
            for (v, slot) in bv.iter_mut().enumerate() {
                *slot = V::load(b.add(v * V::WIDTH));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let x = V::splat(a.add(i * o.a_rs));
                for (slot, &bvv) in row.iter_mut().zip(&bv) {
                    *slot = slot.fma(x, bvv);
                }
            }
            a = a.add(o.a_cs);
            b = b.add(ldb);
        }
        let last = l0 + kc == o.k;
        if E::TILES && last {
            e.finish_tile::<V, MR, NV>(r, j, &mut acc);
        }
        for (i, row) in acc.iter().enumerate() {
            for (v, &val) in row.iter().enumerate() {
                if STRIDED {
                    val.store_strided(at(i, v), o.c_cs);
                } else {
                    val.store(at(i, v));
                }
            }
        }
        if !STRIDED && !E::TILES && last {
            for i in 0..MR {
                e.finish(r + i, j, std::slice::from_raw_parts_mut(at(i, 0), NV * V::WIDTH));
            }
        }
    }
}

/// Every row of C for the columns `j..j + NV·WIDTH`, over the slab's inner indices: row blocks
/// of MR, then one block of the remaining rows.
#[inline(always)]
unsafe fn column_block<
    V: Lanes,
    E: Epilogue<V::Elem>,
    const MR: usize,
    const NV: usize,
    const STRIDED: bool,
>(
    o: &Operands<V::Elem>,
    e: &mut E,
    j: usize,
    s: &Slab<V::Elem>,
) {
    let mut r = 0;
    // SAFETY: rows r..r + MR (or the rest) lie below m, and the caller checked the columns.
    unsafe {
        while r + MR <= o.m {
            tile::<V, E, MR, NV, STRIDED>(o, e, r, j, s);
            r += MR;
        }
        macro_rules! rest {
            ($($rows:literal)*) => {
                match o.m - r {
                    $($rows if $rows < MR => tile::<V, E, $rows, NV, STRIDED>(o, e, r, j, s),)*
                    _ => {}
                }
            };
        }
        rest!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);
    }
}

/// Every row of C for the columns `j..j + NV·WIDTH`, the inner dimension in blocks whose slice
/// of B (at most `KB` bytes) stays in the L1 cache while all row blocks pass over it. When
/// several row blocks will read it, the slice is first copied to a contiguous buffer: B's own
/// rows may lie a multiple of 4 KiB apart, and then they share a few L1 sets and evict each
/// other (f64 products at M = 128 ran 25% slower so).
#[inline(always)]
unsafe fn column_panel<
    V: Lanes,
    E: Epilogue<V::Elem>,
    const MR: usize,
    const NV: usize,
    const STRIDED: bool,
>(
    o: &Operands<V::Elem>,
    e: &mut E,
    j: usize,
) {
    const KB: usize = 16 * 1024;
    #[repr(C, align(64))]
    struct Block([u8; KB]);
    let width = NV * V::WIDTH;
    let kc = (KB / (width * size_of::<V::Elem>())).max(1);
    let pack = V::WIDTH > 1 && o.m >= 2 * MR;
    let mut block = std::mem::MaybeUninit::<Block>::uninit();
    let packed = block.as_mut_ptr().cast::<V::Elem>();
    let mut l0 = 0;
    while l0 < o.k {
        let len = kc.min(o.k - l0);
        // SAFETY: the caller's guarantee, with l0 + len ≤ k; the copy fills len·width ≤ KB
        // bytes of the buffer before anything reads them.
        unsafe {
            let b = o.b.add(l0 * o.ldb + j);
            if pack {
                for l in 0..len {
                    std::ptr::copy_nonoverlapping(b.add(l * o.ldb), packed.add(l * width), width);
                }
                column_block::<V, E, MR, NV, STRIDED>(o, e, j, &Slab { l0, kc: len, b: packed, ldb: width });
            } else {
                column_block::<V, E, MR, NV, STRIDED>(o, e, j, &Slab { l0, kc: len, b, ldb: o.ldb });
            }
        }
        l0 += len;
    }
}

/// The whole product: column panels of `NA` vectors with tiles of `MA` rows, then panels of
/// `NB` vectors with `MB` rows, then single vectors with `MC` rows, then single columns with
/// the scalar type `S` (which rounds exactly as `V` does). Each tile holds MA·NA, MB·NB or MC
/// accumulators: enough independent chains to keep the FMA units busy, few enough to stay in
/// registers.
///
/// # Safety
/// The operands must describe valid buffers and the CPU must support `V`'s instructions.
#[inline(always)]
unsafe fn product<
    V: Lanes,
    S: Lanes<Elem = V::Elem>,
    E: Epilogue<V::Elem>,
    const MA: usize,
    const NA: usize,
    const MB: usize,
    const NB: usize,
    const MC: usize,
    const STRIDED: bool,
>(
    o: &Operands<V::Elem>,
    e: &mut E,
) {
    let w = V::WIDTH;
    let mut j = 0;
    // SAFETY: each panel's columns lie below n; the rest is the caller's guarantee.
    unsafe {
        while j + NA * w <= o.n {
            column_panel::<V, E, MA, NA, STRIDED>(o, e, j);
            j += NA * w;
        }
        while j + NB * w <= o.n {
            column_panel::<V, E, MB, NB, STRIDED>(o, e, j);
            j += NB * w;
        }
        while j + w <= o.n {
            column_panel::<V, E, MC, 1, STRIDED>(o, e, j);
            j += w;
        }
        while j < o.n {
            column_panel::<S, E, MC, 1, STRIDED>(o, e, j);
            j += 1;
        }
    }
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
    unsafe fn product<E: Epilogue<Self>>(o: &Operands<Self>, e: &mut E);
}

macro_rules! kernel_impl {
    ($t:ty, $builds:ident, $v512:ty, $v256:ty) => {
        /// The kernel's builds for one element type; [`Kernel::product`] picks one for the CPU.
        mod $builds {
            use super::*;

            /// AVX-512 has 32 vector registers: tiles of 6×4, 12×2 and 16×1 vectors use 24, 24
            /// and 16 as accumulators.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,fma")]
            pub(super) unsafe fn avx512<E: Epilogue<$t>>(o: &Operands<$t>, e: &mut E) {
                if o.c_cs == 1 {
                    unsafe { product::<$v512, $t, E, 6, 4, 12, 2, 16, false>(o, e) }
                } else {
                    unsafe { product::<$v512, $t, E, 6, 4, 12, 2, 16, true>(o, e) }
                }
            }

            /// AVX2 has 16: 4×3, 6×2 and 12×1 use 12.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            pub(super) unsafe fn avx2<E: Epilogue<$t>>(o: &Operands<$t>, e: &mut E) {
                if o.c_cs == 1 {
                    unsafe { product::<$v256, $t, E, 4, 3, 6, 2, 12, false>(o, e) }
                } else {
                    unsafe { product::<$v256, $t, E, 4, 3, 6, 2, 12, true>(o, e) }
                }
            }

            /// Scalar code for any CPU, rounding as the others do through `mul_add`.
            pub(super) unsafe fn scalar<E: Epilogue<$t>>(o: &Operands<$t>, e: &mut E) {
                if o.c_cs == 1 {
                    unsafe { product::<$t, $t, E, 4, 1, 4, 1, 4, false>(o, e) }
                } else {
                    unsafe { product::<$t, $t, E, 4, 1, 4, 1, 4, true>(o, e) }
                }
            }
        }

        impl Kernel for $t {
            unsafe fn product<E: Epilogue<$t>>(o: &Operands<$t>, e: &mut E) {
                assert!(o.c_cs == 1 || E::NOTHING, "epilogues need contiguous rows of C");
                #[cfg(target_arch = "x86_64")]
                {
                    let fma = std::arch::is_x86_feature_detected!("fma");
                    if fma && std::arch::is_x86_feature_detected!("avx512f") {
                        // SAFETY: the CPU has AVX-512F and FMA; the operands are the caller's.
                        return unsafe { $builds::avx512(o, e) };
                    }
                    if fma && std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: the CPU has AVX2 and FMA; the operands are the caller's.
                        return unsafe { $builds::avx2(o, e) };
                    }
                }
                // SAFETY: scalar code; the operands are the caller's.
                unsafe { $builds::scalar(o, e) }
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{__m256, __m256d, __m512, __m512d};
kernel_impl!(f32, builds_f32, __m512, __m256);
kernel_impl!(f64, builds_f64, __m512d, __m256d);

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

    impl<T: Copy + num_traits::Float + num_traits::FromPrimitive> Problem<T> {
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

        fn run(&self, product: unsafe fn(&Operands<T>)) -> Vec<T> {
            self.run_into(product, false)
        }

        /// C row-major with rows `ldc` long, or (`column_major`) written column by column with
        /// columns `m + 2` long and read back row-major.
        fn run_into(&self, product: unsafe fn(&Operands<T>), column_major: bool) -> Vec<T> {
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
            unsafe { product(&o) };
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

    /// The dispatched kernel without an epilogue.
    unsafe fn plain_product<T: Kernel>(o: &Operands<T>) {
        unsafe { T::product(o, &mut Plain) }
    }

    fn same_bits<T: Copy + num_traits::Float>(got: &[T], want: &[T], what: &str) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(g == w || (g.is_nan() && w.is_nan()), "{what}: element {i} differs");
        }
    }

    /// Every build of the kernel (scalar, AVX2, AVX-512, whichever the CPU runs) gives exactly
    /// the single in-order FMA chain per element, for f32 and f64.
    #[test]
    fn every_build_equals_the_in_order_fma_chain() {
        macro_rules! check {
            ($t:ty, $builds:ident) => {{
                for &(m, n, k) in &SHAPES {
                    for transposed in [false, true] {
                        let problem = Problem::<$t>::new(m, n, k, transposed);
                        let want = problem.chains();
                        let what = format!("{} {m}×{k}·{k}×{n}", stringify!($t));
                        for column_major in [false, true] {
                            let run =
                                |product: unsafe fn(&Operands<$t>)| problem.run_into(product, column_major);
                            same_bits(&run(plain_product::<$t>), &want, &what);
                            // SAFETY (each closure): plain operands from `run_into`.
                            same_bits(&run(|o| unsafe { $builds::scalar(o, &mut Plain) }), &want, &what);
                            #[cfg(target_arch = "x86_64")]
                            {
                                let fma = std::arch::is_x86_feature_detected!("fma");
                                if fma && std::arch::is_x86_feature_detected!("avx2") {
                                    same_bits(
                                        &run(|o| unsafe { $builds::avx2(o, &mut Plain) }),
                                        &want,
                                        &what,
                                    );
                                }
                                if fma && std::arch::is_x86_feature_detected!("avx512f") {
                                    same_bits(
                                        &run(|o| unsafe { $builds::avx512(o, &mut Plain) }),
                                        &want,
                                        &what,
                                    );
                                }
                            }
                        }
                    }
                }
            }};
        }
        check!(f32, builds_f32);
        check!(f64, builds_f64);
    }

    /// The model's backward epilogue, which works on tiles in registers, gives in every build
    /// bitwise what its operations give done row by row after the product: D = C ⊙ (1 − H²)
    /// and db = Σ_rows D in row order (every tile height, panel width and scalar tail).
    #[test]
    fn tile_epilogue_equals_rows_after_the_product_in_every_build() {
        macro_rules! check {
            ($t:ty, $builds:ident) => {{
                for &(m, n, k) in &SHAPES {
                    for transposed in [false, true] {
                        let problem = Problem::<$t>::new(m, n, k, transposed);
                        let ldc = problem.ldc;
                        let h: Vec<$t> = (0..m * n).map(|i| ((i * 37 % 101) as $t) / 60.0 - 0.8).collect();
                        let mut want = problem.chains();
                        let mut want_db = vec![0.0 as $t; n];
                        for r in 0..m {
                            for j in 0..n {
                                let (d, hv) = (&mut want[r * ldc + j], h[r * n + j]);
                                *d *= 1.0 - hv * hv;
                                want_db[j] += *d;
                            }
                        }
                        let what = format!("{} {m}×{k}·{k}×{n}", stringify!($t));
                        let check =
                            |product: unsafe fn(&Operands<$t>, &mut crate::model::TanhBackward<$t>)| {
                                let mut db = vec![0.0 as $t; n];
                                let mut got = vec![<$t>::NAN; m * ldc];
                                let o = Operands {
                                    m,
                                    n,
                                    k,
                                    a: problem.a.as_ptr(),
                                    a_rs: problem.a_rs,
                                    a_cs: problem.a_cs,
                                    b: problem.b.as_ptr(),
                                    ldb: problem.ldb,
                                    c: got.as_mut_ptr(),
                                    ldc,
                                    c_cs: 1,
                                    resume: false,
                                };
                                let mut e = crate::model::TanhBackward { h: &h, m: n, db: &mut db };
                                // SAFETY: the buffers hold every index the strides reach.
                                unsafe { product(&o, &mut e) };
                                same_bits(&got, &want, &what);
                                same_bits(&db, &want_db, &what);
                            };
                        // SAFETY (each closure): the operands built in `check`.
                        check(|o, e| unsafe { <$t as Kernel>::product(o, e) });
                        check(|o, e| unsafe { $builds::scalar(o, e) });
                        #[cfg(target_arch = "x86_64")]
                        {
                            let fma = std::arch::is_x86_feature_detected!("fma");
                            if fma && std::arch::is_x86_feature_detected!("avx2") {
                                check(|o, e| unsafe { $builds::avx2(o, e) });
                            }
                            if fma && std::arch::is_x86_feature_detected!("avx512f") {
                                check(|o, e| unsafe { $builds::avx512(o, e) });
                            }
                        }
                    }
                }
            }};
        }
        check!(f32, builds_f32);
        check!(f64, builds_f64);
    }

    /// The chains themselves compute the product: against an f64 sum, within f32 rounding.
    #[test]
    fn products_agree_with_a_plain_sum() {
        for &(m, n, k) in &SHAPES {
            let problem = Problem::<f32>::new(m, n, k, true);
            let got = problem.run(plain_product::<f32>);
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
