//! Studies (`[[data]]` tables): each workload is a sweep of its own inside the study's folder,
//! with the bytes of that workload run alone, at any thread count and across crashes; the study
//! adds its summaries and a report across the workloads; bad study configs are named.

use std::path::Path;

use crate::common::{Files, Sweep, assert_same, heavyball, tree, write};

const STUDY: &str = r#"
name = "st"
[[data]]
name = "iris"
builtin = "iris"
test_fraction = 0.2
[[data]]
name = "teacher"
synthetic = { samples = 300, features = 6, classes = 3, seed = 2, condition = [1, 30] }
test_fraction = 0.2
[train]
iterations = 12
objective = "mean"
checkpoint_every = 4
[grid]
hidden = [4]
gamma = [0.1, 1.0]
alpha = [1.0, 0.5]
seed = [0, 1]
"#;

/// The files of one workload's folder that must match byte for byte: all but wall times, locks
/// and the config copy (a study's text, or a sweep's).
fn runs_of(folder: &Path) -> Files {
    tree(folder)
        .into_iter()
        .filter(|(n, _)| {
            !n.ends_with("run.toml")
                && !n.ends_with("summary.csv")
                && !n.ends_with(".lock")
                && !n.contains(".locks")
                && !n.ends_with("config.toml")
                && !n.starts_with("slurm/")
        })
        .collect()
}

#[test]
fn each_workload_holds_the_bytes_of_its_sweep_alone_at_any_thread_count() {
    let study = Sweep::new(STUDY);
    let one = study.results_in("one");
    let line = one.run(&["--threads", "1", "--quiet"]);
    for workload in ["iris", "teacher-k1", "teacher-k30"] {
        assert!(line.contains(&format!("{workload}: 8 runs")), "{line}");
    }
    let two = study.results_in("two");
    two.run(&["--threads", "2", "--quiet"]);
    assert_same(&runs_of(&one.folder()), &runs_of(&two.folder()));
    // Each workload as a sweep of its own, with the workload's name.
    let alone = [
        ("iris", "builtin = \"iris\"\ntest_fraction = 0.2"),
        (
            "teacher-k1",
            "synthetic = { samples = 300, features = 6, classes = 3, seed = 2 }\ntest_fraction = 0.2",
        ),
        (
            "teacher-k30",
            "synthetic = { samples = 300, features = 6, classes = 3, seed = 2, condition = 30 }\ntest_fraction = 0.2",
        ),
    ];
    for (name, data) in alone {
        let text = STUDY.split("[train]").nth(1).unwrap();
        let single = Sweep::new(&format!("name = \"{name}\"\n[data]\n{data}\n[train]{text}"));
        single.run(&["--quiet"]);
        assert_same(&runs_of(&one.folder().join(name)), &runs_of(&single.folder()));
    }
    // The study's summaries: every workload's rows, led by its name.
    let summary = std::fs::read_to_string(one.folder().join("summary.csv")).unwrap();
    assert!(summary.starts_with("workload,run,"), "{summary}");
    assert_eq!(summary.lines().filter(|l| l.starts_with("teacher-k30,")).count(), 8, "{summary}");
    let curves = std::fs::read_to_string(one.folder().join("curves.csv")).unwrap();
    assert_eq!(curves.lines().filter(|l| l.starts_with("iris,")).count(), 8 * 13, "{}", &curves[..200]);
    // plan covers every workload.
    let plan = one.plan(&[]);
    assert!(plan.contains("workload teacher-k30:") && plan.contains("8 runs: 0 new"), "{plan}");
}

/// A conditioning study tuned and confirmed per workload.
const TUNED_STUDY: &str = r#"
name = "tuned"
[[data]]
name = "teacher"
synthetic = { samples = 300, features = 6, classes = 3, seed = 2, condition = [1, 10, 100] }
test_fraction = 0.2
standardize = false
[train]
iterations = 30
objective = "mean"
divergence_factor = 100
[grid]
hidden = [4]
gamma = [0.1, 1.0]
alpha = [1.0, 0.5]
seed = [0, 1]
[tune]
gamma = "bracket"
max_rounds = 3
[confirm]
seeds = 6
"#;

