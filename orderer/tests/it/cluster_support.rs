//! Test-local helpers for fault tests on a cluster of Weft `orderer` processes started by the
//! interop harness: joining orderers with upstream `osnadmin`, killing, pausing and restarting
//! processes, reading the operations endpoint's gauges, and Broadcast/Deliver clients.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use fabric_protos::common::{
    Block, ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader, Status,
};
use fabric_protos::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use fabric_protos::orderer::deliver_response::Type as DeliverType;
use fabric_protos::orderer::seek_info::SeekBehavior;
use fabric_protos::orderer::seek_position::Type as Position;
use fabric_protos::orderer::{SeekInfo, SeekNewest, SeekPosition, SeekSpecified};
use prost::Message;
use tonic::transport::Channel;
use weft_comm::{ClientConfig, ClientTlsConfig};
use weft_interop_tests::process::{NodeProcess, clean_command};
use weft_interop_tests::{
    Network, NodeCommand, OrdererNode, REFERENCE_VERSION, TlsFiles, Topology, UpstreamToolchain,
    node_env,
};
use weft_msp::{SigningIdentity, X509Msp, X509SigningIdentity};

/// How long one gRPC call of a test client may take.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an operations endpoint probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest operations reply read.
const PROBE_REPLY_BYTES_MAX: u64 = 1 << 20;
/// Longest a channel may take to become active after `osnadmin channel join`.
pub const JOIN_DEADLINE: Duration = Duration::from_secs(60);
/// Blocks read from one Deliver stream at most.
pub const DELIVER_BLOCKS_MAX: usize = 10_000;
/// Poll interval of every wait in these tests.
pub const POLL: Duration = Duration::from_millis(100);

/// The harness channel's etcdraft options (interop-tests/src/fabric_config.rs): TickInterval
/// 250ms, ElectionTick 10. raft-rs (like etcd) randomises a follower's election timeout in
/// [ElectionTick, 2 × ElectionTick) ticks, so the longest a leaderless group waits is this.
pub const ELECTION_TIMEOUT_MAX: Duration = Duration::from_millis(2 * 10 * 250);

/// A started (not yet joined) cluster of Weft orderers with one upstream peer org.
pub struct Cluster {
    pub network: Network,
    pub signer: std::sync::Arc<X509SigningIdentity>,
    pub channel: String,
}

impl Cluster {
    /// Starts `orderers` Weft orderers; `snapshot_interval` replaces the harness channel's
    /// etcdraft `SnapshotIntervalSize` (e.g. "8 KB") in a genesis block remade with upstream
    /// configtxgen before anything joins.
    pub fn start(channel: &str, orderers: usize, snapshot_interval: Option<&str>) -> Self {
        Self::start_with(channel, orderers, None, snapshot_interval)
    }

    /// Like [`Cluster::start`], with only the first `genesis_consenters` orderers as the
    /// channel's genesis consenters (the others can be added by a config update).
    pub fn start_with(
        channel: &str,
        orderers: usize,
        genesis_consenters: Option<usize>,
        snapshot_interval: Option<&str>,
    ) -> Self {
        let toolchain =
            UpstreamToolchain::locate(REFERENCE_VERSION).unwrap_or_else(|e| panic!("{e}"));
        let mut topology = Topology::new(channel, &toolchain)
            .orderers(orderers)
            .peer_org("Org1", 1);
        topology.orderer_command = NodeCommand::new(env!("CARGO_BIN_EXE_orderer"), &[]);
        let network = Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"));
        if snapshot_interval.is_some() || genesis_consenters.is_some() {
            remake_genesis_block(&network, snapshot_interval, genesis_consenters);
        }
        let admin = network.admin_of("Org1MSP").unwrap();
        let signer = X509Msp::load_local(&admin.msp_dir(), "Org1MSP")
            .unwrap()
            .signing_identity()
            .unwrap();
        Self {
            network,
            signer,
            channel: channel.to_string(),
        }
    }

    pub fn orderers(&self) -> Vec<OrdererNode> {
        self.network.orderers().to_vec()
    }

