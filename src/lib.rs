//! heavyball trains a grid of small networks f(x) = c + V·tanh(b + W·x) by full-batch gradient
//! descent with heavy-ball momentum, in parallel, and saves every run's loss curve.
//!
//! The numeric core (the network's loss, gradient and Hessian-vector products on heavyball's
//! SIMD kernels, and the momentum step) is the crate `heavyball_core`, below everything here.
//! This crate is the application, one module per stage of the data flow. A module imports only
//! from the modules above it in this list, never from one below (the `layering` test checks
//! every `crate::` path against this list):
//!
//! ```text
//! errors   error messages on one line; every stage may use it
//! memory   what the machine can hold; every stage may use it
//! digest   digests as hex, for fingerprints and run keys; every stage may use it
//! config   TOML → raw serde structs → a validated Config
//! grid     the cartesian product of M, γ, α, seed, in a fixed order
//! data     load once, split, standardise, fingerprint; shared by every run
//! hessian  the Hessian's extreme eigenvalues over a data set: Lanczos on exact products
//! train    the chunked data-parallel gradient (the evaluator) and the momentum loop
//! store    the results folder: every path, file format, lock and summary
//! tune     the bracketing rule: each method's best γ, and the rounds that bracket it
//! shard    which runs of the grid one process of a Slurm array takes
//! sweep    load, judge each run on disk, schedule, train, checkpoint: run, plan, hessian
//! report   read finished runs by key, analyse, write tables, figures and the page
//! study    several workloads ([[data]]), each a sweep of its own: run, plan, hessian, report
//! slurm    write and submit a Slurm array for a sweep
//! cli      the command line: parse, dispatch, exit codes
//! ```
//!
//! `docs/design.md` explains the data flow, run identity, atomicity and determinism rules.

// Every line of unsafe code (the SIMD kernels) lives in heavyball-core.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod data;
pub mod digest;
pub mod errors;
pub mod grid;
pub mod hessian;
pub mod memory;
pub mod report;
pub mod shard;
pub mod slurm;
pub mod store;
pub mod study;
pub mod sweep;
pub mod train;
pub mod tune;

#[cfg(test)]
mod docs_check;
#[cfg(test)]
mod layering;

/// The library's unit tests run under an allocator that refuses any single allocation over
/// 1 GiB, so a reader that would allocate what a damaged header claims fails its test (the
/// process aborts) instead of passing on a machine that happens to overcommit memory.
#[cfg(test)]
#[global_allocator]
static ALLOCATOR: heavyball_core::bounded::Bounded = heavyball_core::bounded::Bounded::new(1 << 30);
