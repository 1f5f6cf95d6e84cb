//! The network and its mathematics: parameters, forward pass, loss and gradient, side by side.
//!
//! f(x) = c + V·tanh(b + W·x) with W M×p, b ∈ R^M, V K×M, c ∈ R^K, and the per-sample loss
//! L(y, f) = −f_y + log Σ_k exp(f_k), evaluated with a stable log-sum-exp. Over a chunk of n
//! samples (rows of the n×p matrix X) everything is matrix products:
//!
//! ```text
//! S = X·Wᵀ + b      (n×M)      H = tanh(S)
//! F = H·Vᵀ + c      (n×K)      G = softmax(F) − onehot(y)
//! dc = Σ_rows G     dV = Gᵀ·H  (K×M)
//! D = (G·V) ⊙ (1 − H²)         (n×M)
//! db = Σ_rows D     dW = Dᵀ·X  (M×p)
//! ```
//!
//! No other module knows how the four parameter blocks are laid out: they live in one flat
//! buffer ([`Params`]) so that momentum updates and gradient reductions are single loops.

use std::fmt::{Debug, Display};

use ndarray::{
    Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, LinalgScalar, ScalarOperand,
    ShapeBuilder, s,
};
use num_traits::{Float, FromPrimitive};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::fastmath::{self, simd_kernel};
use crate::kernels::{Epilogue, Lanes};
use crate::linalg::{matmul, matmul_continue, matmul_then};

/// The floating-point types a network can be trained in (`f32` and `f64`).
pub trait Real:
    Float
    + FromPrimitive
    + LinalgScalar
    + ScalarOperand
    + Send
    + Sync
    + Debug
    + Display
    + ndarray_npy::WritableElement
    + ndarray_npy::ReadableElement
    + crate::kernels::Kernel
    + 'static
{
    /// The name used in configs and file metadata: `"f32"` or `"f64"`.
    const NAME: &'static str;

    /// Replaces x_j by tanh(x_j + b_j) along a row (`bias` at least as long), by the
    /// branch-free kernels of [`fastmath`], which the compiler vectorises.
    fn bias_tanh(row: &mut [Self], bias: &[Self]);

    /// Replaces every element by its exponential.
    fn exp_in_place(xs: &mut [Self]);

    /// Replaces every element by its natural logarithm (libm-free, so the same bits on every
    /// machine).
    fn ln_in_place(xs: &mut [Self]);
}

/// f32 uses the vectorised kernels of [`fastmath`] (exp within 2 ulp of the exact values, tanh
/// within 3, ln within half an ulp).
impl Real for f32 {
    const NAME: &'static str = "f32";

    #[inline(always)]
    fn bias_tanh(row: &mut [f32], bias: &[f32]) {
        for (x, &b) in row.iter_mut().zip(bias) {
            *x = fastmath::tanh_f32(*x + b);
        }
    }

    fn exp_in_place(xs: &mut [f32]) {
        fastmath::exp_in_place(xs);
    }

    fn ln_in_place(xs: &mut [f32]) {
        fastmath::ln_in_place(xs);
    }
}

/// f64 uses the f64 kernels of [`fastmath`] (within a few ulp of the exact values), so f64
/// sweeps stay within 1e-12 of an independent reference.
impl Real for f64 {
    const NAME: &'static str = "f64";

    #[inline(always)]
    fn bias_tanh(row: &mut [f64], bias: &[f64]) {
        fastmath::bias_tanh_row_f64(row, bias);
    }

    fn exp_in_place(xs: &mut [f64]) {
        fastmath::exp_in_place_f64(xs);
    }

    fn ln_in_place(xs: &mut [f64]) {
        fastmath::ln_in_place_f64(xs);
    }
}

/// The sizes that fix a network's parameter shapes: p inputs, M hidden units, K classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// p, the number of input features.
    pub n_features: usize,
    /// M, the number of hidden units.
    pub n_hidden: usize,
    /// K, the number of classes.
    pub n_classes: usize,
}

impl Shape {
    /// The number of scalar parameters: M·p + M + K·M + K.
    pub fn len(&self) -> usize {
        let (p, m, k) = (self.n_features, self.n_hidden, self.n_classes);
        m * p + m + k * m + k
    }

    /// Always false: every block has at least one entry once M, p, K ≥ 1.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Useful floating-point operations of one full-batch loss and gradient over n samples:
    /// the five matrix products, 4·n·p·M + 6·n·M·K.
    pub fn flops_per_iteration(&self, n: usize) -> f64 {
        let (p, m, k) = (self.n_features as f64, self.n_hidden as f64, self.n_classes as f64);
        let n = n as f64;
        4.0 * n * p * m + 6.0 * n * m * k
    }
}

/// The parameters θ = (W, b, V, c), or anything of the same shape (a gradient, a momentum φ),
/// stored contiguously in that order; W and V are row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Params<T> {
    shape: Shape,
    flat: Array1<T>,
}

