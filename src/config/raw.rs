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
    pub(super) data: RawDataSection,
    pub(super) train: RawTrain,
    pub(super) grid: RawGrid,
    pub(super) tune: Option<RawTune>,
    pub(super) confirm: Option<RawConfirm>,
}

#[derive(Clone, Debug, Deserialize)]
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

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfirm {
    pub(super) seeds: i64,
    /// Unset: `[tune]`'s when it tunes by a training loss, else the default.
    pub(super) by: Option<String>,
    /// Unset: as `by`.
    pub(super) aggregate: Option<String>,
}

/// `[data]` (one table: a sweep) or `[[data]]` (an array of tables: a study of workloads),
/// each read with its own keys' errors and lines (an untagged enum would lose them).
#[derive(Debug)]
pub(super) enum RawDataSection {
    One(RawData),
    Many(Vec<RawData>),
}

impl<'de> Deserialize<'de> for RawDataSection {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawDataSection;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a [data] table or [[data]] tables")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawData::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawDataSection::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<RawData>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(RawDataSection::Many)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A number or a list of numbers (`condition = 10` or `condition = [1, 10, 100]`).
#[derive(Clone, Debug, PartialEq)]
pub(super) enum OneOrMany {
    One(f64),
    Many(Vec<f64>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a list of numbers")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(OneOrMany::One(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(OneOrMany::One(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(OneOrMany::One(v as f64))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<f64>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(OneOrMany::Many)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawData {
    /// A workload's name, in a `[[data]]` table.
    pub(super) name: Option<String>,
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

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSynthetic {
    pub(super) samples: usize,
    pub(super) features: usize,
    pub(super) classes: usize,
    #[serde(default)]
    pub(super) seed: u64,
    #[serde(default = "default_noise")]
    pub(super) noise: f64,
    #[serde(default = "default_condition")]
    pub(super) condition: OneOrMany,
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

fn default_condition() -> OneOrMany {
    OneOrMany::One(1.0)
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
