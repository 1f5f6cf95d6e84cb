//! heavyball through its binary, as a user runs it: one test program (so that it is built and
//! linked once) with a module per area. Every test works in a temporary folder.

mod bad_input;
mod browser;
mod common;
mod confirm;
mod fused;
mod hessian;
mod hostile;
mod reference;
mod report;
mod resume;
mod shard;
mod snapshots;
mod study;
mod sweep;
mod tune;
