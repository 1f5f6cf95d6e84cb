//! `heavyball report` on small hand-made results folders whose answers are known.

use std::path::Path;

use crate::common::{HandMade, Sweep, heavyball, write};

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn comparison_and_paired_numbers_are_the_known_answers() {
    let dir = tempfile::tempdir().unwrap();
    let hand = HandMade::known(dir.path());
    let root = hand.root();

    let out = heavyball().arg("report").arg(root).args(["--target", "0.65"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("| 4 | plain GD | 0.2 (not bracketed) | 1 | 2 | 0.5 [0.4, 0.6] | 0.5 ± 0.1414"),
        "{stdout}"
    );
    // Two seeds chose the bests and the same two are all the statistics have: said so.
    assert!(stdout.contains("in-sample"), "{stdout}");
    assert!(stdout.contains("post-selection"), "{stdout}");
    // Each best γ sits at an edge of the two tried, and the report says so.
    assert!(
        stdout.contains("Not bracketed: plain GD at M = 4: best γ = 0.2 is the largest tried"),
        "{stdout}"
    );
    assert!(stdout.contains("momentum α = 0.5 at M = 4: best γ = 0.1 is the smallest tried"), "{stdout}");

    let rows = csv_rows(&root.join("report/comparison.csv"));
    assert_eq!(
        rows[0][..10],
        [
            "view",
            "criterion",
            "aggregate",
            "hidden",
            "method",
            "gamma",
            "alpha",
            "seeds_used",
            "seeds",
            "diverged"
        ]
    );
    // No test set: the optimisation view alone.
    assert_eq!(rows.len(), 3, "{rows:?}");
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    let gd = &rows[1];
    assert_eq!(
        gd[..10],
        ["optimisation", "late_train_loss", "median", "4", "gd", "0.2", "1", "selection", "2", "0"]
    );
    assert_eq!(gd[col("final_train_loss_mean")], "0.5");
    assert_eq!(gd[col("fragile")], "false");
    // Iterations to 0.65: seed 0 at 3, seed 1 at 4 → median 3.5; momentum: seed 0 at 1, seed 1
    // at 2.
    assert_eq!(gd[col("iterations_to_target_median")], "3.5");
    assert_eq!(gd[col("seeds_reaching_target")], "2");
    assert_eq!(gd[col("pairs")], "", "the paired statistics sit on momentum's row");
    let mo = &rows[2];
    assert_eq!(
        mo[..10],
        ["optimisation", "late_train_loss", "median", "4", "momentum", "0.1", "0.5", "selection", "2", "0"]
    );
    assert_eq!(mo[col("final_train_loss_mean")], "0.2");
    assert_eq!(mo[col("iterations_to_target_median")], "1.5");
    // Seed by seed (T = 4, so the late loss is the last row's): 0.1/0.4 and 0.3/0.6 → ratios
    // 0.25 and 0.5, median 0.375, and with two seeds no 95% interval; both seeds favour
    // momentum → p = 2/2² = 0.5 in both tests. Speed-ups 3/1 and 4/2 → median 2.5.
    let at = |name: &str| mo[col(name)].as_str();
    assert_eq!([at("pairs"), at("momentum_wins"), at("momentum_losses")], ["2", "2", "0"]);
    assert_eq!([at("ratio_median"), at("ratio_ci_low"), at("ratio_ci_high")], ["0.375", "", ""]);
    assert_eq!([at("signed_rank_p"), at("sign_test_p")], ["0.5", "0.5"]);
    assert_eq!([at("speedup_median"), at("speedup_ci_low"), at("speedup_ci_high")], ["2.5", "", ""]);
    assert_eq!(at("speedup_censored"), "0");
    let md = std::fs::read_to_string(root.join("report/report.md")).unwrap();
    assert!(md.contains("| 4 | optimisation | late train loss | selection (in-sample) | 2 | 2 of 2 | 0.375 (2 seeds: no 95% interval) | 0.500 | 0.500 | 2.5× (2 seeds: no 95% interval) |"), "{md}");
    assert!(md.contains("**Post-selection**"), "{md}");
    assert!(md.contains("**Too few seeds for a test to mean anything**: with 2 pair(s)"), "{md}");
    assert!(md.contains("Not computed: this sweep has no test set"), "{md}");
    assert!(!md.contains("| 4 | generalisation |"), "a generalisation view without a test set: {md}");

    let paired = csv_rows(&root.join("report/paired.csv"));
    assert_eq!(
        paired[0],
        ["hidden", "gamma", "alpha", "pairs", "win_rate", "median_final_loss_ratio", "median_speedup"]
    );
    // γ = 0.1: momentum wins both seeds; loss ratios 0.1/0.9 and 0.3/1.0, median 0.2055…
    assert_eq!(paired[1][..5], ["4", "0.1", "0.5", "2", "1"]);
    let ratio: f64 = paired[1][5].parse().unwrap();
    assert!((ratio - (0.1 / 0.9 + 0.3 / 1.0) / 2.0).abs() < 1e-12, "{ratio}");
    // GD never reaches 0.65 at γ = 0.1 (censored), momentum does: the speed-up is +∞.
    assert_eq!(paired[1][6], "inf");
    // γ = 0.2: seed 0 momentum diverged (a loss), seed 1 wins; only seed 1 pairs for the ratio.
    assert_eq!(paired[2][..5], ["4", "0.2", "0.5", "2", "0.5"]);
    let ratio: f64 = paired[2][5].parse().unwrap();
    assert!((ratio - 0.2 / 0.6).abs() < 1e-12, "{ratio}");

    for stem in ["curves-M4", "heatmap-M4", "sensitivity-M4"] {
        let svg = std::fs::read_to_string(root.join(format!("report/{stem}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{stem}");
        assert!(svg.matches('<').count() == svg.matches('>').count());
        let png = std::fs::read(root.join(format!("report/{stem}.png"))).unwrap();
        assert!(png.len() > 1000 && png.starts_with(b"\x89PNG"), "{stem}");
    }
    let heatmap = std::fs::read_to_string(root.join("report/heatmap-M4.svg")).unwrap();
    assert!(heatmap.contains("diverged"));
    let md = std::fs::read_to_string(root.join("report/report.md")).unwrap();
    assert!(md.contains("![") && md.contains("curves-M4.svg") && md.contains("## Every γ, seed by seed"));
}

#[test]
fn partial_one_sided_and_all_diverged_sweeps_are_reported_not_crashed() {
    let dir = tempfile::tempdir().unwrap();
    // Only GD in the grid, one run missing.
    let hand = HandMade::new(dir.path(), "hand", &[0.1, 0.2], &[1.0]);
    hand.run(0.1, 1.0, 0, &[2.0, 1.5, 1.2, 1.0, 0.9]);
    hand.run(0.1, 1.0, 1, &[2.0, 1.6, 1.3, 1.1, 1.0]);
    hand.run(0.2, 1.0, 0, &[2.0, 1.0, 0.8, 0.5, 0.4]);
    let out = heavyball().arg("report").arg(hand.root()).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("3 of 4 runs are finished; missing M4-g0.2-a1-s1"), "{stdout}");
    assert!(stdout.contains("no momentum to compare with"), "{stdout}");

    // Every run diverged.
    let dir = tempfile::tempdir().unwrap();
    let hand = HandMade::new(dir.path(), "hand", &[0.1, 0.2], &[1.0, 0.5]);
    for (g, a, s) in [
        (0.1, 1.0, 0),
        (0.1, 1.0, 1),
        (0.2, 1.0, 0),
        (0.2, 1.0, 1),
        (0.1, 0.5, 0),
        (0.1, 0.5, 1),
        (0.2, 0.5, 0),
        (0.2, 0.5, 1),
    ] {
        hand.run(g, a, s, &[2.0, f64::INFINITY]);
    }
    let out = heavyball().arg("report").arg(hand.root()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("8 of 8 finished runs diverged") && stdout.contains("every setting diverged"),
        "{stdout}"
    );

    // Nothing finished at all: a clear error.
    let dir = tempfile::tempdir().unwrap();
    let hand = HandMade::new(dir.path(), "hand", &[0.1, 0.2], &[1.0]);
    let out = heavyball().arg("report").arg(hand.root()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no finished runs yet"));
    let out = heavyball().arg("report").arg(dir.path().join("nope")).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the results folder of a sweep that has run?"), "{stderr}");
}

#[test]
fn a_real_sweep_reports_through_its_config_path() {
    let sweep = Sweep::new(
        r#"
[data]
builtin = "iris"
test_fraction = 0.2
[train]
iterations = 20
[grid]
hidden = [4]
gamma = [0.01, 0.03]
alpha = [1.0, 0.3]
seed = [0, 1]
"#,
    );
    sweep.run(&[]);
    let stdout = sweep.report(&[]);
    let report = sweep.folder().join("report");
    for f in ["comparison.csv", "paired.csv", "report.md", "accuracy-M4.svg", "accuracy-M4.png"] {
        assert!(report.join(f).is_file(), "{f}");
    }
    // With a test set, both views: each method's best by training loss and by test loss.
    let rows = csv_rows(&report.join("comparison.csv"));
    let views: Vec<(&str, &str, &str)> =
        rows[1..].iter().map(|r| (r[0].as_str(), r[1].as_str(), r[4].as_str())).collect();
    assert_eq!(
        views,
        [
            ("optimisation", "late_train_loss", "gd"),
            ("optimisation", "late_train_loss", "momentum"),
            ("generalisation", "test_loss", "gd"),
            ("generalisation", "test_loss", "momentum"),
        ]
    );
    // The generalisation view has no target, so no hitting times: empty, not ∞ and 0.
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    for row in &rows[3..] {
        let cells = ["target_loss", "iterations_to_target_median", "seeds_reaching_target"]
            .map(|c| row[col(c)].as_str());
        assert_eq!(cells, ["", "", ""], "{row:?}");
    }
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    for section in
        ["## Best settings: optimisation", "## Best settings: generalisation", "## Is the difference real?"]
    {
        assert!(md.contains(section), "{section}: {md}");
    }
    assert!(stdout.contains("Generalisation: each method at its lowest final test loss"), "{stdout}");
    assert!(
        stdout.contains(
            "M = 4, generalisation, on the selection seeds (in-sample): momentum / GD final test loss"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("sign-test p = "), "both p-values wherever one is shown: {stdout}");
}

#[test]
fn the_default_target_is_the_lowest_loss_both_tuned_methods_reach_with_every_seed() {
    let dir = tempfile::tempdir().unwrap();
    // Tuned GD is γ = 0.2 (its seeds' lowest losses 0.4 and 0.6), tuned momentum γ = 0.1 (0.1 and
    // 0.3): the target is 0.6. GD reaches it at iterations 3 and 4, momentum at 1 and 2.
    let hand = HandMade::known(dir.path());
    let root = hand.root();

    let out = heavyball().arg("report").arg(root).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Target training loss: M = 4: 0.6."), "{stdout}");
    // The speed-up is one number defined once: GD's iterations over momentum's seed by seed (3/1
    // and 4/2), their median.
    assert!(stdout.contains("| 3.5 |  |"), "{stdout}");
    assert!(stdout.contains("| 1.5 | 2.5× (2 seeds: no 95% interval) |"), "{stdout}");
    let rows = csv_rows(&root.join("report/comparison.csv"));
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    assert_eq!(rows[1][col("target_loss")], "0.6");
    assert_eq!(rows[2][col("iterations_to_target_median")], "1.5");
    assert_eq!(rows[2][col("speedup_median")], "2.5");
    assert_eq!(rows[1][col("gamma_bracketed")], "false");
    assert_eq!(rows[2][col("gamma_verdict")], "best γ = 0.1 is the smallest tried");
}

/// A run folder of an earlier config whose readable name matches a grid point never enters a
/// report: runs are matched by key. Here the divergence factor changed, which changes every
/// key but no name; only one run of the new config is trained (shard 0 of 4), so the other
/// three grid points have only the old config's folders.
#[test]
fn stale_runs_whose_names_match_stay_out_of_the_report() {
    let new = Sweep::new(
        r#"
name = "stale"
[data]
builtin = "digits"
[train]
iterations = 30
[grid]
hidden = [8]
gamma = [1e-3, 0.5]
alpha = [1.0, 0.5]
"#,
    );
    let old = new.with(&[("train.divergence_factor", "1.01")]);
    old.run(&[]);
    new.run(&["--shard", "0/4"]);
    let out = heavyball().arg("report").arg(new.folder()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("1 of 4 runs are finished"), "{stdout}");
}

#[test]
fn a_report_through_a_config_the_sweep_was_not_run_with_says_so() {
    let sweep = Sweep::new(
        r#"
name = "told"
[data]
builtin = "iris"
[train]
iterations = 10
[grid]
hidden = [3]
gamma = [0.1]
alpha = [1.0, 0.5]
"#,
    );
    sweep.run(&["--quiet"]);
    assert!(!sweep.report(&[]).contains("differs from the config"));
    let raised = sweep.with(&[("train.iterations", "20"), ("confirm.seeds", "2")]);
    let text = raised.report(&[]);
    assert!(
        text.starts_with("note: ")
            && text.contains("differs from the config sweep told was run with (iterations, [confirm])")
            && text.contains("bring them up to it"),
        "{text}"
    );
    // A setting of the run key, and iterations lowered, which run would refuse.
    let text = sweep.with(&[("train.iterations", "5"), ("train.chunk_size", "7")]).report(&[]);
    assert!(text.contains("(iterations, [train])") && text.contains("refuses to lower iterations"), "{text}");
}

#[test]
fn truncated_or_empty_curves_are_named_as_damaged_not_reported() {
    let dir = tempfile::tempdir().unwrap();
    let hand = HandMade::known(dir.path());
    let root = hand.root();
    // γ = 0.2, α = 0.5, seed 1 loses its last rows: its final loss must not be read from row 2.
    // γ = 0.1, α = 0.5, seed 1 keeps only its header: it must not be read as diverged.
    let cut = |gamma: &str, seed: u64, rows: usize| {
        let found: Vec<_> = std::fs::read_dir(root.join("runs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name().unwrap().to_string_lossy().starts_with(&format!("M4-g{gamma}-a0.5-s{seed}-"))
            })
            .collect();
        let curve = found[0].join("curve.csv");
        let text = std::fs::read_to_string(&curve).unwrap();
        let kept: Vec<&str> = text.lines().take(1 + rows).collect();
        std::fs::write(&curve, kept.join("\n") + "\n").unwrap();
    };
    cut("0.2", 1, 3);
    cut("0.1", 1, 0);
    let out = heavyball().arg("report").arg(root).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Damaged: 2 finished runs are left out"), "{stdout}");
    assert!(
        stdout.contains("M4-g0.2-a0.5-s1-")
            && stdout.contains("has 3 rows where run.toml gives 4 iterations"),
        "{stdout}"
    );
    assert!(stdout.contains("has 0 rows where run.toml gives 4 iterations"), "{stdout}");
    assert!(stdout.contains("1 of 6 finished runs diverged"), "{stdout}");
    let markdown = std::fs::read_to_string(root.join("report/report.md")).unwrap();
    assert!(markdown.contains("Damaged: 2 finished runs"), "{markdown}");
}

#[test]
fn extreme_curve_values_are_plotted_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let hand = HandMade::known(dir.path());
    let root = hand.root();
    // Losses near the largest f64 and subnormal ones, in one GD and one momentum run.
    hand.run(0.1, 1.0, 0, &[2.0, 1.7e308, 1e300, 1.0, 0.9]);
    hand.run(0.1, 0.5, 0, &[2.0, 1e-310, 5e-324, 0.1, 0.1]);
    let out =
        heavyball().arg("report").arg(root).timeout(std::time::Duration::from_secs(60)).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(root.join("report/curves-M4.png").exists());
}

#[test]
fn the_report_never_writes_through_a_planted_temporary_name() {
    // Plots were once drawn to fixed temporary names such as report/.tmp-curves-M4.png.
    let dir = tempfile::tempdir().unwrap();
    let hand = HandMade::known(dir.path());
    let root = hand.root();
    let victim = write(dir.path(), "victim.txt", "precious\n");
    std::fs::create_dir_all(root.join("report")).unwrap();
    for stem in ["curves-M4", "heatmap-M4", "sensitivity-M4"] {
        std::os::unix::fs::symlink(&victim, root.join(format!("report/.tmp-{stem}.png"))).unwrap();
    }
    let out = heavyball().arg("report").arg(root).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(root.join("report/curves-M4.png").is_file());
}

#[test]
fn a_file_where_the_report_folder_goes_is_left_in_sight_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let hand = HandMade::known(dir.path());
    let root = hand.root();
    std::fs::write(root.join("report"), "notes of mine\n").unwrap();
    let out = heavyball().arg("report").arg(root).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("report is a file, not a folder"), "{stderr}");
    assert_eq!(std::fs::read_to_string(root.join("report")).unwrap(), "notes of mine\n");
    let hidden: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n.contains("report"))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

/// Every file under `dir` by relative path, with its bytes.
fn snapshot_folder(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.insert(path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap());
    }
    out
}

