//! What thousands of channels cost: no threads or files per channel, index size and RSS
//! reported (not asserted: they vary by machine).

use std::io::Read;
use std::path::Path;

use weft_ledger::{BlockStore, StoreOptions, testing};

use crate::child;

const CHANNELS: usize = 10_000;
const APPENDERS: usize = 16;

fn count_entries(path: &str) -> usize {
    std::fs::read_dir(path).unwrap().count()
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

#[test]
#[ignore = "started by ten_thousand_channels_need_no_threads_or_files_each"]
fn footprint_child() {
    let Some(dir) = child::child_dir() else {
        return;
    };
    let store = BlockStore::open(&dir, StoreOptions::default()).unwrap();
    let threads_before = count_entries("/proc/self/task");
    let files_before = count_entries("/proc/self/fd");
    let rss_before = rss_bytes();

    let appenders: Vec<_> = (0..APPENDERS)
        .map(|appender| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in (appender..CHANNELS).step_by(APPENDERS) {
                    let name = format!("channel-{i:05}");
                    let genesis = testing::block(&name, 0, &[], &[&format!("{name}-genesis")], 200);
                    store.channel(&name).unwrap().append(&genesis).unwrap();
                }
            })
        })
        .collect();
    // Joined one by one: a joined thread has left /proc/self/task.
    for appender in appenders {
        appender.join().unwrap();
    }

    let threads_after = count_entries("/proc/self/task");
    let files_after = count_entries("/proc/self/fd");
    let rss_after = rss_bytes();
    let channels = store.channels().unwrap();
    assert_eq!(channels.len(), CHANNELS);
    let sample = store.channel("channel-04242").unwrap();
    assert_eq!(sample.info().unwrap().height, 1);
    assert!(
        sample
            .tx_location("channel-04242-genesis")
            .unwrap()
            .is_some()
    );
    assert_eq!(threads_after, threads_before, "no thread per channel");
    assert!(
        files_after < files_before + 64,
        "no file per channel: {files_before} -> {files_after}"
    );
    assert_eq!(store.watched_channels(), 0);
    drop(sample);
    drop(store);

    let index = dir_bytes(&dir.join("index"));
    let segments = dir_bytes(&dir.join("segments"));
    let rss_delta = rss_after.saturating_sub(rss_before);
    println!("footprint: {CHANNELS} channels with one block each");
    println!(
        "footprint: index {index} bytes ({} per channel)",
        index / CHANNELS as u64
    );
    println!(
        "footprint: segments {segments} bytes ({} per channel)",
        segments / CHANNELS as u64
    );
    println!(
        "footprint: RSS grew {rss_delta} bytes ({} per channel, includes allocator and leveldb caches)",
        rss_delta / CHANNELS as u64
    );
    println!(
        "footprint: threads {threads_before} -> {threads_after}, open files {files_before} -> {files_after}"
    );
}

#[test]
fn ten_thousand_channels_need_no_threads_or_files_each() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = child::spawn("footprint::footprint_child", dir.path());
    let mut output = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    let status = child.wait().unwrap();
    for line in output.lines().filter(|l| l.starts_with("footprint:")) {
        println!("{line}");
    }
    assert!(status.success(), "child failed:\n{output}");
    assert!(
        output.contains("footprint: index"),
        "child did not run:\n{output}"
    );
    // Reopening reads no block and finds every channel.
    let store = BlockStore::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(store.channels().unwrap().len(), CHANNELS);
}
