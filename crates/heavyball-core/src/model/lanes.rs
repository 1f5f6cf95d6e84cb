//! Small networks with the samples in the vector lanes: the loss and gradient of [`super::loss`]
//! for networks of at most [`MOST_HIDDEN`] hidden units.
//!
//! For such networks the row-major form is the wrong way round: S = X·Wᵀ has M columns and
//! F = H·Vᵀ has K, so the product kernel's vectors run across a few hidden units or classes, and
//! tanh, exp and the softmax work on short rows. Here every matrix is turned so that the samples
//! of a batch (128 to 512 of them, `batch_width`) run along its rows, 16 to a vector:
//!
//! ```text
//! Sᵀ = W·Xᵀ    (M×B)        Hᵀ = tanh(Sᵀ + b)
//! Fᵀ = V·Hᵀ    (K×B)        softmax, loss, argmax; Gᵀ = softmax(F)ᵀ − onehot(y)ᵀ
//! Dᵀ = (Vᵀ·Gᵀ) ⊙ (1 − Hᵀ²)
//! dW += Σ Dᵀ ⊙ Xᵀ   db += Σ Dᵀ   dV += Σ Gᵀ ⊙ Hᵀ   dc += Σ Gᵀ     (in 16 lanes)
//! ```
//!
//! Every product's vectors are full, tanh, exp and ln run on rows of a batch, and a batch's
//! matrices stay in the cache from one pass to the next: no N×M array is written.
//!
//! The sums over samples are kept per lane ([`crate::num::linalg::lane_products`]): lane l of a
//! chunk holds its samples l, l + 16, l + 32, …, as do the loss totals (in f64), and each
//! entry's 16 lanes are added in lane order at the end of the chunk. Every build (AVX-512,
//! AVX2, scalar) holds the same lanes and runs the same chains, so the sums are the same on
//! every CPU, at any thread count, fused into a group or alone. They are not the row-major
//! form's sums (those run through the samples in order), so runs of these networks carry
//! [`NUMERICS`] in their keys. A partial last block has zeros in its empty lanes, and its g and
//! d there are set to zero, so they add nothing.

use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};

use super::epilogues::{tanh_backward_row, tanh_plus_row};
use super::output::{LOSS_GROUP, OUTPUT_ROWS, output_lanes};
use super::{ForwardWeights, Params, Shape, Stats, Workspace};
use crate::num::Element;
use crate::num::kernels::LANES as L;
use crate::num::linalg::{lane_products, matmul};

/// The most samples per batch.
const BATCH: usize = 512;

/// The values of a batch's Hᵀ, Dᵀ and Gᵀ together: 36 KiB of f32, about a core's L1 cache.
/// Measured on bench-T and bench-tiny: half of it ran 12–15% slower (more, shorter passes),
/// 64 KiB 8% slower on bench-T (the batch no longer stays in L1).
const BATCH_VALUES: usize = 9216;

/// Samples per batch for M hidden units and K classes: whole groups of [`LOSS_GROUP`], as many
/// as keep a batch's Hᵀ, Dᵀ and Gᵀ within [`BATCH_VALUES`] (from 128 to 512), so that they
/// stay close from one pass to the next while each product and pass runs long enough to pay
/// for its start. It depends on the shape alone, so a run's arithmetic does too.
fn batch_width(m: usize, k: usize) -> usize {
    (BATCH_VALUES / (2 * m + k).max(1) / LOSS_GROUP * LOSS_GROUP).clamp(LOSS_GROUP, BATCH)
}

/// The row length of a batch's matrices: the widest batch and one vector more, so that rows
/// never fall a multiple of 4 KiB apart.
const LD: usize = BATCH + 16;

/// The widest hidden layer that takes the lanes form; wider layers fill the row-major form's
/// vectors already (and fused groups widen them further). Measured: docs/performance.md.
pub const MOST_HIDDEN: usize = 16;

/// The name of the lanes form's arithmetic in run keys: runs of networks it evaluates carry it,
/// so that no run trained by the row-major form's sums is continued by these.
pub const NUMERICS: &str = "lanes16-v1";

