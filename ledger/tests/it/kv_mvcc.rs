//! Table-driven MVCC validation cases from `tests/testdata/kv_mvcc.json`. Each case states the
//! Fabric behaviour it mirrors (F25 core/ledger/kvledger/txmgmt/validation): committed state,
//! a block's transactions with their earlier codes and read-write sets, the expected final
//! codes and the state after the batch is applied. Every case runs on both store backends.

use std::collections::BTreeMap;

use fabric_protos::kvrwset::range_query_info::ReadsInfo;
use fabric_protos::kvrwset::{
    HashedRwSet, KvMetadataEntry, KvMetadataWrite, KvRead, KvReadHash, KvWrite, KvWriteHash,
    KvrwSet, QueryReads, RangeQueryInfo, Version,
};
use fabric_protos::protos::TxValidationCode;
use prost::Message;
use serde::Deserialize;
use weft_ledger::kv::{
    BatchEntry, BlockTx, CollHashedRwSet, Height, LevelDbStateDb, MemoryStateStore, NsRwSet,
    RangeSummary, TxRwSet, UpdateBatch, VersionedStore, summarize_range_reads, validate_block,
};

#[derive(Deserialize)]
struct Case {
    name: String,
    block: u64,
    #[serde(default)]
    state: Vec<StateEntry>,
    txs: Vec<Tx>,
    expect_codes: Vec<String>,
    #[serde(default)]
    expect_state: Vec<StateEntry>,
}

/// `value: null` in `expect_state` means the key must be absent.
#[derive(Deserialize)]
struct StateEntry {
    ns: String,
    #[serde(default)]
    coll: Option<String>,
    key: String,
    value: Option<String>,
    #[serde(default)]
    version: Option<[u64; 2]>,
    #[serde(default)]
    metadata: Option<Vec<[String; 2]>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Tx {
    code: Option<String>,
    reads: Vec<Read>,
    /// `value: null` is a delete; `value: ""` is a write Fabric treats as a delete.
    writes: Vec<Write>,
    metadata_writes: Vec<MetaWrite>,
    range_queries: Vec<RangeQuery>,
    hashed_reads: Vec<Read>,
    hashed_writes: Vec<Write>,
}

#[derive(Deserialize)]
struct Read {
    ns: String,
    #[serde(default)]
    coll: String,
    key: String,
    version: Option<[u64; 2]>,
}

#[derive(Deserialize)]
struct Write {
    ns: String,
    #[serde(default)]
    coll: String,
    key: String,
    value: Option<String>,
}

#[derive(Deserialize)]
struct MetaWrite {
    ns: String,
    key: String,
    entries: Vec<[String; 2]>,
}

#[derive(Deserialize)]
struct RangeQuery {
    ns: String,
    start: String,
    end: String,
    exhausted: bool,
    /// The results the endorser saw, as (key, version).
    reads: Vec<(String, [u64; 2])>,
    /// When set, the endorser recorded a merkle summary of `reads` with this degree.
    #[serde(default)]
    merkle_degree: Option<u32>,
}

fn version(v: [u64; 2]) -> Version {
    Version {
        block_num: v[0],
        tx_num: v[1],
    }
}

fn key_hash(key: &str) -> Vec<u8> {
    openssl::sha::sha256(key.as_bytes()).to_vec()
}

fn metadata_bytes(entries: &[[String; 2]]) -> Vec<u8> {
    KvMetadataWrite {
        key: String::new(),
        entries: entries
            .iter()
            .map(|[name, value]| KvMetadataEntry {
                name: name.clone(),
                value: value.as_bytes().to_vec(),
            })
            .collect(),
    }
    .encode_to_vec()
}

fn code(name: &str) -> TxValidationCode {
    TxValidationCode::from_str_name(name).unwrap_or_else(|| panic!("unknown code {name}"))
}

fn build_rwset(tx: &Tx) -> TxRwSet {
    let mut namespaces: BTreeMap<String, NsRwSet> = BTreeMap::new();
    fn ns_of<'a>(namespaces: &'a mut BTreeMap<String, NsRwSet>, name: &str) -> &'a mut NsRwSet {
        namespaces
            .entry(name.to_owned())
            .or_insert_with(|| NsRwSet {
                namespace: name.to_owned(),
                kv: KvrwSet::default(),
                collections: Vec::new(),
            })
    }
    fn coll<'a>(ns: &'a mut NsRwSet, name: &str) -> &'a mut HashedRwSet {
        if let Some(i) = ns.collections.iter().position(|c| c.collection == name) {
            return &mut ns.collections[i].hashed;
        }
        ns.collections.push(CollHashedRwSet {
            collection: name.to_owned(),
            ..Default::default()
        });
        &mut ns.collections.last_mut().unwrap().hashed
    }
    for r in &tx.reads {
        ns_of(&mut namespaces, &r.ns).kv.reads.push(KvRead {
            key: r.key.clone(),
            version: r.version.map(version),
        });
    }
    for w in &tx.writes {
        ns_of(&mut namespaces, &w.ns).kv.writes.push(KvWrite {
            key: w.key.clone(),
            is_delete: w.value.is_none(),
            value: w.value.clone().unwrap_or_default().into_bytes(),
        });
    }
    for m in &tx.metadata_writes {
        ns_of(&mut namespaces, &m.ns)
            .kv
            .metadata_writes
            .push(KvMetadataWrite {
                key: m.key.clone(),
                entries: m
                    .entries
                    .iter()
                    .map(|[name, value]| KvMetadataEntry {
                        name: name.clone(),
                        value: value.as_bytes().to_vec(),
                    })
                    .collect(),
            });
    }
    for q in &tx.range_queries {
        let reads: Vec<KvRead> = q
            .reads
            .iter()
            .map(|(key, v)| KvRead {
                key: key.clone(),
                version: Some(version(*v)),
            })
            .collect();
        let reads_info = match q.merkle_degree {
            Some(degree) => match summarize_range_reads(reads, degree).unwrap() {
                RangeSummary::Merkle(summary) => ReadsInfo::ReadsMerkleHashes(summary),
                RangeSummary::Raw(_) => panic!("merkle case needs more than {degree} reads"),
            },
            None => ReadsInfo::RawReads(QueryReads { kv_reads: reads }),
        };
        ns_of(&mut namespaces, &q.ns)
            .kv
            .range_queries_info
            .push(RangeQueryInfo {
                start_key: q.start.clone(),
                end_key: q.end.clone(),
                itr_exhausted: q.exhausted,
                reads_info: Some(reads_info),
            });
    }
    for r in &tx.hashed_reads {
        coll(ns_of(&mut namespaces, &r.ns), &r.coll)
            .hashed_reads
            .push(KvReadHash {
                key_hash: key_hash(&r.key),
                version: r.version.map(version),
            });
    }
    for w in &tx.hashed_writes {
        coll(ns_of(&mut namespaces, &w.ns), &w.coll)
            .hashed_writes
            .push(KvWriteHash {
                key_hash: key_hash(&w.key),
                is_delete: w.value.is_none(),
                value_hash: w.value.as_deref().map(key_hash).unwrap_or_default(),
                is_purge: false,
            });
    }
    TxRwSet {
        ns_rwsets: namespaces.into_values().collect(),
    }
}

