#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests for weft-tools. Modules named `upstream_*` need Fabric v2.5.9 binaries
//! (run interop-tests/upstream/install.sh) and fail when they are missing.

mod cryptogen_layout;
mod upstream_interop;
