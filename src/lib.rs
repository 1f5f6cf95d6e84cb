//! heavyball trains a grid of small networks f(x) = c + V·tanh(b + W·x) by full-batch gradient
//! descent with heavy-ball momentum, in parallel, and saves every run's loss curve.
//!
//! The data flow, one module per stage; a module imports only from the stages above it in this
//! list, never from one below:
//!
//! ```text
//! errors  (error messages on one line; every stage may use it)
//! memory  (what the machine can hold; every stage may use it)
//! num     (Real types, the product kernel, vectorised exp/tanh/ln)
//! model   (parameters, loss and gradient over a chunk)
//! config  (TOML → validated Config)
//! grid    (the cartesian product of M, γ, α, seed, in a fixed order)
//! data    (load once, split, standardise, fingerprint; shared by every run)
//! sharpness (the Hessian's extreme eigenvalues: Lanczos on exact Hessian-vector products)
//! train   (per run: the chunked data-parallel gradient and the momentum loop)
//! store   (the results folder: every path, file format, lock and summary)
//! tune    (the bracketing rule: each method's best γ, and the rounds that bracket it)
//! shard   (which runs of the grid one process of a Slurm array takes)
//! sweep   (load, judge each run on disk, schedule, train, checkpoint; `run` and `plan`)
//! report  (read finished runs by key, analyse, write tables and plots)
//! slurm   (write and submit a Slurm array for a sweep)
//! cli     (the command line: parse, dispatch, exit codes)
//! ```
//!
//! `docs/design.md` explains the data flow, run identity, atomicity and determinism rules.

// Every line of unsafe code (the SIMD kernels) lives in heavyball-core.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod data;
pub mod errors;
pub mod grid;
pub mod hessian;
pub mod memory;
pub mod report;
pub mod shard;
pub mod slurm;
pub mod store;
pub mod sweep;
pub mod train;
pub mod tune;

/// The library's unit tests run under an allocator that refuses any single allocation over
/// 1 GiB, so a reader that would allocate what a damaged header claims fails its test (the
/// process aborts) instead of passing on a machine that happens to overcommit memory.
#[cfg(test)]
#[global_allocator]
static ALLOCATOR: heavyball_core::bounded::Bounded = heavyball_core::bounded::Bounded::new(1 << 30);
