//! Phase timings for performance work: with `PERMIT_TIMINGS` set, each [`mark`] prints to
//! stderr the wall time since the first mark, the CPU time the process has used on all its
//! threads (what a busy machine does not inflate much), and its peak memory. Off, a mark costs
//! one lookup of a cached flag.

use std::sync::OnceLock;
use std::time::Instant;

/// Notes that the phase `label` has ended.
pub fn mark(label: &str) {
    static ON: OnceLock<Option<Instant>> = OnceLock::new();
    let Some(start) = ON.get_or_init(|| std::env::var_os("PERMIT_TIMINGS").map(|_| Instant::now()))
    else {
        return;
    };
    eprintln!(
        "timing: {:>7.3} s wall  {:>7.3} s cpu  peak {:>5} MiB  {label}",
        start.elapsed().as_secs_f64(),
        cpu_seconds(),
        peak_rss_kib() / 1024
    );
}

/// The peak resident set size so far, in KiB (0 where the OS does not say).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// User and system CPU time of the whole process so far, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct it is given and reads nothing else.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}
