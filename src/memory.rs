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

/// Room left under this process's memory cgroup limit, if it has one (cgroup v2, or v1's
/// memory controller).
fn cgroup_room() -> Option<u64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let read = |dir: &Path, name: &str| std::fs::read_to_string(dir.join(name)).ok();
    // A process in a cgroup namespace sees its own cgroup at the mount's root, whatever path
    // /proc/self/cgroup names; try the path first, then the root.
    let dirs = |mount: &Path, rel: &str| [mount.join(rel.trim_start_matches('/')), mount.to_path_buf()];
    if let Some(rel) = cgroups.lines().find_map(|l| l.strip_prefix("0::")) {
        for dir in dirs(Path::new("/sys/fs/cgroup"), rel) {
            if let Some(limit) = read(&dir, "memory.max") {
                let stat = read(&dir, "memory.stat").unwrap_or_default();
                return room(&limit, &read(&dir, "memory.current")?, &stat, "inactive_file");
            }
        }
    }
    let rel = cgroups.lines().find_map(|l| {
        let mut fields = l.splitn(3, ':').skip(1);
        let controllers = fields.next()?;
        controllers.split(',').any(|c| c == "memory").then_some(fields.next()?)
    })?;
    for dir in dirs(Path::new("/sys/fs/cgroup/memory"), rel) {
        if let Some(limit) = read(&dir, "memory.limit_in_bytes") {
            let stat = read(&dir, "memory.stat").unwrap_or_default();
            return room(&limit, &read(&dir, "memory.usage_in_bytes")?, &stat, "total_inactive_file");
        }
    }
    None
}

/// Room under a cgroup's `limit` (`None` for "max", no limit) when it uses `usage` bytes. The
/// usage counts the page cache the cgroup's file writes left behind, which the kernel takes
/// back on demand: after a large build it sits near the limit with little of it in use. The
/// inactive part of that cache (`inactive_key` in `stat`) is counted as room, as the kernel's
/// own `MemAvailable` counts it.
fn room(limit: &str, usage: &str, stat: &str, inactive_key: &str) -> Option<u64> {
    let limit = limit.trim().parse::<u64>().ok()?;
    let usage = usage.trim().parse::<u64>().ok()?;
    let inactive = stat
        .lines()
        .find_map(|l| l.strip_prefix(inactive_key)?.strip_prefix(' ')?.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Some(limit.saturating_sub(usage.saturating_sub(inactive)))
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

    #[test]
    fn a_cgroup_full_of_page_cache_still_has_room() {
        const GIB: u64 = 1 << 30;
        // A cgroup v2 at its 8 GiB limit, 6 GiB of it the inactive cache a build left behind:
        // 6 GiB can be had (the limit less usage alone said 0, and refused any data set).
        let stat =
            format!("anon {}\nfile {}\nactive_file {}\ninactive_file {}\n", 2 * GIB, 6 * GIB, 0, 6 * GIB);
        assert_eq!(
            room(&format!("{}\n", 8 * GIB), &format!("{}\n", 8 * GIB), &stat, "inactive_file"),
            Some(6 * GIB)
        );
        // cgroup v1 counts the hierarchy's cache as total_inactive_file; its own inactive_file
        // line (a subset) is not taken for it.
        let v1 = format!("inactive_file {}\ntotal_inactive_file {}\n", GIB, 3 * GIB);
        assert_eq!(
            room(&(4 * GIB).to_string(), &(4 * GIB).to_string(), &v1, "total_inactive_file"),
            Some(3 * GIB)
        );
        // No limit, a usage past the limit, no stat: none, none of it, the limit less usage.
        assert_eq!(room("max\n", "123", "", "inactive_file"), None);
        assert_eq!(room("100", "150", "inactive_file 20\n", "inactive_file"), Some(0));
        assert_eq!(room("100", "30", "", "inactive_file"), Some(70));
    }
}
