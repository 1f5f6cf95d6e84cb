//! The checks that turn each raw section into its validated type, or into a [`Rule`] broken,
//! in words that name the key and the fix.

use std::fmt;
use std::path::Path;

use super::ranges::short_number;
use super::ranges::values;
use super::raw::{OneOrMany, RawConfirm, RawData, RawGrid, RawTrain, RawTune};
use super::spec::*;
use super::{MAX_ITERATIONS, MAX_LIST, MAX_ROUNDS, MAX_RUNS, Rule};

/// The longest sweep name: it names the results folder and, in `heavyball slurm`, the file
/// `<name>.sbatch`, which must stay within the 255 bytes a file name may have.
const MAX_NAME: usize = 200;

/// A sweep name: letters, digits, '-', '_' or '.', at most [`MAX_NAME`] long.
pub(super) fn check_name(name: &str) -> Result<(), Rule> {
    if name.len() > MAX_NAME {
        return Err(Rule(format!("name is {} characters long; at most {MAX_NAME} are allowed", name.len())));
    }
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Rule(format!(
            "name must be ASCII letters, digits, '-', '_' or '.' (got {name:?}): it names the results folder"
        )))
    }
}

/// The most workloads one study holds.
pub const MAX_WORKLOADS: usize = 100;

/// Names a study's workloads may not take: the study's own folders and files beside theirs.
const RESERVED: [&str; 5] = ["report", "slurm", "study.toml", "summary.csv", "curves.csv"];

/// A single `[data]` table: a sweep's one data set.
pub(super) fn check_data(raw: RawData, base: &Path) -> Result<DataSpec, Rule> {
    if raw.name.is_some() {
        return Err(
            "name belongs in the [[data]] tables of a study; a single [data] table is named by the sweep"
                .into(),
        );
    }
    let condition = match raw.synthetic.as_ref().map(|s| s.condition.clone()) {
        Some(OneOrMany::Many(_)) => {
            return Err("a list of conditions makes a workload of each: write the data as a [[data]] table \
                        with a name (a study)"
                .into());
        }
        Some(OneOrMany::One(kappa)) => kappa,
        None => 1.0,
    };
    data_spec(raw, base, condition)
}

/// The `[[data]]` tables of a study: each a named workload, a synthetic table with a list of
/// conditions expanding into one workload per value (named `<name>-k<κ>`).
pub(super) fn check_workloads(tables: Vec<RawData>, base: &Path) -> Result<Vec<Workload>, Rule> {
    if tables.is_empty() {
        return Err(
            "there is no [[data]] table: give each workload a table with a name and a data source".into()
        );
    }
    let mut out: Vec<Workload> = Vec::new();
    let mut tables_named: Vec<String> = Vec::new();
    for (i, raw) in tables.into_iter().enumerate() {
        let Some(name) = raw.name.clone() else {
            return Err(Rule(format!(
                "table {} has no name: each [[data]] table names its workload (name = \"…\")",
                i + 1
            )));
        };
        // One table per name, even where their conditions would name the workloads apart: a
        // conditioning series is one table's list, never several tables joined by a name.
        if tables_named.contains(&name) {
            return Err(Rule(format!("two [[data]] tables are named {name:?}; each needs its own name")));
        }
        tables_named.push(name.clone());
        let conditions = match raw.synthetic.as_ref().map(|s| s.condition.clone()) {
            Some(OneOrMany::Many(list)) if list.is_empty() => {
                return Err(Rule(format!("workload {name:?}: condition is an empty list")));
            }
            Some(OneOrMany::Many(list)) => list
                .iter()
                .map(|&kappa| (format!("{name}-k{}", short_number(kappa)), kappa))
                .collect::<Vec<_>>(),
            Some(OneOrMany::One(kappa)) => vec![(name.clone(), kappa)],
            None => vec![(name.clone(), 1.0)],
        };
        let series =
            (raw.synthetic.as_ref().map(|s| &s.condition).is_some_and(|c| matches!(c, OneOrMany::Many(_))))
                .then(|| name.clone());
        for (workload, kappa) in conditions {
            check_name(&workload).map_err(|Rule(m)| Rule(format!("workload {workload:?}: {m}")))?;
            if RESERVED.contains(&workload.as_str()) {
                return Err(Rule(format!(
                    "workload {workload:?}: that name is the study's own folder or file; choose another"
                )));
            }
            if workload.starts_with('.') {
                return Err(Rule(format!(
                    "workload {workload:?}: a name starting with '.' is a hidden folder, which heavyball \
                     keeps for its own temporary files; choose another"
                )));
            }
            if out.iter().any(|w| w.name == workload) {
                return Err(Rule(format!("two workloads are named {workload:?}; each needs its own name")));
            }
            let data = data_spec(raw.clone(), base, kappa)
                .map_err(|Rule(m)| Rule(format!("workload {workload:?}: {m}")))?;
            out.push(Workload { name: workload, data, series: series.clone() });
        }
    }
    if out.len() > MAX_WORKLOADS {
        return Err(Rule(format!("{} workloads; a study holds at most {MAX_WORKLOADS}", out.len())));
    }
    Ok(out)
}

