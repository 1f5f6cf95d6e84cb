//! `heavyball hessian`: λ_max and λ_min at every finished run's ends, into hessian.csv;
//! the same bytes at any thread count, resumable run by run, and plain about bad input.

use std::path::Path;

use crate::common::{Sweep, assert_same, heavyball, stdout_of, tree};

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

#[test]
fn every_finished_run_gets_its_extremes_the_same_at_any_thread_count() {
    let h = Sweep::new(SWEEP);
    h.run(&["--quiet"]);
    let sweep = h.folder();
    let line = stdout_of(heavyball().arg("hessian").arg(&sweep).args(["--threads", "1"]));
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
    let again = h.dir().join("again");
    for (name, bytes) in tree(&sweep) {
        let to = again.join(&name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        if !Path::new(&name).ends_with("hessian.toml") && name != "hessian.csv" {
            std::fs::write(to, bytes).unwrap();
        }
    }
    let line = stdout_of(heavyball().arg("hessian").arg(&again).args(["--threads", "4"]));
    assert!(line.contains(" computed, 0 kept"), "{line}");
    assert_eq!(std::fs::read(again.join("hessian.csv")).unwrap(), csv.as_bytes());
    h.hessian(&["--threads", "2"]);
    assert_eq!(std::fs::read(sweep.join("hessian.csv")).unwrap(), csv.as_bytes());

    // The report sets theory beside the experiment: one row per (M, α).
    let out = stdout_of(heavyball().arg("report").arg(&sweep));
    assert!(out.contains("stability: "));
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
        for (name, _) in tree(&again) {
            if Path::new(&name).ends_with("hessian.toml") {
                std::fs::remove_file(again.join(name)).unwrap();
            }
        }
        heavyball().arg("report").arg(&again).assert().success();
        std::fs::read_to_string(again.join("report/report.md")).unwrap()
    };
    assert!(!again_md.contains("Stability") && !again_md.contains("Hessian"), "{again_md}");
    let heatmap = std::fs::read_to_string(again.join("report/heatmap-M3.svg")).unwrap();
    assert!(!heatmap.contains(r##"stroke="#FFFFFF" stroke-width="3""##), "a boundary without values");
}

#[test]
fn a_rerun_computes_only_what_is_missing_or_changed_and_names_a_damaged_run() {
    let h = Sweep::new(SWEEP);
    h.run(&["--quiet"]);
    let sweep = h.folder();
    stdout_of(heavyball().arg("hessian").arg(&sweep));
    let csv = std::fs::read(sweep.join("hessian.csv")).unwrap();
    let runs: Vec<_> = std::fs::read_dir(sweep.join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
    // One run's values lost (as a kill before its file landed would), one run's damaged.
    std::fs::remove_file(runs[0].join("hessian.toml")).unwrap();
    std::fs::write(runs[1].join("hessian.toml"), "lambda_max = ").unwrap();
    let line = stdout_of(heavyball().arg("hessian").arg(&sweep));
    assert!(line.contains("(2 computed, 14 kept from before)"), "{line}");
    assert_eq!(std::fs::read(sweep.join("hessian.csv")).unwrap(), csv);
    // A run whose parameters cannot be read is named and left out; the others are written.
    std::fs::remove_file(runs[2].join("hessian.toml")).unwrap();
    std::fs::write(runs[2].join("init.npz"), b"not a zip").unwrap();
    let out = heavyball().arg("hessian").arg(&sweep).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let name = runs[2].file_name().unwrap().to_str().unwrap();
    assert!(err.starts_with(&format!("warning: {name} left out: ")) && err.contains("init.npz"), "{err}");
    let text = String::from_utf8(std::fs::read(sweep.join("hessian.csv")).unwrap()).unwrap();
    assert!(!text.contains(name) && text.lines().count() > 20, "{text}");
}

#[test]
fn a_folder_without_a_sweep_or_without_finished_runs_is_an_error() {
    let empty = tempfile::tempdir().unwrap();
    let out = heavyball().arg("hessian").arg(empty.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sweep.toml") && err.contains("the results folder of a sweep"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // No γ that diverges: a fused group would finish such a run within milliseconds.
    let long = Sweep::new(SWEEP).with(&[("train.iterations", "2000000"), ("grid.gamma", "[0.3, 0.03]")]);
    // Stopped at once: sweep.toml is written, no run finished.
    let mut child = long.spawn_with(&["--quiet"]);
    // Both of the sweep's own files, whichever is written last, before the kill.
    let (meta, config) = (long.folder().join("sweep.toml"), long.folder().join("config.toml"));
    let started = std::time::Instant::now();
    while !(meta.exists() && config.exists()) {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before writing its files");
        assert!(started.elapsed() < std::time::Duration::from_secs(120), "the run never wrote its files");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let out = heavyball().arg("hessian").arg(long.folder()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no finished runs"), "{err}");
    assert!(!long.folder().join("hessian.csv").exists());
    let out = heavyball().arg("hessian").arg(long.folder()).args(["--steps", "1"]).output().unwrap();
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
    let sharp = Sweep::new(SHARP);
    let one = sharp.results_in("one");
    one.run(&["--threads", "1", "--quiet"]);
    let runs: Vec<_> =
        std::fs::read_dir(one.folder().join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
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
    let curves = std::fs::read_to_string(one.folder().join("curves.csv")).unwrap();
    assert!(curves.starts_with(
        "run,hidden,gamma,alpha,seed,iteration,train_loss,train_accuracy,test_loss,test_accuracy,sharpness\n"
    ));

    let four = sharp.results_in("four");
    four.run(&["--threads", "4", "--quiet"]);
    assert_same(&four.comparable(), &one.comparable());

    // Crashed after every few files, then resumed: the same bytes.
    let crashed = sharp.results_in("crashed");
    let (crashes, _) = crashed.crash_until_done(13, 0x5a);
    assert!(crashes >= 5, "only {crashes} crashes");
    assert_same(&crashed.comparable(), &one.comparable());

    // Without the sharpness the same runs have other keys, and their curves are the same but
    // for the column.
    let plain = sharp.results_in("plain").without(&["train.sharpness_every", "train.sharpness_steps"]);
    plain.run(&["--quiet"]);
    heavyball().arg("report").arg(plain.folder()).assert().success();
    assert!(!plain.folder().join("report/sharpness-M3.svg").exists(), "a sharpness plot without sharpness");
    let strip = |text: &str| -> String {
        text.lines().map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n").collect()
    };
    for run in &runs {
        let name = run.file_name().unwrap().to_str().unwrap();
        let readable = &name[..name.len() - 9];
        let twin = std::fs::read_dir(plain.folder().join("runs"))
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
    heavyball().arg("report").arg(one.folder()).assert().success();
    let md = std::fs::read_to_string(one.folder().join("report/report.md")).unwrap();
    for m in [3, 6] {
        assert!(md.contains(&format!("### Sharpness, M = {m}: ")), "{md}");
        let svg = std::fs::read_to_string(one.folder().join(format!("report/sharpness-M{m}.svg"))).unwrap();
        assert!(svg.contains("threshold 2(2−α)/(αγ)"), "sharpness-M{m}.svg");
        assert!(one.folder().join(format!("report/sharpness-M{m}.png")).exists());
        // λ₀ from the curves' row 0 alone gives the stability table and the heatmap's boundary.
        let heatmap = std::fs::read_to_string(one.folder().join(format!("report/heatmap-M{m}.svg"))).unwrap();
        assert!(heatmap.contains(r##"stroke="#FFFFFF" stroke-width="3""##), "heatmap-M{m}.svg");
    }
    assert!(md.contains("λ₀ from the curves' sharpness column at iteration 0"), "{md}");
}

/// Writes an unsigned-byte IDX file: the magic for `dims.len()` dimensions, the sizes, the bytes.
fn idx_file(path: &Path, dims: &[u32], bytes: &[u8]) {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(bytes);
    std::fs::write(path, out).unwrap();
}

#[test]
fn the_folder_form_finds_relative_data_from_any_working_folder() {
    // A project folder with its config in cfg/ naming its data relative to itself, run from
    // the project folder; `hessian DIR` is then run from elsewhere.
    let top = tempfile::tempdir().unwrap();
    let project = top.path().join("project");
    let data = project.join("cfg/d");
    std::fs::create_dir_all(&data).unwrap();
    crate::common::iris_csv(&data);
    let pixels = |n: usize| (0..n * 4).map(|i| (i * 37 % 251) as u8).collect::<Vec<u8>>();
    idx_file(&data.join("train-images-idx3-ubyte"), &[20, 2, 2], &pixels(20));
    idx_file(
        &data.join("train-labels-idx1-ubyte"),
        &[20],
        &(0..20).map(|i| (i % 2) as u8).collect::<Vec<_>>(),
    );
    idx_file(&data.join("t10k-images-idx3-ubyte"), &[6, 2, 2], &pixels(6));
    idx_file(&data.join("t10k-labels-idx1-ubyte"), &[6], &[0, 1, 0, 1, 0, 1]);
    for (name, source) in [("c", "csv = \"d/iris.csv\""), ("i", "idx = \"d\"")] {
        let config = format!(
            "name = \"{name}\"\n[data]\n{source}\n[train]\niterations = 5\n[grid]\nhidden = [3]\ngamma = [0.01]\nalpha = [1.0]\n"
        );
        std::fs::write(project.join(format!("cfg/{name}.toml")), config).unwrap();
        let cfg = format!("cfg/{name}.toml");
        stdout_of(heavyball().current_dir(&project).args(["run", &cfg, "--results", "r", "--quiet"]));
        let line =
            stdout_of(heavyball().current_dir(top.path()).arg("hessian").arg(format!("project/r/{name}")));
        assert!(line.contains("1 computed"), "{name}: {line}");
        // The config form from the project folder agrees: the values are kept.
        let line = stdout_of(heavyball().current_dir(&project).args(["hessian", &cfg, "--results", "r"]));
        assert!(line.contains("1 kept from before"), "{name}: {line}");
    }
}
