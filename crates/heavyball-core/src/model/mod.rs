//! The network and its mathematics: parameters, forward pass, loss and gradient side by side,
//! Hessian-vector products, and the momentum step.
//!
//! f(x) = c + V·tanh(b + W·x) with W M×p, b ∈ R^M, V K×M, c ∈ R^K, and the per-sample loss
//! L(y, f) = −f_y + log Σ_k exp(f_k), evaluated with a stable log-sum-exp. Over a chunk of n
//! samples (rows of the n×p matrix X) everything is matrix products ([`loss`]).
//!
//! No other module knows how the four parameter blocks are laid out: they live in one flat
//! buffer ([`Params`]) so that momentum updates and gradient reductions are single loops.
//!
//! - [`real`]: [`Real`], f32 and f64 with every entry point below compiled for them here;
//! - [`params`]: the shapes, the flat buffer and its views, the seeded initialisation;
//! - [`loss`]: loss and gradient over a chunk, one network or a fused group ([`Stats`]);
//! - [`lanes`]: the same for small networks with the samples in the vector lanes;
//! - [`hessian`]: exact Hessian-vector products over a chunk ([`Hessian`]);
//! - [`momentum`]: the heavy-ball step and its stability limit on a quadratic;
//! - [`workspace`]: the scratch buffers an evaluation works in;
//! - `output`: the output layer, class-major: softmax, loss totals and its gradient;
//! - `epilogues`: the steps that ride on the product kernel (bias + tanh, the tanh backward).

mod epilogues;
pub mod hessian;
pub mod lanes;
pub mod loss;
pub mod momentum;
mod output;
pub mod params;
pub mod real;
pub mod workspace;

pub use hessian::Hessian;
pub use lanes::LaneChunk;
pub use loss::Stats;
pub use momentum::stability_threshold;
pub use params::{ParamViews, ParamViewsMut, Params, Shape, ShapeError};
pub use real::Real;
pub use workspace::{ForwardWeights, Workspace};
