//! The sweep config: TOML text → raw serde structs → a validated [`Config`] that cannot be
//! invalid. Every check happens here, before any data is read or any file is written.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What went wrong with a config; every message names the file and the key or line.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}")]
    Read {
        /// The config path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML did not parse or did not match the expected keys and types.
    #[error("{origin} line {line}: {message}")]
    Syntax {
        /// The config's name (its path).
        origin: String,
        /// The 1-based line of the problem.
        line: usize,
        /// The parser's explanation, on one line.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{message} in {section} of {origin}")]
    Invalid {
        /// The config's name (its path).
        origin: String,
        /// The section, such as `[grid]`.
        section: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// A rule a value breaks, in words that name the key and the fix: the message of a
/// [`ConfigError::Invalid`] before the file and section are attached.
#[derive(Debug, Error)]
#[error("{0}")]
struct Rule(String);

impl From<String> for Rule {
    fn from(message: String) -> Self {
        Rule(message)
    }
}

impl From<&str> for Rule {
    fn from(message: &str) -> Self {
        Rule(message.to_string())
    }
}

/// The built-in data sets compiled into the binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// UCI optical digits: 1797 8×8 images, 10 classes.
    Digits,
    /// Fisher's iris: 150 samples, 4 features, 3 classes.
    Iris,
    /// Fashion-MNIST, 60000 + 10000 28×28 images, 10 classes: not embedded, read from
    /// Debian's `dataset-fashion-mnist` package.
    FashionMnist,
}

impl Builtin {
    /// Every built-in set, by name.
    pub const ALL: [(&'static str, Builtin); 3] =
        [("digits", Builtin::Digits), ("iris", Builtin::Iris), ("fashion-mnist", Builtin::FashionMnist)];

    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Digits => "digits",
            Builtin::Iris => "iris",
            Builtin::FashionMnist => "fashion-mnist",
        }
    }
}

/// A seeded synthetic "teacher" problem: X ~ N(0, 1), y = argmax(X·A + noise·E).
#[derive(Clone, Debug, PartialEq)]
pub struct Synthetic {
    /// N, the number of samples.
    pub samples: usize,
    /// p, the number of features.
    pub features: usize,
    /// K, the number of classes.
    pub classes: usize,
    /// The generator's seed.
    pub seed: u64,
    /// The standard deviation of the label noise added to the teacher's logits.
    pub noise: f64,
}

/// Where the samples come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A data set compiled into the binary.
    Builtin(Builtin),
    /// A CSV file with a header and an integer label column.
    Csv {
        /// The file, resolved against the config's folder.
        path: PathBuf,
        /// The label column's name.
        label: String,
    },
    /// Generated data.
    Synthetic(Synthetic),
    /// A folder of IDX files (MNIST layout) with their own train and test parts.
    Idx {
        /// The folder, resolved against the config's folder.
        dir: PathBuf,
    },
}

impl Source {
    /// True for sources that come with a fixed test set (`test_fraction` does not apply).
    pub fn has_fixed_test_set(&self) -> bool {
        matches!(self, Source::Idx { .. } | Source::Builtin(Builtin::FashionMnist))
    }
}

/// The `[data]` section, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSpec {
    /// Where the samples come from.
    pub source: Source,
    /// The share of samples held out as a test set, in [0, 1).
    pub test_fraction: f64,
    /// Whether to z-score every feature with training-set statistics.
    pub standardize: bool,
    /// The seed of the train/test shuffle.
    pub split_seed: u64,
}

/// What the gradient is taken of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// R(θ) = Σ_i L(y_i, f(x_i)).
    Sum,
    /// R(θ)/N.
    Mean,
}

impl Objective {
    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            Objective::Sum => "sum",
            Objective::Mean => "mean",
        }
    }
}

/// The floating-point type of a sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Single precision.
    F32,
    /// Double precision.
    F64,
}

impl Precision {
    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }
}

