//! The interop tier: tests that run upstream Fabric binaries, Go tooling and Node clients
//! next to Weft. A missing upstream binary or client fails the test; nothing is skipped.
//!
//! Every module here is named `upstream_*`, the marker `scripts/test` uses to put a test in
//! the interop tier (the same convention as the `upstream_*` modules of the other crates).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
mod upstream_caliper;
mod upstream_ccaas;
mod upstream_ccaas_parity;
mod upstream_config_updates;
mod upstream_conformance;
mod upstream_gateway_parity;
mod upstream_golden;
mod upstream_local_network;
mod upstream_reference_network;
mod upstream_sdk_scripts;
