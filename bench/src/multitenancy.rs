//! Multi-tenancy of one peer: what idle channels cost (resident memory and the time of the next
//! join, at 1, 100, 1,000 and 10,000 channels), what spreading the load over many channels does
//! to throughput, and how long a quiet channel's transaction waits while another channel on the
//! same peer is saturated (fairness).
//!
//! The network is one Raft orderer and one org with one peer, started by the interop harness
//! with Weft or upstream nodes. Idle channels are the harness's channel genesis block with the
//! channel id rewritten ([`genesis_for`]); the peer joins them through `cscc JoinChain`, as
//! `peer channel join` does. The orderer does not serve idle channels: the peer's block pullers
//! retry against it, as they would for a channel whose orderers are away. For the spread and
//! fairness figures the orderer joins the channels too and the CRUD contract is defined on each.
//!
//! Each part runs [`Inputs::runs`] times per implementation, every run on a new network; the
//! report ([`crate::tenancy_report`]) gives the median (min–max) of the runs behind each figure.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fabric_protos::common::{Block, ChannelHeader, Envelope, Payload};
use futures::StreamExt;
use prost::Message;
use weft_devnet::admin::{Endpoint, OrdererClient, PeerClient, Signer};
use weft_devnet::lifecycle::{self, Definition};
use weft_interop_tests::{
    ContractKind, Network, NodeCommand, TlsFiles, Topology, UpstreamToolchain,
};

use crate::error::{BenchError, Result};
use crate::gateway::{Gateway, Outcome};
use crate::side_by_side::Implementation;
use crate::stats::percentile;

/// The harness's own channel; the spread and fairness runs use it as the busy channel.
pub const BASE_CHANNEL: &str = "tenant0";
/// How long the peer is left alone after the joins before its memory is read.
pub const SETTLE: Duration = Duration::from_secs(3);
/// Channels joined or defined at the same time while setting up the spread run.
pub const SETUP_PARALLELISM: usize = 8;
/// Attempts (one second apart) to approve on a channel whose Raft leader may not be elected yet.
pub const APPROVE_ATTEMPTS: usize = 30;
/// Requests in flight in the throughput runs and on the busy channel of the fairness run.
pub const CONCURRENCY: usize = 32;
/// Gap between the quiet channel's transactions in the fairness run.
pub const QUIET_INTERVAL: Duration = Duration::from_millis(500);

/// What the run needs and how far it goes.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub weft_bin: PathBuf,
    pub packages: PathBuf,
    /// Idle channel counts at which memory and join time are read, ascending.
    pub idle_counts: Vec<usize>,
    /// The Go peer stops at this many idle channels (its joins are slower; say so in the report).
    pub upstream_idle_max: usize,
    pub spread_channels: usize,
    pub step: Duration,
    /// Joins stop once they have taken this long in one run; the report says where each run
    /// stopped.
    pub idle_budget: Duration,
    /// Runs of each part per implementation, each on a new network; every figure is the median
    /// of the runs that produced it.
    pub runs: usize,
}

