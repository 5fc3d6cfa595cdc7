#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dsl_cases;
mod evaluate;
mod fake;
mod manager;
mod signature;
mod upstream_configtxgen;
