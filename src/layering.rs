//! The layering rule, checked: in this crate and in heavyball-core, a module names only the
//! modules listed above it in its crate's `//!` overview (the first ```` ```text ```` block of
//! `lib.rs`, one module per line), and the overview lists every module the crate declares.
//!
//! Every `crate::<module>` in a file counts, in code and in comments alike: a doc link to a
//! module below is a dependency on it too.

use std::path::{Path, PathBuf};

/// The modules in the order a crate's `lib.rs` lists them: the first word of each line of its
/// first ```` ```text ```` block.
fn documented_order(lib: &str) -> Vec<String> {
    let mut lines = lib.lines().skip_while(|l| l.trim() != "//! ```text").skip(1);
    let mut order = Vec::new();
    for line in lines.by_ref() {
        let line = line.trim_start_matches("//!").trim();
        if line == "```" {
            break;
        }
        if let Some(word) = line.split_whitespace().next() {
            order.push(word.to_string());
        }
    }
    order
}

/// The modules a crate's `lib.rs` declares, leaving out those only tests compile.
fn declared_modules(lib: &str) -> Vec<String> {
    declarations(lib).into_iter().filter(|(_, test_only)| !test_only).map(|(name, _)| name).collect()
}

/// The modules a crate's `lib.rs` declares, each with whether only tests compile it.
fn declarations(lib: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut test_only = false;
    for line in lib.lines().map(str::trim) {
        if line == "#[cfg(test)]" {
            test_only = true;
            continue;
        }
        let name = line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod "));
        if let Some(name) = name.and_then(|n| n.strip_suffix(';')) {
            out.push((name.to_string(), test_only));
        }
        test_only = false;
    }
    out
}

/// The modules `text` names as `crate::<module>`.
fn named_modules(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        // `heavyball_core::…` or `some_crate::…` end in "crate::" too; only the keyword counts.
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = text[i + 7..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Where `module`, in a file that names `named`, breaks `order`: one line per module it names
/// that is listed below it (or not at all).
fn breaches(order: &[String], module: &str, named: &[String]) -> Vec<String> {
    let place = |m: &str| order.iter().position(|o| o == m);
    let Some(own) = place(module) else {
        return vec![format!("{module} is not in the documented order")];
    };
    named
        .iter()
        .filter(|n| n.as_str() != module)
        .filter(|n| place(n).is_none_or(|p| p > own))
        .map(|n| format!("{module} names crate::{n}, which is listed below it"))
        .collect()
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a source folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Every breach of the rule in the crate whose sources are in `src`.
fn crate_breaches(src: &Path) -> Vec<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let order = documented_order(&lib);
    let mut out = Vec::new();
    let mut declared = declared_modules(&lib);
    declared.sort();
    let mut listed = order.clone();
    listed.sort();
    if declared != listed {
        out.push(format!(
            "{}: lib.rs declares {declared:?} but its overview lists {listed:?}",
            src.display()
        ));
    }
    for path in rust_files(src) {
        let relative = path.strip_prefix(src).expect("under src");
        let first = relative.components().next().expect("a file").as_os_str().to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        // The crate root, the binary, and the modules only tests compile (this checker, the
        // docs check), which test the whole crate.
        let test_only = declarations(&lib).into_iter().any(|(name, only)| only && name == module);
        if ["lib", "main"].contains(&module.as_str()) || test_only {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a source file");
        for breach in breaches(&order, &module, &named_modules(&text)) {
            out.push(format!("{}: {breach}", path.display()));
        }
    }
    out
}

#[test]
fn no_module_names_a_module_listed_below_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for src in [root.join("src"), root.join("crates/heavyball-core/src")] {
        let breaches = crate_breaches(&src);
        assert!(breaches.is_empty(), "the layering rule is broken:\n{}", breaches.join("\n"));
    }
}

/// The most lines a source file may hold: past it a file has taken on a second job
/// (CONTRIBUTING.md: one job per file), and it is carved before more lands in it.
const MOST_LINES: usize = 550;

#[test]
fn no_source_file_outgrows_one_job() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut big = Vec::new();
    for dir in ["src", "crates/heavyball-core/src", "tests", "benches"] {
        for path in rust_files(&root.join(dir)) {
            let lines = std::fs::read_to_string(&path).expect("a source file").lines().count();
            if lines > MOST_LINES {
                big.push(format!("{}: {lines} lines", path.display()));
            }
        }
    }
    assert!(big.is_empty(), "files over {MOST_LINES} lines; carve them:\n{}", big.join("\n"));
}

#[test]
fn the_checker_finds_an_import_up_the_list() {
    let order: Vec<String> = ["config", "data", "sweep"].map(String::from).into();
    let text = "use crate::config::Config;\n/// See [`crate::sweep::run`].\nuse heavyball_core::Real;";
    assert_eq!(named_modules(text), ["config", "sweep"]);
    assert_eq!(
        breaches(&order, "data", &named_modules(text)),
        ["data names crate::sweep, which is listed below it"]
    );
    assert!(breaches(&order, "sweep", &named_modules(text)).is_empty());
    assert_eq!(breaches(&order, "data", &["cli".to_string()]).len(), 1, "a module left out of the order");
    let lib = "//! ```text\n//! config   the config\n//! data     (the data)\n//! ```\npub mod config;\n#[cfg(test)]\nmod t;\nmod data;\n";
    assert_eq!(documented_order(lib), ["config", "data"]);
    assert_eq!(declared_modules(lib), ["config", "data"]);
}
