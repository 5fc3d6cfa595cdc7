//! weft-msp integration tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod upstream_cryptogen;
