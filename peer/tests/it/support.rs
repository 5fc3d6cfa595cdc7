//! Helpers shared by the interop tests: a network with one Weft peer beside Go peers.

use fabric_protos::common::Block;
use weft_interop_tests::{Network, NodeCommand, REFERENCE_VERSION, Topology, UpstreamToolchain};

pub const CHANNEL: &str = "mychannel";
/// The Go peer of Org1; gossip bootstraps to the org's first peer, so the Go peer comes first.
pub const GO_PEER: &str = "peer0.org1.example.com";
/// The Weft peer of Org1.
pub const WEFT_PEER: &str = "peer1.org1.example.com";

/// An upstream orderer and Org1 with a Go peer and a Weft peer, not yet joined.
pub fn start_network() -> Network {
    let toolchain = UpstreamToolchain::locate(REFERENCE_VERSION).unwrap_or_else(|e| panic!("{e}"));
    let topology = Topology::new(CHANNEL, &toolchain)
        .peer_org("Org1", 2)
        .node_command(
            WEFT_PEER,
            NodeCommand::new(env!("CARGO_BIN_EXE_peer"), &["node", "start"]),
        );
    Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"))
}

/// The hash of a block's header, as Fabric computes it.
pub fn header_hash(block: &Block) -> [u8; 32] {
    weft_protoutil::block_header_hash(block.header.as_ref().unwrap())
}

/// `peer lifecycle chaincode approveformyorg` for `name` sent to `peer`, waiting for commit;
/// returns the CLI's stderr.
pub fn approve(network: &Network, peer: &str, name: &str, sequence: u64) -> String {
    let package_id =
        format!("{name}_1.0:0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000");
    let sequence = sequence.to_string();
    let mut args: Vec<String> = [
        "lifecycle",
        "chaincode",
        "approveformyorg",
        "--channelID",
        CHANNEL,
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
    let output = network
        .peer_cli(peer, &args)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        output.stderr.contains("committed with status (VALID)"),
        "{}",
        output.stderr
    );
    output.stderr
}