#[test]
fn a_report_killed_at_any_write_leaves_the_previous_report_whole() {
    let dir = tempfile::tempdir().unwrap();
    let hand = HandMade::known(dir.path());
    let root = hand.root();
    heavyball().arg("report").arg(root).assert().success();
    let old = snapshot_folder(&root.join("report"));
    // A different target changes the tables: the new report differs from the old.
    let args = ["--target", "0.65"];
    let mut states = Vec::new();
    for n in 1.. {
        let out = heavyball()
            .arg("report")
            .arg(root)
            .args(args)
            .env(heavyball::store::atomic::CRASH_AFTER_RENAMES, n.to_string())
            .output()
            .unwrap();
        if out.status.success() {
            break;
        }
        states.push((n, snapshot_folder(&root.join("report"))));
    }
    assert!(states.len() >= 9, "the report should write many files: {}", states.len());
    let new = snapshot_folder(&root.join("report"));
    assert_eq!(new.keys().collect::<Vec<_>>(), old.keys().collect::<Vec<_>>());
    assert!(new["comparison.csv"] != old["comparison.csv"]);
    // After every crash, report/ is the old report or the new one, whole: never a mix.
    for (n, state) in &states {
        assert!(*state == old || *state == new, "after a crash at rename {n}: a mix of two reports");
    }
    assert!(states.first().is_some_and(|(_, s)| *s == old));
}

#[test]
fn staging_folders_a_crash_left_are_removed_once_an_hour_old() {
    let dir = tempfile::tempdir().unwrap();
    let hand = HandMade::known(dir.path());
    let root = hand.root();
    let (stale, fresh) = (root.join(".report-stale1"), root.join(".report-fresh1"));
    for folder in [&stale, &fresh] {
        std::fs::create_dir_all(folder).unwrap();
        write(folder, "report.md", "half\n");
    }
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::open(&stale).unwrap().set_modified(two_hours_ago).unwrap();
    heavyball().arg("report").arg(root).assert().success();
    assert!(!stale.exists(), "a staging folder two hours old is left behind");
    assert!(fresh.exists(), "a staging folder in use (fresh) must stay");
    // No staging folder of this report's own is left.
    let left: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".report-") && n != ".report-fresh1")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