fn seed(store: &dyn VersionedStore, entries: &[StateEntry]) {
    let mut batch = UpdateBatch::new();
    for e in entries {
        let entry = BatchEntry {
            value: e.value.clone().map(String::into_bytes),
            metadata: e.metadata.as_deref().map(metadata_bytes),
            version: Height::new(e.version.unwrap()[0], e.version.unwrap()[1]),
        };
        match &e.coll {
            Some(coll) => batch.put_hashed(&e.ns, coll, &key_hash(&e.key), entry),
            None => batch.put_public(&e.ns, e.key.as_bytes(), entry),
        }
    }
    store.apply(&batch, Height::new(0, 0)).unwrap();
}

fn run_case(case: &Case, store: &dyn VersionedStore) {
    seed(store, &case.state);
    let rwsets: Vec<TxRwSet> = case.txs.iter().map(build_rwset).collect();
    let txs: Vec<BlockTx<'_>> = case
        .txs
        .iter()
        .zip(&rwsets)
        .map(|(tx, rwset)| BlockTx {
            code: code(tx.code.as_deref().unwrap_or("VALID")),
            rwset: Some(rwset),
        })
        .collect();
    let validated = validate_block(store, case.block, &txs).unwrap();
    let got: Vec<&str> = validated.codes.iter().map(|c| c.as_str_name()).collect();
    assert_eq!(got, case.expect_codes, "codes of case {:?}", case.name);

    let last = Height::new(case.block, case.txs.len().saturating_sub(1) as u64);
    store.apply(&validated.batch, last).unwrap();
    for e in &case.expect_state {
        let (ns, key) = match &e.coll {
            Some(coll) => (format!("{}$$h{coll}", e.ns), key_hash(&e.key)),
            None => (e.ns.clone(), e.key.as_bytes().to_vec()),
        };
        let stored = store.get(&ns, &key).unwrap();
        let what = format!("{}/{} in case {:?}", e.ns, e.key, case.name);
        match &e.value {
            None => assert_eq!(stored, None, "{what} must be absent"),
            Some(value) => {
                let stored = stored.unwrap_or_else(|| panic!("{what} missing"));
                let want = if e.coll.is_some() {
                    key_hash(value)
                } else {
                    value.clone().into_bytes()
                };
                assert_eq!(stored.value, want, "value of {what}");
                if let Some(v) = e.version {
                    assert_eq!(stored.version, Height::new(v[0], v[1]), "version of {what}");
                }
                assert_eq!(
                    stored.metadata,
                    e.metadata.as_deref().map(metadata_bytes),
                    "metadata of {what}"
                );
            }
        }
    }
}

