//! The data files of a run, each with one function that writes its bytes and one that reads
//! it back: `curve.csv`, the parameter files `init.npz` and `final.npz`, and `checkpoint.npz`.
//! numpy reads every `.npz`.

use std::fs::File;
use std::io::{self, Read as _};
use std::path::Path;

use anyhow::{Context, Result, bail};
use heavyball_core::Real;
use heavyball_core::model::{Params, Shape};
use ndarray::{Array1, Array2, aview1};
use ndarray_npy::NpzWriter;

use crate::train::{CurveRow, State};

/// The column names of a curve file: the test columns with a test set, `sharpness` when the
/// sweep computes it.
pub fn curve_header(with_test: bool, with_sharpness: bool) -> String {
    let mut header = String::from("iteration,train_loss,train_accuracy");
    if with_test {
        header.push_str(",test_loss,test_accuracy");
    }
    if with_sharpness {
        header.push_str(",sharpness");
    }
    header
}

/// True when a curve carries the sharpness column: its rows 0, every k-th and the last have a
/// value (a run whose very first loss is not finite has none, and no column).
pub fn has_sharpness(rows: &[CurveRow]) -> bool {
    rows.iter().any(|r| r.sharpness.is_some())
}

/// One curve row as CSV fields, numbers in their shortest exact form; with the sharpness
/// column, the value or nothing.
pub fn curve_fields(row: &CurveRow, with_sharpness: bool) -> String {
    let mut line = format!("{},{},{}", row.iteration, row.train_loss, row.train_accuracy);
    if let (Some(loss), Some(acc)) = (row.test_loss, row.test_accuracy) {
        line.push_str(&format!(",{loss},{acc}"));
    }
    if with_sharpness {
        line.push(',');
        if let Some(v) = row.sharpness {
            line.push_str(&v.to_string());
        }
    }
    line
}

/// The bytes of `curve.csv`.
pub fn encode_curve(rows: &[CurveRow], with_test: bool) -> Vec<u8> {
    let with_sharpness = has_sharpness(rows);
    let mut text = curve_header(with_test, with_sharpness);
    text.push('\n');
    for row in rows {
        text.push_str(&curve_fields(row, with_sharpness));
        text.push('\n');
    }
    text.into_bytes()
}

