//! Resuming: interrupted sweeps (SIGKILL at random moments, SIGINT) finish with files identical
//! to an uninterrupted sweep; grids and iteration counts can grow without retraining; damaged
//! run folders are detected; two runs never share a results folder.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use heavyball::store::SweepDir;

use crate::common::{Sweep, assert_same, heavyball, tree};

/// The sweep every test here varies: its iterations and α values most of all.
const SWEEP: &str = r#"
name = "r"
[data]
builtin = "digits"
test_fraction = 0.2
[train]
iterations = 200
chunk_size = 256
checkpoint_every = 3
[grid]
hidden = [8, 24]
gamma = [1e-3, 3e-3]
alpha = [1.0, 0.3]
seed = [0]
"#;

#[test]
fn a_crash_right_after_any_write_then_resume_gives_identical_files() {
    let sweep = Sweep::new(SWEEP);
    let reference = sweep.results_in("reference");
    reference.run(&[]);
    let expected = reference.comparable();

    // Crashes land between the files of a group, between a group and run.toml, between runs,
    // while the summaries are rebuilt. The sweep writes over 500 files, so it takes dozens of
    // crashes to finish, however fast the machine is.
    let crashed = sweep.results_in("crashed");
    let (crashes, stderr) = crashed.crash_until_done(12, 0xc4a5);
    assert!(crashes >= 20, "only {crashes} crashes");
    assert!(!stderr.contains("restarting"), "{stderr}");
    crashed.run(&[]);
    assert_same(&crashed.comparable(), &expected);
}

#[test]
fn an_extension_crashed_after_any_write_loses_nothing() {
    // Finished runs whose iterations were raised, crashed while being extended: each must go on
    // from its last checkpoint, never start over from zero.
    let long = Sweep::new(SWEEP).with(&[("train.iterations", "120")]);
    let reference = long.results_in("reference");
    reference.run(&[]);
    let extended = long.results_in("extended");
    extended.with(&[("train.iterations", "60")]).run(&[]);

    let (crashes, stderr) = extended.crash_until_done(12, 0xe7e4d);
    assert!(crashes >= 20, "only {crashes} crashes");
    assert!(!stderr.contains("restarting"), "a finished run was started over: {stderr}");
    assert_same(&extended.comparable(), &reference.comparable());
}

/// The bytes of every file under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    tree(dir).iter().map(|(_, bytes)| bytes.len() as u64).sum()
}

#[test]
fn a_full_disk_at_any_moment_loses_nothing() {
    let sweep = Sweep::new(SWEEP).with(&[("train.iterations", "30"), ("train.checkpoint_every", "10")]);
    let reference = sweep.results_in("reference");
    reference.run(&[]);
    let expected = reference.comparable();
    // Budgets between an eighth and a half of what the sweep's folder holds (and the sweep
    // writes more than that in all, as checkpoints are rewritten), so most attempts stop on a
    // full disk, at any write, and each has room to save some progress.
    let folder = bytes_under(&reference.results);
    let budgets = folder / 8..folder / 2;
    let full_disk = sweep.results_in("full");
    let full = full_disk.fill_disk_until_done(budgets.clone(), 0xd15c);
    eprintln!("a full disk stopped the sweep {full} times");
    assert!(full >= 8, "only {full} attempts met a full disk");
    assert_same(&full_disk.comparable(), &expected);

    // The same during an extension of finished runs.
    let long = sweep.with(&[("train.iterations", "60")]);
    let (reference, full_disk) = (long.results_in("reference"), long.results_in("full"));
    reference.run(&[]);
    let full = full_disk.fill_disk_until_done(budgets, 0xe47e);
    eprintln!("a full disk stopped the extension {full} times");
    assert!(full >= 8, "only {full} attempts met a full disk");
    assert_same(&full_disk.comparable(), &reference.comparable());

    // A report on a full disk stops with a clear error and leaves no temporary file; the next
    // one writes what it would have.
    let report = |sweep: &Sweep, budget: Option<u64>| {
        let mut cmd = heavyball();
        cmd.arg("report").arg(sweep.folder());
        if let Some(budget) = budget {
            cmd.env(heavyball::store::atomic::DISK_BYTES, budget.to_string());
        }
        cmd.output().unwrap()
    };
    assert!(report(&reference, None).status.success());
    let report_bytes = bytes_under(&reference.folder().join("report"));
    for budget in [0, report_bytes / 7, report_bytes / 2, report_bytes - 1] {
        let out = report(&full_disk, Some(budget));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("No space left on device"), "{stderr}");
        assert!(
            !tree(&full_disk.results).iter().any(|(name, _)| name.contains(".tmp-")),
            "temporary file left"
        );
    }
    assert!(report(&full_disk, None).status.success());
    assert_same(&tree(&full_disk.folder().join("report")), &tree(&reference.folder().join("report")));
}

