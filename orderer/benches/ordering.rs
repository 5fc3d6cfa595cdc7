//! Ordering throughput and latency of Weft `orderer` processes, on a channel made by upstream
//! 2.5.9 `cryptogen`/`configtxgen` through the interop harness (one and three Raft nodes).
//!
//! Load: `STREAMS` concurrent Broadcast streams send `ENVELOPES` signed
//! ENDORSER_TRANSACTION envelopes in total; one Deliver stream from block 1 timestamps every
//! block. Latency is Broadcast send (the moment the gRPC encoder takes the envelope) to the
//! arrival of the block that holds it. Every envelope is offered at once (open loop), so the
//! latency is that of a saturated orderer, queueing included. Every run is bounded by
//! `RUN_DEADLINE`. The client's CPU time (signing excluded: envelopes are signed up front)
//! is printed next to the orderers' so a reader can see which side is the bottleneck.
//!
//! Run: `cargo bench -p weft-orderer --bench ordering` (release build). `WEFT_BENCH_NODES`
//! picks the cluster sizes, e.g. `WEFT_BENCH_NODES=1` (default `1,3`). Add `--profile dev`
//! to reuse the debug `orderer` the tests build (slower, but no release build of the tree).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use fabric_protos::common::{
    ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader, Status,
};
use fabric_protos::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use fabric_protos::orderer::deliver_response::Type as DeliverType;
use fabric_protos::orderer::seek_info::SeekBehavior;
use fabric_protos::orderer::seek_position::Type as Position;
use fabric_protos::orderer::{SeekInfo, SeekPosition, SeekSpecified};
use futures::StreamExt;
use prost::Message;
use tonic::transport::Channel;
use weft_comm::{ClientConfig, ClientTlsConfig};
use weft_interop_tests::{
    Network, NodeCommand, OrdererNode, REFERENCE_VERSION, TlsFiles, Topology, UpstreamToolchain,
};
use weft_msp::{SigningIdentity, X509Msp};

const CHANNEL: &str = "benchchannel";
/// Concurrent Broadcast streams (spread round-robin over the orderers).
const STREAMS: usize = 4;
/// Envelopes per run, over all streams.
const ENVELOPES: usize = 5_000;
/// Bytes of each envelope's `Payload.data`.
const PAYLOAD_BYTES: usize = 64;
/// Tags the benchmark's envelopes inside `Payload.data`, followed by the sequence number.
const MARKER: &[u8] = b"weft-bench";
/// A run stops here whatever it has measured.
const RUN_DEADLINE: Duration = Duration::from_secs(60);
/// How long the warm-up submit may be retried while a cluster elects its leader.
const WARM_UP_DEADLINE: Duration = Duration::from_secs(60);
/// How often the Deliver reader re-checks whether the run is over when no block comes.
const DELIVER_POLL: Duration = Duration::from_millis(500);
/// The harness's channel batch settings (interop-tests/src/fabric_config.rs); the timeout is
/// read from the topology itself.
const HARNESS_BATCH: &str = "MaxMessageCount=100 AbsoluteMaxBytes=10MB PreferredMaxBytes=2MB";

struct Outcome {
    nodes: usize,
    delivered: usize,
    rejected: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    blocks: usize,
    largest_block: usize,
    client_cpu_s: f64,
    orderer_cpu_s: f64,
}

fn now_timestamp() -> prost_types::Timestamp {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    prost_types::Timestamp {
        seconds: since.as_secs() as i64,
        nanos: since.subsec_nanos() as i32,
    }
}

fn envelope(
    signer: &dyn SigningIdentity,
    header_type: HeaderType,
    tx_id: String,
    data: Vec<u8>,
) -> Envelope {
    let mut nonce = tx_id.as_bytes().to_vec();
    nonce.resize(24, 0);
    let payload = Payload {
        header: Some(Header {
            channel_header: ChannelHeader {
                r#type: header_type as i32,
                channel_id: CHANNEL.into(),
                timestamp: Some(now_timestamp()),
                tx_id,
                ..ChannelHeader::default()
            }
            .encode_to_vec(),
            signature_header: SignatureHeader {
                creator: signer.serialize(),
                nonce,
            }
            .encode_to_vec(),
        }),
        data,
    }
    .encode_to_vec();
    let signature = signer.sign(&payload).unwrap();
    Envelope { payload, signature }
}

fn bench_envelope(signer: &dyn SigningIdentity, seq: usize) -> Envelope {
    let mut data = MARKER.to_vec();
    data.extend_from_slice(&(seq as u64).to_be_bytes());
    data.resize(PAYLOAD_BYTES, 0x5a);
    envelope(
        signer,
        HeaderType::EndorserTransaction,
        format!("bench-{seq}"),
        data,
    )
}

/// The sequence number of a benchmark envelope inside a block, if it is one.
fn sequence_of(envelope_bytes: &[u8]) -> Option<usize> {
    let envelope = Envelope::decode(envelope_bytes).ok()?;
    let payload = Payload::decode(envelope.payload.as_slice()).ok()?;
    let rest = payload.data.strip_prefix(MARKER)?;
    let seq = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
    usize::try_from(seq).ok().filter(|s| *s < ENVELOPES)
}

