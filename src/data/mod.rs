//! Data: load a table of samples from a source (built-in, CSV, synthetic), check it, split it
//! into training and test sets, standardise it, and fingerprint the result.
//!
//! Every source produces [`Samples`]: a [`Table`] in f64, or byte images ([`idx::IdxSet`]);
//! [`prepare`] (in `prepare.rs`) turns them into the [`Prepared`] data that all runs of a sweep
//! share, in the sweep's precision. A new source is a module here that returns `Samples`, and
//! an arm in [`load`].

mod builtin;
pub mod csv;
pub mod idx;
mod prepare;
pub mod synthetic;

use ndarray::Array2;
use thiserror::Error;

use crate::config::Source;

pub use prepare::prepare;

/// What went wrong with the data; messages name the file and the line or column.
#[derive(Debug, Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read data file {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A problem at a particular line of a text file.
    #[error("{origin} line {line}: {message}")]
    Line {
        /// The file.
        origin: String,
        /// The 1-based line.
        line: u64,
        /// What is wrong there.
        message: String,
    },
    /// A problem with the data as a whole.
    #[error("{origin}: {message}")]
    Whole {
        /// The file or built-in set.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

/// Samples as loaded, before splitting: x is N×p in f64, y holds N class labels.
#[derive(Clone, Debug)]
pub struct Table {
    /// Features, one row per sample.
    pub x: Array2<f64>,
    /// Labels in 0..K.
    pub y: Vec<u32>,
    /// K, the number of classes.
    pub n_classes: usize,
    /// Where the samples came from, for messages.
    pub origin: String,
    /// For a file: the line each sample was read from, and the feature columns' names.
    pub source_lines: Option<(Vec<u64>, Vec<String>)>,
}

/// One set of samples in the sweep's precision: x is n×p, y holds n labels.
#[derive(Clone, Debug)]
pub struct Dataset<T> {
    /// Features, one row per sample.
    pub x: Array2<T>,
    /// Labels in 0..K.
    pub y: Vec<u32>,
}

impl<T> Dataset<T> {
    /// The number of samples.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The samples split into fixed chunks of `chunk_size` (≥ 1) rows, the last maybe shorter:
    /// the units every evaluation works and reduces in. The boundaries depend on the number of
    /// samples and the chunk size alone, never on the thread count.
    pub fn chunks(&self, chunk_size: usize) -> Vec<std::ops::Range<usize>> {
        let n = self.len();
        (0..n.div_ceil(chunk_size)).map(|i| i * chunk_size..((i + 1) * chunk_size).min(n)).collect()
    }

    /// The samples in `rows` (one of [`Dataset::chunks`]): their features, |rows|×p, and labels.
    ///
    /// **Panics** if `rows` reaches past the last sample.
    pub fn rows(&self, rows: std::ops::Range<usize>) -> (ndarray::ArrayView2<'_, T>, &[u32]) {
        let x = self.x.slice_axis(ndarray::Axis(0), ndarray::Slice::from(rows.clone()));
        (x, &self.y[rows])
    }
}

/// The data every run of a sweep trains on, loaded once and shared.
#[derive(Clone, Debug)]
pub struct Prepared<T> {
    /// The training set.
    pub train: Dataset<T>,
    /// The held-out set, when `test_fraction` > 0.
    pub test: Option<Dataset<T>>,
    /// K, the number of classes.
    pub n_classes: usize,
    /// A SHA-256 of the prepared samples and labels in the sweep's precision, hex encoded.
    pub fingerprint: String,
    /// Where the samples came from.
    pub origin: String,
}

impl<T> Prepared<T> {
    /// p, the number of features.
    pub fn n_features(&self) -> usize {
        self.train.x.ncols()
    }
}

/// Samples as loaded: a table to be split, or a set that comes split (IDX).
#[derive(Clone, Debug)]
pub enum Samples {
    /// All samples in f64; `test_fraction` picks the test set.
    Table(Table),
    /// Byte images with their own train and test parts.
    Idx(idx::IdxSet),
}

/// About the memory reading `source` takes, as its reader checks it (generating synthetic
/// data, or a file's size times what parsing it costs); built-in sets are small, Fashion-MNIST
/// aside. For checking a study's workloads before any is read. `None` beyond 64-bit counting.
pub fn bytes_needed(source: &Source) -> Option<u64> {
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    match source {
        Source::Builtin(crate::config::Builtin::FashionMnist) => Some(70_000 * 784 * 8 * 2),
        Source::Builtin(_) => Some(0),
        Source::Csv { path, .. } => size(path).checked_mul(4),
        Source::Synthetic(spec) => synthetic::bytes_needed(spec),
        Source::Idx { dir } => {
            // An unreadable folder is the reader's to name; it needs nothing here.
            let Ok(files) = std::fs::read_dir(dir) else { return Some(0) };
            files.flatten().map(|e| size(&e.path())).sum::<u64>().checked_mul(2)
        }
    }
}

/// Reads the samples a data spec names.
pub fn load(source: &Source) -> Result<Samples, DataError> {
    Ok(match source {
        Source::Builtin(which) => builtin::load(*which)?,
        Source::Csv { path, label } => Samples::Table(csv::load_path(path, label)?),
        Source::Synthetic(spec) => {
            crate::memory::check("generating it", synthetic::bytes_needed(spec)).map_err(|message| {
                DataError::Whole {
                    origin: format!("synthetic data of {} × {}", spec.samples, spec.features),
                    message,
                }
            })?;
            Samples::Table(synthetic::generate(spec))
        }
        Source::Idx { dir } => Samples::Idx(idx::load_dir(dir)?),
    })
}

/// Opens a data file and returns it with its size, refusing anything but a regular file: a FIFO
/// would block and a device such as `/dev/zero` would never end.
fn open_regular(path: &std::path::Path) -> Result<(std::fs::File, u64), DataError> {
    use std::os::unix::fs::OpenOptionsExt;
    let origin = path.display().to_string();
    let err = |source| DataError::Read { path: origin.clone(), source };
    let meta = std::fs::metadata(path).map_err(err)?;
    if !meta.is_file() {
        return Err(DataError::Whole {
            origin,
            message: "not a regular file; data is read only from files".into(),
        });
    }
    // Non-blocking, in case the path was swapped for a FIFO since the check.
    let file =
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(err)?;
    Ok((file, meta.len()))
}

/// Checks labels of a table whose classes are read off the labels themselves: K is the largest
/// label + 1, every class 0..K must occur, and K ≥ 2.
fn count_classes(y: &[u32], origin: &str) -> Result<usize, DataError> {
    let whole = |message: String| DataError::Whole { origin: origin.to_string(), message };
    if y.is_empty() {
        return Err(whole("no samples (the file has a header but no data rows)".into()));
    }
    let k = *y.iter().max().expect("non-empty") as usize + 1;
    // The classes present, in order (a table of K flags could be huge for a stray label).
    let mut present = y.to_vec();
    present.sort_unstable();
    present.dedup();
    if let Some(missing) = present.iter().enumerate().position(|(i, &c)| c as usize != i) {
        return Err(whole(format!(
            "labels must be the classes 0..{} with each present, but class {missing} never occurs",
            k - 1
        )));
    }
    if k < 2 {
        return Err(whole(format!("fewer than 2 classes (every label is {})", k - 1)));
    }
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_sample_once() {
        let data = |n: usize| Dataset::<f32> { x: ndarray::Array2::zeros((n, 1)), y: vec![0; n] };
        assert_eq!(data(10).chunks(4), vec![0..4, 4..8, 8..10]);
        assert_eq!(data(8).chunks(4), vec![0..4, 4..8]);
        assert_eq!(data(3).chunks(1024), vec![0..3]);
    }

    #[test]
    fn labels_must_cover_zero_to_k_minus_one() {
        assert_eq!(count_classes(&[0, 1, 2, 1], "f").unwrap(), 3);
        let e = count_classes(&[0, 2, 2], "f").unwrap_err().to_string();
        assert!(e.contains("class 1 never occurs"), "{e}");
        let e = count_classes(&[0, 0], "f").unwrap_err().to_string();
        assert!(e.contains("fewer than 2 classes"), "{e}");
    }
}
