//! Studies: a config with `[[data]]` tables trains the same grid on several workloads. Each
//! workload is a sweep of its own in `<study>/<workload>/` (so its runs' files are those of the
//! workload run alone, and resume, extension, tuning and confirmation work per workload), run
//! one after another; the study adds `study.toml`, summaries with a `workload` column and a
//! report across the workloads.

use std::path::Path;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result, bail};

use crate::config::{Config, Source};
use crate::report;
use crate::store::study::{STUDY_FORMAT, StudyDir, StudyMeta, StudyWorkload, write_summaries};
use crate::store::{SweepDir, SweepLock};
use crate::sweep::{self, HessianReport, RunOptions, SweepReport};

/// The study a command names: a config with `[[data]]` tables (its folder under `results`), or
/// a study's folder. `None` for a plain sweep.
pub fn locate(target: &Path, results: &Path) -> Result<Option<StudyDir>> {
    if target.is_file() {
        let config = Config::from_path(target)?;
        return Ok(config.is_study().then(|| StudyDir::new(results, &config.name)));
    }
    let dir = StudyDir::at(target);
    Ok(dir.exists().then_some(dir))
}

/// What `study.toml` records of a config's workloads.
fn meta_of(config: &Config) -> StudyMeta {
    let workloads = config
        .study
        .iter()
        .map(|w| StudyWorkload {
            name: w.name.clone(),
            condition: match &w.data.source {
                Source::Synthetic(s) => Some(s.condition),
                _ => None,
            },
            series: w.series.clone(),
        })
        .collect();
    StudyMeta { format: STUDY_FORMAT, name: config.name.clone(), workloads }
}

/// Refuses a study whose folder holds a plain sweep, and a study whose workloads' data cannot
/// fit in memory: every data set read from a file or built in held together (each is read
/// before any trains), beside the largest synthetic one (made at its turn), before anything is
/// written.
fn check(config: &Config, dir: &StudyDir) -> Result<()> {
    if dir.root().join("sweep.toml").exists() {
        bail!(
            "{} holds a sweep, not a study: give the study ([[data]] tables) another name or results folder",
            dir.root().display()
        );
    }
    let bytes = |w: &crate::config::Workload| crate::data::bytes_needed(&w.data.source);
    let (made, read): (Vec<_>, Vec<_>) =
        config.study.iter().partition(|w| matches!(w.data.source, Source::Synthetic(_)));
    let read = read.into_iter().try_fold(0u64, |a, w| a.checked_add(bytes(w)?));
    let made = made.into_iter().try_fold(0u64, |a, w| Some(a.max(bytes(w)?)));
    let all = read.zip(made).and_then(|(r, m)| r.checked_add(m));
    let what = format!("the data of study {}'s {} workloads", config.name, config.study.len());
    crate::memory::check(&what, all).map_err(anyhow::Error::msg)
}

/// Runs every workload of a study as its own sweep, in the config's order, then writes the
/// study's summaries. Every workload's data from a file or built in is read first, once, so
/// that bad or missing data anywhere is refused before anything is written; synthetic data,
/// which cannot be bad, is made at its workload's turn. Returns each workload's closing line.
/// An interrupt stops at the workload in progress (its runs saved), as it stops a sweep.
pub fn run(config: &Config, opts: &RunOptions) -> Result<Vec<(String, SweepReport)>> {
    let dir = StudyDir::new(&opts.results, &config.name);
    check(config, &dir)?;
    let workloads = config.workloads();
    let mut samples = Vec::with_capacity(workloads.len());
    for workload in &workloads {
        samples.push(match workload.data.source {
            Source::Synthetic(_) => None,
            ref source => {
                let read = crate::data::load(source);
                Some(read.with_context(|| format!("workload {}", workload.name))?)
            }
        });
    }
    crate::store::create_within(&opts.results, dir.root())?;
    // The study's own lock, beside each workload's: two plain runs of one study (or of two
    // configs of one name) never write its files at once; shards share it.
    let _lock = SweepLock::acquire(&SweepDir::at(dir.root()), opts.shard.is_some())?;
    meta_of(config).write(&dir.meta())?;
    // Each workload's own folder, never a link (to another workload's, whose runs it would
    // mix with its own) nor a file.
    for workload in &workloads {
        crate::store::create_within(dir.root(), dir.workload(&workload.name).root())?;
    }
    let inside = RunOptions { results: dir.root().to_path_buf(), ..opts.clone() };
    let mut done = Vec::new();
    let names: Vec<String> = config.study.iter().map(|w| w.name.clone()).collect();
    for (workload, samples) in workloads.iter().zip(samples) {
        // Between workloads nothing is in flight: a signal ends the study at once.
        inside.nothing_in_flight.store(true, Ordering::SeqCst);
        if inside.stop.load(Ordering::SeqCst) {
            break;
        }
        let ran = match samples {
            Some(samples) => sweep::run_on(workload, samples, &inside),
            None => sweep::run(workload, &inside),
        };
        match ran {
            Ok(report) => done.push((workload.name.clone(), report)),
            Err(e) => {
                write_summaries(&dir, &names)?;
                return Err(e.context(format!("workload {}", workload.name)));
            }
        }
    }
    write_summaries(&dir, &names)?;
    Ok(done)
}

