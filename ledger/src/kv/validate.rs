//! MVCC validation of a block and preparation of its update batch, as Fabric's committer does
//! it (F25 core/ledger/kvledger/txmgmt/validation/{validator.go, tx_ops.go, types.go,
//! combined_iterator.go, rangequery_validator.go}).
//!
//! Transactions are taken in block order; only those still valid after the earlier checks are
//! examined. For each namespace of a transaction, in order: every read must name a key no
//! earlier valid transaction of the block wrote and carry the committed version (`None` for an
//! absent key), else MVCC_READ_CONFLICT; every range query is re-run over committed state
//! overlaid with the block's earlier writes and must give the same results (raw reads or merkle
//! summary), else PHANTOM_READ_CONFLICT; every hashed read of a collection is checked like a
//! read, else MVCC_READ_CONFLICT. A valid transaction's writes then enter the batch at version
//! `Height(block, index)`.

use std::collections::BTreeMap;
use std::iter::Peekable;

use fabric_protos::kvrwset::range_query_info::ReadsInfo;
use fabric_protos::kvrwset::{KvMetadataEntry, KvMetadataWrite, KvRead, RangeQueryInfo};
use fabric_protos::protos::TxValidationCode;
use prost::Message;

use super::merkle::{MerkleBuilder, RangeSummary, summaries_equal};
use super::{
    BatchEntry, Height, KvError, ScanItem, TxRwSet, UpdateBatch, VersionedStore, hashed_namespace,
};

/// One transaction of the block as MVCC validation sees it.
#[derive(Clone, Copy, Debug)]
pub struct BlockTx<'a> {
    /// The code from the earlier checks; anything but `Valid` is kept as is.
    pub code: TxValidationCode,
    /// The decoded read-write set; `None` for a transaction without one (it writes nothing).
    pub rwset: Option<&'a TxRwSet>,
}

/// The outcome of [`validate_block`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValidatedBlock {
    /// Final code of every transaction, in block order.
    pub codes: Vec<TxValidationCode>,
    /// Writes of the valid transactions, latest per key.
    pub batch: UpdateBatch,
}

/// Validates the transactions of block `block_num` against `store` and collects their writes.
///
/// An error means the block cannot be committed at all (a store failure, or input on which
/// Fabric peers stop committing too); codes are only returned for a fully validated block.
pub fn validate_block(
    store: &dyn VersionedStore,
    block_num: u64,
    txs: &[BlockTx<'_>],
) -> Result<ValidatedBlock, KvError> {
    let mut out = ValidatedBlock::default();
    for (index, tx) in txs.iter().enumerate() {
        let mut code = tx.code;
        if code == TxValidationCode::Valid
            && let Some(rwset) = tx.rwset
        {
            code = validate_tx(store, &out.batch, rwset, index)?;
            if code == TxValidationCode::Valid {
                let height = Height::new(block_num, index as u64);
                apply_write_set(store, &mut out.batch, rwset, height)?;
            }
        }
        out.codes.push(code);
    }
    Ok(out)
}

fn validate_tx(
    store: &dyn VersionedStore,
    batch: &UpdateBatch,
    rwset: &TxRwSet,
    tx_index: usize,
) -> Result<TxValidationCode, KvError> {
    for ns in &rwset.ns_rwsets {
        let namespace = ns.namespace.as_str();
        for read in &ns.kv.reads {
            if !read_is_current(store, batch, namespace, read)? {
                return Ok(TxValidationCode::MvccReadConflict);
            }
        }
        for query in &ns.kv.range_queries_info {
            if !range_query_is_current(store, batch, namespace, query, tx_index)? {
                return Ok(TxValidationCode::PhantomReadConflict);
            }
        }
        for coll in &ns.collections {
            for read in &coll.hashed.hashed_reads {
                if batch
                    .get_hashed(namespace, &coll.collection, &read.key_hash)
                    .is_some()
                {
                    return Ok(TxValidationCode::MvccReadConflict);
                }
                let state_ns = hashed_namespace(namespace, &coll.collection);
                let committed = store.get(&state_ns, &read.key_hash)?.map(|v| v.version);
                if committed != read.version.as_ref().map(Height::from_proto) {
                    return Ok(TxValidationCode::MvccReadConflict);
                }
            }
        }
    }
    Ok(TxValidationCode::Valid)
}

fn read_is_current(
    store: &dyn VersionedStore,
    batch: &UpdateBatch,
    ns: &str,
    read: &KvRead,
) -> Result<bool, KvError> {
    let key = read.key.as_bytes();
    if batch.get_public(ns, key).is_some() {
        return Ok(false);
    }
    let committed = store.get(ns, key)?.map(|v| v.version);
    Ok(committed == read.version.as_ref().map(Height::from_proto))
}

/// Committed state of a namespace overlaid with the block's earlier writes, deletes hidden;
/// when the query was not run to exhaustion, the end key itself is served last if present
/// (the endorser's iterator stopped after reading it).
struct CombinedRange<'a, U: Iterator<Item = (&'a Vec<u8>, &'a BatchEntry)>> {
    committed: Peekable<Box<dyn Iterator<Item = ScanItem> + 'a>>,
    updates: Peekable<U>,
    store: &'a dyn VersionedStore,
    batch: &'a UpdateBatch,
    ns: &'a str,
    end_key_pending: Option<&'a [u8]>,
}

