//! SIGKILL while committing: a child process commits a prepared chain of blocks and is killed
//! at a random moment, again and again; every reopen recovers, no stored block is lost, and the
//! commit hashes and final state equal those of a ledger that never crashed (Fabric's
//! kvledger recovery guarantee).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fabric_protos::common::{Block, BlockMetadataIndex};
use prost::Message;
use weft_committer::{ChannelLedger, LedgerStores};
use weft_ledger::StoreOptions;
use weft_ledger::kv::VersionedStore;

use crate::fixture::{CHANNEL, TxSpec, header_hash, signed_block};
use crate::{Harness, definitions, net, org, writes};

const BLOCKS: u64 = 200;
const KILLS: usize = 20;
const CHILD_DIR: &str = "WEFT_COMMITTER_CRASH_DIR";

fn chain() -> Vec<Block> {
    let user = net().user(1);
    let mut previous = header_hash(&net().genesis);
    (1..=BLOCKS)
        .map(|n| {
            let envelopes = (0..4)
                .map(|i| {
                    let kv = writes(&[("counter", &format!("{n}")), (&format!("k{n}-{i}"), "v")]);
                    TxSpec::new(&user, &[&org(1)], "any", kv).build()
                })
                .collect();
            let block = signed_block(n, &previous, envelopes, &net().orderer());
            previous = header_hash(&block);
            block
        })
        .collect()
}

fn write_blocks(path: &Path, blocks: &[Block]) {
    let mut bytes = net().genesis.encode_length_delimited_to_vec();
    for block in blocks {
        bytes.extend(block.encode_length_delimited_to_vec());
    }
    std::fs::write(path, bytes).unwrap();
}

fn read_blocks(path: &Path) -> Vec<Block> {
    let bytes = std::fs::read(path).unwrap();
    let mut buf = bytes.as_slice();
    let mut out = Vec::new();
    while !buf.is_empty() {
        out.push(Block::decode_length_delimited(&mut buf).unwrap());
    }
    out
}

fn commit_hash(block: &Block) -> Vec<u8> {
    block.metadata.as_ref().unwrap().metadata[BlockMetadataIndex::CommitHash as usize].clone()
}

/// The child side: commits the stored chain from wherever the ledger stands. Does nothing
/// unless started by `sigkill_while_committing_recovers`.
#[test]
#[ignore = "run as a child process by sigkill_while_committing_recovers"]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let dir = Path::new(&dir);
    let mut blocks = read_blocks(&dir.join("chain")).into_iter();
    let genesis = blocks.next().unwrap();
    let stores = LedgerStores::open(&dir.join("ledger"), StoreOptions::default()).unwrap();
    let mut ledger = ChannelLedger::create(&stores, genesis, definitions()).unwrap();
    for block in blocks {
        let number = block.header.as_ref().unwrap().number;
        if number >= ledger.height() {
            ledger.commit_block(block).unwrap();
        }
    }
}

fn pseudo_random_ms(low: u64, high: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    low + nanos % (high - low)
}

#[test]
fn sigkill_while_committing_recovers() {
    let blocks = chain();
    let mut reference = Harness::new();
    let mut expected = Vec::new();
    for block in &blocks {
        let committed = reference.ledger.commit_block(block.clone()).unwrap();
        expected.push(commit_hash(&committed.block));
    }

    let dir = tempfile::tempdir().unwrap();
    write_blocks(&dir.path().join("chain"), &blocks);
    let exe = std::env::current_exe().unwrap();
    let mut heights = Vec::new();
    for _ in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "crash::crash_child",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(pseudo_random_ms(10, 150)));
        child.kill().unwrap();
        child.wait().unwrap();

        let stores = LedgerStores::open(&dir.path().join("ledger"), StoreOptions::default());
        let Ok(stores) = stores else { continue };
        let Ok(ledger) = ChannelLedger::open(&stores, CHANNEL, definitions()) else {
            // Killed before the genesis block was stored: nothing to recover yet.
            assert_eq!(stores.blocks.channel(CHANNEL).unwrap().height().unwrap(), 0);
            continue;
        };
        let height = ledger.height();
        for number in 1..height {
            let stored = ledger.blocks().block_by_number(number).unwrap().unwrap();
            assert_eq!(
                commit_hash(&stored),
                expected[number as usize - 1],
                "block {number}"
            );
        }
        if height > 1 {
            let counter = ledger.state().get("any", b"counter").unwrap().unwrap();
            assert_eq!(counter.value, format!("{}", height - 1).into_bytes());
        }
        heights.push(height);
    }
    // Finish the chain in this process and compare with the reference.
    let stores = LedgerStores::open(&dir.path().join("ledger"), StoreOptions::default()).unwrap();
    let mut ledger = ChannelLedger::create(&stores, net().genesis.clone(), definitions()).unwrap();
    for block in &blocks {
        if block.header.as_ref().unwrap().number >= ledger.height() {
            ledger.commit_block(block.clone()).unwrap();
        }
    }
    assert_eq!(ledger.height(), BLOCKS + 1);
    let last = ledger.blocks().block_by_number(BLOCKS).unwrap().unwrap();
    assert_eq!(commit_hash(&last), expected[BLOCKS as usize - 1]);
    assert_eq!(
        ledger.history_for_key("any", "counter", 1000).unwrap(),
        reference
            .ledger
            .history_for_key("any", "counter", 1000)
            .unwrap()
    );
    eprintln!("heights after each kill: {heights:?}");
}