/// Memory and join time at one idle channel count.
#[derive(Debug, Clone, PartialEq)]
pub struct IdlePoint {
    pub channels: usize,
    pub rss_bytes: u64,
    /// Median and slowest join among the joins that brought the peer to `channels`.
    pub join_p50: Duration,
    pub join_max: Duration,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdleFigures {
    /// Resident memory of the started peer before any channel.
    pub baseline_rss_bytes: u64,
    pub points: Vec<IdlePoint>,
    /// Why the run stopped before the largest count, if it did.
    pub stopped: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpreadFigures {
    pub channels: usize,
    pub one_channel_tps: f64,
    pub spread_tps: f64,
    /// Latency of the quiet channel's transactions with no other load, and while another
    /// channel is saturated.
    pub quiet_alone_p50: Duration,
    pub quiet_alone_p99: Duration,
    pub quiet_busy_p50: Duration,
    pub quiet_busy_p99: Duration,
    pub busy_tps: f64,
}

/// Every run of one implementation, in order; each run of each part may have failed on its own
/// (its reason in place of its figures).
#[derive(Debug, Clone, Default)]
pub struct TenancyRuns {
    pub idle: Vec<Result<IdleFigures, String>>,
    pub spread: Vec<Result<SpreadFigures, String>>,
}

/// Runs both parts `inputs.runs` times for `implementation`, each run on a new network.
pub async fn run(implementation: Implementation, inputs: &Inputs) -> TenancyRuns {
    let max = match implementation {
        Implementation::Weft => usize::MAX,
        Implementation::Upstream => inputs.upstream_idle_max,
    };
    let counts: Vec<usize> = inputs
        .idle_counts
        .iter()
        .copied()
        .filter(|c| *c <= max)
        .collect();
    let mut runs = TenancyRuns::default();
    let name = implementation.name();
    for run in 1..=inputs.runs {
        eprintln!(
            "weft-bench: {name} idle channels, run {run} of {}",
            inputs.runs
        );
        let figures = idle(implementation, inputs, &counts).await;
        runs.idle.push(logged(name, run, figures));
    }
    for run in 1..=inputs.runs {
        eprintln!(
            "weft-bench: {name} load over many channels, run {run} of {}",
            inputs.runs
        );
        let figures = spread(implementation, inputs).await;
        runs.spread.push(logged(name, run, figures));
    }
    runs
}

fn logged<T>(implementation: &str, run: usize, figures: Result<T>) -> Result<T, String> {
    figures.map_err(|e| {
        eprintln!("weft-bench: {implementation} run {run}: {e}");
        e.to_string()
    })
}

/// The harness's genesis block for another channel: the channel header's id is replaced and the
/// data hash recomputed. The config itself names no channel, so the block is a valid genesis
/// block of `channel` for the same orderer and orgs.
pub fn genesis_for(template: &Block, channel: &str) -> Result<Block> {
    let malformed = |what: &str| BenchError::Protocol(format!("genesis block template: {what}"));
    let mut block = template.clone();
    let data = block
        .data
        .as_mut()
        .and_then(|d| d.data.first_mut())
        .ok_or_else(|| malformed("no transaction"))?;
    let mut envelope = Envelope::decode(data.as_slice()).map_err(|_| malformed("envelope"))?;
    let mut payload =
        Payload::decode(envelope.payload.as_slice()).map_err(|_| malformed("payload"))?;
    let header = payload
        .header
        .as_mut()
        .ok_or_else(|| malformed("no payload header"))?;
    let mut channel_header = ChannelHeader::decode(header.channel_header.as_slice())
        .map_err(|_| malformed("channel header"))?;
    channel_header.channel_id = channel.to_owned();
    header.channel_header = channel_header.encode_to_vec();
    envelope.payload = payload.encode_to_vec();
    *data = envelope.encode_to_vec();
    let hash = block
        .data
        .as_ref()
        .map(weft_protoutil::block::block_data_hash)
        .ok_or_else(|| malformed("no data"))?;
    block
        .header
        .as_mut()
        .ok_or_else(|| malformed("no header"))?
        .data_hash = hash.to_vec();
    Ok(block)
}

/// Name of the `i`-th extra channel (channel names are lower case, digits allowed).
pub fn channel_name(i: usize) -> String {
    format!("tenant{i:05}")
}

/// A started one-org network and what the benchmark talks to it with.
struct Tenancy {
    network: Network,
    peer: PeerClient,
    admin: Signer,
    peer_pid: u32,
    template: Block,
}

async fn start(implementation: Implementation, inputs: &Inputs) -> Result<Tenancy> {
    let toolchain = UpstreamToolchain::locate("2.5.9").map_err(harness)?;
    let mut topology = Topology::new(BASE_CHANNEL, &toolchain).peer_org("Org1", 1);
    if implementation == Implementation::Weft {
        topology.orderer_command = NodeCommand::new(inputs.weft_bin.join("orderer"), &[]);
        topology.peer_command = NodeCommand::new(inputs.weft_bin.join("peer"), &["node", "start"]);
    }
    let network =
        tokio::task::block_in_place(|| Network::start(topology, &toolchain)).map_err(harness)?;
    let node = network
        .peers()
        .first()
        .cloned()
        .ok_or_else(|| BenchError::Protocol("the network has no peer".into()))?;
    let peer_pid = network
        .node_pids()
        .into_iter()
        .find(|(name, _)| *name == node.name)
        .map(|(_, pid)| pid)
        .ok_or_else(|| BenchError::Protocol(format!("no process for {}", node.name)))?;
    let admin_dir = network
        .admin_of(&node.msp_id)
        .map_err(harness)?
        .crypto_dir
        .join("msp");
    let admin = Signer::load(&admin_dir, &node.msp_id)?;
    let peer = PeerClient::connect(&Endpoint {
        address: node.listen.to_string(),
        tls_ca: node.tls_ca(),
        client_cert: None,
    })
    .await?;
    let template = read_block(network.genesis_block())?;
    Ok(Tenancy {
        network,
        peer,
        admin,
        peer_pid,
        template,
    })
}

fn read_block(path: &Path) -> Result<Block> {
    let bytes = std::fs::read(path).map_err(|source| BenchError::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    })?;
    Block::decode(bytes.as_slice())
        .map_err(|e| BenchError::Protocol(format!("{}: not a block: {e}", path.display())))
}

async fn idle(
    implementation: Implementation,
    inputs: &Inputs,
    counts: &[usize],
) -> Result<IdleFigures> {
    let t = start(implementation, inputs).await?;
    tokio::time::sleep(SETTLE).await;
    let mut figures = IdleFigures {
        baseline_rss_bytes: rss(t.peer_pid)?,
        ..Default::default()
    };
    let mut joined = 0;
    let deadline = Instant::now() + inputs.idle_budget;
    'counts: for &count in counts {
        let mut joins = Vec::new();
        while joined < count {
            if Instant::now() > deadline {
                figures.stopped = Some(format!(
                    "the joins' time budget of {} s was used up at {joined} channels",
                    inputs.idle_budget.as_secs()
                ));
                break 'counts;
            }
            let name = channel_name(joined + 1);
            let block = genesis_for(&t.template, &name)?.encode_to_vec();
            let started = Instant::now();
            if let Err(e) = lifecycle::join_peer(&t.peer, &t.admin, &block).await {
                figures.stopped = Some(format!("joining channel {} failed: {e}", joined + 1));
                break 'counts;
            }
            joins.push(started.elapsed());
            joined += 1;
            if joined % 500 == 0 {
                eprintln!(
                    "weft-bench: {} joined {joined} channels",
                    implementation.name()
                );
            }
        }
        tokio::time::sleep(SETTLE).await;
        joins.sort();
        figures.points.push(IdlePoint {
            channels: count,
            rss_bytes: rss(t.peer_pid)?,
            join_p50: percentile(&joins, 50.0),
            join_max: joins.last().copied().unwrap_or_default(),
        });
    }
    tokio::task::block_in_place(move || drop(t));
    Ok(figures)
}