#[test]
fn tuning_and_confirmation_run_per_workload_and_the_report_fits_the_slope() {
    let study = Sweep::new(TUNED_STUDY);
    let line = study.run(&["--quiet"]);
    assert!(line.contains("teacher-k100:"), "{line}");
    // One workload, alone, tunes and confirms to the same bytes.
    let text = TUNED_STUDY.split("[train]").nth(1).unwrap();
    let single = Sweep::new(&format!(
        "name = \"teacher-k10\"\n[data]\nsynthetic = {{ samples = 300, features = 6, classes = 3, seed = 2, \
         condition = 10 }}\ntest_fraction = 0.2\nstandardize = false\n[train]{text}"
    ));
    single.run(&["--quiet"]);
    assert_same(&runs_of(&study.folder().join("teacher-k10")), &runs_of(&single.folder()));
    let plan = study.plan(&[]);
    assert!(
        plan.contains("Confirmation by late_train_loss") && plan.contains("workload teacher-k100:"),
        "{plan}"
    );
    study.report(&[]);
    let report = study.folder().join("report");
    let csv = std::fs::read_to_string(report.join("study.csv")).unwrap();
    let optimisation: Vec<&str> = csv.lines().filter(|l| l.contains(",optimisation,")).collect();
    assert_eq!(optimisation.len(), 3, "{csv}");
    assert!(optimisation.iter().all(|l| l.contains(",confirmation,")), "{csv}");
    // Three values of κ: a slope is fitted, in report.md and on the page alike.
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    for text in [&md, &page] {
        assert!(text.contains("teacher, M = 4: fitted slope of log speed-up on log κ"), "{text}");
        assert!(text.contains("over 3 values of κ (the quadratic model"), "{text}");
    }
    assert!(report.join("conditioning.svg").is_file());
}

#[test]
fn a_study_crashed_at_any_write_ends_byte_identical() {
    let study = Sweep::new(STUDY);
    let reference = study.results_in("reference");
    reference.run(&["--quiet"]);
    let crashed = study.results_in("crashed");
    let (crashes, _) = crashed.crash_until_done(40, 0x31);
    assert!(crashes >= 10, "only {crashes} crashes");
    assert_same(&runs_of(&crashed.folder()), &runs_of(&reference.folder()));
}

#[test]
fn hessian_passes_over_the_workloads_with_nothing_finished() {
    let study = Sweep::new(STUDY);
    study.run(&["--quiet"]);
    // teacher-k1 not begun (its folder gone), teacher-k30 begun with no finished run.
    std::fs::remove_dir_all(study.folder().join("teacher-k1")).unwrap();
    for run in std::fs::read_dir(study.folder().join("teacher-k30/runs")).unwrap() {
        std::fs::remove_dir_all(run.unwrap().path()).unwrap();
    }
    let text = study.hessian(&[]);
    assert!(text.contains("teacher-k1: not begun yet; nothing to compute"), "{text}");
    assert!(text.contains("teacher-k30: no finished runs yet; nothing to compute"), "{text}");
    assert!(text.contains("iris: λ_max and λ_min of 8 runs (8 computed"), "{text}");
    assert!(study.folder().join("iris/hessian.csv").is_file());
    // A workload being trained (its lock held by a run) is passed over, the others computed.
    let held = study.hold_lock_of("iris", false);
    let text = study.hessian(&[]);
    assert!(
        text.contains("iris: passed over: ") && text.contains("is in use by another heavyball process"),
        "{text}"
    );
    drop(held);
    // With nothing finished anywhere, it is an error.
    std::fs::remove_dir_all(study.folder().join("iris")).unwrap();
    let out = study.command("hessian").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no workload of study st has finished runs yet"), "{stderr}");
}

