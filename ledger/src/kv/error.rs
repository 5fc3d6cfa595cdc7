//! Errors of the state store, MVCC validation and commit hashing.

/// Everything that can go wrong in [`crate::kv`].
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error(
        "stored version bytes are malformed ({0}); the state database is corrupt, rebuild it from the block store"
    )]
    BadVersionBytes(String),

    #[error(
        "state entry for namespace {namespace:?} is malformed ({reason}); the state database is corrupt, rebuild it from the block store"
    )]
    CorruptEntry { namespace: String, reason: String },

    #[error(
        "the state database at {path} failed: {reason}; check the disk, or stop the node and rebuild the state from the block store"
    )]
    Db { path: String, reason: String },

    #[error(
        "transaction {tx_index} has a range query whose merkle summary has max_degree {max_degree} (below 2); Fabric peers stop committing on such a block too"
    )]
    BadMerkleDegree { tx_index: usize, max_degree: u32 },

    #[error(
        "transaction {tx_index} has a range query raw read of key {key:?} without a version; Fabric peers stop committing on such a block too"
    )]
    RangeReadWithoutVersion { tx_index: usize, key: String },

    #[error(
        "private data of transaction {tx_index} for collection {namespace}/{collection} does not match the hash in the block; the private data source is faulty, fetch it again"
    )]
    PrivateDataHashMismatch {
        tx_index: usize,
        namespace: String,
        collection: String,
    },

    #[error(
        "private data of transaction {tx_index} for collection {namespace}/{collection} does not decode ({reason}); the private data source is faulty, fetch it again"
    )]
    BadPrivateData {
        tx_index: usize,
        namespace: String,
        collection: String,
        reason: String,
    },

    #[error(
        "transaction at {height} writes metadata of a key in namespace {namespace:?} that an earlier transaction of the same block deleted; Fabric peers stop committing on this block too"
    )]
    MetadataOnDeletedKey {
        namespace: String,
        height: super::Height,
    },
}
