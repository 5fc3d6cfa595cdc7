//! Appends and lookups across interleaved channels.

use fabric_protos::protos::TxValidationCode;
use prost::Message;
use weft_ledger::{LedgerError, testing};

use crate::{append_all, assert_chain, open};

#[test]
fn interleaved_channels_round_trip_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["alpha", "beta", "gamma"];
    let chains: Vec<_> = names
        .iter()
        .map(|ch| testing::chain(ch, 12, 3, 700))
        .collect();
    {
        let store = open(dir.path());
        let handles: Vec<_> = names.iter().map(|ch| store.channel(ch).unwrap()).collect();
        for number in 0..12 {
            for (handle, chain) in handles.iter().zip(&chains) {
                handle.append(&chain[number]).unwrap();
            }
        }
        for (name, chain) in names.iter().zip(&chains) {
            assert_chain(&store, name, chain);
        }
        assert_eq!(store.channels().unwrap(), names);
    }
    // Small segments: the blocks spread over several files.
    let segments = std::fs::read_dir(dir.path().join("segments"))
        .unwrap()
        .count();
    assert!(segments > 3, "expected several segments, got {segments}");
    let store = open(dir.path());
    for (name, chain) in names.iter().zip(&chains) {
        assert_chain(&store, name, chain);
    }
    // Appends continue after a reopen.
    let next = testing::block(
        "beta",
        12,
        &testing::header_hash(&chains[1][11]).unwrap(),
        &["late"],
        5,
    );
    store.channel("beta").unwrap().append(&next).unwrap();
    assert_eq!(store.channel("beta").unwrap().height().unwrap(), 13);
}

#[test]
fn lookups_by_txid_and_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut chain = testing::chain("ch", 3, 4, 10);
    // Validation codes as a peer writes them after validating block 2.
    testing::set_transactions_filter(&mut chain[2], &[0, 11, 0, 254]);
    append_all(&store, "ch", &chain);
    let ch = store.channel("ch").unwrap();

    let tx = ch.tx_by_id("ch-2-1").unwrap().unwrap();
    assert_eq!((tx.location.block_number, tx.location.tx_index), (2, 1));
    assert_eq!(
        tx.envelope.encode_to_vec(),
        chain[2].data.as_ref().unwrap().data[1]
    );
    assert_eq!(tx.validation(), Some(TxValidationCode::MvccReadConflict));
    assert_eq!(
        ch.tx_by_id("ch-2-3").unwrap().unwrap().validation(),
        Some(TxValidationCode::NotValidated)
    );
    // Block 1 carries an empty TRANSACTIONS_FILTER (as an orderer writes it): no code.
    assert_eq!(
        ch.tx_by_id("ch-1-0").unwrap().unwrap().validation_code,
        None
    );
    assert_eq!(
        ch.block_by_txid("ch-0-3").unwrap().as_ref(),
        Some(&chain[0])
    );
    assert!(ch.tx_by_id("ch-9-9").unwrap().is_none());
    // txids are per channel.
    assert!(
        store
            .channel("other")
            .unwrap()
            .tx_location("ch-0-0")
            .unwrap()
            .is_none()
    );

    let hash = testing::header_hash(&chain[1]).unwrap();
    assert_eq!(ch.block_by_hash(&hash).unwrap().as_ref(), Some(&chain[1]));
    assert!(ch.block_by_hash(&[0; 32]).unwrap().is_none());
    assert!(ch.block_by_hash(b"short").unwrap().is_none());
    // u64::MAX asks for the newest block, as in Fabric's block store.
    assert_eq!(
        ch.block_by_number(u64::MAX).unwrap().as_ref(),
        Some(&chain[2])
    );
    let info = ch.info().unwrap();
    assert_eq!(
        info.previous_block_hash,
        testing::header_hash(&chain[1]).unwrap().to_vec()
    );
}

#[test]
fn reused_txid_resolves_to_first_occurrence() {
    // Fabric's index answers a txid lookup with its earliest block (a later copy is a
    // DUPLICATE_TXID that never replaces the original).
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let b0 = testing::block("ch", 0, &[], &["dup"], 1);
    let b1 = testing::block(
        "ch",
        1,
        &testing::header_hash(&b0).unwrap(),
        &["other", "dup"],
        1,
    );
    append_all(&store, "ch", &[b0, b1]);
    let location = store
        .channel("ch")
        .unwrap()
        .tx_location("dup")
        .unwrap()
        .unwrap();
    assert_eq!((location.block_number, location.tx_index), (0, 0));
}

