//! The command line: subcommands and their options (clap), and the glue that calls the library.

// clap turns the doc comments below into `--help` text, where `DIR/<name>` is meant literally.
#![allow(rustdoc::invalid_html_tags)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::shard::{self, ShardArg};
use crate::slurm;
use crate::sweep::{self, Interrupted, RunOptions};

const EXIT_CODES: &str = "Exit codes: 0 success; 1 an error (bad config or data, I/O, a results folder in use); \
     2 bad command-line usage; 130 stopped by Ctrl-C or SIGTERM (runs in flight saved: run the same command again \
     to resume).";

/// Fast hyperparameter sweeps of small networks: gradient descent with and without momentum.
#[derive(Debug, Parser)]
#[command(name = "heavyball", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train every point of a sweep's grid and write loss curves and summaries.
    #[command(after_help = EXIT_CODES)]
    Run {
        /// The sweep's TOML config (see experiments/ for examples).
        #[arg(value_name = "CONFIG")]
        config: PathBuf,
        /// Where results go: the sweep lands in DIR/<name>.
        #[arg(long, value_name = "DIR", default_value = "results")]
        results: PathBuf,
        /// Worker threads [default: every core, or RAYON_NUM_THREADS].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
        /// Hide the progress bar (it is also hidden when stderr is not a terminal).
        #[arg(long, short)]
        quiet: bool,
        /// Train only shard I of N (0-based): I/N, or auto (or auto/N) to read the Slurm array
        /// task from SLURM_ARRAY_TASK_ID (with SLURM_ARRAY_TASK_MIN/COUNT); threads then default
        /// to SLURM_CPUS_PER_TASK.
        #[arg(long, value_name = "I/N|auto")]
        shard: Option<ShardArg>,
    },
    /// Dry run: list every run as new, partial, done, diverged or stale, and the work left.
    #[command(after_help = EXIT_CODES)]
    Plan {
        /// The sweep's TOML config.
        #[arg(value_name = "CONFIG")]
        config: PathBuf,
        /// The results directory to inspect.
        #[arg(long, value_name = "DIR", default_value = "results")]
        results: PathBuf,
        /// Also show which of N shards each run belongs to, and each shard's progress.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        shards: Option<u32>,
    },
    /// Write (and with --submit, submit) a Slurm job array that trains the sweep in N shards.
    #[command(after_help = EXIT_CODES)]
    Slurm {
        /// The sweep's TOML config.
        #[arg(value_name = "CONFIG")]
        config: PathBuf,
        /// Where results go (a folder every node can reach): the sweep lands in DIR/<name>.
        #[arg(long, value_name = "DIR", default_value = "results")]
        results: PathBuf,
        /// The number of array tasks (shards).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        tasks: u32,
        /// CPUs per task; each task trains with that many threads.
        #[arg(long, value_name = "C", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        cpus_per_task: u32,
        /// Time limit per task, in any form sbatch accepts (such as 2:00:00).
        #[arg(long, value_name = "T")]
        time: Option<String>,
        /// The partition to submit to.
        #[arg(long, value_name = "P")]
        partition: Option<String>,
        /// Submit the script with sbatch and print the job id.
        #[arg(long)]
        submit: bool,
        /// Used by the job that chains a tuned sweep's rounds: the runs finished when the array
        /// before it was submitted; with no more finished now, nothing is submitted (exit 1).
        #[arg(long, value_name = "RUNS", hide = true, requires = "submit")]
        chained_from: Option<usize>,
    },
    /// Compare plain gradient descent with momentum: tables and plots under DIR/report/.
    #[command(after_help = EXIT_CODES)]
    Report {
        /// A sweep's results folder (such as results/quickstart), or its config file.
        #[arg(value_name = "DIR|CONFIG")]
        sweep: PathBuf,
        /// With a config file: the results directory the sweep was run with.
        #[arg(long, value_name = "DIR", default_value = "results")]
        results: PathBuf,
        /// The training loss to reach [default: at each M, the lowest loss that both tuned
        /// settings reach with every seed].
        #[arg(long, value_name = "LOSS")]
        target: Option<f64>,
    },
    /// The Hessian's extreme eigenvalues at every finished run's first and last point → hessian.csv
    ///
    /// λ_max (the sharpness) and λ_min of the risk's Hessian at each run's init.npz and
    /// final.npz, by Lanczos on exact Hessian-vector products, into DIR/hessian.csv.
    #[command(after_help = EXIT_CODES)]
    Hessian {
        /// A sweep's results folder (such as results/quickstart), or its config file.
        #[arg(value_name = "DIR|CONFIG")]
        sweep: PathBuf,
        /// With a config file: the results directory the sweep was run with.
        #[arg(long, value_name = "DIR", default_value = "results")]
        results: PathBuf,
        /// The most Lanczos steps (Hessian-vector products) at each point; fewer when both
        /// extreme eigenvalues converge first.
        #[arg(long, value_name = "K", default_value_t = 20, value_parser = clap::value_parser!(u16).range(2..=crate::store::hessian::MAX_STEPS as i64))]
        steps: u16,
        /// Worker threads [default: every core, or RAYON_NUM_THREADS].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
    },
}

