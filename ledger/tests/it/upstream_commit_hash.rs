//! Cross-check with Go's protobuf runtime: `tests/go_commit_hash` encodes the same Updates
//! message (schema declared at run time with our own field list, same numbers and types as
//! Fabric's txmgr/updates.proto), the commit hash and the `common.Metadata` wrapper from a JSON
//! description, and the bytes must equal Weft's. Fails if `go` is missing.

use std::io::Write;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use weft_ledger::kv::{
    BatchEntry, Height, UpdateBatch, commit_hash, commit_hash_metadata, update_bytes,
    updates_message,
};

#[derive(Serialize)]
struct GoWrite {
    namespace: String,
    collection: String,
    key: String,
    is_delete: bool,
    value: String,
    version: String,
}

#[derive(Serialize)]
struct GoCase {
    kvwrites: Vec<GoWrite>,
    filter: String,
    previous: String,
}

#[derive(Deserialize)]
struct GoResult {
    updates: String,
    hash: String,
    metadata: String,
}

fn batches() -> Vec<UpdateBatch> {
    let mut large = UpdateBatch::new();
    for i in 0..300u64 {
        let key = format!("key{i:05}");
        let entry = BatchEntry {
            value: (i % 7 != 0).then(|| vec![i as u8; (i as usize) % 300]),
            metadata: None,
            version: Height::new(1 << (i % 60), i),
        };
        if i % 3 == 0 {
            large.put_hashed(
                &format!("ns{}", i % 4),
                &format!("coll{}", i % 5),
                key.as_bytes(),
                entry,
            );
        } else {
            large.put_public(&format!("ns{}", i % 4), key.as_bytes(), entry);
        }
    }
    vec![
        UpdateBatch::new(),
        super::kv_commit_hash::sample_batch(),
        large,
    ]
}

#[test]
fn upstream_go_protobuf_encodes_identical_updates_and_hash() {
    let cases: Vec<(Vec<u8>, Vec<u8>, UpdateBatch)> = batches()
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            (
                vec![0u8, 11, 0][..i + 1].repeat(40 * (i + 1)),
                vec![i as u8; 32 * i.min(1)],
                b,
            )
        })
        .collect();
    let input: Vec<GoCase> = cases
        .iter()
        .map(|(filter, previous, batch)| GoCase {
            kvwrites: updates_message(batch)
                .kvwrites
                .into_iter()
                .map(|w| GoWrite {
                    namespace: w.namespace,
                    collection: w.collection,
                    key: hex::encode(w.key),
                    is_delete: w.is_delete,
                    value: hex::encode(w.value),
                    version: hex::encode(w.version_bytes),
                })
                .collect(),
            filter: hex::encode(filter),
            previous: hex::encode(previous),
        })
        .collect();

    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/go_commit_hash");
    let mut child = Command::new("go")
        .args(["run", "."])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the `go` toolchain is required for this cross-check");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(&input).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "go program failed");
    let results: Vec<GoResult> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results.len(), cases.len());

    for (i, ((filter, previous, batch), go)) in cases.iter().zip(&results).enumerate() {
        let updates = update_bytes(batch);
        assert_eq!(
            hex::encode(&updates),
            go.updates,
            "update bytes of case {i}"
        );
        let hash = commit_hash(filter, &updates, previous);
        assert_eq!(hex::encode(hash), go.hash, "commit hash of case {i}");
        assert_eq!(
            hex::encode(commit_hash_metadata(&hash)),
            go.metadata,
            "metadata of case {i}"
        );
    }
}
