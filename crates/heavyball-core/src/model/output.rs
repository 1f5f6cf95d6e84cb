//! The output layer over a chunk, class-major: the softmax with the loss totals, and the
//! gradient Gᵀ = (softmax(F) − onehot(y))ᵀ with its per-class sums. Each is a vectorised kernel
//! in every build ([`simd_kernel`]), its loops along contiguous samples.

use super::Stats;
use crate::num::Element;
use crate::num::fastmath::simd_kernel;

simd_kernel!(
    /// The softmax of every sample's outputs, class-major. `ft` holds Fᵀ − c as K rows of
    /// n = `y.len()` samples; on return row k holds e^{f_k − max} with f = F + c, `sums`
    /// Σ_k e^{f_k − max} and `shift` f_y − max per sample. Returns the loss totals: per sample
    /// −f_y + log Σ_k exp(f_k), computed as log Σ_k e^{f_k − max} − (f_y − max) and added up in
    /// sample order.
    ///
    /// Every loop runs along contiguous samples, so it vectorises; no sum changes order with the
    /// vector width.
    pub(super) fn softmax_columns / softmax_columns_with<T: Element>(
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
    pub(super) fn output_gradient / output_gradient_with<T: Element>(gt: &mut [T], ld: usize, sums: &mut [T], y: &[u32], dc: &mut [T]) {
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

/// Samples per group of a lane's loss factors in [`output_lanes`].
pub(super) const LOSS_GROUP: usize = 128;

/// The scratch rows [`output_lanes`] works in: three of its batch width.
pub(super) const OUTPUT_ROWS: usize = 3;

simd_kernel!(
    /// The output layer of a batch in the lanes form ([`super::lanes`]): `f` holds F − c as K
    /// rows of `width` samples (a multiple of 16, rows `ld` apart), of which the first `valid`
    /// are real, with labels `y` (`width` of them). Adds the real samples' losses to the 16 f64
    /// lanes of `loss` (sample i to lane i mod 16) and returns how many real samples' largest
    /// output (the first, on ties; class 0 for NaN) is their label. With `gradient`, leaves
    /// G = softmax(F) − onehot(y) in `f`, zero in the columns past `valid`. `scratch` holds
    /// [`OUTPUT_ROWS`] rows of `width`, `best` one.
    ///
    /// A sample's loss is log Σ_k e^{f_k − max} − (f_y − max). Its first term is taken per
    /// lane and group of [`LOSS_GROUP`] samples as the log of a product, ln Π_i Σ_k e^{f_k −
    /// max}: each factor lies in [1, K], so a group's 8 per lane cannot overflow an f64, and the
    /// product, rounded in f64, is closer to the exact value than a sum of f32 logs. One ln per
    /// lane and group instead of one per sample. The groups start at multiples of
    /// [`LOSS_GROUP`] from the batch's start, so batches of whole groups give the same sums
    /// whatever their width. Every loop runs along the samples of one class row, so it
    /// vectorises.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn output_lanes / output_lanes_with<T: Element>(
        f: &mut [T],
        ld: usize,
        c: &[T],
        y: &[u32],
        valid: usize,
        loss: &mut [f64],
        scratch: &mut [T],
        best: &mut [u32],
        gradient: bool,
    ) -> usize {
        let width = y.len();
        let best = &mut best[..width];
        let (top, rest) = scratch.split_at_mut(width);
        let (own, rest) = rest.split_at_mut(width);
        let total = &mut rest[..width];
        for (class, (row, &ck)) in f.chunks_mut(ld).zip(c).enumerate() {
            let row = &mut row[..width];
            if class == 0 {
                for ((x, t), b) in row.iter_mut().zip(top.iter_mut()).zip(best.iter_mut()) {
                    *x = *x + ck;
                    *t = *x;
                    *b = 0;
                }
                continue;
            }
            let label = class as u32;
            for ((x, t), b) in row.iter_mut().zip(top.iter_mut()).zip(best.iter_mut()) {
                let v = *x + ck;
                let greater = v > *t;
                *x = v;
                *t = if greater { v } else { *t };
                *b = if greater { label } else { *b };
            }
        }
        let correct = best[..valid].iter().zip(y).filter(|(b, y)| b == y).count();
        // One pass per class: f − max, the label's term, e^{f − max} and the running sum.
        for (class, row) in f.chunks_mut(ld).take(c.len()).enumerate() {
            let row = &mut row[..width];
            let label = class as u32;
            let lanes = row.iter_mut().zip(top.iter()).zip(own.iter_mut()).zip(y).zip(total.iter_mut());
            for ((((x, &t), o), &yi), s) in lanes {
                let z = *x - t;
                *o = if yi == label { z } else { *o };
                let e = T::exp_of(z);
                *x = e;
                *s = if class == 0 { e } else { *s + e };
            }
        }
        // The empty columns: a factor of 1 and no own term.
        total[valid..].fill(T::one());
        own[valid..].fill(T::zero());
        for (total, own) in total.chunks(LOSS_GROUP).zip(own.chunks(LOSS_GROUP)) {
            let mut product = [1.0f64; 16];
            let mut owns = [0.0f64; 16];
            for (block, own) in total.chunks_exact(16).zip(own.chunks_exact(16)) {
                for (p, &t) in product.iter_mut().zip(block) {
                    *p *= t.to_f64().expect("float");
                }
                for (s, &o) in owns.iter_mut().zip(own) {
                    *s += o.to_f64().expect("float");
                }
            }
            for ((lane, &p), &o) in loss.iter_mut().zip(&product).zip(&owns) {
                *lane += crate::num::fastmath::ln_f64(p) - o;
            }
        }
        if gradient {
            for t in total.iter_mut() {
                *t = T::one() / *t;
            }
            for (class, row) in f.chunks_mut(ld).take(c.len()).enumerate() {
                let row = &mut row[..width];
                let label = class as u32;
                for ((x, &r), &yi) in row.iter_mut().zip(total.iter()).zip(y) {
                    let hit = if yi == label { T::one() } else { T::zero() };
                    *x = *x * r - hit;
                }
                row[valid..].fill(T::zero());
            }
        }
        correct
    }
);

/// Σ xs in an order fixed by the length alone: sixteen interleaved partial sums, then the
/// tail, so that it vectorises without depending on the vector width.
#[inline(always)]
pub(super) fn sum_in_lanes<T: Element>(xs: &[T]) -> T {
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

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

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
            assert_eq!(log_sum.to_bits(), crate::num::fastmath::ln_f64(sum).to_bits());
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

    /// The output layer's softmax and gradient in every build the CPU runs give the bits of
    /// the scalar build, on K = 5 classes of n = 37 samples (vector bodies and tails) in f32
    /// and f64.
    fn output_layer_builds_agree<T: Element>() {
        use crate::num::kernels::Build;
        let (k, n, ld) = (5, 37, 40);
        let y: Vec<u32> = (0..n).map(|i| (i * 7 % k) as u32).collect();
        let logits: Vec<T> = (0..k * ld)
            .map(|i| T::from_f64(((i * 37 % 101) as f64 - 50.0) * 0.37).expect("finite"))
            .collect();
        let c: Vec<T> = (0..k).map(|j| T::from_f64(j as f64 * 0.25 - 0.5).expect("finite")).collect();
        let run = |build: Build| {
            let mut ft = logits.clone();
            let (mut sums, mut shift, mut best) =
                (vec![T::zero(); n], vec![T::zero(); n], vec![T::zero(); n]);
            let stats = softmax_columns_with(build, &mut ft, ld, &c, &y, &mut sums, &mut shift, &mut best);
            let mut dc = vec![T::zero(); k];
            output_gradient_with(build, &mut ft, ld, &mut sums, &y, &mut dc);
            (stats, ft, dc)
        };
        let scalar = run(Build::Scalar);
        for build in Build::available() {
            assert_eq!(run(build), scalar, "{build:?} in {}", T::NAME);
        }
    }

    #[test]
    fn every_build_of_the_output_layer_gives_the_same_bits() {
        output_layer_builds_agree::<f32>();
        output_layer_builds_agree::<f64>();
    }

    /// The lanes form's output layer in every build the CPU runs gives the bits of the scalar
    /// build: loss lanes, count and G, with a partial last block, in f32 and f64.
    fn output_lanes_builds_agree<T: Element>() {
        use crate::num::kernels::Build;
        let (k, width, valid, ld) = (5, 160, 150, 176);
        let y: Vec<u32> = (0..width).map(|i| (i * 7 % k) as u32).collect();
        let logits: Vec<T> = (0..k * ld)
            .map(|i| T::from_f64(((i * 37 % 101) as f64 - 50.0) * 0.37).expect("finite"))
            .collect();
        let c: Vec<T> = (0..k).map(|j| T::from_f64(j as f64 * 0.25 - 0.5).expect("finite")).collect();
        let run = |build: Build| {
            let mut f = logits.clone();
            let mut loss = vec![0.5f64; 16];
            let (mut scratch, mut best) = (vec![T::zero(); OUTPUT_ROWS * width], vec![0u32; width]);
            let correct =
                output_lanes_with(build, &mut f, ld, &c, &y, valid, &mut loss, &mut scratch, &mut best, true);
            let bits: Vec<u64> = loss.iter().map(|v| v.to_bits()).collect();
            (correct, bits, f)
        };
        let scalar = run(Build::Scalar);
        for build in Build::available() {
            assert_eq!(run(build), scalar, "{build:?} in {}", T::NAME);
        }
        // The loss: each real sample's log Σ e^{f − max} − (f_y − max), to f64 rounding.
        let (_, bits, g) = scalar;
        let total: f64 = bits.iter().map(|&b| f64::from_bits(b) - 0.5).sum();
        let mut want = 0.0;
        for i in 0..valid {
            let f: Vec<f64> = (0..k)
                .map(|j| logits[j * ld + i].to_f64().expect("float") + c[j].to_f64().expect("float"))
                .collect();
            let max = f.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            want += max + f.iter().map(|v| (v - max).exp()).sum::<f64>().ln() - f[y[i] as usize];
        }
        let tolerance = if T::NAME == "f32" { 1e-5 } else { 1e-12 };
        assert!((total - want).abs() < tolerance * want.abs(), "{}: loss {total} against {want}", T::NAME);
        for j in 0..k {
            assert!(g[j * ld + valid..j * ld + width].iter().all(|v| *v == T::zero()), "empty columns of G");
        }
    }

    #[test]
    fn every_build_of_the_lanes_output_layer_gives_the_same_bits() {
        output_lanes_builds_agree::<f32>();
        output_lanes_builds_agree::<f64>();
    }
}