/// The most worker threads a sweep starts: four per core. More only add memory and switching
/// (and tens of thousands exhaust the system's threads); results do not depend on the count.
fn capped_threads(asked: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let cap = 4 * cores;
    if asked > cap {
        crate::errors::to_stderr(&format!(
            "warning: {asked} threads asked for, more than four per core ({cores} cores here); using {cap}"
        ));
    }
    asked.min(cap)
}

/// `RAYON_NUM_THREADS`, capped as `--threads` is, when set to a count (rayon ignores other
/// values, and so does heavyball). It sizes the global pool, which every pool built without
/// a count follows; rayon would otherwise start every thread asked for.
fn env_threads() -> Option<usize> {
    let asked = std::env::var("RAYON_NUM_THREADS").ok()?.trim().parse::<usize>().ok().filter(|&n| n > 0)?;
    let n = capped_threads(asked);
    // Fails only when the global pool is already built (never, this early in a command).
    let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
    Some(n)
}

/// Writes `text` to standard output. A reader that went away (`heavyball plan … | head`) ends
/// the output quietly, the command's work being done; any other failure (a full disk behind
/// `> file`) is an error of one line.
fn print_out(text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("cannot write to standard output"))
        }
        _ => Ok(()),
    }
}

/// `heavyball hessian`'s closing line for one sweep.
fn hessian_line(report: &sweep::HessianReport) -> String {
    format!(
        "λ_max and λ_min of {} runs ({} computed, {} kept from before) in {}\n",
        report.runs,
        report.computed,
        report.kept,
        report.csv.display()
    )
}

