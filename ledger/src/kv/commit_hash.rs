//! The commit hash chained through a channel's blocks (F25 kv_ledger.go addBlockCommitHash,
//! txmgr/update_batch_bytes.go, txmgr/updates.proto).
//!
//! The update batch is flattened into a deterministic list of writes: namespaces in byte order
//! ("" skipped); within a namespace its public keys in order, then each hashed collection in
//! order with its key hashes in order. The namespace is set only on the first write of its
//! namespace and the collection only on the first write of its collection. Each write carries
//! the key, the value (empty and `is_delete` for a delete) and the version as
//! [`Height::to_bytes`]. Metadata is not part of it.
//!
//! The hash of a block is SHA-256 over: the protobuf varint of the TRANSACTIONS_FILTER length,
//! the filter bytes, the serialized list, and the previous block's commit hash (nothing before
//! the first block that gets one).

use std::collections::BTreeSet;

use prost::Message;

use super::{KeyUpdates, UpdateBatch};

/// One write of the flattened batch (Fabric's `txmgr.KVWrite`, same field numbers).
#[derive(Clone, PartialEq, Message)]
pub struct KvWriteRecord {
    #[prost(string, tag = "1")]
    pub namespace: String,
    #[prost(string, tag = "2")]
    pub collection: String,
    #[prost(bytes = "vec", tag = "3")]
    pub key: Vec<u8>,
    #[prost(bool, tag = "4")]
    pub is_delete: bool,
    #[prost(bytes = "vec", tag = "5")]
    pub value: Vec<u8>,
    #[prost(bytes = "vec", tag = "6")]
    pub version_bytes: Vec<u8>,
}

/// The flattened batch (Fabric's `txmgr.Updates`).
#[derive(Clone, PartialEq, Message)]
pub struct Updates {
    #[prost(message, repeated, tag = "1")]
    pub kvwrites: Vec<KvWriteRecord>,
}

fn records(keys: &KeyUpdates) -> impl Iterator<Item = KvWriteRecord> + '_ {
    keys.iter().map(|(key, entry)| KvWriteRecord {
        namespace: String::new(),
        collection: String::new(),
        key: key.clone(),
        is_delete: entry.is_delete(),
        value: entry.value.clone().unwrap_or_default(),
        version_bytes: entry.version.to_bytes(),
    })
}

/// The deterministic list of writes of `batch`.
pub fn updates_message(batch: &UpdateBatch) -> Updates {
    let namespaces: BTreeSet<&String> =
        batch.public().keys().chain(batch.hashed().keys()).collect();
    let mut kvwrites = Vec::new();
    for ns in namespaces {
        if ns.is_empty() {
            continue;
        }
        let first = kvwrites.len();
        if let Some(keys) = batch.public().get(ns) {
            kvwrites.extend(records(keys));
        }
        for (coll, keys) in batch.hashed().get(ns).into_iter().flatten() {
            let coll_first = kvwrites.len();
            kvwrites.extend(records(keys));
            if let Some(record) = kvwrites.get_mut(coll_first) {
                record.collection = coll.clone();
            }
        }
        if let Some(record) = kvwrites.get_mut(first) {
            record.namespace = ns.clone();
        }
    }
    Updates { kvwrites }
}

/// Serialized [`updates_message`], the bytes that enter the commit hash.
pub fn update_bytes(batch: &UpdateBatch) -> Vec<u8> {
    updates_message(batch).encode_to_vec()
}

/// The commit hash of a block, from its TRANSACTIONS_FILTER, its update bytes and the previous
/// block's commit hash (empty before the first).
pub fn commit_hash(tx_filter: &[u8], update_bytes: &[u8], previous: &[u8]) -> [u8; 32] {
    let mut data = Vec::with_capacity(10 + tx_filter.len() + update_bytes.len() + previous.len());
    prost::encoding::encode_varint(tx_filter.len() as u64, &mut data);
    data.extend_from_slice(tx_filter);
    data.extend_from_slice(update_bytes);
    data.extend_from_slice(previous);
    openssl::sha::sha256(&data)
}

/// The bytes stored at the block's COMMIT_HASH metadata index: `common.Metadata{value: hash}`.
pub fn commit_hash_metadata(hash: &[u8]) -> Vec<u8> {
    fabric_protos::common::Metadata {
        value: hash.to_vec(),
        signatures: Vec::new(),
    }
    .encode_to_vec()
}
