//! Error messages in words: an error and its causes on one line, each said once.

/// `error: cause: cause…` on one line, leaving out a cause whose words the line already holds
/// (libraries often repeat their source's message in their own).
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Writes one line to standard error, ignoring a failure to: a closed or full stderr must not
/// turn a warning (or the report of an error) into a panic.
pub fn to_stderr(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_causes_are_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)");
        let e = anyhow::Error::new(io).context("cannot read x.csv");
        assert_eq!(one_line(&e), "cannot read x.csv: No such file or directory (os error 2)");
        let e = anyhow::anyhow!("invalid archive: no EOCD")
            .context("zip file error: invalid archive: no EOCD")
            .context("x.npz is not an npz file");
        assert_eq!(one_line(&e), "x.npz is not an npz file: zip file error: invalid archive: no EOCD");
    }
}
