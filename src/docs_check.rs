//! The docs say only what is so: every file, Rust item, config key, command, flag and
//! environment variable that the README, CONTRIBUTING, the changelog, `docs/`, the data and
//! results READMEs and the experiments' comments name must exist. Checked against the sources,
//! the command-line definition and the config parser themselves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::cli::Cli;
use crate::config::Config;

/// The repository's root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir`, relative to the root, leaving out build output and git's files.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a folder").flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !["target", ".git"].contains(&name.as_str()) {
                files_under(&path, out);
            }
        } else {
            out.push(path.strip_prefix(root()).expect("under the root").to_path_buf());
        }
    }
}

/// The documents checked: (name, text).
fn documents() -> Vec<(String, String)> {
    let root = root();
    let mut names: Vec<String> = [
        "README.md",
        "CONTRIBUTING.md",
        "CHANGELOG.md",
        "data/README.md",
        "results/README.md",
        "assets/README.md",
    ]
    .map(String::from)
    .into();
    for dir in ["docs", "experiments"] {
        let mut found: Vec<String> = std::fs::read_dir(root.join(dir))
            .expect("a docs folder")
            .flatten()
            .map(|e| format!("{dir}/{}", e.file_name().to_string_lossy()))
            .filter(|n| n.ends_with(".md") || n.ends_with(".toml"))
            .collect();
        found.sort();
        names.extend(found);
    }
    names
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(root.join(&name)).expect("a document");
            // A config's own keys are checked by parsing it; its comments are prose.
            let text = if name.ends_with(".toml") {
                text.lines().filter_map(|l| l.trim_start().strip_prefix('#')).collect::<Vec<_>>().join("\n")
            } else {
                text
            };
            (name, text)
        })
        .collect()
}

/// The `code` spans of a text (inline, between single backticks), and the lines of its fenced
/// blocks with the block's language.
fn code_of(text: &str) -> (Vec<String>, Vec<(String, String)>) {
    let (mut spans, mut blocks) = (Vec::new(), Vec::new());
    let mut fence: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(language) = trimmed.strip_prefix("```") {
            fence = match fence {
                Some(_) => None,
                None => Some(language.trim().to_string()),
            };
            continue;
        }
        if let Some(language) = &fence {
            blocks.push((language.clone(), line.to_string()));
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let (Some(code), Some(_)) = (parts.next(), parts.next()) {
            spans.push(code.to_string());
        }
    }
    (spans, blocks)
}

/// The top-level folders and files of the repository that a path in the docs may start with.
const REPOSITORY: [&str; 16] = [
    "src/",
    "crates/",
    "tests/",
    "benches/",
    "docs/",
    "experiments/",
    "assets/",
    "data/",
    "fuzz/",
    ".ci/",
    "README.md",
    "CONTRIBUTING.md",
    "CHANGELOG.md",
    "CITATION.cff",
    "Cargo.toml",
    "rustfmt.toml",
];

/// What is wrong with a word of code that looks like a path of the repository, if anything.
fn check_path(word: &str, files: &[PathBuf]) -> Option<String> {
    let word = word.trim_end_matches([',', '.', ':', ';', ')']);
    if word.contains(['<', '*', '…', '{', '$', ' ']) || word.contains("..") {
        return None;
    }
    let exists = |p: &str| {
        let p = p.trim_end_matches('/');
        files.iter().any(|f| f.to_string_lossy() == p || f.starts_with(p))
    };
    if REPOSITORY.iter().any(|r| word.starts_with(r)) {
        return (!exists(word)).then(|| format!("no file or folder {word}"));
    }
    // A source file named by its path within a crate (`model/loss.rs`, `tables.rs`).
    let known = [".rs", ".sh", ".py", ".cff"];
    if known.iter().any(|e| word.ends_with(e)) {
        let found = files
            .iter()
            .any(|f| f.to_string_lossy().ends_with(&format!("/{word}")) || f.to_string_lossy() == word);
        return (!found).then(|| format!("no file {word}"));
    }
    None
}

/// External crates and tools whose paths the docs may name; any other `a::b` must be ours.
const FOREIGN: [&str; 14] = [
    "std",
    "core",
    "ndarray",
    "rayon",
    "serde",
    "toml",
    "clap",
    "anyhow",
    "thiserror",
    "plotters",
    "libc",
    "rustix",
    "criterion",
    "insta",
];

