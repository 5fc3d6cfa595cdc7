//! A channel genesis block written by upstream `configtxgen` (from identities made by upstream
//! `cryptogen`), taken apart level by level: every serialized message inside it, down to the MSP
//! definitions, the Raft consenter set and each policy, must decode in our types and re-encode to
//! the upstream bytes (up to map entry order; see `wire`). Values are then cross-checked against
//! what upstream `configtxlator` reads out of the same block.

use std::path::Path;
use std::process::Command;

use fabric_protos::common::{
    Block, BlockDataHashingStructure, Capabilities, ChannelHeader, Config, ConfigEnvelope,
    ConfigGroup, Envelope, HashingAlgorithm, HeaderType, ImplicitMetaPolicy, Metadata,
    MspPrincipal, MspRole, OrdererAddresses, Payload, SignatureHeader, SignaturePolicyEnvelope,
    msp_principal, policy::PolicyType,
};
use fabric_protos::msp::{FabricMspConfig, MspConfig};
use fabric_protos::orderer::{BatchSize, BatchTimeout, ChannelRestrictions, ConsensusType};
use fabric_protos::{etcdraft, peer};
use serde_json::Value as Json;

use super::{Checked, golden_dir, run, upstream_tool};

const CHANNEL_ID: &str = "weft-golden";
const PROFILE: &str = "TwoOrgsRaft";

/// What the walk found, for comparison with `configtxlator` and with `golden/configtx.yaml`.
#[derive(Default, Debug)]
struct Findings {
    channel_id: String,
    batch_max_message_count: u32,
    batch_absolute_max_bytes: u32,
    batch_timeout: String,
    consensus_type: String,
    raft_consenters: Vec<(String, u32)>,
    raft_tick_interval: String,
    /// (group path, MSP name) of every organisation.
    msp_ids: Vec<(String, String)>,
    orderer_endpoints: Vec<String>,
    anchor_peers: Vec<(String, i32)>,
}

fn generate_block(dir: &Path) -> Vec<u8> {
    super::cryptogen(dir);
    // configtx.yaml names the crypto material relative to its own directory.
    std::fs::copy(
        golden_dir().join("configtx.yaml"),
        dir.join("configtx.yaml"),
    )
    .unwrap();
    let block = dir.join("genesis.block");
    run(Command::new(upstream_tool("configtxgen"))
        .arg("-configPath")
        .arg(dir)
        .args([
            "-profile",
            PROFILE,
            "-channelID",
            CHANNEL_ID,
            "-outputBlock",
        ])
        .arg(&block));
    std::fs::read(&block).unwrap()
}