fn cases() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/testdata/kv_mvcc.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn mvcc_cases_on_memory_store() {
    let cases = cases();
    assert!(cases.len() >= 10);
    for case in &cases {
        run_case(case, &MemoryStateStore::new());
    }
}

#[test]
fn mvcc_cases_on_leveldb_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = LevelDbStateDb::open(dir.path()).unwrap();
    for (i, case) in cases().iter().enumerate() {
        // Each case in its own channel of one shared database.
        run_case(case, &db.channel(&format!("case{i}")));
    }
}

/// Small deterministic generator, so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

/// Range re-execution (combined committed state + block writes, end-key rule) against a naive
/// overlay model, over many generated ranges: the endorser's true results validate (raw and as
/// a merkle summary), results missing one entry do not.
fn check_ranges_against_model(store: &dyn VersionedStore, seed: u64) {
    let mut rng = Lcg(seed);
    let key = |i: u64| format!("k{i:03}");
    let mut model: BTreeMap<String, [u64; 2]> = BTreeMap::new();
    let mut committed = UpdateBatch::new();
    for i in 0..120 {
        if rng.next(2) == 0 {
            let v = [1 + rng.next(3), rng.next(5)];
            model.insert(key(i), v);
            committed.put_public(
                "cc",
                key(i).as_bytes(),
                BatchEntry {
                    value: Some(b"v".to_vec()),
                    metadata: None,
                    version: Height::new(v[0], v[1]),
                },
            );
        }
    }
    store.apply(&committed, Height::new(4, 0)).unwrap();

    let block = 9;
    let mut writer = Tx::default();
    for _ in 0..40 {
        let k = key(rng.next(120));
        let delete = rng.next(3) == 0;
        if writer.writes.iter().any(|w| w.key == k) {
            continue;
        }
        writer.writes.push(Write {
            ns: "cc".into(),
            coll: String::new(),
            key: k.clone(),
            value: (!delete).then(|| "w".to_owned()),
        });
        if delete {
            model.remove(&k);
        } else {
            model.insert(k, [block, 0]);
        }
    }

    let mut txs = vec![writer];
    let mut expect = vec!["VALID".to_owned()];
    for _ in 0..60 {
        let start = key(rng.next(125));
        let end = if rng.next(5) == 0 {
            String::new()
        } else {
            key(rng.next(125))
        };
        let exhausted = rng.next(2) == 0;
        let mut reads: Vec<(String, [u64; 2])> = model
            .iter()
            .filter(|(k, _)| **k >= start && (end.is_empty() || **k < end))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        if !exhausted && let Some(v) = model.get(&end) {
            reads.push((end.clone(), *v));
        }
        let query = |reads: Vec<(String, [u64; 2])>, merkle_degree| RangeQuery {
            ns: "cc".into(),
            start: start.clone(),
            end: end.clone(),
            exhausted,
            reads,
            merkle_degree,
        };
        let mut wrong = reads.clone();
        if wrong.is_empty() {
            wrong.push((key(999), [1, 0]));
        } else {
            wrong.remove(rng.next(wrong.len() as u64) as usize);
        }
        for (q, code) in [
            (query(reads.clone(), None), "VALID"),
            (query(wrong.clone(), None), "PHANTOM_READ_CONFLICT"),
        ] {
            txs.push(Tx {
                range_queries: vec![q],
                ..Tx::default()
            });
            expect.push(code.to_owned());
        }
        if wrong.len() > 2 && reads.len() > 2 {
            for (q, code) in [
                (query(reads.clone(), Some(2)), "VALID"),
                (query(wrong, Some(2)), "PHANTOM_READ_CONFLICT"),
            ] {
                txs.push(Tx {
                    range_queries: vec![q],
                    ..Tx::default()
                });
                expect.push(code.to_owned());
            }
        }
    }
    let case = Case {
        name: format!("generated ranges, seed {seed}"),
        block,
        state: Vec::new(),
        txs,
        expect_codes: expect,
        expect_state: Vec::new(),
    };
    run_case(&case, store);
}

#[test]
fn generated_ranges_match_overlay_model() {
    let dir = tempfile::tempdir().unwrap();
    let db = LevelDbStateDb::open(dir.path()).unwrap();
    for seed in 0..8 {
        check_ranges_against_model(&MemoryStateStore::new(), seed);
        check_ranges_against_model(&db.channel(&format!("gen{seed}")), seed);
    }
}
