//! Sync: a pure planner, an HTTP executor, and the wire protocol shared with the hub.

pub mod client;
pub mod enrol;
pub mod http;
pub mod pinning;
pub mod plan;
pub mod protocol;
pub mod schedule;

#[cfg(test)]
mod model_tests;
