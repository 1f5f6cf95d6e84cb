//! The memory one evaluation works in: scratch matrices for a chunk of samples
//! ([`Workspace`]), θ's weights laid out for the forward products ([`ForwardWeights`]), and
//! the layout rules that keep those buffers friendly to the caches.

use ndarray::Array2;

use super::Params;
use super::Shape;
use crate::num::Real;

/// Scratch matrices for one chunk of up to `rows` samples; reused across chunks and iterations.
pub struct Workspace<T> {
    /// S, then H = tanh(S): rows×M.
    pub(super) h: Array2<T>,
    /// Fᵀ, then Gᵀ = (softmax(F) − onehot(y))ᵀ: K rows of a chunk's n samples, [`class_stride`]
    /// apart (F has rows for the padded classes after them). Class-major, so that the softmax
    /// runs along contiguous samples.
    pub(super) gt: Vec<T>,
    /// D = (G·V) ⊙ (1 − H²) for one block of [`backward_rows`] rows at a time: rows×M, since
    /// the block is the whole chunk when it fits.
    pub(super) d: Array2<T>,
    /// Per sample Σ_k e^{f_k − max}.
    pub(super) sums: Vec<T>,
    /// Per sample max_k f_k, then f_y − max.
    pub(super) shift: Vec<T>,
    /// Per sample the first class with the largest output (a small integer, as `T`), then
    /// log Σ_k e^{f_k − max}.
    pub(super) best: Vec<T>,
}

/// θ's weight matrices laid out for the forward products: Wᵀ (p×M), so that S = X·Wᵀ reads its
/// right factor by rows, and Vᵀ (M×K) padded with zero columns to whole vectors of classes,
/// likewise for F = H·Vᵀ. An evaluation makes them once and all its chunks read them.
pub struct ForwardWeights<T> {
    pub(super) shape: Shape,
    pub(super) wt: Vec<T>,
    pub(super) vt: Vec<T>,
}

impl<T: Real> ForwardWeights<T> {
    /// Buffers for a network of this shape; [`ForwardWeights::set`] fills them.
    pub fn new(shape: Shape) -> Self {
        ForwardWeights {
            shape,
            wt: vec![T::zero(); shape.n_features * shape.n_hidden],
            vt: vec![T::zero(); shape.n_hidden * padded_classes(shape.n_classes)],
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
        assert_eq!(params.shape(), self.shape, "forward weights of another shape");
        let Shape { n_features: p, n_hidden: m, n_classes: k } = self.shape;
        let views = params.views();
        transpose(views.w.as_slice().expect("contiguous W"), m, p, &mut self.wt, m);
        transpose(views.v.as_slice().expect("contiguous V"), k, m, &mut self.vt, padded_classes(k));
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

/// The class count rounded up to whole 64-byte vectors of f32 (the widest the product kernel
/// uses), so that the narrow product F = H·Vᵀ runs on full vectors.
pub(super) fn padded_classes(k: usize) -> usize {
    k.next_multiple_of(16)
}

/// The row length of Fᵀ and Gᵀ for a chunk of n samples: n rounded up to whole vectors, plus
/// one more vector. The kernel writes F a column at a time, one value per class row; rows 4 KiB
/// apart (n = 1024 in f32) would all fall into one set of the L1 cache and evict each other.
pub(super) fn class_stride(n: usize) -> usize {
    n.next_multiple_of(16) + 16
}

impl<T: Real> Workspace<T> {
    /// Scratch space for chunks of at most `rows` samples of a network of this shape.
    pub fn new(shape: Shape, rows: usize) -> Self {
        Workspace {
            h: Array2::zeros((rows, shape.n_hidden)),
            gt: vec![T::zero(); padded_classes(shape.n_classes) * class_stride(rows)],
            d: Array2::zeros((rows, shape.n_hidden)),
            sums: vec![T::zero(); rows],
            shift: vec![T::zero(); rows],
            best: vec![T::zero(); rows],
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
