#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fakes;
mod lifecycle_replay;
mod proposal_checks;
mod responses;
mod rwset_exact;
mod upstream_go_rwset;
