//! What the binary-level tests share: [`Sweep`], a sweep in a temporary folder with every
//! command on it (config builder, run, plan, report, hessian, the files that must compare
//! equal, and the crash, kill and full-disk loops), and [`HandMade`], a results folder written
//! through the store's own writers for reports whose answers are known.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use heavyball::config::{Objective, Precision};
use heavyball::grid::RunSpec;
use heavyball::store::files::encode_curve;
use heavyball::store::{FORMAT_VERSION, RunFile, RunId, RunMeta, RunStatus, SweepDir, SweepMeta};
use heavyball::train::CurveRow;

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

/// Runs `cmd`, asserts it succeeded (showing its stderr if not), and returns its stdout: for
/// commands on a sweep's folder rather than its config, or with settings a [`Sweep`] does not
/// make.
pub fn stdout_of(cmd: &mut assert_cmd::Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A folder's files: (path relative to the folder, bytes), sorted by path.
pub type Files = Vec<(String, Vec<u8>)>;

/// Every file under `root`, sorted by path.
pub fn tree(root: &Path) -> Files {
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

/// The files of a sweep folder that must be byte-identical however it was trained (threads,
/// shards, fused groups, crashes): everything but the lock files and what holds wall times
/// (`run.toml`, `summary.csv`).
pub fn comparable(sweep: &Path) -> Files {
    tree(sweep)
        .into_iter()
        .filter(|(name, _)| {
            !name.ends_with("run.toml")
                && name != "summary.csv"
                && name != ".lock"
                && !name.starts_with(".locks")
        })
        .collect()
}

/// Asserts two folders' files are the same files with the same bytes, naming the first that
/// differs.
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

/// A sweep under test: its config file in a temporary folder (beside any data and other
/// configs) and the results folder its commands write to. [`Sweep::with`] makes a variant of
/// the config in the same folder; [`Sweep::results_in`] the same config with another results
/// folder, for a reference to compare with; [`Sweep::env`] the environment its commands run in.
#[derive(Clone)]
pub struct Sweep {
    /// The config file.
    pub config: PathBuf,
    /// The results folder (`--results`).
    pub results: PathBuf,
    /// The sweep's name: its folder in `results`.
    pub name: String,
    /// Environment variables set (`Some`) or removed (`None`) for every command it runs.
    env: Vec<(String, Option<String>)>,
    dir: Rc<tempfile::TempDir>,
}

impl Sweep {
    /// A sweep of the config `toml`, written as `sweep.toml` in a new temporary folder, with
    /// results in its `results/`.
    pub fn new(toml: &str) -> Sweep {
        let dir = Rc::new(tempfile::tempdir().unwrap());
        let config = write(dir.path(), "sweep.toml", toml);
        let results = dir.path().join("results");
        Sweep { name: Self::name_of(&config), config, results, env: Vec::new(), dir }
    }

    /// The sweep's name as heavyball gives it: `name` in the config, else the file's stem.
    fn name_of(config: &Path) -> String {
        // A config heavyball must refuse may not parse: then its first `name = "…"` line.
        let text = std::fs::read_to_string(config).unwrap();
        let name = match toml::from_str::<toml::Table>(&text) {
            Ok(table) => table.get("name").and_then(|n| n.as_str()).map(str::to_string),
            Err(_) => {
                text.lines().find_map(|l| Some(l.strip_prefix("name = \"")?.strip_suffix('"')?.to_string()))
            }
        };
        name.unwrap_or_else(|| config.file_stem().unwrap().to_string_lossy().into_owned())
    }

    /// The temporary folder the config is in (for data files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The same sweep with some keys set, each `("section.key", value as TOML)` such as
    /// `("train.iterations", "60")` (a key without a section is top-level), written as a new
    /// config file beside the first; the results folder stays.
    pub fn with(&self, settings: &[(&str, &str)]) -> Sweep {
        let mut table: toml::Table = toml::from_str(&std::fs::read_to_string(&self.config).unwrap()).unwrap();
        for &(key, value) in settings {
            let value: toml::Table = toml::from_str(&format!("v = {value}")).unwrap();
            let value = value["v"].clone();
            match key.split_once('.') {
                Some((section, key)) => {
                    let section = table.entry(section).or_insert_with(|| toml::Table::new().into());
                    section.as_table_mut().unwrap().insert(key.to_string(), value);
                }
                None => {
                    table.insert(key.to_string(), value);
                }
            }
        }
        self.variant(&table)
    }

    /// The same sweep without some keys, each `"section.key"` (or a top-level key), written as a
    /// new config file beside the first; with [`Sweep::with`] after it, to swap a key for another
    /// (a data source, say).
    pub fn without(&self, keys: &[&str]) -> Sweep {
        let mut table: toml::Table = toml::from_str(&std::fs::read_to_string(&self.config).unwrap()).unwrap();
        for &key in keys {
            let removed = match key.split_once('.') {
                Some((section, key)) => table.get_mut(section).and_then(|s| s.as_table_mut()?.remove(key)),
                None => table.remove(key),
            };
            assert!(removed.is_some(), "the config has no {key}");
        }
        self.variant(&table)
    }

    /// `table` written as the next free `sweep-N.toml` beside the first config, as a sweep with
    /// the same results folder and environment.
    fn variant(&self, table: &toml::Table) -> Sweep {
        let mut n = 2;
        while self.dir().join(format!("sweep-{n}.toml")).exists() {
            n += 1;
        }
        let config = write(self.dir(), &format!("sweep-{n}.toml"), &toml::to_string(table).unwrap());
        Sweep { name: Self::name_of(&config), config, ..self.clone() }
    }

    /// The same sweep with the environment variable `var` set to `value` (`Some`) or removed
    /// (`None`) for every command it runs, such as the fused group size.
    pub fn env(&self, var: &str, value: Option<&str>) -> Sweep {
        let mut sweep = self.clone();
        sweep.env.retain(|(v, _)| v != var);
        sweep.env.push((var.to_string(), value.map(str::to_string)));
        sweep
    }

    /// `heavyball ARGS… CONFIG --results RESULTS` in the sweep's environment, to add arguments
    /// to: what every command of the sweep starts from.
    fn process(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("heavyball"));
        cmd.args(args).arg(&self.config).arg("--results").arg(&self.results);
        for (var, value) in &self.env {
            match value {
                Some(value) => cmd.env(var, value),
                None => cmd.env_remove(var),
            };
        }
        cmd
    }

    /// `heavyball COMMAND CONFIG --results RESULTS` as a plain process, for tests that wire its
    /// standard streams themselves.
    pub fn process_for(&self, command: &str) -> Command {
        self.process(&[command])
    }

    /// Holds the sweep's lock as another process would (a plain `run` exclusively, shards and
    /// `hessian` shared) until the returned file is dropped.
    pub fn hold_lock(&self, shared: bool) -> std::fs::File {
        self.hold_lock_of("", shared)
    }

    /// Holds the lock of the folder `inside` the sweep's (a study's workload), as
    /// [`Sweep::hold_lock`] holds the sweep's.
    pub fn hold_lock_of(&self, inside: &str, shared: bool) -> std::fs::File {
        let folder = self.folder().join(inside);
        std::fs::create_dir_all(&folder).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(folder.join(".lock"))
            .unwrap();
        if shared {
            file.lock_shared().unwrap()
        } else {
            file.lock().unwrap()
        }
        file
    }

    /// The same config with its results in `folder` of the temporary folder.
    pub fn results_in(&self, folder: &str) -> Sweep {
        Sweep { results: self.dir().join(folder), ..self.clone() }
    }

    /// The sweep's results: `results/<name>`.
    pub fn folder(&self) -> PathBuf {
        self.results.join(&self.name)
    }

    /// The folder of the only run whose name starts with `prefix`.
    pub fn run_dir(&self, prefix: &str) -> PathBuf {
        let matches: Vec<PathBuf> = std::fs::read_dir(self.folder().join("runs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .collect();
        assert_eq!(matches.len(), 1, "runs starting with {prefix}: {matches:?}");
        matches.into_iter().next().unwrap()
    }

    /// `heavyball COMMAND CONFIG --results RESULTS`, to add arguments to and run.
    pub fn command(&self, command: &str) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.process(&[command]))
    }

    /// Runs a command with `args`, asserts it succeeded, and returns its stdout.
    fn succeed(&self, command: &str, args: &[&str]) -> String {
        stdout_of(self.command(command).args(args))
    }

    /// `heavyball run` to the end (or to what `args` allow); returns stdout.
    pub fn run(&self, args: &[&str]) -> String {
        self.succeed("run", args)
    }

    /// `heavyball plan`; returns stdout.
    pub fn plan(&self, args: &[&str]) -> String {
        self.succeed("plan", args)
    }

    /// `heavyball report` through the config; returns stdout.
    pub fn report(&self, args: &[&str]) -> String {
        self.succeed("report", args)
    }

    /// `heavyball hessian` through the config; returns stdout.
    pub fn hessian(&self, args: &[&str]) -> String {
        self.succeed("hessian", args)
    }

    /// The sweep folder's files that must be byte-identical however it was trained.
    pub fn comparable(&self) -> Files {
        comparable(&self.folder())
    }

    /// `heavyball run` started in the background, stdout discarded, stderr piped.
    pub fn spawn(&self) -> Child {
        self.spawn_with(&[])
    }

    /// `heavyball run` with `args` started in the background, stdout discarded, stderr piped.
    pub fn spawn_with(&self, args: &[&str]) -> Child {
        self.process(&["run"]).args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
    }

    /// `heavyball run` started in the background and sent SIGINT once a first checkpoint lands
    /// in `runs` (the sweep's `runs/`, or a workload's); returns its exit code and stderr.
    pub fn interrupt_at_first_checkpoint(&self, runs: &Path) -> (Option<i32>, String) {
        let child = self.spawn();
        let started = Instant::now();
        let has_checkpoint = || {
            std::fs::read_dir(runs)
                .map(|d| d.flatten().any(|e| e.path().join("checkpoint.npz").exists()))
                .unwrap_or(false)
        };
        while !has_checkpoint() {
            assert!(started.elapsed() < Duration::from_secs(60), "no checkpoint appeared");
            std::thread::sleep(Duration::from_millis(5));
        }
        Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// `heavyball run --quiet` with one environment variable set; waits for it.
    fn run_with_env(&self, var: &str, value: u64) -> Output {
        self.process(&["run", "--quiet"]).env(var, value.to_string()).output().unwrap()
    }

    /// Runs the sweep again and again, each attempt aborting right after its n-th file lands (n
    /// drawn from 1..=`most` by the sequence from `state`), as a power cut would, until one
    /// finishes. Returns the number of crashes and everything the attempts printed on stderr.
    pub fn crash_until_done(&self, most: u64, mut state: u64) -> (usize, String) {
        let mut crashes = 0;
        let mut stderr = String::new();
        loop {
            let n = 1 + next_random(&mut state) % most;
            let out = self.run_with_env(heavyball::store::atomic::CRASH_AFTER_RENAMES, n);
            stderr.push_str(&String::from_utf8_lossy(&out.stderr));
            if out.status.success() {
                return (crashes, stderr);
            }
            assert_eq!(out.status.code(), None, "attempt {crashes} failed: {stderr}");
            crashes += 1;
            assert!(crashes < 2000, "the sweep never finished");
        }
    }

    /// Starts the sweep again and again and SIGKILLs it after a random delay below `window`,
    /// until one attempt finishes. Returns the number of kills and everything the attempts
    /// printed on stderr.
    pub fn kill_until_done(&self, window: Duration, mut state: u64) -> (usize, String) {
        let mut kills = 0;
        let mut stderr = String::new();
        for attempt in 0..300 {
            let mut child = self.spawn();
            let delay =
                Duration::from_millis(1 + next_random(&mut state) % (window.as_millis() as u64).max(2));
            let started = Instant::now();
            let mut finished = false;
            while started.elapsed() < delay {
                if child.try_wait().unwrap().is_some() {
                    finished = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            if !finished {
                child.kill().unwrap(); // SIGKILL
                kills += 1;
            }
            let status = child.wait().unwrap();
            let mut text = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut text).unwrap();
            stderr.push_str(&text);
            if finished {
                assert!(status.success(), "attempt {attempt} failed: {text}");
                return (kills, stderr);
            }
        }
        panic!("the sweep never finished");
    }

    /// Runs the sweep again and again on a disk that fills after a number of bytes (a few
    /// fixed small budgets first, then random ones from `budgets`), until one attempt finishes.
    /// Each failed attempt must end with exit code 1 and a one-line "No space left on device"
    /// error, restart no run, and leave no temporary file behind. Returns the number of attempts
    /// the full disk stopped.
    pub fn fill_disk_until_done(&self, budgets: Range<u64>, mut state: u64) -> usize {
        let mut full = 0;
        loop {
            // First a disk full from the start or within the first files (sweep.toml,
            // config.toml, the first run's files), then random budgets that leave room.
            let budget = match full {
                0..5 => [0, 1, 300, 1500, 5000][full],
                _ => budgets.start + next_random(&mut state) % (budgets.end - budgets.start),
            };
            let out = self.run_with_env(heavyball::store::atomic::DISK_BYTES, budget);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let temporaries: Vec<String> = tree(&self.results)
                .into_iter()
                .map(|(name, _)| name)
                .filter(|n| n.contains(".tmp-"))
                .collect();
            assert!(temporaries.is_empty(), "left behind after a full disk: {temporaries:?}");
            if out.status.success() {
                return full;
            }
            assert_eq!(out.status.code(), Some(1), "budget {budget}: {stderr}");
            assert!(stderr.contains("No space left on device (os error 28)\n"), "budget {budget}: {stderr}");
            assert_eq!(stderr.trim_end().lines().count(), 1, "budget {budget}: {stderr}");
            assert!(!stderr.contains("restarting"), "budget {budget}: {stderr}");
            full += 1;
            assert!(full < 200, "the sweep never finished");
        }
    }
}

/// A results folder made by hand, through the store's own writers (`sweep.toml`, each run's
/// `run.toml` and `curve.csv` in the folder its key names), for reports whose answers are known.
pub struct HandMade {
    /// The sweep's folder.
    pub dir: SweepDir,
    meta: SweepMeta,
}

impl HandMade {
    /// The sweep `name` in `results`: M = 4 on hand-made data of 2 features and 2 classes, in
    /// f64, the sum objective, 4 iterations, the grid's γ and α as given, seeds 0 and 1.
    pub fn new(results: &Path, name: &str, gamma: &[f64], alpha: &[f64]) -> HandMade {
        let meta = SweepMeta {
            format: FORMAT_VERSION,
            name: name.to_string(),
            data: "hand-made".into(),
            data_fingerprint: "fp".into(),
            train_samples: 10,
            test_samples: 0,
            features: 2,
            classes: 2,
            objective: Objective::Sum,
            precision: Precision::F64,
            iterations: 4,
            chunk_size: 1024,
            divergence_factor: None,
            hidden: vec![4],
            gamma: gamma.to_vec(),
            alpha: alpha.to_vec(),
            seed: vec![0, 1],
            tune: None,
            sharpness: None,
            confirm: None,
            config_folder: None,
        };
        HandMade::from_meta(results, meta)
    }

    /// The sweep `hand` in `results` (γ 0.1 and 0.2, α 1 and 0.5) with eight runs whose
    /// answers are known. GD's best is γ = 0.2 (final 0.4 and 0.6, mean 0.5); momentum's is
    /// γ = 0.1, α = 0.5 (final 0.1 and 0.3); γ = 0.2, α = 0.5 diverges with seed 0.
    pub fn known(results: &Path) -> HandMade {
        let hand = HandMade::new(results, "hand", &[0.1, 0.2], &[1.0, 0.5]);
        hand.run(0.1, 1.0, 0, &[2.0, 1.5, 1.2, 1.0, 0.9]);
        hand.run(0.1, 1.0, 1, &[2.0, 1.6, 1.3, 1.1, 1.0]);
        hand.run(0.2, 1.0, 0, &[2.0, 1.0, 0.8, 0.5, 0.4]);
        hand.run(0.2, 1.0, 1, &[2.0, 1.2, 0.9, 0.7, 0.6]);
        hand.run(0.1, 0.5, 0, &[2.0, 0.5, 0.2, 0.1, 0.1]);
        hand.run(0.1, 0.5, 1, &[2.0, 0.9, 0.5, 0.35, 0.3]);
        hand.run(0.2, 0.5, 0, &[2.0, f64::NAN]);
        hand.run(0.2, 0.5, 1, &[2.0, 0.3, 0.25, 0.2, 0.2]);
        hand
    }

    /// The sweep's folder, to run `heavyball report` on.
    pub fn root(&self) -> &Path {
        self.dir.root()
    }

    /// A hand-made sweep described by `meta`.
    pub fn from_meta(results: &Path, meta: SweepMeta) -> HandMade {
        let dir = SweepDir::new(results, &meta.name);
        std::fs::create_dir_all(dir.runs()).unwrap();
        meta.write(&dir.sweep_meta()).unwrap();
        HandMade { dir, meta }
    }

    /// Writes one finished run at M = the sweep's first width with these training losses at
    /// iterations 0, 1, …; a last loss that is not finite makes it diverged.
    pub fn run(&self, gamma: f64, alpha: f64, seed: u64, losses: &[f64]) -> PathBuf {
        let hidden = self.meta.hidden[0];
        let spec = RunSpec { index: 0, hidden, gamma, alpha, seed };
        let id = RunId::from_spec(&spec, &self.meta.train(), &self.meta.data_fingerprint);
        let run = self.dir.run(&id);
        std::fs::create_dir_all(run.path()).unwrap();
        let diverged = !losses.last().unwrap().is_finite();
        let meta = RunMeta {
            format: FORMAT_VERSION,
            key: id.key.clone(),
            name: id.name.clone(),
            hidden,
            gamma,
            alpha,
            seed,
            objective: self.meta.objective,
            precision: self.meta.precision,
            chunk_size: self.meta.chunk_size,
            data: self.meta.data_fingerprint.clone(),
            status: if diverged { RunStatus::Diverged } else { RunStatus::Done },
            iterations: losses.len() - 1,
            target_iterations: self.meta.iterations,
            wall_seconds: 0.1,
        };
        meta.write(&run.file(RunFile::Meta)).unwrap();
        let rows: Vec<CurveRow> = losses
            .iter()
            .enumerate()
            .map(|(iteration, &train_loss)| CurveRow {
                iteration,
                train_loss,
                train_accuracy: 0.5,
                test_loss: None,
                test_accuracy: None,
                sharpness: None,
            })
            .collect();
        std::fs::write(run.file(RunFile::Curve), encode_curve(&rows, false)).unwrap();
        run.path().to_path_buf()
    }
}
