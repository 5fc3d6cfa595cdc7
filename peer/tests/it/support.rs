//! Helpers shared by the interop tests: a network with one Weft peer beside Go peers.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fabric_protos::common::{
    Block, ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader,
};
use fabric_protos::orderer::seek_position::Type as Position;
use fabric_protos::orderer::{SeekInfo, SeekPosition, SeekSpecified};
use prost::Message;
use weft_comm::{ClientConfig, ClientTlsConfig};
use weft_interop_tests::{
    Network, NodeCommand, REFERENCE_VERSION, TlsFiles, Topology, UpstreamToolchain,
};
use weft_msp::{SigningIdentity, X509Msp};

pub const CHANNEL: &str = "mychannel";
/// The Go peer of Org1; gossip bootstraps to the org's first peer, so the Go peer comes first.
pub const GO_PEER: &str = "peer0.org1.example.com";
/// The Weft peer of Org1.
pub const WEFT_PEER: &str = "peer1.org1.example.com";

/// An upstream orderer and Org1 with a Go peer and a Weft peer, not yet joined.
pub fn start_network() -> Network {
    start_network_with_go_env(&[])
}

/// [`start_network`] with extra environment settings (`KEY=value`) for the Go peer.
pub fn start_network_with_go_env(go_env: &[&str]) -> Network {
    let toolchain = UpstreamToolchain::locate(REFERENCE_VERSION).unwrap_or_else(|e| panic!("{e}"));
    let mut topology = Topology::new(CHANNEL, &toolchain)
        .peer_org("Org1", 2)
        .node_command(
            WEFT_PEER,
            NodeCommand::new(env!("CARGO_BIN_EXE_peer"), &["node", "start"]),
        );
    if !go_env.is_empty() {
        let peer = toolchain.bin("peer").display().to_string();
        let mut args: Vec<&str> = go_env.to_vec();
        args.extend([peer.as_str(), "node", "start"]);
        topology = topology.node_command(GO_PEER, NodeCommand::new("/usr/bin/env", &args));
    }
    Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"))
}

/// The hash of a block's header, as Fabric computes it.
pub fn header_hash(block: &Block) -> [u8; 32] {
    weft_protoutil::block_header_hash(block.header.as_ref().unwrap())
}

/// `peer lifecycle chaincode approveformyorg` for `name` sent to `peer`, waiting for commit;
/// returns the CLI's stderr.
pub fn approve(network: &Network, peer: &str, name: &str, sequence: u64) -> String {
    approve_seq_on(network, peer, CHANNEL, name, sequence)
}

/// [`approve`] on another channel, sequence 1.
pub fn approve_on(network: &Network, peer: &str, channel: &str, name: &str) -> String {
    approve_seq_on(network, peer, channel, name, 1)
}

fn approve_seq_on(
    network: &Network,
    peer: &str,
    channel: &str,
    name: &str,
    sequence: u64,
) -> String {
    let package_id =
        format!("{name}_1.0:0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000");
    let sequence = sequence.to_string();
    let mut args: Vec<String> = [
        "lifecycle",
        "chaincode",
        "approveformyorg",
        "--channelID",
        channel,
        "--name",
        name,
        "--version",
        "1.0",
        "--sequence",
        &sequence,
        "--package-id",
        &package_id,
    ]
    .map(String::from)
    .to_vec();
    args.extend(network.orderer_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // A channel the orderer has just joined answers SERVICE_UNAVAILABLE until its Raft group
    // has a leader; retry that (bounded) as a client would.
    let mut attempts = 0;
    let output = loop {
        match network.peer_cli(peer, &args) {
            Ok(output) => break output,
            Err(e) if attempts < 20 && e.to_string().contains("SERVICE_UNAVAILABLE") => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert!(
        output.stderr.contains("committed with status (VALID)"),
        "{}",
        output.stderr
    );
    output.stderr
}

/// A signing identity from an MSP folder (an org admin's `msp`).
pub fn signer_from(msp_dir: &std::path::Path, msp_id: &str) -> Arc<dyn SigningIdentity> {
    let msp = X509Msp::load_local(msp_dir, msp_id).unwrap();
    msp.signing_identity().unwrap()
}

/// A signed `DELIVER_SEEK_INFO` envelope for `channel`, stamped `age` in the past.
pub fn seek_envelope(
    signer: &dyn SigningIdentity,
    channel: &str,
    seek: &SeekInfo,
    age: Duration,
) -> Envelope {
    let now = (SystemTime::now() - age)
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    let channel_header = ChannelHeader {
        r#type: HeaderType::DeliverSeekInfo as i32,
        channel_id: channel.to_owned(),
        timestamp: Some(prost_types::Timestamp {
            seconds: now.as_secs() as i64,
            nanos: now.subsec_nanos() as i32,
        }),
        ..Default::default()
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: SignatureHeader {
                creator: signer.serialize(),
                nonce: vec![7; 24],
            }
            .encode_to_vec(),
        }),
        data: seek.encode_to_vec(),
    }
    .encode_to_vec();
    let signature = signer.sign(&payload).unwrap();
    Envelope { payload, signature }
}

pub fn position(kind: Position) -> Option<SeekPosition> {
    Some(SeekPosition { r#type: Some(kind) })
}

pub fn specified(number: u64) -> Option<SeekPosition> {
    position(Position::Specified(SeekSpecified { number }))
}

/// A TLS connection to `peer`'s gRPC listener as Org1's admin client.
pub async fn connect_peer(network: &Network, peer: &str) -> tonic::transport::Channel {
    let node = network.peer(peer).unwrap();
    let admin = network.admin_of(&node.msp_id).unwrap();
    let tls = ClientTlsConfig::from_root_ca_file(&node.tls_ca())
        .unwrap()
        .with_client_cert_files(&admin.tls_cert(), &admin.tls_key())
        .unwrap();
    let config = ClientConfig {
        tls: Some(tls),
        ..ClientConfig::default()
    };
    weft_comm::connect(&node.listen.to_string(), &config)
        .await
        .unwrap()
}
