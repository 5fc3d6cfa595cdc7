//! One behaviour suite for every state store backend: point reads, ordered range scans with
//! Fabric's "empty end key means end of namespace", atomic batches with savepoints, deletes, and
//! (for leveldb) isolation of channels and namespaces sharing one database.

use weft_ledger::kv::{
    BatchEntry, Height, LevelDbStateDb, MemoryStateStore, UpdateBatch, VersionedStore,
    VersionedValue,
};

fn put(value: &str, metadata: Option<&str>, version: Height) -> BatchEntry {
    BatchEntry {
        value: Some(value.as_bytes().to_vec()),
        metadata: metadata.map(|m| m.as_bytes().to_vec()),
        version,
    }
}

fn delete(version: Height) -> BatchEntry {
    BatchEntry {
        value: None,
        metadata: None,
        version,
    }
}

fn keys_of(store: &dyn VersionedStore, ns: &str, start: &str, end: &str) -> Vec<String> {
    store
        .scan(ns, start.as_bytes(), end.as_bytes())
        .unwrap()
        .map(|item| String::from_utf8(item.unwrap().0).unwrap())
        .collect()
}

/// The suite every backend must pass.
fn suite(store: &dyn VersionedStore) {
    assert_eq!(store.savepoint().unwrap(), None);
    assert_eq!(store.get("cc", b"a").unwrap(), None);

    let mut batch = UpdateBatch::new();
    for key in ["b", "a", "d", "c", "e"] {
        batch.put_public("cc", key.as_bytes(), put(key, None, Height::new(1, 0)));
    }
    batch.put_public(
        "cc",
        b"m",
        put("with-meta", Some("meta"), Height::new(1, 2)),
    );
    // A namespace whose name extends "cc" must not leak into scans of "cc".
    batch.put_public("cc2", b"a", put("other", None, Height::new(1, 1)));
    batch.put_hashed(
        "cc",
        "coll",
        &[0xff, 0x00],
        put("hash", None, Height::new(1, 3)),
    );
    store.apply(&batch, Height::new(1, 3)).unwrap();

    assert_eq!(store.savepoint().unwrap(), Some(Height::new(1, 3)));
    assert_eq!(
        store.get("cc", b"m").unwrap(),
        Some(VersionedValue {
            value: b"with-meta".to_vec(),
            metadata: Some(b"meta".to_vec()),
            version: Height::new(1, 2),
        })
    );
    assert_eq!(store.get("cc", b"a").unwrap().unwrap().metadata, None);
    assert_eq!(
        store
            .get("cc$$hcoll", &[0xff, 0x00])
            .unwrap()
            .unwrap()
            .value,
        b"hash".to_vec()
    );

    assert_eq!(keys_of(store, "cc", "", ""), ["a", "b", "c", "d", "e", "m"]);
    assert_eq!(keys_of(store, "cc", "b", "d"), ["b", "c"]);
    assert_eq!(keys_of(store, "cc", "b", ""), ["b", "c", "d", "e", "m"]);
    assert_eq!(keys_of(store, "cc", "", "b"), ["a"]);
    assert!(keys_of(store, "cc", "d", "b").is_empty(), "start after end");
    assert!(keys_of(store, "cc", "c", "c").is_empty(), "empty range");
    assert_eq!(keys_of(store, "cc2", "", ""), ["a"]);
    assert!(keys_of(store, "c", "", "").is_empty());

    let mut batch = UpdateBatch::new();
    batch.put_public("cc", b"b", delete(Height::new(2, 0)));
    batch.put_public("cc", b"c", put("c2", None, Height::new(2, 1)));
    batch.put_public("cc", b"zz", delete(Height::new(2, 1)));
    store.apply(&batch, Height::new(2, 1)).unwrap();
    assert_eq!(store.get("cc", b"b").unwrap(), None);
    assert_eq!(
        store.get("cc", b"c").unwrap().unwrap().version,
        Height::new(2, 1)
    );
    assert_eq!(keys_of(store, "cc", "a", "d"), ["a", "c"]);
    assert_eq!(store.savepoint().unwrap(), Some(Height::new(2, 1)));
}

#[test]
fn memory_store_passes_suite() {
    suite(&MemoryStateStore::new());
}

#[test]
fn leveldb_store_passes_suite() {
    let dir = tempfile::tempdir().unwrap();
    let db = LevelDbStateDb::open(dir.path()).unwrap();
    suite(&db.channel("ch1"));
}

#[test]
fn leveldb_channels_are_isolated_and_state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = LevelDbStateDb::open(dir.path()).unwrap();
        // "a" is a prefix of "ab": the length prefix keeps their keys apart.
        for (channel, block) in [("a", 1), ("ab", 2)] {
            let mut batch = UpdateBatch::new();
            batch.put_public("cc", b"k", put(channel, None, Height::new(block, 0)));
            db.channel(channel)
                .apply(&batch, Height::new(block, 0))
                .unwrap();
        }
        // Many channels in one database.
        for i in 0..200u64 {
            let mut batch = UpdateBatch::new();
            batch.put_public("cc", b"k", put("x", None, Height::new(i, 0)));
            db.channel(&format!("ch{i}"))
                .apply(&batch, Height::new(i, 0))
                .unwrap();
        }
    }
    let db = LevelDbStateDb::open(dir.path()).unwrap();
    let a = db.channel("a");
    let ab = db.channel("ab");
    assert_eq!(a.get("cc", b"k").unwrap().unwrap().value, b"a".to_vec());
    assert_eq!(ab.get("cc", b"k").unwrap().unwrap().value, b"ab".to_vec());
    assert_eq!(keys_of(&a, "cc", "", ""), ["k"]);
    assert_eq!(a.savepoint().unwrap(), Some(Height::new(1, 0)));
    assert_eq!(ab.savepoint().unwrap(), Some(Height::new(2, 0)));
    assert_eq!(
        db.channel("ch137").savepoint().unwrap(),
        Some(Height::new(137, 0))
    );
    assert_eq!(db.channel("none").savepoint().unwrap(), None);
}
