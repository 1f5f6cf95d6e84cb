//! The scheduler: which runs this process trains, in which order, in which fused groups, on
//! the pool's workers; and the memory that takes.
//!
//! Largest runs first, each group taken by the next free worker (list scheduling): the small
//! runs fill the gaps at the end, and a worker with no group left helps with the others'
//! chunks. Runs of one network size train together as fused groups. Which thread trains a run,
//! and with which others, never changes its numbers. A trained group's files are saved by a
//! writer thread while its worker goes on to the next group.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use heavyball_core::Real;
use heavyball_core::model::Shape;

use super::RunOptions;
use super::progress::Progress;
use super::run_one::{Ended, Handled, RunOutcome, TakeUp, take_up, train_members};
use crate::config::Config;
use crate::data::Prepared;
use crate::grid::RunSpec;
use crate::shard;
use crate::store::{RunId, RunLock, SweepDir};

/// What one call of [`train_runs`] did.
pub(super) struct Trained {
    /// This process's share of the runs considered.
    pub(super) mine: usize,
    /// One outcome per run taken up.
    pub(super) outcomes: Vec<RunOutcome>,
    /// Wall time.
    pub(super) elapsed: Duration,
}

/// What every worker of [`train_runs`] reads.
struct Shared<'s, T> {
    config: &'s Config,
    opts: &'s RunOptions,
    data: &'s Prepared<T>,
    dir: &'s SweepDir,
    runs: &'s [RunSpec],
    ids: &'s [RunId],
    progress: &'s Progress,
    /// Set once a run's files could not be saved: no group begins after it, and the groups in
    /// training stop as they do on a stop request.
    failed: &'s AtomicBool,
}

impl<'s, T: Real> Shared<'s, T> {
    /// Takes up run i under its lock (held in `locks` until the group is saved): skipped when
    /// another process holds it, made ready to train otherwise.
    fn take_up(&self, i: usize, locks: &mut Vec<RunLock>) -> Result<TakeUp<'s, T>> {
        let Some(lock) = RunLock::try_acquire(self.dir, &self.ids[i])? else {
            self.progress.run_ended(false, self.config.train.iterations as u64);
            return Ok(TakeUp::Skip(RunOutcome { status: None, handled: Handled::Busy, flops: 0.0 }));
        };
        locks.push(lock);
        if self.opts.shard.is_some() {
            // Only this process may touch the run now; clear what a killed one left.
            self.dir.run(&self.ids[i]).remove_temporaries()?;
        }
        take_up(self.config, self.data, &self.runs[i], &self.ids[i], self.dir, self.progress, &self.opts.stop)
    }

    /// Takes up a group's runs (`order[k]` for each position k of `group`) and trains those
    /// left to train together; what is left is to save them ([`Shared::save`]).
    fn train_group(&self, group: &[usize], order: &[usize]) -> GroupEnd<'s, T> {
        let mut outcomes: Vec<Option<Result<RunOutcome>>> = group.iter().map(|_| None).collect();
        let mut locks = Vec::new();
        let (mut members, mut states, mut trained) = (Vec::new(), Vec::new(), Vec::new());
        for (slot, &k) in group.iter().enumerate() {
            match self.take_up(order[k], &mut locks) {
                Ok(TakeUp::Train(member, state)) => {
                    members.push(*member);
                    states.push(state);
                    trained.push(slot);
                }
                Ok(TakeUp::Skip(outcome)) => outcomes[slot] = Some(Ok(outcome)),
                Err(e) => outcomes[slot] = Some(Err(e)),
            }
        }
        let stop = || self.opts.stop.load(Ordering::SeqCst) || self.failed.load(Ordering::SeqCst);
        let ended = train_members(self.config, self.data, members, states, self.progress, &stop);
        GroupEnd { positions: group.to_vec(), outcomes, trained, ended, locks }
    }

    /// Saves a trained group's runs, then lets go of their locks; one outcome per run, in the
    /// group's order.
    fn save(&self, end: GroupEnd<'s, T>) -> Vec<Result<RunOutcome>> {
        let GroupEnd { mut outcomes, trained, ended, locks, .. } = end;
        for (slot, outcome) in trained.into_iter().zip(ended.save(self.config, self.data, self.progress)) {
            outcomes[slot] = Some(outcome);
        }
        drop(locks);
        outcomes.into_iter().map(|o| o.expect("an outcome for every run of the group")).collect()
    }
}

