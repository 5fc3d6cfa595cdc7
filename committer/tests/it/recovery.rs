//! Crash recovery: state and history behind the block store are rebuilt from the stored blocks
//! (Fabric's kvledger recoverDBs), reopening is idempotent, and the commit hash chain continues
//! as if nothing happened.

use fabric_protos::common::{Block, BlockMetadataIndex};
use weft_committer::{ChannelLedger, LedgerStores};
use weft_ledger::StoreOptions;
use weft_ledger::kv::{LevelDbHistoryDb, VersionedStore};

use crate::fixture::{CHANNEL, TxSpec};
use crate::{Harness, definitions, net, org, read, writes};

fn workload(h: &mut Harness, blocks: usize) -> Vec<Block> {
    let user = net().user(1);
    let mut out = Vec::new();
    for n in 0..blocks {
        let mut kv = writes(&[("shared", &format!("v{n}")), (&format!("own{n}"), "x")]);
        if n > 0 {
            kv.reads = vec![read("shared", Some((n as u64, 0)))];
        }
        let stale = {
            let mut kv = writes(&[("shared", "stale")]);
            kv.reads = vec![read("shared", None)];
            kv
        };
        let envelopes = vec![
            TxSpec::new(&user, &[&org(1)], "any", kv).build(),
            TxSpec::new(&user, &[&org(2)], "any", stale).build(),
        ];
        out.push((*h.commit(envelopes).block).clone());
    }
    out
}

fn commit_hash_of(block: &Block) -> Vec<u8> {
    block.metadata.as_ref().unwrap().metadata[BlockMetadataIndex::CommitHash as usize].clone()
}

#[test]
fn reopen_continues_the_chain() {
    let mut reference = Harness::new();
    let reference_blocks = workload(&mut reference, 4);

    let mut h = Harness::new();
    workload(&mut h, 3);
    let dir = h.dir;
    drop(h.ledger);
    drop(h.stores);
    let stores = LedgerStores::open(dir.path(), StoreOptions::default()).unwrap();
    let ledger = ChannelLedger::open(&stores, CHANNEL, definitions()).unwrap();
    assert_eq!(ledger.height(), 4);
    let mut h = Harness {
        dir,
        stores,
        ledger,
    };
    let fourth = workload_block(&mut h, 3);
    assert_eq!(
        commit_hash_of(&fourth),
        commit_hash_of(&reference_blocks[3])
    );
}

fn workload_block(h: &mut Harness, n: usize) -> Block {
    let user = net().user(1);
    let mut kv = writes(&[("shared", &format!("v{n}")), (&format!("own{n}"), "x")]);
    kv.reads = vec![read("shared", Some((n as u64, 0)))];
    let stale = {
        let mut kv = writes(&[("shared", "stale")]);
        kv.reads = vec![read("shared", None)];
        kv
    };
    let envelopes = vec![
        TxSpec::new(&user, &[&org(1)], "any", kv).build(),
        TxSpec::new(&user, &[&org(2)], "any", stale).build(),
    ];
    (*h.commit(envelopes).block).clone()
}

// A crash after the block store append but before state and history were written: the blocks
// are there, the databases are not. Opening replays them, twice changes nothing.
#[test]
fn state_and_history_are_replayed_from_blocks() {
    let mut reference = Harness::new();
    let committed = workload(&mut reference, 3);

    let crashed = Harness::new();
    let dir = crashed.dir;
    drop(crashed.ledger);
    let channel = crashed.stores.blocks.channel(CHANNEL).unwrap();
    for block in &committed {
        channel.append(block).unwrap();
    }
    drop(channel);
    drop(crashed.stores);

    for _ in 0..2 {
        let stores = LedgerStores::open(dir.path(), StoreOptions::default()).unwrap();
        let ledger = ChannelLedger::open(&stores, CHANNEL, definitions()).unwrap();
        assert_eq!(ledger.height(), 4);
        for key in ["shared", "own0", "own1", "own2"] {
            assert_eq!(
                ledger.state().get("any", key.as_bytes()).unwrap(),
                reference.ledger.state().get("any", key.as_bytes()).unwrap(),
                "{key}"
            );
        }
        let history = ledger.history_for_key("any", "shared", 100).unwrap();
        assert_eq!(history.len(), 3);
        assert_eq!(
            history,
            reference
                .ledger
                .history_for_key("any", "shared", 100)
                .unwrap()
        );
    }

    // History lost on its own (its database replaced): rebuilt while state stays.
    let stores = LedgerStores::open(dir.path(), StoreOptions::default()).unwrap();
    let stores = LedgerStores {
        history: LevelDbHistoryDb::open(&dir.path().join("history-new")).unwrap(),
        ..stores
    };
    let ledger = ChannelLedger::open(&stores, CHANNEL, definitions()).unwrap();
    assert_eq!(ledger.history_for_key("any", "own1", 10).unwrap().len(), 1);
    let mut h = Harness {
        dir,
        stores,
        ledger,
    };
    let next = workload_block(&mut h, 3);
    let reference_next = workload_block(&mut reference, 3);
    assert_eq!(commit_hash_of(&next), commit_hash_of(&reference_next));
}

