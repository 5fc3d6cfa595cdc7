//! Raft consensus core of the Weft orderer: Fabric's etcdraft on raft-rs.
//!
//! - [`chain::ChainCore`]: one channel's raft group as a pure state machine (no I/O), driven by
//!   raft-rs `Ready`s;
//! - [`node::ConsensusNode`]: the thin driver for all channels of one orderer: one WAL sync per
//!   Ready round across channels, one tick timer, hibernation of idle channels;
//! - [`log::ChannelLog`]: the in-memory raft log (raft-rs `Storage`) of one channel;
//! - [`wal`]: the `WalSink` trait, a memory-only sink and the durable WAL shared by all channels;
//! - [`membership`] and [`options`]: etcdraft consenter ids, one-at-a-time membership changes
//!   and channel options.
//!
//! Raft messages are encoded with raft-rs's protobuf codec ([`chain::encode_message`]) and
//! travel as the opaque `payload` of Fabric's `orderer.ConsensusRequest`.

pub mod chain;
mod error;
pub mod log;
pub mod membership;
pub mod node;
pub mod options;
pub mod wal;

pub use chain::{Applied, ChainCore, ChainOutput, decode_message, encode_message};
pub use error::RaftError;
pub use log::ChannelLog;
pub use node::{ConsensusNode, Transport};
pub use options::ChainOptions;
pub use raft::eraftpb::{ConfChange, ConfChangeType, ConfState, Message};
pub use wal::{MemoryWal, SharedWal, WalRecord, WalSink};