#[test]
fn sigkill_at_random_moments_then_resume_gives_identical_files() {
    let sweep = Sweep::new(SWEEP);
    let reference = sweep.results_in("reference");
    let started = Instant::now();
    reference.run(&[]);
    let expected = reference.comparable();
    // Kill moments are drawn from the first third of an uninterrupted sweep's time on this
    // machine, so the kills land mid-work on a fast machine as on a slow one; they fall inside
    // computations and inside writes, where the crash test above cannot reach.
    let window = started.elapsed() / 3;

    let killed = sweep.results_in("killed");
    let (kills, stderr) = killed.kill_until_done(window, 0x5eed);
    eprintln!("the sweep was killed {kills} times before it finished");
    assert!(kills >= 1, "no kill landed");
    assert!(!stderr.contains("restarting"), "{stderr}");
    // Whatever state the kills left, one more run completes the sweep.
    killed.run(&[]);
    assert_same(&killed.comparable(), &expected);
}

#[test]
fn sigkill_during_an_extension_loses_nothing() {
    let long = Sweep::new(SWEEP);
    let reference = long.results_in("reference");
    reference.run(&[]);
    let extended = long.results_in("extended");
    let started = Instant::now();
    extended.with(&[("train.iterations", "100")]).run(&[]);
    // The extension takes about as long as the first 100 iterations did.
    let window = started.elapsed() / 2;

    let (kills, stderr) = extended.kill_until_done(window, 0x4b11);
    eprintln!("the extension was killed {kills} times before it finished");
    assert!(kills >= 1, "no kill landed");
    assert!(!stderr.contains("restarting"), "a finished run was started over: {stderr}");
    extended.run(&[]);
    assert_same(&extended.comparable(), &reference.comparable());
}

#[test]
fn sigint_saves_in_flight_runs_and_exits_130() {
    let sweep = Sweep::new(SWEEP).with(&[("train.iterations", "400")]);
    let (code, stderr) = sweep.interrupt_at_first_checkpoint(&sweep.folder().join("runs"));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted: saved") && stderr.contains("heavyball run"), "{stderr}");
    // The command to resume is the same command: with the results folder it was given.
    let again = format!("--results {}", sweep.folder().parent().unwrap().display());
    assert!(stderr.trim_end().ends_with(&again), "{stderr}");

    let plan = sweep.plan(&[]);
    assert!(plan.contains("partial (at iteration"), "{plan}");

    let stdout = sweep.run(&[]);
    assert!(stdout.contains("resumed"), "{stdout}");
    let reference = sweep.results_in("reference");
    reference.run(&[]);
    assert_same(&sweep.comparable(), &reference.comparable());
}

#[test]
fn growing_the_grid_trains_only_the_new_points() {
    let small = Sweep::new(SWEEP).with(&[("train.iterations", "12"), ("grid.alpha", "[1.0]")]);
    let out = small.run(&[]);
    assert!(
        out.contains(
            "4 runs (4 done, 0 diverged); trained 4 (4 new, 0 resumed, 0 restarted), 0 already finished"
        ),
        "{out}"
    );
    let large = small.with(&[("grid.alpha", "[1.0, 0.5, 0.2]")]);
    // The same sweep name: the finished points are reused.
    let out = large.run(&[]);
    assert!(
        out.contains(
            "12 runs (12 done, 0 diverged); trained 8 (8 new, 0 resumed, 0 restarted), 4 already finished"
        ),
        "{out}"
    );
    let out = large.run(&[]);
    assert!(out.contains("trained 0 (0 new, 0 resumed, 0 restarted), 12 already finished"), "{out}");
    // The result equals a sweep of the large grid from scratch.
    let fresh = large.results_in("fresh");
    fresh.run(&[]);
    assert_same(&large.comparable(), &fresh.comparable());
}

