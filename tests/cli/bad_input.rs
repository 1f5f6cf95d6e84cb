//! Every kind of bad input gets a one-line error naming the file and the key or line, exit code
//! 1, no panic, and nothing written.

use std::path::Path;

use crate::common::{Sweep, heavyball, write};

const GOOD: &str = r#"name = "t"
[data]
csv = "d.csv"
test_fraction = 0.25
[train]
iterations = 3
[grid]
hidden = [2]
gamma = [0.1]
alpha = [1.0, 0.5]
seed = [0]
"#;

const DATA: &str = "a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n";

/// Runs `heavyball run` on a config and data file and returns stderr; asserts exit code 1, no
/// panic, a single line, and no results folder.
fn fails(config: &str, data: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "d.csv", data);
    let path = write(dir.path(), "sweep.toml", config);
    let results = dir.path().join("results");
    let out = heavyball().arg("run").arg(&path).arg("--results").arg(&results).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!results.exists(), "bad input must write nothing");
    stderr.replace(&format!("{}/", dir.path().display()), "")
}

fn config_fails(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    fails(&GOOD.replace(from, to), DATA)
}

#[test]
fn the_good_config_runs() {
    let sweep = Sweep::new(GOOD);
    write(sweep.dir(), "d.csv", DATA);
    sweep.run(&[]);
    assert!(sweep.folder().join("summary.csv").exists());
}

#[test]
fn config_errors_name_the_file_and_key() {
    let cases = [
        (
            "seed = [0]",
            "seed = [0]\nsteps = 3",
            "sweep.toml line 12: unknown field `steps`, expected one of `hidden`, `gamma`, `alpha`, `seed`",
        ),
        (
            "iterations = 3",
            "iterations = \"3\"",
            "sweep.toml line 6: iterations must be a whole number ≥ 0 (got string \"3\")",
        ),
        (
            "hidden = [2]",
            "hidden = [-2]",
            "sweep.toml line 8: hidden must be a whole number ≥ 0 (got integer -2)",
        ),
        (
            "gamma = [0.1]",
            "gamma = [0.0]",
            "gamma must be > 0 and finite (got 0 in gamma) in [grid] of sweep.toml",
        ),
        (
            "gamma = [0.1]",
            "gamma = [-0.1]",
            "gamma must be > 0 and finite (got -0.1 in gamma) in [grid] of sweep.toml",
        ),
        (
            "gamma = [0.1]",
            "gamma = [inf]",
            "gamma must be > 0 and finite (got inf in gamma) in [grid] of sweep.toml",
        ),
        (
            "gamma = [0.1]",
            "gamma = [nan]",
            "gamma must be > 0 and finite (got NaN in gamma) in [grid] of sweep.toml",
        ),
        (
            "alpha = [1.0, 0.5]",
            "alpha = [1.01]",
            "alpha must be in (0, 1] (got 1.01 in alpha) in [grid] of sweep.toml",
        ),
        (
            "alpha = [1.0, 0.5]",
            "alpha = [0.0]",
            "alpha must be in (0, 1] (got 0 in alpha) in [grid] of sweep.toml",
        ),
        ("hidden = [2]", "hidden = [0]", "M must be ≥ 1 (got 0 in hidden) in [grid] of sweep.toml"),
        (
            "hidden = [2]",
            "hidden = []",
            "hidden is an empty list; give at least one value in [grid] of sweep.toml",
        ),
        ("alpha = [1.0, 0.5]", "alpha = [0.5, 0.5]", "alpha lists 0.5 twice in [grid] of sweep.toml"),
        ("iterations = 3", "iterations = 0", "iterations must be ≥ 1 (got 0) in [train] of sweep.toml"),
        (
            "test_fraction = 0.25",
            "test_fraction = 1.0",
            "test_fraction must be in [0, 1) (got 1); 0 means no test set in [data] of sweep.toml",
        ),
        ("test_fraction = 0.25", "test_fraction = -0.1", "test_fraction must be in [0, 1) (got -0.1)"),
        (
            "iterations = 3",
            "iterations = 3\nsharpness_every = -1",
            "sweep.toml line 7: sharpness_every must be a whole number ≥ 0 (got integer -1)",
        ),
        (
            "iterations = 3",
            "iterations = 3\nsharpness_every = 2.5",
            "sweep.toml line 7: sharpness_every must be a whole number ≥ 0 (got floating point 2.5)",
        ),
        (
            "iterations = 3",
            "iterations = 3\nsharpness_every = 1\nsharpness_steps = 1",
            "sharpness_steps must be ≥ 2 (got 1) in [train] of sweep.toml",
        ),
        (
            "iterations = 3",
            "iterations = 3\nsharpness_steps = 10",
            "sharpness_steps needs sharpness_every ≥ 1",
        ),
        (
            "iterations = 3",
            "iterations = 3\nsharpness_every = 1\nsharpness_steps = 100",
            "sweep.toml: sharpness_steps = 100 is more than the 12 parameters of its smallest network (M = 2); use at most 12",
        ),
    ];
    for (from, to, expected) in cases {
        let e = config_fails(from, to);
        assert!(e.contains(expected), "{to}:\n  got      {e}  expected {expected}");
    }
}

