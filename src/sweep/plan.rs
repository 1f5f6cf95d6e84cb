//! `heavyball plan`: what `heavyball run` would do with each run of a sweep, without training
//! or writing anything, and the text that shows it.

use std::path::{Path, PathBuf};

use anyhow::Result;
use heavyball_core::Real;
use heavyball_core::model::Shape;
use rayon::prelude::*;

use super::load::{InPrecision, Loaded, load};
use super::resume::{self, Action};
use super::schedule::assignment;
use crate::config::{Config, ConfirmSpec, TuneSpec};
use crate::grid::short_number;
use crate::store::{SweepDir, run_is_busy};
use crate::tune::{self, Confirmation, Tuning};

/// One run's line in a plan.
#[derive(Clone, Debug)]
pub struct PlanRow {
    /// The run's folder name.
    pub run: String,
    /// What it needs.
    pub action: Action,
    /// Iterations of work left.
    pub work_left: usize,
    /// Useful flops of that work.
    pub flops_left: f64,
    /// The run's shard, when the plan is for a sharded sweep.
    pub shard: Option<usize>,
    /// True when a process is training the run right now.
    pub busy: bool,
}

/// A dry run: what `heavyball run` would do with each run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The sweep's folder.
    pub dir: SweepDir,
    /// One row per grid point, in grid order.
    pub rows: Vec<PlanRow>,
    /// Run folders of earlier configs.
    pub stale: Vec<PathBuf>,
    /// Run folders of this config's tuning rounds that the rounds decided now do not include:
    /// a later round may take them up (after `iterations` was raised, once the rounds before
    /// them are extended).
    pub undecided: Vec<PathBuf>,
    /// The number of shards, for a sharded sweep.
    pub shards: Option<usize>,
    /// Where the tuning stands, for a tuned sweep, with its settings.
    pub tuning: Option<(TuneSpec, Tuning)>,
    /// For a sweep with `[confirm]`: its settings and the round, once decided.
    pub confirmation: Option<(ConfirmSpec, Option<Confirmation>)>,
}

impl Plan {
    /// The plan as text: a line per run, then totals.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let width = self.rows.iter().map(|r| r.run.len()).max().unwrap_or(3);
        for r in &self.rows {
            let shard = r.shard.map(|s| format!("shard {s:<3} ")).unwrap_or_default();
            let busy = if r.busy { ", training now" } else { "" };
            out.push_str(&format!("{:width$}  {shard}{}{busy}\n", r.run, r.action.describe()));
        }
        let name = |p: &PathBuf| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for u in &self.undecided {
            let name = name(u);
            out.push_str(&format!(
                "{name:width$}  not decided by the rounds so far (a later round may take it up)\n"
            ));
        }
        for s in &self.stale {
            let name = name(s);
            out.push_str(&format!("{name:width$}  stale (not in the current grid; left untouched)\n"));
        }
        for (shard, rows) in self.by_shard() {
            let finished = rows.iter().filter(|r| matches!(r.action, Action::Finished { .. })).count();
            let busy = rows.iter().filter(|r| r.busy && !matches!(r.action, Action::Finished { .. })).count();
            let left: usize = rows.iter().map(|r| r.work_left).sum();
            out.push_str(&format!(
                "shard {shard}: {finished}/{} runs finished, {busy} training now, {} not started or partial; \
                 {left} iterations left\n",
                rows.len(),
                rows.len() - finished - busy,
            ));
        }
        if let Some((spec, tuning)) = &self.tuning {
            out.push_str(&tuning.describe(spec));
        }
        match &self.confirmation {
            Some((spec, Some(c))) => {
                out.push_str(&format!(
                    "Confirmation by {} (seeds by their {}): {} selected settings on {} fresh seeds ({}), {} runs\n",
                    spec.by.name(),
                    spec.aggregate.name(),
                    c.picks.len(),
                    c.seeds.len(),
                    super::seed_list(&c.seeds),
                    c.picks.len() * c.seeds.len()
                ));
                for p in &c.picks {
                    let method = tune::Method { hidden: p.hidden, alpha: p.alpha };
                    out.push_str(&format!("  {method}: γ = {}\n", short_number(p.gamma)));
                }
            }
            Some((spec, None)) => out.push_str(&format!(
                "Confirmation on {} fresh seeds: decided once every run above is finished\n",
                spec.seeds
            )),
            None => {}
        }
        let count = |f: &dyn Fn(&Action) -> bool| self.rows.iter().filter(|r| f(&r.action)).count();
        let left: usize = self.rows.iter().map(|r| r.work_left).sum();
        let flops: f64 = self.rows.iter().map(|r| r.flops_left).sum();
        out.push_str(&format!(
            "{} runs: {} new, {} partial, {} to extend, {} finished, {} to restart; {} stale{}. \
             Work left: {left} iterations, {:.3} TFLOP. Results in {}\n",
            self.rows.len(),
            count(&|a| *a == Action::New),
            count(&|a| matches!(a, Action::Resume { done_at: None, .. })),
            count(&|a| matches!(a, Action::Resume { done_at: Some(_), .. })),
            count(&|a| matches!(a, Action::Finished { .. })),
            count(&|a| matches!(a, Action::Restart(_))),
            self.stale.len(),
            match self.undecided.len() {
                0 => String::new(),
                n => format!(", {n} outside the rounds decided now (kept)"),
            },
            flops / 1e12,
            self.dir.root().display()
        ));
        out
    }
}