    /// `osnadmin channel join` of `orderer` with `block`; returns the HTTP status and body.
    pub fn join(&self, orderer: &OrdererNode, block: &std::path::Path) -> (u16, String) {
        let block = block.display().to_string();
        self.network
            .osnadmin(
                &orderer.name,
                &[
                    "channel",
                    "join",
                    "--channelID",
                    &self.channel,
                    "--config-block",
                    &block,
                ],
            )
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The channel's entry in `osnadmin channel list --channelID` of `orderer`.
    pub fn channel_info(&self, orderer: &OrdererNode) -> Option<serde_json::Value> {
        let (status, body) = self
            .network
            .osnadmin(
                &orderer.name,
                &["channel", "list", "--channelID", &self.channel],
            )
            .ok()?;
        (status == 200).then(|| serde_json::from_str(&body).ok())?
    }

    /// Joins every orderer with the genesis block and waits until each reports it active.
    pub fn join_all(&self) {
        for orderer in self.network.orderers() {
            let (status, body) = self.join(orderer, self.network.genesis_block());
            assert_eq!(status, 201, "join of {}: {body}", orderer.name);
        }
        for orderer in self.network.orderers() {
            wait_for(JOIN_DEADLINE, &format!("{} active", orderer.name), || {
                self.channel_info(orderer)
                    .is_some_and(|info| info["status"] == "active")
            });
        }
    }

    /// An ENDORSER_TRANSACTION envelope with tx id `tx_id`, signed by the Org1 admin.
    pub fn envelope(&self, tx_id: &str) -> Envelope {
        signed_envelope(
            self.signer.as_ref(),
            &self.channel,
            HeaderType::EndorserTransaction,
            tx_id,
            tx_id.as_bytes().to_vec(),
        )
    }

    /// The channel's height on `orderer`, from its `ledger_blockchain_height` gauge.
    pub fn height(&self, orderer: &OrdererNode) -> Option<u64> {
        gauge(
            orderer.operations,
            "ledger_blockchain_height",
            &self.channel,
        )
    }

    /// Whether `orderer` leads the channel (`consensus_etcdraft_is_leader`, Fabric's gauge).
    pub fn leads(&self, orderer: &OrdererNode) -> bool {
        gauge(
            orderer.operations,
            "consensus_etcdraft_is_leader",
            &self.channel,
        ) == Some(1)
    }

    /// Waits for one of `candidates` to lead; returns its index.
    pub fn wait_for_leader(&self, candidates: &[OrdererNode], limit: Duration) -> Option<usize> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(i) = candidates.iter().position(|o| self.leads(o)) {
                return Some(i);
            }
            std::thread::sleep(POLL);
        }
        None
    }

    /// Waits until every orderer in `orderers` reports the same height, at least `at_least`;
    /// returns it.
    pub fn wait_for_equal_heights(
        &self,
        orderers: &[OrdererNode],
        at_least: u64,
        limit: Duration,
    ) -> u64 {
        let mut last = Vec::new();
        let started = Instant::now();
        while started.elapsed() < limit {
            last = orderers.iter().map(|o| self.height(o)).collect();
            if let Some(Some(first)) = last.first()
                && *first >= at_least
                && last.iter().all(|h| h == &Some(*first))
            {
                return *first;
            }
            std::thread::sleep(POLL);
        }
        panic!("heights never became equal (at least {at_least}): {last:?}");
    }

    /// Every block of the channel `orderer` holds, read over Deliver.
    pub async fn chain_of(&self, orderer: &OrdererNode) -> Vec<Block> {
        let request = signed_envelope(
            self.signer.as_ref(),
            &self.channel,
            HeaderType::DeliverSeekInfo,
            "fault-deliver",
            SeekInfo {
                start: Some(SeekPosition {
                    r#type: Some(Position::Specified(SeekSpecified { number: 0 })),
                }),
                stop: Some(SeekPosition {
                    r#type: Some(Position::Newest(SeekNewest {})),
                }),
                behavior: SeekBehavior::FailIfNotReady as i32,
                ..SeekInfo::default()
            }
            .encode_to_vec(),
        );
        let mut client = connect(orderer).await.expect("deliver connection");
        let mut stream =
            tokio::time::timeout(RPC_TIMEOUT, client.deliver(tokio_stream::once(request)))
                .await
                .expect("deliver call timed out")
                .expect("deliver call")
                .into_inner();
        let mut blocks = Vec::new();
        while blocks.len() < DELIVER_BLOCKS_MAX {
            let response = tokio::time::timeout(RPC_TIMEOUT, stream.message())
                .await
                .expect("deliver stream stalled")
                .expect("deliver stream failed")
                .expect("deliver stream ended without a status");
            match response.r#type {
                Some(DeliverType::Block(block)) => blocks.push(block),
                Some(DeliverType::Status(status)) => {
                    assert_eq!(
                        status,
                        Status::Success as i32,
                        "deliver from {}",
                        orderer.name
                    );
                    break;
                }
                other => panic!("unexpected deliver response {other:?}"),
            }
        }
        blocks
    }

    /// Restarts a killed orderer with the environment the harness gave it (same ledger, WAL
    /// and ports). The returned handle kills the process when dropped.
    pub fn restart(&self, orderer: &OrdererNode) -> NodeProcess {
        let mut command = clean_command(std::path::Path::new(env!("CARGO_BIN_EXE_orderer")));
        command
            .envs(node_env::orderer_env(
                orderer,
                &self.network.node_config_dir(),
            ))
            .current_dir(&orderer.data_dir);
        let process = NodeProcess::spawn(&orderer.name, command, &orderer.log)
            .unwrap_or_else(|e| panic!("{e}"));
        wait_for(
            JOIN_DEADLINE,
            &format!("{} restarted", orderer.name),
            || weft_interop_tests::readiness::healthz_ok(orderer.operations),
        );
        process
    }

    /// The process id the harness started `orderer` with.
    pub fn pid(&self, orderer: &OrdererNode) -> u32 {
        self.network
            .node_pids()
            .into_iter()
            .find(|(name, _)| name == &orderer.name)
            .map(|(_, pid)| pid)
            .unwrap()
    }
}