impl<'a, U: Iterator<Item = (&'a Vec<u8>, &'a BatchEntry)>> CombinedRange<'a, U> {
    fn next_result(&mut self) -> Result<Option<(Vec<u8>, Height)>, KvError> {
        loop {
            let committed_key = match self.committed.peek() {
                Some(Ok((key, _))) => Some(key),
                Some(Err(_)) => {
                    if let Some(Err(e)) = self.committed.next() {
                        return Err(e);
                    }
                    continue;
                }
                None => None,
            };
            let update_key = self.updates.peek().map(|(key, _)| *key);
            let take_committed = match (committed_key, update_key) {
                (None, None) => return self.serve_end_key(),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(c), Some(u)) => {
                    if c == u {
                        // The block's write shadows the committed entry.
                        self.committed.next();
                        false
                    } else {
                        c < u
                    }
                }
            };
            if take_committed {
                if let Some(Ok((key, value))) = self.committed.next() {
                    return Ok(Some((key, value.version)));
                }
                continue;
            }
            if let Some((key, entry)) = self.updates.next()
                && !entry.is_delete()
            {
                return Ok(Some((key.clone(), entry.version)));
            }
        }
    }

    fn serve_end_key(&mut self) -> Result<Option<(Vec<u8>, Height)>, KvError> {
        let Some(end_key) = self.end_key_pending.take() else {
            return Ok(None);
        };
        if let Some(entry) = self.batch.get_public(self.ns, end_key) {
            return Ok((!entry.is_delete()).then(|| (end_key.to_vec(), entry.version)));
        }
        Ok(self
            .store
            .get(self.ns, end_key)?
            .map(|v| (end_key.to_vec(), v.version)))
    }
}

fn range_query_is_current(
    store: &dyn VersionedStore,
    batch: &UpdateBatch,
    ns: &str,
    query: &RangeQueryInfo,
    tx_index: usize,
) -> Result<bool, KvError> {
    let start = query.start_key.as_bytes();
    let end = query.end_key.as_bytes();
    let mut results = CombinedRange {
        committed: store.scan(ns, start, end)?.peekable(),
        updates: batch.public_range(ns, start, end).peekable(),
        store,
        batch,
        ns,
        end_key_pending: (!query.itr_exhausted).then_some(end),
    };
    match &query.reads_info {
        Some(ReadsInfo::ReadsMerkleHashes(expected)) => {
            let Some(mut builder) = MerkleBuilder::new(expected.max_degree) else {
                return Err(KvError::BadMerkleDegree {
                    tx_index,
                    max_degree: expected.max_degree,
                });
            };
            // Compare top-level hashes as soon as they exist, as Fabric does, so a long
            // divergent range stops early.
            let mut matched = 0usize;
            loop {
                let Some((key, version)) = results.next_result()? else {
                    return Ok(match builder.finish() {
                        RangeSummary::Merkle(got) => summaries_equal(expected, &got),
                        RangeSummary::Raw(_) => false,
                    });
                };
                builder.add(KvRead {
                    key: String::from_utf8_lossy(&key).into_owned(),
                    version: Some(version.to_proto()),
                });
                if builder.max_level() < expected.max_level {
                    continue;
                }
                let hashes = builder.top_hashes();
                if matched == hashes.len() {
                    continue;
                }
                if hashes.len() > expected.max_level_hashes.len() {
                    return Ok(false);
                }
                // Fabric compares one new index per result, even if the level just changed.
                if hashes.get(matched) != expected.max_level_hashes.get(matched) {
                    return Ok(false);
                }
                matched += 1;
            }
        }
        raw => {
            let empty = Vec::new();
            let reads = match raw {
                Some(ReadsInfo::RawReads(reads)) => &reads.kv_reads,
                _ => &empty,
            };
            let mut result = results.next_result()?;
            for read in reads {
                let Some((key, version)) = result else {
                    return Ok(false);
                };
                if key != read.key.as_bytes() {
                    return Ok(false);
                }
                let Some(read_version) = &read.version else {
                    return Err(KvError::RangeReadWithoutVersion {
                        tx_index,
                        key: read.key.clone(),
                    });
                };
                if version != Height::from_proto(read_version) {
                    return Ok(false);
                }
                result = results.next_result()?;
            }
            Ok(result.is_none())
        }
    }
}

