//! `heavyball hessian`: λ_max and λ_min at every finished run's ends, into hessian.csv;
//! the same bytes at any thread count, resumable run by run, and plain about bad input.

use std::path::Path;

use crate::common::{heavyball, run_sweep, write};

const SWEEP: &str = r#"
name = "h"
[data]
builtin = "iris"
[train]
iterations = 30
objective = "mean"
precision = "f64"
divergence_factor = 10
[grid]
hidden = [3, 5]
gamma = [0.3, 3000.0]
alpha = [1.0, 0.5]
seed = [0, 1]
"#;

fn hessian(args: &[&str]) -> std::process::Output {
    heavyball().arg("hessian").args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = hessian(args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn every_finished_run_gets_its_extremes_the_same_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "h.toml", SWEEP);
    let results = dir.path().join("results");
    run_sweep(&cfg, &results, &["--quiet"]);
    let sweep = results.join("h");
    let line = ok(&[path(&sweep), "--threads", "1"]);
    assert!(line.contains(" computed, 0 kept from before"), "{line}");
    let csv = std::fs::read_to_string(sweep.join("hessian.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("run,point,lambda_max,lambda_min,steps,residual"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let summary = std::fs::read_to_string(sweep.join("summary.csv")).unwrap();
    let diverged = summary.lines().filter(|l| l.contains(",diverged,")).count();
    assert!(diverged > 0, "the test wants a diverged run (γ = 3000): {summary}");
    // An init row per run, a final row per run that did not diverge.
    assert_eq!(rows.len(), 2 * 16 - diverged, "{csv}");
    for row in &rows {
        let (max, min): (f64, f64) = (row[2].parse().unwrap(), row[3].parse().unwrap());
        assert!(max.is_finite() && min.is_finite() && max >= min && max > 0.0, "{row:?}");
        assert!(row[1] == "init" || row[1] == "final");
    }
    // From scratch with four threads, through the config file: the same bytes.
    let again = dir.path().join("again");
    std::fs::create_dir_all(&again).unwrap();
    for entry in walk(&sweep) {
        let to = again.join(entry.strip_prefix(&sweep).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        if !entry.ends_with("hessian.toml") && !entry.ends_with("hessian.csv") {
            std::fs::copy(&entry, to).unwrap();
        }
    }
    let line = ok(&[path(&again), "--threads", "4"]);
    assert!(line.contains(" computed, 0 kept"), "{line}");
    assert_eq!(std::fs::read(again.join("hessian.csv")).unwrap(), csv.as_bytes());
    ok(&[path(&cfg), "--results", path(&results), "--threads", "2"]);
    assert_eq!(std::fs::read(sweep.join("hessian.csv")).unwrap(), csv.as_bytes());

    // The report sets theory beside the experiment: one row per (M, α).
    let out = heavyball().arg("report").arg(&sweep).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("stability: "));
    let md = std::fs::read_to_string(sweep.join("report/report.md")).unwrap();
    let section = md.split("## Stability: theory beside the experiment").nth(1).expect(&md);
    let rows: Vec<&str> =
        section.lines().filter(|l| l.starts_with("| 3 |") || l.starts_with("| 5 |")).collect();
    assert_eq!(rows.len(), 4, "{section}");
    // γ = 3000 diverged for every (M, α); γ = 0.3 converged.
    for row in rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!((cells[5], cells[6]), ("0.3", "3000"), "{row}");
    }
    // The heatmap draws the predicted boundary: per α row (α = 1 at the bottom, then 0.5) a
    // vertical mark, further right for the smaller α, whose limit 2(2−α)/(α·λ₀) is 3× GD's.
    for m in [3, 5] {
        let svg = std::fs::read_to_string(sweep.join(format!("report/heatmap-M{m}.svg"))).unwrap();
        let line = svg
            .split("<polyline")
            .find(|p| p.contains(r##"stroke="#FFFFFF" stroke-width="3""##))
            .expect(&svg);
        let points: Vec<(i32, i32)> = line
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .split_whitespace()
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        assert_eq!(points.len(), 4, "{line}");
        assert!(points[0].0 == points[1].0 && points[2].0 == points[3].0, "{line}");
        assert!(
            points[0].1 > points[1].1 && points[1].1 == points[2].1 && points[2].1 > points[3].1,
            "{line}"
        );
        assert!(points[2].0 > points[0].0, "{line}");
    }
    // Without Hessian values the report says nothing about them.
    let again_md = {
        std::fs::remove_file(again.join("hessian.csv")).unwrap();
        for entry in walk(&again) {
            if entry.ends_with("hessian.toml") {
                std::fs::remove_file(entry).unwrap();
            }
        }
        heavyball().arg("report").arg(&again).assert().success();
        std::fs::read_to_string(again.join("report/report.md")).unwrap()
    };
    assert!(!again_md.contains("Stability") && !again_md.contains("Hessian"), "{again_md}");
    let heatmap = std::fs::read_to_string(again.join("report/heatmap-M3.svg")).unwrap();
    assert!(!heatmap.contains(r##"stroke="#FFFFFF" stroke-width="3""##), "a boundary without values");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[test]
fn a_rerun_computes_only_what_is_missing_or_changed_and_names_a_damaged_run() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "h.toml", SWEEP);
    let results = dir.path().join("results");
    run_sweep(&cfg, &results, &["--quiet"]);
    let sweep = results.join("h");
    ok(&[path(&sweep)]);
    let csv = std::fs::read(sweep.join("hessian.csv")).unwrap();
    let runs: Vec<_> = std::fs::read_dir(sweep.join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
    // One run's values lost (as a kill before its file landed would), one run's damaged.
    std::fs::remove_file(runs[0].join("hessian.toml")).unwrap();
    std::fs::write(runs[1].join("hessian.toml"), "lambda_max = ").unwrap();
    let line = ok(&[path(&sweep)]);
    assert!(line.contains("(2 computed, 14 kept from before)"), "{line}");
    assert_eq!(std::fs::read(sweep.join("hessian.csv")).unwrap(), csv);
    // A run whose parameters cannot be read is named and left out; the others are written.
    std::fs::remove_file(runs[2].join("hessian.toml")).unwrap();
    std::fs::write(runs[2].join("init.npz"), b"not a zip").unwrap();
    let out = hessian(&[path(&sweep)]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let name = runs[2].file_name().unwrap().to_str().unwrap();
    assert!(err.starts_with(&format!("warning: {name} left out: ")) && err.contains("init.npz"), "{err}");
    let text = String::from_utf8(std::fs::read(sweep.join("hessian.csv")).unwrap()).unwrap();
    assert!(!text.contains(name) && text.lines().count() > 20, "{text}");
}

#[test]
fn a_folder_without_a_sweep_or_without_finished_runs_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = hessian(&[path(dir.path())]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sweep.toml") && err.contains("the results folder of a sweep"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // No γ that diverges: a fused group would finish such a run within milliseconds.
    let long = SWEEP.replace("iterations = 30", "iterations = 2000000").replace("3000.0", "0.03");
    let cfg = write(dir.path(), "h.toml", &long);
    let results = dir.path().join("results");
    // Stopped at once: sweep.toml is written, no run finished.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("heavyball"))
        .args(["run", "--quiet"])
        .arg(&cfg)
        .arg("--results")
        .arg(&results)
        .spawn()
        .unwrap();
    // Both of the sweep's own files, whichever is written last, before the kill.
    let (meta, config) = (results.join("h/sweep.toml"), results.join("h/config.toml"));
    while !(meta.exists() && config.exists()) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let out = hessian(&[path(&results.join("h"))]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no finished runs"), "{err}");
    assert!(!results.join("h/hessian.csv").exists());
    let out = hessian(&[path(&results.join("h")), "--steps", "1"]);
    assert_eq!(out.status.code(), Some(2));
}

const SHARP: &str = r#"
name = "s"
[data]
builtin = "iris"
test_fraction = 0.2
[train]
iterations = 24
objective = "mean"
checkpoint_every = 3
sharpness_every = 5
sharpness_steps = 10
[grid]
hidden = [3, 6]
gamma = [0.5, 3.0]
alpha = [1.0, 0.3]
seed = [0]
"#;

#[test]
fn curves_carry_the_sharpness_the_same_at_any_thread_count_and_across_crashes() {
    use crate::common::{assert_same, comparable, crash_until_done};
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "s.toml", SHARP);
    let one = dir.path().join("one");
    run_sweep(&cfg, &one, &["--threads", "1", "--quiet"]);
    let runs: Vec<_> = std::fs::read_dir(one.join("s/runs")).unwrap().map(|e| e.unwrap().path()).collect();
    for run in &runs {
        let curve = std::fs::read_to_string(run.join("curve.csv")).unwrap();
        let mut lines = curve.lines();
        assert_eq!(
            lines.next(),
            Some("iteration,train_loss,train_accuracy,test_loss,test_accuracy,sharpness")
        );
        for (i, line) in lines.enumerate() {
            let value = line.rsplit(',').next().unwrap();
            let expected = i % 5 == 0 || i == 24;
            assert_eq!(!value.is_empty(), expected, "{}: row {i}: {line}", run.display());
            if expected {
                assert!(value.parse::<f64>().unwrap() > 0.0, "{line}");
            }
        }
    }
    let curves = std::fs::read_to_string(one.join("s/curves.csv")).unwrap();
    assert!(curves.starts_with(
        "run,hidden,gamma,alpha,seed,iteration,train_loss,train_accuracy,test_loss,test_accuracy,sharpness\n"
    ));

    let four = dir.path().join("four");
    run_sweep(&cfg, &four, &["--threads", "4", "--quiet"]);
    assert_same(&comparable(&four.join("s")), &comparable(&one.join("s")));

    // Crashed after every few files, then resumed: the same bytes.
    let crashed = dir.path().join("crashed");
    let (crashes, _) = crash_until_done(&cfg, &crashed, 13, 0x5a);
    assert!(crashes >= 5, "only {crashes} crashes");
    assert_same(&comparable(&crashed.join("s")), &comparable(&one.join("s")));

    // Without the sharpness the same runs have other keys, and their curves are the same but
    // for the column.
    let plain = dir.path().join("plain");
    let cfg_plain =
        write(dir.path(), "p.toml", &SHARP.replace("sharpness_every = 5\nsharpness_steps = 10\n", ""));
    run_sweep(&cfg_plain, &plain, &["--quiet"]);
    heavyball().arg("report").arg(plain.join("s")).assert().success();
    assert!(!plain.join("s/report/sharpness-M3.svg").exists(), "a sharpness plot without sharpness");
    let strip = |text: &str| -> String {
        text.lines().map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n").collect()
    };
    for run in &runs {
        let name = run.file_name().unwrap().to_str().unwrap();
        let readable = &name[..name.len() - 9];
        let twin = std::fs::read_dir(plain.join("s/runs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(&format!("{readable}-")))
            .unwrap();
        assert_ne!(twin.file_name(), run.file_name(), "the sharpness settings are part of the key");
        assert_eq!(
            std::fs::read(twin.join("final.npz")).unwrap(),
            std::fs::read(run.join("final.npz")).unwrap()
        );
        let with = strip(&std::fs::read_to_string(run.join("curve.csv")).unwrap());
        assert_eq!(with, std::fs::read_to_string(twin.join("curve.csv")).unwrap());
    }

    // The report draws each M's best runs' sharpness against their thresholds.
    heavyball().arg("report").arg(one.join("s")).assert().success();
    let md = std::fs::read_to_string(one.join("s/report/report.md")).unwrap();
    for m in [3, 6] {
        assert!(md.contains(&format!("### Sharpness, M = {m}: ")), "{md}");
        let svg = std::fs::read_to_string(one.join(format!("s/report/sharpness-M{m}.svg"))).unwrap();
        assert!(svg.contains("threshold 2(2−α)/(αγ)"), "sharpness-M{m}.svg");
        assert!(one.join(format!("s/report/sharpness-M{m}.png")).exists());
        // λ₀ from the curves' row 0 alone gives the stability table and the heatmap's boundary.
        let heatmap = std::fs::read_to_string(one.join(format!("s/report/heatmap-M{m}.svg"))).unwrap();
        assert!(heatmap.contains(r##"stroke="#FFFFFF" stroke-width="3""##), "heatmap-M{m}.svg");
    }
    assert!(md.contains("λ₀ from the curves' sharpness column at iteration 0"), "{md}");
}
