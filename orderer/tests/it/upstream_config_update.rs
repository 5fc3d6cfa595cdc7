//! A channel config update made the way Fabric operators make one, with upstream 2.5.9 tools,
//! against Weft's `orderer` binary: `peer channel fetch config` from the orderer,
//! `configtxlator proto_decode` / `proto_encode` / `compute_update`, an edit of the Orderer
//! group's `BatchSize.MaxMessageCount`, the update wrapped in a `common.Envelope`, and
//! `peer channel update` signed by the orderer org admin (the Orderer group's `mod_policy` is
//! `Admins`, i.e. the orderer org admins). Mirrors Fabric's behaviour that the config sequence
//! is incremented, the new batch size cuts blocks from then on, and that an update signed only
//! by a peer org admin fails the Orderer group's `mod_policy` and leaves the config unchanged.
//! Fails, never skips, when the upstream binaries are missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use prost::Message;
use weft_interop_tests::process::{clean_command, run_bounded};
use weft_interop_tests::{
    CLI_TIMEOUT, CommandOutput, Network, NodeCommand, REFERENCE_VERSION, TOOL_TIMEOUT, Topology,
    UpstreamToolchain,
};

const CHANNEL: &str = "mychannel";
const ORDERER_MSP: &str = "OrdererMSP";
const ORG1_PEER: &str = "peer0.org1.example.com";
const ORG2_PEER: &str = "peer0.org2.example.com";
/// Long enough that two transactions submitted together share a block unless the batch size
/// forces a cut after each one.
const BATCH_TIMEOUT_MS: u64 = 2_000;
/// A package no peer has installed: Fabric lets an org approve such a definition.
const UNINSTALLED_PACKAGE_ID: &str =
    "weftcc_1.0:0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000";