/// The `[train]` section, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSpec {
    /// The number of momentum steps of every run (≥ 1).
    pub iterations: usize,
    /// What the gradient is taken of.
    pub objective: Objective,
    /// The floating-point type.
    pub precision: Precision,
    /// Rows per chunk of the data-parallel gradient (≥ 1). Part of a run's identity: it fixes
    /// the order of the floating-point sums.
    pub chunk_size: usize,
    /// When set, a run also counts as diverged once its training loss exceeds this multiple of
    /// its initial training loss (NaN and ±inf always count).
    pub divergence_factor: Option<f64>,
    /// Save a checkpoint every this many iterations; `None` saves by time (see the README).
    /// Not part of a run's identity: checkpoints never change results.
    pub checkpoint_every: Option<usize>,
    /// The sharpness along the curve, when asked for. Part of a run's identity when set: a
    /// curve never mixes values computed under different settings.
    pub sharpness: Option<SharpnessSpec>,
}

/// `[train] sharpness_every` and `sharpness_steps`, validated: the Hessian's largest eigenvalue
/// at curve rows 0, every `every`-th and the last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct SharpnessSpec {
    /// Rows apart (≥ 1).
    pub every: usize,
    /// The most Lanczos steps at each (≥ 2).
    pub steps: usize,
}

/// Lanczos steps per sharpness value when `sharpness_steps` is left out.
pub const DEFAULT_SHARPNESS_STEPS: usize = 20;

/// The `[grid]` section, validated: every list non-empty, without duplicates, in range.
#[derive(Clone, Debug, PartialEq)]
pub struct GridSpec {
    /// M values, each ≥ 1.
    pub hidden: Vec<usize>,
    /// γ values, each finite and > 0.
    pub gamma: Vec<f64>,
    /// α values, each in (0, 1].
    pub alpha: Vec<f64>,
    /// Initialisation seeds.
    pub seed: Vec<u64>,
}

impl GridSpec {
    /// The number of runs: the product of the lists' lengths (saturating, for unchecked grids).
    pub fn run_count(&self) -> usize {
        [self.hidden.len(), self.gamma.len(), self.alpha.len(), self.seed.len()]
            .into_iter()
            .fold(1, usize::saturating_mul)
    }
}

/// A validated sweep config.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The sweep's name: its folder under the results directory.
    pub name: String,
    /// Where it was read from, for messages: the file's path as given.
    pub origin: String,
    /// The data section.
    pub data: DataSpec,
    /// The training section.
    pub train: TrainSpec,
    /// The grid section.
    pub grid: GridSpec,
    /// The tuning section: when set, rounds of γ values are added per method until each
    /// method's best γ is bracketed.
    pub tune: Option<TuneSpec>,
}

/// What a method's best γ is chosen by: the seed-mean of a run's final training loss, its
/// lowest training loss, or its final test loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// The training loss after the last iteration.
    FinalTrainLoss,
    /// The lowest training loss along the curve.
    BestTrainLoss,
    /// The test loss after the last iteration (needs a test set).
    TestLoss,
}

impl Criterion {
    /// Every criterion, by its name in configs.
    pub const ALL: [(&'static str, Criterion); 3] = [
        ("final_train_loss", Criterion::FinalTrainLoss),
        ("best_train_loss", Criterion::BestTrainLoss),
        ("test_loss", Criterion::TestLoss),
    ];

    /// The name used in configs.
    pub fn name(self) -> &'static str {
        Criterion::ALL.iter().find(|(_, c)| *c == self).map(|(n, _)| *n).expect("every criterion is named")
    }
}

/// The `[tune]` section, validated.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TuneSpec {
    /// What a method's best γ is chosen by.
    pub by: Criterion,
    /// Bracketed means the best γ's tried neighbours lie within this factor of it (> 1).
    pub resolution: f64,
    /// The most rounds, the grid's own included (≥ 1).
    pub max_rounds: usize,
}

/// The most rounds a `[tune]` section may ask for.
pub const MAX_ROUNDS: usize = 100;

