//! The loss and its gradient over a chunk of samples, in matrix form, beside the
//! finite-difference tests that check them:
//!
//! ```text
//! S = X·Wᵀ + b      (n×M)      H = tanh(S)
//! F = H·Vᵀ + c      (n×K)      G = softmax(F) − onehot(y)
//! dc = Σ_rows G     dV = Gᵀ·H  (K×M)
//! D = (G·V) ⊙ (1 − H²)         (n×M)
//! db = Σ_rows D     dW = Dᵀ·X  (M×p)
//! ```

use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder, s};

use super::epilogues::{BiasTanh, TanhBackward};
use super::output::{output_gradient, softmax_columns};
use super::workspace::{backward_rows, class_stride, padded_classes};
use super::{ForwardWeights, Params, Shape, Workspace};
use crate::num::Element;
use crate::num::linalg::{matmul, matmul_continue, matmul_then};

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

/// The most bytes of H one block of [`hidden_into`] spans: half the L1 cache.
const TANH_BLOCK_BYTES: usize = 16 * 1024;

/// Rows of H up to this many bytes (64 f32 or 32 f64 values: a fused group's width) take bias
/// and tanh by blocks of whole rows; wider rows take them on the kernel's row segments.
const NARROW_ROW_BYTES: usize = 256;

/// H = tanh(X·[W₁; …; W_R]ᵀ + b) for a chunk of the R networks laid out in `weights`: `x` is
/// n×p; fills the first n rows of `ws.h`, n×(R·M) (member r in columns r·M..(r+1)·M). Every
/// element is the chain over p of a single network's S = X·Wᵀ, so its bits do not depend on
/// the other members.
///
/// **Panics** if `x` has more rows than the workspace or a column count other than p, or if
/// the workspace holds fewer members.
fn hidden_into<T: Element>(weights: &ForwardWeights<T>, x: ArrayView2<T>, ws: &mut Workspace<T>) {
    let n = x.nrows();
    let Shape { n_features: p, n_hidden: m, .. } = weights.shape;
    let rm = weights.members * m;
    assert!(weights.members <= ws.members, "a workspace for fewer members");
    let wt = ArrayView2::from_shape((p, rm), &weights.wt[..p * rm]).expect("Wᵀ shape");
    let bias = &weights.bias[..rm];
    if rm * std::mem::size_of::<T>() > NARROW_ROW_BYTES {
        // Wide rows: bias and tanh on each row segment as the kernel finishes it, in L1.
        let mut h = ArrayViewMut2::from_shape((n, rm), &mut ws.h[..n * rm]).expect("H shape");
        matmul_then(x, wt, &mut h, &mut BiasTanh { bias });
        return;
    }
    // Narrow rows (small networks and fused groups): the product of each block of rows that fits
    // half the L1 cache, then bias and tanh along its whole rows while it is still there. A tile's
    // row segments would be only a few vectors long here, and tanh's vector loop would spend much
    // of its time in their remainders. (Rows split into blocks keep every element's chain.)
    let rows = (TANH_BLOCK_BYTES / (rm * std::mem::size_of::<T>()).max(1)).max(8);
    let mut start = 0;
    while start < n {
        let end = (start + rows).min(n);
        let block = &mut ws.h[start * rm..end * rm];
        let mut h = ArrayViewMut2::from_shape((end - start, rm), &mut *block).expect("H shape");
        matmul(x.slice(s![start..end, ..]), wt, &mut h);
        for row in block.chunks_exact_mut(rm) {
            T::bias_tanh(row, bias);
        }
        start = end;
    }
}

