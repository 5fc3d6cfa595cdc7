//! Private data entering the update batch after MVCC validation (F25 validation/
//! batch_preparer.go validateAndPreparePvtBatch): hash check against the block, writes at the
//! transaction height, invalid or data-less transactions skipped, version alignment after a
//! metadata-only change, and no effect on the commit hash.

use std::collections::BTreeMap;

use fabric_protos::kvrwset::{
    HashedRwSet, KvMetadataEntry, KvMetadataWrite, KvMetadataWriteHash, KvRead, KvWrite,
    KvWriteHash, KvrwSet, Version,
};
use fabric_protos::protos::TxValidationCode;
use fabric_protos::rwset::{CollectionPvtReadWriteSet, NsPvtReadWriteSet, TxPvtReadWriteSet};
use prost::Message;
use weft_ledger::kv::{
    BatchEntry, BlockTx, CollHashedRwSet, Height, KvError, MemoryStateStore, NsRwSet, TxRwSet,
    UpdateBatch, VersionedStore, prepare_private_writes, update_bytes, validate_block,
};

fn sha(data: &[u8]) -> Vec<u8> {
    openssl::sha::sha256(data).to_vec()
}

/// A transaction writing `key = value` into collection `coll` of `cc`, with its private data.
fn private_tx(
    coll: &str,
    key: &str,
    value: &str,
    public_read: Option<KvRead>,
) -> (TxRwSet, TxPvtReadWriteSet) {
    let pvt = KvrwSet {
        writes: vec![KvWrite {
            key: key.into(),
            is_delete: false,
            value: value.as_bytes().to_vec(),
        }],
        ..Default::default()
    }
    .encode_to_vec();
    let rwset = TxRwSet {
        ns_rwsets: vec![NsRwSet {
            namespace: "cc".into(),
            kv: KvrwSet {
                reads: public_read.into_iter().collect(),
                ..Default::default()
            },
            collections: vec![CollHashedRwSet {
                collection: coll.into(),
                hashed: HashedRwSet {
                    hashed_writes: vec![KvWriteHash {
                        key_hash: sha(key.as_bytes()),
                        is_delete: false,
                        value_hash: sha(value.as_bytes()),
                        is_purge: false,
                    }],
                    ..Default::default()
                },
                pvt_rwset_hash: sha(&pvt),
            }],
        }],
    };
    let data = TxPvtReadWriteSet {
        data_model: 0,
        ns_pvt_rwset: vec![NsPvtReadWriteSet {
            namespace: "cc".into(),
            collection_pvt_rwset: vec![CollectionPvtReadWriteSet {
                collection_name: coll.into(),
                rwset: pvt,
            }],
        }],
    };
    (rwset, data)
}

fn valid(rwset: &TxRwSet) -> BlockTx<'_> {
    BlockTx {
        code: TxValidationCode::Valid,
        rwset: Some(rwset),
    }
}

#[test]
fn private_writes_of_valid_transactions_enter_the_batch_but_not_the_commit_hash() {
    let store = MemoryStateStore::new();
    let (tx0, pvt0) = private_tx("secret", "k0", "v0", None);
    let stale = KvRead {
        key: "p".into(),
        version: Some(Version {
            block_num: 9,
            tx_num: 9,
        }),
    };
    let (tx1, pvt1) = private_tx("secret", "k1", "v1", Some(stale));
    let (tx2, _) = private_tx("secret", "k2", "v2", None);
    let txs = [valid(&tx0), valid(&tx1), valid(&tx2)];
    let mut block = validate_block(&store, 3, &txs).unwrap();
    assert_eq!(block.codes[1], TxValidationCode::MvccReadConflict);
    let public_bytes = update_bytes(&block.batch);

    // tx2's private data is missing: its hash is committed, its value is not.
    let private = BTreeMap::from([(0, pvt0), (1, pvt1)]);
    prepare_private_writes(&store, 3, &txs, &mut block, &private).unwrap();
    assert_eq!(update_bytes(&block.batch), public_bytes);
    store.apply(&block.batch, Height::new(3, 2)).unwrap();

    let k0 = store.get("cc$$psecret", b"k0").unwrap().unwrap();
    assert_eq!((k0.value, k0.version), (b"v0".to_vec(), Height::new(3, 0)));
    assert_eq!(store.get("cc$$psecret", b"k1").unwrap(), None, "invalid tx");
    assert_eq!(
        store.get("cc$$psecret", b"k2").unwrap(),
        None,
        "missing data"
    );
    assert!(store.get("cc$$hsecret", &sha(b"k2")).unwrap().is_some());
}