/// The default rows per gradient chunk.
pub const DEFAULT_CHUNK_SIZE: usize = 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: Option<String>,
    data: RawData,
    train: RawTrain,
    grid: RawGrid,
    tune: Option<RawTune>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTune {
    gamma: String,
    #[serde(default = "default_resolution")]
    resolution: f64,
    #[serde(default = "default_criterion")]
    by: String,
    #[serde(default = "default_max_rounds")]
    max_rounds: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    builtin: Option<String>,
    csv: Option<PathBuf>,
    idx: Option<PathBuf>,
    label: Option<String>,
    synthetic: Option<RawSynthetic>,
    #[serde(default)]
    test_fraction: f64,
    #[serde(default = "default_true")]
    standardize: bool,
    #[serde(default)]
    split_seed: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSynthetic {
    samples: usize,
    features: usize,
    classes: usize,
    #[serde(default)]
    seed: u64,
    #[serde(default = "default_noise")]
    noise: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrain {
    iterations: usize,
    #[serde(default = "default_objective")]
    objective: Objective,
    #[serde(default = "default_precision")]
    precision: Precision,
    #[serde(default = "default_chunk_size")]
    chunk_size: usize,
    divergence_factor: Option<f64>,
    checkpoint_every: Option<usize>,
    sharpness_every: Option<usize>,
    sharpness_steps: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrid {
    hidden: Vec<usize>,
    gamma: toml::Value,
    alpha: toml::Value,
    #[serde(default = "default_seeds")]
    seed: Vec<u64>,
}

fn default_true() -> bool {
    true
}
fn default_noise() -> f64 {
    0.5
}
fn default_objective() -> Objective {
    Objective::Sum
}
fn default_precision() -> Precision {
    Precision::F32
}
fn default_chunk_size() -> usize {
    DEFAULT_CHUNK_SIZE
}
fn default_seeds() -> Vec<u64> {
    vec![0]
}
fn default_resolution() -> f64 {
    1.3
}
fn default_criterion() -> String {
    "final_train_loss".to_string()
}
fn default_max_rounds() -> usize {
    8
}

/// The most values one grid list may hold.
pub const MAX_LIST: usize = 10_000;
/// The most iterations a run may be asked for: with [`MAX_RUNS`], every count of a sweep's
/// iterations fits in 64 bits.
pub const MAX_ITERATIONS: usize = 1_000_000_000_000;
/// The most runs one sweep's grid may hold.
pub const MAX_RUNS: usize = 10_000_000;

/// The largest config file read: far beyond any real sweep, small enough to hold in memory.
const MAX_CONFIG_BYTES: u64 = 16 << 20;

impl Config {
    /// Reads and validates a config file. Relative data paths are resolved against the file's
    /// folder, and the sweep's name defaults to the file's stem.
    pub fn from_path(path: &Path) -> Result<Config, ConfigError> {
        Config::load(path).map(|(config, _)| config)
    }

    /// Reads a config file once (it may be a pipe, such as `/dev/stdin`) and returns the
    /// validated config with the text it was read from.
    pub fn load(path: &Path) -> Result<(Config, String), ConfigError> {
        let read_error = |source| ConfigError::Read { path: path.display().to_string(), source };
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text))
            .map_err(read_error)?;
        if text.len() as u64 > MAX_CONFIG_BYTES {
            return Err(read_error(std::io::Error::other(format!(
                "it is larger than {} MiB",
                MAX_CONFIG_BYTES >> 20
            ))));
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("sweep");
        let base = path.parent().unwrap_or(Path::new("."));
        let config = Config::from_str(&text, &path.display().to_string(), stem, base)?;
        Ok((config, text))
    }

    /// Parses and validates config text. `origin` names the text in messages, `default_name`
    /// is the sweep name when the text gives none, and `base` resolves relative data paths.
    pub fn from_str(
        text: &str,
        origin: &str,
        default_name: &str,
        base: &Path,
    ) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| syntax_error(e, text, origin))?;
        let invalid = |section: &'static str, rule: Rule| ConfigError::Invalid {
            origin: origin.to_string(),
            section,
            message: rule.0,
        };

        let from_file_name = raw.name.is_none();
        let name = raw.name.unwrap_or_else(|| default_name.to_string());
        check_name(&name).map_err(|m| match from_file_name {
            true => invalid(
                "the top level",
                Rule(format!(
                    "the sweep is named after the file, and {name:?} is not a valid name \
                     (letters, digits, '-', '_' or '.'); set name = \"…\" in the config"
                )),
            ),
            false => invalid("the top level", m),
        })?;

        let data = check_data(raw.data, base).map_err(|m| invalid("[data]", m))?;
        let train = check_train(raw.train).map_err(|m| invalid("[train]", m))?;
        let grid = check_grid(raw.grid).map_err(|m| invalid("[grid]", m))?;
        let tune = match raw.tune {
            Some(tune) => Some(check_tune(tune, &data, &grid).map_err(|m| invalid("[tune]", m))?),
            None => None,
        };
        Ok(Config { name, origin: origin.to_string(), data, train, grid, tune })
    }
}