/// Read-only views of the four parameter blocks.
pub struct ParamViews<'a, T> {
    /// W, M×p.
    pub w: ArrayView2<'a, T>,
    /// b, length M.
    pub b: ArrayView1<'a, T>,
    /// V, K×M.
    pub v: ArrayView2<'a, T>,
    /// c, length K.
    pub c: ArrayView1<'a, T>,
}

/// Mutable views of the four parameter blocks.
pub struct ParamViewsMut<'a, T> {
    /// W, M×p.
    pub w: ArrayViewMut2<'a, T>,
    /// b, length M.
    pub b: ArrayViewMut1<'a, T>,
    /// V, K×M.
    pub v: ArrayViewMut2<'a, T>,
    /// c, length K.
    pub c: ArrayViewMut1<'a, T>,
}

impl<T: Real> Params<T> {
    /// All zeros.
    pub fn zeros(shape: Shape) -> Self {
        Params { shape, flat: Array1::zeros(shape.len()) }
    }

    /// Builds parameters from the four blocks.
    ///
    /// **Errors** with a description if the blocks' shapes disagree with each other.
    pub fn from_blocks(
        w: ArrayView2<T>,
        b: ArrayView1<T>,
        v: ArrayView2<T>,
        c: ArrayView1<T>,
    ) -> Result<Self, String> {
        let (m, p) = w.dim();
        let k = c.len();
        if b.len() != m || v.dim() != (k, m) || m == 0 || p == 0 || k == 0 {
            return Err(format!(
                "inconsistent shapes: W {:?}, b {:?}, V {:?}, c {:?}",
                w.shape(),
                b.shape(),
                v.shape(),
                c.shape()
            ));
        }
        let shape = Shape { n_features: p, n_hidden: m, n_classes: k };
        let mut params = Params::zeros(shape);
        let mut views = params.views_mut();
        views.w.assign(&w);
        views.b.assign(&b);
        views.v.assign(&v);
        views.c.assign(&c);
        Ok(params)
    }

    /// The seeded initialisation: W ~ N(0, 1/p), b = 0, V ~ N(0, 1/M), c = 0.
    ///
    /// The draws come from ChaCha8 seeded with `seed` on stream M, so they depend only on
    /// (M, seed) and p, K: every γ and α of a sweep starts from the same point. Values are drawn
    /// in f64 and rounded to `T`, so f32 and f64 runs start from the same point up to rounding.
    pub fn init(shape: Shape, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(shape.n_hidden as u64);
        let mut params = Params::zeros(shape);
        let sd_w = (shape.n_features as f64).sqrt().recip();
        let sd_v = (shape.n_hidden as f64).sqrt().recip();
        let mut views = params.views_mut();
        for w in views.w.iter_mut() {
            let z: f64 = StandardNormal.sample(&mut rng);
            *w = T::from_f64(z * sd_w).expect("finite");
        }
        for v in views.v.iter_mut() {
            let z: f64 = StandardNormal.sample(&mut rng);
            *v = T::from_f64(z * sd_v).expect("finite");
        }
        params
    }

    /// The network sizes.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The flat buffer: W row-major, then b, then V row-major, then c.
    pub fn as_flat(&self) -> ArrayView1<'_, T> {
        self.flat.view()
    }

    /// The flat buffer, mutable.
    pub fn as_flat_mut(&mut self) -> ArrayViewMut1<'_, T> {
        self.flat.view_mut()
    }

    /// Views of W, b, V, c.
    pub fn views(&self) -> ParamViews<'_, T> {
        let Shape { n_features: p, n_hidden: m, n_classes: k } = self.shape;
        let flat = self.flat.as_slice().expect("contiguous");
        let (w, rest) = flat.split_at(m * p);
        let (b, rest) = rest.split_at(m);
        let (v, c) = rest.split_at(k * m);
        ParamViews {
            w: ArrayView2::from_shape((m, p), w).expect("W shape"),
            b: ArrayView1::from(b),
            v: ArrayView2::from_shape((k, m), v).expect("V shape"),
            c: ArrayView1::from(c),
        }
    }

    /// Mutable views of W, b, V, c.
    pub fn views_mut(&mut self) -> ParamViewsMut<'_, T> {
        let Shape { n_features: p, n_hidden: m, n_classes: k } = self.shape;
        let flat = self.flat.as_slice_mut().expect("contiguous");
        let (w, rest) = flat.split_at_mut(m * p);
        let (b, rest) = rest.split_at_mut(m);
        let (v, c) = rest.split_at_mut(k * m);
        ParamViewsMut {
            w: ArrayViewMut2::from_shape((m, p), w).expect("W shape"),
            b: ArrayViewMut1::from(b),
            v: ArrayViewMut2::from_shape((k, m), v).expect("V shape"),
            c: ArrayViewMut1::from(c),
        }
    }

    /// True when every entry is finite.
    pub fn is_finite(&self) -> bool {
        self.flat.iter().all(|x| x.is_finite())
    }
}

