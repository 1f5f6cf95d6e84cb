//! How much memory the machine can give, so that a sweep, a data set or a file that cannot fit
//! is refused with a clear message before anything is allocated (an allocation that fails
//! aborts the process).

use std::path::Path;

/// Bytes this process can still allocate: `MemAvailable` from `/proc/meminfo`, lowered to the
/// room left under a cgroup v2 memory limit when there is one. `u64::MAX` when neither can be
/// read.
pub fn available() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let free = meminfo
        .as_deref()
        .and_then(|text| text.lines().find_map(|l| l.strip_prefix("MemAvailable:")))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(u64::MAX, |kb| kb.saturating_mul(1024));
    free.min(cgroup_room().unwrap_or(u64::MAX))
}

/// Room left under this process's cgroup v2 memory limit, if it has one.
fn cgroup_room() -> Option<u64> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'));
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok()?.trim().parse::<u64>().ok();
    Some(read("memory.max")?.saturating_sub(read("memory.current").unwrap_or(0)))
}

/// Bytes as "12.3 GiB" (or MiB, KiB).
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        _ if bytes >= 1 << 30 => format!("{:.1} GiB", b / f64::from(1u32 << 30)),
        _ if bytes >= 1 << 20 => format!("{:.1} MiB", b / f64::from(1u32 << 20)),
        _ => format!("{:.1} KiB", b / 1024.0),
    }
}

/// `Err` with a sentence when `needed` bytes (`None`: beyond 64-bit counting) exceed what is
/// available; `what` says what needs them.
pub fn check(what: &str, needed: Option<u64>) -> Result<(), String> {
    let available = available();
    match needed {
        Some(n) if n <= available => Ok(()),
        Some(n) => Err(format!(
            "{what} needs about {} of memory, and this machine has {} available",
            human(n),
            human(available)
        )),
        None => Err(format!("{what} needs more memory than any machine has")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_cannot_fit_is_refused_in_words() {
        assert!(available() > 1 << 20);
        assert!(check("a small thing", Some(1024)).is_ok());
        let e = check("the data", Some(u64::MAX - 1)).unwrap_err();
        assert!(
            e.starts_with("the data needs about ") && e.contains("GiB of memory, and this machine has"),
            "{e}"
        );
        assert_eq!(check("the grid", None).unwrap_err(), "the grid needs more memory than any machine has");
        assert_eq!(human(3 << 29), "1.5 GiB");
    }
}
