//! The read-write set builder, reproducing Fabric's (F25
//! core/ledger/kvledger/txmgmt/rwsetutil/rwset_builder.go and rwset_proto_util.go) so the bytes
//! a Weft endorser produces equal a Go endorser's for the same reads and writes:
//!
//! - namespaces, collections, read keys, write keys and metadata-write keys are sorted by byte
//!   order; hashed reads and writes are sorted by the *plain* key, not by its hash;
//! - a later read, write or metadata write of a key replaces the earlier one;
//! - range queries keep the order they were issued in, deduplicated on (start, end, exhausted);
//! - a write of an empty value is a delete (`is_delete`, no value);
//! - private writes go to the private set and their hashes to the public one, whose
//!   `pvt_rwset_hash` is SHA-256 of the collection's serialized private `KVRWSet`.

use std::collections::BTreeMap;

use fabric_protos::kvrwset::{
    HashedRwSet, KvMetadataEntry, KvMetadataWrite, KvMetadataWriteHash, KvRead, KvReadHash,
    KvWrite, KvWriteHash, KvrwSet, RangeQueryInfo, Version,
};
use fabric_protos::rwset::{
    CollectionHashedReadWriteSet, CollectionPvtReadWriteSet, NsPvtReadWriteSet, NsReadWriteSet,
    TxPvtReadWriteSet, TxReadWriteSet, tx_read_write_set::DataModel,
};
use prost::Message;
use weft_chaincode_api::StateMetadata;

fn sha256(data: &[u8]) -> Vec<u8> {
    weft_protoutil::sha256(data).to_vec()
}

#[derive(Debug, Default)]
struct NsBuilder {
    reads: BTreeMap<String, KvRead>,
    writes: BTreeMap<String, KvWrite>,
    metadata_writes: BTreeMap<String, KvMetadataWrite>,
    range_queries: Vec<RangeQueryInfo>,
    collections: BTreeMap<String, CollHashedBuilder>,
}

#[derive(Debug, Default)]
struct CollHashedBuilder {
    reads: BTreeMap<String, KvReadHash>,
    writes: BTreeMap<String, KvWriteHash>,
    metadata_writes: BTreeMap<String, KvMetadataWriteHash>,
    pvt_rwset_hash: Vec<u8>,
}

#[derive(Debug, Default)]
struct CollPvtBuilder {
    writes: BTreeMap<String, KvWrite>,
    metadata_writes: BTreeMap<String, KvMetadataWrite>,
}

/// What a finished simulation produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimulationResults {
    pub public: TxReadWriteSet,
    /// `None` when the transaction wrote no private data.
    pub private: Option<TxPvtReadWriteSet>,
}

impl SimulationResults {
    /// The bytes that go into `ChaincodeAction.results`.
    pub fn public_bytes(&self) -> Vec<u8> {
        self.public.encode_to_vec()
    }
}

/// Collects reads and writes during a simulation.
#[derive(Debug, Default)]
pub struct RwSetBuilder {
    public: BTreeMap<String, NsBuilder>,
    private: BTreeMap<String, BTreeMap<String, CollPvtBuilder>>,
}

fn version(height: Option<weft_ledger::kv::Height>) -> Option<Version> {
    height.map(|h| h.to_proto())
}

