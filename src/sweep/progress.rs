//! The progress bar over a whole sweep: iterations done, rate, ETA, and runs done and
//! diverged. Drawn on stderr only when it is a terminal.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// The progress bar over a whole sweep, drawn only on a terminal.
pub(super) struct Progress {
    bar: ProgressBar,
    counts: Mutex<(usize, usize)>,
    runs: usize,
}

impl Progress {
    pub(super) fn new(total_iterations: u64, runs: usize, quiet: bool) -> Self {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new(total_iterations);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} [{wide_bar}] {human_pos}/{human_len} it, {per_sec}, ETA {eta} | {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        };
        let progress = Progress { bar, counts: Mutex::new((0, 0)), runs };
        progress.show(0, 0);
        progress
    }

    fn show(&self, done: usize, diverged: usize) {
        self.bar.set_message(format!("runs {done}/{} done, {diverged} diverged", self.runs));
    }

    pub(super) fn advance(&self, iterations: u64) {
        self.bar.inc(iterations);
    }

    /// Counts a finished run; `rest` iterations (skipped, or left after a divergence) are added.
    pub(super) fn run_ended(&self, diverged: bool, rest: u64) {
        let mut counts = self.counts.lock().expect("progress counts");
        counts.0 += 1;
        counts.1 += usize::from(diverged);
        self.show(counts.0, counts.1);
        self.bar.inc(rest);
    }

    /// Prints a line on stderr without tearing the bar.
    pub(super) fn warn(&self, line: &str) {
        self.bar.suspend(|| crate::errors::to_stderr(line));
    }

    pub(super) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
