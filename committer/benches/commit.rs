//! Validate-and-commit throughput of one channel with 1 and 2 validation threads, printed next
//! to this machine's single-thread ECDSA P-256 verify rate (each transaction costs two
//! verifies: creator and one endorsement).
//!
//! `cargo bench -p weft-committer --bench commit` (`WEFT_BENCH_BLOCKS`, `WEFT_BENCH_TXS`
//! change the workload: default 40 blocks of 100 transactions).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)] // shared with the integration tests, which use all of it
#[path = "../tests/it/fixture.rs"]
mod fixture;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fabric_protos::common::Block;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use weft_committer::{ChannelLedger, LedgerStores, commit_stream};
use weft_ledger::StoreOptions;

use fixture::{Network, TestDefinitions, TxSpec, header_hash, signed_block};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ecdsa_verifies_per_second() -> f64 {
    let key = EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap();
    let digest = openssl::sha::sha256(b"weft commit bench");
    let signature = EcdsaSig::sign(&digest, &key).unwrap();
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..100 {
            assert!(signature.verify(&digest, &key).unwrap());
        }
        count += 100;
    }
    count as f64 / start.elapsed().as_secs_f64()
}

fn workload(net: &Network, blocks: usize, txs: usize) -> Vec<Block> {
    let user = net.user(1);
    let endorser = net.peer(1);
    let orderer = net.orderer();
    let mut previous = header_hash(&net.genesis);
    (1..=blocks as u64)
        .map(|number| {
            let envelopes = (0..txs)
                .map(|i| {
                    let key = format!("key-{number}-{i}");
                    TxSpec::new(&user, &[&endorser], "any", crate_writes(&key)).build()
                })
                .collect();
            let block = signed_block(number, &previous, envelopes, &orderer);
            previous = header_hash(&block);
            block
        })
        .collect()
}

fn crate_writes(key: &str) -> fabric_protos::kvrwset::KvrwSet {
    fabric_protos::kvrwset::KvrwSet {
        writes: vec![fabric_protos::kvrwset::KvWrite {
            key: key.into(),
            is_delete: false,
            value: vec![0x5a; 64],
        }],
        ..Default::default()
    }
}

fn run(net: &Network, blocks: &[Block], workers: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let stores = LedgerStores::open(dir.path(), StoreOptions::default()).unwrap();
    let definitions = Arc::new(TestDefinitions::default());
    let mut ledger = ChannelLedger::create(&stores, net.genesis.clone(), definitions).unwrap();
    ledger.set_workers(workers);
    let txs: usize = blocks
        .iter()
        .map(|b| b.data.as_ref().unwrap().data.len())
        .sum();
    let start = Instant::now();
    let mut valid = 0usize;
    commit_stream(&mut ledger, blocks.to_vec(), |c| {
        valid += c
            .txs
            .iter()
            .filter(|t| t.code == fabric_protos::protos::TxValidationCode::Valid)
            .count();
    })
    .unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(valid, txs, "every benchmark transaction must be valid");
    txs as f64 / elapsed
}

fn main() {
    let blocks = env_usize("WEFT_BENCH_BLOCKS", 40);
    let txs = env_usize("WEFT_BENCH_TXS", 100);
    let net = Network::shared();
    eprintln!("building {blocks} blocks of {txs} signed transactions...");
    let workload = workload(net, blocks, txs);
    let verify_rate = ecdsa_verifies_per_second();
    println!(
        "ECDSA P-256 verify, 1 thread: {verify_rate:.0} verifies/s (= {:.0} tx/s at 2 verifies per tx)",
        verify_rate / 2.0
    );
    // Machine-readable twin of each figure, parsed by scripts/bench (weft-bench components).
    println!("figure\tECDSA P-256 verify, 1 thread\t{verify_rate:.0}\tverifies/s");
    for workers in [1, 2] {
        let rate = run(net, &workload, workers);
        println!(
            "validate and commit, {workers} worker thread(s): {rate:.0} tx/s ({blocks} blocks x {txs} txs, fsync on)"
        );
        println!("figure\tvalidate and commit, {workers} worker thread(s)\t{rate:.0}\ttx/s");
    }
}
