#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests for weft-nodeconfig.

mod env_overrides;
mod support;
mod upstream_samples;
mod validation;