/// Fᵀ − c = (H_r·V_rᵀ)ᵀ for member r of the chunk's n samples, after [`hidden_into`]: fills K
/// rows of `ws.gt` from row r·K, [`class_stride`] apart (the bias c is added by
/// [`softmax_columns`]). The product writes F row-major, on whole vectors of padded classes,
/// and the K real columns are then copied class-major.
fn output_into<T: Element>(weights: &ForwardWeights<T>, r: usize, n: usize, ws: &mut Workspace<T>) {
    let Shape { n_hidden: m, n_classes: k, .. } = weights.shape;
    let rm = weights.members * m;
    let h = ArrayView2::from_shape((n, rm), &ws.h[..n * rm]).expect("H shape");
    let h = h.slice(s![.., r * m..(r + 1) * m]);
    let kp = padded_classes::<T>(k);
    let vt = ArrayView2::from_shape((m, kp), weights.vt(r)).expect("Vᵀ shape");
    let mut f = ArrayViewMut2::from_shape((n, kp), &mut ws.f[..n * kp]).expect("F shape");
    matmul(h, vt, &mut f);
    let ld = class_stride(n);
    let gt = &mut ws.gt[r * k * ld..][..k * ld];
    for (class, row) in gt.chunks_exact_mut(ld).enumerate() {
        copy_column(&ws.f[class..], kp, &mut row[..n]);
    }
}

/// out[i] = column[i·stride] for every i: one column of a row-major matrix, made contiguous.
///
/// **Panics** if `column` is too short.
#[inline]
fn copy_column<T: Copy>(column: &[T], stride: usize, out: &mut [T]) {
    let Some(last) = out.len().checked_sub(1) else { return };
    assert!(last * stride < column.len(), "a column within its matrix");
    let base = column.as_ptr();
    for (i, o) in out.iter_mut().enumerate() {
        // SAFETY: i ≤ last, and last·stride is in bounds, checked above.
        *o = unsafe { *base.add(i * stride) };
    }
}

/// Loss totals of the network over a chunk, without gradients: `x` is n×p, `y` holds n labels
/// in 0..K; `weights` are [`ForwardWeights::of`] `params`.
///
/// **Panics** if shapes disagree or n exceeds the workspace.
pub(crate) fn loss_chunk<T: Element>(
    params: &Params<T>,
    weights: &ForwardWeights<T>,
    x: ArrayView2<T>,
    y: &[u32],
    ws: &mut Workspace<T>,
) -> Stats {
    let mut stats = [Stats::default()];
    group_loss_chunk(&[params], weights, x, y, ws, &mut stats);
    stats[0]
}

/// Loss totals of R networks of one shape over a chunk, without gradients, into `stats` (one
/// per member): `x` is n×p, `y` holds n labels in 0..K; `weights` are `members` laid out by
/// [`ForwardWeights::set_group`]. Each member's totals are bitwise those of [`loss_chunk`] on
/// it alone.
///
/// **Panics** if shapes or member counts disagree or n exceeds the workspace.
pub(crate) fn group_loss_chunk<T: Element>(
    members: &[&Params<T>],
    weights: &ForwardWeights<T>,
    x: ArrayView2<T>,
    y: &[u32],
    ws: &mut Workspace<T>,
    stats: &mut [Stats],
) {
    assert_eq!(x.nrows(), y.len(), "one label per row of x");
    assert_eq!((members.len(), stats.len()), (weights.members, weights.members), "member counts");
    hidden_into(weights, x, ws);
    for (r, (params, out)) in members.iter().zip(stats).enumerate() {
        *out = member_loss(params, weights, r, y, ws);
    }
}

/// Member r's loss totals over the chunk whose H [`hidden_into`] left in the workspace: F, then
/// the softmax in place over Fᵀ (its K rows of `ws.gt`, from row r·K), with `ws.sums` left
/// holding each sample's Σ_k e^{f_k − max} for [`output_gradient`].
fn member_loss<T: Element>(
    params: &Params<T>,
    weights: &ForwardWeights<T>,
    r: usize,
    y: &[u32],
    ws: &mut Workspace<T>,
) -> Stats {
    let (n, k) = (y.len(), weights.shape.n_classes);
    let ld = class_stride(n);
    output_into(weights, r, n, ws);
    let c = params.views().c.to_slice().expect("contiguous c");
    let gt = &mut ws.gt[r * k * ld..][..k * ld];
    softmax_columns(gt, ld, c, y, &mut ws.sums, &mut ws.shift, &mut ws.best)
}