/// Turns a TOML error into one line that names the file and the line.
fn syntax_error(e: toml::de::Error, text: &str, origin: &str) -> ConfigError {
    let line = e.span().map(|span| text[..span.start.min(text.len())].lines().count().max(1));
    let line = match line {
        // A span that starts right after a newline belongs to the next line.
        Some(l) if e.span().is_some_and(|s| text[..s.start.min(text.len())].ends_with('\n')) => l + 1,
        Some(l) => l,
        None => 1,
    };
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    let key =
        text.lines().nth(line - 1).and_then(|l| l.split_once('=')).map(|(k, _)| k.trim().trim_matches('"'));
    let message = key.and_then(|key| plain_type_error(&message, key)).unwrap_or(message);
    ConfigError::Syntax { origin: origin.to_string(), line, message }
}

/// The parser's "invalid type: string \"ten\", expected usize" in words: "iterations must be a
/// whole number ≥ 0 (got the string \"ten\")". `None` for other messages.
fn plain_type_error(message: &str, key: &str) -> Option<String> {
    let (found, expected) = message.rsplit_once(", expected ")?;
    let found = found.strip_prefix("invalid type: ").or_else(|| found.strip_prefix("invalid value: "))?;
    let wanted = match expected {
        "usize" | "u64" | "u32" | "u16" | "u8" => "a whole number ≥ 0",
        "f64" | "f32" => "a number",
        "a boolean" | "bool" => "true or false",
        "a string" | "a borrowed string" => "a quoted string",
        "a sequence" => "a list such as [1, 2]",
        _ => return None,
    };
    let found = found.replace('`', "");
    Some(format!("{key} must be {wanted} (got {found})"))
}

/// The longest sweep name: it names the results folder and, in `heavyball slurm`, the file
/// `<name>.sbatch`, which must stay within the 255 bytes a file name may have.
const MAX_NAME: usize = 200;

fn check_name(name: &str) -> Result<(), Rule> {
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
            "name must be letters, digits, '-', '_' or '.' (got {name:?}): it names the results folder"
        )))
    }
}