/// Loss and accuracy totals over some samples: Σ_i L(y_i, f(x_i)) and the number of samples
/// whose largest output (the first, on ties) is the true class.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Σ_i L(y_i, f(x_i)), accumulated in f64 in sample order.
    pub loss_sum: f64,
    /// Number of correctly classified samples.
    pub correct: usize,
    /// Number of samples.
    pub count: usize,
}

impl Stats {
    /// Adds another chunk's totals.
    pub fn add(&mut self, other: &Stats) {
        self.loss_sum += other.loss_sum;
        self.correct += other.correct;
        self.count += other.count;
    }

    /// The mean per-sample loss.
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.count as f64
    }

    /// The share of correctly classified samples.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.count as f64
    }
}

/// Scratch matrices for one chunk of up to `rows` samples; reused across chunks and iterations.
pub struct Workspace<T> {
    /// S, then H = tanh(S): rows×M.
    h: Array2<T>,
    /// Fᵀ, then Gᵀ = (softmax(F) − onehot(y))ᵀ: K rows of a chunk's n samples, [`class_stride`]
    /// apart (F has rows for the padded classes after them). Class-major, so that the softmax
    /// runs along contiguous samples.
    gt: Vec<T>,
    /// D = (G·V) ⊙ (1 − H²) for one block of [`backward_rows`] rows at a time: rows×M, since
    /// the block is the whole chunk when it fits.
    d: Array2<T>,
    /// Per sample Σ_k e^{f_k − max}.
    sums: Vec<T>,
    /// Per sample max_k f_k, then f_y − max.
    shift: Vec<T>,
    /// Per sample the first class with the largest output (a small integer, as `T`), then
    /// log Σ_k e^{f_k − max}.
    best: Vec<T>,
}

/// θ's weight matrices laid out for the forward products: Wᵀ (p×M), so that S = X·Wᵀ reads its
/// right factor by rows, and Vᵀ (M×K) padded with zero columns to whole vectors of classes,
/// likewise for F = H·Vᵀ. An evaluation makes them once and all its chunks read them (making
/// them for every chunk cost about 1% of a sweep).
pub struct ForwardWeights<T> {
    shape: Shape,
    wt: Vec<T>,
    vt: Vec<T>,
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
/// 128 rows). A block's rows then stay in the L2 cache from one product to the next. In f64 at
/// M = 128 a 1024-row chunk spans 2.5 MB, and 256-row blocks made its gradient 10% faster
/// (41.4 → 45.6 GFLOP/s, one core, median of 300 alternating rounds); at M = 64 512-row blocks
/// gained 2%, and chunks that fit (f32 at M ≤ 64, f64 at M = 32) ran 1–2% slower in blocks. The
/// block size never changes the result (see [`loss_grad_chunk`]).
fn backward_rows<T>(n: usize, p: usize, m: usize) -> usize {
    let row_bytes = (p + 2 * m) * std::mem::size_of::<T>();
    let mut rows = n.max(1);
    while rows > 128 && rows * row_bytes > BACKWARD_BYTES {
        rows = rows.div_ceil(2);
    }
    rows
}

/// The class count rounded up to whole 64-byte vectors of f32 (the widest the product kernel
/// uses), so that the narrow product F = H·Vᵀ runs on full vectors.
fn padded_classes(k: usize) -> usize {
    k.next_multiple_of(16)
}

/// The row length of Fᵀ and Gᵀ for a chunk of n samples: n rounded up to whole vectors, plus
/// one more vector. The kernel writes F a column at a time, one value per class row; rows 4 KiB
/// apart (n = 1024 in f32) would all fall into one set of the L1 cache and evict each other,
/// which made F three times slower.
fn class_stride(n: usize) -> usize {
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

    /// The largest chunk this workspace holds.
    pub fn rows(&self) -> usize {
        self.h.nrows()
    }
}

/// H = tanh(X·Wᵀ + b) and Fᵀ − c = (H·Vᵀ)ᵀ for a chunk: `x` is n×p; fills the first n rows of
/// `ws.h` and the first K rows of `ws.gt`, [`class_stride`] apart (the bias c is added by
/// [`softmax_columns`]).
///
/// **Panics** if `x` has more rows than the workspace or a column count other than p, or if the
/// weights are of another shape.
fn forward_into<T: Real>(
    params: &ParamViews<T>,
    weights: &ForwardWeights<T>,
    x: ArrayView2<T>,
    ws: &mut Workspace<T>,
) {
    let n = x.nrows();
    let Shape { n_features: p, n_hidden: m, n_classes: k } = weights.shape;
    assert_eq!(params.v.dim(), (k, m), "forward weights of another shape");
    let wt = ArrayView2::from_shape((p, m), &weights.wt[..]).expect("Wᵀ shape");
    let mut h = ws.h.slice_mut(s![..n, ..]);
    let bias = params.b.as_slice().expect("contiguous b");
    matmul_then(x, wt, &mut h, &mut BiasTanh { bias });
    let kp = padded_classes(k);
    let vt = ArrayView2::from_shape((m, kp), &weights.vt[..]).expect("Vᵀ shape");
    // F = H·Vᵀ written class-major: Fᵀ, one row per (padded) class.
    let ld = class_stride(n);
    let mut f = ArrayViewMut2::from_shape((kp, n).strides((ld, 1)), &mut ws.gt[..])
        .expect("Fᵀ shape")
        .reversed_axes();
    matmul(h.view(), vt, &mut f);
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

/// H = tanh(S + b), applied to S's rows as the kernel finishes them.
struct BiasTanh<'a, T> {
    bias: &'a [T],
}

impl<T: Real> Epilogue<T> for BiasTanh<'_, T> {
    #[inline(always)]
    fn finish(&mut self, _r: usize, j: usize, row: &mut [T]) {
        T::bias_tanh(row, &self.bias[j..]);
    }
}