/// One data table's spec, with the synthetic data's condition (when synthetic) given.
fn data_spec(raw: RawData, base: &Path, condition: f64) -> Result<DataSpec, Rule> {
    for (key, path) in [("csv", &raw.csv), ("idx", &raw.idx)] {
        if path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            return Err(Rule(format!("{key} is empty: give the path of the data")));
        }
    }
    let given = [raw.builtin.is_some(), raw.csv.is_some(), raw.synthetic.is_some(), raw.idx.is_some()];
    let source = match (raw.builtin, raw.csv, raw.synthetic, raw.idx) {
        (None, None, None, Some(dir)) => {
            Source::Idx { dir: if dir.is_absolute() { dir } else { base.join(dir) } }
        }
        (Some(name), None, None, None) => {
            let found = Builtin::ALL.iter().find(|(n, _)| *n == name).map(|(_, b)| *b);
            let builtin = found.ok_or_else(|| {
                let names: Vec<_> = Builtin::ALL.iter().map(|(n, _)| *n).collect();
                format!("builtin = {name:?} is not a built-in data set (choose one of {})", names.join(", "))
            })?;
            Source::Builtin(builtin)
        }
        (None, Some(path), None, None) => {
            let path = if path.is_absolute() { path } else { base.join(path) };
            Source::Csv { path, label: raw.label.clone().unwrap_or_else(|| "label".to_string()) }
        }
        (None, None, Some(s), None) => {
            if s.samples < 2 || s.features == 0 || s.classes < 2 {
                return Err(Rule(format!(
                    "[data.synthetic] needs samples ≥ 2, features ≥ 1 and classes ≥ 2 (got {}, {}, {})",
                    s.samples, s.features, s.classes
                )));
            }
            if !(s.noise.is_finite() && s.noise >= 0.0) {
                return Err(Rule(format!("[data.synthetic] noise must be finite and ≥ 0 (got {})", s.noise)));
            }
            if !(condition.is_finite() && condition >= 1.0) {
                return Err(Rule(format!(
                    "[data.synthetic] condition must be a finite number ≥ 1 (got {condition})"
                )));
            }
            if condition > 1.0 && s.features < 2 {
                return Err(Rule("[data.synthetic] condition > 1 needs at least 2 features".into()));
            }
            Source::Synthetic(Synthetic {
                samples: s.samples,
                features: s.features,
                classes: s.classes,
                seed: s.seed,
                noise: s.noise,
                condition,
            })
        }
        _ if given.iter().all(|g| !g) => {
            return Err(
                "no data source: set builtin = \"digits\", csv = \"file.csv\", idx = \"DIR\" or a [data.synthetic] table"
                    .into(),
            );
        }
        _ => return Err("give exactly one of builtin, csv, idx and [data.synthetic]".into()),
    };
    if raw.label.is_some() && !matches!(source, Source::Csv { .. }) {
        return Err("label applies to csv data only".into());
    }
    if source.has_fixed_test_set() && raw.test_fraction != 0.0 {
        return Err(Rule(format!(
            "test_fraction = {} does not apply to IDX data: its t10k files are the test set",
            raw.test_fraction
        )));
    }
    if !(raw.test_fraction >= 0.0 && raw.test_fraction < 1.0) {
        return Err(Rule(format!(
            "test_fraction must be in [0, 1) (got {}); 0 means no test set",
            raw.test_fraction
        )));
    }
    Ok(DataSpec {
        source,
        test_fraction: raw.test_fraction,
        standardize: raw.standardize,
        split_seed: raw.split_seed,
    })
}