/// The names the two crates define: their modules, and the values and types anywhere.
#[derive(Default)]
struct Names {
    /// Each module's path (`["report", "figures", "heatmap"]`; the core's without its crate
    /// name) and the text of its files (a folder's: every file under it).
    modules: Vec<(Vec<String>, String)>,
    /// Functions, methods, constants, statics and macros.
    values: BTreeSet<String>,
    /// Structs, enums, traits, type aliases, and enum variants (capitalised identifiers that
    /// start an indented line).
    types: BTreeSet<String>,
}

/// Every name the sources of the two crates define.
fn defined_names(files: &[PathBuf]) -> Names {
    let mut names = Names::default();
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "rs")) {
        let within = file.strip_prefix("src").or_else(|_| file.strip_prefix("crates/heavyball-core/src"));
        let Ok(within) = within else { continue };
        let text = std::fs::read_to_string(root().join(file)).expect("a source file");
        let mut path: Vec<String> = within
            .components()
            .map(|c| c.as_os_str().to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        if ["mod", "lib", "main"].contains(&path.last().map(String::as_str).unwrap_or("")) {
            path.pop();
        }
        // A folder's text is all of its files', so that its re-exports and items count.
        for end in 1..=path.len() {
            let prefix = path[..end].to_vec();
            match names.modules.iter_mut().find(|(p, _)| *p == prefix) {
                Some((_, all)) => all.push_str(&text),
                None => names.modules.push((prefix, text.clone())),
            }
        }
        for line in text.lines() {
            let mut words = line.split_whitespace().peekable();
            while let Some(word) = words.next() {
                let Some(next) = words.peek().map(|n| ident(n)) else { break };
                match word {
                    "fn" | "const" | "static" | "macro_rules!" => names.values.insert(next),
                    "struct" | "enum" | "trait" | "type" => names.types.insert(next),
                    _ => false,
                };
            }
            let indented = line.trim_start();
            if line.len() > indented.len() && indented.starts_with(|c: char| c.is_ascii_uppercase()) {
                names.types.insert(ident(indented));
            }
        }
    }
    names
}

/// Whether `word` stands in `text` as a whole identifier.
fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| w == word)
}

/// What is wrong with a word of code that looks like a Rust path (`report::write`,
/// `sweep::resume::decide`, `Real::hessian_at`), if anything. Its leading lowercase segments
/// must be a module of the two crates (the end of some module's path: docs name modules from
/// where they stand), the item after them must be in that module, and a capitalised segment
/// must be a type with the value after it defined somewhere.
fn check_rust_path(word: &str, names: &Names) -> Option<String> {
    let word = word.trim_end_matches(['.', ',', ';', ':']).trim_end_matches("()");
    if !word.contains("::") || word.contains([' ', '<', '(', '"', '{', '#']) {
        return None;
    }
    let mut segments: Vec<&str> = word.split("::").filter(|s| !s.is_empty()).collect();
    if FOREIGN.contains(&segments[0]) {
        return None;
    }
    if ["heavyball", "heavyball_core", "crate"].contains(&segments[0]) {
        segments.remove(0);
    }
    let modules = segments
        .iter()
        .take(segments.len().saturating_sub(1))
        .take_while(|s| s.starts_with(|c: char| c.is_ascii_lowercase()))
        .count();
    let rest = &segments[modules..];
    let fail = |what: &str| Some(format!("{word}: {what}"));
    let mut text: Option<String> = None;
    if modules > 0 {
        let wanted: Vec<String> = segments[..modules].iter().map(|s| s.to_string()).collect();
        let found: Vec<&(Vec<String>, String)> =
            names.modules.iter().filter(|(path, _)| path.ends_with(&wanted)).collect();
        if found.is_empty() {
            return fail(&format!("no module {}", wanted.join("::")));
        }
        text = Some(found.iter().map(|(_, t)| t.as_str()).collect());
    }
    match rest {
        [] => None,
        [item] => match &text {
            Some(text) if !has_word(text, item) => fail(&format!("nothing called {item} in that module")),
            None if !(names.types.contains(*item) || names.values.contains(*item)) => {
                fail(&format!("nothing called {item} in the sources"))
            }
            _ => None,
        },
        [ty, member @ ..] => {
            if !names.types.contains(*ty) || text.as_ref().is_some_and(|t| !has_word(t, ty)) {
                return fail(&format!("no type {ty} there"));
            }
            member
                .iter()
                .find(|m| !(names.values.contains(**m) || names.types.contains(**m)))
                .and_then(|m| fail(&format!("nothing called {m} in the sources")))
        }
    }
}

