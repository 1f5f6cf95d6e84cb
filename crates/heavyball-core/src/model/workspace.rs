//! The memory one evaluation works in: scratch matrices for a chunk of samples
//! ([`Workspace`]), θ's weights laid out for the forward products ([`ForwardWeights`]), and
//! the layout rules that keep those buffers friendly to the caches.

use super::Params;
use super::Shape;
use crate::num::Element;
use crate::num::kernels::Build;

/// Scratch matrices for one chunk of up to `rows` samples, for up to `members` networks of one
/// shape evaluated together (a fused group, see [`super::loss`]); reused across chunks and
/// iterations. With R members at work the hidden layer is one wide block: rows×(R·M), member r
/// in columns r·M..(r+1)·M.
pub struct Workspace<T> {
    /// The most members this workspace holds.
    pub(super) members: usize,
    /// S, then H = tanh(S): rows×(R·M), row-major.
    pub(super) h: Vec<T>,
    /// F = H_r·V_rᵀ of one member, rows×(padded K), row-major: what the product writes before
    /// [`super::loss`] turns it class-major into `gt`.
    pub(super) f: Vec<T>,
    /// Fᵀ, then Gᵀ = (softmax(F) − onehot(y))ᵀ, member after member: member r's K rows of a
    /// chunk's n samples start at row r·K, [`class_stride`] apart. Class-major, so that the
    /// softmax runs along contiguous samples.
    pub(super) gt: Vec<T>,
    /// D = (G·V) ⊙ (1 − H²) for one block of [`backward_rows`] rows at a time: rows×(R·M).
    pub(super) d: Vec<T>,
    /// dW for every member, (R·M)×p, while the product over the blocks of rows builds it
    /// (only for groups: one network's dW goes straight into its gradient).
    pub(super) dw: Vec<T>,
    /// Per sample Σ_k e^{f_k − max}.
    pub(super) sums: Vec<T>,
    /// Per sample max_k f_k, then f_y − max.
    pub(super) shift: Vec<T>,
    /// Per sample the first class with the largest output (a small integer, as `T`), then
    /// log Σ_k e^{f_k − max}.
    pub(super) best: Vec<T>,
    /// The lanes form's batch matrices ([`super::lanes`]), sized on first use.
    pub(super) lanes: super::lanes::LaneScratch<T>,
}

/// The weights of R networks of one shape laid out for the forward products: the Wᵀ of every
/// member side by side (p×(R·M), so that S = X·[W₁; …; W_R]ᵀ reads X once for all of them and
/// its right factor by rows), their biases b one after the other (R·M), and each member's Vᵀ
/// (M×K) padded with zero columns to whole vectors of classes, for F = H·Vᵀ. An evaluation
/// makes them once and all its chunks read them.
pub struct ForwardWeights<T> {
    pub(super) shape: Shape,
    /// R, the members laid out now.
    pub(super) members: usize,
    pub(super) wt: Vec<T>,
    pub(super) bias: Vec<T>,
    pub(super) vt: Vec<T>,
}

impl<T: Element> ForwardWeights<T> {
    /// Buffers for one network of this shape; [`ForwardWeights::set`] fills them.
    pub fn new(shape: Shape) -> Self {
        Self::for_group(shape, 1)
    }

    /// Buffers for up to `capacity` networks of this shape; [`ForwardWeights::set_group`]
    /// fills them.
    pub fn for_group(shape: Shape, capacity: usize) -> Self {
        let Shape { n_features: p, n_hidden: m, n_classes: k } = shape;
        let capacity = capacity.max(1);
        ForwardWeights {
            shape,
            members: 0,
            wt: vec![T::zero(); p * m * capacity],
            bias: vec![T::zero(); m * capacity],
            vt: vec![T::zero(); m * padded_classes::<T>(k) * capacity],
        }
    }

    /// The weights of `params`, made once.
    pub fn of(params: &Params<T>) -> Self {
        let mut weights = Self::new(params.shape());
        weights.set(params);
        weights
    }

    /// Lays out the weights of `params` (of the same shape) in these buffers.
    ///
    /// **Panics** if the shapes differ.
    pub fn set(&mut self, params: &Params<T>) {
        self.set_group(&[params]);
    }

