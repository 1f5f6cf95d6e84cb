//! The commands under hostile conditions: a reader that goes away, a full disk behind stdout,
//! absurd thread counts, FIFOs and links planted in a results folder, and a `run` beside a
//! `hessian`. Each ends in a clear line or carries on; none hangs, panics or writes elsewhere.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{Sweep, assert_same, heavyball, stdout_of};

const SMALL: &str = r#"
name = "s"
[data]
builtin = "iris"
[train]
iterations = 6
objective = "mean"
checkpoint_every = 2
[grid]
hidden = [3]
gamma = [0.1, 0.3]
alpha = [1.0, 0.5]
seed = [0]
"#;

/// Longer than any of these commands takes on a busy machine; reached only by a hang.
const HANG: Duration = Duration::from_secs(120);

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    // 3000 γ values: a plan of about 200 kB, more than a pipe holds.
    let sweep = Sweep::new(SMALL).with(&[("grid.gamma", "{ from = 1e-4, to = 1.0, per_decade = 750 }")]);
    let mut child = sweep.process_for("plan").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{:?}: {stderr}", out.status);
}

#[test]
fn a_full_disk_behind_stdout_is_one_line_and_exit_1() {
    let sweep = Sweep::new(SMALL);
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = sweep.process_for("run").arg("--quiet").stdout(full).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot write to standard output"), "{stderr}");
    // The work itself was done and saved.
    assert!(sweep.plan(&[]).contains(" 4 finished"), "the runs were lost");
}

#[test]
fn tens_of_thousands_of_threads_in_the_environment_are_capped_with_a_warning() {
    let sweep = Sweep::new(SMALL).env("RAYON_NUM_THREADS", Some("30000"));
    for command in ["run", "plan", "hessian", "report"] {
        let out = sweep.command(command).timeout(HANG).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{command}: {stderr}");
        assert!(stderr.contains("warning: 30000 threads asked for"), "{command}: {stderr}");
    }
}

/// Copies a folder and everything in it.
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Replaces `path` by a FIFO.
fn fifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

#[test]
fn a_fifo_in_place_of_any_result_file_never_hangs_a_command() {
    let reference = Sweep::new(SMALL);
    reference.run(&["--quiet"]);
    reference.hessian(&[]);
    let run = |sweep: &Sweep| sweep.run_dir("M3-g0.1-a1-s0");
    type Place<'a> = &'a dyn Fn(&Sweep) -> std::path::PathBuf;
    let places: [(&str, Place); 9] = [
        ("sweep.toml", &|s| s.folder().join("sweep.toml")),
        ("config.toml", &|s| s.folder().join("config.toml")),
        ("run.toml", &|s| run(s).join("run.toml")),
        ("curve.csv", &|s| run(s).join("curve.csv")),
        ("final.npz", &|s| run(s).join("final.npz")),
        ("init.npz", &|s| run(s).join("init.npz")),
        ("checkpoint.npz", &|s| run(s).join("checkpoint.npz")),
        ("hessian.toml", &|s| run(s).join("hessian.toml")),
        // `plan` asks every run's lock whether a process is training it.
        ("a run's lock", &|s| s.folder().join(".locks").join(run(s).file_name().unwrap())),
    ];
    for (i, (name, place)) in places.iter().enumerate() {
        for command in ["report", "plan", "hessian", "run"] {
            let sweep = reference.results_in(&format!("f{i}-{command}"));
            copy_folder(&reference.folder(), &sweep.folder());
            fifo(&place(&sweep));
            let mut cmd = match command {
                // The folder form reads the config copy.
                "hessian" => {
                    let mut c = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin("heavyball"));
                    c.arg("hessian").arg(sweep.folder());
                    c
                }
                _ => sweep.command(command),
            };
            let out = cmd.timeout(HANG).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(matches!(out.status.code(), Some(0 | 1)), "{command} with a FIFO as {name}: {stderr}");
            assert!(!stderr.contains("panicked"), "{command} with a FIFO as {name}: {stderr}");
            if out.status.code() == Some(1) {
                assert!(stderr.contains("not a regular file"), "{command} with a FIFO as {name}: {stderr}");
            }
        }
    }
}

