//! Resuming: interrupted sweeps (SIGKILL at random moments, SIGINT) finish with files identical
//! to an uninterrupted sweep; grids and iteration counts can grow without retraining; damaged
//! run folders are detected; two runs never share a results folder.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use heavyball::store::SweepDir;

use crate::common::{
    assert_same, comparable, crash_until_done, heavyball, next_random, run_dir, tree, write,
};

const SWEEP: &str = r#"
name = "r"
[data]
builtin = "digits"
test_fraction = 0.2
[train]
iterations = ITERATIONS
chunk_size = 256
checkpoint_every = 3
[grid]
hidden = [8, 24]
gamma = [1e-3, 3e-3]
alpha = ALPHAS
seed = [0]
"#;

fn config(dir: &Path, name: &str, iterations: usize, alphas: &str) -> PathBuf {
    let text = SWEEP.replace("ITERATIONS", &iterations.to_string()).replace("ALPHAS", alphas);
    write(dir, name, &text)
}

/// Runs a sweep to completion and returns its stdout.
fn run_ok(config: &Path, results: &Path) -> String {
    crate::common::run_sweep(config, results, &[])
}

fn spawn(config: &Path, results: &Path) -> std::process::Child {
    Command::new(assert_cmd::cargo::cargo_bin("heavyball"))
        .arg("run")
        .arg(config)
        .arg("--results")
        .arg(results)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Starts `config` again and again and SIGKILLs it after a random delay below `window`, until
/// one attempt finishes. Returns the number of kills and everything the attempts printed on
/// stderr.
fn kill_until_done(config: &Path, results: &Path, window: Duration, mut state: u64) -> (usize, String) {
    let mut kills = 0;
    let mut stderr = String::new();
    for attempt in 0..300 {
        let mut child = spawn(config, results);
        let delay = Duration::from_millis(1 + next_random(&mut state) % (window.as_millis() as u64).max(2));
        let started = Instant::now();
        let mut finished = false;
        while started.elapsed() < delay {
            if child.try_wait().unwrap().is_some() {
                finished = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if !finished {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let status = child.wait().unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut text).unwrap();
        stderr.push_str(&text);
        if finished {
            assert!(status.success(), "attempt {attempt} failed: {text}");
            return (kills, stderr);
        }
    }
    panic!("the sweep never finished");
}

#[test]
fn a_crash_right_after_any_write_then_resume_gives_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "r.toml", 200, "[1.0, 0.3]");
    let reference = dir.path().join("reference");
    run_ok(&cfg, &reference);
    let expected = comparable(&reference.join("r"));

    // Crashes land between the files of a group, between a group and run.toml, between runs,
    // while the summaries are rebuilt. The sweep writes over 500 files, so it takes dozens of
    // crashes to finish, however fast the machine is.
    let results = dir.path().join("crashed");
    let (crashes, stderr) = crash_until_done(&cfg, &results, 12, 0xc4a5);
    assert!(crashes >= 20, "only {crashes} crashes");
    assert!(!stderr.contains("restarting"), "{stderr}");
    run_ok(&cfg, &results);
    assert_same(&comparable(&results.join("r")), &expected);
}

#[test]
fn an_extension_crashed_after_any_write_loses_nothing() {
    // Finished runs whose iterations were raised, crashed while being extended: each must go on
    // from its last checkpoint, never start over from zero.
    let dir = tempfile::tempdir().unwrap();
    let long = config(dir.path(), "long.toml", 120, "[1.0, 0.3]");
    let reference = dir.path().join("reference");
    run_ok(&long, &reference);
    let results = dir.path().join("extended");
    run_ok(&config(dir.path(), "short.toml", 60, "[1.0, 0.3]"), &results);

    let (crashes, stderr) = crash_until_done(&long, &results, 12, 0xe7e4d);
    assert!(crashes >= 20, "only {crashes} crashes");
    assert!(!stderr.contains("restarting"), "a finished run was started over: {stderr}");
    assert_same(&comparable(&results.join("r")), &comparable(&reference.join("r")));
}

/// Runs `config` again and again on a disk that fills after a random number of bytes (drawn
/// from `budgets`), until one attempt finishes. Each failed attempt must end with exit code 1 and
/// a one-line "No space left on device" error, and leave no temporary file behind. Returns the
/// number of attempts the full disk stopped.
fn fill_disk_until_done(config: &Path, results: &Path, budgets: Range<u64>, mut state: u64) -> usize {
    let mut full = 0;
    loop {
        // First a disk full from the start or within the first files (sweep.toml, config.toml,
        // the first run's files), then random budgets that leave room for progress.
        let budget = match full {
            0..5 => [0, 1, 300, 1500, 5000][full],
            _ => budgets.start + next_random(&mut state) % (budgets.end - budgets.start),
        };
        let out = Command::new(assert_cmd::cargo::cargo_bin("heavyball"))
            .args(["run", "--quiet"])
            .arg(config)
            .arg("--results")
            .arg(results)
            .env(heavyball::store::atomic::DISK_BYTES, budget.to_string())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let temporaries: Vec<String> =
            tree(results).into_iter().map(|(name, _)| name).filter(|name| name.contains(".tmp-")).collect();
        assert!(temporaries.is_empty(), "left behind after a full disk: {temporaries:?}");
        if out.status.success() {
            return full;
        }
        assert_eq!(out.status.code(), Some(1), "budget {budget}: {stderr}");
        assert!(stderr.contains("No space left on device (os error 28)\n"), "budget {budget}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "budget {budget}: {stderr}");
        assert!(!stderr.contains("restarting"), "budget {budget}: {stderr}");
        full += 1;
        assert!(full < 200, "the sweep never finished");
    }
}

/// The bytes of every file under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    tree(dir).iter().map(|(_, bytes)| bytes.len() as u64).sum()
}

#[test]
fn a_full_disk_at_any_moment_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = |name: &str, iterations: usize| {
        let path = config(dir.path(), name, iterations, "[1.0, 0.3]");
        let text = std::fs::read_to_string(&path).unwrap();
        write(dir.path(), name, &text.replace("checkpoint_every = 3", "checkpoint_every = 10"))
    };
    let cfg = sparse("r.toml", 30);
    let reference = dir.path().join("reference");
    run_ok(&cfg, &reference);
    let expected = comparable(&reference.join("r"));
    // Budgets between an eighth and a half of what the sweep's folder holds (and the sweep
    // writes more than that in all, as checkpoints are rewritten), so most attempts stop on a
    // full disk, at any write, and each has room to save some progress.
    let folder = bytes_under(&reference);
    let budgets = folder / 8..folder / 2;
    let results = dir.path().join("full");
    let full = fill_disk_until_done(&cfg, &results, budgets.clone(), 0xd15c);
    eprintln!("a full disk stopped the sweep {full} times");
    assert!(full >= 8, "only {full} attempts met a full disk");
    assert_same(&comparable(&results.join("r")), &expected);

    // The same during an extension of finished runs.
    let long = sparse("long.toml", 60);
    run_ok(&long, &reference);
    let full = fill_disk_until_done(&long, &results, budgets, 0xe47e);
    eprintln!("a full disk stopped the extension {full} times");
    assert!(full >= 8, "only {full} attempts met a full disk");
    assert_same(&comparable(&results.join("r")), &comparable(&reference.join("r")));

    // A report on a full disk stops with a clear error and leaves no temporary file; the next
    // one writes what it would have.
    let report = |results: &Path, budget: Option<u64>| {
        let mut cmd = heavyball();
        cmd.arg("report").arg(results.join("r"));
        if let Some(budget) = budget {
            cmd.env(heavyball::store::atomic::DISK_BYTES, budget.to_string());
        }
        cmd.output().unwrap()
    };
    assert!(report(&reference, None).status.success());
    let report_bytes = bytes_under(&reference.join("r/report"));
    for budget in [0, report_bytes / 7, report_bytes / 2, report_bytes - 1] {
        let out = report(&results, Some(budget));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("No space left on device"), "{stderr}");
        assert!(!tree(&results).iter().any(|(name, _)| name.contains(".tmp-")), "temporary file left");
    }
    assert!(report(&results, None).status.success());
    assert_same(&tree(&results.join("r/report")), &tree(&reference.join("r/report")));
}