#[test]
fn raising_iterations_continues_finished_runs_exactly() {
    let short = Sweep::new(SWEEP).with(&[("train.iterations", "10")]);
    short.run(&[]);
    let long = short.with(&[("train.iterations", "25")]);
    let plan = long.plan(&[]);
    assert!(plan.contains("extend (done at 10)") && plan.contains("8 to extend"), "{plan}");
    assert!(plan.contains("Work left: 120 iterations"), "{plan}");
    let out = long.run(&[]);
    assert!(out.contains("trained 8 (0 new, 8 resumed, 0 restarted)"), "{out}");
    let fresh = long.results_in("fresh");
    fresh.run(&[]);
    assert_same(&long.comparable(), &fresh.comparable());
}

#[test]
fn changing_a_result_setting_starts_new_runs_and_leaves_old_ones_stale() {
    let first = Sweep::new(SWEEP).with(&[("train.iterations", "8"), ("grid.alpha", "[1.0]")]);
    first.run(&[]);
    let before = tree(&first.folder().join("runs"));
    let changed = first.with(&[("train.chunk_size", "100")]);
    let out = changed.run(&[]);
    assert!(
        out.contains("trained 4 (4 new") && out.contains("4 stale runs of an earlier config left untouched"),
        "{out}"
    );
    // The old runs' files are untouched, and the summary lists only the new ones.
    let after = tree(&changed.folder().join("runs"));
    for file in &before {
        assert!(after.contains(file), "{} changed", file.0);
    }
    let summary = std::fs::read_to_string(changed.folder().join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 4);
    let plan = changed.plan(&[]);
    assert_eq!(plan.matches("stale (not in the current grid").count(), 4, "{plan}");
    assert!(plan.contains("4 finished, 0 to restart; 4 stale"), "{plan}");
}

#[test]
fn damaged_run_folders_lose_nothing_that_can_be_kept() {
    let sweep = Sweep::new(SWEEP).with(&[("train.iterations", "9")]);
    sweep.run(&[]);
    let expected = sweep.comparable();
    let truncate = |path: &Path| {
        let bytes = std::fs::read(path).unwrap();
        std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
    };

    // Finished runs whose checkpoint is truncated or another run's: their results are sound,
    // so they stay finished.
    let truncated = sweep.run_dir("M8-g0.001-a1-").join("checkpoint.npz");
    truncate(&truncated);
    let foreign = sweep.run_dir("M24-g0.001-a0.3-").join("checkpoint.npz");
    std::fs::copy(sweep.run_dir("M24-g0.003-a1-").join("checkpoint.npz"), &foreign).unwrap();
    // Finished runs with a curve that disagrees with their checkpoint, a garbage init.npz, a
    // missing final.npz: repaired from the checkpoint and the seed.
    let curve = sweep.run_dir("M8-g0.003-a1-").join("curve.csv");
    let text = std::fs::read_to_string(&curve).unwrap().replacen(",0.", ",0.9", 1);
    std::fs::write(&curve, text).unwrap();
    std::fs::write(sweep.run_dir("M24-g0.003-a1-").join("init.npz"), b"garbage").unwrap();
    std::fs::remove_file(sweep.run_dir("M8-g0.001-a0.3-").join("final.npz")).unwrap();
    // A run stopped mid-way whose checkpoint is truncated: nothing to continue from.
    let partial = sweep.run_dir("M24-g0.003-a0.3-");
    for name in ["run.toml", "curve.csv", "final.npz"] {
        std::fs::remove_file(partial.join(name)).unwrap();
    }
    truncate(&partial.join("checkpoint.npz"));

    let plan = sweep.plan(&[]);
    assert_eq!(plan.matches("restart (").count(), 1, "{plan}");
    assert_eq!(plan.matches("to repair: ").count(), 3, "{plan}");
    assert!(plan.contains("curve.csv disagrees") && plan.contains("final.npz is missing"), "{plan}");
    assert!(plan.contains("7 finished, 1 to restart"), "{plan}");

    let out = sweep.command("run").output().unwrap();
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
    assert_same(&without(sweep.comparable()), &without(expected));
    assert!(sweep.plan(&[]).contains("8 finished, 0 to restart"));
    // Extending a run without its checkpoint starts it over, saying why.
    let plan = sweep.with(&[("train.iterations", "12")]).plan(&[]);
    assert_eq!(plan.matches("and extending the run needs it").count(), 2, "{plan}");
}

