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

/// Starts an all-upstream network of `version` with `orderers` Raft orderers
/// and two orgs of `peers_per_org` peers, joined to [`CHANNEL`].
fn start_upstream_network(version: &str, orderers: usize, peers_per_org: usize) -> Network {
    let toolchain = UpstreamToolchain::locate(version).unwrap_or_else(|e| panic!("{e}"));
    let topology = Topology::new(CHANNEL, &toolchain)
        .orderers(orderers)
        .peer_org("Org1", peers_per_org)
        .peer_org("Org2", peers_per_org);
    let network = Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"));
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
    network
}

/// Mirrors Fabric's `peer lifecycle chaincode approveformyorg`: an org admin's
/// approval is an endorser transaction on `_lifecycle`, ordered into the next
/// block and committed VALID by every peer of the channel.
#[test]
fn reference_network_commits_a_lifecycle_approval_on_every_peer() {
    approval_is_committed_everywhere(REFERENCE_VERSION, 1, 1);
}

/// The same flow on Fabric 3.1.1 with a three-node Raft cluster and two peers
/// per org, so that consenter wiring and intra-org gossip settings are exercised.
#[test]
fn reference_network_v3_raft_cluster_commits_a_lifecycle_approval_on_every_peer() {
    approval_is_committed_everywhere("3.1.1", 3, 2);
}

fn approval_is_committed_everywhere(version: &str, orderers: usize, peers_per_org: usize) {
    let started = Instant::now();
    let network = start_upstream_network(version, orderers, peers_per_org);
    eprintln!(
        "fabric {version} network up and joined in {:?}",
        started.elapsed()
    );
    let peers: Vec<String> = network.peers().iter().map(|p| p.name.clone()).collect();
    assert_eq!(peers.len(), 2 * peers_per_org);
    for peer in &peers {
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

    for peer in &peers {
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

    // Every peer holds the identical block (same header, so the same hash chain).
    for peer in &peers[1..] {
        let copy = network.fetch_block(peer, 1).unwrap();
        assert_eq!(copy.header, block.header, "{peer}");
        assert_eq!(copy.data, block.data, "{peer}");
    }

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
    eprintln!(
        "fabric {version} approval flow took {:?}",
        started.elapsed()
    );
}

/// A test that panics while its network runs must not leave node processes
/// behind; the work dir is kept for its logs.
#[test]
fn reference_network_processes_do_not_outlive_a_panicking_test() {
    let mut seen = (Vec::new(), std::path::PathBuf::new());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let network = start_upstream_network(REFERENCE_VERSION, 1, 1);
        seen = (network.node_pids(), network.work_dir().to_path_buf());
        panic!("deliberate panic with the network running");
    }));
    assert!(outcome.is_err());
    let (pids, work_dir) = seen;
    assert_eq!(pids.len(), 3, "one orderer and two peers were running");
    for (node, pid) in pids {
        // The harness reaps what it kills, so the pid is gone (barring reuse by an unrelated process).
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let program = String::from_utf8_lossy(&cmdline);
        assert!(
            !program.contains("upstream/fabric-"),
            "{node} (pid {pid}) is still running: {program}"
        );
    }
    assert!(
        work_dir.join("logs").is_dir(),
        "logs are kept after a panic"
    );
    std::fs::remove_dir_all(&work_dir).unwrap();
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
