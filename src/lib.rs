//! heavyball trains a grid of small networks f(x) = c + V·tanh(b + W·x) by full-batch gradient
//! descent with heavy-ball momentum, in parallel, and saves every run's loss curve.
//!
//! The data flow, one module per stage:
//!
//! ```text
//! config (TOML → validated Config)
//!   → grid   (the cartesian product of M, γ, α, seed, in a fixed order)
//!   → data   (load once, split, standardise, fingerprint; shared by every run)
//!   → train  (per run: chunked data-parallel gradient + momentum loop; math in `model`)
//!   → store  (atomic per-run files; summaries rebuilt from them in `summary`)
//! ```
//!
//! `sweep` drives the stages for `heavyball run`; `cli` is the command line.

pub mod cli;
pub mod config;
pub mod data;
pub mod fastmath;
pub mod grid;
pub mod kernels;
pub mod linalg;
pub mod model;
pub mod report;
pub mod resume;
pub mod shard;
pub mod slurm;
pub mod store;
pub mod summary;
pub mod sweep;
pub mod train;
