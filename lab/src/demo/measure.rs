//! The figures of result.json read from /proc: the kiosk's CPU time and peak resident set.

use super::*;
/// CPU time this process has used (user + system), from /proc/self/stat.
pub(super) fn cpu_time() -> Duration {
    stat_cpu_time("/proc/self/stat")
}

/// CPU time of the calling thread.
pub(super) fn thread_cpu_time() -> Duration {
    stat_cpu_time("/proc/thread-self/stat")
}

pub(super) fn stat_cpu_time(file: &str) -> Duration {
    let Ok(s) = std::fs::read_to_string(file) else { return Duration::ZERO };
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = s.rsplit_once(')').map(|x| x.1).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the state field.
    let t = ticks(11) + ticks(12);
    Duration::from_millis(t * 10)
}

/// The process's peak resident set (VmHWM), in kB.
pub(super) fn peak_rss_kb() -> u64 {
    status_kb("VmHWM:")
}

/// The process's resident set now (VmRSS), in kB.
pub(super) fn rss_kb() -> u64 {
    status_kb("VmRSS:")
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()))
        })
        .unwrap_or(0)
}