/// True for the shapes the lanes form evaluates: at most [`MOST_HIDDEN`] hidden units. A rule
/// on M alone, so a run's grid point fixes its arithmetic.
pub fn suits(shape: Shape) -> bool {
    takes_hidden(shape.n_hidden)
}

/// True when networks of `hidden` units take the lanes form (and their runs [`NUMERICS`]).
pub fn takes_hidden(hidden: usize) -> bool {
    hidden <= MOST_HIDDEN
}

/// One chunk's samples laid out for the lanes form, made once per data set: Xᵀ (p rows of the
/// chunk's samples, zeros to whole blocks of 16) and the labels, padded with zeros alike.
pub struct LaneChunk<T> {
    n: usize,
    p: usize,
    /// Row length of `xt`: whole blocks, and one more so rows do not alias in the cache.
    ldx: usize,
    xt: Vec<T>,
    y: Vec<u32>,
    /// One more than the largest label (0 for no samples): the classes a network needs.
    classes: usize,
}

impl<T: Element> LaneChunk<T> {
    /// The layout of the n×p chunk `x` with its labels `y`.
    ///
    /// **Panics** if `y` does not hold one label per row.
    pub fn new(x: ArrayView2<T>, y: &[u32]) -> Self {
        let (n, p) = x.dim();
        assert_eq!(n, y.len(), "one label per sample");
        let padded = n.next_multiple_of(L);
        let ldx = padded + L;
        let mut xt = vec![T::zero(); p * ldx];
        for (i, row) in x.rows().into_iter().enumerate() {
            for (q, &v) in row.iter().enumerate() {
                xt[q * ldx + i] = v;
            }
        }
        let mut labels = vec![0; padded];
        labels[..n].copy_from_slice(y);
        let classes = y.iter().max().map_or(0, |&c| c as usize + 1);
        LaneChunk { n, p, ldx, xt, y: labels, classes }
    }
}

/// The scratch of the lanes form, sized on first use and reused.
pub(super) struct LaneScratch<T> {
    /// Sᵀ, then Hᵀ: M rows of [`LD`].
    h: Vec<T>,
    /// Fᵀ, then Gᵀ: K rows of [`LD`].
    g: Vec<T>,
    /// Dᵀ: M rows of [`LD`].
    d: Vec<T>,
    /// A row of ones (for db and dc).
    ones: Vec<T>,
    /// The output layer's rows ([`OUTPUT_ROWS`] of a batch) and its argmaxes.
    out: Vec<T>,
    best: Vec<u32>,
    /// The 16 partial sums of every gradient entry, in [`Params`]' flat order.
    sums: Vec<T>,
}

impl<T> Default for LaneScratch<T> {
    fn default() -> Self {
        let none = Vec::new;
        LaneScratch {
            h: none(),
            g: none(),
            d: none(),
            ones: none(),
            out: none(),
            best: Vec::new(),
            sums: none(),
        }
    }
}

impl<T: Element> LaneScratch<T> {
    fn fit(&mut self, shape: Shape) {
        let Shape { n_hidden: m, n_classes: k, .. } = shape;
        for (v, len) in [
            (&mut self.h, m * LD),
            (&mut self.g, k * LD),
            (&mut self.d, m * LD),
            (&mut self.out, OUTPUT_ROWS * BATCH),
            (&mut self.sums, shape.n_params() * L),
        ] {
            if v.len() < len {
                v.resize(len, T::zero());
            }
        }
        if self.best.len() < BATCH {
            self.best.resize(BATCH, 0);
        }
        if self.ones.len() < BATCH {
            self.ones = vec![T::one(); BATCH];
        }
    }
}

