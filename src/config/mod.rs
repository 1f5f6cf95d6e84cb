//! The sweep config: TOML text → raw serde structs → a validated [`Config`] that cannot be
//! invalid. Every check happens here, before any data is read or any file is written.

mod checks;
mod ranges;
mod raw;
mod spec;
mod syntax;

use std::io::Read;
use std::path::Path;

use thiserror::Error;

pub use checks::MAX_CONFIRM_SEEDS;
pub use checks::MAX_WORKLOADS;
use checks::{check_confirm, check_data, check_grid, check_name, check_train, check_tune, check_workloads};
pub use ranges::{round_value, short_number};
use raw::{RawConfig, RawDataSection};
pub use spec::*;
use syntax::syntax_error;

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

/// A validated sweep config.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The sweep's name: its folder under the results directory.
    pub name: String,
    /// Where it was read from, for messages: the file's path as given.
    pub origin: String,
    /// The data section (in a study, its first workload's: each workload runs as a sweep of
    /// its own, from [`Config::workloads`]).
    pub data: DataSpec,
    /// A study's workloads, from `[[data]]` tables; empty for a sweep of one `[data]` table.
    pub study: Vec<Workload>,
    /// The training section.
    pub train: TrainSpec,
    /// The grid section.
    pub grid: GridSpec,
    /// The tuning section: when set, rounds of γ values are added per method until each
    /// method's best γ is bracketed.
    pub tune: Option<TuneSpec>,
    /// The confirmation section: when set, each view's selected bests are trained again on
    /// fresh seeds, and the comparison's statistics use those alone.
    pub confirm: Option<ConfirmSpec>,
}

impl Config {
    /// True for a study: `[[data]]` tables, each workload a sweep of its own.
    pub fn is_study(&self) -> bool {
        !self.study.is_empty()
    }

    /// A study's workloads, each as the config of its own sweep (named by the workload, whose
    /// folder lies inside the study's); a plain sweep is its only workload.
    pub fn workloads(&self) -> Vec<Config> {
        if self.study.is_empty() {
            return vec![self.clone()];
        }
        let one = |w: &Workload| Config {
            name: w.name.clone(),
            data: w.data.clone(),
            study: Vec::new(),
            ..self.clone()
        };
        self.study.iter().map(one).collect()
    }

    /// What the optimisation view's bests are chosen by: `[confirm]`'s selection, else
    /// `[tune]`'s when it is about the training loss, else the late training loss by the
    /// seeds' median.
    pub fn selection(&self) -> Selection {
        optimisation_selection(self.tune, self.confirm)
    }
}

/// What the optimisation view's bests are chosen by, from a sweep's tuning and confirmation
/// settings (see [`Config::selection`]).
pub fn optimisation_selection(tune: Option<TuneSpec>, confirm: Option<ConfirmSpec>) -> Selection {
    match (confirm, tune) {
        (Some(c), _) => c.selection(),
        (None, Some(t)) if t.by.is_training_loss() => t.selection(),
        _ => Selection::DEFAULT,
    }
}

/// The most rounds a `[tune]` section may ask for.
pub const MAX_ROUNDS: usize = 100;

