#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake;
mod hostile;
mod layout;
mod packages;
mod resolve;
mod scc_flow;
mod upstream_go_lifecycle_state;
mod upstream_go_packages;