#[test]
fn a_missing_config_or_data_file_is_named() {
    let e = heavyball().args(["run", "/nonexistent/sweep.toml"]).output().unwrap();
    assert_eq!(e.status.code(), Some(1));
    let stderr = String::from_utf8(e.stderr).unwrap();
    assert!(stderr.starts_with("Error: cannot read config /nonexistent/sweep.toml:"), "{stderr}");
    // The system's reason is given once.
    assert_eq!(stderr.matches("No such file or directory").count(), 1, "{stderr}");
    let e = config_fails("csv = \"d.csv\"", "csv = \"missing.csv\"");
    assert!(e.starts_with("Error: cannot read data file missing.csv"), "{e}");
    assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
}

#[test]
fn data_errors_name_the_file_and_line() {
    let cases = [
        ("a,b,label\n1,2,0\n3,1\n", "d.csv line 3: expected 3 fields as in the header, found 2"),
        ("a,b,label\n1,2,0\n3,x,1\n", "d.csv line 3: column \"b\" is not a number: \"x\""),
        (
            "a,b,label\n1,2,0\n3,NaN,1\n",
            "d.csv line 3: column \"b\" is NaN; NaN and infinite values are not allowed",
        ),
        (
            "a,b,label\n1,2,0\n3,-inf,1\n",
            "d.csv line 3: column \"b\" is -inf; NaN and infinite values are not allowed",
        ),
        ("a,b,label\n1,2,0\n3,4,0.5\n", "d.csv line 3: label \"0.5\" is not a class number"),
        (
            "a,b,label\n1,2,0\n3,4,2\n",
            "d.csv: labels must be the classes 0..2 with each present, but class 1 never occurs",
        ),
        ("a,b,label\n1,2,0\n3,4,0\n", "d.csv: fewer than 2 classes"),
        ("a,b,y\n1,2,0\n3,4,1\n", "d.csv line 1: no label column \"label\" in the header (a, b, y)"),
        ("a,b,label\n", "d.csv: no samples"),
    ];
    for (data, expected) in cases {
        let e = fails(GOOD, data);
        assert!(e.contains(expected), "{data:?}:\n  got      {e}  expected {expected}");
    }
}

#[test]
fn a_results_path_that_is_a_file_is_refused() {
    let sweep = Sweep::new(GOOD);
    write(sweep.dir(), "d.csv", DATA);
    let file = write(sweep.dir(), "taken", "");
    let out = sweep.results_in("taken").command("run").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists and is not a folder"));
    assert!(Path::new(&file).is_file());
}

#[test]
fn usage_errors_exit_2() {
    heavyball().args(["run"]).assert().code(2);
    heavyball().args(["run", "x.toml", "--threads", "0"]).assert().code(2);
    heavyball().args(["frobnicate"]).assert().code(2);
}