#[test]
fn links_to_folders_elsewhere_are_refused_before_anything_is_written_through_them() {
    let sweep = Sweep::new(SMALL);
    let elsewhere = sweep.dir().join("elsewhere");
    for folder in ["runs", ".locks", "slurm"] {
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::create_dir_all(sweep.folder()).unwrap();
        let link = sweep.folder().join(folder);
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let command = if folder == "slurm" { "slurm" } else { "run" };
        let mut cmd = sweep.command(command);
        if command == "slurm" {
            cmd.args(["--tasks", "2"]);
        }
        let out = cmd.timeout(HANG).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{folder}: {stderr}");
        assert!(stderr.contains("is a symbolic link"), "{folder}: {stderr}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "{folder}: written through the link");
        std::fs::remove_file(&link).unwrap();
    }
}

#[test]
fn hessian_shares_the_sweep_lock_so_a_plain_run_waits_its_turn() {
    let sweep = Sweep::new(SMALL);
    sweep.run(&["--quiet"]);
    // A plain run holds the sweep exclusively: hessian is refused, in words, and loses nothing.
    let _held = sweep.hold_lock(false);
    let out = sweep.command("hessian").timeout(HANG).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is in use by another heavyball"), "{stderr}");
    drop(_held);
    // Hessian holds it shared: a plain run beside it is refused; shards are not.
    let _hessian = sweep.hold_lock(true);
    let out = sweep.command("run").timeout(HANG).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    stdout_of(sweep.command("hessian").timeout(HANG));
    stdout_of(sweep.command("run").args(["--shard", "0/2", "--quiet"]).timeout(HANG));
    stdout_of(heavyball().arg("report").arg(sweep.folder()).timeout(HANG));
}

#[test]
fn paths_that_are_not_utf8_are_refused_in_one_line() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.toml");
    let unnamed = SMALL.replace("name = \"s\"\n", "");
    std::fs::write(dir.path().join(name), &unnamed).unwrap();
    let results = dir.path().join("results");
    // Named after a file name that is not UTF-8: refused, never silently "sweep".
    let out =
        heavyball().arg("run").arg(dir.path().join(name)).arg("--results").arg(&results).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is not a valid name") && stderr.trim().lines().count() == 1, "{stderr}");
    assert!(!results.exists());
    // A job script cannot name a path that is not UTF-8.
    std::fs::write(dir.path().join(name), SMALL).unwrap();
    let out = heavyball()
        .arg("slurm")
        .arg(dir.path().join(name))
        .args(["--tasks", "2", "--results"])
        .arg(&results)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is not valid UTF-8") && stderr.trim().lines().count() == 1, "{stderr}");
    assert!(!results.exists(), "nothing is written before the refusal");
}

#[test]
fn a_folder_named_like_a_temporary_file_blocks_nothing() {
    let sweep = Sweep::new(SMALL);
    std::fs::create_dir_all(sweep.folder().join(".tmp-foo")).unwrap();
    std::fs::write(sweep.folder().join(".tmp-foo/mine.txt"), "kept\n").unwrap();
    let line = sweep.run(&["--quiet"]);
    assert!(line.contains("4 runs"), "{line}");
    assert_eq!(std::fs::read_to_string(sweep.folder().join(".tmp-foo/mine.txt")).unwrap(), "kept\n");
}

#[test]
fn a_run_folder_that_is_a_link_is_never_written_through() {
    let sweep = Sweep::new(SMALL);
    sweep.run(&["--quiet"]);
    let run = sweep.run_dir("M3-g0.1-a1-s0");
    let elsewhere = sweep.dir().join("elsewhere");
    std::fs::rename(&run, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &run).unwrap();
    let before = crate::common::tree(&elsewhere);
    let longer = sweep.with(&[("train.iterations", "8")]);
    for (command, on) in [("hessian", &sweep), ("run", &longer)] {
        let out = on.command(command).timeout(HANG).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        assert!(stderr.contains("is a symbolic link"), "{command}: {stderr}");
    }
    assert_eq!(crate::common::tree(&elsewhere), before, "written through the link");
}

#[test]
fn a_hand_edited_run_toml_is_named_and_never_reported_as_trained() {
    let sweep = Sweep::new(SMALL);
    sweep.run(&["--quiet"]);
    let meta = sweep.run_dir("M3-g0.1-a1-s0").join("run.toml");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(&meta, text.replace("gamma = 0.1\n", "gamma = 0.2\n")).unwrap();
    let report = sweep.report(&[]);
    let md = std::fs::read_to_string(sweep.folder().join("report/report.md")).unwrap();
    assert!(md.contains("names another run"), "the damage is not named: {report}");
    assert!(
        !std::fs::read_to_string(sweep.folder().join("report/comparison.csv")).unwrap().contains(",0.2,")
    );
    // run repairs it from its checkpoint, or trains it again: the summary is right again.
    sweep.run(&["--quiet"]);
    let summary = std::fs::read_to_string(sweep.folder().join("summary.csv")).unwrap();
    assert!(!summary.contains(",0.2,"), "{summary}");
    assert_eq!(summary.lines().count(), 5, "{summary}");
}

