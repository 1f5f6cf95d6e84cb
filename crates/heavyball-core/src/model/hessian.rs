//! Exact Hessian-vector products of Σ_i L(y_i, f(x_i)) over a chunk, by the R-operator
//! (Pearlmutter 1994): R{·} is the directional derivative along v = (v_W, v_b, v_V, v_c) of
//! every quantity of the forward and backward pass, so R{∇R} = H·v. With the gradient's
//! notation (see [`super::loss`]), A = G·V and D = A ⊙ (1 − H²):
//!
//! ```text
//! R{S} = X·v_Wᵀ + v_b                 R{H} = (1 − H²) ⊙ R{S}
//! R{F} = R{H}·Vᵀ + H·v_Vᵀ + v_c       R{G} = P ⊙ R{F} − P ⊙ (Σ_k P_k R{F}_k)   (per row)
//! R{dc} = Σ_rows R{G}                 R{dV} = R{G}ᵀ·H + Gᵀ·R{H}
//! R{A} = R{G}·V + G·v_V               R{D} = R{A} ⊙ (1 − H²) − 2 H ⊙ R{H} ⊙ A
//! R{db} = Σ_rows R{D}                 R{dW} = R{D}ᵀ·X
//! ```
//!
//! A [`Hessian`] holds what the forward and backward pass at θ leave (H, P, G and A) for one
//! chunk, so the many products at one θ that Lanczos asks for each cost the eight matrix
//! products above (two over p, six over K) and no forward pass. Each product pair that is a sum (R{F}, R{dV}, R{A}) is one chain of
//! fused multiply-adds ([`matmul_continue`]), and every row sum runs in row order: a product is
//! bitwise the same whatever runs beside it.

use ndarray::{Array2, ArrayView2, ArrayViewMut1, Axis};

use super::{Params, Shape};
use crate::num::Element;
use crate::num::linalg::{matmul, matmul_continue};

/// What the forward and backward pass at θ leave for Hessian-vector products on one chunk.
pub struct Hessian<T> {
    /// H = tanh(X·Wᵀ + b), n×M.
    h: Array2<T>,
    /// P = softmax(F), n×K.
    p: Array2<T>,
    /// G = P − onehot(y), n×K.
    g: Array2<T>,
    /// A = G·V, n×M.
    a: Array2<T>,
    /// Scratch for R{S} then R{H} (n×M), R{F} then R{G} (n×K), R{A} then R{D} (n×M).
    rh: Array2<T>,
    rg: Array2<T>,
    rd: Array2<T>,
}

impl<T: Element> Hessian<T> {
    /// The forward and backward pass at `params` over a chunk: `x` is n×p, `y` holds n labels
    /// in 0..K.
    ///
    /// **Panics** if shapes disagree.
    pub(crate) fn at(params: &Params<T>, x: ArrayView2<T>, y: &[u32]) -> Self {
        let Shape { n_features, n_hidden: m, n_classes: k } = params.shape();
        let n = x.nrows();
        assert_eq!((n, x.ncols()), (y.len(), n_features), "one label per row of x, p columns");
        let views = params.views();
        let mut h = Array2::zeros((n, m));
        matmul(x, views.w.t(), &mut h.view_mut());
        let bias = views.b.as_slice().expect("contiguous b");
        for mut row in h.rows_mut() {
            T::bias_tanh(row.as_slice_mut().expect("contiguous row"), bias);
        }
        let mut p = Array2::zeros((n, k));
        matmul(h.view(), views.v.t(), &mut p.view_mut());
        let c = views.c.as_slice().expect("contiguous c");
        for row in p.rows_mut() {
            softmax_row(row, c);
        }
        let mut g = p.clone();
        for (mut row, &yi) in g.rows_mut().into_iter().zip(y) {
            row[yi as usize] = row[yi as usize] - T::one();
        }
        let mut a = Array2::zeros((n, m));
        matmul(g.view(), views.v, &mut a.view_mut());
        let scratch = |cols| Array2::zeros((n, cols));
        Hessian { rh: scratch(m), rg: scratch(k), rd: scratch(m), h, p, g, a }
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.h.nrows()
    }