#[test]
fn private_data_not_matching_the_block_hash_stops_the_block() {
    let store = MemoryStateStore::new();
    let (tx0, _) = private_tx("secret", "k0", "v0", None);
    let (_, other) = private_tx("secret", "k0", "forged", None);
    let txs = [valid(&tx0)];
    let mut block = validate_block(&store, 3, &txs).unwrap();
    let err = prepare_private_writes(&store, 3, &txs, &mut block, &BTreeMap::from([(0, other)]))
        .unwrap_err();
    assert!(matches!(
        err,
        KvError::PrivateDataHashMismatch { tx_index: 0, .. }
    ));
}

// batch_preparer.go incrementPvtdataVersionIfNeeded: a metadata-only change bumps the hashed
// key's version; the private value, unchanged, is re-put at that version.
#[test]
fn metadata_only_change_realigns_the_private_version() {
    let store = MemoryStateStore::new();
    let mut seed = UpdateBatch::new();
    let at = Height::new(1, 0);
    seed.put_hashed(
        "cc",
        "secret",
        &sha(b"k"),
        BatchEntry {
            value: Some(sha(b"v")),
            metadata: None,
            version: at,
        },
    );
    seed.put_private(
        "cc",
        "secret",
        b"k",
        BatchEntry {
            value: Some(b"v".to_vec()),
            metadata: None,
            version: at,
        },
    );
    store.apply(&seed, at).unwrap();

    let entries = vec![KvMetadataEntry {
        name: "owner".into(),
        value: b"org1".to_vec(),
    }];
    let pvt = KvrwSet {
        metadata_writes: vec![KvMetadataWrite {
            key: "k".into(),
            entries: entries.clone(),
        }],
        ..Default::default()
    }
    .encode_to_vec();
    let rwset = TxRwSet {
        ns_rwsets: vec![NsRwSet {
            namespace: "cc".into(),
            kv: KvrwSet::default(),
            collections: vec![CollHashedRwSet {
                collection: "secret".into(),
                hashed: HashedRwSet {
                    metadata_writes: vec![KvMetadataWriteHash {
                        key_hash: sha(b"k"),
                        entries,
                    }],
                    ..Default::default()
                },
                pvt_rwset_hash: sha(&pvt),
            }],
        }],
    };
    let data = TxPvtReadWriteSet {
        data_model: 0,
        ns_pvt_rwset: vec![NsPvtReadWriteSet {
            namespace: "cc".into(),
            collection_pvt_rwset: vec![CollectionPvtReadWriteSet {
                collection_name: "secret".into(),
                rwset: pvt,
            }],
        }],
    };
    let txs = [valid(&rwset)];
    let mut block = validate_block(&store, 5, &txs).unwrap();
    prepare_private_writes(&store, 5, &txs, &mut block, &BTreeMap::from([(0, data)])).unwrap();
    store.apply(&block.batch, Height::new(5, 0)).unwrap();

    let hashed = store.get("cc$$hsecret", &sha(b"k")).unwrap().unwrap();
    assert_eq!(
        (hashed.value, hashed.version),
        (sha(b"v"), Height::new(5, 0))
    );
    assert!(hashed.metadata.is_some());
    let private = store.get("cc$$psecret", b"k").unwrap().unwrap();
    assert_eq!(
        (private.value, private.version),
        (b"v".to_vec(), Height::new(5, 0))
    );
}