pub(super) fn check_train(raw: RawTrain) -> Result<TrainSpec, Rule> {
    if raw.iterations == 0 {
        return Err("iterations must be ≥ 1 (got 0)".into());
    }
    if raw.iterations > MAX_ITERATIONS {
        return Err(Rule(format!("iterations must be at most {MAX_ITERATIONS} (got {})", raw.iterations)));
    }
    if raw.chunk_size == 0 {
        return Err("chunk_size must be ≥ 1 (got 0)".into());
    }
    if let Some(f) = raw.divergence_factor
        && !(f.is_finite() && f > 1.0)
    {
        return Err(Rule(format!("divergence_factor must be finite and > 1 (got {f})")));
    }
    if raw.checkpoint_every == Some(0) {
        return Err("checkpoint_every must be ≥ 1 (got 0); leave it out to checkpoint by time".into());
    }
    let sharpness = match (raw.sharpness_every.unwrap_or(0), raw.sharpness_steps) {
        (0, Some(_)) => {
            return Err(
                "sharpness_steps needs sharpness_every ≥ 1 (sharpness_every = 0 or left out means off)"
                    .into(),
            );
        }
        (0, None) => None,
        (_, Some(steps)) if steps < 2 => {
            return Err(Rule(format!("sharpness_steps must be ≥ 2 (got {steps})")));
        }
        (every, steps) => Some(SharpnessSpec { every, steps: steps.unwrap_or(DEFAULT_SHARPNESS_STEPS) }),
    };
    Ok(TrainSpec {
        sharpness,
        divergence_factor: raw.divergence_factor,
        checkpoint_every: raw.checkpoint_every,
        iterations: raw.iterations,
        objective: raw.objective,
        precision: raw.precision,
        chunk_size: raw.chunk_size,
    })
}

pub(super) fn check_grid(raw: RawGrid) -> Result<GridSpec, Rule> {
    let gamma = values("gamma", raw.gamma)?;
    let alpha = values("alpha", raw.alpha)?;
    check_list("hidden", &raw.hidden, |&m| m >= 1, "M must be ≥ 1")?;
    check_list("gamma", &gamma, |&g| g.is_finite() && g > 0.0, "gamma must be > 0 and finite")?;
    check_list("alpha", &alpha, |&a| a > 0.0 && a <= 1.0, "alpha must be in (0, 1]")?;
    check_list("seed", &raw.seed, |_| true, "")?;
    let grid = GridSpec { hidden: raw.hidden, gamma, alpha, seed: raw.seed };
    let runs = grid.run_count();
    if runs > MAX_RUNS {
        return Err(Rule(format!("the grid has {runs} runs; one sweep holds at most {MAX_RUNS}")));
    }
    Ok(grid)
}

pub(super) fn check_tune(raw: RawTune, data: &DataSpec, grid: &GridSpec) -> Result<TuneSpec, Rule> {
    if raw.gamma != "bracket" {
        return Err(Rule(format!(
            "gamma = {:?} is not a tuning mode (the one mode is \"bracket\")",
            raw.gamma
        )));
    }
    let by = check_criterion(&raw.by, data)?;
    let aggregate = check_aggregate(&raw.aggregate)?;
    if !(raw.resolution.is_finite() && raw.resolution > 1.0) {
        return Err(Rule(format!("resolution must be a finite number > 1 (got {})", raw.resolution)));
    }
    // Read as a signed number, so that -1 is told the range, not that it is negative.
    let max_rounds = match usize::try_from(raw.max_rounds) {
        Ok(n @ 1..=MAX_ROUNDS) => n,
        _ => {
            return Err(Rule(format!(
                "max_rounds must be between 1 and {MAX_ROUNDS} (got {})",
                raw.max_rounds
            )));
        }
    };
    if grid.gamma.len() < 2 {
        return Err(
            "bracketing needs at least two gamma values in [grid], whose ratio sets the step beyond an edge"
                .into(),
        );
    }
    let most = grid.run_count().saturating_add(tuning_runs(grid, max_rounds));
    if most > MAX_RUNS {
        return Err(Rule(format!(
            "the grid and max_rounds = {max_rounds} may reach {most} runs; one sweep holds at most {MAX_RUNS}"
        )));
    }
    Ok(TuneSpec { by, aggregate, resolution: raw.resolution, max_rounds })
}

/// The most runs the tuning rounds after the grid may add: each round at most one γ per
/// method, with every seed.
fn tuning_runs(grid: &GridSpec, max_rounds: usize) -> usize {
    (grid.hidden.len() * grid.alpha.len() * grid.seed.len()).saturating_mul(max_rounds - 1)
}