fn walk_block(checked: &Checked, bytes: &[u8]) -> Findings {
    let mut found = Findings::default();
    let block: Block = checked.roundtrip("common.Block", "block", bytes);
    let header = block.header.as_ref().expect("genesis block has a header");
    assert_eq!(header.number, 0);
    for (i, entry) in block
        .metadata
        .as_ref()
        .expect("block metadata")
        .metadata
        .iter()
        .enumerate()
    {
        if !entry.is_empty() {
            let _: Metadata =
                checked.roundtrip("common.Metadata", &format!("metadata[{i}]"), entry);
        }
    }
    let data = &block.data.as_ref().expect("block data").data;
    assert_eq!(
        data.len(),
        1,
        "a genesis block carries exactly one config transaction"
    );

    let envelope: Envelope = checked.roundtrip("common.Envelope", "data[0]", &data[0]);
    let payload: Payload =
        checked.roundtrip("common.Payload", "data[0].payload", &envelope.payload);
    let header = payload.header.as_ref().expect("payload header");
    let channel_header: ChannelHeader = checked.roundtrip(
        "common.ChannelHeader",
        "channel_header",
        &header.channel_header,
    );
    assert_eq!(channel_header.r#type, HeaderType::Config as i32);
    found.channel_id = channel_header.channel_id.clone();
    let signature_header: SignatureHeader = checked.roundtrip(
        "common.SignatureHeader",
        "signature_header",
        &header.signature_header,
    );
    assert!(
        !signature_header.nonce.is_empty(),
        "configtxgen sets a nonce"
    );

    let envelope: ConfigEnvelope = checked.roundtrip(
        "common.ConfigEnvelope",
        "data[0].payload.data",
        &payload.data,
    );
    let config: &Config = envelope.config.as_ref().expect("config");
    let root = config.channel_group.as_ref().expect("channel group");
    walk_group(checked, "Channel", root, &mut found);
    found
}

fn walk_group(checked: &Checked, path: &str, group: &ConfigGroup, found: &mut Findings) {
    for (key, value) in &group.values {
        check_value(
            checked,
            &format!("{path}/values/{key}"),
            key,
            &value.value,
            found,
        );
    }
    for (key, policy) in &group.policies {
        let policy = policy.policy.as_ref().expect("config policy has a policy");
        check_policy(
            checked,
            &format!("{path}/policies/{key}"),
            policy.r#type,
            &policy.value,
        );
    }
    for (key, child) in &group.groups {
        walk_group(checked, &format!("{path}/{key}"), child, found);
    }
}

/// Decodes a config value by its key, the way Fabric's channelconfig does. An unknown key fails
/// the test: every value in the block must be checked.
fn check_value(checked: &Checked, path: &str, key: &str, bytes: &[u8], found: &mut Findings) {
    match key {
        "HashingAlgorithm" => {
            let v: HashingAlgorithm = checked.roundtrip("common.HashingAlgorithm", path, bytes);
            assert_eq!(v.name, "SHA256");
        }
        "BlockDataHashingStructure" => {
            let v: BlockDataHashingStructure =
                checked.roundtrip("common.BlockDataHashingStructure", path, bytes);
            assert_eq!(v.width, u32::MAX);
        }
        "OrdererAddresses" | "Endpoints" => {
            let v: OrdererAddresses = checked.roundtrip("common.OrdererAddresses", path, bytes);
            found.orderer_endpoints.extend(v.addresses);
        }
        "Capabilities" => {
            let v: Capabilities = checked.roundtrip("common.Capabilities", path, bytes);
            assert!(!v.capabilities.is_empty(), "{path}: no capabilities");
        }
        "BatchSize" => {
            let v: BatchSize = checked.roundtrip("orderer.BatchSize", path, bytes);
            found.batch_max_message_count = v.max_message_count;
            found.batch_absolute_max_bytes = v.absolute_max_bytes;
        }
        "BatchTimeout" => {
            let v: BatchTimeout = checked.roundtrip("orderer.BatchTimeout", path, bytes);
            found.batch_timeout = v.timeout;
        }
        "ChannelRestrictions" => {
            let _: ChannelRestrictions =
                checked.roundtrip("orderer.ChannelRestrictions", path, bytes);
        }
        "ConsensusType" => {
            let v: ConsensusType = checked.roundtrip("orderer.ConsensusType", path, bytes);
            found.consensus_type = v.r#type.clone();
            let meta: etcdraft::ConfigMetadata = checked.roundtrip(
                "etcdraft.ConfigMetadata",
                &format!("{path}/metadata"),
                &v.metadata,
            );
            found.raft_consenters = meta
                .consenters
                .iter()
                .map(|c| (c.host.clone(), c.port))
                .collect();
            found.raft_tick_interval = meta.options.map(|o| o.tick_interval).unwrap_or_default();
        }
        "MSP" => {
            let v: MspConfig = checked.roundtrip("msp.MSPConfig", path, bytes);
            assert_eq!(v.r#type, 0, "{path}: cryptogen makes X.509 (FABRIC) MSPs");
            let fabric: FabricMspConfig =
                checked.roundtrip("msp.FabricMSPConfig", &format!("{path}/config"), &v.config);
            assert!(
                !fabric.root_certs.is_empty(),
                "{path}: no root certificates"
            );
            let node_ous = fabric
                .fabric_node_ous
                .expect("EnableNodeOUs was set in crypto-config");
            assert!(node_ous.enable);
            found.msp_ids.push((path.to_string(), fabric.name));
        }
        "AnchorPeers" => {
            let v: peer::AnchorPeers = checked.roundtrip("protos.AnchorPeers", path, bytes);
            found
                .anchor_peers
                .extend(v.anchor_peers.into_iter().map(|p| (p.host, p.port)));
        }
        "ACLs" => {
            let _: peer::AcLs = checked.roundtrip("protos.ACLs", path, bytes);
        }
        other => panic!("{path}: config value {other} is not checked by this test; add it"),
    }
}

fn check_policy(checked: &Checked, path: &str, policy_type: i32, bytes: &[u8]) {
    match PolicyType::try_from(policy_type) {
        Ok(PolicyType::Signature) => {
            let v: SignaturePolicyEnvelope =
                checked.roundtrip("common.SignaturePolicyEnvelope", path, bytes);
            for (i, identity) in v.identities.iter().enumerate() {
                check_principal(checked, &format!("{path}/identities[{i}]"), identity);
            }
        }
        Ok(PolicyType::ImplicitMeta) => {
            let _: ImplicitMetaPolicy = checked.roundtrip("common.ImplicitMetaPolicy", path, bytes);
        }
        other => panic!("{path}: policy type {other:?} not expected from configtxgen"),
    }
}

fn check_principal(checked: &Checked, path: &str, principal: &MspPrincipal) {
    let role = msp_principal::Classification::Role as i32;
    assert_eq!(
        principal.principal_classification, role,
        "{path}: configtx.yaml only uses roles"
    );
    let _: MspRole = checked.roundtrip("common.MSPRole", path, &principal.principal);
}

/// Upstream `configtxlator proto_decode` output for the block.
fn configtxlator_json(block: &Path) -> Json {
    let output = run(Command::new(upstream_tool("configtxlator"))
        .args(["proto_decode", "--type", "common.Block", "--input"])
        .arg(block));
    serde_json::from_slice(&output.stdout).expect("configtxlator prints JSON")
}

fn json_at<'a>(json: &'a Json, pointer: &str) -> &'a Json {
    json.pointer(pointer)
        .unwrap_or_else(|| panic!("configtxlator JSON has no {pointer}"))
}