fn metadata_entries(metadata: &StateMetadata) -> Vec<KvMetadataEntry> {
    metadata
        .iter()
        .map(|(name, value)| KvMetadataEntry {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

fn kv_write(key: &str, value: &[u8]) -> KvWrite {
    KvWrite {
        key: key.to_owned(),
        is_delete: value.is_empty(),
        value: value.to_vec(),
    }
}

impl RwSetBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn ns(&mut self, ns: &str) -> &mut NsBuilder {
        self.public.entry(ns.to_owned()).or_default()
    }

    fn coll_hashed(&mut self, ns: &str, coll: &str) -> &mut CollHashedBuilder {
        self.ns(ns).collections.entry(coll.to_owned()).or_default()
    }

    fn coll_private(&mut self, ns: &str, coll: &str) -> &mut CollPvtBuilder {
        self.private
            .entry(ns.to_owned())
            .or_default()
            .entry(coll.to_owned())
            .or_default()
    }

    /// Records a read of `key` at `height` (`None`: the key did not exist).
    pub fn add_read(&mut self, ns: &str, key: &str, height: Option<weft_ledger::kv::Height>) {
        let read = KvRead {
            key: key.to_owned(),
            version: version(height),
        };
        self.ns(ns).reads.insert(key.to_owned(), read);
    }

    /// Records a write; an empty value is a delete.
    pub fn add_write(&mut self, ns: &str, key: &str, value: &[u8]) {
        self.ns(ns)
            .writes
            .insert(key.to_owned(), kv_write(key, value));
    }

    /// Records the new metadata of `key`; an empty map deletes it.
    pub fn add_metadata_write(&mut self, ns: &str, key: &str, metadata: &StateMetadata) {
        let write = KvMetadataWrite {
            key: key.to_owned(),
            entries: metadata_entries(metadata),
        };
        self.ns(ns).metadata_writes.insert(key.to_owned(), write);
    }

    /// Records a finished range query unless an identical one was recorded before.
    pub fn add_range_query(&mut self, ns: &str, info: RangeQueryInfo) {
        let queries = &mut self.ns(ns).range_queries;
        let duplicate = queries.iter().any(|q| {
            q.start_key == info.start_key
                && q.end_key == info.end_key
                && q.itr_exhausted == info.itr_exhausted
        });
        if !duplicate {
            queries.push(info);
        }
    }

    pub fn add_hashed_read(
        &mut self,
        ns: &str,
        coll: &str,
        key: &str,
        height: Option<weft_ledger::kv::Height>,
    ) {
        let read = KvReadHash {
            key_hash: sha256(key.as_bytes()),
            version: version(height),
        };
        self.coll_hashed(ns, coll)
            .reads
            .insert(key.to_owned(), read);
    }

    /// Records a private write (empty value: delete) in the private set and its hashes in the
    /// public set; `purge` marks a purge of the key's history.
    pub fn add_private_write(
        &mut self,
        ns: &str,
        coll: &str,
        key: &str,
        value: &[u8],
        purge: bool,
    ) {
        let write = kv_write(key, value);
        let hashed = KvWriteHash {
            key_hash: sha256(key.as_bytes()),
            is_delete: write.is_delete,
            value_hash: if write.is_delete {
                Vec::new()
            } else {
                sha256(value)
            },
            is_purge: purge,
        };
        self.coll_private(ns, coll)
            .writes
            .insert(key.to_owned(), write);
        self.coll_hashed(ns, coll)
            .writes
            .insert(key.to_owned(), hashed);
    }

    /// Records new metadata of a private key: the entries go (by key hash) to the public set,
    /// the private set only learns the key, as in Go.
    pub fn add_private_metadata_write(
        &mut self,
        ns: &str,
        coll: &str,
        key: &str,
        metadata: &StateMetadata,
    ) {
        self.coll_private(ns, coll).metadata_writes.insert(
            key.to_owned(),
            KvMetadataWrite {
                key: key.to_owned(),
                entries: Vec::new(),
            },
        );
        let hashed = KvMetadataWriteHash {
            key_hash: sha256(key.as_bytes()),
            entries: metadata_entries(metadata),
        };
        self.coll_hashed(ns, coll)
            .metadata_writes
            .insert(key.to_owned(), hashed);
    }

    /// Whether anything was recorded for namespace `ns`.
    pub fn touches(&self, ns: &str) -> bool {
        self.public.contains_key(ns)
    }

    /// Builds the public and private sets (Go's `GetTxSimulationResults`).
    pub fn finish(mut self) -> SimulationResults {
        let private = self.build_private();
        let ns_rwset = std::mem::take(&mut self.public)
            .into_iter()
            .map(|(namespace, ns)| build_ns(namespace, ns))
            .collect();
        SimulationResults {
            public: TxReadWriteSet {
                data_model: DataModel::Kv as i32,
                ns_rwset,
            },
            private,
        }
    }

    fn build_private(&mut self) -> Option<TxPvtReadWriteSet> {
        if self.private.is_empty() {
            return None;
        }
        let mut ns_pvt_rwset = Vec::with_capacity(self.private.len());
        for (namespace, collections) in std::mem::take(&mut self.private) {
            let mut collection_pvt_rwset = Vec::with_capacity(collections.len());
            for (collection_name, coll) in collections {
                let rwset = KvrwSet {
                    writes: coll.writes.into_values().collect(),
                    metadata_writes: coll.metadata_writes.into_values().collect(),
                    ..Default::default()
                }
                .encode_to_vec();
                self.coll_hashed(&namespace, &collection_name)
                    .pvt_rwset_hash = sha256(&rwset);
                collection_pvt_rwset.push(CollectionPvtReadWriteSet {
                    collection_name,
                    rwset,
                });
            }
            ns_pvt_rwset.push(NsPvtReadWriteSet {
                namespace,
                collection_pvt_rwset,
            });
        }
        Some(TxPvtReadWriteSet {
            data_model: DataModel::Kv as i32,
            ns_pvt_rwset,
        })
    }
}

fn build_ns(namespace: String, ns: NsBuilder) -> NsReadWriteSet {
    let kv = KvrwSet {
        reads: ns.reads.into_values().collect(),
        range_queries_info: ns.range_queries,
        writes: ns.writes.into_values().collect(),
        metadata_writes: ns.metadata_writes.into_values().collect(),
    };
    let collection_hashed_rwset = ns
        .collections
        .into_iter()
        .map(|(collection_name, coll)| CollectionHashedReadWriteSet {
            collection_name,
            hashed_rwset: HashedRwSet {
                hashed_reads: coll.reads.into_values().collect(),
                hashed_writes: coll.writes.into_values().collect(),
                metadata_writes: coll.metadata_writes.into_values().collect(),
            }
            .encode_to_vec(),
            pvt_rwset_hash: coll.pvt_rwset_hash,
        })
        .collect();
    NsReadWriteSet {
        namespace,
        rwset: kv.encode_to_vec(),
        collection_hashed_rwset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_ledger::kv::Height;

    fn kv(results: &SimulationResults, i: usize) -> KvrwSet {
        KvrwSet::decode(results.public.ns_rwset[i].rwset.as_slice()).unwrap()
    }

    // rwset_builder.go keeps the latest read/write of a key (map assignment).
    #[test]
    fn later_entries_replace_earlier_ones() {
        let mut b = RwSetBuilder::new();
        b.add_read("ns", "k", Some(Height::new(1, 1)));
        b.add_read("ns", "k", Some(Height::new(2, 2)));
        b.add_write("ns", "w", b"first");
        b.add_write("ns", "w", b"");
        let results = b.finish();
        let set = kv(&results, 0);
        assert_eq!(set.reads.len(), 1);
        assert_eq!(
            set.reads[0].version,
            Some(Version {
                block_num: 2,
                tx_num: 2
            })
        );
        assert_eq!(
            set.writes,
            vec![KvWrite {
                key: "w".into(),
                is_delete: true,
                value: vec![]
            }]
        );
        assert!(results.private.is_none());
    }

    // Namespaces come out in byte order however they were first touched.
    #[test]
    fn namespaces_sort_by_bytes() {
        let mut b = RwSetBuilder::new();
        for ns in ["zeta", "Alpha", "_lifecycle", "alpha"] {
            b.add_read(ns, "k", None);
        }
        let names: Vec<String> = b
            .finish()
            .public
            .ns_rwset
            .into_iter()
            .map(|n| n.namespace)
            .collect();
        assert_eq!(names, ["Alpha", "_lifecycle", "alpha", "zeta"]);
    }

    // A metadata-only private write leaves the key (no entries) in the private set.
    #[test]
    fn private_metadata_write_keeps_only_the_key_privately() {
        let mut b = RwSetBuilder::new();
        let metadata = StateMetadata::from([("VALIDATION_PARAMETER".to_owned(), b"p".to_vec())]);
        b.add_private_metadata_write("ns", "c", "k", &metadata);
        let results = b.finish();
        let private = results.private.unwrap();
        let coll = &private.ns_pvt_rwset[0].collection_pvt_rwset[0];
        let set = KvrwSet::decode(coll.rwset.as_slice()).unwrap();
        assert_eq!(
            set.metadata_writes,
            vec![KvMetadataWrite {
                key: "k".into(),
                entries: vec![]
            }]
        );
        let hashed_coll = &results.public.ns_rwset[0].collection_hashed_rwset[0];
        assert_eq!(hashed_coll.pvt_rwset_hash, sha256(&coll.rwset));
        let hashed = HashedRwSet::decode(hashed_coll.hashed_rwset.as_slice()).unwrap();
        assert_eq!(hashed.metadata_writes[0].key_hash, sha256(b"k"));
        assert_eq!(
            hashed.metadata_writes[0].entries[0].name,
            "VALIDATION_PARAMETER"
        );
    }

    #[test]
    fn nothing_recorded_is_empty_bytes() {
        assert!(RwSetBuilder::new().finish().public_bytes().is_empty());
    }
}