#[test]
fn the_study_report_covers_every_workload_and_the_conditioning() {
    let study = Sweep::new(STUDY);
    study.run(&["--quiet"]);
    heavyball().arg("hessian").arg(study.folder()).assert().success();
    let text = study.report(&[]);
    assert!(text.contains("study st: 3 workloads"), "{text}");
    let report = study.folder().join("report");
    for file in ["study.csv", "report.md", "index.html", "profile.svg", "profile.png", "conditioning.svg"] {
        assert!(report.join(file).is_file(), "{file} missing: {text}");
    }
    for workload in ["iris", "teacher-k1", "teacher-k30"] {
        assert!(study.folder().join(workload).join("report/report.md").is_file(), "{workload}");
    }
    let csv = std::fs::read_to_string(report.join("study.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("workload,condition,series,hidden,view,seeds_used,"));
    let rows: Vec<&str> = lines.collect();
    // Two views (each workload has a test set) for each of the 3 workloads at one M.
    assert_eq!(rows.len(), 6, "{csv}");
    assert!(rows.iter().any(|r| r.starts_with("teacher-k30,30,teacher,4,optimisation,selection,")), "{csv}");
    assert!(rows.iter().any(|r| r.starts_with("iris,,,4,")), "{csv}");
    // Hessian spreads measured at the bests' final points.
    assert!(rows.iter().all(|r| !r.ends_with(',')), "{csv}");
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(
        page.contains("<select id=\"workload\"") && page.contains("teacher-k30"),
        "the page has no selector"
    );
    // The page carries report.md's table and notes: the bests, the Hessian spreads, the
    // reference line said to be no fit, and what came of fitting a slope.
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    for (page_has, md_has) in [
        ("<th>momentum γ, α</th>", "| momentum γ, α |"),
        ("<th>Hessian λ_max/|λ_min| GD, momentum</th>", "Hessian λ_max/\\|λ_min\\| GD, momentum"),
        ("a reference, not a fit", "a reference, not a fit"),
        ("fewer than 3 values of κ with a speed-up; no slope fitted", "no slope fitted"),
    ] {
        assert!(page.contains(page_has), "the page lacks {page_has:?}");
        assert!(md.contains(md_has), "report.md lacks {md_has:?}");
    }
    assert_eq!(page.matches("<tr><td>").count(), 6, "one page row per study.csv row");
    // Through a config it was not run with, each workload's report says so.
    let text = study.with(&[("train.iterations", "15")]).report(&[]);
    assert_eq!(text.matches("differs from the config sweep").count(), 3, "{text}");
    // The folder form finds the same study.
    let again = crate::common::stdout_of(heavyball().arg("report").arg(study.folder()));
    assert!(again.contains("study st: 3 workloads"), "{again}");
}

#[test]
fn an_interrupted_study_names_its_workload_and_the_command_that_resumes_it() {
    let study = Sweep::new(STUDY).with(&[("train.iterations", "200000"), ("train.checkpoint_every", "2000")]);
    let (code, stderr) = study.interrupt_at_first_checkpoint(&study.folder().join("iris/runs"));
    assert_eq!(code, Some(130), "{stderr}");
    let again = format!("--results {}", study.folder().parent().unwrap().display());
    assert!(
        stderr.starts_with("workload iris: interrupted: saved ") && stderr.trim_end().ends_with(&again),
        "{stderr}"
    );
}

#[test]
fn a_workload_folder_is_its_own_and_a_study_folder_is_no_sweep() {
    let study = Sweep::new(STUDY);
    study.run(&["--quiet"]);
    // The iris workload's folder replaced by a link to another workload's: refused, and the
    // other workload's files are untouched.
    let (iris, teacher) = (study.folder().join("iris"), study.folder().join("teacher-k1"));
    let before = tree(&teacher);
    std::fs::remove_dir_all(&iris).unwrap();
    std::os::unix::fs::symlink("teacher-k1", &iris).unwrap();
    let out = study.command("run").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("iris is a symbolic link"), "{stderr}");
    assert_eq!(tree(&teacher), before, "the linked workload changed");
    // A plain sweep of the study's name, into the study's folder: refused, nothing changed.
    let text = format!(
        "name = \"st\"\n[data]\nbuiltin = \"iris\"\n[train]{}",
        STUDY.split("[train]").nth(1).unwrap()
    );
    let plain = write(study.dir(), "plain.toml", &text);
    let whole = tree(&study.folder());
    let out = heavyball()
        .arg("run")
        .arg(&plain)
        .arg("--results")
        .arg(study.folder().parent().unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("holds a study, not a sweep"), "{stderr}");
    assert_eq!(tree(&study.folder()), whole, "the study's folder changed");
}

#[test]
fn a_study_in_use_is_refused_and_its_shards_share_it() {
    let study = Sweep::new(STUDY);
    let held = study.hold_lock(false);
    let out = study.command("run").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is in use by another heavyball process"), "{stderr}");
    assert!(!study.folder().join("study.toml").exists(), "the study was written beside its holder");
    drop(held);
    // A shard holds it shared: another shard goes on, a plain run waits its turn.
    let shard = study.hold_lock(true);
    study.run(&["--shard", "0/2", "--quiet"]);
    let out = study.command("run").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("(the tasks of a sharded run)"), "{stderr}");
    drop(shard);
    study.run(&["--quiet"]);
}

