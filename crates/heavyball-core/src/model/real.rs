//! The precisions a network trains in, f32 and f64, with the model's entry points compiled for
//! each of them here, once.
//!
//! The evaluations are generic over the element type and the kernel's builds, epilogues and
//! tiles; instantiated in every crate that calls them, they would be compiled again there (and
//! twice for that crate's tests). So the crates above call them only through [`Real`], whose
//! methods for f32 and f64 are ordinary functions of this crate: they link to the code compiled
//! here and never re-optimise a kernel.

use ndarray::ArrayView2;

use super::{ForwardWeights, Hessian, LaneChunk, Params, Stats, Workspace, hessian, lanes, loss, momentum};
use crate::num::Element;

mod sealed {
    /// Only f32 and f64 are [`super::Real`]: the instantiations live in this crate.
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A precision a network trains in (`f32` or `f64`): the [`Element`] operations, and the
/// model's loss, gradient, Hessian-vector products and step, compiled in this crate.
pub trait Real: Element + sealed::Sealed {
    /// Loss totals of one network over a chunk, without the gradient: `x` is n×p, `y` holds n
    /// labels in 0..K; `weights` are [`ForwardWeights::of`] `params`.
    ///
    /// **Panics** if shapes disagree or n exceeds the workspace.
    fn loss_chunk(
        params: &Params<Self>,
        weights: &ForwardWeights<Self>,
        x: ArrayView2<Self>,
        y: &[u32],
        ws: &mut Workspace<Self>,
    ) -> Stats;

    /// Loss totals and the gradient of Σ_i L(y_i, f(x_i)) over a chunk, which overwrites
    /// `grad`; as [`Real::loss_chunk`] otherwise.
    fn loss_grad_chunk(
        params: &Params<Self>,
        weights: &ForwardWeights<Self>,
        x: ArrayView2<Self>,
        y: &[u32],
        ws: &mut Workspace<Self>,
        grad: &mut Params<Self>,
    ) -> Stats;

    /// Loss totals of R networks of one shape over a chunk (a fused group), into `stats` (one
    /// per member): `weights` are `members` laid out by [`ForwardWeights::set_group`]. Each
    /// member's totals are bitwise those of [`Real::loss_chunk`] on it alone.
    ///
    /// **Panics** if shapes or member counts disagree or n exceeds the workspace.
    fn group_loss_chunk(
        members: &[&Params<Self>],
        weights: &ForwardWeights<Self>,
        x: ArrayView2<Self>,
        y: &[u32],
        ws: &mut Workspace<Self>,
        stats: &mut [Stats],
    );

    /// Loss totals and gradients of R networks of one shape over a chunk, as one wide network:
    /// `grads[r]` and `stats[r]` receive member r's, bitwise what [`Real::loss_grad_chunk`]
    /// gives on it alone.
    ///
    /// **Panics** if shapes or member counts disagree or n exceeds the workspace.
    fn group_loss_grad_chunk(
        members: &[&Params<Self>],
        weights: &ForwardWeights<Self>,
        x: ArrayView2<Self>,
        y: &[u32],
        ws: &mut Workspace<Self>,
        grads: &mut [Params<Self>],
        stats: &mut [Stats],
    );

    /// [`Real::group_loss_chunk`] for small networks ([`lanes::suits`]) with the samples in the
    /// vector lanes, on the chunk (and its labels) laid out by [`LaneChunk`]; `weights` are
    /// `members` laid out by [`ForwardWeights::set_group`]. Its sums over
    /// samples run in 16 lanes ([`lanes::NUMERICS`]): not the row-major form's bits.
    ///
    /// **Panics** if shapes, labels or member counts disagree.
    fn lanes_group_loss_chunk(
        members: &[&Params<Self>],
        weights: &ForwardWeights<Self>,
        chunk: &LaneChunk<Self>,
        ws: &mut Workspace<Self>,
        stats: &mut [Stats],
    );

    /// [`Real::group_loss_grad_chunk`] for small networks with the samples in the vector lanes;
    /// each member's totals and gradient are bitwise what it gets alone.
    ///
    /// **Panics** if shapes, labels or member counts disagree.
    fn lanes_group_loss_grad_chunk(
        members: &[&Params<Self>],
        weights: &ForwardWeights<Self>,
        chunk: &LaneChunk<Self>,
        ws: &mut Workspace<Self>,
        grads: &mut [Params<Self>],
        stats: &mut [Stats],
    );