/// D = (G·V) ⊙ (1 − H²) and db = Σ_rows D (in row order, from zero), applied to G·V's tiles
/// while the kernel still holds them in registers; H has rows of `m`. Against a pass over each
/// finished row, that saves storing and reloading D and a load and store of db per row: G·V
/// with this step took 41 instead of 61 µs in f32 and 116–125 instead of 141–187 µs in f64
/// (1024 rows, M = 128, one core, median of 400 rounds), with bitwise the same D and db.
pub(crate) struct TanhBackward<'a, T> {
    pub(crate) h: &'a [T],
    pub(crate) m: usize,
    pub(crate) db: &'a mut [T],
}

impl<T: Real> Epilogue<T> for TanhBackward<'_, T> {
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
    /// The softmax of every sample's outputs, class-major. `ft` holds Fᵀ − c as K rows of
    /// n = `y.len()` samples; on return row k holds e^{f_k − max} with f = F + c, `sums`
    /// Σ_k e^{f_k − max} and `shift` f_y − max per sample. Returns the loss totals: per sample
    /// −f_y + log Σ_k exp(f_k), computed as log Σ_k e^{f_k − max} − (f_y − max) and added up in
    /// sample order.
    ///
    /// Every loop runs along contiguous samples, so it vectorises; no sum changes order with the
    /// vector width.
    fn softmax_columns<T: Real>(
        ft: &mut [T],
        ld: usize,
        c: &[T],
        y: &[u32],
        sums: &mut [T],
        shift: &mut [T],
        best: &mut [T],
    ) -> Stats {
        let n = y.len();
        let (sums, shift, best) = (&mut sums[..n], &mut shift[..n], &mut best[..n]);
        // F = Fᵀ + c, and per sample the largest output and the first class that reaches it
        // (NaN never compares greater, so a NaN sample keeps class 0).
        for (class, (row, &ck)) in ft.chunks_exact_mut(ld).map(|r| &mut r[..n]).zip(c).enumerate() {
            if class == 0 {
                for ((f, m), b) in row.iter_mut().zip(shift.iter_mut()).zip(best.iter_mut()) {
                    *f = *f + ck;
                    *m = *f;
                    *b = T::zero();
                }
                continue;
            }
            let label = T::from_usize(class).expect("small integer");
            for ((f, m), b) in row.iter_mut().zip(shift.iter_mut()).zip(best.iter_mut()) {
                let (fv, mv, bv) = (*f + ck, *m, *b);
                let greater = fv > mv;
                *f = fv;
                *m = if greater { fv } else { mv };
                *b = if greater { label } else { bv };
            }
        }
        let mut correct = 0;
        for (&b, &yi) in best.iter().zip(y) {
            correct += usize::from(b == T::from_u32(yi).expect("small integer"));
        }
        for row in ft.chunks_exact_mut(ld) {
            for (f, &m) in row[..n].iter_mut().zip(shift.iter()) {
                *f = *f - m;
            }
        }
        for (i, (s, &yi)) in shift.iter_mut().zip(y).enumerate() {
            *s = ft[yi as usize * ld + i];
        }
        for row in ft.chunks_exact_mut(ld) {
            T::exp_in_place(&mut row[..n]);
        }
        for (class, row) in ft.chunks_exact(ld).map(|r| &r[..n]).enumerate() {
            if class == 0 {
                sums.copy_from_slice(row);
            } else {
                for (s, &e) in sums.iter_mut().zip(row) {
                    *s = *s + e;
                }
            }
        }
        // The argmaxes are counted, so `best` takes log Σ_k e^{f_k − max}.
        best.copy_from_slice(sums);
        T::ln_in_place(best);
        let mut loss_sum = 0.0;
        for (&log_sum, &fy) in best.iter().zip(shift.iter()) {
            loss_sum += (log_sum - fy).to_f64().expect("float");
        }
        Stats { loss_sum, correct, count: n }
    }
);

