//! The `permit` binary: parse arguments, run the command, turn the outcome into an exit code.

use clap::Parser;
use permit::cli::Cli;
use std::process::ExitCode;

// Loading a large model makes millions of small allocations; mimalloc roughly halves their
// cost against glibc's allocator (measured with bench/check.sh).
#[global_allocator]
static ALLOCATOR: permit::timing::Counting<mimalloc::MiMalloc> =
    permit::timing::Counting(mimalloc::MiMalloc);

/// mimalloc's `mi_option_purge_delay` (its `mimalloc.h`; the crate names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // `permit ... | head` closes stdout early: end quietly as other Unix tools do, instead of
    // panicking in `println!` on the broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // permit is a short-lived process: freed memory is kept for reuse rather than handed back
    // to the OS 10 ms later and faulted in (zeroed) again. Loading and diffing a large model
    // frees and reallocates hundreds of MiB; purging made ~6x more page faults (bench/diff.sh).
    // SAFETY: sets a plain option value, before any thread starts.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
    }
    permit::timing::mark("start");
    let cli = Cli::parse();
    let ctx = permit::cmd::Context::new(&cli);
    match permit::cmd::run(&ctx, cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            permit::cmd::report_error(&ctx, &e);
            ExitCode::from(e.exit_code())
        }
    }
}
