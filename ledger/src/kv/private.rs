//! Private data of a block's valid transactions, added to the update batch after MVCC
//! validation (F25 validation/batch_preparer.go validateAndPreparePvtBatch).
//!
//! For each valid transaction whose read-write set names a private write-set hash and for which
//! the peer holds private data: every collection's private write-set bytes must hash (SHA-256)
//! to the hash in the block, else the block cannot be committed; its writes (a write of an
//! empty value is a delete) enter the batch at the transaction's height. Afterwards, for every
//! key whose private metadata was written, if the block changed the key's hash and the latest
//! private value (this block's, else committed) still hashes to it but carries another version,
//! that value is re-put at the hash's version, keeping private and hashed versions aligned.

use std::collections::{BTreeMap, BTreeSet};

use fabric_protos::kvrwset::KvrwSet;
use fabric_protos::protos::TxValidationCode;
use fabric_protos::rwset::TxPvtReadWriteSet;
use prost::Message;

use super::{
    BatchEntry, BlockTx, Height, KvError, TxRwSet, ValidatedBlock, VersionedStore,
    private_namespace,
};

fn sha256(data: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(data)
}

fn has_private_writes(rwset: &TxRwSet) -> bool {
    rwset
        .ns_rwsets
        .iter()
        .flat_map(|ns| &ns.collections)
        .any(|coll| !coll.pvt_rwset_hash.is_empty())
}

/// The private write-set hash the block carries for `ns`/`coll` (first match, as Fabric).
fn hash_in_block<'a>(rwset: &'a TxRwSet, ns: &str, coll: &str) -> &'a [u8] {
    rwset
        .ns_rwsets
        .iter()
        .filter(|n| n.namespace == ns)
        .flat_map(|n| &n.collections)
        .find(|c| c.collection == coll)
        .map(|c| c.pvt_rwset_hash.as_slice())
        .unwrap_or_default()
}

/// Adds the private writes of `block`'s valid transactions to `block.batch`.
///
/// `txs` are the inputs given to [`super::validate_block`], `private` the private data the peer
/// holds, by transaction index (missing entries are private data still to be fetched).
pub fn prepare_private_writes(
    store: &dyn VersionedStore,
    block_num: u64,
    txs: &[BlockTx<'_>],
    block: &mut ValidatedBlock,
    private: &BTreeMap<u64, TxPvtReadWriteSet>,
) -> Result<(), KvError> {
    let mut metadata_keys: BTreeSet<(String, String, String)> = BTreeSet::new();
    for (index, tx) in txs.iter().enumerate() {
        if block.codes.get(index) != Some(&TxValidationCode::Valid) {
            continue;
        }
        let Some(rwset) = tx.rwset.filter(|r| has_private_writes(r)) else {
            continue;
        };
        let Some(data) = private.get(&(index as u64)) else {
            continue;
        };
        for ns in &data.ns_pvt_rwset {
            for coll in &ns.collection_pvt_rwset {
                if sha256(&coll.rwset)[..]
                    != *hash_in_block(rwset, &ns.namespace, &coll.collection_name)
                {
                    return Err(KvError::PrivateDataHashMismatch {
                        tx_index: index,
                        namespace: ns.namespace.clone(),
                        collection: coll.collection_name.clone(),
                    });
                }
            }
        }
        let height = Height::new(block_num, index as u64);
        for ns in &data.ns_pvt_rwset {
            for coll in &ns.collection_pvt_rwset {
                let kv = KvrwSet::decode(coll.rwset.as_slice()).map_err(|e| {
                    KvError::BadPrivateData {
                        tx_index: index,
                        namespace: ns.namespace.clone(),
                        collection: coll.collection_name.clone(),
                        reason: e.to_string(),
                    }
                })?;
                for w in &kv.writes {
                    let deleted = w.is_delete || w.value.is_empty();
                    let entry = BatchEntry {
                        value: (!deleted).then(|| w.value.clone()),
                        metadata: None,
                        version: height,
                    };
                    block.batch.put_private(
                        &ns.namespace,
                        &coll.collection_name,
                        w.key.as_bytes(),
                        entry,
                    );
                }
                for m in &kv.metadata_writes {
                    metadata_keys.insert((
                        ns.namespace.clone(),
                        coll.collection_name.clone(),
                        m.key.clone(),
                    ));
                }
            }
        }
    }

    for (ns, coll, key) in metadata_keys {
        let Some(hashed) = block.batch.get_hashed(&ns, &coll, &sha256(key.as_bytes())) else {
            continue;
        };
        let (hashed_version, hashed_value) = (hashed.version, hashed.value.clone());
        let latest = match block.batch.get_private(&ns, &coll, key.as_bytes()) {
            Some(entry) => entry.value.clone().map(|v| (v, entry.version)),
            None => store
                .get(&private_namespace(&ns, &coll), key.as_bytes())?
                .map(|v| (v.value, v.version)),
        };
        let Some((value, version)) = latest else {
            continue;
        };
        if version == hashed_version {
            continue;
        }
        if hashed_value.as_deref() == Some(&sha256(&value)[..]) {
            let entry = BatchEntry {
                value: Some(value),
                metadata: None,
                version: hashed_version,
            };
            block.batch.put_private(&ns, &coll, key.as_bytes(), entry);
        }
    }
    Ok(())
}
