//! Append throughput of the block store, printed as figures (not a test).
//!
//! `weft-ledger-bench [--blocks N] [--block-kib K] [--no-fsync] [--dir PATH]`
//!
//! Runs: one channel with one appender (every append waits for its own fsync), then many
//! channels with concurrent appenders (appends share fsyncs through group commit).

use std::path::{Path, PathBuf};
use std::time::Instant;

use weft_ledger::{BlockStore, StoreOptions, testing};

struct Args {
    blocks: u64,
    block_kib: usize,
    fsync: bool,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        blocks: 2000,
        block_kib: 32,
        fsync: true,
        dir: std::env::temp_dir().join(format!("weft-ledger-bench-{}", std::process::id())),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--blocks" => args.blocks = value()?.parse().map_err(|e| format!("--blocks: {e}"))?,
            "--block-kib" => {
                args.block_kib = value()?.parse().map_err(|e| format!("--block-kib: {e}"))?
            }
            "--dir" => args.dir = PathBuf::from(value()?),
            "--no-fsync" => args.fsync = false,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// Pre-built chains so block construction stays out of the measurement.
fn chains(
    channels: usize,
    blocks_each: u64,
    block_kib: usize,
) -> Vec<(String, Vec<fabric_protos::common::Block>)> {
    const TXS_PER_BLOCK: usize = 10;
    let payload = block_kib * 1024 / TXS_PER_BLOCK;
    (0..channels)
        .map(|i| {
            let name = format!("bench-{i:05}");
            let chain = testing::chain(&name, blocks_each, TXS_PER_BLOCK, payload);
            (name, chain)
        })
        .collect()
}

fn run(args: &Args, label: &str, channels: usize, appenders: usize) -> Result<(), String> {
    let dir = args.dir.join(label);
    let blocks_each = (args.blocks / channels as u64).max(1);
    let chains = chains(channels, blocks_each, args.block_kib);
    let options = StoreOptions {
        fsync: args.fsync,
        ..StoreOptions::default()
    };
    let store = BlockStore::open(&dir, options).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let outcome: Result<(), String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..appenders)
            .map(|worker| {
                let store = store.clone();
                let chains = &chains;
                scope.spawn(move || -> Result<(), String> {
                    // Each worker owns every `appenders`-th channel and interleaves them.
                    let mine: Vec<_> = chains.iter().skip(worker).step_by(appenders).collect();
                    for number in 0..blocks_each as usize {
                        for (name, chain) in &mine {
                            let channel = store.channel(name).map_err(|e| e.to_string())?;
                            channel.append(&chain[number]).map_err(|e| e.to_string())?;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().map_err(|_| "appender panicked".to_string())?)
    });
    outcome?;
    let elapsed = started.elapsed().as_secs_f64();
    let stats = store.stats();
    drop(store);
    let per_fsync = if stats.fsyncs == 0 {
        "no fsync".to_owned()
    } else {
        format!(
            "{:.1} blocks per fsync",
            stats.blocks as f64 / stats.fsyncs as f64
        )
    };
    println!(
        "{label:<28} {channels:>5} channels {appenders:>3} appenders  {:>9.0} blocks/s  {:>8.1} MB/s  {per_fsync}",
        stats.blocks as f64 / elapsed,
        stats.bytes as f64 / elapsed / 1e6,
    );
    // Machine-readable twin of the figure, parsed by scripts/bench (weft-bench components).
    println!(
        "figure\tblock appends, {label}\t{:.0}\tblocks/s",
        stats.blocks as f64 / elapsed
    );
    remove(&dir);
    Ok(())
}

fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("weft-ledger-bench: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "appending {} blocks of ~{} KiB (10 txs each), fsync {}, in {}",
        args.blocks,
        args.block_kib,
        if args.fsync { "on" } else { "off" },
        args.dir.display()
    );
    let runs = [
        ("one-channel-serial", 1, 1),
        ("16-channels-16-appenders", 16, 16),
        ("1000-channels-16-appenders", 1000, 16),
    ];
    for (label, channels, appenders) in runs {
        if let Err(e) = run(&args, label, channels, appenders) {
            eprintln!("weft-ledger-bench: {label}: {e}");
            remove(&args.dir);
            std::process::exit(1);
        }
    }
    remove(&args.dir);
}
