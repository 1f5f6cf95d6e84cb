//! Fused runs: a sweep whose runs train in fused groups gives every run's files byte-identical
//! to the same sweep trained one run at a time, in f32 and f64, with runs diverging at different
//! iterations, at any thread count, and across crashes and kills that make groups resume with
//! other members than they started with.

use heavyball::sweep::GROUP_SIZE_VAR;

use crate::common::{Sweep, assert_same};

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
precision = "f32"
divergence_factor = 3.0
[grid]
hidden = [3, 4, 8, 40]
gamma = [1e-3, 0.02, 0.5, 4.0]
alpha = [1.0, 0.4]
seed = [0, 1]
"#;

#[test]
fn fused_runs_write_the_files_of_runs_trained_alone() {
    let base = Sweep::new(SWEEP);
    for precision in ["f32", "f64"] {
        let sweep = base.with(&[("train.precision", &format!("\"{precision}\""))]);
        // One run at a time: at most one run per fused group.
        let alone = sweep.results_in(&format!("alone-{precision}")).env(GROUP_SIZE_VAR, Some("1"));
        alone.run(&["--quiet", "--threads", "1"]);
        let alone = alone.comparable();
        // Some runs diverge and leave their group early; the rest finish.
        let curves = alone.iter().filter(|(name, _)| name.ends_with("curve.csv")).count();
        let lengths: std::collections::BTreeSet<usize> = alone
            .iter()
            .filter(|(name, _)| name.ends_with("curve.csv"))
            .map(|(_, text)| text.iter().filter(|&&b| b == b'\n').count())
            .collect();
        assert_eq!(curves, 64);
        assert!(lengths.len() >= 3, "{precision}: runs should end at several iterations: {lengths:?}");
        // Fused groups of the default size (the variable unset) or of at most `group` runs.
        for (threads, group) in [("1", None), ("3", None), ("2", Some("3"))] {
            let fused = sweep
                .results_in(&format!("fused-{precision}-{threads}-{group:?}"))
                .env(GROUP_SIZE_VAR, group);
            fused.run(&["--quiet", "--threads", threads]);
            assert_same(&fused.comparable(), &alone);
        }
    }
}

#[test]
fn fused_runs_crashed_at_any_write_resume_to_the_files_of_runs_trained_alone() {
    let sweep = Sweep::new(SWEEP);
    let alone = sweep.results_in("alone").env(GROUP_SIZE_VAR, Some("1"));
    alone.run(&["--quiet", "--threads", "2"]);
    // Every crash ends a process mid-group; the next one regroups what is left (finished runs
    // drop out), so groups resume with other members, from their own checkpoints.
    let crashed = sweep.results_in("crashed");
    let (crashes, stderr) = crashed.crash_until_done(40, 0xf05e);
    assert!(crashes >= 10, "only {crashes} crashes");
    assert!(!stderr.contains("restarting"), "{stderr}");
    crashed.env(GROUP_SIZE_VAR, None).run(&["--quiet", "--threads", "2"]);
    assert_same(&crashed.comparable(), &alone.comparable());
}

#[test]
fn a_bad_group_size_is_refused_in_one_line() {
    let sweep = Sweep::new(SWEEP).results_in("r");
    for bad in ["0", "17", "many"] {
        let out = sweep.env(GROUP_SIZE_VAR, Some(bad)).command("run").output().unwrap();
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