/// Rewrites the harness's configtx.yaml (etcdraft `SnapshotIntervalSize`, the first
/// `consenters` consenters only) and makes the genesis block again with upstream configtxgen.
fn remake_genesis_block(network: &Network, size: Option<&str>, consenters: Option<usize>) {
    let dir = network.work_dir().join("configtx");
    let path = dir.join("configtx.yaml");
    let profile = weft_interop_tests::fabric_config::CHANNEL_PROFILE;
    let mut yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let raft = &mut yaml["Profiles"][profile]["Orderer"]["EtcdRaft"];
    if let Some(size) = size {
        raft["Options"]["SnapshotIntervalSize"] = size.into();
    }
    if let Some(count) = consenters
        && let Some(list) = raft["Consenters"].as_sequence_mut()
    {
        list.truncate(count);
    }
    std::fs::write(&path, serde_yaml_ng::to_string(&yaml).unwrap()).unwrap();
    let status = clean_command(&network.toolchain().bin("configtxgen"))
        .arg("-configPath")
        .arg(&dir)
        .args([
            "-profile",
            profile,
            "-channelID",
            network.channel(),
            "-outputBlock",
        ])
        .arg(network.genesis_block())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "configtxgen: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

/// Standard base64 with padding (configtxlator's JSON for bytes fields).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Sends `signal` (e.g. "KILL", "STOP", "CONT") to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -s {signal} {pid}");
}

/// Polls `ready` every [`POLL`] until it holds; panics naming `what` after `limit`.
pub fn wait_for(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(POLL);
    }
}

