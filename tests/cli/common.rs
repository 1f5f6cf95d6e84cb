//! Helpers shared by the binary-level tests.

use std::path::{Path, PathBuf};

/// The `heavyball` binary under test.
pub fn heavyball() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("heavyball").expect("the heavyball binary is built")
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

/// The built-in iris data decompressed to `dir/iris.csv`.
pub fn iris_csv(dir: &Path) -> PathBuf {
    use std::io::Read;
    let gz = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/iris.csv.gz")).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
    write(dir, "iris.csv", &text)
}

/// Every file under `root`, as (relative path, bytes), sorted by path.
pub fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The folder of the only run whose name starts with `prefix`.
pub fn run_dir(sweep: &Path, prefix: &str) -> PathBuf {
    let matches: Vec<PathBuf> = std::fs::read_dir(sweep.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    assert_eq!(matches.len(), 1, "runs starting with {prefix}: {matches:?}");
    matches.into_iter().next().unwrap()
}

/// Runs `heavyball run CONFIG --results RESULTS EXTRA…`, asserts success, returns stdout.
pub fn run_sweep(config: &Path, results: &Path, extra: &[&str]) -> String {
    let out = heavyball().arg("run").arg(config).arg("--results").arg(results).args(extra).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// The files that must be byte-identical across interruptions: everything but wall times
/// (run.toml, summary.csv) and the lock file.
pub fn comparable(sweep: &Path) -> Vec<(String, Vec<u8>)> {
    tree(sweep)
        .into_iter()
        .filter(|(name, _)| !name.ends_with("run.toml") && name != "summary.csv" && name != ".lock")
        .collect()
}

pub fn assert_same(a: &[(String, Vec<u8>)], b: &[(String, Vec<u8>)]) {
    let names = |t: &[(String, Vec<u8>)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(a), names(b));
    for ((name, x), (_, y)) in a.iter().zip(b) {
        assert!(x == y, "{name} differs");
    }
}

/// A fixed linear congruential sequence: random choices, reproducible failures.
pub fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *state >> 33
}

/// Runs `config` again and again, each attempt aborting right after its n-th file lands (n drawn
/// from 1..=`most` by the sequence from `state`), until one finishes. Returns the number of
/// crashes and everything the attempts printed on stderr.
pub fn crash_until_done(config: &Path, results: &Path, most: u64, mut state: u64) -> (usize, String) {
    let mut crashes = 0;
    let mut stderr = String::new();
    loop {
        let n = 1 + next_random(&mut state) % most;
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("heavyball"))
            .args(["run", "--quiet"])
            .arg(config)
            .arg("--results")
            .arg(results)
            .env(heavyball::store::atomic::CRASH_AFTER_RENAMES, n.to_string())
            .output()
            .unwrap();
        stderr.push_str(&String::from_utf8_lossy(&out.stderr));
        if out.status.success() {
            return (crashes, stderr);
        }
        assert_eq!(out.status.code(), None, "attempt {crashes} failed: {stderr}");
        crashes += 1;
        assert!(crashes < 2000, "the sweep never finished");
    }
}
