//! The `permit` binary: parse arguments, run the command, turn the outcome into an exit code.

use clap::Parser;
use permit::cli::Cli;
use std::process::ExitCode;

// Loading a large model makes millions of small allocations; mimalloc roughly halves their
// cost against glibc's allocator (measured with bench/check.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `permit ... | head` closes stdout early: end quietly as other Unix tools do, instead of
    // panicking in `println!` on the broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
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