#[test]
fn a_run_killed_before_its_run_toml_resumes_from_its_checkpoint() {
    // run.toml is written last, when a run ends or stops: a kill just before it leaves the
    // checkpoint (which names its run) and, for a finished run, the curve and final.npz.
    let sweep = Sweep::new(SWEEP).with(&[("train.iterations", "9")]);
    sweep.run(&[]);
    let expected = sweep.comparable();
    std::fs::remove_file(sweep.run_dir("M8-g0.001-a1-").join("run.toml")).unwrap();
    let partial = sweep.run_dir("M24-g0.003-a0.3-");
    for name in ["run.toml", "curve.csv", "final.npz"] {
        std::fs::remove_file(partial.join(name)).unwrap();
    }

    let plan = sweep.plan(&[]);
    assert!(!plan.contains("restart ("), "{plan}");
    let out = sweep.command("run").output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 resumed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_same(&sweep.comparable(), &expected);
    assert!(sweep.run_dir("M8-g0.001-a1-").join("run.toml").exists());
}

#[test]
fn a_second_run_on_the_same_folder_is_refused_but_a_dead_lock_is_no_obstacle() {
    let sweep = Sweep::new(SWEEP).with(&[("train.iterations", "5"), ("grid.alpha", "[1.0]")]);
    std::fs::create_dir_all(sweep.folder()).unwrap();
    // A lock file left by a dead process: its pid is stale and nobody holds the lock.
    std::fs::write(sweep.folder().join(".lock"), "999999\n").unwrap();
    sweep.run(&[]);

    let held = heavyball::store::SweepLock::acquire(&SweepDir::at(&sweep.folder()), false).unwrap();
    let out = sweep.command("run").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let pid = format!("pid {}", std::process::id());
    assert!(stderr.contains("is in use by another heavyball process") && stderr.contains(&pid), "{stderr}");
    drop(held);
    sweep.run(&[]);
}

#[test]
fn sigterm_while_the_data_is_read_ends_the_run_at_once() {
    // A million synthetic samples take a while to generate; a signal then has nothing to save.
    let big = Sweep::new(SWEEP).without(&["data.builtin"]).with(&[
        ("data.synthetic", "{ samples = 1000000, features = 64, classes = 10, seed = 1, noise = 0.5 }"),
        ("train.iterations", "5"),
        ("grid.alpha", "[1.0]"),
    ]);
    let child = big.spawn();
    // The sign that the data is being made: the process has grown past 64 MB (its 512 MB of
    // samples are filled in as they are drawn). The signal handlers are in place by then.
    let started = Instant::now();
    while resident_bytes(child.id()).is_some_and(|b| b < 64 << 20) {
        assert!(started.elapsed() < Duration::from_secs(120), "the data was never read");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{:?}: {stderr}", out.status);
    // It ended while reading: it never got as far as making the sweep's folder.
    assert!(!big.folder().exists(), "the run went on after SIGTERM: {stderr}");
}

/// A process's resident memory from `/proc`; `None` once it has ended.
fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim();
    kb.parse::<u64>().ok().map(|kb| kb * 1024)
}