#[test]
fn sigkill_at_random_moments_then_resume_gives_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "r.toml", 200, "[1.0, 0.3]");
    let reference = dir.path().join("reference");
    let started = Instant::now();
    run_ok(&cfg, &reference);
    let expected = comparable(&reference.join("r"));
    // Kill moments are drawn from the first third of an uninterrupted sweep's time on this
    // machine, so the kills land mid-work on a fast machine as on a slow one; they fall inside
    // computations and inside writes, where the crash test above cannot reach.
    let window = started.elapsed() / 3;

    let results = dir.path().join("killed");
    let (kills, stderr) = kill_until_done(&cfg, &results, window, 0x5eed);
    eprintln!("the sweep was killed {kills} times before it finished");
    assert!(kills >= 1, "no kill landed");
    assert!(!stderr.contains("restarting"), "{stderr}");
    // Whatever state the kills left, one more run completes the sweep.
    run_ok(&cfg, &results);
    assert_same(&comparable(&results.join("r")), &expected);
}

#[test]
fn sigkill_during_an_extension_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let long = config(dir.path(), "long.toml", 200, "[1.0, 0.3]");
    let reference = dir.path().join("reference");
    run_ok(&long, &reference);
    let results = dir.path().join("extended");
    let started = Instant::now();
    run_ok(&config(dir.path(), "short.toml", 100, "[1.0, 0.3]"), &results);
    // The extension takes about as long as the first 100 iterations did.
    let window = started.elapsed() / 2;

    let (kills, stderr) = kill_until_done(&long, &results, window, 0x4b11);
    eprintln!("the extension was killed {kills} times before it finished");
    assert!(kills >= 1, "no kill landed");
    assert!(!stderr.contains("restarting"), "a finished run was started over: {stderr}");
    run_ok(&long, &results);
    assert_same(&comparable(&results.join("r")), &comparable(&reference.join("r")));
}

