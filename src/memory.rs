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

/// Room left under this process's memory cgroup limits, if it has any (cgroup v2, or v1's
/// memory controller): the least room under its own cgroup's limit and its ancestors'.
fn cgroup_room() -> Option<u64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let v2 = cgroups.lines().find_map(|l| l.strip_prefix("0::"));
    let v1 = cgroups.lines().find_map(|l| {
        let mut fields = l.splitn(3, ':').skip(1);
        let controllers = fields.next()?;
        controllers.split(',').any(|c| c == "memory").then_some(fields.next()?)
    });
    let rooms = |mount: &str, rel: &str, [limit, usage, prefix]: [&str; 3]| {
        let mount = Path::new(mount);
        // A process in a cgroup namespace sees its own cgroup at the mount's root, whatever
        // path /proc/self/cgroup names.
        let own = Some(mount.join(rel.trim_start_matches('/'))).filter(|d| d.is_dir());
        let read = |dir: &Path, name: &str| std::fs::read_to_string(dir.join(name)).ok();
        own.as_deref()
            .unwrap_or(mount)
            .ancestors()
            .take_while(|dir| dir.starts_with(mount))
            .filter_map(|dir| {
                room(
                    &read(dir, limit)?,
                    &read(dir, usage)?,
                    &read(dir, "memory.stat").unwrap_or_default(),
                    prefix,
                )
            })
            .min()
    };
    let v2 = v2.and_then(|rel| rooms("/sys/fs/cgroup", rel, ["memory.max", "memory.current", ""]));
    let v1 = v1.and_then(|rel| {
        rooms("/sys/fs/cgroup/memory", rel, ["memory.limit_in_bytes", "memory.usage_in_bytes", "total_"])
    });
    v2.into_iter().chain(v1).min()
}

/// Room under a cgroup's `limit` (`None` for "max", no limit) when it uses `usage` bytes. The
/// usage counts the page cache of the files the cgroup read and wrote, which the kernel takes
/// back on demand: after a large build it sits near the limit with little of it in use. That
/// cache (the file pages, active and inactive, of `stat`'s lines named with `prefix`) is
/// counted as room, as the kernel's own `MemAvailable` counts it.
fn room(limit: &str, usage: &str, stat: &str, prefix: &str) -> Option<u64> {
    let limit = limit.trim().parse::<u64>().ok()?;
    let usage = usage.trim().parse::<u64>().ok()?;
    let value = |key: &str| {
        stat.lines()
            .find_map(|l| {
                l.strip_prefix(prefix)?.strip_prefix(key)?.strip_prefix(' ')?.trim().parse::<u64>().ok()
            })
            .unwrap_or(0)
    };
    let cache = value("active_file").saturating_add(value("inactive_file"));
    Some(limit.saturating_sub(usage.saturating_sub(cache)))
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
        // A cgroup v2 at its 8 GiB limit, 6 GiB of it the cache a build left behind: 6 GiB can
        // be had (the limit less the usage said none, and refused any large data set).
        let v2 =
            format!("anon {}\nfile {}\nactive_file {}\ninactive_file {}\n", 2 * GIB, 6 * GIB, GIB, 5 * GIB);
        assert_eq!(room(&format!("{}\n", 8 * GIB), &format!("{}\n", 8 * GIB), &v2, ""), Some(6 * GIB));
        // cgroup v1 counts the hierarchy's cache on its total_ lines; its own lines (a subset)
        // are not taken for them.
        let v1 = format!(
            "active_file 1\ninactive_file {GIB}\ntotal_active_file {GIB}\ntotal_inactive_file {GIB}\n"
        );
        assert_eq!(room(&(4 * GIB).to_string(), &(4 * GIB).to_string(), &v1, "total_"), Some(2 * GIB));
        // No limit, a usage past the limit, no stat: none, none of it, the limit less usage.
        assert_eq!(room("max\n", "123", "", ""), None);
        assert_eq!(room("100", "150", "inactive_file 20\n", ""), Some(0));
        assert_eq!(room("100", "30", "", ""), Some(70));
    }
}