#[test]
fn bad_studies_are_named_before_anything_is_written() {
    let cases = [
        (
            STUDY.replace("[train]", "[[data]]\nname = \"iris\"\nbuiltin = \"digits\"\n[train]"),
            "two [[data]] tables are named \"iris\"",
        ),
        // A series's workload and another table's name alike.
        (STUDY.replace("name = \"iris\"", "name = \"teacher-k30\""), "two workloads are named \"teacher-k30\""),
        (STUDY.replace("name = \"iris\"", "name = \"report\""), "that name is the study's own folder"),
        (STUDY.replace("name = \"iris\"", "name = \"summary.csv\""), "that name is the study's own folder or file"),
        (STUDY.replace("name = \"iris\"", "name = \"study.toml\""), "that name is the study's own folder or file"),
        (STUDY.replace("name = \"iris\"", "name = \".report-x\""), "a name starting with '.' is a hidden folder"),
        // Two tables of one name, even with conditions that would name their workloads apart.
        (
            STUDY.replace(
                "[train]",
                "[[data]]\nname = \"teacher\"\nsynthetic = { samples = 99, features = 3, classes = 2, seed = 1, \
                 condition = [100] }\n[train]",
            ),
            "two [[data]] tables are named \"teacher\"",
        ),
        // The last workload's data cannot be read: refused before the first one trains.
        (
            STUDY.replace("[train]", "[[data]]\nname = \"later\"\ncsv = \"no-such-file.csv\"\n[train]"),
            "workload later: cannot read data file",
        ),
        (
            STUDY.replace("condition = [1, 30]", "condition = [1, 0.5]"),
            "condition must be a finite number ≥ 1 (got 0.5)",
        ),
        (
            STUDY.replace("condition = [1, 30]", "condition = [1, nan]"),
            "condition must be a finite number ≥ 1 (got NaN)",
        ),
        (STUDY.replace("condition = [1, 30]", "condition = []"), "condition is an empty list"),
        (STUDY.replace("condition = [1, 30]", "condition = [[10]]"), "condition must be a number (got sequence)"),
        (
            STUDY.replace("name = \"st\"\n", "name = \"st\"\n[data]\nbuiltin = \"iris\"\n"),
            "a config has one [data] table (a sweep) or [[data]] tables (a study, each named), not both",
        ),
        (STUDY.replace("name = \"iris\"\n", ""), "table 1 has no name"),
        (
            STUDY.replace("samples = 300", "samples = 100000000000"),
            "the data of study st's 3 workloads needs about",
        ),
        (
            format!("name = \"st\"\ndata = []\n[train]{}", STUDY.split("[train]").nth(1).unwrap()),
            "there is no [[data]] table",
        ),
    ];
    for (text, said) in cases {
        let sweep = Sweep::new(&text);
        let out = sweep.command("run").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{said}: {stderr}");
        assert!(stderr.contains(said) && stderr.trim().lines().count() == 1, "{said}: {stderr}");
        assert!(!sweep.folder().exists(), "{said}: something was written");
    }
}

#[test]
fn one_slurm_array_covers_a_study_and_its_shards_reach_the_bytes_of_a_plain_run() {
    let study = Sweep::new(STUDY);
    let plain = study.results_in("plain");
    plain.run(&["--quiet"]);
    let sharded = study.results_in("sharded");
    let text = crate::common::stdout_of(sharded.command("slurm").args(["--tasks", "2"]));
    assert!(text.contains("st.sbatch"), "{text}");
    let script = std::fs::read_to_string(sharded.folder().join("slurm/st.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-1") && script.contains("--shard auto/2"), "{script}");
    // The array's two tasks, one after the other: each trains its shard of every workload.
    for shard in ["0/2", "1/2"] {
        sharded.run(&["--shard", shard, "--quiet"]);
    }
    assert_same(&runs_of(&sharded.folder()), &runs_of(&plain.folder()));
    let again = crate::common::stdout_of(sharded.command("slurm").args(["--tasks", "2"]));
    assert!(again.contains("are finished; nothing to submit"), "{again}");
}
