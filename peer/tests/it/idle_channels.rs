//! Hundreds of channels whose orderer does not serve them, joined in process: the work the peer
//! does for them must not grow with their number. Each joined channel dials its orderer once at
//! once (as Fabric's deliver client starts at join); after that, retries of all channels
//! together stay within the node-wide pace, and no channel adds a thread.
//!
//! The "orderer" is a TCP listener that counts connections and closes each at once, so every
//! attempt fails as against an orderer that is away.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fabric_protos::common::Block;
use prost::Message;
use weft_committer::Committer;
use weft_msp::X509Msp;
use weft_peer::blocks::{BlockPuller, PullerSettings};
use weft_peer::channels::ChannelManager;

/// Channels joined.
const CHANNELS: usize = 200;
/// The node's pace in this test, low so that per-channel retries (one every `BACKOFF_MAX` per
/// channel, 200 a second here) would exceed it many times over.
const PACE: u32 = 5;
/// Attempts the quiet node may start at once beyond the pace.
const BURST: u32 = 10;
/// Short ceiling of each channel's own backoff.
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// TCP connections one attempt may open: tonic's connect succeeds over a socket the server
/// then closes, and the request on it dials once more.
const DIALS_PER_ATTEMPT_MAX: usize = 2;
/// How long retries are watched after the last join.
const WATCH: Duration = Duration::from_secs(3);
/// Threads the process may gain between the 10th and the last join (blocking-pool threads).
const THREAD_GROWTH_MAX: usize = 4;

const CRYPTO_CONFIG: &str = "
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    Template: { Count: 1 }
    Users: { Count: 1 }
";

