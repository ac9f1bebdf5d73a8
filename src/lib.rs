//! permit: a GitOps toolchain for authorization policy.
//!
//! The library holds everything; `main.rs` only parses arguments and maps outcomes to exit
//! codes. Domain modules (`model`, `config`) never print; `cmd` is the only layer that does.

// Diagnostics travel by value on the (cold) error path; boxing them buys nothing measurable.
#![allow(clippy::result_large_err)]
// Keyed indexes over borrowed model strings read better spelled out than behind aliases.
#![allow(clippy::type_complexity)]

pub mod access;
pub mod bench;
pub mod bundle;
pub mod cli;
pub mod cmd;
pub mod compile;
pub mod config;
pub mod custom;
pub mod diagnostics;
pub mod diff;
pub mod engine;
pub mod error;
pub mod explain;
pub mod git;
pub mod guard;
pub mod hook;
pub mod lint;
pub mod model;
pub mod project;
pub mod push;
pub mod query;
pub mod schema;
pub mod source;
pub mod testing;
pub mod timing;
pub mod yaml;

pub use error::Error;
