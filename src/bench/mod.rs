//! `permit bench`: decision latency and throughput, in-process or against a PDP, with
//! baselines to gate on. Measuring only: nothing here prints.

pub mod baseline;
pub mod queries;
pub mod remote;
pub mod stats;
