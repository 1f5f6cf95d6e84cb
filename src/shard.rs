//! Splitting a sweep over the tasks of a job array: which runs shard I of N trains.
//!
//! The assignment depends only on the grid and the data's size, so every node computes the same
//! one: runs are taken from the most to the least work (useful flops per iteration; ties in grid
//! order) and each goes to the shard with the least work so far (ties to the lowest index), the
//! classic longest-processing-time rule, which keeps shards within one run of each other.

use std::fmt;
use std::str::FromStr;

use anyhow::{Result, bail};

/// Shard `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, in 0..count.
    pub index: usize,
    /// How many shards the sweep is split into.
    pub count: usize,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The `--shard` option as given: `I/N`, `auto`, or `auto/N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardArg {
    /// An explicit shard.
    Fixed(Shard),
    /// From the scheduler's environment. `auto` alone: index SLURM_ARRAY_TASK_ID −
    /// SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT. `auto/N`: index SLURM_ARRAY_TASK_ID of N,
    /// which stays right when only some array indices are resubmitted.
    Auto {
        /// N, when given.
        count: Option<usize>,
    },
}

/// A `--shard` value that is none of `I/N`, `auto` and `auto/N`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--shard takes I/N (0 ≤ I < N), auto or auto/N, not {given:?}")]
pub struct ShardError {
    /// The value as given.
    pub given: String,
}

impl FromStr for ShardArg {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, ShardError> {
        let usage = || ShardError { given: s.to_string() };
        let number = |t: &str| t.trim().parse::<usize>().map_err(|_| usage());
        match s.split_once('/') {
            None if s.trim() == "auto" => Ok(ShardArg::Auto { count: None }),
            None => Err(usage()),
            Some((i, n)) => {
                let count = number(n)?;
                if count == 0 {
                    return Err(usage());
                }
                if i.trim() == "auto" {
                    return Ok(ShardArg::Auto { count: Some(count) });
                }
                let index = number(i)?;
                if index >= count {
                    return Err(usage());
                }
                Ok(ShardArg::Fixed(Shard { index, count }))
            }
        }
    }
}

impl ShardArg {
    /// The shard, reading the Slurm variables through `env` for `auto`.
    pub fn resolve(self, env: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        let count = match self {
            ShardArg::Fixed(shard) => return Ok(shard),
            ShardArg::Auto { count } => count,
        };
        let var = |name: &str| -> Result<usize> {
            let Some(text) = env(name) else {
                bail!(
                    "--shard auto needs {name}, which Slurm sets in the tasks of a job array (sbatch --array)"
                )
            };
            text.trim().parse().map_err(|_| anyhow::anyhow!("{name} = {text:?} is not a whole number"))
        };
        let id = var("SLURM_ARRAY_TASK_ID")?;
        let shard = match count {
            Some(count) => Shard { index: id, count },
            None => {
                let min = var("SLURM_ARRAY_TASK_MIN")?;
                let count = var("SLURM_ARRAY_TASK_COUNT")?;
                if id < min {
                    bail!("SLURM_ARRAY_TASK_ID = {id} is below SLURM_ARRAY_TASK_MIN = {min}");
                }
                Shard { index: id - min, count }
            }
        };
        if shard.index >= shard.count {
            bail!(
                "array task {} is outside the {} shards (give --shard auto/N with the array 0..N-1)",
                shard.index,
                shard.count
            );
        }
        Ok(shard)
    }
}

/// The threads a Slurm task was granted (SLURM_CPUS_PER_TASK), if any.
pub fn slurm_cpus(env: impl Fn(&str) -> Option<String>) -> Option<usize> {
    env("SLURM_CPUS_PER_TASK").and_then(|v| v.trim().parse().ok()).filter(|&n| n > 0)
}

/// The shard of every run, given each run's work, for `count` shards. With more shards than
/// runs, each run has a shard to itself (those beyond the runs get none), so only as many
/// shards as runs are ever weighed.
///
/// **Panics** if `count` is 0.
pub fn assign(work: &[f64], count: usize) -> Vec<usize> {
    assert!(count > 0, "at least one shard");
    let count = count.min(work.len().max(1));
    let mut order: Vec<usize> = (0..work.len()).collect();
    order.sort_by(|&a, &b| work[b].total_cmp(&work[a]).then(a.cmp(&b)));
    let mut load = vec![0.0f64; count];
    let mut shard_of = vec![0; work.len()];
    for run in order {
        let lightest =
            (0..count).min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b))).expect("count > 0");
        load[lightest] += work[run];
        shard_of[run] = lightest;
    }
    shard_of
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_shards_than_runs_give_each_run_its_own_and_allocate_nothing_more() {
        let work = [1.0, 3.0, 2.0];
        assert_eq!(assign(&work, 3), vec![2, 0, 1]);
        assert_eq!(assign(&work, 4_000_000_000), assign(&work, 3));
        assert_eq!(assign(&[], 4_000_000_000), Vec::<usize>::new());
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn shard_arguments_parse_and_check_their_range() {
        assert_eq!("2/4".parse(), Ok(ShardArg::Fixed(Shard { index: 2, count: 4 })));
        assert_eq!("auto".parse(), Ok(ShardArg::Auto { count: None }));
        assert_eq!("auto/8".parse(), Ok(ShardArg::Auto { count: Some(8) }));
        for bad in ["4/4", "1/0", "x/2", "2", "auto/0", "-1/3", ""] {
            assert!(bad.parse::<ShardArg>().is_err(), "{bad}");
        }
    }

    #[test]
    fn auto_reads_the_array_variables() {
        let vars =
            [("SLURM_ARRAY_TASK_ID", "7"), ("SLURM_ARRAY_TASK_MIN", "5"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        let auto = ShardArg::Auto { count: None };
        assert_eq!(auto.resolve(env(&vars)).unwrap(), Shard { index: 2, count: 4 });
        // auto/N takes the task id as the shard index, as for a resubmitted subset "1,3".
        let resubmitted =
            [("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "2")];
        let fixed_count = ShardArg::Auto { count: Some(4) };
        assert_eq!(fixed_count.resolve(env(&resubmitted)).unwrap(), Shard { index: 3, count: 4 });
        let err = auto.resolve(env(&[])).unwrap_err().to_string();
        assert!(err.contains("SLURM_ARRAY_TASK_ID") && err.contains("sbatch --array"), "{err}");
        let err = fixed_count.resolve(env(&[("SLURM_ARRAY_TASK_ID", "4")])).unwrap_err().to_string();
        assert!(err.contains("outside the 4 shards"), "{err}");
        assert_eq!(slurm_cpus(env(&[("SLURM_CPUS_PER_TASK", "6")])), Some(6));
        assert_eq!(slurm_cpus(env(&[])), None);
    }

    #[test]
    fn assignment_balances_work_and_covers_every_run_once() {
        // bench-A's shape: 9 runs each at M = 32, 64, 128.
        let work: Vec<f64> = [32.0, 64.0, 128.0].iter().flat_map(|&m| std::iter::repeat_n(m, 9)).collect();
        for count in 1..=8 {
            let shards = assign(&work, count);
            assert_eq!(shards, assign(&work, count), "deterministic");
            let mut load = vec![0.0; count];
            for (run, &s) in shards.iter().enumerate() {
                load[s] += work[run];
            }
            let (lo, hi) = load.iter().fold((f64::MAX, 0.0f64), |(lo, hi), &l| (lo.min(l), hi.max(l)));
            assert!(hi - lo <= 128.0, "{count} shards: loads {load:?}");
            assert!(load.iter().all(|&l| l > 0.0), "{count} shards: every shard has work");
        }
        assert_eq!(assign(&[1.0, 1.0, 1.0], 2), vec![0, 1, 0]);
    }
}
