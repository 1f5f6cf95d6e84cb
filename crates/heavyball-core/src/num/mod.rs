//! Numerics that know nothing about networks: the [`Element`] types, the matrix-product
//! kernel every evaluation is made of ([`kernels`], driven through [`linalg`]) and heavyball's
//! own vectorised `exp`, `tanh` and `ln` ([`fastmath`]), and the Lanczos method for the extreme
//! eigenvalues of a symmetric operator ([`lanczos`]).
//!
//! Everything here is bitwise deterministic: the same inputs give the same bits on every
//! x86-64 CPU (baseline, AVX2 or AVX-512 builds) and at any thread count.

mod element;
pub mod fastmath;
pub mod kernels;
pub mod lanczos;
pub mod linalg;

pub use element::Element;
