//! The config's TOML as serde reads it, before any check: every section with its defaults,
//! unknown keys refused.

use std::path::PathBuf;

use serde::Deserialize;

use super::DEFAULT_CHUNK_SIZE;
use super::spec::{Objective, Precision};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) name: Option<String>,
    pub(super) data: RawData,
    pub(super) train: RawTrain,
    pub(super) grid: RawGrid,
    pub(super) tune: Option<RawTune>,
    pub(super) confirm: Option<RawConfirm>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTune {
    pub(super) gamma: String,
    #[serde(default = "default_resolution")]
    pub(super) resolution: f64,
    #[serde(default = "default_criterion")]
    pub(super) by: String,
    #[serde(default = "default_aggregate")]
    pub(super) aggregate: String,
    #[serde(default = "default_max_rounds")]
    pub(super) max_rounds: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfirm {
    pub(super) seeds: i64,
    #[serde(default = "default_criterion")]
    pub(super) by: String,
    #[serde(default = "default_aggregate")]
    pub(super) aggregate: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawData {
    pub(super) builtin: Option<String>,
    pub(super) csv: Option<PathBuf>,
    pub(super) idx: Option<PathBuf>,
    pub(super) label: Option<String>,
    pub(super) synthetic: Option<RawSynthetic>,
    #[serde(default)]
    pub(super) test_fraction: f64,
    #[serde(default = "default_true")]
    pub(super) standardize: bool,
    #[serde(default)]
    pub(super) split_seed: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSynthetic {
    pub(super) samples: usize,
    pub(super) features: usize,
    pub(super) classes: usize,
    #[serde(default)]
    pub(super) seed: u64,
    #[serde(default = "default_noise")]
    pub(super) noise: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrain {
    pub(super) iterations: usize,
    #[serde(default = "default_objective")]
    pub(super) objective: Objective,
    #[serde(default = "default_precision")]
    pub(super) precision: Precision,
    #[serde(default = "default_chunk_size")]
    pub(super) chunk_size: usize,
    pub(super) divergence_factor: Option<f64>,
    pub(super) checkpoint_every: Option<usize>,
    pub(super) sharpness_every: Option<usize>,
    pub(super) sharpness_steps: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGrid {
    pub(super) hidden: Vec<usize>,
    pub(super) gamma: toml::Value,
    pub(super) alpha: toml::Value,
    #[serde(default = "default_seeds")]
    pub(super) seed: Vec<u64>,
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
    "late_train_loss".to_string()
}

fn default_aggregate() -> String {
    "median".to_string()
}

fn default_max_rounds() -> i64 {
    8
}
