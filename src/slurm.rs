//! `heavyball slurm`: a sweep as a Slurm job array. heavyball writes the sbatch script and lets
//! Slurm schedule it; each array task runs `heavyball run CONFIG --shard auto/N`, so shards share
//! one results folder and write disjoint runs. Running the command again after failures or time
//! limits submits only the shards that still have unfinished runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::config::Config;
use crate::store::{SweepDir, write_atomic};
use crate::sweep;

/// What to submit.
#[derive(Clone, Debug)]
pub struct Job {
    /// The sweep's config file.
    pub config: PathBuf,
    /// The results directory (on a filesystem every node shares).
    pub results: PathBuf,
    /// N, the number of array tasks and shards.
    pub tasks: usize,
    /// CPUs per task (threads per shard).
    pub cpus_per_task: usize,
    /// sbatch's --time, if given.
    pub time: Option<String>,
    /// sbatch's --partition, if given.
    pub partition: Option<String>,
    /// Set when a tuned sweep's chain job runs this: the number of runs that were finished when
    /// the array before it was submitted. If none more are, the chain stops.
    pub chained_from: Option<usize>,
}

/// A sweep's job array as written: the script of the shards with work, and what submitting it
/// needs to say.
pub struct Array {
    /// The sbatch script.
    script: PathBuf,
    /// The array's task indices, such as `0-3,5`.
    tasks: String,
    /// The shards with work, of how many.
    pending: (usize, usize),
    /// Runs being trained right now by some process.
    busy: usize,
    /// Runs finished when the array was written.
    finished: usize,
    /// The round the array trains, in words, for a tuned or confirmed sweep ("tuning round 3",
    /// "the confirmation round").
    round: Option<String>,
    /// True when a job must follow the array to submit the next round: the sweep is tuned or
    /// confirmed, and its rounds are decided by the runs this array finishes.
    chained: bool,
    paths: Paths,
    logs: PathBuf,
    /// The sweep's results folder.
    dir: PathBuf,
}

/// What [`write_array`] found: a script written, or nothing left to do.
pub enum Written {
    /// The array for the shards with work.
    Array(Box<Array>),
    /// Every run is finished: what to tell the user.
    Finished(String),
}

/// `path` made absolute with every link resolved, though its last parts may not exist yet: the
/// longest existing ancestor canonicalised, the rest appended.
fn resolve(path: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else { break };
        rest.push(name.to_os_string());
        existing = parent;
    }
    let mut out =
        std::fs::canonicalize(existing).with_context(|| format!("cannot resolve {}", path.display()))?;
    out.extend(rest.iter().rev());
    Ok(out)
}

/// Refuses a path that is not UTF-8: a job script is text, and could not name it faithfully.
fn utf8_paths(paths: &[(&str, &PathBuf)]) -> Result<()> {
    for (what, path) in paths {
        if path.to_str().is_none() {
            bail!(
                "the path of {what}, {}, is not valid UTF-8 and cannot be written into a job script; rename it",
                path.display()
            );
        }
    }
    Ok(())
}

