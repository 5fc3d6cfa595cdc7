//! Side-by-side benchmarks of Weft and upstream Fabric (see BENCHMARKS.md): a load generator that
//! drives any network through the Gateway service, process CPU and memory sampling from /proc,
//! and summaries over repeated runs.

pub mod components;
pub mod document;
mod error;
pub mod gateway;
pub mod load;
pub mod multitenancy;
pub mod procstat;
pub mod report;
pub mod side_by_side;
pub mod stats;
pub mod tenancy_report;

pub use error::{BenchError, Result};
