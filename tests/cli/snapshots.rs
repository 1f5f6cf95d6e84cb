//! What a reader sees, pinned exactly: the CSV headers, `plan`'s output, `--help` of every
//! command and a report of a fixed results folder. After an intended change, review the new
//! snapshots with `cargo insta review` and commit them.

use std::path::Path;

use crate::common::{HandMade, Sweep, heavyball};

/// The first line of a file.
fn header(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap().lines().next().unwrap().to_string()
}

/// A small sweep on iris with a test set. The tests train one shard of two: finished runs, runs
/// never started, and every file a sweep writes.
const IRIS: &str = r#"
name = "iris"
[data]
builtin = "iris"
test_fraction = 0.2
[train]
iterations = 5
[grid]
hidden = [4, 8]
gamma = [0.01]
alpha = [1.0, 0.5]
"#;

#[test]
fn csv_headers() {
    let iris = Sweep::new(IRIS);
    iris.run(&["--shard", "0/2", "--quiet"]);
    let sweep = iris.folder();
    insta::assert_snapshot!(header(&sweep.join("summary.csv")), @"run,hidden,gamma,alpha,seed,status,iterations,final_train_loss,best_train_loss,final_train_accuracy,final_test_loss,best_test_loss,final_test_accuracy,wall_seconds,key");
    insta::assert_snapshot!(header(&sweep.join("curves.csv")), @"run,hidden,gamma,alpha,seed,iteration,train_loss,train_accuracy,test_loss,test_accuracy");
    let run = iris.run_dir("M8-g0.01-a1-s0-");
    insta::assert_snapshot!(header(&run.join("curve.csv")), @"iteration,train_loss,train_accuracy,test_loss,test_accuracy");
    heavyball().arg("report").arg(&sweep).assert().success();
    insta::assert_snapshot!(header(&sweep.join("report/comparison.csv")), @"view,criterion,aggregate,hidden,method,gamma,alpha,seeds_used,seeds,diverged,score,score_lowest,score_highest,final_train_loss_mean,final_train_loss_sd,final_test_loss_mean,final_test_loss_sd,final_test_accuracy_mean,final_test_accuracy_sd,target_loss,iterations_to_target_median,seeds_reaching_target,gamma_bracketed,gamma_verdict,fragile,pairs,momentum_wins,momentum_losses,ratio_median,ratio_ci_low,ratio_ci_high,ratio_ci_coverage,signed_rank_p,sign_test_p,speedup_median,speedup_ci_low,speedup_ci_high,speedup_censored");
    insta::assert_snapshot!(header(&sweep.join("report/paired.csv")), @"hidden,gamma,alpha,pairs,win_rate,median_final_loss_ratio,median_speedup");
}

#[test]
fn plan_output() {
    let iris = Sweep::new(IRIS);
    iris.run(&["--shard", "0/2", "--quiet"]);
    let text = iris.plan(&["--shards", "2"]).replace(&iris.results.display().to_string(), "[DIR]");
    insta::assert_snapshot!("plan", text);
}

#[test]
fn help_of_every_command() {
    for command in [&[][..], &["run"], &["plan"], &["report"], &["slurm"], &["hessian"]] {
        let out = heavyball().args(command).arg("--help").output().unwrap();
        assert!(out.status.success());
        let name = if command.is_empty() { "help".to_string() } else { format!("help-{}", command[0]) };
        insta::assert_snapshot!(name, String::from_utf8(out.stdout).unwrap());
    }
}

#[test]
fn report_of_a_fixed_results_folder() {
    let dir = tempfile::tempdir().unwrap();
    let hand = HandMade::known(dir.path());
    let root = hand.root();
    let out = heavyball().arg("report").arg(root).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let terminal = String::from_utf8(out.stdout).unwrap().replace(&root.display().to_string(), "[DIR]");
    insta::assert_snapshot!("report-terminal", terminal);
    insta::assert_snapshot!("report-md", std::fs::read_to_string(root.join("report/report.md")).unwrap());
    for stem in ["curves-M4", "sensitivity-M4", "heatmap-M4"] {
        let svg = std::fs::read_to_string(root.join(format!("report/{stem}.svg"))).unwrap();
        insta::assert_snapshot!(format!("svg-{stem}"), svg_outline(&svg));
    }
}

/// An SVG's structure, for snapshots: how many of each element it draws, and every text it
/// writes (titles, legends, tick labels) in order.
fn svg_outline(svg: &str) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut texts = Vec::new();
    for piece in svg.split('<').skip(1) {
        let tag = piece.split(|c: char| c.is_whitespace() || c == '>' || c == '/').next().unwrap_or("");
        if tag.is_empty() {
            continue;
        }
        *counts.entry(tag).or_default() += 1;
        if tag == "text" {
            texts.push(piece.split_once('>').map_or("", |(_, t)| t).trim().to_string());
        }
    }
    let mut out: Vec<String> = counts.iter().map(|(tag, n)| format!("{tag}: {n}")).collect();
    out.push("texts:".into());
    out.extend(texts.into_iter().map(|t| format!("  {t}")));
    out.join("\n")
}
