//! Endorsement throughput of the endorser alone: a Rust chaincode doing one read and one write
//! on in-memory state, signature checks and ECDSA endorsement included. Prints figures; run
//! with `cargo bench -p weft-endorser`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/it/fakes.rs"]
#[allow(dead_code)]
mod fakes;

use std::time::Instant;

use fakes::{Node, ProposalSpec, build};
use weft_ledger::kv::Height;

const PROPOSALS: usize = 2000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let node = Node::new();
    node.channel.put("mycc", "a", b"value", Height::new(2, 0));
    // Proposals are built (and client-signed) up front so only the endorser is timed.
    let proposals: Vec<_> = (0..PROPOSALS)
        .map(|i| {
            let mut spec = ProposalSpec::invoke("mycc", &["get:a", "put:b=1"]);
            spec.nonce = format!("nonce-{i:020}").into_bytes();
            build(&spec, &node.client).signed
        })
        .collect();
    runtime.block_on(async {
        let started = Instant::now();
        for signed in proposals {
            let response = node.endorser.process(signed).await.unwrap();
            assert!(response.endorsement.is_some());
        }
        let elapsed = started.elapsed();
        println!(
            "endorse (1 read, 1 write, verify + sign): {PROPOSALS} proposals sequentially, {:.1} µs each",
            elapsed.as_secs_f64() * 1e6 / PROPOSALS as f64
        );
    });
}
