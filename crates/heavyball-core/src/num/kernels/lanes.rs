//! The accumulator types of the kernel's tiles: a trait over one SIMD vector (AVX-512 or
//! AVX2, f32 or f64) or a single scalar, so that one generic tile loop serves every build.

/// A vector of `WIDTH` lanes of `Elem`, or a single `Elem` (the scalar build and the tails): the
/// accumulators of a tile, as [`super::Epilogue::finish_tile`] sees them.
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
    vector_lanes!(
        __m128,
        f32,
        4,
        _mm_setzero_ps,
        _mm_set1_ps,
        _mm_loadu_ps,
        _mm_storeu_ps,
        _mm_fmadd_ps,
        _mm_add_ps,
        _mm_sub_ps,
        _mm_mul_ps
    );
    vector_lanes!(
        __m128d,
        f64,
        2,
        _mm_setzero_pd,
        _mm_set1_pd,
        _mm_loadu_pd,
        _mm_storeu_pd,
        _mm_fmadd_pd,
        _mm_add_pd,
        _mm_sub_pd,
        _mm_mul_pd
    );
}