/// A group whose training is over, on its way to a writer: the outcomes known at take-up (runs
/// finished before, held by another process, or refused), the trained runs still to save, and
/// the group's run locks, held until they are saved.
struct GroupEnd<'s, T> {
    /// The group's positions in the training order.
    positions: Vec<usize>,
    outcomes: Vec<Option<Result<RunOutcome>>>,
    /// The group's slots that [`GroupEnd::ended`] holds, in its order.
    trained: Vec<usize>,
    ended: Ended<'s, T>,
    locks: Vec<RunLock>,
}

/// Runs of fewer iterations than this are saved by writer threads while their workers train
/// on; longer ones by their own worker. A run in flight holds its curve (256 bytes a row), so a
/// second group per worker costs at most about 26 MB a run, and a run this long spends a
/// negligible share of its time on its files anyway.
const HANDED_OFF_ITERATIONS: usize = 100_000;

/// True when writer threads save the sweep's trained groups ([`HANDED_OFF_ITERATIONS`]).
fn writers_save(config: &Config) -> bool {
    config.train.iterations < HANDED_OFF_ITERATIONS
}

/// Trains the runs `runs[from..]` that are this process's (all, or its shard's share of the
/// whole list), largest first, in fused groups of at most `most` runs, each saved as it ends.
#[allow(clippy::too_many_arguments)]
pub(super) fn train_runs<T: Real>(
    config: &Config,
    opts: &RunOptions,
    data: &Prepared<T>,
    dir: &SweepDir,
    runs: &[RunSpec],
    ids: &[RunId],
    from: usize,
    most: usize,
) -> Result<Trained> {
    let mine: Vec<usize> = match opts.shard {
        None => (from..runs.len()).collect(),
        Some(shard) => {
            let of = assignment(runs, data, shard.count);
            (from..runs.len()).filter(|&i| of[i] == shard.index).collect()
        }
    };
    let progress = Progress::new((mine.len() * config.train.iterations) as u64, mine.len(), opts.quiet);
    let started = Instant::now();
    let work = run_work(runs, data);
    let mut order = mine.clone();
    order.sort_by(|&a, &b| work[b].total_cmp(&work[a]));
    let threads = rayon::current_num_threads();
    let groups = fused_groups::<T>(&order, runs, threads, most);
    let failed = AtomicBool::new(false);
    let shared = Shared { config, opts, data, dir, runs, ids, progress: &progress, failed: &failed };
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<RunOutcome>>>> = order.iter().map(|_| Mutex::new(None)).collect();
    let workers = threads.min(groups.len());
    let record = |mut end: GroupEnd<'_, T>| {
        let positions = std::mem::take(&mut end.positions);
        for (&k, outcome) in positions.iter().zip(shared.save(end)) {
            failed.fetch_or(outcome.is_err(), Ordering::SeqCst);
            *slots[k].lock().expect("no thread panics while holding a slot") = Some(outcome);
        }
    };
    // A trained group goes to a writer, so that its worker starts the next group while the
    // disk takes the last one's files; each writer takes one group at a time, so at most two
    // groups per worker hold their curves. Runs too long for that memory save their own.
    let hand_off = writers_save(config);
    let (sender, receiver) = std::sync::mpsc::sync_channel::<GroupEnd<'_, T>>(0);
    let receiver = std::sync::Arc::new(Mutex::new(receiver));
    std::thread::scope(|writers| {
        for _ in 0..if hand_off { workers } else { 0 } {
            // Each writer owns a handle on the queue: should every writer die, the queue
            // closes and the workers stop instead of waiting.
            let receiver = std::sync::Arc::clone(&receiver);
            let record = &record;
            writers.spawn(move || {
                loop {
                    let next = receiver.lock().expect("no writer panics while taking from the queue").recv();
                    let Ok(end) = next else { break };
                    record(end);
                }
            });
        }
        drop(receiver);
        let sender = sender;
        rayon::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|_| {
                    // After an error or an interrupt, groups not yet begun stay untouched.
                    while !failed.load(Ordering::SeqCst) && !opts.stop.load(Ordering::SeqCst) {
                        let g = next.fetch_add(1, Ordering::SeqCst);
                        let Some(group) = groups.get(g) else { break };
                        let end = shared.train_group(group, &order);
                        if !hand_off {
                            record(end);
                        } else if sender.send(end).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        drop(sender);
    });
    let outcomes: Vec<RunOutcome> = slots
        .into_iter()
        .filter_map(|slot| slot.into_inner().expect("no thread panics while holding a slot"))
        .collect::<Result<_>>()?;
    let elapsed = started.elapsed();
    progress.finish();
    Ok(Trained { mine: mine.len(), outcomes, elapsed })
}

/// The most bytes a row of a fused group's hidden layer spans: R·M values of 64 f32 or 32 f64,
/// four AVX-512 (eight AVX2) vectors, what the product kernel's widest tiles fill. Wider rows
/// gain nothing on the forward product, and a group's workspace grows with R.
const FUSED_ROW_BYTES: usize = 256;

/// The most runs in a fused group.
const MOST_MEMBERS: usize = 16;

/// The environment variable that caps the runs in a fused group, from 1 (every run alone) to
/// 16: for benchmarks and tests. Results are bitwise the same at any setting.
pub const GROUP_SIZE_VAR: &str = "HEAVYBALL_GROUP_SIZE";

/// How many runs of M hidden units train as one fused group: enough to fill a row of 256 bytes
/// (64 f32 or 32 f64 values), and one (no fusing) when M alone fills it, where bench-A shows fusing
/// does not pay; never more than `most`.
pub fn group_size<T>(hidden: usize, most: usize) -> usize {
    (FUSED_ROW_BYTES / std::mem::size_of::<T>() / hidden.max(1)).clamp(1, most.clamp(1, MOST_MEMBERS))
}

/// The cap on a group's runs: [`GROUP_SIZE_VAR`] when set, otherwise [`MOST_MEMBERS`].
pub(super) fn most_members() -> Result<usize> {
    match std::env::var(GROUP_SIZE_VAR) {
        Err(std::env::VarError::NotPresent) => Ok(MOST_MEMBERS),
        Ok(text) => match text.trim().parse::<usize>() {
            Ok(n @ 1..=MOST_MEMBERS) => Ok(n),
            _ => anyhow::bail!(
                "{GROUP_SIZE_VAR} must be a whole number from 1 to {MOST_MEMBERS} (got '{text}')"
            ),
        },
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("{GROUP_SIZE_VAR} must be a whole number from 1 to {MOST_MEMBERS}")
        }
    }
}

