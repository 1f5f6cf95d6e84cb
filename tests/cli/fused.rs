//! Fused runs: a sweep whose runs train in fused groups gives every run's files byte-identical
//! to the same sweep trained one run at a time, in f32 and f64, with runs diverging at different
//! iterations, at any thread count, and across crashes and kills that make groups resume with
//! other members than they started with.

use std::path::Path;

use heavyball::sweep::GROUP_SIZE_VAR;

use crate::common::{assert_same, comparable, crash_until_done, heavyball, write};

const SWEEP: &str = r#"
name = "f"
[data]
test_fraction = 0.25
[data.synthetic]
samples = 400
features = 6
classes = 4
seed = 3
noise = 0.5
[train]
iterations = 40
chunk_size = 128
checkpoint_every = 6
precision = "PRECISION"
divergence_factor = 3.0
[grid]
hidden = [3, 4, 8, 40]
gamma = [1e-3, 0.02, 0.5, 4.0]
alpha = [1.0, 0.4]
seed = [0, 1]
"#;

/// Runs the sweep with `threads` threads and at most `group` runs per fused group (unset: the
/// default), and returns the files that must not depend on either.
fn sweep(config: &Path, results: &Path, threads: &str, group: Option<&str>) -> Vec<(String, Vec<u8>)> {
    let mut cmd = heavyball();
    cmd.args(["run", "--quiet", "--threads", threads]).arg(config).arg("--results").arg(results);
    match group {
        Some(n) => cmd.env(GROUP_SIZE_VAR, n),
        None => cmd.env_remove(GROUP_SIZE_VAR),
    };
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    comparable(&results.join("f"))
}

#[test]
fn fused_runs_write_the_files_of_runs_trained_alone() {
    let dir = tempfile::tempdir().unwrap();
    for precision in ["f32", "f64"] {
        let config = write(dir.path(), &format!("{precision}.toml"), &SWEEP.replace("PRECISION", precision));
        let alone = sweep(&config, &dir.path().join(format!("alone-{precision}")), "1", Some("1"));
        // Some runs diverge and leave their group early; the rest finish.
        let curves = alone.iter().filter(|(name, _)| name.ends_with("curve.csv")).count();
        let lengths: std::collections::BTreeSet<usize> = alone
            .iter()
            .filter(|(name, _)| name.ends_with("curve.csv"))
            .map(|(_, text)| text.iter().filter(|&&b| b == b'\n').count())
            .collect();
        assert_eq!(curves, 64);
        assert!(lengths.len() >= 3, "{precision}: runs should end at several iterations: {lengths:?}");
        for (threads, group) in [("1", None), ("3", None), ("2", Some("3"))] {
            let results = dir.path().join(format!("fused-{precision}-{threads}-{group:?}"));
            assert_same(&sweep(&config, &results, threads, group), &alone);
        }
    }
}

#[test]
fn fused_runs_crashed_at_any_write_resume_to_the_files_of_runs_trained_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "f.toml", &SWEEP.replace("PRECISION", "f32"));
    let alone = sweep(&config, &dir.path().join("alone"), "2", Some("1"));
    // Every crash ends a process mid-group; the next one regroups what is left (finished runs
    // drop out), so groups resume with other members, from their own checkpoints.
    let results = dir.path().join("crashed");
    let (crashes, stderr) = crash_until_done(&config, &results, 40, 0xf05e);
    assert!(crashes >= 10, "only {crashes} crashes");
    assert!(!stderr.contains("restarting"), "{stderr}");
    assert_same(&sweep(&config, &results, "2", None), &alone);
}

#[test]
fn a_bad_group_size_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(dir.path(), "f.toml", &SWEEP.replace("PRECISION", "f32"));
    for bad in ["0", "17", "many"] {
        let out = heavyball()
            .arg("run")
            .arg(&config)
            .arg("--results")
            .arg(dir.path().join("r"))
            .env(GROUP_SIZE_VAR, bad)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr
                .contains(&format!("HEAVYBALL_GROUP_SIZE must be a whole number from 1 to 16 (got '{bad}')")),
            "{stderr}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}
