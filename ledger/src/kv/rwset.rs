//! A transaction's read-write set with its nested byte fields decoded.

use fabric_protos::kvrwset::{HashedRwSet, KvrwSet};
use fabric_protos::rwset::TxReadWriteSet;
use prost::Message;

/// Decoded `rwset.TxReadWriteSet`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TxRwSet {
    pub ns_rwsets: Vec<NsRwSet>,
}

/// Decoded `rwset.NsReadWriteSet`: the public part and the hashed collection parts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NsRwSet {
    pub namespace: String,
    pub kv: KvrwSet,
    pub collections: Vec<CollHashedRwSet>,
}

/// Decoded `rwset.CollectionHashedReadWriteSet`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CollHashedRwSet {
    pub collection: String,
    pub hashed: HashedRwSet,
    pub pvt_rwset_hash: Vec<u8>,
}

impl TxRwSet {
    /// Decodes the nested `rwset` and `hashed_rwset` bytes of `set`.
    pub fn decode(set: &TxReadWriteSet) -> Result<Self, prost::DecodeError> {
        let mut ns_rwsets = Vec::with_capacity(set.ns_rwset.len());
        for ns in &set.ns_rwset {
            let mut collections = Vec::with_capacity(ns.collection_hashed_rwset.len());
            for coll in &ns.collection_hashed_rwset {
                collections.push(CollHashedRwSet {
                    collection: coll.collection_name.clone(),
                    hashed: HashedRwSet::decode(coll.hashed_rwset.as_slice())?,
                    pvt_rwset_hash: coll.pvt_rwset_hash.clone(),
                });
            }
            ns_rwsets.push(NsRwSet {
                namespace: ns.namespace.clone(),
                kv: KvrwSet::decode(ns.rwset.as_slice())?,
                collections,
            });
        }
        Ok(Self { ns_rwsets })
    }

    /// Decodes a serialized `rwset.TxReadWriteSet`.
    pub fn decode_bytes(bytes: &[u8]) -> Result<Self, prost::DecodeError> {
        Self::decode(&TxReadWriteSet::decode(bytes)?)
    }
}