/// Splits `order` (positions into it, in its order) into fused groups: consecutive runs of one
/// network size, at most [`group_size`] of them, and no more than leaves each of the `threads`
/// workers a group of that size when there are few runs.
fn fused_groups<T: Real>(order: &[usize], runs: &[RunSpec], threads: usize, most: usize) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut k = 0;
    while k < order.len() {
        let hidden = runs[order[k]].hidden;
        let same = order[k..].iter().take_while(|&&i| runs[i].hidden == hidden).count();
        let size = group_size::<T>(hidden, most).min(same.div_ceil(threads.max(1))).max(1);
        for start in (k..k + same).step_by(size) {
            groups.push((start..(start + size).min(k + same)).collect());
        }
        k += same;
    }
    groups
}

/// The shard of each run among `shards`, sharing out runs by their useful flops per iteration.
pub(super) fn assignment<T: Real>(runs: &[RunSpec], data: &Prepared<T>, shards: usize) -> Vec<usize> {
    shard::assign(&run_work(runs, data), shards)
}

/// Each run's useful flops per iteration: its share of a sweep's work.
fn run_work<T: Real>(runs: &[RunSpec], data: &Prepared<T>) -> Vec<f64> {
    runs.iter()
        .map(|r| {
            let shape =
                Shape { n_features: data.n_features(), n_hidden: r.hidden, n_classes: data.n_classes };
            shape.flops_per_iteration(data.train.len())
        })
        .collect()
}