/// Runs the `peer` CLI with `peer_name`'s connection settings but as the orderer org admin.
fn peer_cli_as_orderer_admin(network: &Network, args: &[&str]) -> CommandOutput {
    let admin = network.admin_of(ORDERER_MSP).unwrap();
    let mut command = network.peer_cli_command(ORG1_PEER, args).unwrap();
    command
        .env("CORE_PEER_LOCALMSPID", &admin.msp_id)
        .env("CORE_PEER_MSPCONFIGPATH", admin.crypto_dir.join("msp"))
        .env("CORE_PEER_TLS_CLIENTCERT_FILE", admin.tls_cert())
        .env("CORE_PEER_TLS_CLIENTKEY_FILE", admin.tls_key());
    run_bounded(command, CLI_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

fn with_orderer(network: &Network, args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    all.extend(network.orderer_args());
    all
}

fn configtxlator(network: &Network, args: &[&str]) {
    let mut command: Command = clean_command(&network.toolchain().bin("configtxlator"));
    command.args(args).current_dir(network.work_dir());
    run_bounded(command, TOOL_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
}

fn path_arg(path: &Path) -> String {
    path.display().to_string()
}

/// `peer channel fetch config` from the Weft orderer as the orderer org admin, decoded with
/// `configtxlator`; returns the channel `common.Config` as configtxlator's JSON.
fn fetch_config(network: &Network, name: &str) -> serde_json::Value {
    let dir = network.work_dir();
    let block = dir.join(format!("{name}.pb"));
    let block_json = dir.join(format!("{name}.json"));
    let args = with_orderer(
        network,
        &[
            "channel",
            "fetch",
            "config",
            &path_arg(&block),
            "-c",
            CHANNEL,
        ],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    peer_cli_as_orderer_admin(network, &args);
    configtxlator(
        network,
        &[
            "proto_decode",
            "--input",
            &path_arg(&block),
            "--type",
            "common.Block",
            "--output",
            &path_arg(&block_json),
        ],
    );
    let block: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&block_json).unwrap()).unwrap();
    block["data"]["data"][0]["payload"]["data"]["config"].clone()
}

fn max_message_count(config: &serde_json::Value) -> u64 {
    config["channel_group"]["groups"]["Orderer"]["values"]["BatchSize"]["value"]
        ["max_message_count"]
        .as_u64()
        .unwrap_or_else(|| panic!("no BatchSize.max_message_count in {config}"))
}

fn sequence(config: &serde_json::Value) -> u64 {
    // proto3 JSON renders uint64 as a string.
    config["sequence"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no sequence in {config}"))
}

/// Builds the update envelope file (unsigned) that sets `MaxMessageCount` to `count`:
/// encode original and edited config, `compute_update`, wrap it in a CONFIG_UPDATE envelope.
fn batch_size_update(network: &Network, original: &serde_json::Value, count: u64) -> PathBuf {
    let dir = network.work_dir();
    let mut edited = original.clone();
    edited["channel_group"]["groups"]["Orderer"]["values"]["BatchSize"]["value"]["max_message_count"] =
        count.into();
    let encode = |json: &serde_json::Value, name: &str, proto: &str| {
        let input = dir.join(format!("{name}.json"));
        let output = dir.join(format!("{name}.pb"));
        std::fs::write(&input, serde_json::to_vec(json).unwrap()).unwrap();
        configtxlator(
            network,
            &[
                "proto_encode",
                "--input",
                &path_arg(&input),
                "--type",
                proto,
                "--output",
                &path_arg(&output),
            ],
        );
        output
    };
    let original_pb = encode(original, "original_config", "common.Config");
    let edited_pb = encode(&edited, "modified_config", "common.Config");
    let update_pb = dir.join("config_update.pb");
    let update_json = dir.join("config_update.json");
    configtxlator(
        network,
        &[
            "compute_update",
            "--channel_id",
            CHANNEL,
            "--original",
            &path_arg(&original_pb),
            "--updated",
            &path_arg(&edited_pb),
            "--output",
            &path_arg(&update_pb),
        ],
    );
    configtxlator(
        network,
        &[
            "proto_decode",
            "--input",
            &path_arg(&update_pb),
            "--type",
            "common.ConfigUpdate",
            "--output",
            &path_arg(&update_json),
        ],
    );
    let update: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&update_json).unwrap()).unwrap();
    // HeaderType CONFIG_UPDATE is 2.
    let envelope = serde_json::json!({
        "payload": {
            "header": { "channel_header": { "channel_id": CHANNEL, "type": 2 } },
            "data": { "config_update": update },
        }
    });
    encode(&envelope, "config_update_in_envelope", "common.Envelope")
}

fn tx_id_of(envelope: &[u8]) -> String {
    let envelope = fabric_protos::common::Envelope::decode(envelope).unwrap();
    let payload = fabric_protos::common::Payload::decode(envelope.payload.as_slice()).unwrap();
    fabric_protos::common::ChannelHeader::decode(payload.header.unwrap().channel_header.as_slice())
        .unwrap()
        .tx_id
}

fn approve_command(network: &Network, peer: &str) -> Command {
    let args = with_orderer(
        network,
        &[
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
        ],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    network.peer_cli_command(peer, &args).unwrap()
}

#[test]
fn upstream_config_update_of_batch_size_takes_effect_on_weft() {
    let toolchain = UpstreamToolchain::locate(REFERENCE_VERSION).unwrap_or_else(|e| panic!("{e}"));
    let mut topology = Topology::new(CHANNEL, &toolchain)
        .peer_org("Org1", 1)
        .peer_org("Org2", 1);
    topology.orderer_command = NodeCommand::new(env!("CARGO_BIN_EXE_orderer"), &[]);
    topology.batch_timeout_ms = BATCH_TIMEOUT_MS;
    let network = Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"));
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));

    let original = fetch_config(&network, "config_block_0");
    assert_eq!(max_message_count(&original), 100);
    let original_sequence = sequence(&original);
    let update = path_arg(&batch_size_update(&network, &original, 1));

    // A peer org admin alone does not satisfy the Orderer group's mod_policy: the orderer
    // rejects the update and `peer channel update` fails.
    let args = with_orderer(
        &network,
        &["channel", "update", "-f", &update, "-c", CHANNEL],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let rejected = network.peer_cli(ORG1_PEER, &args);
    let error = rejected
        .expect_err("an update signed by Org1's admin alone must be rejected")
        .to_string();
    // As Fabric's Broadcast handler: a config update failing validation is BAD_REQUEST.
    assert!(error.contains("BAD_REQUEST"), "{error}");
    assert!(error.contains("/Channel/Orderer/BatchSize"), "{error}");
    let unchanged = fetch_config(&network, "config_block_after_rejection");
    assert_eq!(unchanged, original, "a rejected update changed the config");
    assert_eq!(network.channel_height(ORG1_PEER).unwrap(), 1);

    // Signed by the orderer org admin (the caller of `peer channel update`): accepted.
    let output = peer_cli_as_orderer_admin(&network, &args);
    assert!(
        output
            .stderr
            .contains("Successfully submitted channel update"),
        "{}",
        output.stderr
    );
    for peer in [ORG1_PEER, ORG2_PEER] {
        network
            .wait_for_height(peer, 2)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let updated = fetch_config(&network, "config_block_1");
    assert_eq!(max_message_count(&updated), 1);
    assert_eq!(sequence(&updated), original_sequence + 1);
    let block = network.fetch_block(ORG2_PEER, 1).unwrap();
    let last_config = {
        let metadata = &block.metadata.as_ref().unwrap().metadata;
        // BlockMetadataIndex SIGNATURES (0) carries the last config index.
        let signatures = fabric_protos::common::Metadata::decode(metadata[0].as_slice()).unwrap();
        fabric_protos::common::OrdererBlockMetadata::decode(signatures.value.as_slice())
            .unwrap()
            .last_config
            .unwrap()
            .index
    };
    assert_eq!(last_config, 1, "block 1 is the new config block");

    // Two approvals submitted together: with MaxMessageCount 1 each is cut into its own
    // block at once (well before the 2 s batch timeout that would otherwise gather them).
    let commands = [
        approve_command(&network, ORG1_PEER),
        approve_command(&network, ORG2_PEER),
    ];
    let outputs: Vec<CommandOutput> = std::thread::scope(|scope| {
        let handles: Vec<_> = commands
            .into_iter()
            .map(|command| scope.spawn(move || run_bounded(command, CLI_TIMEOUT)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap_or_else(|e| panic!("{e}")))
            .collect()
    });
    for output in &outputs {
        assert!(
            output.stderr.contains("committed with status (VALID)"),
            "{}",
            output.stderr
        );
    }
    let mut tx_ids = Vec::new();
    for number in [2, 3] {
        network
            .wait_for_height(ORG1_PEER, number + 1)
            .unwrap_or_else(|e| panic!("{e}"));
        let block = network.fetch_block(ORG1_PEER, number).unwrap();
        let data = &block.data.as_ref().unwrap().data;
        assert_eq!(data.len(), 1, "block {number} holds one transaction");
        tx_ids.push(tx_id_of(&data[0]));
    }
    assert_ne!(tx_ids[0], tx_ids[1]);
    for output in &outputs {
        assert!(
            tx_ids.iter().any(|id| output.stderr.contains(id.as_str())),
            "{}",
            output.stderr
        );
    }
    assert_eq!(network.channel_height(ORG2_PEER).unwrap(), 4);
}
