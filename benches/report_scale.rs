//! How long `heavyball report` takes on a large sweep: writes a synthetic finished sweep of
//! 10 000 runs × 1 000 iterations (5 widths × 10 step sizes × 5 α × 40 seeds, with a test set,
//! some runs diverging), then times the report on it, in-process, several times.
//!
//!     cargo run --release -p heavyball-benches --bin report-scale -- [DIR] [--runs-per-setting S]
//!
//! DIR (default: a temporary folder) keeps the sweep for a look at the page. The curves are
//! made up (a decaying loss with noise, per setting) but have the shape, sizes and files of a
//! real sweep's, which is all the report's speed depends on.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use heavyball::grid::RunSpec;
use heavyball::store::{RunId, SweepMeta};

const HIDDEN: [usize; 5] = [4, 8, 16, 32, 64];
const GAMMA: [f64; 10] = [1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0];
const ALPHA: [f64; 5] = [1.0, 0.5, 0.2, 0.1, 0.05];
const ITERATIONS: usize = 1000;

/// A small deterministic generator (splitmix64), for the noise.
fn next(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

fn write_sweep(root: &Path, seeds: u64) -> usize {
    std::fs::create_dir_all(root.join("runs")).unwrap();
    let list = |v: &[f64]| v.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", ");
    let sweep = format!(
        "format = 1\nname = \"scale\"\ndata = \"synthetic (report-scale)\"\ndata_fingerprint = \"report-scale\"\n\
         train_samples = 1000\ntest_samples = 250\nfeatures = 16\nclasses = 4\nobjective = \"sum\"\n\
         precision = \"f32\"\niterations = {ITERATIONS}\nchunk_size = 1024\nhidden = {:?}\ngamma = [{}]\n\
         alpha = [{}]\nseed = {:?}\n",
        HIDDEN,
        list(&GAMMA),
        list(&ALPHA),
        (0..seeds).collect::<Vec<_>>()
    );
    std::fs::write(root.join("sweep.toml"), sweep).unwrap();
    let meta = SweepMeta::read(&root.join("sweep.toml")).unwrap();
    let mut count = 0;
    for &hidden in &HIDDEN {
        for &gamma in &GAMMA {
            for &alpha in &ALPHA {
                for seed in 0..seeds {
                    let spec = RunSpec { index: count, hidden, gamma, alpha, seed };
                    let id = RunId::from_spec(&spec, &meta.train(), &meta.data_fingerprint);
                    let dir = root.join("runs").join(id.dir_name());
                    std::fs::create_dir_all(&dir).unwrap();
                    // Effective step γ/α·(2−α): past ~1 the run diverges early.
                    let step = gamma * (2.0 - alpha) / alpha;
                    let diverges = step > 3.0;
                    let last = if diverges { 20 + (seed as usize * 7) % 50 } else { ITERATIONS };
                    let mut rng = seed.wrapping_mul(1_000_003)
                        ^ (hidden as u64) << 40
                        ^ gamma.to_bits()
                        ^ alpha.to_bits();
                    let mut curve = String::with_capacity(40 * (last + 2));
                    curve.push_str("iteration,train_loss,train_accuracy,test_loss,test_accuracy\n");
                    for i in 0..=last {
                        let t = i as f64;
                        let decay = (-(step.min(1.0)) * t / (50.0 + hidden as f64)).exp();
                        let noise = 1.0 + 0.05 * (next(&mut rng) - 0.5);
                        let (train, test) = if diverges && i + 5 > last {
                            (1.38 * (1.0 + t - (last - 5) as f64).powi(3), 1.5 * (1.0 + t).powi(2))
                        } else {
                            (1.38 * decay * noise + 1e-4, 1.38 * decay * noise + 0.05 + 1e-5 * t * step)
                        };
                        let _ = writeln!(
                            curve,
                            "{i},{train},{},{test},{}",
                            1.0 - 0.7 * decay,
                            0.95 - 0.7 * decay
                        );
                    }
                    if diverges {
                        let _ = writeln!(curve, "{},NaN,0.25,NaN,0.25", last + 1);
                    }
                    std::fs::write(dir.join("curve.csv"), curve).unwrap();
                    let status = if diverges { "diverged" } else { "done" };
                    let iterations = if diverges { last + 1 } else { ITERATIONS };
                    let run = format!(
                        "format = 1\nkey = \"{}\"\nname = \"{}\"\nhidden = {hidden}\ngamma = {gamma:?}\nalpha = {alpha:?}\n\
                         seed = {seed}\nobjective = \"sum\"\nprecision = \"f32\"\nchunk_size = 1024\ndata = \"report-scale\"\n\
                         status = \"{status}\"\niterations = {iterations}\ntarget_iterations = {ITERATIONS}\nwall_seconds = 1.0\n",
                        id.key, id.name
                    );
                    std::fs::write(dir.join("run.toml"), run).unwrap();
                    count += 1;
                }
            }
        }
    }
    count
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir: Option<PathBuf> = None;
    let mut seeds = 40;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs-per-setting" => {
                seeds = args.next().and_then(|v| v.parse().ok()).expect("--runs-per-setting S")
            }
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let temp = tempfile::tempdir().unwrap();
    let root = dir.unwrap_or_else(|| temp.path().join("scale"));
    let start = Instant::now();
    let runs = write_sweep(&root, seeds);
    println!(
        "wrote {runs} runs × {ITERATIONS} iterations in {:.1} s ({})",
        start.elapsed().as_secs_f64(),
        root.display()
    );
    for attempt in 1..=3 {
        let start = Instant::now();
        heavyball::report::run(&root, Path::new("results"), None).expect("report");
        let seconds = start.elapsed().as_secs_f64();
        let page = std::fs::metadata(root.join("report/index.html")).map(|m| m.len()).unwrap_or(0);
        println!("report {attempt}: {seconds:.2} s (index.html {:.1} MB)", page as f64 / 1e6);
    }
}
