//! Integration tests of weft-peer. `upstream_*` modules run the `peer` binary beside upstream
//! Fabric 2.5.9 processes (`.cache/upstream/fabric-2.5.9/bin`; they fail, never skip, when
//! the binaries are missing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod idle_channels;
mod node_binary;
mod support;
mod upstream_channel;
mod upstream_crash;
mod upstream_deliver;
mod upstream_failover;
mod upstream_forged;
mod upstream_hostile;
mod upstream_hostile_chaincode;
mod upstream_lifecycle;
mod upstream_many_channels;
mod upstream_mixed_validation;
mod upstream_wasm_chaincode;