/// Loss totals (and, with `grads`, gradients) of each of `members`, networks of one shape laid
/// out in `weights` ([`ForwardWeights::set_group`]), over a chunk laid out by [`LaneChunk`].
/// Member by member: fusing them into one wide hidden layer was measured slower, since it
/// narrows the batches that the per-member output layer then works on. Each member's
/// arithmetic is its own, so it gets bitwise what it gets alone.
///
/// **Panics** if shapes or member counts disagree.
pub(crate) fn group_chunk<T: Element>(
    members: &[&Params<T>],
    weights: &ForwardWeights<T>,
    chunk: &LaneChunk<T>,
    ws: &mut Workspace<T>,
    mut grads: Option<&mut [Params<T>]>,
    stats: &mut [Stats],
) {
    let count = members.len();
    assert_eq!((stats.len(), weights.members), (count, count), "member counts");
    if let Some(grads) = &grads {
        assert_eq!(grads.len(), count, "one gradient per member");
    }
    let shape = weights.shape;
    let Shape { n_features: p, n_hidden: m, .. } = shape;
    assert_eq!(chunk.p, p, "features of the chunk and the network");
    assert!(chunk.classes <= shape.n_classes, "a label outside the network's classes");
    let rm = count * m;
    for (r, params) in members.iter().enumerate() {
        assert_eq!(params.shape(), shape, "a member of another shape");
        // Member r's W: columns r·M.. of the forward weights' Wᵀ, read transposed.
        let w = ArrayView2::from_shape((m, p).strides((1, rm)), &weights.wt[r * m..]).expect("W");
        let bias = &weights.bias[r * m..][..m];
        let grad = grads.as_deref_mut().map(|g| &mut g[r]);
        stats[r] = member(params, w, bias, chunk, &mut ws.lanes, grad);
    }
}

/// The lanes form for one network: its loss totals over the chunk and, with `grad`, its
/// gradient, batch by batch; W and b as laid out in the forward weights.
fn member<T: Element>(
    params: &Params<T>,
    w: ArrayView2<T>,
    bias: &[T],
    chunk: &LaneChunk<T>,
    s: &mut LaneScratch<T>,
    grad: Option<&mut Params<T>>,
) -> Stats {
    let shape = params.shape();
    let Shape { n_features: p, n_hidden: m, n_classes: k } = shape;
    s.fit(shape);
    let views = params.views();
    let c = views.c.to_slice().expect("contiguous c");
    let sums = &mut s.sums[..shape.n_params() * L];
    sums.fill(T::zero());
    let (sw, rest) = sums.split_at_mut(m * p * L);
    let (sb, rest) = rest.split_at_mut(m * L);
    let (sv, sc) = rest.split_at_mut(k * m * L);
    let mut loss = [0.0f64; L];
    let mut correct = 0;
    let width = batch_width(m, k);
    for i0 in (0..chunk.n).step_by(width) {
        let valid = width.min(chunk.n - i0);
        let width = valid.next_multiple_of(L);
        // Hᵀ = tanh(W·Xᵀ + b).
        let xt = ArrayView2::from_shape((p, width).strides((chunk.ldx, 1)), &chunk.xt[i0..]).expect("Xᵀ");
        let mut ht = ArrayViewMut2::from_shape((m, width).strides((LD, 1)), &mut s.h[..]).expect("Hᵀ");
        matmul(w, xt, &mut ht);
        for (row, &b) in s.h.chunks_mut(LD).zip(bias) {
            tanh_plus_row(&mut row[..width], b);
        }
        // Fᵀ − c = V·Hᵀ; then the softmax, the loss and Gᵀ.
        let mut ft = ArrayViewMut2::from_shape((k, width).strides((LD, 1)), &mut s.g[..]).expect("Fᵀ");
        matmul(views.v, rows(&s.h, m, width), &mut ft);
        let y = &chunk.y[i0..i0 + width];
        correct +=
            output_lanes(&mut s.g, LD, c, y, valid, &mut loss, &mut s.out, &mut s.best, grad.is_some());
        if grad.is_none() {
            continue;
        }
        // Dᵀ = (Vᵀ·Gᵀ) ⊙ (1 − Hᵀ²).
        let mut dt = ArrayViewMut2::from_shape((m, width).strides((LD, 1)), &mut s.d[..]).expect("Dᵀ");
        matmul(views.v.t(), rows(&s.g, k, width), &mut dt);
        for (d, h) in s.d.chunks_mut(LD).zip(s.h.chunks(LD)).take(m) {
            tanh_backward_row(&mut d[..width], &h[..width]);
        }
        // The lane sums of dW, db, dV and dc.
        let (d, g, h) = (rows(&s.d, m, width), rows(&s.g, k, width), rows(&s.h, m, width));
        let ones = ArrayView2::from_shape((1, width), &s.ones[..width]).expect("ones");
        lane_products(sw, d, xt);
        lane_products(sb, d, ones);
        lane_products(sv, g, h);
        lane_products(sc, g, ones);
    }
    if let Some(grad) = grad {
        let flat = grad.as_flat_mut().into_slice().expect("contiguous gradient");
        for (out, lanes) in flat.iter_mut().zip(s.sums.chunks_exact(L)) {
            *out = lanes[1..].iter().fold(lanes[0], |acc, &x| acc + x);
        }
    }
    Stats { loss_sum: loss.iter().fold(0.0, |acc, &x| acc + x), correct, count: chunk.n }
}

