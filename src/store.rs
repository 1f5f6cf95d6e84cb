//! The results directory: its layout, run identity, and every file in it. Every file is
//! written to a temporary name in its folder, fsynced and renamed, so a crash leaves the old
//! version or the new one, never a torn file.
//!
//! ```text
//! DIR/<sweep>/
//!   config.toml          the config the sweep last ran with
//!   sweep.toml           what the data and settings were (for reports)
//!   summary.csv          one row per run of the current grid
//!   curves.csv           every curve in one long table
//!   runs/<run>-<key8>/   run.toml, curve.csv, init.npz, final.npz, checkpoint.npz
//! ```

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ndarray::{Array1, Array2, aview1};
use ndarray_npy::{NpzReader, NpzWriter};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::TrainSpec;
use crate::grid::RunSpec;
use crate::model::{Params, Real};
use crate::train::{CurveRow, State};

/// The version of the on-disk format and of everything that fixes a run's result; part of
/// every run key.
pub const FORMAT_VERSION: u32 = 1;

/// The initialisation scheme, named in run keys (see `Params::init`).
pub const INIT_SCHEME: &str = "W~N(0,1/p) V~N(0,1/M) b=c=0; chacha8 seed stream=M";

/// Writes a file atomically: `fill` writes into a temporary file beside `path`, which is
/// flushed, fsynced and renamed over `path`; the folder is fsynced after the rename.
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let attempt = || -> io::Result<()> {
        let tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
        let mut out = BufWriter::new(tmp);
        fill(&mut out)?;
        let tmp = out.into_inner().map_err(|e| e.into_error())?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        // Make the rename itself durable.
        File::open(dir)?.sync_all()
    };
    attempt().with_context(|| format!("cannot write {}", path.display()))
}

/// Writes several files of one folder atomically, as [`write_atomic`] does each, but with one
/// fsync of the folder for all of them: every file is written to a temporary name and fsynced,
/// then all are renamed in the order given, then the folder is fsynced. A crash leaves each file
/// old or new, never torn; files later in the list are never newer than earlier ones.
pub fn write_atomic_group(dir: &Path, files: &[(&str, &[u8])]) -> Result<()> {
    let mut staged = Vec::with_capacity(files.len());
    for &(name, bytes) in files {
        let path = dir.join(name);
        let attempt = || -> io::Result<tempfile::NamedTempFile> {
            let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
            tmp.write_all(bytes)?;
            tmp.as_file().sync_all()?;
            Ok(tmp)
        };
        staged.push((attempt().with_context(|| format!("cannot write {}", path.display()))?, path));
    }
    for (tmp, path) in staged {
        tmp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync the folder {}", dir.display()))
}

/// The identity of a run: a SHA-256 over everything that determines its result, and its
/// readable name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunId {
    /// Hex SHA-256 of the run's defining settings.
    pub key: String,
    /// The readable name, such as `M64-g0.003-a0.5-s1`.
    pub name: String,
}

impl RunId {
    /// The key of a grid point trained on data with this fingerprint. The number of iterations
    /// is not part of it: a longer run continues a shorter one.
    pub fn from_spec(spec: &RunSpec, train: &TrainSpec, fingerprint: &str) -> Self {
        let text = format!(
            "heavyball run v{FORMAT_VERSION}\ndata {fingerprint}\nhidden {}\ngamma {:016x}\nalpha {:016x}\nseed {}\n\
             objective {}\nprecision {}\nchunk_size {}\ndivergence_factor {:?}\ninit {INIT_SCHEME}\n",
            spec.hidden,
            spec.gamma.to_bits(),
            spec.alpha.to_bits(),
            spec.seed,
            train.objective.name(),
            train.precision.name(),
            train.chunk_size,
            train.divergence_factor,
        );
        RunId { key: crate::data::hex(&Sha256::digest(text)), name: spec.name() }
    }

    /// The run's folder name: the readable name and the key's first 8 hex digits.
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.name, &self.key[..8])
    }
}

/// The folder of one sweep, `DIR/<sweep name>`.
#[derive(Clone, Debug)]
pub struct SweepDir {
    root: PathBuf,
}

impl SweepDir {
    /// The folder of sweep `name` under the results directory `results`.
    pub fn new(results: &Path, name: &str) -> Self {
        SweepDir { root: results.join(name) }
    }

    /// `DIR/<sweep>`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `DIR/<sweep>/runs`.
    pub fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }

    /// The folder of one run.
    pub fn run(&self, id: &RunId) -> PathBuf {
        self.runs().join(id.dir_name())
    }

    /// `summary.csv`.
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.csv")
    }

    /// `curves.csv`.
    pub fn curves(&self) -> PathBuf {
        self.root.join("curves.csv")
    }

    /// `sweep.toml`.
    pub fn sweep_meta(&self) -> PathBuf {
        self.root.join("sweep.toml")
    }

    /// `config.toml`.
    pub fn config_copy(&self) -> PathBuf {
        self.root.join("config.toml")
    }
}

