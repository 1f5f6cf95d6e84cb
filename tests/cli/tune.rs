//! Tuned sweeps (`[tune]`): rounds of γ values are added per method until each best γ is
//! bracketed, and the rounds depend only on results: the same runs and bytes at any thread
//! count, after crashes in any round, and with shards. The sweeps that check so also confirm
//! their bests on fresh seeds (`[confirm]`), a last round that holds to the same.

use crate::common::{Sweep, assert_same};

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

/// [`TUNED`], its bests confirmed on the fresh seeds 2, 3 and 4.
fn confirmed() -> Sweep {
    Sweep::new(&format!("{TUNED}[confirm]\nseeds = 3\n"))
}

#[test]
fn a_tuned_sweep_adds_rounds_until_each_best_is_bracketed_at_any_thread_count() {
    for (tuned, confirming) in [(Sweep::new(TUNED), false), (confirmed(), true)] {
        let one = tuned.results_in("one");
        let line = one.run(&["--threads", "1", "--quiet"]);
        let runs = std::fs::read_dir(one.folder().join("runs")).unwrap().count();
        assert!(runs > 8, "no round was added to the grid's 8 runs: {line}");
        let text = one.plan(&[]);
        assert!(text.contains("round 2 added γ = "), "{text}");
        assert!(text.contains("(finished)"), "{text}");
        assert!(text.contains(" 0 new, 0 partial, 0 to extend, "), "{text}");
        for method in ["plain GD at M = 8: best γ = ", "momentum α = 0.5 at M = 8: best γ = "] {
            assert!(text.contains(method), "{text}");
        }
        // Every run the rounds added is in the summaries and the report.
        let summary = std::fs::read_to_string(one.folder().join("summary.csv")).unwrap();
        assert_eq!(summary.lines().count(), runs + 1);
        // A confirmation round trains the bests on the fresh seeds 2 to 4; without one, none.
        assert_eq!(summary.lines().any(|l| l.contains("-s4-")), confirming, "{summary}");

        let four = tuned.results_in("four");
        four.run(&["--threads", "4", "--quiet"]);
        assert_same(&four.comparable(), &one.comparable());
    }
}

#[test]
fn a_tuned_sweep_crashed_in_any_round_ends_byte_identical() {
    let tuned = confirmed();
    let reference = tuned.results_in("reference");
    reference.run(&["--quiet"]);
    let crashed = tuned.results_in("crashed");
    let (crashes, _) = crashed.crash_until_done(15, 0x7);
    assert!(crashes >= 20, "only {crashes} crashes");
    assert_same(&crashed.comparable(), &reference.comparable());
}

#[test]
fn shards_of_a_tuned_sweep_reach_the_bytes_of_a_plain_run() {
    let tuned = confirmed();
    let plain = tuned.results_in("plain");
    plain.run(&["--quiet"]);
    let sharded = tuned.results_in("sharded");
    // Each shard trains its share of the round in progress and ends; the shards take turns, as
    // the tasks of successive arrays would.
    for turn in 0.. {
        assert!(turn < 40, "the shards never finished the tuning");
        let said = sharded.run(&["--shard", &format!("{}/2", turn % 2), "--quiet"]);
        let all_there = sharded.comparable().len() == plain.comparable().len();
        // A shard says the confirmation is trained only once every run of it is.
        assert_eq!(said.contains("selected settings trained on"), all_there, "turn {turn}: {said}");
        if said.contains("confirmation round in progress") {
            assert!(!all_there, "turn {turn}: {said}");
        }
        if sharded.plan(&[]).contains("(finished)") && all_there {
            break;
        }
    }
    assert_same(&sharded.comparable(), &plain.comparable());
}

#[test]
fn a_chain_job_after_an_array_that_finished_nothing_submits_nothing() {
    let tuned = Sweep::new(TUNED);
    // As the chain job runs it: nothing finished since the array was submitted with 0 finished.
    let out = tuned
        .command("slurm")
        .args(["--tasks", "2", "--submit", "--chained-from", "0"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no run of sweep t finished in the last job array"), "{err}");
    assert!(err.contains("the chain of rounds stops here"), "{err}");
    assert!(!tuned.folder().join("slurm").exists(), "a script was written");
}

#[test]
fn a_grid_at_the_ends_of_f64_stops_its_tuning_instead_of_proposing_zero() {
    // One grid step below 1e-200 (the grid's ratio is 1e300) underflows to 0; above 1e100 GD
    // diverges. The method must stop, said so, and never add γ = 0 (or any γ twice).
    let tuned = Sweep::new(TUNED).with(&[("grid.gamma", "[1e-200, 1e100]"), ("grid.alpha", "[1.0]")]);
    let line = tuned.run(&["--quiet"]);
    assert!(line.contains("stopped with no γ left to try"), "{line}");
    assert!(!line.contains("another process"), "{line}");
    let summary = std::fs::read_to_string(tuned.folder().join("summary.csv")).unwrap();
    let runs = std::fs::read_dir(tuned.folder().join("runs")).unwrap().count();
    assert_eq!(runs, 4, "{summary}");
    assert_eq!(summary.lines().count(), runs + 1, "{summary}");
    let plan = tuned.plan(&[]);
    assert!(
        plan.contains("best γ = 1e-200 is the smallest tried; the next γ it calls for would be 0"),
        "{plan}"
    );
    assert!(!plan.contains("round 2 added"), "{plan}");
    let report = tuned.report(&[]);
    assert!(report.contains("Tuning stopped: plain GD at M = 8: best γ = 1e-200"), "{report}");
}

#[test]
fn raising_iterations_on_a_tuned_sweep_calls_no_run_of_it_stale() {
    let tuned = Sweep::new(TUNED);
    tuned.run(&["--quiet"]);
    let longer = tuned.with(&[("train.iterations", "40")]);
    // Before the grid is extended, the later rounds' runs are not decided yet: not stale.
    let plan = longer.plan(&[]);
    assert!(plan.contains("; 0 stale") && !plan.contains("stale (not in"), "{plan}");
    assert!(plan.contains("not decided by the rounds so far"), "{plan}");
    let line = longer.run(&["--quiet"]);
    assert!(!line.contains("stale"), "{line}");
    let plan = longer.plan(&[]);
    assert!(plan.contains("; 0 stale") && plan.contains("(finished)"), "{plan}");
}