/// The first `r` rows of a batch matrix, `width` samples each.
fn rows<T>(v: &[T], r: usize, width: usize) -> ArrayView2<'_, T> {
    ArrayView2::from_shape((r, width).strides((LD, 1)), v).expect("a batch matrix")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::loss::group_loss_grad_chunk;
    use ndarray::Array2;

    /// A chunk of n samples of p features, labels in 0..K, and R networks of the shape, from a
    /// cheap deterministic sequence, in `T`.
    fn problem<T: Element>(n: usize, shape: Shape, members: usize) -> (Array2<T>, Vec<u32>, Vec<Params<T>>) {
        let mut state = 0.377f64;
        let mut next = move || {
            state = (state * 3.9 + 0.123).fract();
            state - 0.5
        };
        let x = Array2::from_shape_fn((n, shape.n_features), |_| T::from_f64(3.0 * next()).expect("finite"));
        let k = shape.n_classes;
        let y = (0..n).map(|_| (((next() + 0.5) * k as f64) as usize % k) as u32).collect();
        let params = (0..members)
            .map(|_| {
                let mut params = Params::zeros(shape);
                params.as_flat_mut().mapv_inplace(|_| T::from_f64(2.0 * next()).expect("finite"));
                params
            })
            .collect();
        (x, y, params)
    }

    const SHAPES: [(usize, usize, usize); 7] =
        [(16, 16, 4), (12, 2, 3), (12, 12, 3), (1, 1, 2), (5, 7, 10), (64, 16, 17), (16, 4, 4)];
    const SIZES: [usize; 7] = [1, 15, 16, 17, 129, 300, 1024];

    /// The lanes form's loss totals and gradients against the row-major form's (which the
    /// finite-difference tests of [`super::super::loss`] check): the same counts, and sums
    /// that differ only by rounding, in both precisions, for every tail of a block and batch.
    fn agrees_with_row_major<T: Element>(tolerance: f64) {
        for &(p, m, k) in &SHAPES {
            let shape = Shape { n_features: p, n_hidden: m, n_classes: k };
            for n in SIZES {
                let (x, y, members) = problem::<T>(n, shape, 2);
                let refs: Vec<&Params<T>> = members.iter().collect();
                let mut weights = ForwardWeights::for_group(shape, 2);
                weights.set_group(&refs);
                let mut ws = Workspace::for_group(shape, n, 2);
                let mut want_grads = vec![Params::zeros(shape); 2];
                let mut want = vec![Stats::default(); 2];
                group_loss_grad_chunk(&refs, &weights, x.view(), &y, &mut ws, &mut want_grads, &mut want);
                let chunk = LaneChunk::new(x.view(), &y);
                let mut grads = vec![Params::zeros(shape); 2];
                let mut got = vec![Stats::default(); 2];
                group_chunk(&refs, &weights, &chunk, &mut ws, Some(&mut grads), &mut got);
                let what = format!("{} {shape:?} n = {n}", T::NAME);
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!((g.count, g.correct), (w.count, w.correct), "{what}");
                    let err = (g.loss_sum - w.loss_sum).abs() / w.loss_sum.abs().max(1.0);
                    assert!(err < tolerance, "{what}: loss {} against {}", g.loss_sum, w.loss_sum);
                }
                for (g, w) in grads.iter().zip(&want_grads) {
                    let scale =
                        w.as_flat().iter().fold(1.0f64, |a, v| a.max(v.to_f64().expect("float").abs()));
                    for (i, (a, b)) in g.as_flat().iter().zip(w.as_flat()).enumerate() {
                        let err = (a.to_f64().expect("float") - b.to_f64().expect("float")).abs() / scale;
                        assert!(err < tolerance, "{what}: gradient entry {i}, {a:?} against {b:?}");
                    }
                }
                let mut loss_only = vec![Stats::default(); 2];
                group_chunk(&refs, &weights, &chunk, &mut ws, None, &mut loss_only);
                assert_eq!(loss_only, got, "{what}: the loss alone");
                // Each member alone gets bitwise what it gets in the group.
                for (r, params) in refs.iter().enumerate() {
                    let mut alone = [Params::zeros(shape)];
                    let mut stats = [Stats::default()];
                    let weights = ForwardWeights::of(params);
                    group_chunk(
                        &[*params],
                        &weights,
                        &chunk,
                        &mut Workspace::new(shape, n),
                        Some(&mut alone),
                        &mut stats,
                    );
                    assert_eq!(stats[0], got[r], "{what}: member {r} alone");
                    assert!(same_bits(&alone[0], &grads[r]), "{what}: member {r}'s gradient alone");
                }
            }
        }
    }

    fn same_bits<T: Element>(a: &Params<T>, b: &Params<T>) -> bool {
        let bits = |v: &T| v.to_f64().expect("float").to_bits();
        a.as_flat().iter().zip(b.as_flat()).all(|(x, y)| bits(x) == bits(y))
    }

    #[test]
    fn the_lanes_form_agrees_with_the_row_major_form() {
        agrees_with_row_major::<f64>(1e-12);
        agrees_with_row_major::<f32>(2e-5);
    }

    /// The gradient against central differences of the lanes form's own loss, in f64.
    #[test]
    fn gradient_matches_central_finite_differences() {
        for (p, m, k, n) in [(3, 2, 3, 37), (5, 16, 4, 20), (2, 5, 10, 33)] {
            let shape = Shape { n_features: p, n_hidden: m, n_classes: k };
            let (x, y, members) = problem::<f64>(n, shape, 1);
            let chunk = LaneChunk::new(x.view(), &y);
            let mut ws = Workspace::new(shape, n);
            let loss = |params: &Params<f64>, ws: &mut Workspace<f64>| {
                let mut stats = [Stats::default()];
                group_chunk(&[params], &ForwardWeights::of(params), &chunk, ws, None, &mut stats);
                stats[0].loss_sum
            };
            let mut grad = [Params::zeros(shape)];
            let weights = ForwardWeights::of(&members[0]);
            group_chunk(&[&members[0]], &weights, &chunk, &mut ws, Some(&mut grad), &mut [Stats::default()]);
            let eps = 1e-5;
            for i in 0..shape.n_params() {
                let (mut plus, mut minus) = (members[0].clone(), members[0].clone());
                plus.as_flat_mut()[i] += eps;
                minus.as_flat_mut()[i] -= eps;
                let fd = (loss(&plus, &mut ws) - loss(&minus, &mut ws)) / (2.0 * eps);
                let an = grad[0].as_flat()[i];
                let err = (fd - an).abs() / an.abs().max(fd.abs()).max(1e-3);
                assert!(err < 1e-6, "{shape:?} parameter {i}: analytic {an}, fd {fd}");
            }
        }
    }

    /// A label outside the network's classes would find no class to match (its loss and G
    /// would go wrong silently): refused, as the row-major form's indexing refuses it.
    #[test]
    #[should_panic(expected = "a label outside the network's classes")]
    fn a_label_past_the_classes_is_refused() {
        let shape = Shape { n_features: 3, n_hidden: 2, n_classes: 3 };
        let (x, mut y, members) = problem::<f32>(20, shape, 1);
        y[7] = 3;
        let chunk = LaneChunk::new(x.view(), &y);
        let weights = ForwardWeights::of(&members[0]);
        let mut stats = [Stats::default()];
        group_chunk(&[&members[0]], &weights, &chunk, &mut Workspace::new(shape, 20), None, &mut stats);
    }

    #[test]
    fn the_rule_takes_small_networks_only() {
        let shape = |p, m, k| Shape { n_features: p, n_hidden: m, n_classes: k };
        assert!(suits(shape(16, 16, 4)) && suits(shape(12, 2, 3)) && suits(shape(784, 16, 10)));
        assert!(!suits(shape(16, 17, 4)) && !suits(shape(64, 32, 10)));
    }
}