/// The value of gauge `name{channel="<channel>"}` on an operations endpoint.
pub fn gauge(operations: SocketAddr, name: &str, channel: &str) -> Option<u64> {
    let mut stream = TcpStream::connect_timeout(&operations, PROBE_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
    write!(
        stream,
        "GET /metrics HTTP/1.0\r\nHost: {operations}\r\n\r\n"
    )
    .ok()?;
    let mut reply = String::new();
    stream
        .take(PROBE_REPLY_BYTES_MAX)
        .read_to_string(&mut reply)
        .ok()?;
    let series = format!("{name}{{channel=\"{channel}\"}} ");
    reply
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|v| v.trim().parse().ok())
}

pub async fn connect(orderer: &OrdererNode) -> Option<AtomicBroadcastClient<Channel>> {
    let config = ClientConfig {
        tls: Some(ClientTlsConfig::from_root_ca_file(&orderer.tls_ca()).ok()?),
        dial_timeout: Some(RPC_TIMEOUT),
        ..ClientConfig::default()
    };
    let channel = tokio::time::timeout(
        RPC_TIMEOUT,
        weft_comm::connect(&orderer.listen.to_string(), &config),
    )
    .await
    .ok()?
    .ok()?;
    Some(AtomicBroadcastClient::new(channel))
}

/// Broadcasts one envelope to `orderer`; the status it answered, or `None` when the call
/// failed (connection refused, stream error, timeout).
pub async fn broadcast(orderer: &OrdererNode, envelope: Envelope) -> Option<Status> {
    let mut client = connect(orderer).await?;
    let call = async {
        let mut responses = client
            .broadcast(tokio_stream::once(envelope))
            .await
            .ok()?
            .into_inner();
        let response = responses.message().await.ok()??;
        Status::try_from(response.status).ok()
    };
    tokio::time::timeout(RPC_TIMEOUT, call).await.ok()?
}

/// The transaction ids of the envelopes in `block`.
pub fn tx_ids(block: &Block) -> Vec<String> {
    let data = block
        .data
        .as_ref()
        .map(|d| d.data.as_slice())
        .unwrap_or_default();
    data.iter()
        .filter_map(|bytes| {
            let envelope = Envelope::decode(bytes.as_slice()).ok()?;
            let payload = Payload::decode(envelope.payload.as_slice()).ok()?;
            let header = ChannelHeader::decode(payload.header?.channel_header.as_slice()).ok()?;
            Some(header.tx_id)
        })
        .collect()
}

/// Header hashes of a chain, checking that it is linked (numbers and previous hashes).
pub fn linked_hashes(blocks: &[Block]) -> Vec<[u8; 32]> {
    let mut hashes: Vec<[u8; 32]> = Vec::with_capacity(blocks.len());
    for (n, block) in blocks.iter().enumerate() {
        let header = block.header.as_ref().unwrap();
        assert_eq!(header.number, n as u64, "block numbers are contiguous");
        if let Some(previous) = hashes.last() {
            assert_eq!(
                &header.previous_hash[..],
                previous,
                "block {n} links to {}",
                n - 1
            );
        }
        hashes.push(weft_protoutil::block_header_hash(header));
    }
    hashes
}

