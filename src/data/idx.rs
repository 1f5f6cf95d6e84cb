//! The IDX format of MNIST and Fashion-MNIST: a folder with the four standard files
//! `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
//! `t10k-labels-idx1-ubyte`, each optionally gzipped (`.gz`). The train part is the training
//! set and the t10k part the test set.
//!
//! A file is a big-endian header — two zero bytes, a type byte (0x08 for unsigned bytes), the
//! number of dimensions — then each dimension as a u32, then the data. Images stay as bytes
//! until [`super::prepare`] converts them to the sweep's precision, so a 60000-image set costs
//! 47 MB here rather than 376 MB as f64.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use ndarray::Array2;

use super::{DataError, count_classes};

/// The standard Debian location of Fashion-MNIST (package `dataset-fashion-mnist`).
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// An IDX data set with its fixed train/test split: images flattened to rows of bytes.
#[derive(Clone, Debug)]
pub struct IdxSet {
    /// Training images, one row of p pixels each.
    pub train_x: Array2<u8>,
    /// Training labels.
    pub train_y: Vec<u32>,
    /// Test images.
    pub test_x: Array2<u8>,
    /// Test labels.
    pub test_y: Vec<u32>,
    /// K, the number of classes (the largest training label + 1).
    pub n_classes: usize,
    /// The folder, for messages.
    pub origin: String,
}

/// Reads the four files from `dir`.
pub fn load_dir(dir: &Path) -> Result<IdxSet, DataError> {
    let (train_x, train_y) = load_part(dir, "train")?;
    let (test_x, test_y) = load_part(dir, "t10k")?;
    let origin = dir.display().to_string();
    if train_x.ncols() != test_x.ncols() {
        return Err(DataError::Whole {
            origin,
            message: format!(
                "train images have {} pixels but t10k images have {}",
                train_x.ncols(),
                test_x.ncols()
            ),
        });
    }
    let n_classes = count_classes(&train_y, &format!("{origin} (train labels)"))?;
    if let Some(bad) = test_y.iter().find(|&&y| y as usize >= n_classes) {
        return Err(DataError::Whole {
            origin,
            message: format!("t10k label {bad} is not one of the training classes 0..{}", n_classes - 1),
        });
    }
    Ok(IdxSet { train_x, train_y, test_x, test_y, n_classes, origin })
}

/// Images and labels of one part ("train" or "t10k").
fn load_part(dir: &Path, part: &str) -> Result<(Array2<u8>, Vec<u32>), DataError> {
    let (images_path, images) = read_file(dir, &format!("{part}-images-idx3-ubyte"))?;
    let (labels_path, labels) = read_file(dir, &format!("{part}-labels-idx1-ubyte"))?;
    let (dims, pixels) = parse(&images, &images_path, 3)?;
    let (label_dims, labels) = parse(&labels, &labels_path, 1)?;
    if label_dims[0] != dims[0] {
        return Err(DataError::Whole {
            origin: labels_path.display().to_string(),
            message: format!("{} labels for {} images in {}", label_dims[0], dims[0], images_path.display()),
        });
    }
    let x =
        Array2::from_shape_vec((dims[0], dims[1] * dims[2]), pixels.to_vec()).expect("sizes were checked");
    Ok((x, labels.iter().map(|&b| u32::from(b)).collect()))
}

/// The bytes of `dir/name`, or of `dir/name.gz` decompressed.
fn read_file(dir: &Path, name: &str) -> Result<(PathBuf, Vec<u8>), DataError> {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    let read = |path: &Path, gzipped: bool| -> Result<Vec<u8>, DataError> {
        let (file, len) = super::open_regular(path)?;
        if !gzipped {
            crate::memory::check("reading it", len.checked_mul(2))
                .map_err(|message| DataError::Whole { origin: path.display().to_string(), message })?;
        }
        // What may be held in memory: all of it, less room for the converted copy.
        read_bytes(std::io::BufReader::new(file), gzipped, crate::memory::available() / 2, path)
    };
    if plain.exists() {
        Ok((plain.clone(), read(&plain, false)?))
    } else if gz.exists() {
        Ok((gz.clone(), read(&gz, true)?))
    } else {
        Err(DataError::Whole {
            origin: dir.display().to_string(),
            message: format!("neither {name} nor {name}.gz is in this folder"),
        })
    }
}

