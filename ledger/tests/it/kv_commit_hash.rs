//! The bytes and hash of Fabric's COMMIT_HASH (F25 kv_ledger.go addBlockCommitHash,
//! txmgr/update_batch_bytes.go): flattening order, names only on the first entry of each
//! group, deletes, version bytes, the protobuf bytes and the hash chaining.

use weft_ledger::kv::{
    BatchEntry, Height, KvWriteRecord, UpdateBatch, commit_hash, commit_hash_metadata,
    update_bytes, updates_message,
};

fn put(value: &str, version: Height) -> BatchEntry {
    BatchEntry {
        value: Some(value.as_bytes().to_vec()),
        // Metadata is not part of the commit hash.
        metadata: Some(b"ignored".to_vec()),
        version,
    }
}

fn record(ns: &str, coll: &str, key: &str, value: Option<&str>, version: Height) -> KvWriteRecord {
    KvWriteRecord {
        namespace: ns.into(),
        collection: coll.into(),
        key: key.as_bytes().to_vec(),
        is_delete: value.is_none(),
        value: value.unwrap_or_default().as_bytes().to_vec(),
        version_bytes: version.to_bytes(),
    }
}

/// A batch touching every ordering rule; shared with the upstream cross-check.
pub fn sample_batch() -> UpdateBatch {
    let h = Height::new(3, 1);
    let d = Height::new(300, 70000);
    let mut batch = UpdateBatch::new();
    batch.put_public("", b"skipped", put("x", h));
    batch.put_public("mycc", b"k2", put("v2", h));
    batch.put_public("mycc", b"k1", put("v1", h));
    batch.put_public(
        "mycc",
        b"gone",
        BatchEntry {
            value: None,
            metadata: None,
            version: d,
        },
    );
    batch.put_hashed("mycc", "zcoll", b"h1", put("hv1", d));
    batch.put_hashed("mycc", "acoll", b"h2", put("hv2", h));
    batch.put_hashed("mycc", "acoll", b"h1", put("hv3", h));
    batch.put_hashed("hashonly", "c", b"h", put("hv", h));
    batch.put_public(
        "_lifecycle",
        b"namespaces/fields/mycc/Sequence",
        put("s", h),
    );
    batch
}

#[test]
fn flattening_follows_fabric_order() {
    let h = Height::new(3, 1);
    let d = Height::new(300, 70000);
    let want = vec![
        record(
            "_lifecycle",
            "",
            "namespaces/fields/mycc/Sequence",
            Some("s"),
            h,
        ),
        record("hashonly", "c", "h", Some("hv"), h),
        record("mycc", "", "gone", None, d),
        record("", "", "k1", Some("v1"), h),
        record("", "", "k2", Some("v2"), h),
        record("", "acoll", "h1", Some("hv3"), h),
        record("", "", "h2", Some("hv2"), h),
        record("", "zcoll", "h1", Some("hv1"), d),
    ];
    assert_eq!(updates_message(&sample_batch()).kvwrites, want);
}

#[test]
fn update_bytes_match_hand_encoded_protobuf() {
    let mut batch = UpdateBatch::new();
    batch.put_public("cc", b"k", put("v", Height::new(1, 0)));
    batch.put_public(
        "cc",
        b"x",
        BatchEntry {
            value: None,
            metadata: None,
            version: Height::new(0, 258),
        },
    );
    let want: Vec<u8> = [
        &[0x0a, 0x0f][..],                     // kvwrites, 15 bytes
        &[0x0a, 0x02, b'c', b'c'],             // namespace
        &[0x1a, 0x01, b'k'],                   // key
        &[0x2a, 0x01, b'v'],                   // value
        &[0x32, 0x03, 0x01, 0x01, 0x00],       // version_bytes of 1:0
        &[0x0a, 0x0b],                         // kvwrites, 11 bytes
        &[0x1a, 0x01, b'x'],                   // key
        &[0x20, 0x01],                         // isDelete
        &[0x32, 0x04, 0x00, 0x02, 0x01, 0x02], // version_bytes of 0:258
    ]
    .concat();
    assert_eq!(update_bytes(&batch), want);
    assert!(update_bytes(&UpdateBatch::new()).is_empty());
}

#[test]
fn commit_hash_chains_filter_updates_and_previous() {
    // A 200-transaction filter: its length takes a two-byte varint (0xc8 0x01).
    let filter = vec![0u8; 200];
    let updates = update_bytes(&sample_batch());
    let previous = [7u8; 32];
    let mut data = vec![0xc8, 0x01];
    data.extend_from_slice(&filter);
    data.extend_from_slice(&updates);
    data.extend_from_slice(&previous);
    assert_eq!(
        commit_hash(&filter, &updates, &previous),
        openssl::sha::sha256(&data)
    );

    // First block with a commit hash: nothing is chained.
    let first = commit_hash(&[0], &[], &[]);
    assert_eq!(first, openssl::sha::sha256(&[1, 0]));
    // Each hash depends on the previous one.
    assert_ne!(commit_hash(&[0], &[], &first), first);

    let metadata = commit_hash_metadata(&first);
    assert_eq!(&metadata[..2], &[0x0a, 0x20]);
    assert_eq!(&metadata[2..], &first);
}