/// Writes the job script for the shards that still have work; when every run is finished,
/// writes nothing and says so. With `job.chained_from` (a tuned sweep's chain job), refuses to
/// go on when no run finished since.
pub fn write_array(config: &Config, job: &Job) -> Result<Written> {
    check_options(job)?;
    utf8_paths(&[("the config", &job.config), ("the results folder", &job.results)])?;
    // Resolved without creating it: a refusal below leaves nothing behind; the folder is made
    // when the script is written.
    let results = resolve(&job.results)?;
    let config_path = std::fs::canonicalize(&job.config)
        .with_context(|| format!("cannot resolve {}", job.config.display()))?;
    let binary = std::env::current_exe().context("cannot find the heavyball executable")?;
    utf8_paths(&[("the config", &config_path), ("the results folder", &results), ("heavyball", &binary)])?;
    let paths = Paths { binary, config: config_path, results };

    check_log_path(&paths.results)?;
    // A study's array: task i trains shard i of each of its workloads, one after another.
    let plan = match config.is_study() {
        true => crate::study::merged_plan(config, &paths.results, Some(job.tasks))?,
        false => sweep::plan(config, &paths.results, Some(job.tasks))?,
    };
    let pending = plan.unfinished_shards();
    let finished = plan.finished();
    let tuning = plan.tuning.as_ref().map(|(_, t)| t);
    if pending.is_empty() {
        let mut out = format!(
            "all {} runs of {} are finished; nothing to submit. Results in {}\n",
            plan.rows.len(),
            config.name,
            plan.dir.root().display()
        );
        if let Some(tuning) = tuning {
            let open = tuning.verdicts.iter().filter(|(_, v)| !v.is_bracketed()).count();
            out.push_str(&format!(
                "tuning finished after {} rounds: {} of {} methods bracketed (heavyball report {})\n",
                tuning.round(),
                tuning.verdicts.len() - open,
                tuning.verdicts.len(),
                quote(&plan.dir.root().to_string_lossy()),
            ));
        }
        return Ok(Written::Finished(out));
    }
    if let Some(before) = job.chained_from
        && finished <= before
    {
        bail!(
            "no run of sweep {} finished in the last job array ({finished} of {} runs finished, as before): \
             the chain of rounds stops here. Read the array's logs in {}, then run heavyball slurm \
             again to resubmit",
            config.name,
            plan.rows.len(),
            plan.dir.slurm().logs().display()
        );
    }
    let slurm_dir = plan.dir.slurm();
    let logs = slurm_dir.logs();
    crate::store::create_within(plan.dir.root(), &logs)?;
    let script_path = slurm_dir.script(&config.name);
    let text = script(config, job, &pending, &paths, &logs);
    write_atomic(&script_path, |w| w.write_all(text.as_bytes()))?;
    Ok(Written::Array(Box::new(Array {
        script: script_path,
        tasks: array_spec(&pending),
        pending: (pending.len(), job.tasks),
        busy: plan.rows.iter().filter(|r| r.busy).count(),
        finished,
        round: match (&plan.confirmation, tuning) {
            (Some((_, Some(_))), _) => Some("the confirmation round".to_string()),
            (_, Some(t)) => Some(format!("tuning round {}", t.round())),
            _ => None,
        },
        chained: config.tune.is_some() || config.confirm.is_some(),
        paths,
        logs,
        dir: plan.dir.root().to_path_buf(),
    })))
}

impl Array {
    /// A note for the user when some runs are being trained right now.
    fn busy_note(&self) -> String {
        match self.busy {
            0 => String::new(),
            busy => format!(
                "note: {busy} runs are being trained right now (is a job of this sweep still running?); \
                 the new tasks leave them to it\n"
            ),
        }
    }

    fn round_words(&self) -> String {
        self.round.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
    }

    /// What to tell the user when the script is written but not submitted.
    pub fn unsubmitted(&self) -> String {
        let mut out = self.busy_note();
        out.push_str(&format!(
            "wrote {} for array tasks {}{} ({} of {} shards have work)\nsubmit with: sbatch {}\n",
            self.script.display(),
            self.tasks,
            self.round_words(),
            self.pending.0,
            self.pending.1,
            quote(&self.script.to_string_lossy())
        ));
        if self.chained {
            out.push_str(
                "rounds: with --submit, heavyball also queues a job that submits each next round when \
                 the array before it ends\n",
            );
        }
        out
    }
}