fn check_data(raw: RawData, base: &Path) -> Result<DataSpec, Rule> {
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
            Source::Synthetic(Synthetic {
                samples: s.samples,
                features: s.features,
                classes: s.classes,
                seed: s.seed,
                noise: s.noise,
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

fn check_train(raw: RawTrain) -> Result<TrainSpec, Rule> {
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

fn check_grid(raw: RawGrid) -> Result<GridSpec, Rule> {
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

/// A grid list of numbers, or a log-spaced range `{ from = a, to = b, per_decade = d }`:
/// a, a·r, a·r², … up to b (with r = 10^(1/d)), each rounded to three significant digits.
fn values(key: &str, raw: toml::Value) -> Result<Vec<f64>, Rule> {
    use toml::Value;
    let number = |v: &Value| match v {
        Value::Float(x) => Some(*x),
        Value::Integer(i) => Some(*i as f64),
        _ => None,
    };
    match raw {
        Value::Array(items) => items
            .iter()
            .map(|v| number(v).ok_or_else(|| Rule(format!("{key} must list numbers (got {})", one_line(v)))))
            .collect(),
        Value::Table(table) => {
            let shape = || {
                Rule(format!(
                    "{key} must be a list of numbers or a range {{ from = …, to = …, per_decade = … }}"
                ))
            };
            if table.len() != 3 {
                return Err(shape());
            }
            let field = |name: &str| table.get(name).and_then(number).ok_or_else(shape);
            let (from, to, per_decade) = (field("from")?, field("to")?, field("per_decade")?);
            log_range(key, from, to, per_decade)
        }
        other => Err(Rule(format!(
            "{key} must be a list of numbers or a range {{ from = …, to = …, per_decade = … }} (got {})",
            one_line(&other)
        ))),
    }
}

/// A TOML value as config text on one line.
fn one_line(value: &toml::Value) -> String {
    value.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The values of a log-spaced range; see [`values`].
fn log_range(key: &str, from: f64, to: f64, per_decade: f64) -> Result<Vec<f64>, Rule> {
    if !(from.is_finite() && from > 0.0 && to.is_finite()) {
        return Err(Rule(format!(
            "{key}: a range needs 0 < from and a finite to (got from = {from}, to = {to})"
        )));
    }
    if from >= to {
        return Err(Rule(format!("{key}: a range needs from < to (got from = {from}, to = {to})")));
    }
    if !(per_decade.is_finite() && per_decade > 0.0) {
        return Err(Rule(format!("{key}: per_decade must be > 0 (got {per_decade})")));
    }
    // Steps from `from`, with a little slack so that `to` itself is reached despite rounding.
    let steps = (to / from).log10() * per_decade;
    if steps >= MAX_LIST as f64 {
        return Err(Rule(format!(
            "{key}: the range from {from} to {to} at {per_decade} per decade has more than {MAX_LIST} values"
        )));
    }
    let steps = (steps + 1e-9).floor() as usize;
    let mut out: Vec<f64> = Vec::with_capacity(steps + 1);
    for i in 0..=steps {
        let value = round_value(from * 10f64.powf(i as f64 / per_decade));
        if out.last() != Some(&value) {
            out.push(value);
        }
    }
    Ok(out)
}

/// `x` rounded to three significant digits: the kind of value a config would name.
pub fn round_value(x: f64) -> f64 {
    format!("{x:.2e}").parse().unwrap_or(x)
}

fn check_tune(raw: RawTune, data: &DataSpec, grid: &GridSpec) -> Result<TuneSpec, Rule> {
    if raw.gamma != "bracket" {
        return Err(Rule(format!(
            "gamma = {:?} is not a tuning mode (the one mode is \"bracket\")",
            raw.gamma
        )));
    }
    let by = Criterion::ALL.iter().find(|(n, _)| *n == raw.by).map(|(_, c)| *c).ok_or_else(|| {
        let names: Vec<_> = Criterion::ALL.iter().map(|(n, _)| *n).collect();
        Rule(format!("by = {:?} is not a criterion (choose one of {})", raw.by, names.join(", ")))
    })?;
    if by == Criterion::TestLoss && data.test_fraction == 0.0 && !data.source.has_fixed_test_set() {
        return Err("by = \"test_loss\" needs a test set: set test_fraction in [data]".into());
    }
    if !(raw.resolution.is_finite() && raw.resolution > 1.0) {
        return Err(Rule(format!("resolution must be a finite number > 1 (got {})", raw.resolution)));
    }
    if raw.max_rounds == 0 || raw.max_rounds > MAX_ROUNDS {
        return Err(Rule(format!("max_rounds must be between 1 and {MAX_ROUNDS} (got {})", raw.max_rounds)));
    }
    if grid.gamma.len() < 2 {
        return Err(
            "bracketing needs at least two gamma values in [grid], whose ratio sets the step beyond an edge"
                .into(),
        );
    }
    // Each round adds at most one γ per method, with every seed.
    let most = grid.run_count().saturating_add(
        (grid.hidden.len() * grid.alpha.len() * grid.seed.len()).saturating_mul(raw.max_rounds - 1),
    );
    if most > MAX_RUNS {
        return Err(Rule(format!(
            "the grid and max_rounds = {} may reach {most} runs; one sweep holds at most {MAX_RUNS}",
            raw.max_rounds
        )));
    }
    Ok(TuneSpec { by, resolution: raw.resolution, max_rounds: raw.max_rounds })
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

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
[data]
builtin = "digits"
test_fraction = 0.2
[train]
iterations = 10
[grid]
hidden = [4, 8]
gamma = [0.1]
alpha = [1.0, 0.5]
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_str(text, "sweep.toml", "stem", Path::new("/base"))
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_filled_in() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.name, "t");
        assert_eq!(c.train.objective, Objective::Sum);
        assert_eq!(c.train.precision, Precision::F32);
        assert_eq!(c.train.chunk_size, DEFAULT_CHUNK_SIZE);
        assert_eq!(c.grid.seed, vec![0]);
        assert!(c.data.standardize);
        let unnamed = parse(&GOOD.replace("name = \"t\"", "")).unwrap();
        assert_eq!(unnamed.name, "stem");
    }

    #[test]
    fn csv_paths_resolve_against_the_config_folder() {
        let c = parse(&GOOD.replace("builtin = \"digits\"", "csv = \"d/x.csv\"\nlabel = \"y\"")).unwrap();
        assert_eq!(c.data.source, Source::Csv { path: "/base/d/x.csv".into(), label: "y".into() });
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_line() {
        let e = err(&GOOD.replace("gamma = [0.1]", "gamma = [0.1]\ngamm = [1]"));
        assert!(e.starts_with("sweep.toml line 11: unknown field `gamm`"), "{e}");
        let e = err(&GOOD.replace("iterations = 10", "iterations = \"ten\""));
        assert_eq!(e, "sweep.toml line 7: iterations must be a whole number ≥ 0 (got string \"ten\")");
        let e = err(&GOOD.replace("iterations = 10", "iterations = -3"));
        assert_eq!(e, "sweep.toml line 7: iterations must be a whole number ≥ 0 (got integer -3)");
        let e = err(&GOOD.replace("gamma = [0.1]", "gamma = 0.1"));
        assert_eq!(
            e,
            "gamma must be a list of numbers or a range { from = …, to = …, per_decade = … } (got 0.1) \
             in [grid] of sweep.toml"
        );
        let e = err(&GOOD.replace("gamma = [0.1]", "gamma = [0.1, \"x\"]"));
        assert_eq!(e, "gamma must list numbers (got \"x\") in [grid] of sweep.toml");
        let e = err(&GOOD.replace("gamma = [0.1]", "gamma = [{ a = 1, b = [2, 3] }]"));
        assert!(!e.contains('\n') && e.starts_with("gamma must list numbers (got "), "{e}");
    }

    #[test]
    fn log_ranges_expand_to_round_values() {
        let c = parse(&GOOD.replace("gamma = [0.1]", "gamma = { from = 1e-3, to = 1.0, per_decade = 2 }"))
            .unwrap();
        assert_eq!(c.grid.gamma, [0.001, 0.00316, 0.01, 0.0316, 0.1, 0.316, 1.0]);
        let c =
            parse(&GOOD.replace("gamma = [0.1]", "gamma = { from = 1, to = 10, per_decade = 3 }")).unwrap();
        assert_eq!(c.grid.gamma, [1.0, 2.15, 4.64, 10.0]);
        let c = parse(&GOOD.replace("alpha = [1.0, 0.5]", "alpha = { from = 0.01, to = 1, per_decade = 1 }"))
            .unwrap();
        assert_eq!(c.grid.alpha, [0.01, 0.1, 1.0]);
        for (range, message) in [
            (
                "{ from = 1.0, to = 1.0, per_decade = 2 }",
                "gamma: a range needs from < to (got from = 1, to = 1)",
            ),
            ("{ from = 0.0, to = 1.0, per_decade = 2 }", "gamma: a range needs 0 < from and a finite to"),
            ("{ from = 0.1, to = 1.0, per_decade = 0 }", "gamma: per_decade must be > 0 (got 0)"),
            ("{ from = 1e-300, to = 1e300, per_decade = 100 }", "has more than 10000 values"),
            ("{ from = 0.1, to = 1.0 }", "gamma must be a list of numbers or a range"),
            (
                "{ from = 0.1, to = 1.0, per_decade = 2, step = 3 }",
                "gamma must be a list of numbers or a range",
            ),
        ] {
            let e = err(&GOOD.replace("gamma = [0.1]", &format!("gamma = {range}")));
            assert!(e.contains(message) && e.ends_with("in [grid] of sweep.toml"), "{range}: {e}");
        }
    }

    #[test]
    fn tune_settings_are_checked_and_named() {
        let tuned = GOOD.replace("gamma = [0.1]", "gamma = [0.1, 0.3]") + "[tune]\ngamma = \"bracket\"\n";
        let c = parse(&tuned).unwrap();
        assert_eq!(c.tune, Some(TuneSpec { by: Criterion::FinalTrainLoss, resolution: 1.3, max_rounds: 8 }));
        let with = |line: &str| tuned.clone() + line + "\n";
        for (text, message) in [
            (
                with("by = \"accuracy\""),
                "by = \"accuracy\" is not a criterion (choose one of final_train_loss, best_train_loss, test_loss)",
            ),
            (with("resolution = 1.0"), "resolution must be a finite number > 1 (got 1)"),
            (with("max_rounds = 0"), "max_rounds must be between 1 and 100 (got 0)"),
            (tuned.replace("\"bracket\"", "\"grid\""), "gamma = \"grid\" is not a tuning mode"),
            (
                tuned.replace("gamma = [0.1, 0.3]", "gamma = [0.1]"),
                "bracketing needs at least two gamma values",
            ),
            (
                with("by = \"test_loss\"").replace("test_fraction = 0.2", "test_fraction = 0.0"),
                "needs a test set",
            ),
        ] {
            let e = err(&text);
            assert!(e.contains(message) && e.ends_with("in [tune] of sweep.toml"), "{e}");
        }
        assert!(err(&with("steps = 3")).contains("unknown field `steps`"));
        assert!(parse(&with("by = \"test_loss\"")).is_ok());
    }

    #[test]
    fn names_longer_than_a_file_name_allows_are_refused() {
        let long = "n".repeat(250);
        let e = err(&GOOD.replace("name = \"t\"", &format!("name = \"{long}\"")));
        assert!(e.contains("name is 250 characters long; at most 200 are allowed"), "{e}");
        assert!(parse(&GOOD.replace("name = \"t\"", &format!("name = \"{}\"", "n".repeat(200)))).is_ok());
    }

    #[test]
    fn a_name_taken_from_the_file_name_says_so() {
        let text = GOOD.replace("name = \"t\"\n", "");
        let e =
            Config::from_str(&text, "my sweep.toml", "my sweep", Path::new("/base")).unwrap_err().to_string();
        assert!(e.contains("the sweep is named after the file, and \"my sweep\" is not a valid name"), "{e}");
    }

    #[test]
    fn out_of_range_values_name_the_key_and_section() {
        let cases = [
            ("gamma = [0.1]", "gamma = [-0.1]", "gamma must be > 0 and finite (got -0.1 in gamma) in [grid]"),
            ("gamma = [0.1]", "gamma = [nan]", "gamma must be > 0 and finite (got NaN in gamma)"),
            ("gamma = [0.1]", "gamma = [inf]", "gamma must be > 0 and finite (got inf in gamma)"),
            ("alpha = [1.0, 0.5]", "alpha = [1.5]", "alpha must be in (0, 1] (got 1.5 in alpha)"),
            ("alpha = [1.0, 0.5]", "alpha = [0.0]", "alpha must be in (0, 1] (got 0 in alpha)"),
            ("hidden = [4, 8]", "hidden = [0]", "M must be ≥ 1 (got 0 in hidden)"),
            ("hidden = [4, 8]", "hidden = []", "hidden is an empty list"),
            ("hidden = [4, 8]", "hidden = [4, 4]", "hidden lists 4 twice"),
            (
                "alpha = [1.0, 0.5]",
                &format!(
                    "alpha = [1.0, 0.5]\nseed = [{}]",
                    (0..10_001).map(|s| s.to_string()).collect::<Vec<_>>().join(",")
                ),
                "seed lists 10001 values; at most 10000 are allowed",
            ),
            ("iterations = 10", "iterations = 0", "iterations must be ≥ 1 (got 0) in [train]"),
            (
                "iterations = 10",
                "iterations = 4611686018427387904",
                "iterations must be at most 1000000000000 (got 4611686018427387904) in [train]",
            ),
            (
                "iterations = 10",
                "iterations = 10\ndivergence_factor = 0.5",
                "divergence_factor must be finite and > 1 (got 0.5)",
            ),
            ("test_fraction = 0.2", "test_fraction = 1.0", "test_fraction must be in [0, 1) (got 1)"),
            ("builtin = \"digits\"", "builtin = \"mnist\"", "is not a built-in data set"),
            ("builtin = \"digits\"", "", "no data source"),
            ("builtin = \"digits\"", "idx = \"mnist\"", "test_fraction = 0.2 does not apply to IDX data"),
            ("builtin = \"digits\"", "builtin = \"fashion-mnist\"", "t10k files are the test set"),
            ("builtin = \"digits\"", "idx = \"mnist\"\nbuiltin = \"iris\"", "exactly one of"),
        ];
        for (from, to, expected) in cases {
            let e = err(&GOOD.replace(from, to));
            assert!(e.contains(expected) && e.contains("of sweep.toml"), "{to}: {e}");
        }
    }
}
