//! How much memory this process may use: what the system has available,
//! bounded by the process's cgroup (a container's memory limit).

/// Bytes of memory this process can use without swapping or being killed,
/// where the system says (Linux): `MemAvailable`, or less when the
/// process's cgroup (a container's memory limit) leaves less room.
pub fn available() -> Option<u64> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let meminfo = read("/proc/meminfo")?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    let system = kib.saturating_mul(1024);
    let cgroups = read("/proc/self/cgroup").unwrap_or_default();
    // The process's own group, else the root of the hierarchy (what a
    // container with its own cgroup namespace sees).
    let headroom = |root: &str, group: Option<&str>, limit: &str, usage: &str| {
        [group.map(|g| format!("{root}{g}")), Some(root.to_string())]
            .into_iter()
            .flatten()
            .find_map(|dir| {
                cgroup_headroom(
                    &read(&format!("{dir}/{limit}"))?,
                    &read(&format!("{dir}/{usage}"))?,
                )
            })
    };
    let v2 = headroom(
        "/sys/fs/cgroup",
        cgroup_path(&cgroups, |c| c.is_empty()),
        "memory.max",
        "memory.current",
    );
    let v1 = headroom(
        "/sys/fs/cgroup/memory",
        cgroup_path(&cgroups, |c| c.split(',').any(|c| c == "memory")),
        "memory.limit_in_bytes",
        "memory.usage_in_bytes",
    );
    Some([v2, v1].into_iter().flatten().fold(system, u64::min))
}

/// The path of the cgroup whose controllers `controllers` accepts, from
/// `/proc/self/cgroup` lines (`id:controllers:path`; cgroup v2 has none).
fn cgroup_path(cgroups: &str, controllers: impl Fn(&str) -> bool) -> Option<&str> {
    cgroups.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, c, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers(c).then_some(path.trim_end_matches('/'))
    })
}

/// Bytes a cgroup can still take: its limit less its usage, or `None`
/// when it has no limit (`max` in v2, about 2^63 in v1) or the files say
/// nothing readable.
fn cgroup_headroom(limit: &str, usage: &str) -> Option<u64> {
    let limit: u64 = limit.trim().parse().ok()?;
    let usage: u64 = usage.trim().parse().ok()?;
    (limit < 1 << 60).then(|| limit.saturating_sub(usage))
}

/// Ask the processor to bring `value` into its cache (a hint: no effect
/// on what the program computes).
#[inline]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let at = std::ptr::from_ref(value).cast::<i8>();
        for offset in (0..std::mem::size_of::<T>()).step_by(64) {
            // SAFETY: a prefetch reads nothing the program sees and does
            // not fault on any address; SSE is part of every x86-64.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(offset)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_limit_bounds_the_memory_available() {
        assert_eq!(cgroup_headroom("max\n", "123\n"), None);
        assert_eq!(cgroup_headroom("9223372036854771712\n", "5"), None);
        assert_eq!(
            cgroup_headroom("2147483648\n", "536870912\n"),
            Some(1536 << 20)
        );
        assert_eq!(cgroup_headroom("100", "200"), Some(0));
        assert_eq!(cgroup_headroom("", "1"), None);
        let v1 = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n";
        assert_eq!(
            cgroup_path(v1, |c| c.split(',').any(|c| c == "memory")),
            Some("/docker/abc")
        );
        assert_eq!(cgroup_path(v1, |c| c.is_empty()), Some(""));
        let v2 = "0::/user.slice/session-1.scope\n";
        assert_eq!(
            cgroup_path(v2, |c| c.is_empty()),
            Some("/user.slice/session-1.scope")
        );
        assert_eq!(cgroup_path(v2, |c| c == "memory"), None);
    }
}
