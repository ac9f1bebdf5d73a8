//! `permit test`: decision tests and Rego unit tests, run in parallel, with model coverage.
//!
//! Nothing here prints: the runner returns results, `report` renders them.

pub mod coverage;
pub mod file;
pub mod opa;
pub mod rego;
pub mod report;
pub mod run;

pub use file::{Case, Expect};
