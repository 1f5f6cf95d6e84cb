//! A whole sweep through the binary: the output files, their headers, and bitwise determinism
//! across thread counts.

use crate::common::{Sweep, heavyball, tree};

const SWEEP: &str = r#"
name = "small"
[data]
builtin = "digits"
test_fraction = 0.2
[train]
iterations = 15
chunk_size = 256
divergence_factor = 10
[grid]
hidden = [8, 16]
gamma = [1e-3, 1.0]
alpha = [1.0, 0.5]
seed = [0, 1]
"#;

#[test]
fn one_and_four_threads_give_byte_identical_files() {
    let sweep = Sweep::new(SWEEP);
    let (one, four) = (sweep.results_in("out-1"), sweep.results_in("out-4"));
    for (threads, results) in [("1", &one), ("4", &four)] {
        let out = results.run(&["--threads", threads]);
        assert!(out.contains("small: 16 runs ("), "{out}");
    }
    let (one, four) = (tree(&one.folder()), tree(&four.folder()));
    let names = |t: &[(String, Vec<u8>)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&one), names(&four));
    for ((name, a), (_, b)) in one.iter().zip(&four) {
        // Wall times differ from run to run; everything else must not.
        if name.ends_with("run.toml") || name == "summary.csv" || name == ".lock" {
            continue;
        }
        assert!(a == b, "{name} differs between 1 and 4 threads");
    }
    // 16 runs, each with its five files.
    assert_eq!(one.iter().filter(|(n, _)| n.starts_with("runs/")).count(), 16 * 5);
}

#[test]
fn output_files_have_the_documented_columns() {
    let sweep = Sweep::new(SWEEP);
    let out = sweep.run(&["--threads", "2"]);
    assert!(out.contains("small: 16 runs ("), "{out}");
    let run = sweep.run_dir("M8-g0.001-a0.5-s1-");
    let diverged = sweep.run_dir("M8-g1-a1-s0-");
    let folder = sweep.folder();
    let summary = std::fs::read_to_string(folder.join("summary.csv")).unwrap();
    let mut lines = summary.lines();
    assert_eq!(
        lines.next().unwrap(),
        "run,hidden,gamma,alpha,seed,status,iterations,final_train_loss,best_train_loss,\
         final_train_accuracy,final_test_loss,best_test_loss,final_test_accuracy,wall_seconds,key"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 16);
    // Grid order: M slowest, then γ, then α, the seed fastest.
    assert!(rows[0][0].starts_with("M8-g0.001-a1-s0-"));
    assert!(rows[1][0].starts_with("M8-g0.001-a1-s1-"));
    assert!(rows[2][0].starts_with("M8-g0.001-a0.5-s0-"));
    assert!(rows[15][0].starts_with("M16-g1-a0.5-s1-"));
    // γ = 1 on the summed loss of ~1400 samples is far past the stability limit.
    assert!(rows.iter().filter(|r| r[2] == "1").all(|r| r[5] == "diverged"), "{summary}");
    assert!(rows.iter().filter(|r| r[2] == "0.001").all(|r| r[5] == "done" && r[6] == "15"), "{summary}");

    let curve = std::fs::read_to_string(run.join("curve.csv")).unwrap();
    assert_eq!(curve.lines().next().unwrap(), "iteration,train_loss,train_accuracy,test_loss,test_accuracy");
    assert_eq!(curve.lines().count(), 1 + 16);
    let rows = std::fs::read_to_string(diverged.join("curve.csv")).unwrap().lines().count();
    assert!(rows < 17, "a diverged run stops early");

    let curves = std::fs::read_to_string(folder.join("curves.csv")).unwrap();
    assert_eq!(
        curves.lines().next().unwrap(),
        "run,hidden,gamma,alpha,seed,iteration,train_loss,train_accuracy,test_loss,test_accuracy"
    );
    let first_run = curves.lines().nth(1).unwrap();
    assert!(
        first_run.starts_with("M8-g0.001-a1-s0-") && first_run.contains(",8,0.001,1,0,0,"),
        "{first_run}"
    );
    for name in ["init.npz", "final.npz", "run.toml", "checkpoint.npz"] {
        assert!(run.join(name).is_file(), "{name}");
    }
    for name in ["config.toml", "sweep.toml"] {
        assert!(folder.join(name).is_file(), "{name}");
    }
}

#[test]
fn runs_at_the_same_width_and_seed_share_their_initial_parameters() {
    let sweep = Sweep::new(SWEEP);
    let out = sweep.run(&["--threads", "2"]);
    assert!(out.contains("small: 16 runs ("), "{out}");
    let a = std::fs::read(sweep.run_dir("M8-g0.001-a1-s0-").join("init.npz")).unwrap();
    let b = std::fs::read(sweep.run_dir("M8-g1-a0.5-s0-").join("init.npz")).unwrap();
    let c = std::fs::read(sweep.run_dir("M8-g0.001-a1-s1-").join("init.npz")).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_config_read_from_a_pipe_is_saved_whole() {
    let dir = tempfile::tempdir().unwrap();
    let text = SWEEP.to_string();
    let out = heavyball()
        .args(["run", "/dev/stdin", "--results"])
        .arg(dir.path())
        .write_stdin(text.clone())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.path().join("small/config.toml")).unwrap(), text);
}

#[test]
fn result_files_get_the_permissions_the_umask_allows() {
    use std::os::unix::fs::PermissionsExt;
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let umask = status.lines().find_map(|l| l.strip_prefix("Umask:")).unwrap().trim();
    let expected = 0o666 & !u32::from_str_radix(umask, 8).unwrap();
    let sweep = Sweep::new(SWEEP);
    let out = sweep.run(&["--threads", "1"]);
    assert!(out.contains("small: 16 runs ("), "{out}");
    let report = heavyball().arg("report").arg(sweep.folder()).output().unwrap();
    assert!(report.status.success());
    let mut checked = 0;
    let mut stack = vec![sweep.folder()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.ends_with(".lock") {
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, expected, "{} has mode {mode:o}", path.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "{checked} files");
}

#[test]
fn tens_of_thousands_of_threads_are_capped_with_a_warning() {
    let sweep = Sweep::new(SWEEP);
    let out = sweep
        .command("run")
        .args(["--threads", "30000"])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning: 30000 threads asked for, more than four per core"), "{stderr}");
}
