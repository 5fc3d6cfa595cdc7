//! The peer's world state and the block-level checks that must agree bit for bit with Fabric
//! peers: versions ([`Height`]), versioned stores ([`VersionedStore`]), MVCC validation of a
//! block's transactions ([`validate_block`]) and the chained commit hash ([`commit_hash`]).
//!
//! Flow for one block of a channel: the caller decodes each transaction's read-write set
//! ([`TxRwSet::decode`]) and runs the earlier checks (structure, signatures, duplicate ids,
//! endorsement policies), then calls [`validate_block`] with those codes. It writes the returned
//! codes into TRANSACTIONS_FILTER, computes [`update_bytes`] and [`commit_hash`] from the
//! returned [`UpdateBatch`] and stores [`commit_hash_metadata`] in the block's COMMIT_HASH
//! metadata, appends the block, adds the private data it holds for the block's transactions
//! with [`prepare_private_writes`], then applies the batch with
//! [`VersionedStore::apply`] at the block's last transaction height.

mod batch;
mod commit_hash;
mod error;
mod height;
mod history;
mod merkle;
mod private;
mod rwset;
mod store;
mod validate;

pub use batch::{
    BatchEntry, KeyUpdates, UpdateBatch, VersionedValue, hashed_namespace, private_namespace,
};
pub use commit_hash::{
    KvWriteRecord, Updates, commit_hash, commit_hash_metadata, update_bytes, updates_message,
};
pub use error::KvError;
pub use height::{Height, decode_ordered_u64, encode_ordered_u64};
pub use history::{ChannelHistory, HistoryWrite, LevelDbHistoryDb};
pub use merkle::{MerkleBuilder, RangeSummary, summarize_range_reads};
pub use private::prepare_private_writes;
pub use rwset::{CollHashedRwSet, NsRwSet, TxRwSet};
pub use store::{LevelDbChannelState, LevelDbStateDb, MemoryStateStore, ScanItem, VersionedStore};
pub use validate::{BlockTx, ValidatedBlock, validate_block};
