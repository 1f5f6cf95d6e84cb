//! TOML's own errors (bad syntax, a wrong type) as one line naming the file, the line and, for
//! a wrong type, the key and what it must be in words.

use super::ConfigError;

/// Turns a TOML error into one line that names the file and the line.
pub(super) fn syntax_error(e: toml::de::Error, text: &str, origin: &str) -> ConfigError {
    let line = e.span().map(|span| text[..span.start.min(text.len())].lines().count().max(1));
    let line = match line {
        // A span that starts right after a newline belongs to the next line.
        Some(l) if e.span().is_some_and(|s| text[..s.start.min(text.len())].ends_with('\n')) => l + 1,
        Some(l) => l,
        None => 1,
    };
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    // The key whose value is wrong: the last `key =` before the value (inside an inline table,
    // the innermost one) whose value is still open there, on its own line or in a list or
    // table spanning lines; a value closed before a line ends (a table header's line has no
    // key) is not the one in error. Else the line's.
    let innermost = e.span().and_then(|span| {
        let upto = &text[..span.start.min(text.len())];
        let eq = upto.rfind('=')?;
        let mut depth = 0i32;
        for c in upto[eq + 1..].chars() {
            match c {
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                '\n' if depth <= 0 => return None,
                _ => {}
            }
        }
        let key = upto[..eq].rsplit(['{', ',', '\n']).next()?.trim().trim_matches('"');
        (!key.is_empty() && !key.contains(['[', ']'])).then_some(key)
    });
    // A line as written, without its comment.
    let bare = |l: &str| l.split('#').next().unwrap_or("").trim().to_string();
    let line_text = bare(text.lines().nth(line - 1).unwrap_or(""));
    let key = innermost.or_else(|| line_text.split_once('=').map(|(k, _)| k.trim().trim_matches('"')));
    let message = match key.and_then(|key| plain_type_error(&message, key)) {
        Some(words) => words,
        None if message == "duplicate key"
            && matches!(line_text.as_str(), "[data]" | "[[data]]")
            && text.lines().any(|l| bare(l) == "[data]")
            && text.lines().any(|l| bare(l) == "[[data]]") =>
        {
            "a config has one [data] table (a sweep) or [[data]] tables (a study, each named), not both"
                .into()
        }
        None if message == "duplicate key" && line_text.starts_with('[') => {
            format!("{line_text} repeats a table or key given earlier in the file")
        }
        None => message,
    };
    ConfigError::Syntax { origin: origin.to_string(), line, message }
}

/// The parser's "invalid type: string \"ten\", expected usize" in words: "iterations must be a
/// whole number ≥ 0 (got the string \"ten\")". `None` for other messages.
fn plain_type_error(message: &str, key: &str) -> Option<String> {
    let (found, expected) = message.rsplit_once(", expected ")?;
    let found = found.strip_prefix("invalid type: ").or_else(|| found.strip_prefix("invalid value: "))?;
    let wanted = match expected {
        "usize" | "u64" | "u32" | "u16" | "u8" => "a whole number ≥ 0",
        "i64" | "i32" | "i16" | "i8" => "a whole number",
        "f64" | "f32" | "any valid TOML value" => "a number",
        "a boolean" | "bool" => "true or false",
        "a string" | "a borrowed string" => "a quoted string",
        "a sequence" => "a list such as [1, 2]",
        _ => return None,
    };
    // TOML integers beyond 64 bits are read as i128: say so in words.
    let found = found.replace('`', "").replace(" as i128", ", too large");
    Some(format!("{key} must be {wanted} (got {found})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_errors_are_said_in_words() {
        assert_eq!(
            plain_type_error("invalid type: string \"ten\", expected usize", "iterations").unwrap(),
            "iterations must be a whole number ≥ 0 (got string \"ten\")"
        );
        assert_eq!(
            plain_type_error("invalid value: integer `99999999999999999999` as i128, expected u64", "seed")
                .unwrap(),
            "seed must be a whole number ≥ 0 (got integer 99999999999999999999, too large)"
        );
        assert!(plain_type_error("missing field `seeds`", "seeds").is_none());
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Train {
        iterations: u64,
        data: Option<toml::Table>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        seed: Vec<u64>,
        train: Train,
    }

    fn said(text: &str) -> (usize, String) {
        let e = toml::from_str::<Doc>(text).unwrap_err();
        match syntax_error(e, text, "f.toml") {
            ConfigError::Syntax { line, message, .. } => (line, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_key_named_is_the_one_in_error() {
        // Inside an inline table: its own key, not the table's.
        let (line, message) = said("seed = [0]\ntrain = { data = {}, iterations = [[1]] }\n");
        assert_eq!((line, message.as_str()), (2, "iterations must be a whole number ≥ 0 (got sequence)"));
        // A table header where a value belongs: no key of an earlier line is blamed.
        let (line, message) = said("seed = [0]\n[train.iterations]\n");
        assert_eq!(line, 2);
        assert!(!message.starts_with("seed"), "{message}");
        // A list over several lines: its key, though the bad element's line has none.
        let (line, message) = said("seed = [\n  0,\n  \"1\",\n]\n[train]\niterations = 1\n");
        assert_eq!((line, message.as_str()), (3, "seed must be a whole number ≥ 0 (got string \"1\")"));
        // A table given twice, and [data] beside [[data]].
        let (_, message) = said("seed = [0]\n[train]\niterations = 1\n[train]\n");
        assert_eq!(message, "[train] repeats a table or key given earlier in the file");
        let text = "[data] # one\n[[data]]\n";
        let e = toml::from_str::<toml::Table>(text).unwrap_err();
        let ConfigError::Syntax { message, .. } = syntax_error(e, text, "f.toml") else { panic!() };
        assert!(message.ends_with("not both"), "{message}");
    }
}