#[test]
fn a_symbolic_link_at_a_lock_file_is_never_written_through() {
    let sweep = Sweep::new(GOOD);
    write(sweep.dir(), "d.csv", DATA);
    let victim = write(sweep.dir(), "victim.txt", "precious\n");
    std::fs::create_dir_all(sweep.folder()).unwrap();
    std::os::unix::fs::symlink(&victim, sweep.folder().join(".lock")).unwrap();
    let out = sweep.command("run").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(".lock is not a regular file"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn features_that_overflow_once_standardised_or_converted_are_named() {
    // Finite in the file, infinite in f32.
    let raw = GOOD.replace("test_fraction = 0.25", "test_fraction = 0.25\nstandardize = false");
    let e = fails(&raw, "a,b,label\n1,2,0\n1e39,4,1\n3,4,0\n5,6,1\n");
    assert!(
        e.contains("d.csv line 3: column \"a\" is 1e39, too large to hold in f32; rescale the column"),
        "{e}"
    );
    // Finite in f64, but their mean is not.
    let f64 = GOOD.replace("iterations = 3", "iterations = 3\nprecision = \"f64\"");
    let e = fails(&f64, "a,b,label\n1e308,2,0\n1e308,4,1\n3,4,0\n5,6,1\n");
    assert!(
        e.contains("column \"a\" is ") && e.contains("too large to standardise or to hold in f64"),
        "{e}"
    );
    // A label column named twice.
    let e = fails(GOOD, "a,label,label\n1,0,1\n");
    assert!(e.contains("d.csv line 1: the header names column \"label\" twice (columns 2 and 3)"), "{e}");
}

#[test]
fn sweeps_and_data_too_large_for_memory_are_refused_before_anything_is_written() {
    let e = config_fails("hidden = [2]", "hidden = [9223372036854775807]");
    assert!(e.contains("training sweep t needs more memory than any machine has"), "{e}");
    let e = config_fails("hidden = [2]", "hidden = [1000000000]");
    assert!(e.contains("training sweep t needs about ") && e.contains("available"), "{e}");
    let synthetic =
        "synthetic = { samples = 100000000000, features = 64, classes = 10, seed = 1, noise = 0.5 }";
    let e = config_fails("csv = \"d.csv\"", synthetic);
    assert!(e.contains("synthetic data of 100000000000 × 64: generating it needs about"), "{e}");
    let overflow =
        "synthetic = { samples = 4611686018427387904, features = 64, classes = 10, seed = 1, noise = 0.5 }";
    let e = config_fails("csv = \"d.csv\"", overflow);
    assert!(e.contains("generating it needs more memory than any machine has"), "{e}");
    // A huge K: the teacher and its logits count (it once aborted in the allocator).
    for classes in ["99999999999", "18446744073709551615"] {
        let many = format!("synthetic = {{ samples = 10, features = 2, classes = {classes} }}");
        let e = config_fails("csv = \"d.csv\"", &many);
        assert!(e.contains("generating it needs"), "{classes}: {e}");
    }
    let e = config_fails("csv = \"d.csv\"", "csv = \"\"");
    assert!(e.contains("csv is empty: give the path of the data"), "{e}");
}

#[test]
fn a_synthetic_condition_below_one_or_not_finite_is_named() {
    for (condition, said) in [
        ("0.5", "condition must be a finite number ≥ 1 (got 0.5)"),
        ("nan", "condition must be a finite number ≥ 1 (got NaN)"),
        ("inf", "condition must be a finite number ≥ 1 (got inf)"),
        ("-3", "condition must be a finite number ≥ 1 (got -3)"),
    ] {
        let source =
            format!("synthetic = {{ samples = 50, features = 4, classes = 2, condition = {condition} }}");
        let e = config_fails("csv = \"d.csv\"", &source);
        assert!(e.contains("[data.synthetic] ") && e.contains(said), "{condition}: {e}");
    }
    let one = "synthetic = { samples = 50, features = 1, classes = 2, condition = 10 }";
    let e = config_fails("csv = \"d.csv\"", one);
    assert!(e.contains("condition > 1 needs at least 2 features"), "{e}");
}

#[test]
fn idx_headers_whose_sizes_overflow_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    std::fs::create_dir_all(&idx).unwrap();
    let mut images = vec![0u8, 0, 8, 3];
    for d in [u32::MAX, u32::MAX, u32::MAX] {
        images.extend(d.to_be_bytes());
    }
    images.extend([1, 2, 3]);
    let mut labels = vec![0u8, 0, 8, 1];
    labels.extend(u32::MAX.to_be_bytes());
    for part in ["train", "t10k"] {
        std::fs::write(idx.join(format!("{part}-images-idx3-ubyte")), &images).unwrap();
        std::fs::write(idx.join(format!("{part}-labels-idx1-ubyte")), &labels).unwrap();
    }
    let source = format!("idx = \"{}\"", idx.display());
    let e = fails(&GOOD.replace("csv = \"d.csv\"", &source).replace("test_fraction = 0.25\n", ""), DATA);
    assert!(
        e.contains("the header promises more values (4294967295×4294967295×4294967295) but the file holds 3"),
        "{e}"
    );
}

#[test]
fn data_that_is_not_a_regular_file_is_refused_without_blocking() {
    let sweep = Sweep::new(GOOD);
    let fifo = sweep.dir().join("fifo.csv");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for path in [fifo.to_str().unwrap(), "/dev/zero"] {
        let out = sweep
            .with(&[("data.csv", &format!("{path:?}"))])
            .command("run")
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{path}: {stderr}");
        assert!(stderr.contains(&format!("{path}: not a regular file")), "{stderr}");
    }
}

#[test]
fn more_shards_or_tasks_than_runs_are_refused() {
    let sweep = Sweep::new(GOOD);
    write(sweep.dir(), "d.csv", DATA);
    let out = heavyball().arg("plan").arg(&sweep.config).args(["--shards", "4000000000"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("4000000000 shards are more than the 2 runs of sweep t: use at most 2"),
        "{stderr}"
    );
    let out = sweep.command("slurm").args(["--tasks", "4000000000"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("4000000000 shards are more than the 2 runs"), "{stderr}");
}

#[test]
fn a_report_whose_curves_cannot_fit_in_memory_is_refused_before_reading_them() {
    let sweep = Sweep::new(GOOD);
    write(sweep.dir(), "d.csv", DATA);
    sweep.run(&[]);
    let sweep_file = sweep.folder().join("sweep.toml");
    let original = std::fs::read_to_string(&sweep_file).unwrap();
    // A trillion iterations per run: curves beyond any machine's memory.
    let crafted: String = original
        .lines()
        .map(|l| if l.starts_with("iterations = ") { "iterations = 1000000000000" } else { l })
        .map(|l| l.to_string() + "\n")
        .collect();
    assert!(crafted.contains("\niterations = 1000000000000\n"), "{crafted}");
    std::fs::write(&sweep_file, &crafted).unwrap();
    let out = heavyball().arg("report").arg(sweep.folder()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the report of") && stderr.contains("of memory"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!sweep.folder().join("report").exists(), "report wrote nothing");
}

#[test]
fn a_crafted_sweep_file_with_huge_lists_is_refused_by_report_and_rewritten_by_run() {
    let sweep = Sweep::new(GOOD);
    write(sweep.dir(), "d.csv", DATA);
    sweep.run(&[]);
    let sweep_file = sweep.folder().join("sweep.toml");
    let original = std::fs::read_to_string(&sweep_file).unwrap();
    let list = |n: usize, f: &dyn Fn(usize) -> String| (1..=n).map(f).collect::<Vec<_>>().join(", ");
    // 5000 × 5000 runs (beyond the grid limit), then one list beyond the list limit.
    let crafted = [
        original
            .replace("hidden = [2]", &format!("hidden = [{}]", list(5000, &|i| i.to_string())))
            .replace("gamma = [0.1]", &format!("gamma = [{}]", list(5000, &|i| format!("{i}.5")))),
        original.replace("seed = [0]", &format!("seed = [{}]", list(20_000, &|i| i.to_string()))),
    ];
    for text in crafted {
        assert_ne!(text, original);
        std::fs::write(&sweep_file, &text).unwrap();
        let out = heavyball().arg("report").arg(sweep.folder()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("describes a grid larger than heavyball writes"), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!sweep.folder().join("report").exists(), "report wrote nothing");
        // `run` takes the grid from the config, never from sweep.toml, and rewrites it.
        sweep.run(&[]);
        assert_eq!(std::fs::read_to_string(&sweep_file).unwrap(), original);
    }
}
