//! A transaction's read-write set with its nested byte fields decoded.

use fabric_protos::kvrwset::{HashedRwSet, KvrwSet};
use fabric_protos::protos::TxValidationCode;
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

    /// Decodes the `results` of a still-valid endorser transaction's `ChaincodeAction` as
    /// Fabric's committer does before MVCC validation: bytes that do not decode (at any level)
    /// make the transaction INVALID_OTHER_REASON (F25 validation/batch_preparer.go
    /// preprocessProtoBlock). With a leveldb state database Fabric checks nothing else about
    /// the writes there.
    pub fn decode_results(results: &[u8]) -> Result<Self, TxValidationCode> {
        Self::decode_bytes(results).map_err(|_| TxValidationCode::InvalidOtherReason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::kvrwset::KvWrite;
    use fabric_protos::rwset::{CollectionHashedReadWriteSet, NsReadWriteSet};

    #[test]
    fn decodes_nested_sets_and_rejects_bad_bytes_as_fabric_does() {
        let kv = KvrwSet {
            writes: vec![KvWrite {
                key: "k".into(),
                is_delete: false,
                value: b"v".to_vec(),
            }],
            ..Default::default()
        };
        let set = TxReadWriteSet {
            data_model: 0,
            ns_rwset: vec![NsReadWriteSet {
                namespace: "cc".into(),
                rwset: kv.encode_to_vec(),
                collection_hashed_rwset: vec![CollectionHashedReadWriteSet {
                    collection_name: "c".into(),
                    hashed_rwset: HashedRwSet::default().encode_to_vec(),
                    pvt_rwset_hash: vec![1],
                }],
            }],
        };
        let decoded = TxRwSet::decode_results(&set.encode_to_vec()).unwrap();
        assert_eq!(decoded.ns_rwsets[0].kv, kv);
        assert_eq!(decoded.ns_rwsets[0].collections[0].collection, "c");
        assert_eq!(TxRwSet::decode_results(&[]).unwrap(), TxRwSet::default());

        // Nested public rwset that is not a KVRWSet (truncated length-delimited field).
        let mut bad = set.clone();
        bad.ns_rwset[0].rwset = vec![0x0a, 0x05, 0x01];
        assert_eq!(
            TxRwSet::decode_results(&bad.encode_to_vec()),
            Err(TxValidationCode::InvalidOtherReason)
        );
        assert_eq!(
            TxRwSet::decode_results(&[0xff, 0xff]),
            Err(TxValidationCode::InvalidOtherReason)
        );
    }
}
