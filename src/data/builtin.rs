//! The data sets compiled into the binary (see `data/README.md` for their provenance).

use flate2::read::GzDecoder;

use super::{DataError, Table};
use crate::config::Builtin;

const DIGITS: &[u8] = include_bytes!("../../data/digits.csv.gz");
const IRIS: &[u8] = include_bytes!("../../data/iris.csv.gz");

/// Decompresses and parses a built-in set.
pub fn load(which: Builtin) -> Result<Table, DataError> {
    let bytes = match which {
        Builtin::Digits => DIGITS,
        Builtin::Iris => IRIS,
    };
    let origin = format!("built-in {}", which.name());
    super::csv::load_reader(GzDecoder::new(bytes), "label", &origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_sets_have_their_documented_sizes() {
        let digits = load(Builtin::Digits).unwrap();
        assert_eq!(digits.x.dim(), (1797, 64));
        assert_eq!(digits.n_classes, 10);
        assert_eq!(digits.x.iter().cloned().fold(0.0, f64::max), 16.0);
        let iris = load(Builtin::Iris).unwrap();
        assert_eq!(iris.x.dim(), (150, 4));
        assert_eq!(iris.n_classes, 3);
        assert_eq!(iris.x[[0, 0]], 5.1);
    }
}