/// Submits a written array with sbatch and returns what to tell the user. For a tuned sweep,
/// also writes and submits a job that waits for the array to end and then runs `heavyball slurm
/// --submit` again (with `--chained-from`), which submits the next round: Slurm itself carries
/// the tuning from round to round.
pub fn submit(config: &Config, job: &Job, array: &Array) -> Result<String> {
    let watch = format!(
        "{} plan {} --results {} --shards {}",
        quote(&array.paths.binary.to_string_lossy()),
        quote(&array.paths.config.to_string_lossy()),
        quote(&array.paths.results.to_string_lossy()),
        job.tasks
    );
    let job_id = sbatch(&array.script, &[])?;
    let mut out = array.busy_note();
    out.push_str(&format!(
        "submitted job {job_id}: array tasks {} of {} shards{}, {} CPUs each ({})\n\
         watch:   squeue -j {job_id}   and   {watch}\n\
         logs:    {}\n\
         results: {} (heavyball report {} when done)\n",
        array.tasks,
        job.tasks,
        array.round_words(),
        job.cpus_per_task,
        array.script.display(),
        array.logs.display(),
        array.dir.display(),
        quote(&array.dir.to_string_lossy()),
    ));
    if array.chained {
        let next_path = SweepDir::at(&array.dir).slurm().next_script(&config.name);
        let text = next_script(config, job, &array.paths, &array.logs, array.finished);
        write_atomic(&next_path, |w| w.write_all(text.as_bytes()))?;
        let next_id = sbatch(&next_path, &[format!("--dependency=afterany:{job_id}")])?;
        out.push_str(&format!(
            "rounds:  job {next_id} waits for job {job_id} to end, then submits the next round ({}); \
             the chain ends when the tuning and the confirmation are done, or when an array \
             finishes no run\n",
            next_path.display()
        ));
    } else {
        out.push_str("resume:  run this command again; it submits only the shards with unfinished runs\n");
    }
    Ok(out)
}

/// Submits a script with `sbatch --parsable` and returns the job id.
fn sbatch(script: &Path, options: &[String]) -> Result<String> {
    let output = Command::new("sbatch").arg("--parsable").args(options).arg(script).output();
    let output = match output {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "sbatch is not on PATH: submit from a machine of the Slurm cluster (the script is written: {})",
            script.display()
        ),
        Err(e) => return Err(e).context("cannot run sbatch"),
    };
    if !output.status.success() {
        bail!(
            "sbatch refused {} ({}): {}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let id = stdout.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch accepted {} but printed no job id (it printed {:?})", script.display(), stdout.trim());
    }
    Ok(id)
}

/// The absolute paths a script names.
struct Paths {
    binary: PathBuf,
    config: PathBuf,
    results: PathBuf,
}

/// The `#SBATCH` lines every script of a sweep shares: name, one task, time and partition,
/// the log file.
fn header(job: &Job, name: &str, cpus: usize, logs: &Path, log_name: &str) -> String {
    let mut s = format!("#SBATCH --job-name={name}\n");
    s.push_str("#SBATCH --ntasks=1\n");
    s.push_str(&format!("#SBATCH --cpus-per-task={cpus}\n"));
    if let Some(time) = &job.time {
        s.push_str(&format!("#SBATCH --time={time}\n"));
    }
    if let Some(partition) = &job.partition {
        s.push_str(&format!("#SBATCH --partition={partition}\n"));
    }
    // Double quotes keep a path with spaces one word for sbatch; check_log_path refused the
    // characters that could end or escape them.
    s.push_str(&format!("#SBATCH --output=\"{}/{log_name}\"\n", logs.display()));
    s.push_str("#SBATCH --open-mode=append\n\n");
    s
}