simd_kernel!(
    /// Turns the softmax numerators left by [`softmax_columns`] into Gᵀ = (softmax(F) −
    /// onehot(y))ᵀ in place; `dc` receives the per-class sums Σ_i G_ik (in the fixed order of
    /// [`sum_in_lanes`]). `sums` is overwritten with its reciprocals.
    fn output_gradient<T: Real>(gt: &mut [T], ld: usize, sums: &mut [T], y: &[u32], dc: &mut [T]) {
        let n = y.len();
        let inv = &mut sums[..n];
        for s in inv.iter_mut() {
            *s = T::one() / *s;
        }
        for row in gt.chunks_exact_mut(ld) {
            for (e, &r) in row[..n].iter_mut().zip(inv.iter()) {
                *e = *e * r;
            }
        }
        for (i, &yi) in y.iter().enumerate() {
            let g = &mut gt[yi as usize * ld + i];
            *g = *g - T::one();
        }
        for (dck, row) in dc.iter_mut().zip(gt.chunks_exact(ld)) {
            *dck = sum_in_lanes(&row[..n]);
        }
    }
);

/// Σ xs in an order fixed by the length alone: sixteen interleaved partial sums, then the
/// tail, so that it vectorises without depending on the vector width.
#[inline(always)]
fn sum_in_lanes<T: Real>(xs: &[T]) -> T {
    let mut lanes = [T::zero(); 16];
    let blocks = xs.chunks_exact(16);
    let tail = blocks.remainder();
    for block in blocks {
        for (lane, &x) in lanes.iter_mut().zip(block) {
            *lane = *lane + x;
        }
    }
    let mut total = lanes.iter().fold(T::zero(), |acc, &x| acc + x);
    for &x in tail {
        total = total + x;
    }
    total
}

/// Loss totals of the network over a chunk, without gradients: `x` is n×p, `y` holds n labels
/// in 0..K; `weights` are [`ForwardWeights::of`] `params`.
///
/// **Panics** if shapes disagree or n exceeds the workspace.
pub fn loss_chunk<T: Real>(
    params: &Params<T>,
    weights: &ForwardWeights<T>,
    x: ArrayView2<T>,
    y: &[u32],
    ws: &mut Workspace<T>,
) -> Stats {
    assert_eq!(x.nrows(), y.len(), "one label per row of x");
    let views = params.views();
    forward_into(&views, weights, x, ws);
    let k = params.shape().n_classes;
    let c = views.c.as_slice().expect("contiguous c");
    let ld = class_stride(y.len());
    softmax_columns(&mut ws.gt[..k * ld], ld, c, y, &mut ws.sums, &mut ws.shift, &mut ws.best)
}

/// Loss totals and the gradient of Σ_i L(y_i, f(x_i)) over a chunk: `x` is n×p, `y` holds n
/// labels in 0..K; `weights` are [`ForwardWeights::of`] `params`; the gradient overwrites
/// `grad`.
///
/// **Panics** if shapes disagree or n exceeds the workspace.
pub fn loss_grad_chunk<T: Real>(
    params: &Params<T>,
    weights: &ForwardWeights<T>,
    x: ArrayView2<T>,
    y: &[u32],
    ws: &mut Workspace<T>,
    grad: &mut Params<T>,
) -> Stats {
    let step = backward_rows::<T>(x.nrows(), x.ncols(), params.shape().n_hidden);
    loss_grad_in_blocks(params, weights, x, y, ws, grad, step)
}

/// [`loss_grad_chunk`] with the backward pass in blocks of `step` rows (≥ 1).
fn loss_grad_in_blocks<T: Real>(
    params: &Params<T>,
    weights: &ForwardWeights<T>,
    x: ArrayView2<T>,
    y: &[u32],
    ws: &mut Workspace<T>,
    grad: &mut Params<T>,
    step: usize,
) -> Stats {
    assert_eq!(x.nrows(), y.len(), "one label per row of x");
    assert_eq!(params.shape(), grad.shape(), "gradient shape");
    let views = params.views();
    forward_into(&views, weights, x, ws);
    let n = x.nrows();
    let k = params.shape().n_classes;
    let mut out = grad.views_mut();

    // G = softmax(F) − onehot(y), in place over Fᵀ; dc = Σ_rows G.
    let c = views.c.as_slice().expect("contiguous c");
    let ld = class_stride(n);
    let gt = &mut ws.gt[..k * ld];
    let stats = softmax_columns(gt, ld, c, y, &mut ws.sums, &mut ws.shift, &mut ws.best);
    output_gradient(gt, ld, &mut ws.sums, y, out.c.as_slice_mut().expect("contiguous dc"));

    // The backward products, in blocks of rows (see [`backward_rows`]) so that a block's rows
    // of H, D and X are still in the L2 cache when the next product reads them. Every product
    // goes on with its chains from the block before, and db sums D's rows in order, so the
    // gradient is bitwise the one of whole-chunk products, whatever the block size.
    let m = views.v.ncols();
    let h = ws.h.slice(s![..n, ..]);
    let gt = ArrayView2::from_shape((k, n).strides((ld, 1)), &ws.gt[..k * ld]).expect("Gᵀ shape");
    let db = out.b.as_slice_mut().expect("contiguous db");
    db.fill(T::zero());
    for block in 0..n.div_ceil(step).max(1) {
        let rows = block * step..((block + 1) * step).min(n);
        let len = rows.len();
        let (gt, h, x) =
            (gt.slice(s![.., rows.clone()]), h.slice(s![rows.clone(), ..]), x.slice(s![rows, ..]));
        // dV = Gᵀ·H.
        if block == 0 {
            matmul(gt, h, &mut out.v)
        } else {
            matmul_continue(gt, h, &mut out.v)
        }
        // D = (G·V) ⊙ (1 − H²); db = Σ_rows D; dW = Dᵀ·X.
        let mut d = ws.d.slice_mut(s![..len, ..]);
        let h = h.as_slice().expect("whole rows of the workspace");
        matmul_then(gt.t(), views.v.view(), &mut d, &mut TanhBackward { h, m, db });
        if block == 0 { matmul(d.t(), x, &mut out.w) } else { matmul_continue(d.t(), x, &mut out.w) }
    }
    stats
}