/// Loss totals and the gradient of Σ_i L(y_i, f(x_i)) over a chunk: `x` is n×p, `y` holds n
/// labels in 0..K; `weights` are [`ForwardWeights::of`] `params`; the gradient overwrites
/// `grad`.
///
/// **Panics** if shapes disagree or n exceeds the workspace.
pub(crate) fn loss_grad_chunk<T: Element>(
    params: &Params<T>,
    weights: &ForwardWeights<T>,
    x: ArrayView2<T>,
    y: &[u32],
    ws: &mut Workspace<T>,
    grad: &mut Params<T>,
) -> Stats {
    let mut stats = [Stats::default()];
    group_loss_grad_chunk(&[params], weights, x, y, ws, std::slice::from_mut(grad), &mut stats);
    stats[0]
}

/// Loss totals and gradients of R networks of one shape over a chunk, as one wide network:
/// `grads[r]` and `stats[r]` receive member r's, bitwise what [`loss_grad_chunk`] gives on it
/// alone. S = X·[W₁; …; W_R]ᵀ and tanh run over all members at once and dW = Dᵀ·X is one
/// product for all of them; the output layer and the softmax run member by member.
///
/// **Panics** if shapes or member counts disagree or n exceeds the workspace.
pub(crate) fn group_loss_grad_chunk<T: Element>(
    members: &[&Params<T>],
    weights: &ForwardWeights<T>,
    x: ArrayView2<T>,
    y: &[u32],
    ws: &mut Workspace<T>,
    grads: &mut [Params<T>],
    stats: &mut [Stats],
) {
    let rm = members.len() * weights.shape.n_hidden;
    let step = backward_rows::<T>(x.nrows(), x.ncols(), rm);
    loss_grad_in_blocks(members, weights, x, y, ws, grads, stats, step)
}

