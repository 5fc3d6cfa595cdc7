//! The transport-independent core of Weft's ordering service node, with Fabric 2.5's
//! behaviour:
//!
//! - [`blockcutter`]: batching envelopes into blocks by `BatchSize` (`orderer/common/blockcutter`);
//! - [`blockwriter`]: chaining, hashing and signing blocks with Fabric's metadata layout
//!   (`orderer/common/multichannel/blockwriter.go`);
//! - [`broadcast`]: classifying and filtering Broadcast envelopes and the `common.Status` each
//!   rejection returns (`orderer/common/broadcast`, `orderer/common/msgprocessor`);
//! - [`deliver`]: parsing Deliver requests, session access control and the iteration plan of a
//!   `SeekInfo` over a ledger of a given height (`common/deliver`).
//!
//! - [`node`]: the running node the `orderer` binary assembles: channel registry, consensus per
//!   channel (a one-member Raft group), the AtomicBroadcast gRPC service, the osnadmin channel
//!   participation API and the operations endpoint (`/healthz`, `/version`, `/logspec`,
//!   `/metrics`).
//!
//! Apart from [`node`], nothing here does I/O or owns a clock: callers pass the current time where Fabric reads
//! the wall clock (certificate expiry, request timestamps).
//!
//! Not yet reproduced: BFT block signatures (one per consenter with identifier headers).
//!
//! Tests: unit tables inline; `tests/it` runs against a channel made by upstream 2.5.9
//! `cryptogen`/`configtxgen` and decodes a Weft block with `configtxlator`
//! (`cargo test -p weft-orderer`; fails without `.cache/upstream/fabric-2.5.9/bin`).

pub mod blockcutter;
pub mod blockwriter;
pub mod broadcast;
pub mod deliver;
mod error;
pub mod expiry;
pub mod maintenance;
pub mod node;

pub use blockcutter::{BlockCutter, Ordered, is_config_envelope, message_size_bytes};
pub use blockwriter::{BlockKind, BlockWriter, block_signed_data, last_config_index};
pub use broadcast::{Accepted, Rejection, StandardChannel, process_broadcast};
pub use deliver::{DeliverChain, DeliverSession, SeekCursor, Step, Stop, open_session};
pub use error::OrdererError;
