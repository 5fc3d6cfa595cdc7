//! The interop tier: tests that run upstream Fabric binaries, Go tooling and Node clients
//! next to Weft. A missing upstream binary or client fails the test; nothing is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod config_updates;
mod conformance;
mod golden;
mod reference_network;
