//! Weft's `orderer` binary as the ordering node of a network of upstream Fabric 2.5.9 peers:
//! joined with upstream `osnadmin`, serving block 0 to the peers' `peer channel join`, and
//! ordering a `peer lifecycle chaincode approveformyorg` transaction that both peers commit
//! VALID (the flow `interop-tests`' reference network runs against an upstream orderer).
//! Fails, never skips, when the upstream binaries are missing.

use weft_interop_tests::{Network, NodeCommand, REFERENCE_VERSION, Topology, UpstreamToolchain};

const CHANNEL: &str = "mychannel";
const ORG1_PEER: &str = "peer0.org1.example.com";
const ORG2_PEER: &str = "peer0.org2.example.com";
/// A package no peer has installed: Fabric lets an org approve such a definition.
const UNINSTALLED_PACKAGE_ID: &str =
    "weftcc_1.0:0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000";

fn committed_tx(stderr: &str) -> Option<(String, String)> {
    let line = stderr
        .lines()
        .find(|l| l.contains("committed with status"))?;
    let tx_id = line.split("txid [").nth(1)?.split(']').next()?;
    let status = line.split("status (").nth(1)?.split(')').next()?;
    Some((tx_id.to_owned(), status.to_owned()))
}

#[test]
fn upstream_peers_commit_a_lifecycle_approval_ordered_by_weft() {
    let toolchain = UpstreamToolchain::locate(REFERENCE_VERSION).unwrap_or_else(|e| panic!("{e}"));
    let mut topology = Topology::new(CHANNEL, &toolchain)
        .peer_org("Org1", 1)
        .peer_org("Org2", 1);
    topology.orderer_command = NodeCommand::new(env!("CARGO_BIN_EXE_orderer"), &[]);
    let network = Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"));
    // osnadmin channel join (201), the orderer reports the channel active, peers pull block 0.
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));

    let orderer = network.orderers()[0].name.clone();
    let (status, body) = network
        .osnadmin(&orderer, &["channel", "list", "--channelID", CHANNEL])
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["name"], CHANNEL);
    assert_eq!(info["consensusRelation"], "consenter");
    assert_eq!(info["status"], "active");
    assert_eq!(info["height"], 1);
    assert_eq!(info["url"], format!("/participation/v1/channels/{CHANNEL}"));
    let (status, body) = network.osnadmin(&orderer, &["channel", "list"]).unwrap();
    assert_eq!(status, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["systemChannel"], serde_json::Value::Null);
    assert_eq!(list["channels"][0]["name"], CHANNEL);

    for peer in [ORG1_PEER, ORG2_PEER] {
        assert_eq!(network.channel_height(peer).unwrap(), 1, "{peer}");
    }

    // As Fabric: joining a channel again is 405 (GET and DELETE allowed) with {"error": ...}.
    let genesis = network.genesis_block().display().to_string();
    let (status, body) = network
        .osnadmin(
            &orderer,
            &[
                "channel",
                "join",
                "--channelID",
                CHANNEL,
                "--config-block",
                &genesis,
            ],
        )
        .unwrap();
    assert_eq!(status, 405, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("channel already exists"),
        "{body}"
    );

    let mut approve: Vec<String> = [
        "lifecycle",
        "chaincode",
        "approveformyorg",
        "--channelID",
        CHANNEL,
        "--name",
        "weftcc",
        "--version",
        "1.0",
        "--sequence",
        "1",
        "--package-id",
        UNINSTALLED_PACKAGE_ID,
    ]
    .map(String::from)
    .to_vec();
    approve.extend(network.orderer_args());
    let approve: Vec<&str> = approve.iter().map(String::as_str).collect();
    let output = network
        .peer_cli(ORG1_PEER, &approve)
        .unwrap_or_else(|e| panic!("{e}"));
    let (tx_id, status) = committed_tx(&output.stderr).unwrap_or_else(|| {
        panic!(
            "approveformyorg did not report a commit:\n{}",
            output.stderr
        )
    });
    assert_eq!(status, "VALID");

    for peer in [ORG1_PEER, ORG2_PEER] {
        network
            .wait_for_height(peer, 2)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let block = network.fetch_block(ORG2_PEER, 1).unwrap();
    let data = &block.data.as_ref().unwrap().data;
    assert_eq!(data.len(), 1, "block 1 holds the approval alone");
    let header = {
        use prost::Message;
        let envelope = fabric_protos::common::Envelope::decode(data[0].as_slice()).unwrap();
        let payload = fabric_protos::common::Payload::decode(envelope.payload.as_slice()).unwrap();
        fabric_protos::common::ChannelHeader::decode(
            payload.header.unwrap().channel_header.as_slice(),
        )
        .unwrap()
    };
    assert_eq!(header.tx_id, tx_id);
    let copy = network.fetch_block(ORG1_PEER, 1).unwrap();
    assert_eq!(copy.header, block.header);

    // Leaving the channel: DELETE answers 204 and the channel is gone.
    let (status, body) = network
        .osnadmin(&orderer, &["channel", "remove", "--channelID", CHANNEL])
        .unwrap();
    assert_eq!(status, 204, "{body}");
    let (status, _) = network
        .osnadmin(&orderer, &["channel", "list", "--channelID", CHANNEL])
        .unwrap();
    assert_eq!(status, 404);
}
