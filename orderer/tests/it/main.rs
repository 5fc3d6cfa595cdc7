//! Integration tests of weft-orderer on a channel made by upstream Fabric 2.5.9 `cryptogen`
//! and `configtxgen` (`.cache/upstream/fabric-2.5.9/bin`; the tests fail, never skip, when
//! the binaries are missing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster_support;
mod network;
mod node_binary;
mod upstream_blocks;
mod upstream_broadcast;
mod upstream_cluster;
mod upstream_config_update;
mod upstream_deliver;
mod upstream_faults;
mod upstream_hostile;
mod upstream_membership;
mod upstream_node;
mod upstream_onboarding;
mod upstream_registrar;