/// Files inside a run's folder.
pub mod run_file {
    /// The run's metadata.
    pub const META: &str = "run.toml";
    /// The loss curve.
    pub const CURVE: &str = "curve.csv";
    /// The initial parameters.
    pub const INIT: &str = "init.npz";
    /// The parameters at the curve's last row.
    pub const FINAL: &str = "final.npz";
    /// The latest training state: θ, φ, the iteration and the curve so far.
    pub const CHECKPOINT: &str = "checkpoint.npz";
}

/// What a run is and how it ended: `run.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunMeta {
    /// The format version.
    pub format: u32,
    /// The run key (hex SHA-256).
    pub key: String,
    /// The readable name.
    pub name: String,
    /// M.
    pub hidden: usize,
    /// γ.
    pub gamma: f64,
    /// α.
    pub alpha: f64,
    /// The initialisation seed.
    pub seed: u64,
    /// `sum` or `mean`.
    pub objective: String,
    /// `f32` or `f64`.
    pub precision: String,
    /// Rows per gradient chunk.
    pub chunk_size: usize,
    /// The data fingerprint.
    pub data: String,
    /// `running` (not finished: see the checkpoint), `done` or `diverged`.
    pub status: String,
    /// Steps taken: the curve's last row.
    pub iterations: usize,
    /// Steps asked for.
    pub target_iterations: usize,
    /// Seconds spent training this run, summed over every session that worked on it.
    pub wall_seconds: f64,
}

impl RunMeta {
    /// Reads `run.toml`.
    pub fn read(path: &Path) -> Result<RunMeta> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not a heavyball run file", path.display()))
    }

    /// Writes `run.toml` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).expect("run metadata serialises");
        write_atomic(path, |w| w.write_all(text.as_bytes()))
    }
}

/// The column names of a curve file.
pub fn curve_header(with_test: bool) -> &'static str {
    if with_test {
        "iteration,train_loss,train_accuracy,test_loss,test_accuracy"
    } else {
        "iteration,train_loss,train_accuracy"
    }
}

/// One curve row as CSV fields, numbers in their shortest exact form.
pub fn curve_fields(row: &CurveRow) -> String {
    let mut line = format!("{},{},{}", row.iteration, row.train_loss, row.train_accuracy);
    if let (Some(loss), Some(acc)) = (row.test_loss, row.test_accuracy) {
        line.push_str(&format!(",{loss},{acc}"));
    }
    line
}

/// The bytes of `curve.csv`.
pub fn encode_curve(rows: &[CurveRow], with_test: bool) -> Vec<u8> {
    let mut text = String::new();
    text.push_str(curve_header(with_test));
    text.push('\n');
    for row in rows {
        text.push_str(&curve_fields(row));
        text.push('\n');
    }
    text.into_bytes()
}

/// Reads `curve.csv` back; errors name the file and line.
pub fn read_curve(path: &Path) -> Result<Vec<CurveRow>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let with_test = match header {
        h if h == curve_header(true) => true,
        h if h == curve_header(false) => false,
        _ => bail!("{} line 1: not a heavyball curve header", path.display()),
    };
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let bad = || anyhow::anyhow!("{} line {}: malformed curve row {line:?}", path.display(), i + 2);
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != if with_test { 5 } else { 3 } {
            return Err(bad());
        }
        let num = |s: &str| s.parse::<f64>().map_err(|_| bad());
        rows.push(CurveRow {
            iteration: f[0].parse().map_err(|_| bad())?,
            train_loss: num(f[1])?,
            train_accuracy: num(f[2])?,
            test_loss: if with_test { Some(num(f[3])?) } else { None },
            test_accuracy: if with_test { Some(num(f[4])?) } else { None },
        });
        if rows.last().map(|r| r.iteration) != Some(i) {
            return Err(bad());
        }
    }
    Ok(rows)
}

/// The bytes of an `.npz` file (numpy-readable) holding W, b, V, c; `path` is the file's path,
/// for messages.
pub fn encode_params<T: Real>(path: &Path, params: &Params<T>) -> Result<Vec<u8>> {
    let mut buf = io::Cursor::new(Vec::new());
    {
        let mut npz = NpzWriter::new(&mut buf);
        let v = params.views();
        let add = |npz: &mut NpzWriter<_>| -> Result<(), ndarray_npy::WriteNpzError> {
            npz.add_array("W", &v.w)?;
            npz.add_array("b", &v.b)?;
            npz.add_array("V", &v.v)?;
            npz.add_array("c", &v.c)?;
            Ok(())
        };
        add(&mut npz)
            .and_then(|_| npz.finish().map(|_| ()))
            .with_context(|| format!("cannot encode {}", path.display()))?;
    }
    Ok(buf.into_inner())
}