/// Reads `curve.csv` back; errors name the file and line.
pub fn read_curve(path: &Path) -> Result<Vec<CurveRow>> {
    let mut text = String::new();
    super::open_regular(path)?
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let Some((with_test, with_sharpness)) = [(false, false), (true, false), (false, true), (true, true)]
        .into_iter()
        .find(|&(t, s)| header == curve_header(t, s))
    else {
        bail!("{} line 1: not a heavyball curve header", path.display());
    };
    let columns = 3 + 2 * usize::from(with_test) + usize::from(with_sharpness);
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let bad = || anyhow::anyhow!("{} line {}: malformed curve row {line:?}", path.display(), i + 2);
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != columns {
            return Err(bad());
        }
        let num = |s: &str| s.parse::<f64>().map_err(|_| bad());
        let sharpness = match f.last() {
            Some(&"") if with_sharpness => None,
            Some(v) if with_sharpness => Some(num(v)?),
            _ => None,
        };
        rows.push(CurveRow {
            iteration: f[0].parse().map_err(|_| bad())?,
            train_loss: num(f[1])?,
            train_accuracy: num(f[2])?,
            test_loss: if with_test { Some(num(f[3])?) } else { None },
            test_accuracy: if with_test { Some(num(f[4])?) } else { None },
            sharpness,
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

/// Reads W, b, V, c from an `.npz` file written from [`encode_params`], for a network of
/// `shape`: no array larger than that shape's is read into memory.
pub fn read_params<T: Real>(path: &Path, shape: Shape) -> Result<Params<T>> {
    let mut npz = Npz::open(path)?;
    let params = npz.params::<T>(shape)?;
    Ok(params)
}

/// An `.npz` file opened to read arrays of bounded size: each array is read whole into a
/// buffer no larger than its bound and viewed in place, so a damaged or hostile header (one
/// that claims 3·10⁹ rows, say) is an error, never an allocation of what it claims.
struct Npz<'p> {
    zip: zip::ZipArchive<File>,
    path: &'p Path,
}

impl<'p> Npz<'p> {
    fn open(path: &'p Path) -> Result<Self> {
        let file = super::open_regular(path)?;
        let zip =
            zip::ZipArchive::new(file).with_context(|| format!("{} is not an npz file", path.display()))?;
        Ok(Npz { zip, path })
    }

    /// The array `name` of `D` dimensions with elements of type `A`, whose data take at most
    /// `max_elements` elements.
    fn array<A, D>(&mut self, name: &str, max_elements: usize) -> Result<ndarray::Array<A, D>>
    where
        A: ndarray_npy::ViewElement + Clone,
        D: ndarray::Dimension,
    {
        use std::io::Read;
        let context = || format!("{} does not hold a readable array {name}", self.path.display());
        // The data, plus a generous bound on the .npy header.
        let limit =
            (max_elements as u64).saturating_mul(std::mem::size_of::<A>() as u64).saturating_add(4096);
        let mut entry = self.zip.by_name(&format!("{name}.npy")).with_context(context)?;
        if entry.size() > limit {
            bail!("{} holds an array {name} larger than this run's network", self.path.display());
        }
        // u64 words keep the buffer aligned for every element type; the header's length is a
        // multiple of 16 bytes, so the data that follows it is aligned too.
        let mut words = vec![0u64; (entry.size() as usize).div_ceil(8)];
        let bytes = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..entry.size() as usize];
        entry.read_exact(bytes).with_context(context)?;
        check_npy_preamble(bytes).with_context(context)?;
        let view =
            <ndarray::ArrayView<A, D> as ndarray_npy::ViewNpyExt>::view_npy(bytes).with_context(context)?;
        Ok(view.to_owned())
    }

    /// W, b, V, c of a network of `shape`.
    fn params<T: Real>(&mut self, shape: Shape) -> Result<Params<T>> {
        let Shape { n_features: p, n_hidden: m, n_classes: k } = shape;
        let w: Array2<T> = self.array("W", m * p)?;
        let b: Array1<T> = self.array("b", m)?;
        let v: Array2<T> = self.array("V", k * m)?;
        let c: Array1<T> = self.array("c", k)?;
        let params = Params::from_blocks(w.view(), b.view(), v.view(), c.view())
            .with_context(|| self.path.display().to_string())?;
        if params.shape() != shape {
            bail!("{} holds a network of another shape", self.path.display());
        }
        Ok(params)
    }
}

/// Checks that the .npy preamble of `bytes` (magic string, version, header length) describes a
/// header that lies within `bytes`. ndarray-npy allocates whatever length the preamble claims
/// before it reads the header, so this check comes first.
fn check_npy_preamble(bytes: &[u8]) -> Result<()> {
    let (magic, rest) = bytes.split_at_checked(8).context("the file ends inside the .npy preamble")?;
    if &magic[..6] != b"\x93NUMPY" {
        bail!("not an .npy array");
    }
    let (length, header) = match magic[6] {
        1 => rest.split_at_checked(2).map(|(l, h)| (u16::from_le_bytes([l[0], l[1]]) as usize, h)),
        2 | 3 => {
            rest.split_at_checked(4).map(|(l, h)| (u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize, h))
        }
        v => bail!(".npy format version {v} is not one numpy writes"),
    }
    .context("the file ends inside the .npy preamble")?;
    if length > header.len() {
        bail!("the .npy header claims {length} bytes but the file holds {}", header.len());
    }
    Ok(())
}

/// The bytes of a checkpoint: `W`, `b`, `V`, `c` (θ^k), `phi` (φ^k, flat, in θ's order),
/// `iteration` (k, as a one-element u64 array), `curve` (rows×5 f64: iteration, train loss,
/// train accuracy, test loss, test accuracy; NaN where there is no test set; a sixth column,
/// the sharpness or NaN, when the curve carries it) and `key` (the run key as ASCII bytes).
/// numpy reads every array. `path` is the file's path, for messages.
pub fn encode_checkpoint<T: Real>(path: &Path, key: &str, state: &State<T>) -> Result<Vec<u8>> {
    let columns = if has_sharpness(&state.curve) { 6 } else { 5 };
    let mut curve = Array2::<f64>::from_elem((state.curve.len(), columns), f64::NAN);
    for (mut out, row) in curve.rows_mut().into_iter().zip(&state.curve) {
        out[0] = row.iteration as f64;
        out[1] = row.train_loss;
        out[2] = row.train_accuracy;
        out[3] = row.test_loss.unwrap_or(f64::NAN);
        out[4] = row.test_accuracy.unwrap_or(f64::NAN);
        if columns == 6 {
            out[5] = row.sharpness.unwrap_or(f64::NAN);
        }
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
pub fn read_checkpoint<T: Real>(path: &Path, key: &str, shape: Shape) -> Result<State<T>> {
    let mut npz = open_checkpoint(path, key)?;
    let theta = npz.params::<T>(shape)?;
    let phi_flat: Array1<T> = npz.array("phi", shape.n_params())?;
    if phi_flat.len() != shape.n_params() {
        bail!("{} holds a momentum of the wrong length", path.display());
    }
    let mut phi = Params::zeros(shape);
    phi.as_flat_mut().assign(&phi_flat);
    let (iteration, curve) = checkpoint_curve_in(&mut npz, path)?;
    Ok(State { theta, phi, iteration, curve })
}

/// The iteration and curve of the checkpoint at `path` when it belongs to the run `key`, without
/// its parameters (the report checks a finished run's `curve.csv` against it).
pub fn read_checkpoint_curve(path: &Path, key: &str) -> Result<(usize, Vec<CurveRow>)> {
    checkpoint_curve_in(&mut open_checkpoint(path, key)?, path)
}

/// Opens the checkpoint at `path`, refusing one that names another run than `key`.
fn open_checkpoint<'p>(path: &'p Path, key: &str) -> Result<Npz<'p>> {
    let mut npz = Npz::open(path)?;
    let stored_key: Array1<u8> = npz.array("key", 4096)?;
    if stored_key.as_slice() != Some(key.as_bytes()) {
        bail!("{} belongs to another run", path.display());
    }
    Ok(npz)
}

/// A checkpoint's iteration and curve.
fn checkpoint_curve_in(npz: &mut Npz<'_>, path: &Path) -> Result<(usize, Vec<CurveRow>)> {
    let context = || format!("{} is not a complete heavyball checkpoint", path.display());
    let iteration: Array1<u64> = npz.array("iteration", 1)?;
    let iteration = *iteration.first().with_context(context)? as usize;
    if iteration > crate::config::MAX_ITERATIONS {
        bail!("{} claims {iteration} iterations, more than any run takes", path.display());
    }
    let curve_array: Array2<f64> = npz.array("curve", (iteration + 1) * 6)?;
    if curve_array.ncols() != 5 && curve_array.ncols() != 6 {
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
            sharpness: r.get(5).copied().filter(|v| !v.is_nan()),
        })
        .collect();
    let ordered = curve.iter().enumerate().all(|(i, r)| r.iteration == i);
    if !ordered || !(curve.len() == iteration || curve.len() == iteration + 1) {
        bail!("{} holds a curve that disagrees with its iteration {iteration}", path.display());
    }
    Ok((iteration, curve))
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
                && opt(x.sharpness) == opt(y.sharpness)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::write_atomic_group;

    /// An .npz holding one array `name` whose .npy header claims `shape` but holds `data`.
    fn crafted_npz(path: &Path, name: &str, shape: &str, data: &[u8]) {
        let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
        let mut header = dict.into_bytes();
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(b' ');
        }
        header.push(b'\n');
        let mut npy = b"\x93NUMPY\x01\x00".to_vec();
        npy.extend((header.len() as u16).to_le_bytes());
        npy.extend(header);
        npy.extend(data);
        npz_of(path, name, &npy);
    }

    /// An .npz holding the bytes `npy` as the entry `name`.npy.
    fn npz_of(path: &Path, name: &str, npy: &[u8]) {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        let options =
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file(format!("{name}.npy"), options).unwrap();
        zip.write_all(npy).unwrap();
        zip.finish().unwrap();
    }

    #[test]
    fn npy_preambles_that_claim_huge_headers_are_errors_not_allocations() {
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape { n_features: 4, n_hidden: 3, n_classes: 2 };
        let path = dir.path().join("x.npz");
        // Versions 2 and 3 give the header's length in four bytes: here 4 GiB − 1, in a file
        // of a few dozen bytes (the fuzzer found such a file made the reader allocate it all).
        for version in [2u8, 3] {
            let mut npy = vec![0x93, b'N', b'U', b'M', b'P', b'Y', version, 0];
            npy.extend(u32::MAX.to_le_bytes());
            npy.extend(b"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }\n");
            npz_of(&path, "W", &npy);
            let e = read_params::<f32>(&path, shape).unwrap_err();
            assert!(format!("{e:#}").contains("does not hold a readable array W"), "{e:#}");
        }
        for preamble in [&b"\x93NUMPY"[..], b"\x93NUMPY\x01\x00\xff", b"\x93NUMPY\x09\x00\x10\x00", b"PK"] {
            npz_of(&path, "W", preamble);
            let e = read_params::<f32>(&path, shape).unwrap_err();
            assert!(format!("{e:#}").contains("does not hold a readable array W"), "{e:#}");
        }
    }

    #[test]
    fn headers_that_claim_huge_arrays_are_errors_not_allocations() {
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape { n_features: 4, n_hidden: 3, n_classes: 2 };
        let path = dir.path().join("x.npz");
        for claim in ["(3000000000, 4)", "(18446744073709551615, 18446744073709551615)", "(3, 4)"] {
            crafted_npz(&path, "W", claim, &[0u8; 16]);
            let e = read_params::<f32>(&path, shape).unwrap_err();
            assert!(format!("{e:#}").contains("does not hold a readable array W"), "{claim}: {e:#}");
            let e = read_checkpoint::<f32>(&path, "k", shape).unwrap_err();
            assert!(format!("{e:#}").contains("does not hold a readable array key"), "{claim}: {e:#}");
        }
        // A file far larger than the shape allows is refused before it is read.
        crafted_npz(&path, "W", "(3, 4)", &vec![0u8; 1 << 20]);
        let e = read_params::<f32>(&path, shape).unwrap_err();
        assert!(format!("{e:#}").contains("larger than this run's network"), "{e:#}");
    }

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
                sharpness: None,
            },
            CurveRow {
                iteration: 1,
                train_loss: f64::NAN,
                train_accuracy: 0.0,
                test_loss: Some(f64::INFINITY),
                test_accuracy: Some(0.0),
                sharpness: None,
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

        // With the sharpness at some rows: a last column, empty where it was not computed, in
        // the file and in the checkpoint.
        let mut sharp = rows.clone();
        sharp[0].sharpness = Some(12.5);
        let sharp: Vec<CurveRow> =
            sharp.into_iter().map(|r| CurveRow { test_loss: None, test_accuracy: None, ..r }).collect();
        write_atomic_group(dir.path(), &[("curve.csv", &encode_curve(&sharp, false))]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "iteration,train_loss,train_accuracy,sharpness\n0,2.302585092994045,0.1,12.5\n1,NaN,0,\n"
        );
        assert!(same_curve(&read_curve(&path).unwrap(), &sharp));
        let shape = Shape { n_features: 2, n_hidden: 2, n_classes: 2 };
        let state = State {
            theta: Params::<f64>::init(shape, 1),
            phi: Params::zeros(shape),
            iteration: 1,
            curve: sharp,
        };
        let ckpt = dir.path().join("checkpoint.npz");
        write_atomic_group(
            dir.path(),
            &[("checkpoint.npz", &encode_checkpoint(&ckpt, "k", &state).unwrap())],
        )
        .unwrap();
        assert!(same_curve(&read_checkpoint::<f64>(&ckpt, "k", shape).unwrap().curve, &state.curve));
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
        assert_eq!(read_params::<f32>(&a, params.shape()).unwrap(), params);
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert!(read_params::<f64>(&a, params.shape()).is_err());
    }
}
