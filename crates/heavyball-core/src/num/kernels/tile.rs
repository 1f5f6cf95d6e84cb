//! The tiled loop nest of one product: tiles of C held in registers, column panels whose
//! block of B stays in the L1 cache, and the remainder tiles and columns.

use super::{Epilogue, Lanes, Operands};

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
/// of MR, then the remaining rows.
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
        // The rows left over (fewer than MR) in tiles of 8, 4, 2 and 1 rows, in increasing row
        // order: four tile shapes instead of one per remainder, which keeps the kernel quick to
        // compile. Every element is still one chain, so the split never changes a value.
        macro_rules! rest {
            ($($rows:literal)*) => {
                $(
                    if $rows < MR && (o.m - r) & $rows != 0 {
                        tile::<V, E, $rows, NV, STRIDED>(o, e, r, j, s);
                        r += $rows;
                    }
                )*
            };
        }
        rest!(8 4 2 1);
    }
}

/// Every row of C for the columns `j..j + NV·WIDTH`, the inner dimension in blocks whose slice
/// of B (at most `KB` bytes) stays in the L1 cache while all row blocks pass over it. When
/// several row blocks will read it, the slice is first copied to a contiguous buffer: B's own
/// rows may lie a multiple of 4 KiB apart, and then they share a few L1 sets and evict each
/// other.
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
/// `NB` vectors with `MB` rows, then single vectors with `MC` rows, then the remaining columns
/// with the narrower vectors `H` and `Q` (half and quarter width, so that a narrow product such
/// as a network with 4 hidden units still runs on vectors), and last single columns with the
/// scalar type `S`. All of them round exactly as `V` does. Each tile holds MA·NA, MB·NB or MC
/// accumulators: enough independent chains to keep the FMA units busy, few enough to stay in
/// registers.
///
/// # Safety
/// The operands must describe valid buffers and the CPU must support `V`'s, `H`'s and `Q`'s
/// instructions.
#[inline(always)]
pub(super) unsafe fn product<
    V: Lanes,
    H: Lanes<Elem = V::Elem>,
    Q: Lanes<Elem = V::Elem>,
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
        while H::WIDTH > 1 && j + H::WIDTH <= o.n {
            column_panel::<H, E, MC, 1, STRIDED>(o, e, j);
            j += H::WIDTH;
        }
        while Q::WIDTH > 1 && j + Q::WIDTH <= o.n {
            column_panel::<Q, E, MC, 1, STRIDED>(o, e, j);
            j += Q::WIDTH;
        }
        while j < o.n {
            column_panel::<S, E, MC, 1, STRIDED>(o, e, j);
            j += 1;
        }
    }
}
