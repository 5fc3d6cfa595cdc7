//! The reference network: every node is an upstream Fabric 2.5.9 binary. It
//! proves the harness itself (crypto from cryptogen, genesis block from
//! configtxgen, one Raft orderer joined through channel participation, two
//! peers of two orgs joined with `peer channel join`, TLS everywhere) and
//! records what upstream does for the same steps Weft nodes will later take.

use std::time::Instant;

use fabric_protos::common::{
    self, BlockMetadataIndex, ChannelHeader, Envelope, HeaderType, Payload,
};
use fabric_protos::peer::{
    ChaincodeActionPayload, ChaincodeInvocationSpec, ChaincodeProposalPayload, Transaction,
    TxValidationCode,
};
use prost::Message;
use weft_interop_tests::{Network, REFERENCE_VERSION, Topology, UpstreamToolchain};

const CHANNEL: &str = "refchannel";
const ORG1_PEER: &str = "peer0.org1.example.com";
const ORG2_PEER: &str = "peer0.org2.example.com";
const CHAINCODE: &str = "refcc";
/// A package ID for a package that no peer has installed: Fabric lets an org
/// approve a definition for a package it has not installed (yet).
const UNINSTALLED_PACKAGE_ID: &str =
    "refcc_1.0:0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000";

fn start_reference_network() -> Network {
    let toolchain = UpstreamToolchain::locate(REFERENCE_VERSION).unwrap_or_else(|e| panic!("{e}"));
    let topology = Topology::new(CHANNEL, &toolchain)
        .orderers(1)
        .peer_org("Org1", 1)
        .peer_org("Org2", 1);
    let network = Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"));
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
    network
}

/// Mirrors Fabric's `peer lifecycle chaincode approveformyorg`: an org admin's
/// approval is an endorser transaction on `_lifecycle`, ordered into the next
/// block and committed VALID by every peer of the channel.
#[test]
fn reference_network_commits_a_lifecycle_approval_on_every_peer() {
    let started = Instant::now();
    let network = start_reference_network();
    eprintln!("network up and joined in {:?}", started.elapsed());
    for peer in [ORG1_PEER, ORG2_PEER] {
        assert_eq!(
            network.channel_height(peer).unwrap(),
            1,
            "{peer} has only the genesis block"
        );
    }

    let mut approve: Vec<String> = [
        "lifecycle",
        "chaincode",
        "approveformyorg",
        "--channelID",
        CHANNEL,
        "--name",
        CHAINCODE,
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
        assert_eq!(network.channel_height(peer).unwrap(), 2, "{peer}");
    }

    let block = network.fetch_block(ORG1_PEER, 1).unwrap();
    assert_eq!(block.header.as_ref().unwrap().number, 1);
    assert_eq!(
        block.data.as_ref().unwrap().data.len(),
        1,
        "one transaction in block 1"
    );
    let (header, invocation) = decode_endorser_tx(&block.data.as_ref().unwrap().data[0]);
    assert_eq!(header.r#type, HeaderType::EndorserTransaction as i32);
    assert_eq!(header.channel_id, CHANNEL);
    assert_eq!(header.tx_id, tx_id);
    let spec = invocation.chaincode_spec.unwrap();
    assert_eq!(spec.chaincode_id.unwrap().name, "_lifecycle");
    assert_eq!(
        spec.input.unwrap().args[0],
        b"ApproveChaincodeDefinitionForMyOrg"
    );
    let filter =
        &block.metadata.as_ref().unwrap().metadata[BlockMetadataIndex::TransactionsFilter as usize];
    assert_eq!(filter.as_slice(), [TxValidationCode::Valid as u8]);

    // Both peers hold the identical block (same header, so the same hash chain).
    let from_org2 = network.fetch_block(ORG2_PEER, 1).unwrap();
    assert_eq!(from_org2.header, block.header);
    assert_eq!(from_org2.data, block.data);

    // The approval is visible from the other org's peer: Org1 approved, Org2 not yet.
    let readiness = network
        .peer_cli(
            ORG2_PEER,
            &[
                "lifecycle",
                "chaincode",
                "checkcommitreadiness",
                "--channelID",
                CHANNEL,
                "--name",
                CHAINCODE,
                "--version",
                "1.0",
                "--sequence",
                "1",
                "--output",
                "json",
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let approvals: serde_json::Value = serde_json::from_str(&readiness.stdout).unwrap();
    assert_eq!(approvals["approvals"]["Org1MSP"], true, "{approvals}");
    assert_eq!(approvals["approvals"]["Org2MSP"], false, "{approvals}");

    drop(network);
    eprintln!("reference network test took {:?}", started.elapsed());
}

/// The `txid [...] committed with status (...)` line the CLI logs when it
/// sees its transaction in a peer's filtered block stream.
fn committed_tx(stderr: &str) -> Option<(String, String)> {
    let line = stderr
        .lines()
        .find(|l| l.contains("committed with status"))?;
    let tx_id = line.split("txid [").nth(1)?.split(']').next()?;
    let status = line.split("status (").nth(1)?.split(')').next()?;
    Some((tx_id.to_owned(), status.to_owned()))
}

fn decode_endorser_tx(envelope_bytes: &[u8]) -> (ChannelHeader, ChaincodeInvocationSpec) {
    let envelope = Envelope::decode(envelope_bytes).unwrap();
    let payload = Payload::decode(envelope.payload.as_slice()).unwrap();
    let header: &common::Header = payload.header.as_ref().unwrap();
    let channel_header = ChannelHeader::decode(header.channel_header.as_slice()).unwrap();
    let tx = Transaction::decode(payload.data.as_slice()).unwrap();
    let action = ChaincodeActionPayload::decode(tx.actions[0].payload.as_slice()).unwrap();
    let proposal =
        ChaincodeProposalPayload::decode(action.chaincode_proposal_payload.as_slice()).unwrap();
    let invocation = ChaincodeInvocationSpec::decode(proposal.input.as_slice()).unwrap();
    (channel_header, invocation)
}

#[test]
fn committed_tx_line_is_parsed() {
    let line = "2024-01-01 12:00:00.000 UTC 0001 INFO [chaincodeCmd] ClientWait -> txid [abc123] committed with status (VALID) at 127.0.0.1:7051";
    assert_eq!(committed_tx(line), Some(("abc123".into(), "VALID".into())));
    assert_eq!(committed_tx("nothing here"), None);
}
