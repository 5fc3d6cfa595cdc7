//! The CRUD WASM contract endorsed end to end inside the peer: a client-signed proposal goes
//! through `Endorser::process` (proposal checks, Writers ACL, simulation, read-write set,
//! response signing) into the real `crud` module run by weft-chaincode-runtime's engine, over
//! in-memory state. Also measures what each further channel using the same loaded module costs.
//! Run with `cargo bench -p weft-endorser --bench crud` (builds the contract with
//! scripts/build-chaincode, which needs Debian's rustc, cargo, libstd-rust-dev-wasm32, lld-14).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/it/fakes.rs"]
#[allow(dead_code)]
mod fakes;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use fabric_protos::protos::SignedProposal;
use fakes::{FakeChannel, Node, ProposalSpec, build};
use weft_chaincode_api::Chaincode;
use weft_chaincode_runtime::{Engine, Limits};
use weft_endorser::Endorser;
use weft_ledger::kv::Height;
use weft_msp::Identity;

/// Endorsements timed per function (Create, Read).
const PROPOSALS: usize = 1000;
/// Extra channels that invoke the one loaded module in the memory measurement.
const CHANNELS: usize = 1000;
const CHAINCODE: &str = "crud";

/// Builds the crud package the way the peer installs it; stops with the script's own reason
/// (usually a missing Debian toolchain package) when it cannot.
fn crud_package() -> (String, Vec<u8>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out: PathBuf = std::env::var_os("WEFT_CHAINCODE_OUT")
        .map_or_else(|| root.join("target/chaincode"), PathBuf::from);
    let built = Command::new(root.join("scripts/build-chaincode"))
        .arg(CHAINCODE)
        .env("WEFT_CHAINCODE_OUT", &out)
        .output()
        .expect("run scripts/build-chaincode");
    if !built.status.success() {
        eprintln!(
            "crud bench: scripts/build-chaincode crud failed; it needs Debian's toolchain \
             (apt-get install rustc cargo libstd-rust-dev-wasm32 lld-14). Its output:\n{}",
            String::from_utf8_lossy(&built.stderr)
        );
        std::process::exit(1);
    }
    let id = std::fs::read_to_string(out.join("crud.package-id")).unwrap();
    let package = std::fs::read(out.join("crud.tar.gz")).unwrap();
    (id.trim().to_owned(), package)
}

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn record(i: usize) -> String {
    format!(r#"{{"owner":"org1","amount":{i},"tags":["a","b"]}}"#)
}

/// Client-signed proposals, built up front so only the endorser is timed.
fn proposals(
    node: &Node,
    channel: &str,
    count: usize,
    args: impl Fn(usize) -> Vec<String>,
) -> Vec<SignedProposal> {
    (0..count)
        .map(|i| {
            let args = args(i);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut spec = ProposalSpec::invoke(CHAINCODE, &args);
            spec.channel = channel.to_owned();
            spec.nonce = format!("{channel}-nonce-{i:020}").into_bytes();
            build(&spec, &node.client).signed
        })
        .collect()
}

/// Endorses every proposal in turn and answers µs per endorsement.
async fn endorse_all(endorser: &Endorser, proposals: Vec<SignedProposal>) -> f64 {
    let count = proposals.len();
    let started = Instant::now();
    for signed in proposals {
        let response = endorser.process(signed).await.unwrap();
        let status = response.response.as_ref().map_or(0, |r| r.status);
        assert_eq!(status, 200, "{:?}", response.response);
        assert!(response.endorsement.is_some());
    }
    started.elapsed().as_secs_f64() * 1e6 / count as f64
}

/// A further channel of the node, with the crud definition committed and the client a writer.
fn add_channel(node: &Node, id: &str) -> Arc<FakeChannel> {
    let channel = FakeChannel::new(Arc::clone(&node.channel.identities));
    channel
        .writers
        .lock()
        .unwrap()
        .insert(node.client.serialize());
    channel.define(CHAINCODE, "1.0", Height::new(1, 0));
    node.channels
        .0
        .lock()
        .unwrap()
        .insert(id.to_owned(), Arc::clone(&channel));
    channel
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (package_id, package) = crud_package();
    let node = Node::new();

    // The module's own resident cost, paid once per peer however many channels use it. A first
    // copy under another id pays the compiler's one-time setup, so the measured load does not.
    let engine = Engine::new(Limits::default()).unwrap();
    engine.load_package("crud-warm-up", &package).unwrap();
    let before_load = rss_bytes();
    let crud = engine.load_package(&package_id, &package).unwrap();
    let module_kib = rss_bytes().saturating_sub(before_load) / 1024;
    node.registry
        .0
        .lock()
        .unwrap()
        .insert(CHAINCODE.into(), Arc::clone(&crud) as Arc<dyn Chaincode>);
    node.channel.define(CHAINCODE, "1.0", Height::new(1, 0));
    // Records the Read proposals find, committed at block 2.
    for i in 0..PROPOSALS {
        node.channel.put(
            CHAINCODE,
            &format!("stored{i:06}"),
            record(i).as_bytes(),
            Height::new(2, i as u64),
        );
    }
    let channel = fakes::CHANNEL;
    // Warm up: the first invocations set up the instance pool and the endorser's paths.
    let warm = proposals(&node, channel, 20, |i| {
        vec!["Read".into(), format!("stored{i:06}")]
    });
    runtime.block_on(endorse_all(&node.endorser, warm));

    // Per-channel cost of the one loaded module: CHANNELS more channels each get the crud
    // definition (the fake channel's own bookkeeping), then each endorses one Create through the
    // same Arc<WasmChaincode>. The second delta is what using the shared module adds per channel.
    // Proposals are built first so their bytes are not counted.
    let ids: Vec<String> = (0..CHANNELS).map(|i| format!("channel{i:05}")).collect();
    let invokes: Vec<SignedProposal> = ids
        .iter()
        .map(|id| {
            let mut spec = ProposalSpec::invoke(CHAINCODE, &["Create", "record", &record(0)]);
            spec.channel = id.clone();
            spec.nonce = format!("{id}-first").into_bytes();
            build(&spec, &node.client).signed
        })
        .collect();
    let before_channels = rss_bytes();
    for id in &ids {
        add_channel(&node, id);
    }
    let after_channels = rss_bytes();
    runtime.block_on(endorse_all(&node.endorser, invokes));
    let after_invokes = rss_bytes();
    assert!(
        Arc::ptr_eq(&engine.get(&package_id).unwrap(), &crud),
        "every channel shares one module"
    );
    let channel_bytes = after_channels.saturating_sub(before_channels) / CHANNELS;
    let use_bytes = after_invokes.saturating_sub(after_channels) / CHANNELS;
    println!(
        "loaded crud module: {module_kib} KiB resident once ({} KiB compiled code); \
         {CHANNELS} more channels using it: {channel_bytes} B each for the fake channel and its \
         definition, {use_bytes} B each for invoking the shared module",
        crud.compiled_bytes() / 1024,
    );

    let creates = proposals(&node, channel, PROPOSALS, |i| {
        vec!["Create".into(), format!("record{i:06}"), record(i)]
    });
    let reads = proposals(&node, channel, PROPOSALS, |i| {
        vec!["Read".into(), format!("stored{i:06}")]
    });
    let (create_us, read_us) = runtime.block_on(async {
        let create_us = endorse_all(&node.endorser, creates).await;
        (create_us, endorse_all(&node.endorser, reads).await)
    });
    println!(
        "CRUD Create endorsement (signed proposal -> Endorser::process -> crud WASM -> signed \
         response): {PROPOSALS} sequentially, {create_us:.1} µs each"
    );
    println!("CRUD Read endorsement: {PROPOSALS} sequentially, {read_us:.1} µs each");
    // Machine-readable twins (`figure` lines), parsed by scripts/bench.
    println!(
        "figure\tCRUD Create endorsement (WASM, end to end in the endorser)\t{create_us:.1}\tµs"
    );
    println!("figure\tCRUD Read endorsement (WASM, end to end in the endorser)\t{read_us:.1}\tµs");
    println!("figure\tloaded crud module, resident once per peer\t{module_kib}\tKiB");
    println!(
        "figure\tRSS growth per extra channel invoking the shared crud module\t{use_bytes}\tB"
    );
}
