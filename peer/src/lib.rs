//! The Weft peer node, a drop-in for Fabric's `peer node start`.
//!
//! - [`channels`]: the peer's channels (views on the committer's ledgers); joining from a
//!   genesis block.
//! - [`scc`]: the system chaincodes `cscc` (join, list, channel config) and `qscc` (ledger
//!   queries) as [`weft_chaincode_api::Chaincode`] implementations.
//! - [`blocks`]: pulling each channel's blocks from its orderers (endpoints and TLS roots from
//!   the channel config, failover, bounded backoff).
//! - [`definitions`]: chaincode definitions from `_lifecycle` for the `weft-committer`
//!   committer that verifies, validates and commits every channel's blocks.
//! - [`node`]: start-up, the `protos.Endorser`, `protos.Deliver`, `gateway.Gateway` and
//!   `discovery.Discovery` services and the operations endpoint.
//! - [`chaincodes`]: application chaincodes, run as WASM (`weft-chaincode-runtime`) from the
//!   installed package this org approved for a committed definition.
//! - [`gateway_support`]: channels, ledgers, commit notifications, peers and the local endorser
//!   as the Gateway and Discovery services (`weft-gateway`) need them.
//! - [`proposal`]: the ACL checks of the peer's own services.
//! - [`support`]: channels and chaincodes as the endorser (`weft-endorser`) needs them;
//!   [`state`] gives simulations the committed state through the committer thread.
//!
//! Tests: unit tests inline; `tests/it` runs the `peer` binary beside upstream Fabric 2.5.9
//! (`upstream_*` modules, which fail when `.cache/upstream/fabric-2.5.9/bin` is missing).

pub mod blocks;
pub mod chaincodes;
pub mod channels;
pub mod definitions;
mod error;
pub mod gateway_support;
pub mod node;
pub mod proposal;
pub mod scc;
pub mod state;
pub mod support;

pub use error::{PeerError, Result};
