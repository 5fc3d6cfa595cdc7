//! Block storage shared by the peer and the orderer, built for nodes with thousands of channels.
//!
//! Fabric's Go nodes give every channel its own block files, index database and goroutines.
//! Weft keeps all channels of a node in one [`BlockStore`]:
//!
//! - **Segments.** Blocks of every channel are appended, as the exact bytes received, to shared
//!   segment files (`<dir>/segments/NNNNNNNNNNNNNNNN.seg`), each record framed with its length,
//!   a CRC-32C, the channel id and the block number (format in `segment.rs`).
//!   A segment is closed once the next record would push it past
//!   [`StoreOptions::segment_size_max_bytes`].
//! - **Index.** One leveldb database (`<dir>/index`) maps, per channel, block number to record
//!   location, header hash to number, transaction id to (number, index), and holds the channel's
//!   height and tip hashes so [`Channel::info`] reads no block. The index is derived data: it
//!   records a checkpoint (the end of the last indexed record) and is rebuilt from the segments,
//!   never the other way round; an index that will not open is moved aside and rebuilt.
//! - **Durability.** An append returns only after its record is fsynced and indexed. Appends
//!   from any channels queued at the same time share one write and one fsync (group commit).
//!   On open, records past the checkpoint are re-indexed and a torn or damaged record at the end
//!   of the newest segment, left by an append that never returned, is truncated. Damage anywhere
//!   else is reported as [`LedgerError::CorruptSegment`] naming the file and offset.
//! - **Cost of a channel.** Two threads serve the whole store. A [`Channel`] handle is an id and
//!   a reference count; opening one does no I/O. Height watchers for Deliver exist only while
//!   someone waits. The writer caches chain tips of recently written channels, bounded by
//!   [`options::TIP_CACHE_CHANNELS_MAX`].
//!
//! Blocks come from other nodes, so every check on them returns an error rather than
//! panicking: a block that is not the channel's next one ([`LedgerError::UnexpectedBlockNumber`]),
//! does not name the tip as predecessor ([`LedgerError::PreviousHashMismatch`], as Fabric's
//! block store checks on append), or whose data does not match its header's data hash. A caller
//! for which such a block means a bug of its own should `assert!` on the result.
//!
//! The API is blocking (an append waits for an fsync); async callers use `spawn_blocking`,
//! except for [`Channel::wait_for_block`] / [`HeightWatch`], which are async.

mod error;
mod index;
mod keys;
pub mod kv;
pub mod options;
mod prepare;
mod segment;
mod store;
pub mod testing;
mod watch;
mod writer;

pub use error::{LedgerError, Result};
pub use options::StoreOptions;
pub use store::{BlockStore, Channel, StoreStats, StoredTransaction, TxLocation};
pub use watch::HeightWatch;
