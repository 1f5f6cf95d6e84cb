//! The network and its mathematics: parameters, forward pass, loss and gradient, side by side.
//!
//! f(x) = c + V·tanh(b + W·x) with W M×p, b ∈ R^M, V K×M, c ∈ R^K, and the per-sample loss
//! L(y, f) = −f_y + log Σ_k exp(f_k), evaluated with a stable log-sum-exp. Over a chunk of n
//! samples (rows of the n×p matrix X) everything is matrix products ([`loss`]).
//!
//! No other module knows how the four parameter blocks are laid out: they live in one flat
//! buffer ([`Params`]) so that momentum updates and gradient reductions are single loops.
//!
//! - [`params`]: the shapes, the flat buffer and its views, the seeded initialisation;
//! - [`loss`]: loss and gradient over a chunk ([`loss_chunk`], [`loss_grad_chunk`]);
//! - [`hessian`]: exact Hessian-vector products over a chunk ([`Curvature`]);
//! - [`workspace`]: the scratch buffers an evaluation works in;
//! - `epilogues`: the steps that ride on the product kernel (bias + tanh, the tanh backward).

mod epilogues;
pub mod hessian;
pub mod loss;
pub mod params;
pub mod workspace;

pub use hessian::Curvature;
pub use loss::{Stats, group_loss_chunk, group_loss_grad_chunk, loss_chunk, loss_grad_chunk};
pub use params::{ParamViews, ParamViewsMut, Params, Shape, ShapeError};
pub use workspace::{ForwardWeights, Workspace};