fn rss(pid: u32) -> Result<u64> {
    crate::procstat::sample(pid).map(|s| s.rss_bytes)
}

async fn spread(implementation: Implementation, inputs: &Inputs) -> Result<SpreadFigures> {
    let mut t = start(implementation, inputs).await?;
    let channels: Vec<String> = std::iter::once(BASE_CHANNEL.to_owned())
        .chain((1..inputs.spread_channels.max(2)).map(channel_name))
        .collect();
    let gateway = define_crud_everywhere(implementation, inputs, &mut t, &channels).await?;
    let busy = &channels[0];
    let quiet = &channels[1];
    warm_up(&gateway, &channels).await?;
    let one = closed_loop(&gateway, std::slice::from_ref(busy), inputs.step, "one").await;
    let spread = closed_loop(&gateway, &channels, inputs.step, "spread").await;
    let alone = quiet_latencies(&gateway, quiet, inputs.step, "alone").await?;
    let busy_run = closed_loop(&gateway, std::slice::from_ref(busy), inputs.step, "busy");
    let quiet_run = quiet_latencies(&gateway, quiet, inputs.step, "busy");
    let (busy_tps, under_load) = futures::join!(busy_run, quiet_run);
    let under_load = under_load?;
    tokio::task::block_in_place(move || drop(t));
    Ok(SpreadFigures {
        channels: channels.len(),
        one_channel_tps: one?,
        spread_tps: spread?,
        quiet_alone_p50: percentile(&alone, 50.0),
        quiet_alone_p99: percentile(&alone, 99.0),
        quiet_busy_p50: percentile(&under_load, 50.0),
        quiet_busy_p99: percentile(&under_load, 99.0),
        busy_tps: busy_tps?,
    })
}