/// Mirrors the genesis block that `configtxgen -outputBlock` writes for an application channel
/// under channel participation (Fabric 2.3+): every level round-trips through our types.
#[test]
fn golden_configtxgen_genesis_block_roundtrips_at_every_level() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = generate_block(dir.path());
    let checked = Checked::default();
    let found = walk_block(&checked, &bytes);

    // The walk must have reached every kind of value the profile produces; a walk that silently
    // stopped early would otherwise pass.
    let expected = [
        "common.Block",
        "common.Envelope",
        "common.Payload",
        "common.ChannelHeader",
        "common.SignatureHeader",
        "common.ConfigEnvelope",
        "common.HashingAlgorithm",
        "common.BlockDataHashingStructure",
        "common.Capabilities",
        "common.OrdererAddresses",
        "common.SignaturePolicyEnvelope",
        "common.ImplicitMetaPolicy",
        "msp.MSPConfig",
        "msp.FabricMSPConfig",
        "common.MSPRole",
        "orderer.BatchSize",
        "orderer.BatchTimeout",
        "orderer.ChannelRestrictions",
        "orderer.ConsensusType",
        "etcdraft.ConfigMetadata",
        "protos.AnchorPeers",
    ];
    let types = checked.types();
    for name in expected {
        assert!(
            types.contains(name),
            "{name} was never checked; checked: {types:?}"
        );
    }
    let (identical, canonicalised) = checked.counts();
    eprintln!(
        "{} encodings checked: {identical} identical as written, {canonicalised} after map \
         normalisation; types: {types:?}",
        identical + canonicalised
    );
    assert!(
        identical > canonicalised,
        "most config values have no maps and must match exactly"
    );

    // Values as written in golden/configtx.yaml.
    assert_eq!(found.channel_id, CHANNEL_ID);
    assert_eq!(found.batch_max_message_count, 17);
    assert_eq!(found.batch_absolute_max_bytes, 9 * 1024 * 1024);
    assert_eq!(found.batch_timeout, "2s");
    assert_eq!(found.consensus_type, "etcdraft");
    assert_eq!(
        found.raft_consenters,
        vec![("raft0.orderer.weft.test".to_string(), 7050)]
    );
    assert_eq!(found.raft_tick_interval, "500ms");
    assert_eq!(
        found.orderer_endpoints,
        vec!["raft0.orderer.weft.test:7050".to_string()]
    );
    assert_eq!(
        found.anchor_peers,
        vec![("peer0.org1.weft.test".to_string(), 7051)]
    );
    let mut msp_names: Vec<&str> = found
        .msp_ids
        .iter()
        .map(|(_, name)| name.as_str())
        .collect();
    msp_names.sort();
    assert_eq!(msp_names, ["OrdererMSP", "Org1MSP", "Org2MSP"]);
}

/// What our types read out of the block agrees with what upstream `configtxlator` reads.
#[test]
fn golden_genesis_block_agrees_with_configtxlator() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = generate_block(dir.path());
    let found = walk_block(&Checked::default(), &bytes);
    let json = configtxlator_json(&dir.path().join("genesis.block"));

    let payload = "/data/data/0/payload";
    let channel_id = json_at(
        &json,
        &format!("{payload}/header/channel_header/channel_id"),
    );
    assert_eq!(channel_id.as_str(), Some(found.channel_id.as_str()));

    let channel = format!("{payload}/data/config/channel_group");
    let orderer = format!("{channel}/groups/Orderer/values");
    let batch = json_at(&json, &format!("{orderer}/BatchSize/value"));
    assert_eq!(
        batch["max_message_count"].as_u64(),
        Some(u64::from(found.batch_max_message_count))
    );
    assert_eq!(
        batch["absolute_max_bytes"].as_u64(),
        Some(u64::from(found.batch_absolute_max_bytes))
    );
    let timeout = json_at(&json, &format!("{orderer}/BatchTimeout/value/timeout"));
    assert_eq!(timeout.as_str(), Some(found.batch_timeout.as_str()));
    let consensus = json_at(&json, &format!("{orderer}/ConsensusType/value"));
    assert_eq!(
        consensus["type"].as_str(),
        Some(found.consensus_type.as_str())
    );
    let consenters: Vec<(String, u32)> = consensus["metadata"]["consenters"]
        .as_array()
        .expect("raft consenters in configtxlator JSON")
        .iter()
        .map(|c| {
            (
                c["host"].as_str().unwrap().to_string(),
                c["port"].as_u64().unwrap() as u32,
            )
        })
        .collect();
    assert_eq!(consenters, found.raft_consenters);

    // Each organisation's MSP name, looked up under the same group path in both readings.
    assert_eq!(found.msp_ids.len(), 3);
    for (path, name) in &found.msp_ids {
        let groups: Vec<&str> = path
            .trim_end_matches("/values/MSP")
            .split('/')
            .skip(1)
            .collect();
        let mut pointer = channel.clone();
        for group in groups {
            pointer.push_str(&format!("/groups/{group}"));
        }
        let theirs = json_at(&json, &format!("{pointer}/values/MSP/value/config/name"));
        assert_eq!(theirs.as_str(), Some(name.as_str()), "{path}");
    }
}