fn seek_from_block_one() -> Vec<u8> {
    let at = |number| SeekPosition {
        r#type: Some(Position::Specified(SeekSpecified { number })),
    };
    SeekInfo {
        start: Some(at(1)),
        stop: Some(at(u64::MAX)),
        behavior: SeekBehavior::BlockUntilReady as i32,
        ..SeekInfo::default()
    }
    .encode_to_vec()
}

async fn connect(orderer: &OrdererNode) -> AtomicBroadcastClient<Channel> {
    let config = ClientConfig {
        tls: Some(ClientTlsConfig::from_root_ca_file(&orderer.tls_ca()).unwrap()),
        ..ClientConfig::default()
    };
    let channel = weft_comm::connect(&orderer.listen.to_string(), &config)
        .await
        .unwrap();
    AtomicBroadcastClient::new(channel)
}

/// Submits one envelope until the orderer accepts it (a new cluster has no leader at first).
async fn warm_up(orderer: &OrdererNode, signer: &dyn SigningIdentity) {
    let started = Instant::now();
    loop {
        let probe = envelope(
            signer,
            HeaderType::EndorserTransaction,
            format!("warm-up-{}", started.elapsed().as_nanos()),
            b"warm-up".to_vec(),
        );
        let mut client = connect(orderer).await;
        let status = match client.broadcast(tokio_stream::once(probe)).await {
            Ok(response) => match response.into_inner().message().await {
                Ok(Some(r)) => r.status,
                _ => 0,
            },
            Err(_) => 0,
        };
        if status == Status::Success as i32 {
            return;
        }
        assert!(
            started.elapsed() < WARM_UP_DEADLINE,
            "{} never accepted a submit (last status {status})",
            orderer.name
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// User plus system CPU seconds of process `pid` ("self" for this one).
fn cpu_seconds(pid: &str) -> f64 {
    // Fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second on Linux).
    const TICKS_PER_SECOND: f64 = 100.0;
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / TICKS_PER_SECOND)
        })
        .unwrap_or(0.0)
}

fn percentile_ms(sorted: &[Duration], percent: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = (sorted.len() * percent / 100).min(sorted.len() - 1);
    sorted[index].as_secs_f64() * 1000.0
}