/// The exit code for a stopped sweep (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let env_threads = env_threads();
    match cli.command {
        Command::Run { config, results, threads, quiet, shard } => {
            let (cfg, text) = Config::load(&config)?;
            sweep::check_results_dir(&results)?;
            let env = |name: &str| std::env::var(name).ok();
            let shard = shard.map(|s| s.resolve(env)).transpose()?;
            let stop = Arc::new(AtomicBool::new(false));
            let nothing_in_flight = Arc::new(AtomicBool::new(true));
            watch_signals(&stop, &nothing_in_flight)?;
            let opts = RunOptions {
                results,
                threads: threads
                    .map(usize::from)
                    .or_else(|| shard::slurm_cpus(env))
                    .map(capped_threads)
                    .or(env_threads),
                quiet,
                config_text: Some(text),
                stop,
                shard,
                nothing_in_flight,
            };
            let ran = match cfg.is_study() {
                true => crate::study::run(&cfg, &opts).map(|done| {
                    done.iter().map(|(name, r)| format!("{name}: {}\n", r.line())).collect::<String>()
                }),
                false => sweep::run(&cfg, &opts).map(|report| format!("{}: {}\n", cfg.name, report.line())),
            };
            match ran {
                Ok(text) => {
                    print_out(&text)?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) if e.is::<Interrupted>() => {
                    // The same command, as the shell takes it: with the results folder, the
                    // threads and the shard when they were given.
                    let word = |p: &Path| slurm::quote(&p.to_string_lossy());
                    let mut again = format!("heavyball run {}", word(&config));
                    if opts.results != Path::new("results") {
                        again.push_str(&format!(" --results {}", word(&opts.results)));
                    }
                    if let Some(t) = threads {
                        again.push_str(&format!(" --threads {t}"));
                    }
                    if let Some(shard) = &opts.shard {
                        again.push_str(&format!(" --shard {}/{}", shard.index, shard.count));
                    }
                    crate::errors::to_stderr(&format!("{}: {again}", crate::errors::one_line(&e)));
                    Ok(ExitCode::from(EXIT_INTERRUPTED))
                }
                Err(e) => Err(e),
            }
        }
        Command::Hessian { sweep, results, steps, threads } => {
            let threads = threads.map(usize::from).map(capped_threads).or(env_threads);
            if let Some(study) = crate::study::locate(&sweep, &results)? {
                let mut text = String::new();
                for (name, done) in crate::study::hessian(&study, steps as usize, threads)? {
                    match done {
                        Ok(report) => {
                            for (run, why) in &report.damaged {
                                crate::errors::to_stderr(&format!("warning: {name}: {run} left out: {why}"));
                            }
                            text.push_str(&format!("{name}: {}", hessian_line(&report)));
                        }
                        Err(why) => text.push_str(&format!("{name}: {why}\n")),
                    }
                }
                print_out(&text)?;
                return Ok(ExitCode::SUCCESS);
            }
            let report = sweep::hessian(&sweep, &results, steps as usize, threads)?;
            for (run, why) in &report.damaged {
                crate::errors::to_stderr(&format!("warning: {run} left out: {why}"));
            }
            print_out(&hessian_line(&report))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Report { sweep, results, target } => {
            match crate::study::locate(&sweep, &results)? {
                Some(study) => {
                    let through = sweep.is_file().then_some(sweep.as_path());
                    print_out(&crate::study::report(&study, target, through)?)?
                }
                None => print_out(&crate::report::run(&sweep, &results, target)?)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan { config, results, shards } => {
            // Nothing to save: a signal ends plan at once, with the same exit code as run.
            let always = Arc::new(AtomicBool::new(true));
            watch_signals(&Arc::new(AtomicBool::new(false)), &always)?;
            let cfg = Config::from_path(&config)?;
            let shards = shards.map(|n| n as usize);
            match cfg.is_study() {
                true => print_out(&crate::study::plan(&cfg, &results, shards)?)?,
                false => print_out(&sweep::plan(&cfg, &results, shards)?.render())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Slurm { config, results, tasks, cpus_per_task, time, partition, submit, chained_from } => {
            let cfg = Config::from_path(&config)?;
            sweep::check_results_dir(&results)?;
            let job = slurm::Job {
                config,
                results,
                tasks: tasks as usize,
                cpus_per_task: cpus_per_task as usize,
                time,
                partition,
                chained_from,
            };
            let text = match slurm::write_array(&cfg, &job)? {
                slurm::Written::Finished(text) => text,
                slurm::Written::Array(array) if submit => slurm::submit(&cfg, &job, &array)?,
                slurm::Written::Array(array) => array.unsubmitted(),
            };
            print_out(&text)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The first Ctrl-C or SIGTERM sets `stop` (runs save and stop); a second one exits at once,
/// which is safe because every file is replaced atomically.
fn watch_signals(stop: &Arc<AtomicBool>, nothing_in_flight: &Arc<AtomicBool>) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for signal in [SIGINT, SIGTERM] {
        // Before training (reading the data, judging the runs) there is nothing to save: exit at
        // once. While training: the first signal asks the runs in flight to save and stop, a
        // second exits at once.
        signal_hook::flag::register_conditional_shutdown(
            signal,
            i32::from(EXIT_INTERRUPTED),
            Arc::clone(nothing_in_flight),
        )
        .and_then(|_| {
            signal_hook::flag::register_conditional_shutdown(
                signal,
                i32::from(EXIT_INTERRUPTED),
                Arc::clone(stop),
            )
        })
        .and_then(|_| signal_hook::flag::register(signal, Arc::clone(stop)))
        .context("cannot install the signal handlers")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