/// Reads W, b, V, c from an `.npz` file written from [`encode_params`].
pub fn read_params<T: Real>(path: &Path) -> Result<Params<T>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut npz = NpzReader::new(file).with_context(|| format!("{} is not an npz file", path.display()))?;
    let context = || format!("{} does not hold W, b, V, c in {}", path.display(), T::NAME);
    let w: Array2<T> = npz.by_name("W").with_context(context)?;
    let b: Array1<T> = npz.by_name("b").with_context(context)?;
    let v: Array2<T> = npz.by_name("V").with_context(context)?;
    let c: Array1<T> = npz.by_name("c").with_context(context)?;
    Params::from_blocks(w.view(), b.view(), v.view(), c.view())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The bytes of a checkpoint: `W`, `b`, `V`, `c` (θ^k), `phi` (φ^k, flat, in θ's order),
/// `iteration` (k, as a one-element u64 array), `curve` (rows×5 f64: iteration, train loss,
/// train accuracy, test loss, test accuracy; NaN where there is no test set) and `key` (the
/// run key as ASCII bytes). numpy reads every array. `path` is the file's path, for messages.
pub fn encode_checkpoint<T: Real>(path: &Path, key: &str, state: &State<T>) -> Result<Vec<u8>> {
    let mut curve = Array2::<f64>::from_elem((state.curve.len(), 5), f64::NAN);
    for (mut out, row) in curve.rows_mut().into_iter().zip(&state.curve) {
        out[0] = row.iteration as f64;
        out[1] = row.train_loss;
        out[2] = row.train_accuracy;
        out[3] = row.test_loss.unwrap_or(f64::NAN);
        out[4] = row.test_accuracy.unwrap_or(f64::NAN);
    }
    let mut buf = io::Cursor::new(Vec::new());
    {
        let mut npz = NpzWriter::new(&mut buf);
        let v = state.theta.views();
        let mut add = || -> Result<(), ndarray_npy::WriteNpzError> {
            npz.add_array("W", &v.w)?;
            npz.add_array("b", &v.b)?;
            npz.add_array("V", &v.v)?;
            npz.add_array("c", &v.c)?;
            npz.add_array("phi", &state.phi.as_flat())?;
            npz.add_array("iteration", &aview1(&[state.iteration as u64]))?;
            npz.add_array("curve", &curve)?;
            npz.add_array("key", &aview1(key.as_bytes()))?;
            Ok(())
        };
        add().with_context(|| format!("cannot encode {}", path.display()))?;
        npz.finish().with_context(|| format!("cannot encode {}", path.display()))?;
    }
    Ok(buf.into_inner())
}

/// Reads a checkpoint written from [`encode_checkpoint`] and checks it belongs to run `key`, has
/// parameters of `shape`, and a curve consistent with its iteration (rows 0..k, or 0..=k once
/// finished). Any mismatch is an error that says what is wrong.
pub fn read_checkpoint<T: Real>(path: &Path, key: &str, shape: crate::model::Shape) -> Result<State<T>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut npz = NpzReader::new(file).with_context(|| format!("{} is not an npz file", path.display()))?;
    let context = || format!("{} is not a complete heavyball checkpoint", path.display());
    let stored_key: Array1<u8> = npz.by_name("key").with_context(context)?;
    if stored_key.as_slice() != Some(key.as_bytes()) {
        bail!("{} belongs to another run", path.display());
    }
    let w: Array2<T> = npz.by_name("W").with_context(context)?;
    let b: Array1<T> = npz.by_name("b").with_context(context)?;
    let v: Array2<T> = npz.by_name("V").with_context(context)?;
    let c: Array1<T> = npz.by_name("c").with_context(context)?;
    let theta = Params::from_blocks(w.view(), b.view(), v.view(), c.view())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if theta.shape() != shape {
        bail!("{} holds a network of another shape", path.display());
    }
    let phi_flat: Array1<T> = npz.by_name("phi").with_context(context)?;
    if phi_flat.len() != shape.len() {
        bail!("{} holds a momentum of the wrong length", path.display());
    }
    let mut phi = Params::zeros(shape);
    phi.as_flat_mut().assign(&phi_flat);
    let iteration: Array1<u64> = npz.by_name("iteration").with_context(context)?;
    let iteration = *iteration.first().with_context(context)? as usize;
    let curve_array: Array2<f64> = npz.by_name("curve").with_context(context)?;
    if curve_array.ncols() != 5 {
        bail!("{} holds a malformed curve", path.display());
    }
    let curve: Vec<CurveRow> = curve_array
        .rows()
        .into_iter()
        .map(|r| CurveRow {
            iteration: r[0] as usize,
            train_loss: r[1],
            train_accuracy: r[2],
            test_loss: (!r[3].is_nan() || !r[4].is_nan()).then_some(r[3]),
            test_accuracy: (!r[3].is_nan() || !r[4].is_nan()).then_some(r[4]),
        })
        .collect();
    let ordered = curve.iter().enumerate().all(|(i, r)| r.iteration == i);
    if !ordered || !(curve.len() == iteration || curve.len() == iteration + 1) {
        bail!("{} holds a curve that disagrees with its iteration {iteration}", path.display());
    }
    Ok(State { theta, phi, iteration, curve })
}

