#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bundle;
mod envelope;
mod fakes;
mod fixture;
mod hostile;
mod table;
mod upstream_configtx;