impl Plan {
    /// The rows of each shard, in shard order (empty when the plan is not sharded).
    pub fn by_shard(&self) -> Vec<(usize, Vec<&PlanRow>)> {
        let Some(shards) = self.shards else { return Vec::new() };
        (0..shards).map(|s| (s, self.rows.iter().filter(|r| r.shard == Some(s)).collect())).collect()
    }

    /// The runs that are finished (done or diverged).
    pub fn finished(&self) -> usize {
        self.rows.iter().filter(|r| matches!(r.action, Action::Finished { .. })).count()
    }

    /// The shards that still have runs to train (or being trained).
    pub fn unfinished_shards(&self) -> Vec<usize> {
        self.by_shard()
            .into_iter()
            .filter(|(_, rows)| rows.iter().any(|r| r.work_left > 0 || r.busy))
            .map(|(s, _)| s)
            .collect()
    }
}

/// Builds the plan for a config without training or writing anything; with `shards`, also
/// which shard of that many each run belongs to.
pub fn plan(config: &Config, results: &Path, shards: Option<usize>) -> Result<Plan> {
    let runs = config.grid.run_count();
    if let Some(n) = shards
        && n > runs
    {
        anyhow::bail!(
            "{n} shards are more than the {runs} runs of sweep {}: use at most {runs}",
            config.name
        );
    }
    load(config, None, |loaded| match loaded {
        InPrecision::F32(p) => plan_typed(config, results, p, shards),
        InPrecision::F64(p) => plan_typed(config, results, p, shards),
    })
}

fn plan_typed<T: Real>(
    config: &Config,
    results: &Path,
    prepared: Loaded<T>,
    shards: Option<usize>,
) -> Result<Plan> {
    super::check_sharpness(config, &prepared.data)?;
    let Loaded { data, runs, ids } = prepared;
    let dir = SweepDir::new(results, &config.name);
    let (runs, ids, rounds) = match config.tune.is_some() || config.confirm.is_some() {
        false => (runs, ids, tune::Rounds::default()),
        true => super::decided_runs(config, &dir, &data),
    };
    let tuning = config.tune.zip(rounds.tuning);
    let confirmation = config.confirm.map(|spec| (spec, rounds.confirmation));
    let target = config.train.iterations;
    let shard_of = shards.map(|n| assignment(&runs, &data, n));
    let rows = runs
        .par_iter()
        .zip(ids.par_iter())
        .enumerate()
        .map(|(i, (spec, id))| {
            let shape =
                Shape { n_features: data.n_features(), n_hidden: spec.hidden, n_classes: data.n_classes };
            let action = resume::inspect::<T>(&dir.run(id), id, shape, target).action;
            let work_left = action.work_left(target);
            let flops_left = work_left as f64 * shape.flops_per_iteration(data.train.len());
            let busy = run_is_busy(&dir, id);
            let shard = shard_of.as_ref().map(|of| of[i]);
            PlanRow { run: id.dir_name(), action, work_left, flops_left, shard, busy }
        })
        .collect();
    let (undecided, stale) = super::split_outside(config, &dir, &ids, &data.fingerprint)?;
    Ok(Plan { dir, rows, stale, undecided, shards, tuning, confirmation })
}
