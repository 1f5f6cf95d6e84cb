//! Sharded sweeps without a scheduler: shards of one config fill one results folder with the
//! same bytes as a plain run, a shard handed out twice is harmless, `--shard auto` reads the
//! Slurm variables, `plan --shards` reports per shard, and `heavyball slurm` writes and submits
//! the job script (through a stand-in `sbatch`; tests/slurm/cluster-test.sh uses a real Slurm).

use heavyball::store::SweepDir;

use crate::common::{Sweep, assert_same, heavyball, stdout_of, write};

const SWEEP: &str = r#"
name = "s"
[data]
builtin = "digits"
test_fraction = 0.2
[train]
iterations = 12
chunk_size = 256
[grid]
hidden = [8, 16, 32]
gamma = [1e-3, 3e-3]
alpha = [1.0, 0.5]
seed = [0]
"#;

#[test]
fn shards_fill_one_folder_with_the_bytes_of_a_plain_run() {
    let sweep = Sweep::new(SWEEP);
    let plain = sweep.results_in("plain");
    plain.run(&[]);
    let sharded = sweep.results_in("sharded");
    let mut trained = 0;
    for i in 0..3 {
        let line = sharded.run(&["--shard", &format!("{i}/3"), "--threads", "1"]);
        assert!(line.contains(&format!("shard {i}/3: ")) && line.contains("of the grid's 12 runs"), "{line}");
        trained += std::fs::read_dir(sharded.folder().join("runs")).map(|d| d.count()).unwrap_or(0) - trained;
    }
    assert_eq!(trained, 12);
    assert_same(&plain.comparable(), &sharded.comparable());
    let summary = std::fs::read_to_string(sharded.folder().join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 13, "the last shard's summary covers every run");
    // Work is balanced: runs cost ∝ M, and each shard gets 80 units of the 240 (4 runs each).
    let plan = sharded.plan(&["--shards", "3"]);
    for i in 0..3 {
        assert!(plan.contains(&format!("shard {i}: 4/4 runs finished")), "{plan}");
    }
}

#[test]
fn the_same_shard_twice_at_once_is_harmless() {
    let sweep = Sweep::new(SWEEP);
    let spawn = || sweep.spawn_with(&["--shard", "0/1", "--threads", "1", "--quiet"]);
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let plain = sweep.results_in("plain");
    plain.run(&[]);
    assert_same(&plain.comparable(), &sweep.comparable());
}

#[test]
fn plain_runs_and_shards_exclude_each_other() {
    let sweep = Sweep::new(SWEEP);
    std::fs::create_dir_all(sweep.folder()).unwrap();
    let shard_lock = heavyball::store::SweepLock::acquire(&SweepDir::at(&sweep.folder()), true).unwrap();
    let out = sweep.command("run").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "in use by another heavyball process (the tasks of a sharded run, or heavyball hessian)"
        ),
        "{stderr}"
    );
    sweep.run(&["--shard", "1/2"]);
    drop(shard_lock);

    let plain_lock = heavyball::store::SweepLock::acquire(&SweepDir::at(&sweep.folder()), false).unwrap();
    let out = sweep.command("run").args(["--shard", "0/2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("pid {}", std::process::id())));
    drop(plain_lock);
}

#[test]
fn shard_auto_reads_the_slurm_array_variables() {
    let sweep = Sweep::new(SWEEP);
    // `heavyball run CONFIG --results DIR --shard auto`, to be given its environment.
    let auto = || {
        let mut cmd = sweep.command("run");
        cmd.args(["--shard", "auto"]);
        cmd
    };
    let out = auto()
        .env("SLURM_ARRAY_TASK_ID", "11")
        .env("SLURM_ARRAY_TASK_MIN", "10")
        .env("SLURM_ARRAY_TASK_COUNT", "4")
        .env("SLURM_CPUS_PER_TASK", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("shard 1/4: 3 of the grid's 12 runs"));

    let out = auto().env_remove("SLURM_ARRAY_TASK_ID").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--shard auto needs SLURM_ARRAY_TASK_ID"));

    let out = heavyball().arg("run").arg(&sweep.config).args(["--shard", "3/3"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a shard outside 0..N is a usage error");
}

#[cfg(unix)]
#[test]
fn slurm_writes_the_script_and_submits_only_unfinished_shards() {
    use std::os::unix::fs::PermissionsExt;
    let sweep = Sweep::new(SWEEP);
    // A stand-in sbatch that records its arguments and answers like `sbatch --parsable`.
    let bin = sweep.dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = sweep.dir().join("sbatch.log");
    let sbatch = write(
        &bin,
        "sbatch",
        &format!("#!/bin/sh\necho \"$@\" >> '{}'\necho '4242;cluster'\n", log.display()),
    );
    std::fs::set_permissions(&sbatch, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let slurm = |extra: &[&str]| {
        stdout_of(
            sweep
                .command("slurm")
                .args(["--tasks", "3", "--cpus-per-task", "2", "--time", "1:00:00"])
                .args(extra)
                .env("PATH", &path),
        )
    };

    let out = slurm(&[]);
    let script_path = sweep.folder().join("slurm/s.sbatch");
    assert!(out.contains("array tasks 0-2") && out.contains("sbatch"), "{out}");
    let script = std::fs::read_to_string(&script_path).unwrap();
    for line in
        ["#SBATCH --array=0-2", "#SBATCH --cpus-per-task=2", "#SBATCH --time=1:00:00", "--shard auto/3"]
    {
        assert!(script.contains(line), "{line} missing from\n{script}");
    }
    assert!(!log.exists(), "nothing is submitted without --submit");

    // Shard 1 trains; a resubmission covers shards 0 and 2 only.
    sweep.run(&["--shard", "1/3"]);
    let out = slurm(&["--submit"]);
    assert!(out.contains("submitted job 4242: array tasks 0,2 of 3 shards"), "{out}");
    assert!(std::fs::read_to_string(&log).unwrap().contains("--parsable"));
    assert!(std::fs::read_to_string(&script_path).unwrap().contains("#SBATCH --array=0,2\n"));

    let plan = sweep.plan(&["--shards", "3"]);
    assert!(
        plan.contains("shard 1: 4/4 runs finished") && plan.contains("shard 0: 0/4 runs finished"),
        "{plan}"
    );

    sweep.run(&[]);
    let out = slurm(&["--submit"]);
    assert!(out.contains("nothing to submit"), "{out}");
}