#[test]
fn blocks_that_do_not_fit_the_chain_are_refused_with_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = weft_ledger::BlockStore::open(
        dir.path(),
        weft_ledger::StoreOptions {
            block_size_max_bytes: 4096,
            ..crate::small_segments()
        },
    )
    .unwrap();
    let ch = store.channel("ch").unwrap();
    let chain = testing::chain("ch", 2, 1, 10);

    let err = ch.append(&chain[1]).unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::UnexpectedBlockNumber {
                expected: 0,
                got: 1,
                ..
            }
        ),
        "{err}"
    );
    ch.append(&chain[0]).unwrap();
    let err = ch.append(&chain[0]).unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::UnexpectedBlockNumber {
                expected: 1,
                got: 0,
                ..
            }
        ),
        "{err}"
    );

    let forked = testing::block("ch", 1, &[7; 32], &["x"], 10);
    assert!(matches!(
        ch.append(&forked),
        Err(LedgerError::PreviousHashMismatch { number: 1, .. })
    ));

    let mut tampered = chain[1].clone();
    tampered.data.as_mut().unwrap().data[0].push(0);
    assert!(matches!(
        ch.append(&tampered),
        Err(LedgerError::DataHashMismatch { .. })
    ));

    assert!(matches!(
        ch.append_bytes(vec![0xff; 16]),
        Err(LedgerError::MalformedBlock(_))
    ));
    let big = testing::block(
        "ch",
        1,
        &testing::header_hash(&chain[0]).unwrap(),
        &["big"],
        5000,
    );
    assert!(matches!(
        ch.append(&big),
        Err(LedgerError::BlockTooLarge { limit: 4096, .. })
    ));
    assert!(matches!(
        store.channel(""),
        Err(LedgerError::InvalidChannelId { .. })
    ));

    // None of the refusals left a trace; the right block still goes in.
    ch.append_bytes(chain[1].encode_to_vec()).unwrap();
    crate::assert_chain(&store, "ch", &chain);
}

#[test]
fn appended_bytes_are_stored_exactly() {
    // Bytes with a field prost would not re-emit (an unknown field 99) must come back unchanged.
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let block = testing::block("ch", 0, &[], &["t"], 3);
    let mut bytes = block.encode_to_vec();
    bytes.extend_from_slice(&[0x9a, 0x06, 0x01, 0x42]);
    let ch = store.channel("ch").unwrap();
    ch.append_bytes(bytes.clone()).unwrap();
    assert_eq!(ch.block_bytes_by_number(0).unwrap(), Some(bytes));
}

#[test]
fn concurrent_appenders_share_commits_and_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let chains: Vec<_> = (0..8)
        .map(|i| testing::chain(&format!("c{i}"), 20, 2, 50))
        .collect();
    std::thread::scope(|scope| {
        for (i, chain) in chains.iter().enumerate() {
            let store = store.clone();
            scope.spawn(move || append_all(&store, &format!("c{i}"), chain));
        }
    });
    for (i, chain) in chains.iter().enumerate() {
        assert_chain(&store, &format!("c{i}"), chain);
    }
    let stats = store.stats();
    assert_eq!(stats.blocks, 160);
    assert!(
        stats.fsyncs >= 1 && stats.fsyncs <= stats.blocks + 20,
        "{stats:?}"
    );
}

#[test]
fn removed_channel_is_forgotten_and_can_start_again() {
    let dir = tempfile::tempdir().unwrap();
    let first = testing::chain("ch", 3, 1, 10);
    let second = testing::chain("ch", 2, 2, 20);
    {
        let store = open(dir.path());
        append_all(&store, "ch", &first);
        append_all(&store, "keep", &testing::chain("keep", 1, 1, 1));
        store.remove_channel("ch").unwrap();
        assert_eq!(store.channels().unwrap(), ["keep"]);
        assert_eq!(store.channel("ch").unwrap().height().unwrap(), 0);
        assert!(
            store
                .channel("ch")
                .unwrap()
                .tx_location("ch-0-0")
                .unwrap()
                .is_none()
        );
        append_all(&store, "ch", &second);
        assert_chain(&store, "ch", &second);
    }
    // The removal is in the segments, so an index rebuilt from scratch agrees.
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let store = open(dir.path());
    assert_chain(&store, "ch", &second);
    assert!(
        store
            .channel("ch")
            .unwrap()
            .tx_location("ch-2-0")
            .unwrap()
            .is_none()
    );
    assert_eq!(store.channels().unwrap(), ["ch", "keep"]);
}

#[tokio::test]
async fn waiters_wake_on_append_without_polling() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let ch = store.channel("ch").unwrap();
    let chain = testing::chain("ch", 2, 1, 1);
    ch.append(&chain[0]).unwrap();
    // Block 0 exists: no wait.
    assert_eq!(ch.wait_for_block(0).await.unwrap(), 1);
    let mut watch = ch.subscribe().unwrap();
    assert_eq!(watch.height(), 1);
    assert_eq!(store.watched_channels(), 1);
    let waiter = tokio::spawn(async move { watch.wait_for_block(1).await });
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    let appender = ch.clone();
    let block = chain[1].clone();
    tokio::task::spawn_blocking(move || appender.append(&block))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(waiter.await.unwrap().unwrap(), 2);
    // The watcher goes away with its last subscriber, at the next notification.
    let next = testing::block("ch", 2, &testing::header_hash(&chain[1]).unwrap(), &[], 0);
    ch.append(&next).unwrap();
    assert_eq!(store.watched_channels(), 0);
}
