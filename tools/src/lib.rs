//! Weft's cryptogen and configtxgen, command-line compatible with Fabric's for network setup.

pub mod configtxgen;
pub mod cryptogen;
pub mod der;
pub mod error;

pub use error::ToolError;