/// What is wrong with a command line of the docs, if anything: `heavyball SUB --flag …` must be
/// a subcommand with those flags; `cargo … -p P --bench B --test T --bin N` must name a package
/// and targets that exist.
fn check_command(line: &str, files: &[PathBuf]) -> Option<String> {
    let line = line.trim().trim_start_matches("$ ");
    let words: Vec<&str> = line.split_whitespace().take_while(|w| !w.starts_with('#')).collect();
    match words.first() {
        Some(&"heavyball") => {
            let cli = Cli::command();
            let sub = words.get(1)?;
            let Some(command) = cli.find_subcommand(sub) else {
                return Some(format!("`{line}`: heavyball has no command {sub}"));
            };
            for flag in words.iter().filter(|w| w.starts_with("--")) {
                let name = flag.trim_start_matches("--").split('=').next().unwrap_or("");
                if !command.get_arguments().any(|a| a.get_long() == Some(name)) {
                    return Some(format!("`{line}`: heavyball {sub} has no option --{name}"));
                }
            }
            None
        }
        Some(&"cargo") => {
            let cargo_tomls: Vec<String> = files
                .iter()
                .filter(|f| f.ends_with("Cargo.toml"))
                .map(|f| std::fs::read_to_string(root().join(f)).expect("a manifest"))
                .collect();
            let declared = |name: &str| cargo_tomls.iter().any(|t| t.contains(&format!("name = \"{name}\"")));
            for pair in words.windows(2) {
                let ok = match pair[0] {
                    "-p" | "--package" => declared(pair[1]),
                    "--bench" | "--bin" => declared(pair[1]) || pair[1] == "heavyball",
                    "--test" => {
                        files.iter().any(|f| f == Path::new(&format!("tests/{}.rs", pair[1])))
                            || files.iter().any(|f| f == Path::new(&format!("tests/{}/main.rs", pair[1])))
                    }
                    _ => true,
                };
                if !ok {
                    return Some(format!("`{line}`: no {} {}", pair[0], pair[1]));
                }
            }
            None
        }
        _ => None,
    }
}

/// What is wrong with the keys of a TOML example of the docs, if anything: each `key = value`
/// line (commented or not), set in a config that is otherwise valid, must not be an unknown key.
fn check_toml_example(lines: &[String]) -> Vec<String> {
    const BASE: &str = "name = \"t\"\n[data]\nbuiltin = \"iris\"\n[train]\niterations = 1\n[grid]\nhidden = [2]\ngamma = [0.1]\nalpha = [1.0]\n";
    let mut out = Vec::new();
    // A key in force belongs to the last section in force; a commented-out key (an example of
    // an option) to the last section named, commented or not.
    let (mut in_force, mut named) = (String::new(), String::new());
    for line in lines {
        let commented = line.trim_start().starts_with('#');
        let line = line.trim().trim_start_matches('#').trim();
        let line = line.split(" #").next().unwrap_or(line).trim();
        if line.starts_with('[') && line.ends_with(']') {
            named = line.trim_matches(['[', ']']).to_string();
            if !commented {
                in_force = named.clone();
            }
            continue;
        }
        let section = if commented { named.clone() } else { in_force.clone() };
        let Some((key, value)) = line.split_once(" = ") else { continue };
        if !key.chars().all(|c| c.is_ascii_lowercase() || c == '_') || key.is_empty() {
            continue;
        }
        let value = value.split(" #").next().unwrap_or(value).trim();
        let text = if section.is_empty() {
            format!("{key} = {value}\n{}", BASE.trim_start_matches("name = \"t\"\n"))
        } else {
            let mut text = BASE.to_string();
            if !text.contains(&format!("[{section}]\n")) {
                text.push_str(&format!("[{section}]\n"));
            }
            let at = text.find(&format!("[{section}]\n")).expect("the section") + section.len() + 3;
            text.insert_str(at, &format!("{key} = {value}\n"));
            text
        };
        if let Err(e) = Config::from_str(&text, "docs", "t", Path::new(".")) {
            let message = e.to_string();
            if message.contains("unknown field") || message.contains("unknown variant") {
                out.push(format!("[{section}] {key} = {value}: {message}"));
            }
        }
    }
    out
}