fn signed_envelope(
    signer: &dyn SigningIdentity,
    channel: &str,
    header_type: HeaderType,
    tx_id: &str,
    data: Vec<u8>,
) -> Envelope {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let mut nonce = tx_id.as_bytes().to_vec();
    nonce.resize(24, 0);
    let payload = Payload {
        header: Some(Header {
            channel_header: ChannelHeader {
                r#type: header_type as i32,
                channel_id: channel.into(),
                timestamp: Some(prost_types::Timestamp {
                    seconds: since.as_secs() as i64,
                    nanos: since.subsec_nanos() as i32,
                }),
                tx_id: tx_id.into(),
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

/// The Org1 peer whose CLI settings the `peer` commands below borrow (they only talk to
/// orderers).
const CLI_PEER: &str = "peer0.org1.example.com";
const ORDERER_MSP: &str = "OrdererMSP";

impl Cluster {
    /// Runs the upstream `peer` CLI as the orderer org admin against `orderer`.
    fn peer_cli_to(&self, orderer: &OrdererNode, args: &[&str]) {
        let admin = self.network.admin_of(ORDERER_MSP).unwrap();
        let address = orderer.listen.to_string();
        let ca = orderer.tls_ca().display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-o", &address, "--tls", "--cafile", &ca]);
        let mut command = self.network.peer_cli_command(CLI_PEER, &all).unwrap();
        command
            .env("CORE_PEER_LOCALMSPID", &admin.msp_id)
            .env("CORE_PEER_MSPCONFIGPATH", admin.crypto_dir.join("msp"))
            .env("CORE_PEER_TLS_CLIENTCERT_FILE", admin.tls_cert())
            .env("CORE_PEER_TLS_CLIENTKEY_FILE", admin.tls_key());
        weft_interop_tests::process::run_bounded(command, weft_interop_tests::CLI_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn configtxlator(&self, args: &[&str]) {
        let mut command = clean_command(&self.network.toolchain().bin("configtxlator"));
        command.args(args).current_dir(self.network.work_dir());
        weft_interop_tests::process::run_bounded(command, weft_interop_tests::TOOL_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn file(&self, name: &str) -> String {
        self.network.work_dir().join(name).display().to_string()
    }

    /// `peer channel fetch config` from `orderer`: the channel's latest config block, saved
    /// as `<name>.pb`; returns its path.
    pub fn fetch_config_block(&self, orderer: &OrdererNode, name: &str) -> std::path::PathBuf {
        let path = self.file(&format!("{name}.pb"));
        self.peer_cli_to(
            orderer,
            &["channel", "fetch", "config", &path, "-c", &self.channel],
        );
        path.into()
    }

    /// A config update made as Fabric operators make one: fetch the config block from
    /// `orderer`, decode it with upstream `configtxlator`, apply `edit` to the `common.Config`
    /// JSON, `compute_update`, wrap it in a CONFIG_UPDATE envelope and submit it with
    /// `peer channel update` as the orderer org admin.
    pub fn update_config(&self, orderer: &OrdererNode, edit: impl FnOnce(&mut serde_json::Value)) {
        let block = self.fetch_config_block(orderer, "update_base");
        let block_json = self.file("update_base.json");
        self.configtxlator(&[
            "proto_decode",
            "--input",
            &block.display().to_string(),
            "--type",
            "common.Block",
            "--output",
            &block_json,
        ]);
        let block: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&block_json).unwrap()).unwrap();
        let original = block["data"]["data"][0]["payload"]["data"]["config"].clone();
        let mut edited = original.clone();
        edit(&mut edited);
        let encode = |json: &serde_json::Value, name: &str, proto: &str| {
            let input = self.file(&format!("{name}.json"));
            let output = self.file(&format!("{name}.pb"));
            std::fs::write(&input, serde_json::to_vec(json).unwrap()).unwrap();
            self.configtxlator(&[
                "proto_encode",
                "--input",
                &input,
                "--type",
                proto,
                "--output",
                &output,
            ]);
            output
        };
        let original_pb = encode(&original, "update_original", "common.Config");
        let edited_pb = encode(&edited, "update_edited", "common.Config");
        let (update_pb, update_json) = (self.file("update.pb"), self.file("update.json"));
        self.configtxlator(&[
            "compute_update",
            "--channel_id",
            &self.channel,
            "--original",
            &original_pb,
            "--updated",
            &edited_pb,
            "--output",
            &update_pb,
        ]);
        self.configtxlator(&[
            "proto_decode",
            "--input",
            &update_pb,
            "--type",
            "common.ConfigUpdate",
            "--output",
            &update_json,
        ]);
        let update: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&update_json).unwrap()).unwrap();
        // HeaderType CONFIG_UPDATE is 2.
        let envelope = serde_json::json!({
            "payload": {
                "header": { "channel_header": { "channel_id": self.channel, "type": 2 } },
                "data": { "config_update": update },
            }
        });
        let envelope_pb = encode(&envelope, "update_envelope", "common.Envelope");
        self.peer_cli_to(
            orderer,
            &["channel", "update", "-f", &envelope_pb, "-c", &self.channel],
        );
    }
}
