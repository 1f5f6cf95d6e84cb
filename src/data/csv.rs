//! CSV data: a header row, then one sample per row; one integer label column (classes 0..K−1),
//! every other column a numeric feature.

use std::io::Read;
use std::path::Path;

use ndarray::Array2;

use super::{DataError, Table, count_classes};

/// Reads a CSV file; see [`load_reader`].
pub fn load_path(path: &Path, label: &str) -> Result<Table, DataError> {
    let origin = path.display().to_string();
    let (file, len) = super::open_regular(path)?;
    // Each value takes at least two bytes of text ("0,") and eight in memory.
    crate::memory::check("reading it", len.checked_mul(4))
        .map_err(|message| DataError::Whole { origin: origin.clone(), message })?;
    load_reader(file, label, &origin)
}

/// Parses CSV text. `origin` names it in messages, which give the line of every bad row: a row
/// with the wrong number of fields, a value that is not a number, NaN or ±inf, or a label that is
/// not a non-negative integer.
pub fn load_reader(reader: impl Read, label: &str, origin: &str) -> Result<Table, DataError> {
    let at = |line: u64, message: String| DataError::Line { origin: origin.to_string(), line, message };
    let mut csv =
        csv::ReaderBuilder::new().has_headers(true).flexible(true).trim(csv::Trim::All).from_reader(reader);
    let header = csv.headers().map_err(|e| at(1, e.to_string()))?.clone();
    let label_col = header.iter().position(|h| h == label).ok_or_else(|| {
        let names: Vec<&str> = header.iter().take(8).collect();
        let more = if header.len() > 8 { ", …" } else { "" };
        at(
            1,
            format!(
                "no label column {label:?} in the header ({}{more}); set label = \"…\" in [data]",
                names.join(", ")
            ),
        )
    })?;
    if header.len() < 2 {
        return Err(at(1, "the header names no feature columns besides the label".into()));
    }
    let names: Vec<String> = header.iter().map(str::to_string).collect();
    for (i, name) in names.iter().enumerate() {
        if let Some(j) = names[i + 1..].iter().position(|n| n == name) {
            return Err(at(
                1,
                format!(
                    "the header names column {name:?} twice (columns {} and {}); rename one",
                    i + 1,
                    i + j + 2
                ),
            ));
        }
    }
    let p = header.len() - 1;
    let mut lines = Vec::new();

    let mut values = Vec::new();
    let mut y = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(at(line, e.to_string()));
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.len() == 1 && record[0].is_empty() {
            continue; // a blank line
        }
        if record.len() != header.len() {
            return Err(at(
                line,
                format!("expected {} fields as in the header, found {}", header.len(), record.len()),
            ));
        }
        lines.push(line);
        for (col, field) in record.iter().enumerate() {
            let name = &names[col];
            let value: f64 =
                field.parse().map_err(|_| at(line, format!("column {name:?} is not a number: {field:?}")))?;
            if !value.is_finite() {
                return Err(at(
                    line,
                    format!("column {name:?} is {field}; NaN and infinite values are not allowed"),
                ));
            }
            if col == label_col {
                if value < 0.0 || value.fract() != 0.0 || value > u32::MAX as f64 {
                    return Err(at(line, format!("label {field:?} is not a class number 0, 1, 2, …")));
                }
                y.push(value as u32);
            } else {
                values.push(value);
            }
        }
    }
    let n_classes = count_classes(&y, origin)?;
    let x = Array2::from_shape_vec((y.len(), p), values).expect("rows × features");
    let features = names.into_iter().enumerate().filter(|&(i, _)| i != label_col).map(|(_, n)| n).collect();
    Ok(Table { x, y, n_classes, origin: origin.to_string(), source_lines: Some((lines, features)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Table, DataError> {
        load_reader(text.as_bytes(), "label", "d.csv")
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn reads_features_and_labels_in_any_column_order() {
        let t = parse("a,label,b\n1,0,2\n3,1,4.5\n\n-1e3,1,0\n").unwrap();
        assert_eq!(t.x, ndarray::array![[1.0, 2.0], [3.0, 4.5], [-1000.0, 0.0]]);
        assert_eq!(t.y, vec![0, 1, 1]);
        assert_eq!(t.n_classes, 2);
    }

    #[test]
    fn bad_rows_are_named_by_line() {
        assert_eq!(err("a,label\n1,0\n2\n"), "d.csv line 3: expected 2 fields as in the header, found 1");
        assert_eq!(err("a,label\n1,0\nx,1\n"), "d.csv line 3: column \"a\" is not a number: \"x\"");
        assert_eq!(
            err("a,label\n1,0\nnan,1\n"),
            "d.csv line 3: column \"a\" is nan; NaN and infinite values are not allowed"
        );
        assert_eq!(
            err("a,label\n1,0\ninf,1\n"),
            "d.csv line 3: column \"a\" is inf; NaN and infinite values are not allowed"
        );
        assert_eq!(
            err("a,label\n1,0\n1,1.5\n"),
            "d.csv line 3: label \"1.5\" is not a class number 0, 1, 2, …"
        );
        assert_eq!(
            err("a,label\n1,0\n1,-1\n"),
            "d.csv line 3: label \"-1\" is not a class number 0, 1, 2, …"
        );
        assert!(
            err("a,y\n1,0\n").starts_with("d.csv line 1: no label column \"label\" in the header (a, y)")
        );
        assert!(err("a,label\n1,0\n1,2\n").contains("class 1 never occurs"));
        assert!(err("a,label\n").contains("no samples"));
        assert_eq!(
            err("a,label,label\n1,0,1\n"),
            "d.csv line 1: the header names column \"label\" twice (columns 2 and 3); rename one"
        );
    }
}