/// [`group_loss_grad_chunk`] with the backward pass in blocks of `step` rows (≥ 1).
#[allow(clippy::too_many_arguments)]
fn loss_grad_in_blocks<T: Element>(
    members: &[&Params<T>],
    weights: &ForwardWeights<T>,
    x: ArrayView2<T>,
    y: &[u32],
    ws: &mut Workspace<T>,
    grads: &mut [Params<T>],
    stats: &mut [Stats],
    step: usize,
) {
    assert_eq!(x.nrows(), y.len(), "one label per row of x");
    let count = weights.members;
    assert_eq!((members.len(), grads.len(), stats.len()), (count, count, count), "member counts");
    hidden_into(weights, x, ws);
    let n = x.nrows();
    let Shape { n_features: p, n_hidden: m, n_classes: k } = weights.shape;
    let (rm, ld) = (count * m, class_stride(n));

    // Per member: F, then G = softmax(F) − onehot(y) in place over Fᵀ, and dc = Σ_rows G.
    for (r, ((params, grad), out)) in members.iter().zip(grads.iter_mut()).zip(stats).enumerate() {
        assert_eq!(params.shape(), grad.shape(), "gradient shape");
        *out = member_loss(params, weights, r, y, ws);
        let gt = &mut ws.gt[r * k * ld..][..k * ld];
        let mut views = grad.views_mut();
        output_gradient(gt, ld, &mut ws.sums, y, views.c.as_slice_mut().expect("contiguous dc"));
        views.b.fill(T::zero());
    }

    // The backward products, in blocks of rows (see [`backward_rows`]) so that a block's rows
    // of H, D and X are still in the L2 cache when the next product reads them. Every product
    // goes on with its chains from the block before, and db sums D's rows in order, so the
    // gradient is bitwise the one of whole-chunk products, whatever the block size; dW of all
    // members is one product whose rows are each member's chains.
    let h = ArrayView2::from_shape((n, rm), &ws.h[..n * rm]).expect("H shape");
    let gts = &ws.gt;
    for block in 0..n.div_ceil(step).max(1) {
        let rows = block * step..((block + 1) * step).min(n);
        let (first, len) = (block == 0, rows.len());
        let h_rows = h.slice(s![rows.clone(), ..]);
        let h_flat = h_rows.to_slice().expect("whole rows of the workspace");
        let mut d = ArrayViewMut2::from_shape((len, rm), &mut ws.d[..len * rm]).expect("D shape");
        for (r, (params, grad)) in members.iter().zip(grads.iter_mut()).enumerate() {
            let gt = ArrayView2::from_shape((k, n).strides((ld, 1)), &gts[r * k * ld..][..k * ld])
                .expect("Gᵀ shape");
            let gt = gt.slice(s![.., rows.clone()]);
            let h_r = h_rows.slice(s![.., r * m..(r + 1) * m]);
            let mut out = grad.views_mut();
            // dV = Gᵀ·H.
            if first {
                matmul(gt, h_r, &mut out.v)
            } else {
                matmul_continue(gt, h_r, &mut out.v)
            }
            // D = (G·V) ⊙ (1 − H²); db = Σ_rows D.
            let mut d_r = d.slice_mut(s![.., r * m..(r + 1) * m]);
            let db = out.b.as_slice_mut().expect("contiguous db");
            let mut backward = TanhBackward { h: &h_flat[r * m..], m: rm, db };
            matmul_then(gt.t(), params.views().v, &mut d_r, &mut backward);
        }
        // dW = Dᵀ·X: straight into the gradient for one network, for all members at once
        // into the workspace for a group.
        let x_rows = x.slice(s![rows, ..]);
        let mut dw = if count == 1 {
            grads[0].views_mut().w
        } else {
            ArrayViewMut2::from_shape((rm, p), &mut ws.dw[..rm * p]).expect("dW shape")
        };
        if first { matmul(d.t(), x_rows, &mut dw) } else { matmul_continue(d.t(), x_rows, &mut dw) }
    }
    if count > 1 {
        for (grad, dw) in grads.iter_mut().zip(ws.dw.chunks_exact(m * p)) {
            grad.views_mut().w.as_slice_mut().expect("contiguous dW").copy_from_slice(dw);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

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
            for i in 0..shape.n_params() {
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
        for start in (0..50).step_by(16) {
            let r = start..(start + 16).min(50);
            stats.add(&loss_grad_chunk(
                &params,
                &weights,
                x.slice(s![r.clone(), ..]),
                &y[r],
                &mut ws,
                &mut part,
            ));
            sum.add_assign(&part);
        }
        assert_eq!(stats.count, 50);
        assert_eq!(stats.correct, whole_stats.correct);
        assert_relative_eq!(stats.loss_sum, whole_stats.loss_sum, max_relative = 1e-12);
        for (a, b) in sum.as_flat().iter().zip(whole.as_flat()) {
            assert_relative_eq!(a, b, max_relative = 1e-10, epsilon = 1e-12);
        }
    }

    /// One network's loss and gradient over a chunk with the backward pass in blocks of `step`.
    fn in_blocks(
        params: &Params<f64>,
        x: ArrayView2<f64>,
        y: &[u32],
        ws: &mut Workspace<f64>,
        step: usize,
    ) -> (Stats, Params<f64>) {
        let mut grad = [Params::zeros(params.shape())];
        let mut stats = [Stats::default()];
        let weights = ForwardWeights::of(params);
        loss_grad_in_blocks(&[params], &weights, x, y, ws, &mut grad, &mut stats, step);
        let [grad] = grad;
        (stats[0], grad)
    }

    #[test]
    fn backward_blocks_give_bitwise_the_whole_chunk_gradient() {
        let shape = Shape { n_features: 6, n_hidden: 7, n_classes: 4 };
        let (x, y, params) = random_problem(21, 300, shape);
        let mut ws = Workspace::new(shape, 300);
        let whole = in_blocks(&params, x.view(), &y, &mut ws, 300);
        for step in [1, 7, 128, 150, 299] {
            let blocked = in_blocks(&params, x.view(), &y, &mut ws, step);
            assert_eq!(blocked, whole, "blocks of {step} rows");
        }
        // The rule blocks only chunks whose rows of X, H and D exceed the budget.
        assert_eq!(backward_rows::<f32>(1024, 64, 64), 1024);
        assert_eq!(backward_rows::<f64>(1024, 64, 128), 256);
        assert_eq!(backward_rows::<f32>(1024, 784, 128), 128);
        assert_eq!(backward_rows::<f64>(0, 64, 128), 1);
    }

    /// R networks of one shape evaluated as a group give each member bitwise its own loss and
    /// gradient, in both precisions, at widths that reach every tile and tail of the kernel,
    /// whichever members are grouped, in any order, with blocked backward passes too.
    fn group_equals_singles<T: Element>() {
        let shapes = [(16, 4, 4, 300), (5, 3, 2, 77), (9, 8, 10, 130), (16, 16, 4, 1024), (3, 33, 3, 40)];
        for (seed, &(p, m, k, n)) in shapes.iter().enumerate() {
            let shape = Shape { n_features: p, n_hidden: m, n_classes: k };
            let (x, y, _) = random_problem(seed as u64, n, shape);
            let x = x.mapv(|v| T::from_f64(v).expect("finite"));
            let members: Vec<Params<T>> = (0..7)
                .map(|r| {
                    let p64 = random_problem(100 + r, 1, shape).2;
                    let mut params = Params::zeros(shape);
                    params
                        .as_flat_mut()
                        .zip_mut_with(&p64.as_flat(), |t, &v| *t = T::from_f64(v).expect("finite"));
                    params
                })
                .collect();
            let single = |params: &Params<T>| {
                let mut ws = Workspace::new(shape, n);
                let mut grad = Params::zeros(shape);
                let weights = ForwardWeights::of(params);
                let stats = loss_grad_chunk(params, &weights, x.view(), &y, &mut ws, &mut grad);
                let loss = loss_chunk(params, &weights, x.view(), &y, &mut ws);
                assert_eq!(loss, stats);
                (stats, grad)
            };
            let want: Vec<_> = members.iter().map(single).collect();
            let mut ws = Workspace::for_group(shape, n, 7);
            let mut weights = ForwardWeights::for_group(shape, 7);
            for pick in [vec![0, 1, 2, 3, 4, 5, 6], vec![3, 1], vec![6], vec![5, 0, 2, 4]] {
                let group: Vec<&Params<T>> = pick.iter().map(|&r| &members[r]).collect();
                weights.set_group(&group);
                let mut grads = vec![Params::zeros(shape); group.len()];
                let mut stats = vec![Stats::default(); group.len()];
                for step in [n, 64] {
                    loss_grad_in_blocks(
                        &group,
                        &weights,
                        x.view(),
                        &y,
                        &mut ws,
                        &mut grads,
                        &mut stats,
                        step,
                    );
                    for ((&r, grad), s) in pick.iter().zip(&grads).zip(&stats) {
                        let what = format!("{} {shape:?} member {r} of {pick:?}, blocks of {step}", T::NAME);
                        assert_eq!((s, grad), (&want[r].0, &want[r].1), "{what}");
                    }
                }
                let mut loss_only = vec![Stats::default(); group.len()];
                group_loss_chunk(&group, &weights, x.view(), &y, &mut ws, &mut loss_only);
                assert_eq!(loss_only, stats);
            }
        }
    }

    #[test]
    fn a_group_gives_each_member_bitwise_its_own_loss_and_gradient() {
        group_equals_singles::<f32>();
        group_equals_singles::<f64>();
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
}
