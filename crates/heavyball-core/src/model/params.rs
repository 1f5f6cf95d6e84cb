//! The parameters θ = (W, b, V, c) of f(x) = c + V·tanh(b + W·x): their shapes, one flat
//! buffer holding the four blocks, views of the blocks, and the seeded initialisation.

use ndarray::{Array1, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::num::Element;

/// Four parameter blocks whose shapes do not fit together.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("inconsistent shapes: W {w:?}, b ({b}), V {v:?}, c ({c})")]
pub struct ShapeError {
    /// W's rows and columns.
    pub w: (usize, usize),
    /// b's length.
    pub b: usize,
    /// V's rows and columns.
    pub v: (usize, usize),
    /// c's length.
    pub c: usize,
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
    pub fn n_params(&self) -> usize {
        let (p, m, k) = (self.n_features, self.n_hidden, self.n_classes);
        m * p + m + k * m + k
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

impl<T: Element> Params<T> {
    /// All zeros.
    pub fn zeros(shape: Shape) -> Self {
        Params { shape, flat: Array1::zeros(shape.n_params()) }
    }

    /// Builds parameters from the four blocks.
    ///
    /// **Errors** if the blocks' shapes disagree with each other or one is empty.
    pub fn from_blocks(
        w: ArrayView2<T>,
        b: ArrayView1<T>,
        v: ArrayView2<T>,
        c: ArrayView1<T>,
    ) -> Result<Self, ShapeError> {
        let (m, p) = w.dim();
        let k = c.len();
        if b.len() != m || v.dim() != (k, m) || m == 0 || p == 0 || k == 0 {
            return Err(ShapeError { w: w.dim(), b: b.len(), v: v.dim(), c: c.len() });
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
    /// Adds `other` into these parameters, entry by entry.
    ///
    /// **Panics** if the shapes differ.
    pub fn add_assign(&mut self, other: &Params<T>) {
        assert_eq!(self.shape, other.shape, "parameter shapes");
        self.flat.zip_mut_with(&other.flat, |a, &b| *a = *a + b);
    }

    /// Multiplies every entry by `factor`, in place.
    pub fn scale_inplace(&mut self, factor: T) {
        self.flat.mapv_inplace(|x| x * factor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn blocks_round_trip_and_mismatched_blocks_are_refused() {
        let shape = Shape { n_features: 3, n_hidden: 2, n_classes: 4 };
        assert_eq!(shape.n_params(), 2 * 3 + 2 + 4 * 2 + 4);
        let p = Params::<f64>::init(shape, 1);
        let v = p.views();
        assert_eq!(Params::from_blocks(v.w, v.b, v.v, v.c).unwrap(), p);
        let e = Params::from_blocks(v.w, v.b, v.v.t(), v.c).unwrap_err();
        assert_eq!(e.to_string(), "inconsistent shapes: W (2, 3), b (2), V (2, 4), c (4)");
    }
}