/// Adds `src` into `dst`, entry by entry.
///
/// **Panics** if the shapes differ.
pub fn add_assign<T: Real>(dst: &mut Params<T>, src: &Params<T>) {
    assert_eq!(dst.shape, src.shape, "parameter shapes");
    dst.flat.zip_mut_with(&src.flat, |a, &b| *a = *a + b);
}

/// One heavy-ball step, in place: φ ← (1−α)·φ + α·∇, then θ ← θ − γ·φ.
///
/// **Panics** if the shapes differ.
pub fn momentum_step_inplace<T: Real>(
    theta: &mut Params<T>,
    phi: &mut Params<T>,
    grad: &Params<T>,
    gamma: T,
    alpha: T,
) {
    assert_eq!(theta.shape, phi.shape, "parameter shapes");
    assert_eq!(theta.shape, grad.shape, "parameter shapes");
    let one_minus_alpha = T::one() - alpha;
    ndarray::Zip::from(&mut theta.flat).and(&mut phi.flat).and(&grad.flat).for_each(|t, f, &d| {
        *f = *f * one_minus_alpha + alpha * d;
        *t = *t - gamma * *f;
    });
}

/// Multiplies every entry by `factor`, in place.
pub fn scale_inplace<T: Real>(params: &mut Params<T>, factor: T) {
    params.flat.mapv_inplace(|x| x * factor);
}

/// Splits n samples into fixed chunks of `chunk_size` rows (the last may be shorter). The
/// boundaries depend on n and the chunk size alone, never on the thread count.
pub fn chunk_ranges(n: usize, chunk_size: usize) -> Vec<std::ops::Range<usize>> {
    (0..n.div_ceil(chunk_size)).map(|i| i * chunk_size..((i + 1) * chunk_size).min(n)).collect()
}