/// A criterion by its name; `test_loss` only with a test set.
fn check_criterion(name: &str, data: &DataSpec) -> Result<Criterion, Rule> {
    let by = Criterion::ALL.iter().find(|(n, _)| *n == name).map(|(_, c)| *c).ok_or_else(|| {
        let names: Vec<_> = Criterion::ALL.iter().map(|(n, _)| *n).collect();
        Rule(format!("by = {name:?} is not a criterion (choose one of {})", names.join(", ")))
    })?;
    if by == Criterion::TestLoss && data.test_fraction == 0.0 && !data.source.has_fixed_test_set() {
        return Err("by = \"test_loss\" needs a test set: set test_fraction in [data]".into());
    }
    Ok(by)
}

/// An aggregate by its name.
fn check_aggregate(name: &str) -> Result<Aggregate, Rule> {
    Aggregate::ALL.iter().find(|(n, _)| *n == name).map(|(_, a)| *a).ok_or_else(|| {
        Rule(format!("aggregate = {name:?} is not a way to sum up seeds (choose median or mean)"))
    })
}

/// The most fresh seeds a `[confirm]` section may ask for.
pub const MAX_CONFIRM_SEEDS: usize = 1000;

/// `[confirm]`, after `[tune]`: confirmation tests the bests tuning bracketed, so a criterion
/// it leaves out follows `[tune]`'s (when that is a training loss), and one that differs from it
/// is refused rather than silently choosing bests tuning never bracketed.
pub(super) fn check_confirm(
    raw: RawConfirm,
    data: &DataSpec,
    grid: &GridSpec,
    tune: Option<&TuneSpec>,
) -> Result<ConfirmSpec, Rule> {
    let seeds = match usize::try_from(raw.seeds) {
        Ok(n @ 1..=MAX_CONFIRM_SEEDS) => n,
        _ => {
            return Err(Rule(format!(
                "seeds must be a whole number from 1 to {MAX_CONFIRM_SEEDS} (got {})",
                raw.seeds
            )));
        }
    };
    let tuned = tune.filter(|t| t.by.is_training_loss());
    let by = match (&raw.by, tuned) {
        (Some(name), _) => check_criterion(name, data)?,
        (None, Some(t)) => t.by,
        (None, None) => Selection::DEFAULT.by,
    };
    let aggregate = match (&raw.aggregate, tuned) {
        (Some(name), _) => check_aggregate(name)?,
        (None, Some(t)) => t.aggregate,
        (None, None) => Selection::DEFAULT.aggregate,
    };
    if let Some(t) = tuned {
        let differs = |key: &str, mine: &str, tunes: &str| {
            Rule(format!(
                "{key} = {mine:?} differs from [tune]'s {key} = {tunes:?}: confirmation would test bests \
                 that tuning did not bracket; leave {key} out of [confirm] (it follows [tune]) or set both alike"
            ))
        };
        if by != t.by {
            return Err(differs("by", by.name(), t.by.name()));
        }
        if aggregate != t.aggregate {
            return Err(differs("aggregate", aggregate.name(), t.aggregate.name()));
        }
    }
    // At most four settings per M (each method's best in each view), every fresh seed of each,
    // after the grid and whatever tuning rounds may add.
    let tuning = tune.map_or(0, |t| tuning_runs(grid, t.max_rounds));
    let most =
        grid.run_count().saturating_add(tuning).saturating_add(grid.hidden.len().saturating_mul(4 * seeds));
    if most > MAX_RUNS {
        let what = if tune.is_some() { "the grid, its tuning rounds" } else { "the grid" };
        return Err(Rule(format!(
            "{what} and {seeds} confirmation seeds may reach {most} runs; one sweep holds at most {MAX_RUNS}"
        )));
    }
    Ok(ConfirmSpec { seeds, by, aggregate })
}

/// A grid list must be non-empty, free of duplicates, and each value must pass `ok`.
fn check_list<V: PartialEq + fmt::Display>(
    key: &str,
    values: &[V],
    ok: impl Fn(&V) -> bool,
    rule: &str,
) -> Result<(), Rule> {
    if values.is_empty() {
        return Err(Rule(format!("{key} is an empty list; give at least one value")));
    }
    if values.len() > MAX_LIST {
        return Err(Rule(format!("{key} lists {} values; at most {MAX_LIST} are allowed", values.len())));
    }
    if let Some(bad) = values.iter().find(|v| !ok(v)) {
        return Err(Rule(format!("{rule} (got {bad} in {key})")));
    }
    for (i, v) in values.iter().enumerate() {
        if values[..i].contains(v) {
            return Err(Rule(format!("{key} lists {v} twice")));
        }
    }
    Ok(())
}
