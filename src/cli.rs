//! Command-line definitions: global flags and one subcommand per verb.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// permit: authorization policy as code. Validate, compile to OPA Rego, test, diff, promote, push.
#[derive(Debug, Parser)]
#[command(name = "permit", version, about, propagate_version = true)]
pub struct Cli {
    /// Run as if permit was started in DIR.
    #[arg(short = 'C', id = "chdir", global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Output format (each command lists the ones it supports).
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,

    /// Print only errors.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,

    /// When to use colours (NO_COLOR is honoured in `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable (the default).
    #[value(alias = "pretty")]
    Text,
    Json,
    Markdown,
    Junit,
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(crate::cmd::init::InitArgs),
    Check(crate::cmd::check::CheckArgs),
    Schema(crate::cmd::schema::SchemaArgs),
    Build(crate::cmd::build::BuildArgs),
    Eval(crate::cmd::eval::EvalArgs),
    Test(crate::cmd::test::TestArgs),
    Bench(crate::cmd::bench::BenchArgs),
    Diff(crate::cmd::diff::DiffArgs),
    Promote(crate::cmd::promote::PromoteArgs),
    Push(crate::cmd::push::PushArgs),
    Pdp(crate::cmd::pdp::PdpArgs),
    Hook(crate::cmd::hook::HookArgs),
    Users(crate::cmd::users::UsersArgs),
}
