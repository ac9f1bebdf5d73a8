//! Phase timings for performance work: with `PERMIT_TIMINGS` set, each [`mark`] prints to
//! stderr the wall time since the first mark, the CPU time the process has used on all its
//! threads (what a busy machine does not inflate much), its peak memory, and the heap: bytes
//! live now and at most so far (counted by [`Counting`], the binary's allocator). Off, a mark
//! costs one lookup of a cached flag and the allocator one relaxed load per call.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Instant;

static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed since counting began: signed, as blocks allocated before
/// then may be freed after.
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

/// Wraps an allocator to count the bytes it holds, while timings are on.
pub struct Counting<A>(pub A);

// SAFETY: every call is passed to the wrapped allocator unchanged; the counters only observe.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size(), 0);
        self.0.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size(), 0);
        self.0.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        grew(0, layout.size());
        self.0.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size, layout.size());
        self.0.realloc(ptr, layout, new_size)
    }
}

fn grew(added: usize, removed: usize) {
    if !COUNTING.load(Relaxed) {
        return;
    }
    let delta = added as isize - removed as isize;
    let live = LIVE.fetch_add(delta, Relaxed) + delta;
    PEAK.fetch_max(live, Relaxed);
}

/// Notes that the phase `label` has ended.
pub fn mark(label: &str) {
    static ON: OnceLock<Option<Instant>> = OnceLock::new();
    let Some(start) = ON.get_or_init(|| {
        let on = std::env::var_os("PERMIT_TIMINGS").map(|_| Instant::now());
        COUNTING.store(on.is_some(), Relaxed);
        on
    }) else {
        return;
    };
    let live = LIVE.load(Relaxed).max(0);
    eprintln!(
        "timing: {:>7.3} s wall  {:>7.3} s cpu  peak {:>5} MiB  heap {:>5} MiB (peak {:>5})  {label}",
        start.elapsed().as_secs_f64(),
        cpu_seconds(),
        peak_rss_kib() / 1024,
        live >> 20,
        PEAK.load(Relaxed) >> 20
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
