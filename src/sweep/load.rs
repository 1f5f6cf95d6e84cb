//! Assembling a sweep before any run starts: the data read once and prepared in the config's
//! precision, the grid's points and their identities, inside the thread pool the sweep runs
//! on. `run`, `plan` and `hessian` all start here.

use anyhow::{Context, Result};
use heavyball_core::Real;

use crate::config::{Config, Precision};
use crate::data::{self, Prepared};
use crate::grid::{self, RunSpec};
use crate::store::RunId;

/// A sweep's data, grid points and run identities, ready to train or to plan.
pub struct Loaded<T> {
    /// The shared data.
    pub data: Prepared<T>,
    /// The grid points.
    pub runs: Vec<RunSpec>,
    /// Their identities.
    pub ids: Vec<RunId>,
}

impl<T: Real> Loaded<T> {
    /// The grid of `config` over data prepared in `T`.
    fn new(config: &Config, data: Prepared<T>) -> Self {
        let runs = grid::expand(&config.grid);
        let ids = runs.iter().map(|r| RunId::from_spec(r, &config.train, &data.fingerprint)).collect();
        Loaded { data, runs, ids }
    }
}

/// A loaded sweep in the precision its config names: what [`load`] hands on, and what each
/// command matches once to call its generic code.
pub enum InPrecision {
    /// `precision = "f32"`.
    F32(Loaded<f32>),
    /// `precision = "f64"`.
    F64(Loaded<f64>),
}

/// Reads the data, starts the thread pool (`threads`, or the global pool's count), and calls `f` inside it
/// with the sweep loaded in the config's precision.
pub fn load<R: Send>(
    config: &Config,
    threads: Option<usize>,
    f: impl FnOnce(InPrecision) -> Result<R> + Send,
) -> Result<R> {
    load_from(config, data::load(&config.data.source)?, threads, f)
}

/// [`load`] on samples already read from the config's data source (a study reads every
/// workload's before it writes anything).
pub fn load_from<R: Send>(
    config: &Config,
    table: data::Samples,
    threads: Option<usize>,
    f: impl FnOnce(InPrecision) -> Result<R> + Send,
) -> Result<R> {
    // Without a count, the global pool's: every core, or the (capped) RAYON_NUM_THREADS the
    // command line set it to. Never rayon's own reading of the variable, which has no cap.
    let threads = threads.unwrap_or_else(rayon::current_num_threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("cannot start the thread pool")?;
    pool.install(|| match config.train.precision {
        Precision::F32 => f(InPrecision::F32(Loaded::new(config, data::prepare(table, &config.data)?))),
        Precision::F64 => f(InPrecision::F64(Loaded::new(config, data::prepare(table, &config.data)?))),
    })
}