#[test]
fn joining_twice_with_the_same_genesis_opens_the_channel() {
    let h = Harness::new();
    drop(h.ledger);
    let again = ChannelLedger::create(&h.stores, net().genesis.clone(), definitions()).unwrap();
    assert_eq!(again.height(), 1);
    drop(again);
    let mut other = net().genesis.clone();
    other.header.as_mut().unwrap().previous_hash = vec![1; 32];
    assert!(ChannelLedger::create(&h.stores, other, definitions()).is_err());
    assert!(ChannelLedger::open(&h.stores, "unknown", definitions()).is_err());
}

// The pipelined commit gives the same blocks as committing one by one, across a config
// block, and stops at a forged block after committing the ones before it.
#[test]
fn pipelined_commit_matches_sequential_commit() {
    use fabric_protos::orderer::BatchSize;
    use prost::Message;

    let user = net().user(1);
    let mut sequential = Harness::new();
    let mut pipelined = Harness::new();
    let mut blocks = Vec::new();
    let mut previous = crate::fixture::header_hash(
        &sequential
            .ledger
            .blocks()
            .block_by_number(0)
            .unwrap()
            .unwrap(),
    );
    for n in 1..=5u64 {
        let envelopes = if n == 3 {
            let bundle = sequential.ledger.bundle().clone();
            let mut config = bundle.config().clone();
            let orderer = config
                .channel_group
                .as_mut()
                .unwrap()
                .groups
                .get_mut("Orderer")
                .unwrap();
            let value = orderer.values.get_mut("BatchSize").unwrap();
            let mut batch = BatchSize::decode(value.value.as_slice()).unwrap();
            batch.max_message_count = 5;
            value.value = batch.encode_to_vec();
            vec![crate::fixture::config_envelope(&bundle, &config, net())]
        } else {
            let mut kv = writes(&[("k", &format!("v{n}"))]);
            kv.reads = vec![read(
                "k",
                (n > 1).then(|| (if n == 4 { 2 } else { n - 1 }, 0)),
            )];
            vec![TxSpec::new(&user, &[&org(1)], "any", kv).build()]
        };
        let block = crate::fixture::signed_block(n, &previous, envelopes, &net().orderer());
        previous = crate::fixture::header_hash(&block);
        sequential.ledger.commit_block(block.clone()).unwrap();
        blocks.push(block);
    }
    let mut seen = Vec::new();
    let committed = weft_committer::commit_stream(&mut pipelined.ledger, blocks.clone(), |c| {
        seen.push(c.number)
    })
    .unwrap();
    assert_eq!(committed, 5);
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    for n in 1..=5 {
        let a = sequential
            .ledger
            .blocks()
            .block_by_number(n)
            .unwrap()
            .unwrap();
        let b = pipelined
            .ledger
            .blocks()
            .block_by_number(n)
            .unwrap()
            .unwrap();
        assert_eq!(a.metadata, b.metadata, "block {n}");
    }
    assert_eq!(
        pipelined.ledger.bundle().sequence(),
        sequential.ledger.bundle().sequence()
    );

    // A stream whose second block is forged commits the first and stops.
    let mut fresh = Harness::new();
    let mut forged = blocks[1].clone();
    forged.header.as_mut().unwrap().previous_hash = vec![0; 32];
    let result =
        weft_committer::commit_stream(&mut fresh.ledger, vec![blocks[0].clone(), forged], |_| {});
    assert!(result.is_err());
    assert_eq!(fresh.ledger.height(), 2);
}

// A crash right after a config block was stored: reopening replays it and the channel runs
// under the new config.
#[test]
fn replayed_config_block_restores_the_config() {
    use fabric_protos::orderer::BatchSize;
    use prost::Message;

    let mut reference = Harness::new();
    let bundle = reference.ledger.bundle().clone();
    let mut config = bundle.config().clone();
    let orderer = config
        .channel_group
        .as_mut()
        .unwrap()
        .groups
        .get_mut("Orderer")
        .unwrap();
    let value = orderer.values.get_mut("BatchSize").unwrap();
    let mut batch = BatchSize::decode(value.value.as_slice()).unwrap();
    batch.max_message_count = 7;
    value.value = batch.encode_to_vec();
    let config_block = (*reference
        .commit(vec![crate::fixture::config_envelope(
            &bundle,
            &config,
            net(),
        )])
        .block)
        .clone();

    let crashed = Harness::new();
    let dir = crashed.dir;
    drop(crashed.ledger);
    crashed
        .stores
        .blocks
        .channel(CHANNEL)
        .unwrap()
        .append(&config_block)
        .unwrap();
    drop(crashed.stores);
    let stores = LedgerStores::open(dir.path(), StoreOptions::default()).unwrap();
    let ledger = ChannelLedger::open(&stores, CHANNEL, definitions()).unwrap();
    assert_eq!(ledger.bundle().sequence(), bundle.sequence() + 1);
    assert_eq!(
        ledger
            .bundle()
            .orderer()
            .unwrap()
            .batch_size
            .max_message_count,
        7
    );
}