/// The rows of `x` in a range, as a view.
pub fn rows<T>(x: &Array2<T>, range: std::ops::Range<usize>) -> ArrayView2<'_, T> {
    x.slice_axis(Axis(0), range.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use rand::RngExt;

    fn random_problem(seed: u64, n: usize, shape: Shape) -> (Array2<f64>, Vec<u32>, Params<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, shape.n_features), |_| {
            let z: f64 = StandardNormal.sample(&mut rng);
            z
        });
        let y = (0..n).map(|_| rng.random_range(0..shape.n_classes as u32)).collect();
        let mut params = Params::<f64>::init(shape, seed);
        // Non-zero biases so that their gradients are exercised away from the origin.
        for x in params.as_flat_mut().iter_mut() {
            *x += 0.3 * rng.random::<f64>() - 0.15;
        }
        (x, y, params)
    }

    /// Independent, slow per-sample forward pass and loss, written from the formulas with loops.
    fn naive_loss(params: &Params<f64>, x: &Array2<f64>, y: &[u32]) -> f64 {
        let pv = params.views();
        let (m, p) = pv.w.dim();
        let k = pv.c.len();
        let mut total = 0.0;
        for (i, &yi) in y.iter().enumerate() {
            let h: Vec<f64> = (0..m)
                .map(|j| (pv.b[j] + (0..p).map(|q| pv.w[[j, q]] * x[[i, q]]).sum::<f64>()).tanh())
                .collect();
            let f: Vec<f64> =
                (0..k).map(|c| pv.c[c] + (0..m).map(|j| pv.v[[c, j]] * h[j]).sum::<f64>()).collect();
            let max = f.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + f.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            total += lse - f[yi as usize];
        }
        total
    }

    #[test]
    fn gradient_matches_central_finite_differences() {
        let shapes = [(1, 1, 2, 1), (3, 2, 3, 7), (5, 4, 3, 12), (7, 9, 4, 20), (2, 6, 10, 33)];
        for (seed, &(p, m, k, n)) in shapes.iter().enumerate() {
            let shape = Shape { n_features: p, n_hidden: m, n_classes: k };
            let (x, y, params) = random_problem(seed as u64, n, shape);
            let mut ws = Workspace::new(shape, n);
            let mut grad = Params::zeros(shape);
            let stats =
                loss_grad_chunk(&params, &ForwardWeights::of(&params), x.view(), &y, &mut ws, &mut grad);
            assert_relative_eq!(stats.loss_sum, naive_loss(&params, &x, &y), max_relative = 1e-12);

            let eps = 1e-5;
            for i in 0..shape.len() {
                let mut plus = params.clone();
                plus.as_flat_mut()[i] += eps;
                let mut minus = params.clone();
                minus.as_flat_mut()[i] -= eps;
                let fd = (naive_loss(&plus, &x, &y) - naive_loss(&minus, &x, &y)) / (2.0 * eps);
                let an = grad.as_flat()[i];
                let err = (fd - an).abs() / an.abs().max(fd.abs()).max(1e-3);
                assert!(err < 1e-6, "shape {shape:?} parameter {i}: analytic {an}, fd {fd}");
            }
        }
    }

    #[test]
    fn chunked_gradient_equals_whole_batch_gradient() {
        let shape = Shape { n_features: 4, n_hidden: 5, n_classes: 3 };
        let (x, y, params) = random_problem(9, 50, shape);
        let weights = ForwardWeights::of(&params);
        let mut ws = Workspace::new(shape, 50);
        let mut whole = Params::zeros(shape);
        let whole_stats = loss_grad_chunk(&params, &weights, x.view(), &y, &mut ws, &mut whole);
        let mut sum = Params::zeros(shape);
        let mut part = Params::zeros(shape);
        let mut stats = Stats::default();
        for r in chunk_ranges(50, 16) {
            stats.add(&loss_grad_chunk(&params, &weights, rows(&x, r.clone()), &y[r], &mut ws, &mut part));
            add_assign(&mut sum, &part);
        }
        assert_eq!(stats.count, 50);
        assert_eq!(stats.correct, whole_stats.correct);
        assert_relative_eq!(stats.loss_sum, whole_stats.loss_sum, max_relative = 1e-12);
        for (a, b) in sum.as_flat().iter().zip(whole.as_flat()) {
            assert_relative_eq!(a, b, max_relative = 1e-10, epsilon = 1e-12);
        }
    }

    #[test]
    fn backward_blocks_give_bitwise_the_whole_chunk_gradient() {
        let shape = Shape { n_features: 6, n_hidden: 7, n_classes: 4 };
        let (x, y, params) = random_problem(21, 300, shape);
        let weights = ForwardWeights::of(&params);
        let mut ws = Workspace::new(shape, 300);
        let mut whole = Params::zeros(shape);
        let whole_stats = loss_grad_in_blocks(&params, &weights, x.view(), &y, &mut ws, &mut whole, 300);
        for step in [1, 7, 128, 150, 299] {
            let mut blocked = Params::zeros(shape);
            let stats = loss_grad_in_blocks(&params, &weights, x.view(), &y, &mut ws, &mut blocked, step);
            assert_eq!(stats, whole_stats);
            assert_eq!(blocked, whole, "blocks of {step} rows");
        }
        // The rule blocks only chunks whose rows of X, H and D exceed the budget.
        assert_eq!(backward_rows::<f32>(1024, 64, 64), 1024);
        assert_eq!(backward_rows::<f64>(1024, 64, 128), 256);
        assert_eq!(backward_rows::<f32>(1024, 784, 128), 128);
        assert_eq!(backward_rows::<f64>(0, 64, 128), 1);
    }

    #[test]
    fn loss_only_agrees_with_loss_and_gradient() {
        let shape = Shape { n_features: 3, n_hidden: 4, n_classes: 5 };
        let (x, y, params) = random_problem(3, 17, shape);
        let mut ws = Workspace::new(shape, 17);
        let mut grad = Params::zeros(shape);
        let a = loss_chunk(&params, &ForwardWeights::of(&params), x.view(), &y, &mut ws);
        let b = loss_grad_chunk(&params, &ForwardWeights::of(&params), x.view(), &y, &mut ws, &mut grad);
        assert_eq!(a, b);
    }

    #[test]
    fn softmax_columns_handle_extreme_logits() {
        // Two samples with labels 0 and 1, stored class-major (K = 3 rows of n = 2); logits far
        // beyond exp's range stay finite, and the bias c is added first.
        let mut ft = vec![999.0f64, 999.0, -1001.0, -1001.0, 998.0, 998.0];
        let c = [1.0, 1.0, 1.0];
        let (mut sums, mut shift, mut best) = (vec![0.0; 2], vec![0.0; 2], vec![0.0; 2]);
        let stats = softmax_columns(&mut ft, 2, &c, &[0, 1], &mut sums, &mut shift, &mut best);
        // Both samples' largest output is class 0, so only the first is right.
        assert_eq!((stats.count, stats.correct), (2, 1));
        // `best` is left holding each sample's log Σ_k e^{f_k − max}.
        for (&log_sum, &sum) in best.iter().zip(&sums) {
            assert_eq!(log_sum.to_bits(), crate::fastmath::ln_f64(sum).to_bits());
        }
        let lse = (1.0 + (-1.0f64).exp()).ln();
        assert_relative_eq!(stats.loss_sum, lse + 2000.0 + lse, epsilon = 1e-9);
        for (i, &sum) in sums.iter().enumerate() {
            let total: f64 = (0..3).map(|k| ft[k * 2 + i] / sum).sum();
            assert_relative_eq!(total, 1.0, epsilon = 1e-12);
        }
        // Ties go to the first class (1 here, the label) and a NaN sample keeps class 0 (its
        // label): both count as right.
        let ties = [1.0f64, f64::NAN, 2.0, 0.0, 2.0, 0.0];
        let stats =
            softmax_columns(&mut ties.clone(), 2, &[0.0; 3], &[1, 0], &mut sums, &mut shift, &mut best);
        assert_eq!(stats.correct, 2);
        let stats =
            softmax_columns(&mut ties.clone(), 2, &[0.0; 3], &[2, 1], &mut sums, &mut shift, &mut best);
        assert_eq!(stats.correct, 0);
        for precision_f32 in [vec![88.0f32, -88.0, 87.0], vec![-200.0f32, 150.0, 0.0]] {
            let mut f = precision_f32;
            let (mut s, mut m, mut b) = (vec![0.0; 1], vec![0.0; 1], vec![0.0; 1]);
            let stats = softmax_columns(&mut f, 1, &[0.0; 3], &[2], &mut s, &mut m, &mut b);
            assert!(stats.loss_sum.is_finite(), "{stats:?}");
        }
    }

    #[test]
    fn init_depends_only_on_hidden_and_seed() {
        let shape = Shape { n_features: 8, n_hidden: 16, n_classes: 3 };
        let a = Params::<f64>::init(shape, 7);
        assert_eq!(a, Params::<f64>::init(shape, 7));
        assert_ne!(a, Params::<f64>::init(shape, 8));
        let wider = Params::<f64>::init(Shape { n_hidden: 17, ..shape }, 7);
        assert_ne!(a.views().w.row(0), wider.views().w.row(0));
        let v = a.views();
        assert!(v.b.iter().all(|&x| x == 0.0) && v.c.iter().all(|&x| x == 0.0));
        // W ~ N(0, 1/p): the sample variance of 128 draws is near 1/8.
        let var = v.w.iter().map(|x| x * x).sum::<f64>() / v.w.len() as f64;
        assert!((var - 0.125).abs() < 0.05, "variance {var}");
        let single = Params::<f32>::init(shape, 7);
        for (s, d) in single.as_flat().iter().zip(a.as_flat()) {
            assert_eq!(*s, *d as f32);
        }
    }

    #[test]
    fn momentum_step_with_alpha_one_is_gradient_descent() {
        let shape = Shape { n_features: 2, n_hidden: 2, n_classes: 2 };
        let mut theta = Params::<f64>::init(shape, 1);
        let start = theta.clone();
        let mut phi = Params::zeros(shape);
        let mut grad = Params::zeros(shape);
        grad.as_flat_mut().fill(2.0);
        momentum_step_inplace(&mut theta, &mut phi, &grad, 0.1, 1.0);
        for (t, s) in theta.as_flat().iter().zip(start.as_flat()) {
            assert_relative_eq!(*t, s - 0.2, epsilon = 1e-15);
        }
        // With α = 0.5 the second step moves by γ(0.5·φ + 0.5·∇) = 0.1·(0.5·1 + 0.5·2).
        let mut phi = Params::zeros(shape);
        let mut theta = start.clone();
        momentum_step_inplace(&mut theta, &mut phi, &grad, 0.1, 0.5);
        momentum_step_inplace(&mut theta, &mut phi, &grad, 0.1, 0.5);
        for (t, s) in theta.as_flat().iter().zip(start.as_flat()) {
            assert_relative_eq!(*t, s - 0.1 - 0.15, epsilon = 1e-15);
        }
    }

    #[test]
    fn chunks_cover_every_sample_once() {
        assert_eq!(chunk_ranges(10, 4), vec![0..4, 4..8, 8..10]);
        assert_eq!(chunk_ranges(8, 4), vec![0..4, 4..8]);
        assert_eq!(chunk_ranges(3, 1024), vec![0..3]);
    }
}
