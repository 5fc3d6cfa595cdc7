#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests of the block store: round trips, recovery, crashes and footprint.

mod child;
mod crash;
mod footprint;
pub mod kv_commit_hash;
mod kv_mvcc;
mod kv_private;
mod kv_store;
mod recovery;
mod roundtrip;
mod upstream_commit_hash;

use fabric_protos::common::Block;
use weft_ledger::testing;
use weft_ledger::{BlockStore, StoreOptions};

/// Options with small segments, so tests cross segment boundaries.
pub fn small_segments() -> StoreOptions {
    StoreOptions {
        segment_size_max_bytes: 16 * 1024,
        ..StoreOptions::default()
    }
}

pub fn open(dir: &std::path::Path) -> BlockStore {
    BlockStore::open(dir, small_segments()).unwrap()
}

/// Appends `blocks` to `channel` of `store`.
pub fn append_all(store: &BlockStore, channel: &str, blocks: &[Block]) {
    let channel = store.channel(channel).unwrap();
    for block in blocks {
        channel.append(block).unwrap();
    }
}

/// Asserts that `channel` holds exactly `blocks`, byte for byte, and answers every lookup.
pub fn assert_chain(store: &BlockStore, channel: &str, blocks: &[Block]) {
    let handle = store.channel(channel).unwrap();
    let info = handle.info().unwrap();
    assert_eq!(info.height, blocks.len() as u64, "height of {channel}");
    for (number, block) in blocks.iter().enumerate() {
        let number = number as u64;
        let stored = handle
            .block_by_number(number)
            .unwrap()
            .expect("block present");
        assert_eq!(&stored, block, "block {number} of {channel}");
        let hash = testing::header_hash(block).unwrap();
        assert_eq!(handle.block_number_by_hash(&hash).unwrap(), Some(number));
    }
    if let Some(last) = blocks.last() {
        assert_eq!(
            info.current_block_hash,
            testing::header_hash(last).unwrap().to_vec()
        );
    }
    assert_eq!(handle.block_by_number(blocks.len() as u64).unwrap(), None);
}
