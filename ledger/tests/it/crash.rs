//! Kill -9 at random points: every append that returned must survive, intact.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::sync::mpsc;
use std::time::Duration;

use weft_ledger::{BlockStore, StoreOptions, testing};

use crate::child::{self, Rng};

const CHANNELS: [&str; 3] = ["red", "green", "blue"];
const KILLS: usize = 24;
/// The child stops on its own after this many blocks per channel, so it cannot run forever.
const CHILD_BLOCKS_MAX: u64 = 5_000;

fn options() -> StoreOptions {
    StoreOptions {
        segment_size_max_bytes: 64 * 1024,
        ..StoreOptions::default()
    }
}

/// Block contents depend only on channel, number and predecessor, so the parent can tell an
/// intact block from a damaged one by its hashes.
fn next_block(channel: &str, number: u64, previous: &[u8]) -> fabric_protos::common::Block {
    let txid = format!("{channel}-{number}");
    let txids = [txid.as_str(), ""];
    testing::block(
        channel,
        number,
        previous,
        &txids,
        (number as usize * 97) % 3000,
    )
}

/// Child: appends to every channel from one thread per channel, printing
/// `ack <channel> <number> <header hash hex>` after each append returns.
#[test]
#[ignore = "started by kill_nine_loses_no_acknowledged_block"]
fn crash_child_appender() {
    let Some(dir) = child::child_dir() else {
        return;
    };
    let store = BlockStore::open(&dir, options()).unwrap();
    std::thread::scope(|scope| {
        for channel in CHANNELS {
            let store = store.clone();
            scope.spawn(move || {
                let handle = store.channel(channel).unwrap();
                let info = handle.info().unwrap();
                let mut previous = info.current_block_hash;
                for number in info.height..info.height + CHILD_BLOCKS_MAX {
                    let block = next_block(channel, number, &previous);
                    handle.append(&block).unwrap();
                    let hash = testing::header_hash(&block).unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ack {channel} {number} {}", hex(&hash)).unwrap();
                    out.flush().unwrap();
                    previous = hash.to_vec();
                }
            });
        }
    });
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn kill_nine_loses_no_acknowledged_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::from_time();
    let mut acked: HashMap<(String, u64), String> = HashMap::new();
    let mut total_acks = 0;
    let (mut torn_tails, mut reindexed) = (0, 0);
    for round in 0..KILLS {
        let mut child = child::spawn("crash::crash_child_appender", dir.path());
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        // Kill after a random number of acknowledgements (sometimes none: mid-open), plus a
        // random sub-millisecond delay so the kill lands anywhere in an append.
        let wait_for = rng.below(40);
        let mut seen = 0;
        let mut pending = Vec::new();
        while seen < wait_for {
            match received.recv_timeout(Duration::from_secs(20)) {
                Ok(line) => {
                    seen += u64::from(line.starts_with("ack "));
                    pending.push(line);
                }
                Err(_) => break,
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(800)));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        pending.extend(received.try_iter());
        for line in pending {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if let ["ack", channel, number, hash] = parts[..] {
                acked.insert(
                    (channel.to_owned(), number.parse().unwrap()),
                    hash.to_owned(),
                );
                total_acks += 1;
            }
        }
        let stats = verify(dir.path(), &acked, round);
        torn_tails += u64::from(stats.truncated_bytes > 0);
        reindexed += stats.reindexed_records;
    }
    println!("{KILLS} kills, {total_acks} acknowledged appends, all present after every restart");
    println!(
        "restarts that cut a torn tail: {torn_tails}; records re-indexed on open: {reindexed}"
    );
    assert!(total_acks > 0);
}

/// Reopens the store and checks every acknowledged block and the chain linking all blocks.
fn verify(
    dir: &std::path::Path,
    acked: &HashMap<(String, u64), String>,
    round: usize,
) -> weft_ledger::StoreStats {
    let store = BlockStore::open(dir, options()).unwrap();
    let stats = store.stats();
    for channel in CHANNELS {
        let handle = store.channel(channel).unwrap();
        let height = handle.height().unwrap();
        let mut previous = Vec::new();
        for number in 0..height {
            let block = handle.block_by_number(number).unwrap().unwrap();
            assert_eq!(
                block,
                next_block(channel, number, &previous),
                "round {round}: {channel} block {number} intact"
            );
            let hash = hex(&testing::header_hash(&block).unwrap());
            if let Some(expected) = acked.get(&(channel.to_owned(), number)) {
                assert_eq!(&hash, expected, "round {round}: {channel} block {number}");
            }
            previous = testing::header_hash(&block).unwrap().to_vec();
        }
        let highest_acked = acked
            .keys()
            .filter(|(c, _)| c == channel)
            .map(|(_, n)| n + 1)
            .max();
        assert!(
            height >= highest_acked.unwrap_or(0),
            "round {round}: {channel} lost acknowledged blocks"
        );
    }
    stats
}