#[test]
fn sigint_saves_in_flight_runs_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "r.toml", 400, "[1.0, 0.3]");
    let results = dir.path().join("out");
    let child = spawn(&cfg, &results);
    // Wait for a first checkpoint, then interrupt.
    let runs = results.join("r/runs");
    let started = Instant::now();
    let has_checkpoint = || {
        std::fs::read_dir(&runs)
            .map(|d| d.flatten().any(|e| e.path().join("checkpoint.npz").exists()))
            .unwrap_or(false)
    };
    while !has_checkpoint() {
        assert!(started.elapsed() < Duration::from_secs(60), "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted: saved") && stderr.contains("heavyball run"), "{stderr}");

    let plan = heavyball().arg("plan").arg(&cfg).arg("--results").arg(&results).output().unwrap();
    let plan = String::from_utf8(plan.stdout).unwrap();
    assert!(plan.contains("partial (at iteration"), "{plan}");

    let stdout = run_ok(&cfg, &results);
    assert!(stdout.contains("resumed"), "{stdout}");
    let reference = dir.path().join("reference");
    run_ok(&cfg, &reference);
    assert_same(&comparable(&results.join("r")), &comparable(&reference.join("r")));
}

#[test]
fn growing_the_grid_trains_only_the_new_points() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("out");
    let small = config(dir.path(), "small.toml", 12, "[1.0]");
    let out = run_ok(&small, &results);
    assert!(
        out.contains(
            "4 runs (4 done, 0 diverged); trained 4 (4 new, 0 resumed, 0 restarted), 0 already finished"
        ),
        "{out}"
    );
    let large = config(dir.path(), "large.toml", 12, "[1.0, 0.5, 0.2]");
    // The same sweep name: the finished points are reused.
    let out = run_ok(&large, &results);
    assert!(
        out.contains(
            "12 runs (12 done, 0 diverged); trained 8 (8 new, 0 resumed, 0 restarted), 4 already finished"
        ),
        "{out}"
    );
    let out = run_ok(&large, &results);
    assert!(out.contains("trained 0 (0 new, 0 resumed, 0 restarted), 12 already finished"), "{out}");
    // The result equals a sweep of the large grid from scratch.
    let fresh = dir.path().join("fresh");
    run_ok(&large, &fresh);
    assert_same(&comparable(&results.join("r")), &comparable(&fresh.join("r")));
}