/// Joins the orderer and the peer to every channel, installs the CRUD contract (as a WASM
/// package on a Weft peer, as chaincode-as-a-service on a Go peer) and defines it on every
/// channel. Returns a Gateway client of the org's user.
async fn define_crud_everywhere(
    implementation: Implementation,
    inputs: &Inputs,
    t: &mut Tenancy,
    channels: &[String],
) -> Result<Gateway> {
    let work = t.network.work_dir().join("tenancy");
    std::fs::create_dir_all(&work).map_err(|source| BenchError::Io {
        action: "creating",
        path: work.clone(),
        source,
    })?;
    let orderer_name = t
        .network
        .orderers()
        .first()
        .map(|o| o.name.clone())
        .ok_or_else(|| BenchError::Protocol("the network has no orderer".into()))?;
    tokio::task::block_in_place(|| t.network.join_channel()).map_err(harness)?;
    for name in &channels[1..] {
        let block = genesis_for(&t.template, name)?.encode_to_vec();
        let file = work.join(format!("{name}.block"));
        std::fs::write(&file, &block).map_err(|source| BenchError::Io {
            action: "writing",
            path: file.clone(),
            source,
        })?;
        let path = file.display().to_string();
        let (status, body) = tokio::task::block_in_place(|| {
            t.network.osnadmin(
                &orderer_name,
                &[
                    "channel",
                    "join",
                    "--channelID",
                    name,
                    "--config-block",
                    &path,
                ],
            )
        })
        .map_err(harness)?;
        if status != 201 {
            return Err(BenchError::Protocol(format!(
                "osnadmin channel join {name}: HTTP {status}: {body}"
            )));
        }
        lifecycle::join_peer(&t.peer, &t.admin, &block).await?;
    }
    let package = inputs.packages.join("crud.tar.gz");
    let peer_name = t.network.peers()[0].name.clone();
    let own: Vec<(&str, &Path)> = match implementation {
        Implementation::Weft => vec![(peer_name.as_str(), package.as_path())],
        Implementation::Upstream => Vec::new(),
    };
    let deployed = tokio::task::block_in_place(|| {
        t.network
            .deploy_ccaas_with("crud", ContractKind::Crud, &own)
    })
    .map_err(harness)?;
    tokio::task::block_in_place(|| {
        crate::side_by_side::stop_unused_server(&mut t.network, implementation, &deployed)
    })?;
    let package_id = deployed
        .package_ids
        .values()
        .next()
        .cloned()
        .ok_or_else(|| BenchError::Protocol("the deployment reported no package id".into()))?;
    let orderer_node = t.network.orderers()[0].clone();
    let orderer = OrdererClient::connect(&Endpoint {
        address: orderer_node.listen.to_string(),
        tls_ca: orderer_node.tls_ca(),
        client_cert: None,
    })
    .await?;
    let definition = Definition {
        name: "crud".into(),
        version: deployed.version.clone(),
        sequence: deployed.sequence as i64,
        validation_parameter: Vec::new(),
    };
    let results: Vec<Result<()>> = futures::stream::iter(channels[1..].iter())
        .map(|channel| define_on(channel, &definition, &package_id, t, &orderer))
        .buffer_unordered(SETUP_PARALLELISM)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    let node = &t.network.peers()[0];
    let user = node
        .crypto_dir
        .parent()
        .and_then(Path::parent)
        .map(|org| org.join("users"))
        .ok_or_else(|| BenchError::Protocol("unexpected crypto layout".into()))?;
    let domain = node
        .name
        .split_once('.')
        .map(|(_, d)| d)
        .unwrap_or_default();
    let signer = Signer::load(
        &user.join(format!("User1@{domain}")).join("msp"),
        &node.msp_id,
    )?;
    Gateway::connect(
        &Endpoint {
            address: node.listen.to_string(),
            tls_ca: node.tls_ca(),
            client_cert: None,
        },
        signer,
    )
    .await
}