// Flags of what one transaction does to one key. Fabric adds them up rather than or-ing them,
// so a key written twice in one (malformed) write set ends up with a different meaning; the
// arithmetic is kept to decide such keys the same way.
const UPSERT: u8 = 1;
const METADATA_UPDATE: u8 = 2;
const METADATA_DELETE: u8 = 4;
const KEY_DELETE: u8 = 8;

#[derive(Default)]
struct KeyOps {
    flags: u8,
    value: Option<Vec<u8>>,
    metadata: Option<Vec<u8>>,
}

impl KeyOps {
    fn add(&mut self, flag: u8) {
        self.flags = self.flags.wrapping_add(flag);
    }
    fn is_delete(&self) -> bool {
        self.flags & KEY_DELETE != 0
    }
    fn is_upsert_and_metadata(&self) -> bool {
        self.flags & UPSERT != 0 && self.flags & (METADATA_UPDATE | METADATA_DELETE) != 0
    }
    fn is_only_upsert(&self) -> bool {
        self.flags | UPSERT == UPSERT
    }
}

/// Key of a transaction's operation: namespace, collection ("" for public state), key.
type OpKey = (String, String, Vec<u8>);

fn serialize_metadata(entries: &[KvMetadataEntry]) -> Vec<u8> {
    KvMetadataWrite {
        key: String::new(),
        entries: entries.to_vec(),
    }
    .encode_to_vec()
}

fn collect_ops(rwset: &TxRwSet) -> BTreeMap<OpKey, KeyOps> {
    let mut ops: BTreeMap<OpKey, KeyOps> = BTreeMap::new();
    let mut write = |ns: &str, coll: &str, key: &[u8], value: Option<&[u8]>| {
        let op = ops
            .entry((ns.to_owned(), coll.to_owned(), key.to_vec()))
            .or_default();
        match value {
            Some(value) => {
                op.add(UPSERT);
                op.value = Some(value.to_vec());
            }
            None => op.add(KEY_DELETE),
        }
    };
    // A write of an empty value (or the hash of one) is a delete (F25 FAB-18386).
    let empty_hash = openssl::sha::sha256(&[]);
    for ns in &rwset.ns_rwsets {
        let name = ns.namespace.as_str();
        for w in &ns.kv.writes {
            let deleted = w.is_delete || w.value.is_empty();
            write(
                name,
                "",
                w.key.as_bytes(),
                (!deleted).then_some(&w.value[..]),
            );
        }
        for coll in &ns.collections {
            for w in &coll.hashed.hashed_writes {
                let deleted = w.is_delete || w.value_hash.is_empty() || w.value_hash == empty_hash;
                let value = (!deleted).then_some(&w.value_hash[..]);
                write(name, &coll.collection, &w.key_hash, value);
            }
        }
    }
    let mut metadata = |ns: &str, coll: &str, key: &[u8], entries: &[KvMetadataEntry]| {
        let op = ops
            .entry((ns.to_owned(), coll.to_owned(), key.to_vec()))
            .or_default();
        if entries.is_empty() {
            op.add(METADATA_DELETE);
        } else {
            op.add(METADATA_UPDATE);
            op.metadata = Some(serialize_metadata(entries));
        }
    };
    // Fabric walks public writes, public metadata writes, then per collection hashed writes and
    // hashed metadata writes, per namespace; the flags only add up, so the order of the two
    // passes here does not change the outcome.
    for ns in &rwset.ns_rwsets {
        let name = ns.namespace.as_str();
        for m in &ns.kv.metadata_writes {
            metadata(name, "", m.key.as_bytes(), &m.entries);
        }
        for coll in &ns.collections {
            for m in &coll.hashed.metadata_writes {
                metadata(name, &coll.collection, &m.key_hash, &m.entries);
            }
        }
    }
    ops
}

