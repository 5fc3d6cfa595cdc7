//! Recovery on open: torn tails, lost or stale index, damage that must be reported.

use std::io::Write;
use std::path::{Path, PathBuf};

use weft_ledger::{LedgerError, testing};

use crate::{append_all, assert_chain, open};

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<_> = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
}

fn append_to_file(path: &Path, bytes: &[u8]) {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

#[test]
fn torn_tail_is_truncated_and_appends_continue() {
    let chain = testing::chain("ch", 6, 2, 100);
    // Garbage, a record cut short, and a record whose checksum fails.
    let partial = {
        let mut bytes = Vec::new();
        let dir = tempfile::tempdir().unwrap();
        append_all(&open(dir.path()), "x", &testing::chain("x", 1, 1, 100));
        let last = segments(dir.path()).pop().unwrap();
        bytes.extend_from_slice(&std::fs::read(last).unwrap()[8..]);
        bytes
    };
    let tails: Vec<Vec<u8>> = vec![
        vec![0xde, 0xad, 0xbe, 0xef, 1, 2, 3],
        partial[..partial.len() / 2].to_vec(),
        {
            let mut bad = partial.clone();
            let last = bad.len() - 1;
            bad[last] ^= 0x40;
            bad
        },
        vec![0; 4096],
    ];
    for tail in tails {
        let dir = tempfile::tempdir().unwrap();
        append_all(&open(dir.path()), "ch", &chain[..5]);
        let last = segments(dir.path()).pop().unwrap();
        let good_len = std::fs::metadata(&last).unwrap().len();
        append_to_file(&last, &tail);

        let store = open(dir.path());
        assert_eq!(
            std::fs::metadata(&last).unwrap().len(),
            good_len,
            "tail truncated"
        );
        assert_eq!(store.stats().truncated_bytes, tail.len() as u64);
        assert_eq!(store.stats().reindexed_records, 0);
        assert_chain(&store, "ch", &chain[..5]);
        append_all(&store, "ch", &chain[5..]);
        assert_chain(&store, "ch", &chain);
        assert!(store.channels().unwrap().iter().all(|c| c == "ch"));
    }
}

#[test]
fn deleted_index_is_rebuilt_from_segments() {
    let dir = tempfile::tempdir().unwrap();
    let a = testing::chain("a", 30, 3, 200);
    let b = testing::chain("b", 10, 1, 20);
    {
        let store = open(dir.path());
        append_all(&store, "a", &a);
        append_all(&store, "b", &b);
    }
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let store = open(dir.path());
    assert_chain(&store, "a", &a);
    assert_chain(&store, "b", &b);
    assert_eq!(
        store
            .channel("a")
            .unwrap()
            .tx_location("a-29-2")
            .unwrap()
            .unwrap()
            .block_number,
        29
    );
    assert_eq!(store.channels().unwrap(), ["a", "b"]);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn stale_index_catches_up_with_segments() {
    let dir = tempfile::tempdir().unwrap();
    let chain = testing::chain("ch", 20, 2, 300);
    let stale = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        append_all(&store, "ch", &chain[..8]);
    }
    // The index as it was after 8 blocks, as if the later index writes had been lost.
    copy_dir(&dir.path().join("index"), stale.path());
    {
        let store = open(dir.path());
        append_all(&store, "ch", &chain[8..]);
        append_all(&store, "late", &testing::chain("late", 2, 1, 1));
    }
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    copy_dir(stale.path(), &dir.path().join("index"));

    let store = open(dir.path());
    // Twelve blocks of "ch" and two of "late" were beyond the stale index.
    assert_eq!(store.stats().reindexed_records, 14);
    assert_chain(&store, "ch", &chain);
    assert_eq!(store.channels().unwrap(), ["ch", "late"]);
    assert!(
        store
            .channel("ch")
            .unwrap()
            .tx_by_id("ch-19-1")
            .unwrap()
            .is_some()
    );
}

#[test]
fn unreadable_index_is_moved_aside_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let chain = testing::chain("ch", 4, 1, 10);
    append_all(&open(dir.path()), "ch", &chain);
    // Replace the index's CURRENT pointer with nonsense.
    std::fs::write(
        dir.path().join("index").join("CURRENT"),
        b"MANIFEST-999999\n",
    )
    .unwrap();
    let store = open(dir.path());
    assert_chain(&store, "ch", &chain);
    let aside = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("index.broken-")
        })
        .count();
    assert_eq!(aside, 1);
}

#[test]
fn damage_before_the_tail_is_reported_with_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let chain = testing::chain("ch", 30, 2, 800);
    append_all(&open(dir.path()), "ch", &chain);
    let files = segments(dir.path());
    assert!(files.len() >= 3);
    // Flip a byte in the first record of the first segment, then lose the index so that the
    // rebuild has to read it.
    let first = &files[0];
    let mut bytes = std::fs::read(first).unwrap();
    bytes[40] ^= 0xff;
    std::fs::write(first, &bytes).unwrap();
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();

    let err = weft_ledger::BlockStore::open(dir.path(), crate::small_segments())
        .err()
        .unwrap();
    match &err {
        LedgerError::CorruptSegment { path, offset, .. } => {
            assert_eq!(path, first);
            assert_eq!(*offset, 8);
        }
        other => panic!("expected CorruptSegment, got {other}"),
    }
    assert!(err.to_string().contains("Restore this file"), "{err}");
}

#[test]
fn damage_in_an_indexed_block_is_reported_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let chain = testing::chain("ch", 3, 1, 100);
    append_all(&open(dir.path()), "ch", &chain);
    let last = segments(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&last).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 1;
    std::fs::write(&last, &bytes).unwrap();
    // The index covers the damaged block, so open does not re-read it; the read reports it.
    let store = open(dir.path());
    let err = store.channel("ch").unwrap().block_by_number(2).unwrap_err();
    assert!(
        matches!(err, LedgerError::CorruptSegment { ref path, .. } if *path == last),
        "{err}"
    );
    assert_eq!(
        store
            .channel("ch")
            .unwrap()
            .block_by_number(0)
            .unwrap()
            .as_ref(),
        Some(&chain[0])
    );
}
