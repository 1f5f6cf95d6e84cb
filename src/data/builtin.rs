//! The data sets compiled into the binary (see `data/README.md` for their provenance).

use flate2::read::GzDecoder;

use std::path::Path;

use super::idx::{self, FASHION_MNIST_DIR};
use super::{DataError, Samples, Table};
use crate::config::Builtin;

const DIGITS: &[u8] = include_bytes!("../../data/digits.csv.gz");
const IRIS: &[u8] = include_bytes!("../../data/iris.csv.gz");

/// Decompresses and parses a built-in set; Fashion-MNIST is read from Debian's package.
pub fn load(which: Builtin) -> Result<Samples, DataError> {
    let bytes = match which {
        Builtin::Digits => DIGITS,
        Builtin::Iris => IRIS,
        Builtin::FashionMnist => return fashion_mnist(Path::new(FASHION_MNIST_DIR)).map(Samples::Idx),
    };
    Ok(Samples::Table(table(bytes, which)?))
}

fn table(bytes: &[u8], which: Builtin) -> Result<Table, DataError> {
    let origin = format!("built-in {}", which.name());
    super::csv::load_reader(GzDecoder::new(bytes), "label", &origin)
}

/// Fashion-MNIST from `dir`, with installation advice when it is not there.
fn fashion_mnist(dir: &Path) -> Result<idx::IdxSet, DataError> {
    if !dir.is_dir() {
        return Err(DataError::Whole {
            origin: "builtin = \"fashion-mnist\"".into(),
            message: format!(
                "{} does not exist; install Debian's package with \
                 `sudo apt-get install dataset-fashion-mnist`, or download the four IDX files and \
                 point [data] idx = \"DIR\" at their folder",
                dir.display()
            ),
        });
    }
    idx::load_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_sets_have_their_documented_sizes() {
        let digits = table(DIGITS, Builtin::Digits).unwrap();
        assert_eq!(digits.x.dim(), (1797, 64));
        assert_eq!(digits.n_classes, 10);
        assert_eq!(digits.x.iter().cloned().fold(0.0, f64::max), 16.0);
        let iris = table(IRIS, Builtin::Iris).unwrap();
        assert_eq!(iris.x.dim(), (150, 4));
        assert_eq!(iris.n_classes, 3);
        assert_eq!(iris.x[[0, 0]], 5.1);
    }

    #[test]
    fn missing_fashion_mnist_says_how_to_install_it() {
        let err = fashion_mnist(Path::new("/nonexistent/fashion")).unwrap_err().to_string();
        assert!(
            err.contains("apt-get install dataset-fashion-mnist") && err.contains("/nonexistent/fashion"),
            "{err}"
        );
    }
}