fn run(nodes: usize, toolchain: &UpstreamToolchain) -> (Outcome, u64) {
    let mut topology = Topology::new(CHANNEL, toolchain)
        .orderers(nodes)
        .peer_org("Org1", 1);
    topology.orderer_command = NodeCommand::new(env!("CARGO_BIN_EXE_orderer"), &[]);
    let batch_timeout_ms = topology.batch_timeout_ms;
    let network = Network::start(topology, toolchain).unwrap_or_else(|e| panic!("{e}"));
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
    let orderers = network.orderers().to_vec();
    let orderer_pids: Vec<String> = network
        .node_pids()
        .into_iter()
        .filter(|(name, _)| orderers.iter().any(|o| &o.name == name))
        .map(|(_, pid)| pid.to_string())
        .collect();
    let admin = network.admin_of("Org1MSP").unwrap();
    let signer = X509Msp::load_local(&admin.msp_dir(), "Org1MSP")
        .unwrap()
        .signing_identity()
        .unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(warm_up(&orderers[0], signer.as_ref()));

    // Signed up front so signing does not count as load-generator time.
    let mut batches: Vec<Vec<(usize, Envelope)>> = vec![Vec::new(); STREAMS];
    for seq in 0..ENVELOPES {
        batches[seq % STREAMS].push((seq, bench_envelope(signer.as_ref(), seq)));
    }
    let deliver_request = envelope(
        signer.as_ref(),
        HeaderType::DeliverSeekInfo,
        "bench-deliver".into(),
        seek_from_block_one(),
    );

    let outcome = runtime.block_on(async {
        let base = Instant::now();
        let sent_at: Arc<Vec<AtomicU64>> =
            Arc::new((0..ENVELOPES).map(|_| AtomicU64::new(0)).collect());
        let accepted = Arc::new(AtomicUsize::new(0));
        let rejected = Arc::new(AtomicUsize::new(0));
        let broadcast_done = Arc::new(AtomicBool::new(false));

        let mut deliver_client = connect(&orderers[0]).await;
        let mut blocks_in = deliver_client
            .deliver(tokio_stream::once(deliver_request).chain(futures::stream::pending()))
            .await
            .unwrap()
            .into_inner();

        let cpu_before = cpu_seconds("self");
        let orderer_cpu_before: f64 = orderer_pids.iter().map(|p| cpu_seconds(p)).sum();
        let started = Instant::now();
        let mut senders = Vec::new();
        for (index, batch) in batches.into_iter().enumerate() {
            let orderer = orderers[index % orderers.len()].clone();
            let (sent_at, accepted, rejected) =
                (sent_at.clone(), accepted.clone(), rejected.clone());
            senders.push(tokio::spawn(async move {
                let mut client = connect(&orderer).await;
                let stamps = sent_at.clone();
                let outgoing = futures::stream::iter(batch).map(move |(seq, e)| {
                    stamps[seq].store(base.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    e
                });
                let mut responses = client.broadcast(outgoing).await.unwrap().into_inner();
                while let Ok(Some(response)) = responses.message().await {
                    if response.status == Status::Success as i32 {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    } else {
                        rejected.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        let done = broadcast_done.clone();
        tokio::spawn(async move {
            for sender in senders {
                let _ = sender.await;
            }
            done.store(true, Ordering::Release);
        });

        let mut latencies = Vec::with_capacity(ENVELOPES);
        let (mut blocks, mut largest_block) = (0, 0);
        let mut last_block_at = started;
        while started.elapsed() < RUN_DEADLINE {
            let finished = broadcast_done.load(Ordering::Acquire)
                && latencies.len() >= accepted.load(Ordering::Relaxed);
            if finished || latencies.len() == ENVELOPES {
                break;
            }
            let block = match tokio::time::timeout(DELIVER_POLL, blocks_in.message()).await {
                Err(_) => continue,
                Ok(Ok(Some(response))) => match response.r#type {
                    Some(DeliverType::Block(block)) => block,
                    other => panic!("deliver ended with {other:?}"),
                },
                Ok(other) => panic!("deliver stream failed: {other:?}"),
            };
            let arrived = base.elapsed();
            let data = block.data.map(|d| d.data).unwrap_or_default();
            let mut in_block = 0;
            for bytes in &data {
                if let Some(seq) = sequence_of(bytes) {
                    let sent = Duration::from_nanos(sent_at[seq].load(Ordering::Relaxed));
                    latencies.push(arrived.saturating_sub(sent));
                    in_block += 1;
                }
            }
            if in_block > 0 {
                blocks += 1;
                largest_block = largest_block.max(data.len());
                last_block_at = Instant::now();
            }
        }
        let seconds = last_block_at.duration_since(started).as_secs_f64();
        latencies.sort();
        Outcome {
            nodes,
            delivered: latencies.len(),
            rejected: rejected.load(Ordering::Relaxed),
            seconds,
            p50_ms: percentile_ms(&latencies, 50),
            p99_ms: percentile_ms(&latencies, 99),
            blocks,
            largest_block,
            client_cpu_s: cpu_seconds("self") - cpu_before,
            orderer_cpu_s: orderer_pids.iter().map(|p| cpu_seconds(p)).sum::<f64>()
                - orderer_cpu_before,
        }
    });
    (outcome, batch_timeout_ms)
}

fn main() {
    let toolchain = UpstreamToolchain::locate(REFERENCE_VERSION).unwrap_or_else(|e| panic!("{e}"));
    let sizes: Vec<usize> = std::env::var("WEFT_BENCH_NODES")
        .unwrap_or_else(|_| "1,3".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let mut rows = Vec::new();
    let mut batch_timeout_ms = 0;
    for nodes in sizes {
        let (outcome, timeout) = run(nodes, &toolchain);
        batch_timeout_ms = timeout;
        rows.push(outcome);
    }
    println!(
        "batch: BatchTimeout={batch_timeout_ms}ms {HARNESS_BATCH}; load: {STREAMS} broadcast streams, {ENVELOPES} envelopes of {PAYLOAD_BYTES} data bytes"
    );
    println!(
        "{:>5} {:>9} {:>8} {:>8} {:>11} {:>9} {:>9} {:>7} {:>9} {:>11} {:>12}",
        "nodes",
        "envelopes",
        "rejected",
        "seconds",
        "envelopes/s",
        "p50 ms",
        "p99 ms",
        "blocks",
        "max/block",
        "client cpu",
        "orderer cpu"
    );
    for r in &rows {
        println!(
            "{:>5} {:>9} {:>8} {:>8.2} {:>11.0} {:>9.1} {:>9.1} {:>7} {:>9} {:>10.2}s {:>11.2}s",
            r.nodes,
            r.delivered,
            r.rejected,
            r.seconds,
            r.delivered as f64 / r.seconds.max(f64::EPSILON),
            r.p50_ms,
            r.p99_ms,
            r.blocks,
            r.largest_block,
            r.client_cpu_s,
            r.orderer_cpu_s
        );
    }
    // Machine-readable twins of the figures, parsed by scripts/bench (weft-bench components).
    for r in &rows {
        let n = r.nodes;
        let rate = r.delivered as f64 / r.seconds.max(f64::EPSILON);
        println!("figure\tordering, {n} Raft node(s)\t{rate:.0}\tenvelopes/s");
        println!(
            "figure\tordering latency p50, {n} node(s), saturated\t{:.1}\tms",
            r.p50_ms
        );
        println!(
            "figure\tordering latency p99, {n} node(s), saturated\t{:.1}\tms",
            r.p99_ms
        );
    }
}