/// The script of the job that submits a tuned sweep's next round: `heavyball slurm` again, with
/// the same options and the number of runs finished when this round was submitted, so that a
/// round that finished nothing ends the chain instead of resubmitting forever.
fn next_script(config: &Config, job: &Job, paths: &Paths, logs: &Path, finished: usize) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "# Submits the next tuning round of sweep {:?} once the array before it has ended (sbatch\n\
         # --dependency=afterany). Written by `heavyball slurm --submit`.\n",
        config.name
    ));
    s.push_str(&header(job, &format!("heavyball-{}-next", config.name), 1, logs, "%x-%j.out"));
    let mut command = format!(
        "exec {} slurm {} --results {} --tasks {} --cpus-per-task {}",
        quote(&paths.binary.to_string_lossy()),
        quote(&paths.config.to_string_lossy()),
        quote(&paths.results.to_string_lossy()),
        job.tasks,
        job.cpus_per_task
    );
    if let Some(time) = &job.time {
        command.push_str(&format!(" --time {time}"));
    }
    if let Some(partition) = &job.partition {
        command.push_str(&format!(" --partition {partition}"));
    }
    command.push_str(&format!(" --submit --chained-from {finished}\n"));
    s.push_str(&command);
    s
}

/// The array's sbatch script.
fn script(config: &Config, job: &Job, pending: &[usize], paths: &Paths, logs: &Path) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "# Trains sweep {:?} as a Slurm job array: task I runs shard I of {}. Written by\n\
         # `heavyball slurm`; running that command again rewrites this file for the shards that\n\
         # still have unfinished runs.\n",
        config.name, job.tasks
    ));
    s.push_str(&format!("#SBATCH --array={}\n", array_spec(pending)));
    s.push_str(&header(job, &format!("heavyball-{}", config.name), job.cpus_per_task, logs, "%x-%A_%a.out"));
    s.push_str(&format!(
        "exec {} run {} --results {} --shard auto/{} --quiet\n",
        quote(&paths.binary.to_string_lossy()),
        quote(&paths.config.to_string_lossy()),
        quote(&paths.results.to_string_lossy()),
        job.tasks
    ));
    s
}

/// Refuses `--time` and `--partition` values that are not what Slurm expects: they go into
/// `#SBATCH` lines, where a newline or a quote would change the script.
fn check_options(job: &Job) -> Result<()> {
    if let Some(time) = &job.time {
        let valid = !time.is_empty()
            && time.len() <= 32
            && time.chars().all(|c| c.is_ascii_digit() || c == ':' || c == '-');
        if !valid {
            bail!("--time must be a Slurm time limit such as 30, 4:00:00 or 2-12:00:00 (got {time:?})");
        }
    }
    if let Some(partition) = &job.partition {
        let valid = !partition.is_empty()
            && partition.len() <= 128
            && partition.chars().all(|c| c.is_ascii_alphanumeric() || "_-.,".contains(c));
        if !valid {
            bail!("--partition must be a Slurm partition name (letters, digits, _ - . ,; got {partition:?})");
        }
    }
    Ok(())
}

/// Refuses a results path that cannot be written safely into the script's `#SBATCH --output`
/// line: sbatch expands `%` there, and quotes, backslashes or control characters would end or
/// escape the quoted path.
fn check_log_path(results: &Path) -> Result<()> {
    let text = results.to_string_lossy();
    if let Some(c) = text.chars().find(|&c| c == '"' || c == '\\' || c == '%' || c.is_control()) {
        bail!(
            "the results path {} contains {c:?}, which Slurm's log path cannot hold; choose a path without it",
            results.display()
        );
    }
    Ok(())
}

/// Shard indices as an sbatch --array value: runs of consecutive indices become ranges.
fn array_spec(shards: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < shards.len() {
        let mut j = i;
        while j + 1 < shards.len() && shards[j + 1] == shards[j] + 1 {
            j += 1;
        }
        parts.push(if i == j { shards[i].to_string() } else { format!("{}-{}", shards[i], shards[j]) });
        i = j + 1;
    }
    parts.join(",")
}