    /// True for a chunk of no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes H·v into `out`, the Hessian of Σ_i L(y_i, f(x_i)) over this chunk at the θ it was
    /// made at (`params`) applied to `v`.
    ///
    /// **Panics** if shapes disagree with the chunk's.
    pub(crate) fn product(
        &mut self,
        params: &Params<T>,
        x: ArrayView2<T>,
        v: &Params<T>,
        out: &mut Params<T>,
    ) {
        let n = self.len();
        assert_eq!(x.nrows(), n, "the chunk's rows");
        assert_eq!(params.shape(), v.shape(), "direction shape");
        assert_eq!(params.shape(), out.shape(), "output shape");
        let theta = params.views();
        let dir = v.views();
        let mut r = out.views_mut();
        let (h, p, g, a) = (self.h.view(), self.p.view(), self.g.view(), self.a.view());

        // R{S} = X·v_Wᵀ + v_b, then R{H} = (1 − H²) ⊙ R{S}, in place.
        let rh = &mut self.rh;
        matmul(x, dir.w.t(), &mut rh.view_mut());
        for (mut rs, hr) in rh.rows_mut().into_iter().zip(h.rows()) {
            for ((rs, &vb), &hj) in rs.iter_mut().zip(dir.b.iter()).zip(hr.iter()) {
                *rs = (*rs + vb) * (T::one() - hj * hj);
            }
        }
        // R{F} = [R{H} H]·[Vᵀ; v_Vᵀ] + v_c, then R{G} per row, in place.
        let rg = &mut self.rg;
        matmul(rh.view(), theta.v.t(), &mut rg.view_mut());
        matmul_continue(h, dir.v.t(), &mut rg.view_mut());
        for (mut rf, pr) in rg.rows_mut().into_iter().zip(p.rows()) {
            let mut mean = T::zero();
            for ((f, &vc), &pk) in rf.iter_mut().zip(dir.c.iter()).zip(pr.iter()) {
                *f = *f + vc;
                mean = mean + pk * *f;
            }
            for (f, &pk) in rf.iter_mut().zip(pr.iter()) {
                *f = pk * (*f - mean);
            }
        }
        // R{dc} = Σ_rows R{G}; R{dV} = [R{G}ᵀ Gᵀ]·[H; R{H}].
        sum_rows(rg.view(), r.c.view_mut());
        matmul(rg.t(), h, &mut r.v);
        matmul_continue(g.t(), rh.view(), &mut r.v);
        // R{A} = [R{G} G]·[V; v_V], then R{D} = R{A} ⊙ (1 − H²) − 2 H ⊙ R{H} ⊙ A, in place.
        let rd = &mut self.rd;
        matmul(rg.view(), theta.v, &mut rd.view_mut());
        matmul_continue(g, dir.v, &mut rd.view_mut());
        for (((mut ra, hr), rhr), ar) in rd.rows_mut().into_iter().zip(h.rows()).zip(rh.rows()).zip(a.rows())
        {
            for (((ra, &hj), &rhj), &aj) in ra.iter_mut().zip(hr.iter()).zip(rhr.iter()).zip(ar.iter()) {
                let two = T::one() + T::one();
                *ra = *ra * (T::one() - hj * hj) - two * hj * rhj * aj;
            }
        }
        // R{db} = Σ_rows R{D}; R{dW} = R{D}ᵀ·X.
        sum_rows(rd.view(), r.b.view_mut());
        matmul(rd.t(), x, &mut r.w);
    }
}

/// One row of F − c in, softmax(F) out: e^{f_k − max} / Σ_k e^{f_k − max}, with heavyball's
/// exp.
fn softmax_row<T: Element>(mut row: ArrayViewMut1<T>, c: &[T]) {
    let row = row.as_slice_mut().expect("contiguous row");
    let mut max = T::neg_infinity();
    for (f, &ck) in row.iter_mut().zip(c) {
        *f = *f + ck;
        max = if *f > max { *f } else { max };
    }
    for f in row.iter_mut() {
        *f = *f - max;
    }
    T::exp_in_place(row);
    let sum = row.iter().fold(T::zero(), |acc, &e| acc + e);
    for f in row.iter_mut() {
        *f = *f / sum;
    }
}

