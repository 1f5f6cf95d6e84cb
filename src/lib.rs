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
//! train   (per run: the chunked data-parallel gradient and the momentum loop)
//! store   (the results folder: every path, file format, lock and summary)
//! shard   (which runs of the grid one process of a Slurm array takes)
//! sweep   (load, judge each run on disk, schedule, train, checkpoint; `run` and `plan`)
//! report  (read finished runs by key, analyse, write tables and plots)
//! slurm   (write and submit a Slurm array for a sweep)
//! cli     (the command line: parse, dispatch, exit codes)
//! ```
//!
//! `docs/design.md` explains the data flow, run identity, atomicity and determinism rules.

pub mod cli;
pub mod config;
pub mod data;
pub mod errors;
pub mod grid;
pub mod memory;
pub mod model;
pub mod num;
pub mod report;
pub mod shard;
pub mod slurm;
pub mod store;
pub mod sweep;
pub mod train;
