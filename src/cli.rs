//! The command line: subcommands and their options (clap), and the glue that calls the library.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::sweep::{self, RunOptions};

const EXIT_CODES: &str =
    "Exit codes: 0 success; 1 an error (bad config or data, I/O); 2 bad command-line usage.";

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
    },
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run { config, results, threads, quiet } => {
            let cfg = Config::from_path(&config)?;
            let text = std::fs::read_to_string(&config)
                .with_context(|| format!("cannot read {}", config.display()))?;
            sweep::check_results_dir(&results)?;
            let opts =
                RunOptions { results, threads: threads.map(usize::from), quiet, config_text: Some(text) };
            let report = sweep::run(&cfg, &opts)?;
            println!("{}: {}", cfg.name, report.line());
            Ok(())
        }
    }
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
