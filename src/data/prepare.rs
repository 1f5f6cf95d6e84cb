//! From loaded samples to the data every run shares: the seeded train/test split,
//! standardisation with training-set statistics, the cast to the sweep's precision, and the
//! fingerprint that enters every run key.

use heavyball_core::Real;
use ndarray::{Array2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::{DataError, Dataset, Prepared, Samples, Table, idx};
use crate::config::DataSpec;
use crate::digest::hex;

/// Splits (tables only), standardises and converts loaded samples, then fingerprints them.
pub fn prepare<T: Real>(samples: Samples, spec: &DataSpec) -> Result<Prepared<T>, DataError> {
    match samples {
        Samples::Table(table) => prepare_table(table, spec),
        Samples::Idx(set) => Ok(prepare_idx(set, spec)),
    }
}

/// Converts an IDX set to the sweep's precision without an f64 copy: each pixel becomes
/// (v − mean_j)/sd_j with the training set's per-pixel mean and population standard deviation
/// (sd 0 counts as 1), or v itself when not standardising.
fn prepare_idx<T: Real>(set: idx::IdxSet, spec: &DataSpec) -> Prepared<T> {
    let p = set.train_x.ncols();
    let (mut mean, mut sd) = (vec![0.0; p], vec![1.0; p]);
    if spec.standardize {
        let n = set.train_x.nrows() as f64;
        for row in set.train_x.rows() {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0; p];
        for row in set.train_x.rows() {
            for ((s, &v), &m) in var.iter_mut().zip(row).zip(&mean) {
                *s += (f64::from(v) - m) * (f64::from(v) - m);
            }
        }
        for (s, v) in sd.iter_mut().zip(var) {
            let v = (v / n).sqrt();
            *s = if v > 0.0 { v } else { 1.0 };
        }
    }
    let convert = |x: &Array2<u8>| {
        Array2::from_shape_fn(x.dim(), |(i, j)| {
            T::from_f64((f64::from(x[[i, j]]) - mean[j]) / sd[j]).expect("finite")
        })
    };
    let train = Dataset { x: convert(&set.train_x), y: set.train_y };
    let test = Dataset { x: convert(&set.test_x), y: set.test_y };
    let fingerprint = fingerprint(&train, Some(&test), set.n_classes);
    Prepared { train, test: Some(test), n_classes: set.n_classes, fingerprint, origin: set.origin }
}

/// Splits, standardises and converts a table, then fingerprints the result.
///
/// The test set is a seeded random `test_fraction` of the samples (rounded, at least one when
/// the fraction is positive); both parts keep the table's row order. Standardising z-scores
/// every feature with the training set's mean and population standard deviation (a constant
/// feature is only centred).
fn prepare_table<T: Real>(table: Table, spec: &DataSpec) -> Result<Prepared<T>, DataError> {
    let n = table.y.len();
    let mut n_test = (n as f64 * spec.test_fraction).round() as usize;
    if spec.test_fraction > 0.0 {
        n_test = n_test.max(1);
    }
    if n_test >= n {
        return Err(DataError::Whole {
            origin: table.origin,
            message: format!("test_fraction = {} leaves no training samples out of {n}", spec.test_fraction),
        });
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(spec.split_seed));
    let (test_idx, train_idx) = order.split_at_mut(n_test);
    test_idx.sort_unstable();
    train_idx.sort_unstable();

    let mut x_train = table.x.select(Axis(0), train_idx);
    let mut x_test = table.x.select(Axis(0), test_idx);
    if spec.standardize {
        let mean = x_train.mean_axis(Axis(0)).expect("non-empty training set");
        let mut sd = x_train.std_axis(Axis(0), 0.0);
        // Values beyond about 1e154 overflow the sum of squares, and an infinite sd would turn
        // the whole column into zeros: such a column is scaled by its largest magnitude first.
        // (Only then, so that every other column keeps its bits.)
        for (j, s) in sd.iter_mut().enumerate().filter(|(_, s)| !s.is_finite()) {
            let column = x_train.column(j);
            let scale = column.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            *s = scale * column.mapv(|v| v / scale).std(0.0);
        }
        let sd = sd.mapv(|s| if s > 0.0 { s } else { 1.0 });
        for x in [&mut x_train, &mut x_test] {
            for mut row in x.rows_mut() {
                row -= &mean;
                row /= &sd;
            }
        }
    }
    let pick = |idx: &[usize]| idx.iter().map(|&i| table.y[i]).collect::<Vec<u32>>();
    let cast = |x: Array2<f64>, idx: &[usize]| -> Result<Array2<T>, DataError> {
        let converted = x.mapv(|v| T::from_f64(v).unwrap_or(T::nan()));
        if let Some(((r, j), _)) = converted.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(overflow(&table, idx[r], j, spec.standardize, T::NAME));
        }
        Ok(converted)
    };
    let train = Dataset { x: cast(x_train, train_idx)?, y: pick(train_idx) };
    let test =
        if n_test > 0 { Some(Dataset { x: cast(x_test, test_idx)?, y: pick(test_idx) }) } else { None };
    let fingerprint = fingerprint(&train, test.as_ref(), table.n_classes);
    Ok(Prepared { train, test, n_classes: table.n_classes, fingerprint, origin: table.origin })
}