fn latest(
    store: &dyn VersionedStore,
    batch: &UpdateBatch,
    (ns, coll, key): &OpKey,
) -> Result<Option<BatchEntry>, KvError> {
    let earlier = if coll.is_empty() {
        batch.get_public(ns, key)
    } else {
        batch.get_hashed(ns, coll, key)
    };
    if let Some(entry) = earlier {
        return Ok(Some(entry.clone()));
    }
    let state_ns = if coll.is_empty() {
        ns.clone()
    } else {
        hashed_namespace(ns, coll)
    };
    Ok(store.get(&state_ns, key)?.map(|v| BatchEntry {
        value: Some(v.value),
        metadata: v.metadata,
        version: v.version,
    }))
}

fn apply_write_set(
    store: &dyn VersionedStore,
    batch: &mut UpdateBatch,
    rwset: &TxRwSet,
    height: Height,
) -> Result<(), KvError> {
    let mut changes = Vec::new();
    for (op_key, mut op) in collect_ops(rwset) {
        if op.is_delete() {
            changes.push((op_key, None, None));
            continue;
        }
        if op.is_upsert_and_metadata() {
            changes.push((op_key, op.value, op.metadata));
            continue;
        }
        let current = latest(store, batch, &op_key)?;
        if op.is_only_upsert() {
            // A plain write keeps the key's existing metadata.
            let metadata = current.and_then(|c| c.metadata);
            changes.push((op_key, op.value, metadata));
            continue;
        }
        // Metadata change alone: applies to the current value, and to nothing if absent.
        let Some(current) = current else { continue };
        let Some(value) = current.value else {
            // Fabric's committer panics here (metadata written to a key an earlier transaction
            // of the block deleted); refuse the block the same way rather than diverge.
            return Err(KvError::MetadataOnDeletedKey {
                namespace: op_key.0,
                height,
            });
        };
        op.value = Some(value);
        changes.push((op_key, op.value, op.metadata));
    }
    for ((ns, coll, key), value, metadata) in changes {
        let entry = BatchEntry {
            metadata: value.as_ref().and(metadata),
            value,
            version: height,
        };
        if coll.is_empty() {
            batch.put_public(&ns, &key, entry);
        } else {
            batch.put_hashed(&ns, &coll, &key, entry);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{MemoryStateStore, NsRwSet};
    use fabric_protos::kvrwset::KvWrite;

    fn writer(key: &str) -> TxRwSet {
        TxRwSet {
            ns_rwsets: vec![NsRwSet {
                namespace: "cc".into(),
                kv: KvrwSet {
                    writes: vec![KvWrite {
                        key: key.into(),
                        is_delete: false,
                        value: b"v".to_vec(),
                    }],
                    ..Default::default()
                },
                collections: Vec::new(),
            }],
        }
    }

    use fabric_protos::kvrwset::KvrwSet;

    #[test]
    fn transactions_without_rwset_keep_their_code_and_write_nothing() {
        let store = MemoryStateStore::new();
        let set = writer("k");
        let txs = [
            BlockTx {
                code: TxValidationCode::Valid,
                rwset: None,
            },
            BlockTx {
                code: TxValidationCode::BadPayload,
                rwset: None,
            },
            BlockTx {
                code: TxValidationCode::Valid,
                rwset: Some(&set),
            },
        ];
        let out = validate_block(&store, 2, &txs).unwrap();
        assert_eq!(
            out.codes,
            [
                TxValidationCode::Valid,
                TxValidationCode::BadPayload,
                TxValidationCode::Valid
            ]
        );
        assert_eq!(out.batch.public().len(), 1);
        assert_eq!(
            out.batch.get_public("cc", b"k").map(|e| e.version),
            Some(Height::new(2, 2))
        );
    }

    #[test]
    fn merkle_degree_below_two_stops_the_block() {
        let store = MemoryStateStore::new();
        let mut set = writer("k");
        set.ns_rwsets[0].kv.range_queries_info.push(RangeQueryInfo {
            start_key: "a".into(),
            end_key: "b".into(),
            itr_exhausted: true,
            reads_info: Some(ReadsInfo::ReadsMerkleHashes(
                fabric_protos::kvrwset::QueryReadsMerkleSummary {
                    max_degree: 1,
                    max_level: 1,
                    max_level_hashes: Vec::new(),
                },
            )),
        });
        let txs = [BlockTx {
            code: TxValidationCode::Valid,
            rwset: Some(&set),
        }];
        assert!(matches!(
            validate_block(&store, 1, &txs),
            Err(KvError::BadMerkleDegree { max_degree: 1, .. })
        ));
    }
}