async fn define_on(
    channel: &str,
    definition: &Definition,
    package_id: &str,
    t: &Tenancy,
    orderer: &OrdererClient,
) -> Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match lifecycle::approve(channel, definition, package_id, &t.admin, &t.peer, orderer).await
        {
            Ok(_) => break,
            Err(e) if attempt >= APPROVE_ATTEMPTS => {
                return Err(BenchError::Protocol(format!(
                    "approving crud on {channel}: {e}"
                )));
            }
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    lifecycle::commit(channel, definition, &t.admin, &[&t.peer], orderer)
        .await
        .map(drop)
        .map_err(|e| BenchError::Protocol(format!("committing crud on {channel}: {e}")))
}

/// One committed transaction on every channel, so that no run pays for a first use.
async fn warm_up(gateway: &Gateway, channels: &[String]) -> Result<()> {
    let results: Vec<Result<()>> = futures::stream::iter(channels.iter())
        .map(|channel| async move {
            match create(gateway, channel, &format!("warm-{channel}")).await? {
                (Outcome::Committed, _) => Ok(()),
                (Outcome::Invalid(code), _) => Err(BenchError::Protocol(format!(
                    "warm-up transaction on {channel} committed invalid ({code})"
                ))),
            }
        })
        .buffer_unordered(SETUP_PARALLELISM)
        .collect()
        .await;
    results.into_iter().collect()
}

async fn create(gateway: &Gateway, channel: &str, key: &str) -> Result<(Outcome, Duration)> {
    let args = [
        b"Create".to_vec(),
        key.as_bytes().to_vec(),
        b"{\"owner\":\"bench\"}".to_vec(),
    ];
    gateway.submit(channel, "crud", &args).await
}

/// [`CONCURRENCY`] workers create keys for `duration`, worker `w` on channel `w % len`;
/// returns committed tx/s. Any failed request fails the run (no silent partial figures).
async fn closed_loop(
    gateway: &Gateway,
    channels: &[String],
    duration: Duration,
    tag: &str,
) -> Result<f64> {
    let started = Instant::now();
    let workers = (0..CONCURRENCY).map(|w| {
        let channel = &channels[w % channels.len()];
        async move {
            let mut committed = 0u64;
            let mut n = 0u64;
            while started.elapsed() < duration {
                n += 1;
                let key = format!("{tag}-{w}-{n}");
                if let (Outcome::Committed, _) = create(gateway, channel, &key).await? {
                    committed += 1;
                }
            }
            Ok::<u64, BenchError>(committed)
        }
    });
    let counts = futures::future::join_all(workers).await;
    let committed: u64 = counts
        .into_iter()
        .collect::<Result<Vec<u64>>>()?
        .iter()
        .sum();
    Ok(committed as f64 / started.elapsed().as_secs_f64().max(1e-9))
}

