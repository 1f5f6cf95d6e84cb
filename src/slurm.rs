//! `heavyball slurm`: a sweep as a Slurm job array. heavyball writes the sbatch script and lets
//! Slurm schedule it; each array task runs `heavyball run CONFIG --shard auto/N`, so shards share
//! one results folder and write disjoint runs. Running the command again after failures or time
//! limits submits only the shards that still have unfinished runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::config::Config;
use crate::store::write_atomic;
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
}

/// Writes the job script for the shards that still have work and, with `submit`, submits it;
/// returns what to tell the user.
pub fn prepare(config: &Config, job: &Job, submit: bool) -> Result<String> {
    check_options(job)?;
    std::fs::create_dir_all(&job.results)
        .with_context(|| format!("cannot create results folder {}", job.results.display()))?;
    let results = std::fs::canonicalize(&job.results)
        .with_context(|| format!("cannot resolve {}", job.results.display()))?;
    let config_path = std::fs::canonicalize(&job.config)
        .with_context(|| format!("cannot resolve {}", job.config.display()))?;
    let binary = std::env::current_exe().context("cannot find the heavyball executable")?;

    check_log_path(&results)?;
    let plan = sweep::plan(config, &results, Some(job.tasks))?;
    let pending = plan.unfinished_shards();
    let watch = format!(
        "{} plan {} --results {} --shards {}",
        quote(&binary.to_string_lossy()),
        quote(&config_path.to_string_lossy()),
        quote(&results.to_string_lossy()),
        job.tasks
    );
    if pending.is_empty() {
        return Ok(format!(
            "all {} runs of {} are finished; nothing to submit. Results in {}\n",
            plan.rows.len(),
            config.name,
            plan.dir.root().display()
        ));
    }
    let slurm_dir = plan.dir.slurm();
    let logs = slurm_dir.logs();
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let script_path = slurm_dir.script(&config.name);
    let text = script(config, job, &pending, &binary, &config_path, &results, &logs);
    write_atomic(&script_path, |w| w.write_all(text.as_bytes()))?;

    let array = array_spec(&pending);
    let busy = plan.rows.iter().filter(|r| r.busy).count();
    let mut out = String::new();
    if busy > 0 {
        out.push_str(&format!(
            "note: {busy} runs are being trained right now (is a job of this sweep still running?); \
             the new tasks leave them to it\n"
        ));
    }
    if !submit {
        out.push_str(&format!(
            "wrote {} for array tasks {array} ({} of {} shards have work)\nsubmit with: sbatch {}\n",
            script_path.display(),
            pending.len(),
            job.tasks,
            quote(&script_path.to_string_lossy())
        ));
        return Ok(out);
    }
    let output = Command::new("sbatch").arg("--parsable").arg(&script_path).output();
    let output = match output {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "sbatch is not on PATH: submit from a machine of the Slurm cluster (the script is written: {})",
            script_path.display()
        ),
        Err(e) => return Err(e).context("cannot run sbatch"),
    };
    if !output.status.success() {
        bail!(
            "sbatch refused {} ({}): {}",
            script_path.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let job_id = stdout.trim().split(';').next().unwrap_or("").to_string();
    out.push_str(&format!(
        "submitted job {job_id}: array tasks {array} of {} shards, {} CPUs each ({})\n\
         watch:   squeue -j {job_id}   and   {watch}\n\
         logs:    {}\n\
         results: {} (heavyball report {} when done)\n\
         resume:  run this command again; it submits only the shards with unfinished runs\n",
        job.tasks,
        job.cpus_per_task,
        script_path.display(),
        logs.display(),
        plan.dir.root().display(),
        quote(&plan.dir.root().to_string_lossy()),
    ));
    if config.tune.is_some() {
        out.push_str(
            "tuning:  this array trains the tuning round in progress; when it ends, run this command \
             again to submit the next round (heavyball plan shows the rounds)\n",
        );
    }
    Ok(out)
}

/// The sbatch script.
fn script(
    config: &Config,
    job: &Job,
    pending: &[usize],
    binary: &Path,
    config_path: &Path,
    results: &Path,
    logs: &Path,
) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "# Trains sweep {:?} as a Slurm job array: task I runs shard I of {}. Written by\n\
         # `heavyball slurm`; running that command again rewrites this file for the shards that\n\
         # still have unfinished runs.\n",
        config.name, job.tasks
    ));
    s.push_str(&format!("#SBATCH --job-name=heavyball-{}\n", config.name));
    s.push_str(&format!("#SBATCH --array={}\n", array_spec(pending)));
    s.push_str("#SBATCH --ntasks=1\n");
    s.push_str(&format!("#SBATCH --cpus-per-task={}\n", job.cpus_per_task));
    if let Some(time) = &job.time {
        s.push_str(&format!("#SBATCH --time={time}\n"));
    }
    if let Some(partition) = &job.partition {
        s.push_str(&format!("#SBATCH --partition={partition}\n"));
    }
    // Double quotes keep a path with spaces one word for sbatch; check_log_path refused the
    // characters that could end or escape them.
    s.push_str(&format!("#SBATCH --output=\"{}/%x-%A_%a.out\"\n", logs.display()));
    s.push_str("#SBATCH --open-mode=append\n\n");
    s.push_str(&format!(
        "exec {} run {} --results {} --shard auto/{} --quiet\n",
        quote(&binary.to_string_lossy()),
        quote(&config_path.to_string_lossy()),
        quote(&results.to_string_lossy()),
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
fn quote(s: &str) -> String {
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
        let text = script(
            &config,
            &job(None, None),
            &[0, 1],
            Path::new("/bin/hb"),
            Path::new("/c.toml"),
            Path::new("/my results"),
            logs,
        );
        assert!(text.contains("#SBATCH --output=\"/my results/t/slurm/logs/%x-%A_%a.out\"\n"), "{text}");
        assert!(
            text.contains("exec /bin/hb run /c.toml --results '/my results' --shard auto/2 --quiet"),
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