    /// The forward and backward pass at `params` over a chunk that Hessian-vector products at
    /// that point reuse: `x` is n×p, `y` holds n labels in 0..K.
    ///
    /// **Panics** if shapes disagree.
    fn hessian_at(params: &Params<Self>, x: ArrayView2<Self>, y: &[u32]) -> Hessian<Self>;

    /// Writes H·v into `out`: the Hessian of Σ_i L(y_i, f(x_i)) over the chunk `x` at the θ
    /// `hessian` was made at (`params`), applied to `v`.
    ///
    /// **Panics** if shapes disagree with the chunk's.
    fn hessian_product(
        hessian: &mut Hessian<Self>,
        params: &Params<Self>,
        x: ArrayView2<Self>,
        v: &Params<Self>,
        out: &mut Params<Self>,
    );

    /// One heavy-ball step, in place: φ ← (1−α)·φ + α·∇, then θ ← θ − γ·φ.
    ///
    /// **Panics** if the shapes differ.
    fn momentum_step(
        theta: &mut Params<Self>,
        phi: &mut Params<Self>,
        grad: &Params<Self>,
        gamma: Self,
        alpha: Self,
    );
}

macro_rules! real_impl {
    ($t:ty) => {
        impl Real for $t {
            fn loss_chunk(
                params: &Params<$t>,
                weights: &ForwardWeights<$t>,
                x: ArrayView2<$t>,
                y: &[u32],
                ws: &mut Workspace<$t>,
            ) -> Stats {
                loss::loss_chunk(params, weights, x, y, ws)
            }

            fn loss_grad_chunk(
                params: &Params<$t>,
                weights: &ForwardWeights<$t>,
                x: ArrayView2<$t>,
                y: &[u32],
                ws: &mut Workspace<$t>,
                grad: &mut Params<$t>,
            ) -> Stats {
                loss::loss_grad_chunk(params, weights, x, y, ws, grad)
            }

            fn group_loss_chunk(
                members: &[&Params<$t>],
                weights: &ForwardWeights<$t>,
                x: ArrayView2<$t>,
                y: &[u32],
                ws: &mut Workspace<$t>,
                stats: &mut [Stats],
            ) {
                loss::group_loss_chunk(members, weights, x, y, ws, stats)
            }

            fn group_loss_grad_chunk(
                members: &[&Params<$t>],
                weights: &ForwardWeights<$t>,
                x: ArrayView2<$t>,
                y: &[u32],
                ws: &mut Workspace<$t>,
                grads: &mut [Params<$t>],
                stats: &mut [Stats],
            ) {
                loss::group_loss_grad_chunk(members, weights, x, y, ws, grads, stats)
            }

            fn lanes_group_loss_chunk(
                members: &[&Params<$t>],
                weights: &ForwardWeights<$t>,
                chunk: &LaneChunk<$t>,
                ws: &mut Workspace<$t>,
                stats: &mut [Stats],
            ) {
                lanes::group_chunk(members, weights, chunk, ws, None, stats)
            }

            fn lanes_group_loss_grad_chunk(
                members: &[&Params<$t>],
                weights: &ForwardWeights<$t>,
                chunk: &LaneChunk<$t>,
                ws: &mut Workspace<$t>,
                grads: &mut [Params<$t>],
                stats: &mut [Stats],
            ) {
                lanes::group_chunk(members, weights, chunk, ws, Some(grads), stats)
            }

            fn hessian_at(params: &Params<$t>, x: ArrayView2<$t>, y: &[u32]) -> Hessian<$t> {
                hessian::Hessian::at(params, x, y)
            }

            fn hessian_product(
                hessian: &mut Hessian<$t>,
                params: &Params<$t>,
                x: ArrayView2<$t>,
                v: &Params<$t>,
                out: &mut Params<$t>,
            ) {
                hessian.product(params, x, v, out)
            }

            fn momentum_step(
                theta: &mut Params<$t>,
                phi: &mut Params<$t>,
                grad: &Params<$t>,
                gamma: $t,
                alpha: $t,
            ) {
                momentum::step_inplace(theta, phi, grad, gamma, alpha)
            }
        }
    };
}

real_impl!(f32);
real_impl!(f64);