/// The default rows per gradient chunk.
pub const DEFAULT_CHUNK_SIZE: usize = 1024;

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
        // A name that is not UTF-8 shows as U+FFFD, which no sweep name holds: refused below
        // unless the text names the sweep, never silently "sweep".
        let stem = path.file_stem().map_or_else(|| "sweep".into(), |s| s.to_string_lossy());
        let base = path.parent().unwrap_or(Path::new("."));
        let config = Config::from_str(&text, &path.display().to_string(), &stem, base)?;
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
                     (ASCII letters, digits, '-', '_' or '.'); set name = \"…\" in the config"
                )),
            ),
            false => invalid("the top level", m),
        })?;

        let (data, study) = match raw.data {
            RawDataSection::One(table) => {
                (check_data(table, base).map_err(|m| invalid("[data]", m))?, Vec::new())
            }
            RawDataSection::Many(tables) => {
                let study = check_workloads(tables, base).map_err(|m| invalid("[[data]]", m))?;
                (study[0].data.clone(), study)
            }
        };
        let every: Vec<&DataSpec> =
            if study.is_empty() { vec![&data] } else { study.iter().map(|w| &w.data).collect() };
        let train = check_train(raw.train).map_err(|m| invalid("[train]", m))?;
        let grid = check_grid(raw.grid).map_err(|m| invalid("[grid]", m))?;
        // Tuning and confirmation hold for every workload (a test-loss criterion needs a test set
        // in each).
        let mut tune = None;
        let mut confirm = None;
        for data in every {
            if let Some(raw) = &raw.tune {
                tune = Some(check_tune(raw.clone(), data, &grid).map_err(|m| invalid("[tune]", m))?);
            }
            if let Some(raw) = &raw.confirm {
                confirm = Some(
                    check_confirm(raw.clone(), data, &grid, tune.as_ref())
                        .map_err(|m| invalid("[confirm]", m))?,
                );
            }
        }
        Ok(Config { name, origin: origin.to_string(), data, study, train, grid, tune, confirm })
    }
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
        let e = err(&GOOD.replace("iterations = 10", "iterations = 99999999999999999999"));
        assert_eq!(
            e,
            "sweep.toml line 7: iterations must be a whole number ≥ 0 (got integer 99999999999999999999, too large)"
        );
        let tuned = GOOD.to_string() + "[tune]\ngamma = \"bracket\"\nmax_rounds = 1.5\n";
        let e = err(&tuned.replace("gamma = [0.1]", "gamma = [0.1, 0.3]"));
        assert!(e.ends_with("max_rounds must be a whole number (got floating point 1.5)"), "{e}");
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
        // Ranges that span f64: every value finite, up to its largest.
        let c = parse(&GOOD.replace("gamma = [0.1]", "gamma = { from = 0.1, to = 1e308, per_decade = 30 }"))
            .unwrap();
        assert_eq!(
            (c.grid.gamma.len(), c.grid.gamma[0], c.grid.gamma[c.grid.gamma.len() - 1]),
            (9271, 0.1, 1e308)
        );
        let top = "gamma = { from = 1e300, to = 1.7976931348623157e308, per_decade = 1 }";
        let c = parse(&GOOD.replace("gamma = [0.1]", top)).unwrap();
        assert!(c.grid.gamma.len() == 9 && c.grid.gamma.iter().all(|g| g.is_finite()), "{:?}", c.grid.gamma);
        for (range, message) in [
            (
                "{ from = 1.0, to = 1.0, per_decade = 2 }",
                "gamma: a range needs from < to (got from = 1, to = 1)",
            ),
            ("{ from = 0.0, to = 1.0, per_decade = 2 }", "gamma: a range needs 0 < from and a finite to"),
            ("{ from = 0.1, to = 1.0, per_decade = 0 }", "gamma: per_decade must be > 0 (got 0)"),
            ("{ from = 1e-300, to = 1e300, per_decade = 100 }", "has more than 10000 values"),
            // to / from overflows: counted by logarithms, and the numbers shown short.
            (
                "{ from = 0.1, to = 1e308, per_decade = 40 }",
                "gamma: the range from 0.1 to 1e308 at 40 per decade has more than 10000 values",
            ),
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
    fn confirmation_settings_are_checked_and_named() {
        let confirmed = GOOD.to_string() + "[confirm]\nseeds = 8\n";
        let c = parse(&confirmed).unwrap();
        let spec = ConfirmSpec { seeds: 8, by: Criterion::LateTrainLoss, aggregate: Aggregate::Median };
        assert_eq!(c.confirm, Some(spec));
        assert_eq!(c.selection(), spec.selection());
        // Without [confirm] or [tune], the report chooses by the late loss, seeds by their median.
        assert_eq!(parse(GOOD).unwrap().selection(), Selection::DEFAULT);
        let with = |line: &str| confirmed.clone() + line + "\n";
        for (text, message) in [
            (
                confirmed.replace("seeds = 8", "seeds = 0"),
                "seeds must be a whole number from 1 to 1000 (got 0)",
            ),
            (
                confirmed.replace("seeds = 8", "seeds = -3"),
                "seeds must be a whole number from 1 to 1000 (got -3)",
            ),
            (
                confirmed.replace("seeds = 8", "seeds = 1001"),
                "seeds must be a whole number from 1 to 1000 (got 1001)",
            ),
            (with("by = \"fast\""), "by = \"fast\" is not a criterion"),
            (with("aggregate = \"mode\""), "aggregate = \"mode\" is not a way to sum up seeds"),
            (
                with("by = \"test_loss\"").replace("test_fraction = 0.2", "test_fraction = 0.0"),
                "needs a test set",
            ),
        ] {
            let e = err(&text);
            assert!(e.contains(message) && e.ends_with("in [confirm] of sweep.toml"), "{e}");
        }
        assert!(err(&confirmed.replace("seeds = 8", "")).contains("missing field `seeds`"));
        assert!(err(&with("precision = \"f64\"")).contains("unknown field `precision`"));
    }

    #[test]
    fn confirmation_follows_tuning_and_never_contradicts_it() {
        let tuned = GOOD.replace("gamma = [0.1]", "gamma = [0.1, 0.3]")
            + "[tune]\ngamma = \"bracket\"\nby = \"final_train_loss\"\naggregate = \"mean\"\n";
        // Left out, [confirm]'s criterion is [tune]'s: the bests confirmed are those tuning bracketed.
        let c = parse(&(tuned.clone() + "[confirm]\nseeds = 4\n")).unwrap();
        let follows = ConfirmSpec { seeds: 4, by: Criterion::FinalTrainLoss, aggregate: Aggregate::Mean };
        assert_eq!(c.confirm, Some(follows));
        assert_eq!(c.selection(), c.tune.unwrap().selection());
        // Set alike, it is accepted; set otherwise, refused with both named.
        let alike = tuned.clone() + "[confirm]\nseeds = 4\nby = \"final_train_loss\"\naggregate = \"mean\"\n";
        assert_eq!(parse(&alike).unwrap().confirm, Some(follows));
        let e = err(&(tuned.clone() + "[confirm]\nseeds = 4\nby = \"late_train_loss\"\n"));
        assert!(
            e.contains("by = \"late_train_loss\" differs from [tune]'s by = \"final_train_loss\"")
                && e.ends_with("in [confirm] of sweep.toml"),
            "{e}"
        );
        let e = err(&(tuned.clone() + "[confirm]\nseeds = 4\naggregate = \"median\"\n"));
        assert!(e.contains("aggregate = \"median\" differs from [tune]'s aggregate = \"mean\""), "{e}");
        // Tuning by the test loss says nothing of the optimisation view: the default holds.
        let by_test =
            tuned.replace("by = \"final_train_loss\"", "by = \"test_loss\"") + "[confirm]\nseeds = 4\n";
        assert_eq!(parse(&by_test).unwrap().confirm.unwrap().selection(), Selection::DEFAULT);
        // The run limit counts the tuning rounds too. With 2400 widths, 2 γ, 1 α and 2 seeds:
        // the grid's 9600 runs, 99 more rounds of 4800 and 2400 × 4 × 1000 fresh seeds are
        // 10 084 800 runs, too many for one sweep, though tuning or confirming alone fit.
        let widths: Vec<String> = (1..=2400).map(|m| m.to_string()).collect();
        let big = GOOD
            .replace("hidden = [4, 8]", &format!("hidden = [{}]", widths.join(", ")))
            .replace("gamma = [0.1]", "gamma = [0.1, 0.3]")
            .replace("alpha = [1.0, 0.5]", "alpha = [1.0]\nseed = [0, 1]");
        let tune = "[tune]\ngamma = \"bracket\"\nmax_rounds = 100\n";
        let confirm = "[confirm]\nseeds = 1000\n";
        assert!(parse(&(big.clone() + tune)).is_ok() && parse(&(big.clone() + confirm)).is_ok());
        let e = err(&(big + tune + confirm));
        assert!(
            e.contains("the grid, its tuning rounds and 1000 confirmation seeds may reach 10084800 runs"),
            "{e}"
        );
    }

    #[test]
    fn tune_settings_are_checked_and_named() {
        let tuned = GOOD.replace("gamma = [0.1]", "gamma = [0.1, 0.3]") + "[tune]\ngamma = \"bracket\"\n";
        let c = parse(&tuned).unwrap();
        assert_eq!(
            c.tune,
            Some(TuneSpec {
                by: Criterion::LateTrainLoss,
                aggregate: Aggregate::Median,
                resolution: 1.3,
                max_rounds: 8
            })
        );
        let with = |line: &str| tuned.clone() + line + "\n";
        for (text, message) in [
            (
                with("by = \"accuracy\""),
                "by = \"accuracy\" is not a criterion (choose one of late_train_loss, final_train_loss, best_train_loss, test_loss)",
            ),
            (with("resolution = 1.0"), "resolution must be a finite number > 1 (got 1)"),
            (
                with("aggregate = \"max\""),
                "aggregate = \"max\" is not a way to sum up seeds (choose median or mean)",
            ),
            (with("max_rounds = 0"), "max_rounds must be between 1 and 100 (got 0)"),
            (with("max_rounds = -1"), "max_rounds must be between 1 and 100 (got -1)"),
            (with("max_rounds = 101"), "max_rounds must be between 1 and 100 (got 101)"),
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