    /// Lays out the weights of the networks `members` (all of this shape, at most the
    /// capacity) side by side.
    ///
    /// **Panics** if a shape differs or there are more members than room.
    pub fn set_group(&mut self, members: &[&Params<T>]) {
        let Shape { n_hidden: m, n_classes: k, .. } = self.shape;
        assert!(members.len() * m <= self.bias.len(), "more members than the weights hold");
        let (rm, kp) = (members.len() * m, padded_classes::<T>(k));
        for (r, params) in members.iter().enumerate() {
            assert_eq!(params.shape(), self.shape, "forward weights of another shape");
            let views = params.views();
            for (j, w_row) in views.w.rows().into_iter().enumerate() {
                for (l, &w) in w_row.iter().enumerate() {
                    self.wt[l * rm + r * m + j] = w;
                }
            }
            self.bias[r * m..][..m].copy_from_slice(views.b.as_slice().expect("contiguous b"));
            let vt = &mut self.vt[r * m * kp..][..m * kp];
            transpose(views.v.as_slice().expect("contiguous V"), k, m, vt, kp);
        }
        self.members = members.len();
    }

    /// Member r's Vᵀ, M×(padded K) row-major.
    pub(super) fn vt(&self, r: usize) -> &[T] {
        let (m, kp) = (self.shape.n_hidden, padded_classes::<T>(self.shape.n_classes));
        &self.vt[r * m * kp..][..m * kp]
    }
}

/// The most bytes of X, H and D rows one block of the backward pass should span: about half
/// a core's L2 cache.
const BACKWARD_BYTES: usize = 1 << 20;

/// Rows per block of the backward pass over a chunk of n samples: the whole chunk when its
/// rows of X, H and D take at most [`BACKWARD_BYTES`], otherwise halved until they do (down to
/// 128 rows). A block's rows then stay in the L2 cache from one product to the next; chunks
/// that fit are not split, since splitting them only adds overhead. The block size never
/// changes the result (see [`super::loss_grad_chunk`]).
pub(super) fn backward_rows<T>(n: usize, p: usize, m: usize) -> usize {
    let row_bytes = (p + 2 * m) * std::mem::size_of::<T>();
    let mut rows = n.max(1);
    while rows > 128 && rows * row_bytes > BACKWARD_BYTES {
        rows = rows.div_ceil(2);
    }
    rows
}

/// The class count rounded up to whole vectors of the product kernel's build on this CPU, so
/// that the narrow product F = H·Vᵀ runs on full vectors and no more. (The padding columns are
/// chains of their own: it never changes a value.)
pub(super) fn padded_classes<T>(k: usize) -> usize {
    let bytes = match Build::detect() {
        Build::Avx512 => 64,
        Build::Avx2 => 32,
        Build::Scalar => std::mem::size_of::<T>(),
    };
    k.next_multiple_of((bytes / std::mem::size_of::<T>()).max(1))
}

/// The row length of Fᵀ and Gᵀ for a chunk of n samples: n rounded up to whole vectors, plus
/// one more vector. The kernel writes F a column at a time, one value per class row; rows 4 KiB
/// apart (n = 1024 in f32) would all fall into one set of the L1 cache and evict each other.
pub(super) fn class_stride(n: usize) -> usize {
    n.next_multiple_of(16) + 16
}

impl<T: Element> Workspace<T> {
    /// Scratch space for chunks of at most `rows` samples of a network of this shape.
    pub fn new(shape: Shape, rows: usize) -> Self {
        Self::for_group(shape, rows, 1)
    }

    /// Scratch space for chunks of at most `rows` samples of up to `members` networks of this
    /// shape evaluated together.
    pub fn for_group(shape: Shape, rows: usize, members: usize) -> Self {
        let Shape { n_features: p, n_hidden: m, n_classes: k } = shape;
        let members = members.max(1);
        let wide = rows * m * members;
        Workspace {
            members,
            h: vec![T::zero(); wide],
            f: vec![T::zero(); rows * padded_classes::<T>(k)],
            gt: vec![T::zero(); members * k * class_stride(rows)],
            d: vec![T::zero(); wide],
            dw: if members > 1 { vec![T::zero(); members * m * p] } else { Vec::new() },
            sums: vec![T::zero(); rows],
            shift: vec![T::zero(); rows],
            best: vec![T::zero(); rows],
            lanes: Default::default(),
        }
    }
}

/// Writes the transpose of the `rows`×`cols` row-major `src` into `dst`, whose rows are `ld`
/// long: dst[j·ld + i] = src[i·cols + j].
fn transpose<T: Copy>(src: &[T], rows: usize, cols: usize, dst: &mut [T], ld: usize) {
    assert!(src.len() >= rows * cols, "transpose shapes");
    for (j, out) in dst.chunks_mut(ld).take(cols).enumerate() {
        for (d, row) in out[..rows].iter_mut().zip(src.chunks_exact(cols)) {
            *d = row[j];
        }
    }
}