/// `out` = Σ over the rows of `m`, added in row order.
fn sum_rows<T: Element>(m: ArrayView2<T>, mut out: ArrayViewMut1<T>) {
    out.fill(T::zero());
    for row in m.axis_iter(Axis(0)) {
        out.zip_mut_with(&row, |o, &x| *o = *o + x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::loss::loss_grad_chunk;
    use crate::model::{ForwardWeights, Workspace};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    fn normal(rng: &mut ChaCha8Rng) -> f64 {
        StandardNormal.sample(rng)
    }

    fn random_problem(seed: u64, n: usize, shape: Shape) -> (Array2<f64>, Vec<u32>, Params<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, shape.n_features), |_| normal(&mut rng));
        let y = (0..n).map(|_| rng.random_range(0..shape.n_classes as u32)).collect();
        let mut params = Params::<f64>::init(shape, seed);
        for x in params.as_flat_mut().iter_mut() {
            *x += 0.4 * normal(&mut rng);
        }
        (x, y, params)
    }

    fn random_direction(seed: u64, shape: Shape) -> Params<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut v = Params::zeros(shape);
        v.as_flat_mut().iter_mut().for_each(|x| *x = normal(&mut rng));
        v
    }

    fn gradient(params: &Params<f64>, x: &Array2<f64>, y: &[u32]) -> Params<f64> {
        let mut ws = Workspace::new(params.shape(), x.nrows());
        let mut grad = Params::zeros(params.shape());
        loss_grad_chunk(params, &ForwardWeights::of(params), x.view(), y, &mut ws, &mut grad);
        grad
    }

    fn hvp(params: &Params<f64>, x: &Array2<f64>, y: &[u32], v: &Params<f64>) -> Params<f64> {
        let mut out = Params::zeros(params.shape());
        Hessian::at(params, x.view(), y).product(params, x.view(), v, &mut out);
        out
    }

    fn dot(a: &Params<f64>, b: &Params<f64>) -> f64 {
        a.as_flat().iter().zip(b.as_flat().iter()).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn products_match_central_differences_of_the_gradient() {
        let shapes =
            [(1, 1, 2, 1), (3, 2, 3, 7), (5, 4, 3, 12), (7, 9, 4, 20), (2, 6, 10, 33), (4, 3, 2, 50)];
        for (seed, &(p, m, k, n)) in shapes.iter().enumerate() {
            let shape = Shape { n_features: p, n_hidden: m, n_classes: k };
            let (x, y, params) = random_problem(seed as u64, n, shape);
            let v = random_direction(100 + seed as u64, shape);
            let hv = hvp(&params, &x, &y, &v);
            // (∇R(θ + εv) − ∇R(θ − εv)) / 2ε, whose error is O(ε²).
            let eps = 1e-5;
            let step = |sign: f64| {
                let mut t = params.clone();
                t.as_flat_mut().zip_mut_with(&v.as_flat(), |a, &b| *a += sign * eps * b);
                gradient(&t, &x, &y)
            };
            let (plus, minus) = (step(1.0), step(-1.0));
            let scale = hv.as_flat().iter().fold(0.0f64, |m, x| m.max(x.abs()));
            for i in 0..shape.n_params() {
                let fd = (plus.as_flat()[i] - minus.as_flat()[i]) / (2.0 * eps);
                let an = hv.as_flat()[i];
                let err = (fd - an).abs() / scale.max(1e-3);
                assert!(err < 1e-6, "shape {shape:?} entry {i}: product {an}, differences {fd}");
            }
        }
    }

    #[test]
    fn products_are_symmetric() {
        let shape = Shape { n_features: 5, n_hidden: 6, n_classes: 4 };
        let (x, y, params) = random_problem(7, 40, shape);
        for seed in 0..5 {
            let (u, v) = (random_direction(2 * seed, shape), random_direction(2 * seed + 1, shape));
            let (uhv, vhu) = (dot(&u, &hvp(&params, &x, &y, &v)), dot(&v, &hvp(&params, &x, &y, &u)));
            assert!((uhv - vhu).abs() <= 1e-12 * uhv.abs().max(1.0), "uᵀHv {uhv} against vᵀHu {vhu}");
        }
    }

    #[test]
    fn the_output_bias_block_has_the_closed_form_hessian() {
        // With V = 0 and c = 0 every sample's outputs are 0, so P = 1/K everywhere and the
        // Hessian's c block is Σ_i (diag(P) − P·Pᵀ) = N·(I/K − 11ᵀ/K²), whatever x, y, W, b.
        let shape = Shape { n_features: 3, n_hidden: 4, n_classes: 5 };
        let (x, y, mut params) = random_problem(3, 30, shape);
        params.views_mut().v.fill(0.0);
        params.views_mut().c.fill(0.0);
        let (n, k) = (30.0, 5.0);
        for j in 0..5 {
            let mut e = Params::zeros(shape);
            e.views_mut().c[j] = 1.0;
            let column = hvp(&params, &x, &y, &e);
            for i in 0..5 {
                let expected = n * (if i == j { 1.0 / k } else { 0.0 } - 1.0 / (k * k));
                assert!((column.views().c[i] - expected).abs() < 1e-12, "H_c[{i}, {j}]");
            }
        }
    }

    #[test]
    fn a_hessian_gives_the_same_products_again_and_in_f32_close_to_f64() {
        let shape = Shape { n_features: 4, n_hidden: 5, n_classes: 3 };
        let (x, y, params) = random_problem(11, 64, shape);
        let v = random_direction(5, shape);
        let mut hessian = Hessian::at(&params, x.view(), &y);
        let (mut a, mut b) = (Params::zeros(shape), Params::zeros(shape));
        hessian.product(&params, x.view(), &v, &mut a);
        hessian.product(&params, x.view(), &random_direction(6, shape), &mut b);
        hessian.product(&params, x.view(), &v, &mut b);
        assert_eq!(a, b);
        let cast = |p: &Params<f64>| {
            let mut out = Params::<f32>::zeros(shape);
            out.as_flat_mut().zip_mut_with(&p.as_flat(), |o, &x| *o = x as f32);
            out
        };
        let x32 = x.mapv(|v| v as f32);
        let mut c32 = Hessian::at(&cast(&params), x32.view(), &y);
        let mut out32 = Params::<f32>::zeros(shape);
        c32.product(&cast(&params), x32.view(), &cast(&v), &mut out32);
        let scale = a.as_flat().iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for (x32, x64) in out32.as_flat().iter().zip(a.as_flat().iter()) {
            assert!((*x32 as f64 - x64).abs() < 1e-4 * scale, "{x32} against {x64}");
        }
    }
}