/// The memory training needs at most, in bytes: as many runs at once as there are threads (or
/// runs), each with its parameters, momentum, a gradient per chunk and a workspace per thread,
/// sized for the widest fused group (R runs of M hidden units count as one network of R·M),
/// and the parameters and curves of the groups being saved.
/// `None` beyond 64-bit counting.
pub(super) fn training_bytes<T: Real>(
    config: &Config,
    data: &Prepared<T>,
    runs: usize,
    most: usize,
) -> Option<u64> {
    let threads = rayon::current_num_threads().min(runs).max(1) as u64;
    let n = data.train.len().max(1) as u64;
    let chunk = (config.train.chunk_size as u64).min(n);
    let chunks = n.div_ceil(chunk);
    let (p, k) = (data.n_features() as u64, data.n_classes as u64);
    let m = config.grid.hidden.iter().map(|&m| group_size::<T>(m, most) * m).max()? as u64;
    // A fused group of r members of width M holds r·M hidden units and r output biases.
    let params = config.grid.hidden.iter().try_fold(0u64, |largest, &hidden| {
        let r = group_size::<T>(hidden, most) as u64;
        let group = (r * hidden as u64)
            .checked_mul(p.checked_add(k)?.checked_add(1)?)?
            .checked_add(r.checked_mul(k)?)?;
        Some(largest.max(group))
    })?;
    let per_run = params.checked_mul(chunks.checked_add(8)?)?;
    let workspace = chunk.checked_mul(m.checked_mul(2)?.checked_add(k)?.checked_add(24)?)?;
    let per_run = per_run.checked_add(workspace.checked_mul(threads)?)?;
    // A group being saved holds θ and φ, its init.npz until written, and a member's encoded
    // checkpoint and final parameters: six more copies of the group's parameters.
    let saving = if writers_save(config) { params.checked_mul(6)? } else { 0 };
    let per_run = per_run.checked_add(saving)?;
    let arrays = per_run.checked_mul(threads)?.checked_mul(std::mem::size_of::<T>() as u64)?;
    // Each run in flight holds its whole curve: per worker, a group of up to `members` in
    // training and, for runs a writer saves, one being saved.
    let members = config.grid.hidden.iter().map(|&m| group_size::<T>(m, most)).max()? as u64;
    let rows = (config.train.iterations as u64).checked_add(1)?;
    let in_flight = if writers_save(config) { 2 } else { 1 };
    let groups = threads.checked_mul(in_flight)?;
    let curves =
        groups.checked_mul(members)?.checked_mul(rows)?.checked_mul(crate::train::CURVE_ROW_BYTES)?;
    // Networks of the lanes form lay their data out once more per evaluator (Xᵀ and labels,
    // padded to blocks of 16): a training and a test set per group in flight.
    let lanes = if config.grid.hidden.iter().any(|&m| heavyball_core::model::lanes::takes_hidden(m)) {
        let samples =
            n.checked_add(data.test.as_ref().map_or(0, |t| t.len() as u64))?.checked_add(32 * chunks)?;
        let per_sample = p.checked_mul(std::mem::size_of::<T>() as u64)?.checked_add(4)?;
        threads.checked_mul(samples)?.checked_mul(per_sample)?
    } else {
        0
    };
    arrays.checked_add(curves)?.checked_add(lanes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;

    /// A config of one network of width 8 trained for `iterations`, and its data: 1000
    /// samples of 16 features in 4 classes.
    fn sweep(iterations: usize) -> (Config, Prepared<f32>) {
        let text = format!(
            "[data]\nbuiltin = \"digits\"\n[train]\niterations = {iterations}\n[grid]\nhidden = [8]\ngamma = [0.1]\nalpha = [1.0]\n"
        );
        let config = Config::from_str(&text, "t.toml", "t", std::path::Path::new("/")).unwrap();
        let train = Dataset { x: ndarray::Array2::zeros((1000, 16)), y: vec![0; 1000] };
        let data =
            Prepared { train, test: None, n_classes: 4, fingerprint: String::new(), origin: String::new() };
        (config, data)
    }

    #[test]
    fn the_memory_check_counts_the_curve_of_every_run_in_flight() {
        let bytes = |iterations| {
            let (config, data) = sweep(iterations);
            training_bytes(&config, &data, 1, 1).unwrap()
        };
        // One run in flight, saved by its worker at these lengths: each row of its curve counts.
        let row = crate::train::CURVE_ROW_BYTES;
        assert_eq!(bytes(2_000_000) - bytes(1_000_000), 1_000_000 * row);
        // A run a writer saves (short runs) is held twice over: in training and being saved.
        assert_eq!(bytes(50_000) - bytes(50), 2 * (50_000 - 50) * row);
    }
}