/// A finished sweep whose file `name` of run M3-g0.1-a1-s0 goes through `edit`: `report` must
/// name it with `said` (and pass `more`); then `run` must bring every file back as it was.
/// Returns the edited file's text once repaired.
fn tampered_then_repaired(
    name: &str,
    edit: impl Fn(&str) -> String,
    said: &str,
    more: impl Fn(&Sweep),
) -> String {
    let sweep = Sweep::new(SMALL);
    sweep.run(&["--quiet"]);
    let before = sweep.comparable();
    let file = sweep.run_dir("M3-g0.1-a1-s0").join(name);
    std::fs::write(&file, edit(&std::fs::read_to_string(&file).unwrap())).unwrap();
    let report = sweep.report(&[]);
    let md = std::fs::read_to_string(sweep.folder().join("report/report.md")).unwrap();
    assert!(md.contains(said), "{report}");
    more(&sweep);
    sweep.run(&["--quiet"]);
    std::fs::remove_dir_all(sweep.folder().join("report")).unwrap();
    assert_same(&sweep.comparable(), &before);
    std::fs::read_to_string(&file).unwrap()
}

#[test]
fn a_status_its_curve_belies_is_named_and_the_run_trained_again() {
    // A healthy finished run said to have diverged: the report would count it as ∞.
    let edit = |text: &str| {
        assert!(text.contains("status = \"done\""), "{text}");
        text.replace("status = \"done\"", "status = \"diverged\"")
    };
    let plan_restarts = |sweep: &Sweep| {
        let plan = sweep.plan(&[]);
        assert!(plan.contains("1 to restart"), "{plan}");
    };
    let said = "run.toml says the run diverged, but its curve ends at";
    let meta = tampered_then_repaired("run.toml", edit, said, plan_restarts);
    assert!(meta.contains("status = \"done\""), "{meta}");
}

#[test]
fn a_curve_its_checkpoint_belies_is_left_out_of_the_report_until_run_repairs_it() {
    // The last row's loss rewritten, as an edit or a spreadsheet's save would.
    let edit = |text: &str| {
        let (head, last) = text.trim_end().rsplit_once('\n').unwrap();
        let mut cells: Vec<&str> = last.split(',').collect();
        cells[1] = "0.000001";
        format!("{head}\n{}\n", cells.join(","))
    };
    let left_out = |sweep: &Sweep| {
        let paired = std::fs::read_to_string(sweep.folder().join("report/paired.csv")).unwrap();
        assert!(!paired.contains("1e-6"));
    };
    tampered_then_repaired("curve.csv", edit, "curve.csv disagrees with checkpoint.npz", left_out);
}

#[test]
fn lowering_iterations_is_refused_before_anything_is_lost() {
    let sweep = Sweep::new(SMALL);
    sweep.run(&["--quiet"]);
    let before = sweep.comparable();
    let shorter = sweep.with(&[("train.iterations", "3")]);
    let out = shorter.command("run").timeout(HANG).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("4 runs of this config already have more iterations than the 3 asked for"),
        "{stderr}"
    );
    crate::common::assert_same(&sweep.comparable(), &before);
}

#[test]
fn a_full_stderr_never_turns_an_error_into_a_panic() {
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let binary = assert_cmd::cargo::cargo_bin("heavyball");
    for args in [["run", "no-such.toml"], ["report", "no-such-folder"]] {
        let status = Command::new(&binary).args(args).stderr(full()).status().unwrap();
        assert_eq!(status.code(), Some(1), "{args:?}");
    }
}

#[test]
fn a_refused_slurm_job_leaves_no_results_folder() {
    let sweep = Sweep::new(SMALL);
    for (results, tasks) in [("r20%A", "2"), ("fresh", "9")] {
        let folder = sweep.dir().join(results);
        let out = heavyball()
            .arg("slurm")
            .arg(sweep.dir().join("sweep.toml"))
            .args(["--tasks", tasks, "--results"])
            .arg(&folder)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(!folder.exists(), "{results} was created");
    }
}