#[test]
fn raising_iterations_continues_finished_runs_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("out");
    run_ok(&config(dir.path(), "short.toml", 10, "[1.0, 0.3]"), &results);
    let long = config(dir.path(), "long.toml", 25, "[1.0, 0.3]");
    let plan = heavyball().arg("plan").arg(&long).arg("--results").arg(&results).output().unwrap();
    let plan = String::from_utf8(plan.stdout).unwrap();
    assert!(plan.contains("extend (done at 10)") && plan.contains("8 to extend"), "{plan}");
    assert!(plan.contains("Work left: 120 iterations"), "{plan}");
    let out = run_ok(&long, &results);
    assert!(out.contains("trained 8 (0 new, 8 resumed, 0 restarted)"), "{out}");
    let fresh = dir.path().join("fresh");
    run_ok(&long, &fresh);
    assert_same(&comparable(&results.join("r")), &comparable(&fresh.join("r")));
}

#[test]
fn changing_a_result_setting_starts_new_runs_and_leaves_old_ones_stale() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("out");
    let first = config(dir.path(), "r.toml", 8, "[1.0]");
    run_ok(&first, &results);
    let before = tree(&results.join("r/runs"));
    let changed = write(
        dir.path(),
        "r2.toml",
        &std::fs::read_to_string(&first).unwrap().replace("chunk_size = 256", "chunk_size = 100"),
    );
    let out = run_ok(&changed, &results);
    assert!(
        out.contains("trained 4 (4 new") && out.contains("4 stale runs of an earlier config left untouched"),
        "{out}"
    );
    // The old runs' files are untouched, and the summary lists only the new ones.
    let after = tree(&results.join("r/runs"));
    for file in &before {
        assert!(after.contains(file), "{} changed", file.0);
    }
    let summary = std::fs::read_to_string(results.join("r/summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 4);
    let plan = heavyball().arg("plan").arg(&changed).arg("--results").arg(&results).output().unwrap();
    let plan = String::from_utf8(plan.stdout).unwrap();
    assert_eq!(plan.matches("stale (not in the current grid").count(), 4, "{plan}");
    assert!(plan.contains("4 finished, 0 to restart; 4 stale"), "{plan}");
}

#[test]
fn damaged_run_folders_lose_nothing_that_can_be_kept() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "r.toml", 9, "[1.0, 0.3]");
    let results = dir.path().join("out");
    run_ok(&cfg, &results);
    let sweep = results.join("r");
    let expected = comparable(&sweep);
    let truncate = |path: &Path| {
        let bytes = std::fs::read(path).unwrap();
        std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
    };

    // Finished runs whose checkpoint is truncated or another run's: their results are sound,
    // so they stay finished.
    let truncated = run_dir(&sweep, "M8-g0.001-a1-").join("checkpoint.npz");
    truncate(&truncated);
    let foreign = run_dir(&sweep, "M24-g0.001-a0.3-").join("checkpoint.npz");
    std::fs::copy(run_dir(&sweep, "M24-g0.003-a1-").join("checkpoint.npz"), &foreign).unwrap();
    // Finished runs with a curve that disagrees with their checkpoint, a garbage init.npz, a
    // missing final.npz: repaired from the checkpoint and the seed.
    let curve = run_dir(&sweep, "M8-g0.003-a1-").join("curve.csv");
    let text = std::fs::read_to_string(&curve).unwrap().replacen(",0.", ",0.9", 1);
    std::fs::write(&curve, text).unwrap();
    std::fs::write(run_dir(&sweep, "M24-g0.003-a1-").join("init.npz"), b"garbage").unwrap();
    std::fs::remove_file(run_dir(&sweep, "M8-g0.001-a0.3-").join("final.npz")).unwrap();
    // A run stopped mid-way whose checkpoint is truncated: nothing to continue from.
    let partial = run_dir(&sweep, "M24-g0.003-a0.3-");
    for name in ["run.toml", "curve.csv", "final.npz"] {
        std::fs::remove_file(partial.join(name)).unwrap();
    }
    truncate(&partial.join("checkpoint.npz"));

    let plan = heavyball().arg("plan").arg(&cfg).arg("--results").arg(&results).output().unwrap();
    let plan = String::from_utf8(plan.stdout).unwrap();
    assert_eq!(plan.matches("restart (").count(), 1, "{plan}");
    assert_eq!(plan.matches("to repair: ").count(), 3, "{plan}");
    assert!(plan.contains("curve.csv disagrees") && plan.contains("final.npz is missing"), "{plan}");
    assert!(plan.contains("7 finished, 1 to restart"), "{plan}");

    let out = heavyball().arg("run").arg(&cfg).arg("--results").arg(&results).output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("warning: restarting run").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("warning: repairing run").count(), 3, "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 restarted"));
    // Every file is as an uninterrupted sweep wrote it, but the two checkpoints of finished
    // runs, which are kept as found: only extending those runs needs them.
    let kept = |name: &str| {
        name.ends_with("checkpoint.npz")
            && (name.contains("M8-g0.001-a1-") || name.contains("M24-g0.001-a0.3-"))
    };
    let without = |t: Vec<(String, Vec<u8>)>| t.into_iter().filter(|(n, _)| !kept(n)).collect::<Vec<_>>();
    assert_same(&without(comparable(&sweep)), &without(expected));
    let plan = heavyball().arg("plan").arg(&cfg).arg("--results").arg(&results).output().unwrap();
    assert!(String::from_utf8(plan.stdout).unwrap().contains("8 finished, 0 to restart"));
    // Extending a run without its checkpoint starts it over, saying why.
    let longer = config(dir.path(), "longer.toml", 12, "[1.0, 0.3]");
    let plan = heavyball().arg("plan").arg(&longer).arg("--results").arg(&results).output().unwrap();
    let plan = String::from_utf8(plan.stdout).unwrap();
    assert_eq!(plan.matches("and extending the run needs it").count(), 2, "{plan}");
}