/// A word for the shell: unchanged when it is plainly safe, else single-quoted.
pub fn quote(s: &str) -> String {
    let safe = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c));
    if safe { s.to_string() } else { format!("'{}'", s.replace('\'', "'\\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_specs_compress_consecutive_shards() {
        assert_eq!(array_spec(&[0, 1, 2, 3]), "0-3");
        assert_eq!(array_spec(&[1, 3]), "1,3");
        assert_eq!(array_spec(&[0, 2, 3, 4, 7]), "0,2-4,7");
        assert_eq!(array_spec(&[5]), "5");
    }

    fn job(time: Option<&str>, partition: Option<&str>) -> Job {
        Job {
            config: "c.toml".into(),
            results: "r".into(),
            tasks: 2,
            cpus_per_task: 1,
            time: time.map(Into::into),
            partition: partition.map(Into::into),
            chained_from: None,
        }
    }

    #[test]
    fn script_values_that_could_change_the_script_are_refused() {
        for time in ["30", "4:00:00", "2-12:00:00"] {
            assert!(check_options(&job(Some(time), Some("gpu_a100"))).is_ok(), "{time}");
        }
        let err = check_options(&job(Some("1:00:00\necho INJECTED"), None)).unwrap_err().to_string();
        assert!(err.starts_with("--time must be a Slurm time limit"), "{err}");
        let err = check_options(&job(None, Some("a b"))).unwrap_err().to_string();
        assert!(err.starts_with("--partition must be"), "{err}");
        assert!(check_log_path(Path::new("/my results/x")).is_ok());
        for bad in ["/a\"b", "/a%j", "/a\nb"] {
            assert!(check_log_path(Path::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_log_path_is_one_quoted_word() {
        let config = Config::from_str(
            "[data]\nbuiltin = \"iris\"\n[train]\niterations = 1\n[grid]\nhidden = [2]\ngamma = [0.1]\nalpha = [1.0]\n",
            "t.toml",
            "t",
            Path::new("."),
        )
        .unwrap();
        let logs = Path::new("/my results/t/slurm/logs");
        let paths =
            Paths { binary: "/bin/hb".into(), config: "/c.toml".into(), results: "/my results".into() };
        let text = script(&config, &job(None, None), &[0, 1], &paths, logs);
        assert!(text.contains("#SBATCH --output=\"/my results/t/slurm/logs/%x-%A_%a.out\"\n"), "{text}");
        assert!(
            text.contains("exec /bin/hb run /c.toml --results '/my results' --shard auto/2 --quiet"),
            "{text}"
        );
    }

    #[test]
    fn the_chain_job_runs_heavyball_slurm_again_with_the_same_options() {
        let config = Config::from_str(
            "[data]\nbuiltin = \"iris\"\n[train]\niterations = 1\n[grid]\nhidden = [2]\ngamma = [0.1, 1]\n\
             alpha = [1.0]\n[tune]\ngamma = \"bracket\"\n",
            "t.toml",
            "t",
            Path::new("."),
        )
        .unwrap();
        let paths = Paths { binary: "/bin/hb".into(), config: "/c.toml".into(), results: "/r".into() };
        let mut job = job(Some("1:00:00"), Some("short"));
        job.cpus_per_task = 3;
        let text = next_script(&config, &job, &paths, Path::new("/r/t/slurm/logs"), 7);
        assert!(text.contains("#SBATCH --job-name=heavyball-t-next\n"), "{text}");
        assert!(text.contains("#SBATCH --cpus-per-task=1\n"), "{text}");
        assert!(text.contains("#SBATCH --output=\"/r/t/slurm/logs/%x-%j.out\"\n"), "{text}");
        assert!(
            text.ends_with(
                "exec /bin/hb slurm /c.toml --results /r --tasks 2 --cpus-per-task 3 --time 1:00:00 \
                 --partition short --submit --chained-from 7\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn shell_words_are_quoted_when_needed() {
        assert_eq!(quote("/a/b-c_d.toml"), "/a/b-c_d.toml");
        assert_eq!(quote("/my results/x"), "'/my results/x'");
        assert_eq!(quote("it's"), "'it'\\''s'");
    }
}