/// True when two curves are the same bit for bit (NaN equal to NaN).
pub fn same_curve(a: &[CurveRow], b: &[CurveRow]) -> bool {
    let bits = |v: f64| v.to_bits();
    let opt = |v: Option<f64>| v.map(bits);
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.iteration == y.iteration
                && bits(x.train_loss) == bits(y.train_loss)
                && bits(x.train_accuracy) == bits(y.train_accuracy)
                && opt(x.test_loss) == opt(y.test_loss)
                && opt(x.test_accuracy) == opt(y.test_accuracy)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Shape;

    #[test]
    fn curves_round_trip_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curve.csv");
        let rows = vec![
            CurveRow {
                iteration: 0,
                train_loss: 2.302585092994045,
                train_accuracy: 0.1,
                test_loss: Some(1.0 / 3.0),
                test_accuracy: Some(0.25),
            },
            CurveRow {
                iteration: 1,
                train_loss: f64::NAN,
                train_accuracy: 0.0,
                test_loss: Some(f64::INFINITY),
                test_accuracy: Some(0.0),
            },
        ];
        write_atomic_group(dir.path(), &[("curve.csv", &encode_curve(&rows, true))]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "iteration,train_loss,train_accuracy,test_loss,test_accuracy\n\
             0,2.302585092994045,0.1,0.3333333333333333,0.25\n\
             1,NaN,0,inf,0\n"
        );
        let back = read_curve(&path).unwrap();
        assert_eq!(back[0], rows[0]);
        assert!(back[1].train_loss.is_nan());
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn params_round_trip_through_npz_and_bytes_are_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape { n_features: 3, n_hidden: 4, n_classes: 2 };
        let params = Params::<f32>::init(shape, 5);
        let (a, b) = (dir.path().join("a.npz"), dir.path().join("b.npz"));
        let bytes = encode_params(&a, &params).unwrap();
        write_atomic_group(dir.path(), &[("a.npz", &bytes), ("b.npz", &encode_params(&b, &params).unwrap())])
            .unwrap();
        assert_eq!(read_params::<f32>(&a).unwrap(), params);
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert!(read_params::<f64>(&a).is_err());
    }

    #[test]
    fn run_keys_change_with_every_defining_setting() {
        let spec = RunSpec { index: 0, hidden: 8, gamma: 0.1, alpha: 0.5, seed: 0 };
        let train = TrainSpec {
            iterations: 10,
            objective: crate::config::Objective::Sum,
            precision: crate::config::Precision::F32,
            chunk_size: 1024,
            divergence_factor: None,
            checkpoint_every: None,
        };
        let base = RunId::from_spec(&spec, &train, "abc");
        assert_eq!(base.name, "M8-g0.1-a0.5-s0");
        assert_eq!(base.dir_name().len(), "M8-g0.1-a0.5-s0-".len() + 8);
        assert_eq!(
            base,
            RunId::from_spec(
                &RunSpec { index: 5, ..spec.clone() },
                &TrainSpec { iterations: 99, ..train.clone() },
                "abc"
            )
        );
        let others = [
            RunId::from_spec(&spec, &train, "abd"),
            RunId::from_spec(&RunSpec { gamma: 0.2, ..spec.clone() }, &train, "abc"),
            RunId::from_spec(&RunSpec { seed: 1, ..spec.clone() }, &train, "abc"),
            RunId::from_spec(&spec, &TrainSpec { chunk_size: 512, ..train.clone() }, "abc"),
            RunId::from_spec(&spec, &TrainSpec { divergence_factor: Some(10.0), ..train.clone() }, "abc"),
            RunId::from_spec(
                &spec,
                &TrainSpec { objective: crate::config::Objective::Mean, ..train.clone() },
                "abc",
            ),
        ];
        for other in others {
            assert_ne!(other.key, base.key);
        }
    }
}