fn configtx_yaml(crypto: &std::path::Path, orderer: &str) -> String {
    let c = crypto.display();
    let tls =
        format!("{c}/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt");
    let (host, port) = orderer.rsplit_once(':').unwrap();
    let any = |kind: &str| format!("{{ Type: ImplicitMeta, Rule: \"ANY {kind}\" }}");
    let policies = |indent: &str| {
        format!(
            "\n{indent}Readers: {}\n{indent}Writers: {}\n{indent}Admins: {}",
            any("Readers"),
            any("Writers"),
            any("Admins")
        )
    };
    format!(
        "Organizations:
  - &OrdererOrg
    Name: OrdererOrg
    ID: OrdererMSP
    MSPDir: {c}/ordererOrganizations/example.com/msp
    OrdererEndpoints: [ \"{orderer}\" ]
    Policies:
      Readers: {{ Type: Signature, Rule: \"OR('OrdererMSP.member')\" }}
      Writers: {{ Type: Signature, Rule: \"OR('OrdererMSP.member')\" }}
      Admins: {{ Type: Signature, Rule: \"OR('OrdererMSP.admin')\" }}
  - &Org1
    Name: Org1
    ID: Org1MSP
    MSPDir: {c}/peerOrganizations/org1.example.com/msp
    Policies:
      Readers: {{ Type: Signature, Rule: \"OR('Org1MSP.member')\" }}
      Writers: {{ Type: Signature, Rule: \"OR('Org1MSP.member')\" }}
      Admins: {{ Type: Signature, Rule: \"OR('Org1MSP.admin')\" }}
      Endorsement: {{ Type: Signature, Rule: \"OR('Org1MSP.member')\" }}
Profiles:
  Idle:
    Capabilities: {{ V2_0: true }}
    Policies:{top}
    Orderer:
      OrdererType: etcdraft
      BatchTimeout: 2s
      BatchSize: {{ MaxMessageCount: 10, AbsoluteMaxBytes: 64 KB, PreferredMaxBytes: 16 KB }}
      EtcdRaft:
        Consenters:
          - {{ Host: {host}, Port: {port}, ClientTLSCert: {tls}, ServerTLSCert: {tls} }}
      Organizations: [ *OrdererOrg ]
      Capabilities: {{ V2_0: true }}
      Policies:{section}
        BlockValidation: {{ Type: ImplicitMeta, Rule: \"ANY Writers\" }}
    Application:
      Organizations: [ *Org1 ]
      Capabilities: {{ V2_5: true }}
      Policies:{section}
        Endorsement: {{ Type: ImplicitMeta, Rule: \"MAJORITY Endorsement\" }}
        LifecycleEndorsement: {{ Type: ImplicitMeta, Rule: \"MAJORITY Endorsement\" }}
",
        top = policies("      "),
        section = policies("        "),
    )
}

/// Accepts and drops connections, counting them.
fn counting_orderer() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            count.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (address, accepted)
}

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .map(|n| n.trim().parse().unwrap())
        .unwrap()
}

#[test]
fn idle_channels_add_no_threads_and_their_retries_keep_the_node_pace() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (orderer, accepted) = counting_orderer();
    let crypto = dir.path().join("crypto");
    let spec = weft_tools::cryptogen::spec::parse(CRYPTO_CONFIG).unwrap();
    weft_tools::cryptogen::generate::generate(&spec, &crypto, &mut |_| {}).unwrap();
    let configtx = dir.path().join("configtx.yaml");
    std::fs::write(&configtx, configtx_yaml(&crypto, &orderer)).unwrap();
    let msp = X509Msp::load_local(
        &crypto.join("peerOrganizations/org1.example.com/peers/peer0.org1.example.com/msp"),
        "Org1MSP",
    )
    .unwrap();

    let committer = Committer::start(
        dir.path().join("ledger"),
        weft_ledger::StoreOptions::default(),
        Arc::new(weft_peer::definitions::LifecycleDefinitions),
    )
    .unwrap();
    let channels = ChannelManager::new(committer.clone());
    let puller = Arc::new(BlockPuller::new(
        PullerSettings {
            signer: msp.signing_identity().unwrap(),
            client: weft_comm::ClientConfig::default(),
            tls: false,
            client_cert_pem: None,
            client_key_pem: None,
            backoff_max: BACKOFF_MAX,
            backoff_threshold: Duration::from_secs(3600),
            attempts_per_second_max: PACE,
            attempt_burst: BURST,
            address_overrides: Vec::new(),
        },
        committer,
        runtime.handle().clone(),
    ));
    let starter = puller.clone();
    channels.on_join(Box::new(move |channel| starter.start(channel)));

    let template =
        weft_tools::configtxgen::genesis_block_for_profile(&configtx, "Idle", "idle0").unwrap();
    let mut threads_after_ten = 0;
    for i in 1..=CHANNELS {
        let genesis = genesis_for(&template, &format!("idle{i}"));
        channels.join(&genesis.encode_to_vec()).unwrap();
        if i == 10 {
            threads_after_ten = threads();
        }
    }
    let joined = Instant::now();
    let dialled_by_joins = accepted.load(Ordering::SeqCst);
    std::thread::sleep(WATCH);
    let attempts = accepted.load(Ordering::SeqCst);
    let elapsed = joined.elapsed();

    assert_eq!(channels.channel_ids().unwrap().len(), CHANNELS);
    // The org is set up once and shared by every channel that names it.
    let org_msp = |channel: &str| {
        let bundle = channels.require(channel).unwrap().bundle();
        bundle.application().unwrap().organizations["Org1"]
            .org
            .msp
            .clone()
    };
    assert!(Arc::ptr_eq(
        &org_msp("idle1"),
        &org_msp(&format!("idle{CHANNELS}"))
    ));
    // Every channel dialled its orderer at least once (at join).
    assert!(
        attempts >= CHANNELS,
        "only {attempts} connections for {CHANNELS} channels"
    );
    // Retries since the last join: within the node-wide pace and its burst (plus one slot and
    // the last joins' first dials of slack), where each channel retrying on its own would make
    // CHANNELS / BACKOFF_MAX attempts a second.
    let paced_max = (elapsed.as_secs_f64() * f64::from(PACE)).ceil() as usize + 1 + BURST as usize;
    let after_joins = attempts - dialled_by_joins;
    assert!(
        after_joins <= DIALS_PER_ATTEMPT_MAX * (paced_max + 2),
        "{after_joins} connections in {elapsed:?} after the joins ({dialled_by_joins} before): more than the pace of {PACE}/s"
    );
    assert!(
        threads() <= threads_after_ten + THREAD_GROWTH_MAX,
        "{} threads after {CHANNELS} channels, {threads_after_ten} after 10",
        threads()
    );
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// `template` with another channel id (the config names no channel, so the block is a valid
/// genesis block of `channel`); the data hash is recomputed.
fn genesis_for(template: &Block, channel: &str) -> Block {
    use fabric_protos::common::{ChannelHeader, Envelope, Payload};
    let mut block = template.clone();
    let data = block.data.as_mut().unwrap();
    let mut envelope = Envelope::decode(data.data[0].as_slice()).unwrap();
    let mut payload = Payload::decode(envelope.payload.as_slice()).unwrap();
    let header = payload.header.as_mut().unwrap();
    let mut channel_header = ChannelHeader::decode(header.channel_header.as_slice()).unwrap();
    channel_header.channel_id = channel.to_owned();
    header.channel_header = channel_header.encode_to_vec();
    envelope.payload = payload.encode_to_vec();
    data.data[0] = envelope.encode_to_vec();
    let hash = weft_protoutil::block::block_data_hash(block.data.as_ref().unwrap());
    block.header.as_mut().unwrap().data_hash = hash.to_vec();
    block
}