/// `heavyball plan` on a study: each workload's plan under its name.
pub fn plan(config: &Config, results: &Path, shards: Option<usize>) -> Result<String> {
    let dir = StudyDir::new(results, &config.name);
    let mut out = String::new();
    for workload in config.workloads() {
        let plan = sweep::plan(&workload, dir.root(), shards)
            .with_context(|| format!("workload {}", workload.name))?;
        out.push_str(&format!("workload {}:\n{}", workload.name, plan.render()));
    }
    Ok(out)
}

/// The plans of every workload in one, for `heavyball slurm`: every run's row (its shard of
/// `shards` within its workload: task i of an array trains shard i of every workload, one
/// workload after another), in the study's folder; the rounds are each workload's own.
pub fn merged_plan(config: &Config, results: &Path, shards: Option<usize>) -> Result<sweep::Plan> {
    let dir = StudyDir::new(results, &config.name);
    let mut merged: Option<sweep::Plan> = None;
    for workload in config.workloads() {
        let plan = sweep::plan(&workload, dir.root(), shards)
            .with_context(|| format!("workload {}", workload.name))?;
        match &mut merged {
            None => {
                merged = Some(sweep::Plan {
                    dir: crate::store::SweepDir::at(dir.root()),
                    tuning: None,
                    confirmation: None,
                    ..plan
                })
            }
            Some(all) => {
                all.rows.extend(plan.rows);
                all.stale.extend(plan.stale);
                all.undecided.extend(plan.undecided);
            }
        }
    }
    merged.context("a study has at least one workload")
}

/// What `heavyball hessian` did in one workload: its report, or why there was nothing to do.
pub type WorkloadHessian = (String, std::result::Result<HessianReport, String>);

/// `heavyball hessian` on every workload of a study that has finished runs; a workload not
/// begun yet, with no finished run, or being trained by another process is passed over with
/// the reason (as `report` passes it over). An error in any other workload is the command's.
pub fn hessian(dir: &StudyDir, steps: usize, threads: Option<usize>) -> Result<Vec<WorkloadHessian>> {
    let meta = StudyMeta::read(&dir.meta())?;
    let mut out = Vec::new();
    let mut busy = 0;
    for w in &meta.workloads {
        let folder = dir.workload(&w.name);
        if !folder.sweep_meta().exists() {
            out.push((w.name.clone(), Err("not begun yet; nothing to compute".to_string())));
            continue;
        }
        match sweep::hessian(folder.root(), dir.root(), steps, threads) {
            Ok(report) => out.push((w.name.clone(), Ok(report))),
            Err(e) if e.is::<sweep::NoFinishedRuns>() => {
                out.push((w.name.clone(), Err("no finished runs yet; nothing to compute".to_string())));
            }
            // Being trained now: passed over, to be computed once the run is done.
            Err(e) if e.is::<crate::store::InUse>() => {
                busy += 1;
                out.push((w.name.clone(), Err(format!("passed over: {}", crate::errors::one_line(&e)))));
            }
            Err(e) => return Err(e.context(format!("workload {}", w.name))),
        }
    }
    if busy == 0 && out.iter().all(|(_, r)| r.is_err()) {
        bail!("no workload of study {} has finished runs yet; nothing to compute", meta.name);
    }
    Ok(out)
}

/// `heavyball report` on a study: each workload's own report (as for a sweep), then the
/// study's, across them. `through`: the study's config, when the command named it. Returns the
/// text for the terminal.
pub fn report(dir: &StudyDir, target: Option<f64>, through: Option<&Path>) -> Result<String> {
    if let Some(t) = target
        && !(t.is_finite() && t > 0.0)
    {
        bail!("--target must be a positive loss (got {t})");
    }
    let meta = StudyMeta::read(&dir.meta())?;
    // Given the study's config, each workload's report says when the config differs from the
    // one it was run with.
    let config = through.map(Config::from_path).transpose()?;
    let workloads = config.as_ref().map(Config::workloads).unwrap_or_default();
    let mut text = String::new();
    let mut rows = Vec::new();
    for w in &meta.workloads {
        let folder = dir.workload(&w.name);
        match report::report_dir(&folder, target) {
            Ok((terminal, sweep, analysis)) => {
                let note = through
                    .zip(workloads.iter().find(|c| c.name == w.name))
                    .and_then(|(path, c)| report::config_note(path, c, &sweep.info))
                    .unwrap_or_default();
                text.push_str(&format!("== workload {} ==\n{note}{terminal}\n", w.name));
                rows.extend(report::study::rows(w, &sweep, &analysis));
            }
            Err(e) => text.push_str(&format!(
                "== workload {} ==\nno report: {}\n\n",
                w.name,
                crate::errors::one_line(&e)
            )),
        }
    }
    if rows.is_empty() {
        bail!("no workload of study {} has finished runs yet; nothing to report", meta.name);
    }
    text.push_str(&report::study::write(dir, &meta, &rows)?);
    Ok(text)
}