/// The error for a feature that is finite as read but not once standardised or converted to the
/// sweep's precision: sample `row`, feature `col`.
fn overflow(table: &Table, row: usize, col: usize, standardized: bool, precision: &str) -> DataError {
    let value = table.x[[row, col]];
    let value = if value.abs() >= 1e16 { format!("{value:e}") } else { value.to_string() };
    let why = if standardized {
        format!("is {value}, too large to standardise or to hold in {precision}")
    } else {
        format!("is {value}, too large to hold in {precision}")
    };
    let message = format!("{why}; rescale the column");
    match &table.source_lines {
        Some((lines, names)) => DataError::Line {
            origin: table.origin.clone(),
            line: lines[row],
            message: format!("column {:?} {message}", names[col]),
        },
        None => DataError::Whole {
            origin: table.origin.clone(),
            message: format!("sample {} feature {} {message}", row + 1, col + 1),
        },
    }
}

/// SHA-256 over K, the precision, and each set's shape, features (little-endian) and labels.
fn fingerprint<T: Real>(train: &Dataset<T>, test: Option<&Dataset<T>>, n_classes: usize) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("heavyball-data v1 {} K={n_classes}\n", T::NAME));
    for (part, set) in [("train", Some(train)), ("test", test)] {
        let Some(set) = set else { continue };
        hasher.update(format!("{part} {}x{}\n", set.x.nrows(), set.x.ncols()));
        for &v in set.x.iter() {
            hasher.update(v.to_f64().expect("float").to_le_bytes());
        }
        for &label in &set.y {
            hasher.update(label.to_le_bytes());
        }
    }
    hex(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Builtin, Source};
    use crate::data::load;

    fn spec(test_fraction: f64, standardize: bool) -> DataSpec {
        DataSpec { source: Source::Builtin(Builtin::Iris), test_fraction, standardize, split_seed: 3 }
    }

    #[test]
    fn split_is_seeded_disjoint_and_complete() {
        let table = load(&Source::Builtin(Builtin::Iris)).unwrap();
        let a: Prepared<f64> = prepare(table.clone(), &spec(0.2, false)).unwrap();
        let b: Prepared<f64> = prepare(table.clone(), &spec(0.2, false)).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint);
        let test = a.test.as_ref().unwrap();
        assert_eq!((a.train.len(), test.len()), (120, 30));
        let mut other = spec(0.2, false);
        other.split_seed = 4;
        let c: Prepared<f64> = prepare(table.clone(), &other).unwrap();
        assert_ne!(a.fingerprint, c.fingerprint);
        // Every row of the table lands in exactly one part.
        let mut rows: Vec<String> =
            a.train.x.rows().into_iter().chain(test.x.rows()).map(|r| format!("{r}")).collect();
        let Samples::Table(table) = table else { panic!("iris is a table") };
        let mut all: Vec<String> = table.x.rows().into_iter().map(|r| format!("{r}")).collect();
        rows.sort();
        all.sort();
        assert_eq!(rows, all);
    }

    #[test]
    fn standardised_training_features_have_zero_mean_unit_variance() {
        let table = load(&Source::Builtin(Builtin::Digits)).unwrap();
        let p: Prepared<f64> = prepare(table, &spec(0.25, true)).unwrap();
        let mean = p.train.x.mean_axis(Axis(0)).unwrap();
        let sd = p.train.x.std_axis(Axis(0), 0.0);
        for (m, s) in mean.iter().zip(&sd) {
            assert!(m.abs() < 1e-12);
            // Constant pixels (always 0 in digits) stay constant at 0.
            assert!((s - 1.0).abs() < 1e-12 || *s == 0.0, "sd {s}");
        }
        assert_eq!(p.n_classes, 10);
        assert_eq!(p.n_features(), 64);
    }

    #[test]
    fn a_column_too_large_to_square_is_standardised_not_zeroed() {
        let table = load(&Source::Builtin(Builtin::Iris)).unwrap();
        let Samples::Table(mut huge) = table.clone() else { panic!("iris is a table") };
        huge.x.column_mut(0).mapv_inplace(|v| v * 1e160);
        let (plain, scaled): (Prepared<f64>, Prepared<f64>) = (
            prepare(table.clone(), &spec(0.2, true)).unwrap(),
            prepare(Samples::Table(huge.clone()), &spec(0.2, true)).unwrap(),
        );
        for (a, b) in plain.train.x.column(0).iter().zip(scaled.train.x.column(0)) {
            assert!((a - b).abs() < 1e-9, "{a} {b}");
        }
        assert!(scaled.train.x.column(0).iter().any(|v| v.abs() > 0.5));
        // The other columns keep their bits, and so does f32.
        assert_eq!(plain.train.x.column(1), scaled.train.x.column(1));
        let single: Prepared<f32> = prepare(Samples::Table(huge), &spec(0.2, true)).unwrap();
        assert!(single.train.x.column(0).iter().any(|v| v.abs() > 0.5));
    }

    #[test]
    fn no_test_set_at_fraction_zero() {
        let table = load(&Source::Builtin(Builtin::Iris)).unwrap();
        let p: Prepared<f32> = prepare(table, &spec(0.0, true)).unwrap();
        assert!(p.test.is_none());
        assert_eq!(p.train.len(), 150);
    }

    #[test]
    fn idx_sets_keep_their_split_and_use_training_statistics() {
        let dir = tempfile::tempdir().unwrap();
        idx::tests::write_tiny(dir.path(), 9, true);
        let source = Source::Idx { dir: dir.path().to_path_buf() };
        let spec = DataSpec { source: source.clone(), test_fraction: 0.0, standardize: true, split_seed: 0 };
        let raw = match load(&source).unwrap() {
            Samples::Idx(set) => set,
            Samples::Table(_) => panic!("IDX data loads as an IDX set"),
        };
        let p = prepare::<f64>(Samples::Idx(raw.clone()), &spec).unwrap();
        let test = p.test.as_ref().unwrap();
        assert_eq!((p.train.x.dim(), test.x.dim(), p.n_classes), ((9, 6), (2, 6), 3));
        for j in 0..6 {
            let col = raw.train_x.column(j).mapv(f64::from);
            let (mean, sd) = (col.mean().unwrap(), col.std(0.0));
            assert!(p.train.x.column(j).mean().unwrap().abs() < 1e-12);
            let expect = (f64::from(raw.test_x[[1, j]]) - mean) / sd;
            assert!((test.x[[1, j]] - expect).abs() < 1e-12);
        }
        let plain = DataSpec { standardize: false, ..spec };
        let q = prepare::<f32>(Samples::Idx(raw.clone()), &plain).unwrap();
        assert_eq!(q.train.x[[1, 0]], 42.0);
        assert_ne!(q.fingerprint, prepare::<f64>(Samples::Idx(raw), &plain).unwrap().fingerprint);
    }
}
