//! heavyball's numeric core: the network f(x) = c + V·tanh(b + W·x), its loss, gradient and
//! Hessian-vector products over a chunk of samples, and the heavy-ball step, on heavyball's own
//! matrix-product kernel and vectorised `exp`, `tanh` and `ln`.
//!
//! Two layers, the lower knowing nothing of networks, beside an allocator for tests; a module
//! names only the modules above it in this list (heavyball's `layering` test checks it):
//!
//! ```text
//! bounded  an allocator that refuses oversized allocations, for test builds
//! num      element types, the product kernel and its builds, exp/tanh/ln, Lanczos
//! model    parameters, loss and gradient, Hessian-vector products, the momentum step
//! ```
//!
//! This crate holds every line of `unsafe` code of heavyball (the SIMD kernels, and the
//! [`bounded`] allocator its tests run under) and every instantiation of the kernels: the crates above reach the kernels only through [`Real`], whose
//! methods are compiled here once for f32 and once for f64. So an edit elsewhere never
//! re-optimises a kernel, and the application crate forbids `unsafe` altogether.
//!
//! Everything here is bitwise deterministic: the same inputs give the same bits on every
//! x86-64 CPU (scalar, AVX2 or AVX-512 builds) and at any thread count of the caller.

pub mod bounded;
pub mod model;
pub mod num;

pub use model::Real;