#[test]
fn a_run_killed_before_its_run_toml_resumes_from_its_checkpoint() {
    // run.toml is written last, when a run ends or stops: a kill just before it leaves the
    // checkpoint (which names its run) and, for a finished run, the curve and final.npz.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "r.toml", 9, "[1.0, 0.3]");
    let results = dir.path().join("out");
    run_ok(&cfg, &results);
    let sweep = results.join("r");
    let expected = comparable(&sweep);
    std::fs::remove_file(run_dir(&sweep, "M8-g0.001-a1-").join("run.toml")).unwrap();
    let partial = run_dir(&sweep, "M24-g0.003-a0.3-");
    for name in ["run.toml", "curve.csv", "final.npz"] {
        std::fs::remove_file(partial.join(name)).unwrap();
    }

    let plan = heavyball().arg("plan").arg(&cfg).arg("--results").arg(&results).output().unwrap();
    let plan = String::from_utf8(plan.stdout).unwrap();
    assert!(!plan.contains("restart ("), "{plan}");
    let out = heavyball().arg("run").arg(&cfg).arg("--results").arg(&results).output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 resumed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_same(&comparable(&sweep), &expected);
    assert!(run_dir(&sweep, "M8-g0.001-a1-").join("run.toml").exists());
}

#[test]
fn a_second_run_on_the_same_folder_is_refused_but_a_dead_lock_is_no_obstacle() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "r.toml", 5, "[1.0]");
    let results = dir.path().join("out");
    std::fs::create_dir_all(results.join("r")).unwrap();
    // A lock file left by a dead process: its pid is stale and nobody holds the lock.
    std::fs::write(results.join("r/.lock"), "999999\n").unwrap();
    run_ok(&cfg, &results);

    let held = heavyball::store::SweepLock::acquire(&SweepDir::at(&results.join("r")), false).unwrap();
    let out = heavyball().arg("run").arg(&cfg).arg("--results").arg(&results).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let pid = format!("pid {}", std::process::id());
    assert!(stderr.contains("is in use by another heavyball run") && stderr.contains(&pid), "{stderr}");
    drop(held);
    run_ok(&cfg, &results);
}

#[test]
fn sigterm_while_the_data_is_read_ends_the_run_at_once() {
    // A million synthetic samples take a while to generate; a signal then has nothing to save.
    let dir = tempfile::tempdir().unwrap();
    let text = SWEEP
        .replace(
            "builtin = \"digits\"",
            "synthetic = { samples = 1000000, features = 64, classes = 10, seed = 1, noise = 0.5 }",
        )
        .replace("ITERATIONS", "5")
        .replace("ALPHAS", "[1.0]");
    let cfg = write(dir.path(), "big.toml", &text);
    let results = dir.path().join("out");
    let mut child = spawn(&cfg, &results);
    std::thread::sleep(Duration::from_millis(300));
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    // It ended while reading: it never got as far as making the sweep's folder.
    assert!(!results.join("r").exists(), "the run went on after SIGTERM");
}