/// One transaction every [`QUIET_INTERVAL`] on `channel` for `duration`; their latencies, sorted.
async fn quiet_latencies(
    gateway: &Gateway,
    channel: &str,
    duration: Duration,
    tag: &str,
) -> Result<Vec<Duration>> {
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut n = 0;
    while started.elapsed() < duration {
        n += 1;
        let (_, latency) = create(gateway, channel, &format!("quiet-{tag}-{n}")).await?;
        latencies.push(latency);
        tokio::time::sleep(QUIET_INTERVAL.saturating_sub(latency)).await;
    }
    latencies.sort();
    Ok(latencies)
}

fn harness(e: weft_interop_tests::HarnessError) -> BenchError {
    BenchError::Protocol(format!("network harness: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::common::{BlockData, BlockHeader, Header};

    fn template() -> Block {
        let channel_header = ChannelHeader {
            r#type: 1,
            channel_id: "tenant0".into(),
            tx_id: String::new(),
            ..Default::default()
        };
        let payload = Payload {
            header: Some(Header {
                channel_header: channel_header.encode_to_vec(),
                signature_header: vec![1, 2, 3],
            }),
            data: b"config envelope".to_vec(),
        };
        let envelope = Envelope {
            payload: payload.encode_to_vec(),
            signature: Vec::new(),
        };
        let data = BlockData {
            data: vec![envelope.encode_to_vec()],
        };
        Block {
            header: Some(BlockHeader {
                number: 0,
                previous_hash: Vec::new(),
                data_hash: weft_protoutil::block::block_data_hash(&data).to_vec(),
            }),
            data: Some(data),
            metadata: None,
        }
    }

    fn channel_of(block: &Block) -> (String, Payload) {
        let data = &block.data.as_ref().unwrap().data[0];
        let envelope = Envelope::decode(data.as_slice()).unwrap();
        let payload = Payload::decode(envelope.payload.as_slice()).unwrap();
        let header =
            ChannelHeader::decode(payload.header.as_ref().unwrap().channel_header.as_slice())
                .unwrap();
        (header.channel_id, payload)
    }

    #[test]
    fn genesis_for_renames_the_channel_and_keeps_the_config() {
        let template = template();
        let block = genesis_for(&template, "tenant00042").unwrap();
        let (channel, payload) = channel_of(&block);
        assert_eq!(channel, "tenant00042");
        assert_eq!(payload.data, b"config envelope");
        assert_eq!(payload.header.unwrap().signature_header, vec![1, 2, 3]);
        // The header's data hash matches the new data (Fabric checks it when it stores a block).
        assert_eq!(
            block.header.as_ref().unwrap().data_hash,
            weft_protoutil::block::block_data_hash(block.data.as_ref().unwrap()).to_vec()
        );
        assert_ne!(
            block.header.unwrap().data_hash,
            template.header.unwrap().data_hash
        );
    }

    #[test]
    fn genesis_for_refuses_a_block_without_a_transaction() {
        let mut empty = template();
        empty.data = Some(BlockData { data: Vec::new() });
        assert!(genesis_for(&empty, "x").is_err());
        let mut garbage = template();
        garbage.data = Some(BlockData {
            data: vec![vec![0xff, 0xff, 0xff]],
        });
        assert!(genesis_for(&garbage, "x").is_err());
    }

    #[test]
    fn channel_names_are_valid_fabric_channel_ids() {
        // Fabric: lower case letters, digits, '.' and '-', starting with a letter.
        for name in [channel_name(1), channel_name(10_000)] {
            assert!(name.starts_with(|c: char| c.is_ascii_lowercase()));
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            );
        }
        assert_ne!(channel_name(1), BASE_CHANNEL);
    }
}