/// The bytes of an IDX file from `reader`, decompressed when `gzipped`; an error beyond `limit`
/// bytes. `path` names the file in messages.
pub fn read_bytes(reader: impl Read, gzipped: bool, limit: u64, path: &Path) -> Result<Vec<u8>, DataError> {
    let err = |source| DataError::Read { path: path.display().to_string(), source };
    let mut bytes = Vec::new();
    let taken = if gzipped {
        GzDecoder::new(reader).take(limit.saturating_add(1)).read_to_end(&mut bytes)
    } else {
        reader.take(limit.saturating_add(1)).read_to_end(&mut bytes)
    };
    taken.map_err(err)?;
    if bytes.len() as u64 > limit {
        return Err(DataError::Whole {
            origin: path.display().to_string(),
            message: format!("holds more than {} (half the memory available)", crate::memory::human(limit)),
        });
    }
    Ok(bytes)
}

/// Checks the header of an unsigned-byte IDX file with `ndims` dimensions; returns the
/// dimensions and the data.
pub fn parse<'a>(bytes: &'a [u8], path: &Path, ndims: usize) -> Result<(Vec<usize>, &'a [u8]), DataError> {
    let whole = |message: String| DataError::Whole { origin: path.display().to_string(), message };
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(whole(format!("too short for an IDX header ({} bytes)", bytes.len())));
    }
    let expected = [0, 0, 0x08, ndims as u8];
    if bytes[..4] != expected {
        return Err(whole(format!(
            "not an unsigned-byte IDX file with {ndims} dimension(s): magic {:02x?}, expected {:02x?}",
            &bytes[..4],
            expected
        )));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let size = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let data = &bytes[header..];
    if size != Some(data.len()) {
        return Err(whole(format!(
            "the header promises {} values ({}) but the file holds {}",
            size.map_or("more".to_string(), |s| s.to_string()),
            dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("×"),
            data.len()
        )));
    }
    if data.is_empty() {
        return Err(whole("no samples".into()));
    }
    Ok((dims, data))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a tiny IDX set: `n` training and 2 test images of 2×3 pixels, labels i % 3.
    pub(crate) fn write_tiny(dir: &Path, n: usize, gzip: bool) {
        let image = |n: usize, offset: u8| {
            let mut b = vec![0, 0, 8, 3];
            for d in [n as u32, 2, 3] {
                b.extend(d.to_be_bytes());
            }
            b.extend((0..n * 6).map(|i| (i as u8).wrapping_mul(7).wrapping_add(offset)));
            b
        };
        let labels = |n: usize| {
            let mut b = vec![0, 0, 8, 1];
            b.extend((n as u32).to_be_bytes());
            b.extend((0..n).map(|i| (i % 3) as u8));
            b
        };
        let files = [
            ("train-images-idx3-ubyte", image(n, 0)),
            ("train-labels-idx1-ubyte", labels(n)),
            ("t10k-images-idx3-ubyte", image(2, 1)),
            ("t10k-labels-idx1-ubyte", labels(2)),
        ];
        for (name, bytes) in files {
            if gzip {
                let f = std::fs::File::create(dir.join(format!("{name}.gz"))).unwrap();
                let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
                std::io::Write::write_all(&mut enc, &bytes).unwrap();
                enc.finish().unwrap();
            } else {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
    }

    #[test]
    fn reads_plain_and_gzipped_sets() {
        for gzip in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            write_tiny(dir.path(), 6, gzip);
            let set = load_dir(dir.path()).unwrap();
            assert_eq!(set.train_x.dim(), (6, 6));
            assert_eq!(set.test_x.dim(), (2, 6));
            assert_eq!(set.train_y, vec![0, 1, 2, 0, 1, 2]);
            assert_eq!(set.n_classes, 3);
            assert_eq!(set.train_x[[1, 0]], 42);
            assert_eq!(set.test_x[[0, 1]], 8);
        }
    }

    #[test]
    fn damaged_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny(dir.path(), 6, false);
        let path = dir.path().join("train-images-idx3-ubyte");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.pop();
        std::fs::write(&path, &bytes).unwrap();
        let err = load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("train-images-idx3-ubyte") && err.contains("promises 36 values"), "{err}");

        bytes[2] = 0x0d;
        std::fs::write(&path, &bytes).unwrap();
        let err = load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not an unsigned-byte IDX file"), "{err}");

        std::fs::remove_file(&path).unwrap();
        let err = load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("neither train-images-idx3-ubyte nor train-images-idx3-ubyte.gz"), "{err}");
    }
}
