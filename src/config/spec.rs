//! The validated config's types: what a [`super::Config`] holds once every check has passed,
//! so that code reading them never checks again.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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

/// A seeded synthetic "teacher" problem: X = Z·diag(s)·Q with Z ~ N(0, 1) (X = Z when the
/// condition is 1), y = argmax(X·A + noise·E); see `data::synthetic`.
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
    /// κ ≥ 1, the condition number of the features' covariance (1: independent unit features).
    pub condition: f64,
}

/// One workload of a study: a named data set, trained on the study's grid as its own sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// Its name: its sweep's folder inside the study's.
    pub name: String,
    /// Its data.
    pub data: DataSpec,
    /// The `[[data]]` table it was expanded from by a list of conditions, whose workloads
    /// differ in κ alone: a conditioning series.
    pub series: Option<String>,
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

/// What a method's best γ is chosen by: the seed-mean of a run's final training loss, its
/// lowest training loss, or its final test loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// The mean training loss over the last ⌊T/10⌋ iterations (at least the last row): a run
    /// that swings over decades at the end scores its swing, not its last point.
    LateTrainLoss,
    /// The training loss after the last iteration.
    FinalTrainLoss,
    /// The lowest training loss along the curve.
    BestTrainLoss,
    /// The test loss after the last iteration (needs a test set).
    TestLoss,
}

impl Criterion {
    /// Every criterion, by its name in configs.
    pub const ALL: [(&'static str, Criterion); 4] = [
        ("late_train_loss", Criterion::LateTrainLoss),
        ("final_train_loss", Criterion::FinalTrainLoss),
        ("best_train_loss", Criterion::BestTrainLoss),
        ("test_loss", Criterion::TestLoss),
    ];

    /// The name used in configs.
    pub fn name(self) -> &'static str {
        Criterion::ALL.iter().find(|(_, c)| *c == self).map(|(n, _)| *n).expect("every criterion is named")
    }

    /// True for the criteria about the training loss.
    pub fn is_training_loss(self) -> bool {
        self != Criterion::TestLoss
    }
}

/// How the seeds of one setting are summed up into its score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The median of the seeds' values: one seed's lucky or unlucky end moves it little.
    Median,
    /// The mean of the seeds' values (+∞ when a seed diverged).
    Mean,
}

impl Aggregate {
    /// Every aggregate, by its name in configs.
    pub const ALL: [(&'static str, Aggregate); 2] =
        [("median", Aggregate::Median), ("mean", Aggregate::Mean)];

    /// The name used in configs.
    pub fn name(self) -> &'static str {
        Aggregate::ALL.iter().find(|(_, a)| *a == self).map(|(n, _)| *n).expect("every aggregate is named")
    }
}

/// What chooses a best setting: each run's value of a criterion, and how a setting's seeds
/// are summed up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Each run's value.
    pub by: Criterion,
    /// How the seeds' values make the setting's score.
    pub aggregate: Aggregate,
}

impl Selection {
    /// The selection a sweep without `[tune]` or `[confirm]` is reported by: the late training
    /// loss, seeds by their median.
    pub const DEFAULT: Selection = Selection { by: Criterion::LateTrainLoss, aggregate: Aggregate::Median };
}

/// The `[confirm]` section, validated: each view's selected bests are trained again on fresh
/// seeds, and the comparison's statistics are computed on those alone.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmSpec {
    /// How many fresh seeds: the smallest non-negative integers not in the grid's seeds.
    pub seeds: usize,
    /// What the optimisation view's bests are chosen by.
    pub by: Criterion,
    /// How a setting's selection seeds are summed up.
    pub aggregate: Aggregate,
}

impl ConfirmSpec {
    /// The optimisation view's selection.
    pub fn selection(&self) -> Selection {
        Selection { by: self.by, aggregate: self.aggregate }
    }
}

/// The aggregate a `sweep.toml` written before it was recorded was tuned with.
fn mean_before_recorded() -> Aggregate {
    Aggregate::Mean
}

/// The `[tune]` section, validated.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TuneSpec {
    /// What a method's best γ is chosen by.
    pub by: Criterion,
    /// How a γ's seeds are summed up into its score. (Sweeps recorded before this setting
    /// existed were tuned by the mean.)
    #[serde(default = "mean_before_recorded")]
    pub aggregate: Aggregate,
    /// Bracketed means the best γ's tried neighbours lie within this factor of it (> 1).
    pub resolution: f64,
    /// The most rounds, the grid's own included (≥ 1).
    pub max_rounds: usize,
}

impl TuneSpec {
    /// What the tuning chooses each method's best γ by.
    pub fn selection(&self) -> Selection {
        Selection { by: self.by, aggregate: self.aggregate }
    }
}