#[test]
fn everything_the_docs_name_exists() {
    let mut files = Vec::new();
    files_under(&root(), &mut files);
    let names = defined_names(&files);
    let sources: String = files
        .iter()
        .filter(|f| ["src", "tests", "benches", "crates", ".ci"].iter().any(|d| f.starts_with(d)))
        .filter(|f| !f.ends_with("docs_check.rs"))
        .map(|f| std::fs::read_to_string(root().join(f)).unwrap_or_default())
        .collect();
    let mut problems = Vec::new();
    for (doc, text) in documents() {
        let (spans, blocks) = code_of(&text);
        let mut found = Vec::new();
        for span in &spans {
            for word in span.split_whitespace() {
                found.extend(check_path(word, &files));
                found.extend(check_rust_path(word, &names));
            }
            found.extend(check_command(span, &files));
        }
        for (_, line) in &blocks {
            for word in line.split_whitespace() {
                found.extend(check_path(word, &files));
            }
            found.extend(check_command(line, &files));
        }
        let toml: Vec<String> =
            blocks.iter().filter(|(l, _)| l == "toml").map(|(_, line)| line.clone()).collect();
        found.extend(check_toml_example(&toml));
        for variable in text
            .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .filter(|w| w.starts_with("HEAVYBALL_"))
        {
            if !sources.contains(variable) {
                found.push(format!("no environment variable {variable} in the sources"));
            }
        }
        problems.extend(found.into_iter().map(|p| format!("{doc}: {p}")));
    }
    problems.dedup();
    assert!(problems.is_empty(), "the docs name what does not exist:\n{}", problems.join("\n"));
}

#[test]
fn every_experiment_is_a_valid_config() {
    for entry in std::fs::read_dir(root().join("experiments")).expect("experiments/").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") {
            Config::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn the_checks_catch_what_is_not_so() {
    let mut files = Vec::new();
    files_under(&root(), &mut files);
    let names = defined_names(&files);
    assert!(check_path("src/report/plots.rs", &files).is_some());
    assert!(check_path("src/report/tables.rs", &files).is_none());
    assert!(check_path("benches/paired.sh", &files).is_none());
    assert!(check_path("paired-t.sh", &files).is_none());
    assert!(check_path("peers.sh", &files).is_some());
    assert!(check_rust_path("sharpness::extremes", &names).is_some());
    assert!(check_rust_path("report::write", &names).is_none());
    assert!(check_rust_path("Real::hessian_at", &names).is_none());
    assert!(check_rust_path("sweep::resume::decide", &names).is_none());
    assert!(check_rust_path("heavyball_core::model::stability_threshold", &names).is_none());
    assert!(check_rust_path("store::curvature::RunCurvature", &names).is_some());
    assert!(check_rust_path("Real::curvature_at", &names).is_some());
    assert!(check_command("heavyball run CONFIG --threads N", &files).is_none());
    assert!(check_command("heavyball run CONFIG --thread N", &files).is_some());
    assert!(check_command("heavyball prepare CONFIG", &files).is_some());
    assert!(check_command("cargo bench -p heavyball-benches --bench gradient", &files).is_none());
    assert!(check_command("cargo bench -p heavyball-bench --bench gradient", &files).is_some());
    assert!(check_command("cargo test --test cli resume::", &files).is_none());
    let lines = |t: &str| t.lines().map(String::from).collect::<Vec<_>>();
    assert!(check_toml_example(&lines("[train]\niterations = 200\n# divergence_factor = 10")).is_empty());
    assert_eq!(check_toml_example(&lines("[train]\n# iteration = 200")).len(), 1);
    assert_eq!(
        check_toml_example(&lines("[tune]\nby = \"final_train_loss\"\n[grid]\nalphas = [1.0]")).len(),
        1
    );
}
