//! Tuned sweeps (`[tune]`): rounds of γ values are added per method until each best γ is
//! bracketed, and the rounds depend only on results: the same runs and bytes at any thread
//! count, after crashes in any round, and with shards.

use std::path::{Path, PathBuf};

use crate::common::{assert_same, comparable, crash_until_done, heavyball, run_sweep, write};

const TUNED: &str = r#"
name = "t"
[data]
builtin = "digits"
test_fraction = 0.2
[train]
iterations = 25
objective = "mean"
chunk_size = 256
checkpoint_every = 5
[grid]
hidden = [8]
gamma = [0.1, 0.3]
alpha = [1.0, 0.5]
seed = [0, 1]
[tune]
gamma = "bracket"
resolution = 1.5
max_rounds = 6
"#;

fn config(dir: &Path) -> PathBuf {
    write(dir, "t.toml", TUNED)
}

fn plan(cfg: &Path, results: &Path) -> String {
    let out = heavyball().arg("plan").arg(cfg).arg("--results").arg(results).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_tuned_sweep_adds_rounds_until_each_best_is_bracketed_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let one = dir.path().join("one");
    let line = run_sweep(&cfg, &one, &["--threads", "1", "--quiet"]);
    let runs = std::fs::read_dir(one.join("t/runs")).unwrap().count();
    assert!(runs > 8, "no round was added to the grid's 8 runs: {line}");
    let text = plan(&cfg, &one);
    assert!(text.contains("round 2 added γ = "), "{text}");
    assert!(text.contains("(finished)"), "{text}");
    assert!(text.contains(" 0 new, 0 partial, 0 to extend, "), "{text}");
    for method in ["plain GD at M = 8: best γ = ", "momentum α = 0.5 at M = 8: best γ = "] {
        assert!(text.contains(method), "{text}");
    }
    // Every run the rounds added is in the summaries and the report.
    let summary = std::fs::read_to_string(one.join("t/summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), runs + 1);

    let four = dir.path().join("four");
    run_sweep(&cfg, &four, &["--threads", "4", "--quiet"]);
    assert_same(&comparable(&four.join("t")), &comparable(&one.join("t")));
}

#[test]
fn a_tuned_sweep_crashed_in_any_round_ends_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let reference = dir.path().join("reference");
    run_sweep(&cfg, &reference, &["--quiet"]);
    let results = dir.path().join("crashed");
    let (crashes, _) = crash_until_done(&cfg, &results, 15, 0x7);
    assert!(crashes >= 20, "only {crashes} crashes");
    assert_same(&comparable(&results.join("t")), &comparable(&reference.join("t")));
}

#[test]
fn shards_of_a_tuned_sweep_reach_the_bytes_of_a_plain_run() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let plain = dir.path().join("plain");
    run_sweep(&cfg, &plain, &["--quiet"]);
    let sharded = dir.path().join("sharded");
    // Each shard trains its share of the round in progress and ends; the shards take turns, as
    // the tasks of successive arrays would.
    for turn in 0.. {
        assert!(turn < 40, "the shards never finished the tuning");
        run_sweep(&cfg, &sharded, &["--shard", &format!("{}/2", turn % 2), "--quiet"]);
        if plan(&cfg, &sharded).contains("(finished)")
            && comparable(&sharded.join("t")).len() == comparable(&plain.join("t")).len()
        {
            break;
        }
    }
    assert_same(&comparable(&sharded.join("t")), &comparable(&plain.join("t")));
}

#[test]
fn a_chain_job_after_an_array_that_finished_nothing_submits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let results = dir.path().join("results");
    // As the chain job runs it: nothing finished since the array was submitted with 0 finished.
    let out = heavyball()
        .args(["slurm", "--tasks", "2", "--submit", "--chained-from", "0", "--results"])
        .arg(&results)
        .arg(&cfg)
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no run of sweep t finished in the last job array"), "{err}");
    assert!(err.contains("the chain of tuning rounds stops here"), "{err}");
    assert!(!results.join("t/slurm").exists(), "a script was written");
}
