//! A channel config built the way configtxgen lays one out (SampleAppChannelEtcdRaft shape:
//! one orderer org, two peer orgs, implicit-meta channel policies, signature org policies),
//! and helpers to sign config updates as org admins.

use std::collections::BTreeMap;

use fabric_protos::common::msp_principal::Classification;
use fabric_protos::common::policy::PolicyType;
use fabric_protos::common::signature_policy::{NOutOf, Type as RuleType};
use fabric_protos::common::{
    BlockDataHashingStructure, Capabilities, Capability, ChannelHeader, Config, ConfigGroup,
    ConfigPolicy, ConfigSignature, ConfigUpdate, ConfigUpdateEnvelope, ConfigValue, Envelope,
    HashingAlgorithm, Header, HeaderType, ImplicitMetaPolicy, MspPrincipal, MspRole,
    OrdererAddresses, Payload, Policy, SignatureHeader, SignaturePolicy, SignaturePolicyEnvelope,
    implicit_meta_policy::Rule, msp_role::MspRoleType,
};
use fabric_protos::etcdraft;
use fabric_protos::msp::{FabricMspConfig, MspConfig};
use fabric_protos::orderer::{BatchSize, BatchTimeout, ChannelRestrictions, ConsensusType};
use fabric_protos::protos::{AnchorPeer, AnchorPeers};
use prost::Message;
use weft_channelconfig::{BundleSources, ChannelBundle};

use crate::fakes::{FakeMspFactory, FakePolicyProvider, fake_signature, serialized};

pub const CHANNEL: &str = "mychannel";

pub fn sources() -> BundleSources<'static> {
    BundleSources {
        msps: &FakeMspFactory,
        policies: &FakePolicyProvider,
    }
}

pub fn value<M: Message>(m: &M) -> ConfigValue {
    ConfigValue {
        version: 0,
        value: m.encode_to_vec(),
        mod_policy: "Admins".into(),
    }
}

pub fn implicit_meta(rule: Rule, sub: &str) -> ConfigPolicy {
    let p = ImplicitMetaPolicy {
        sub_policy: sub.into(),
        rule: rule as i32,
    };
    ConfigPolicy {
        version: 0,
        policy: Some(Policy {
            r#type: PolicyType::ImplicitMeta as i32,
            value: p.encode_to_vec(),
        }),
        mod_policy: "Admins".into(),
    }
}

/// `OR(msp.role)`, as configtxgen writes org policies.
pub fn signed_by_role(msp_id: &str, role: MspRoleType) -> ConfigPolicy {
    let principal = MspPrincipal {
        principal_classification: Classification::Role as i32,
        principal: MspRole {
            msp_identifier: msp_id.into(),
            role: role as i32,
        }
        .encode_to_vec(),
    };
    let rule = SignaturePolicy {
        r#type: Some(RuleType::NOutOf(NOutOf {
            n: 1,
            rules: vec![SignaturePolicy {
                r#type: Some(RuleType::SignedBy(0)),
            }],
        })),
    };
    let env = SignaturePolicyEnvelope {
        version: 0,
        rule: Some(rule),
        identities: vec![principal],
    };
    ConfigPolicy {
        version: 0,
        policy: Some(Policy {
            r#type: PolicyType::Signature as i32,
            value: env.encode_to_vec(),
        }),
        mod_policy: "Admins".into(),
    }
}

fn capabilities(names: &[&str]) -> ConfigValue {
    let mut caps = Capabilities::default();
    for n in names {
        caps.capabilities.insert((*n).into(), Capability::default());
    }
    value(&caps)
}

pub fn msp_value(msp_id: &str) -> ConfigValue {
    let fabric = FabricMspConfig {
        name: msp_id.into(),
        ..Default::default()
    };
    value(&MspConfig {
        r#type: 0,
        config: fabric.encode_to_vec(),
    })
}

pub fn org_group(msp_id: &str) -> ConfigGroup {
    let mut g = ConfigGroup {
        mod_policy: "Admins".into(),
        ..Default::default()
    };
    g.values.insert("MSP".into(), msp_value(msp_id));
    g.policies.insert(
        "Readers".into(),
        signed_by_role(msp_id, MspRoleType::Member),
    );
    g.policies.insert(
        "Writers".into(),
        signed_by_role(msp_id, MspRoleType::Member),
    );
    g.policies
        .insert("Admins".into(), signed_by_role(msp_id, MspRoleType::Admin));
    g.policies.insert(
        "Endorsement".into(),
        signed_by_role(msp_id, MspRoleType::Member),
    );
    g
}

fn standard_policies(g: &mut ConfigGroup) {
    g.policies
        .insert("Readers".into(), implicit_meta(Rule::Any, "Readers"));
    g.policies
        .insert("Writers".into(), implicit_meta(Rule::Any, "Writers"));
    g.policies
        .insert("Admins".into(), implicit_meta(Rule::Majority, "Admins"));
}

pub fn raft_metadata() -> Vec<u8> {
    let consenter = etcdraft::Consenter {
        host: "orderer.example.com".into(),
        port: 7050,
        client_tls_cert: b"client-cert".to_vec(),
        server_tls_cert: b"server-cert".to_vec(),
    };
    let options = etcdraft::Options {
        tick_interval: "500ms".into(),
        election_tick: 10,
        heartbeat_tick: 1,
        max_inflight_blocks: 5,
        snapshot_interval_size: 16 * 1024 * 1024,
    };
    etcdraft::ConfigMetadata {
        consenters: vec![consenter],
        options: Some(options),
    }
    .encode_to_vec()
}

pub fn base_config() -> Config {
    let mut orderer = ConfigGroup {
        mod_policy: "Admins".into(),
        ..Default::default()
    };
    let ct = ConsensusType {
        r#type: "etcdraft".into(),
        metadata: raft_metadata(),
        state: 0,
    };
    orderer.values.insert("ConsensusType".into(), value(&ct));
    let bs = BatchSize {
        max_message_count: 10,
        absolute_max_bytes: 103_809_024,
        preferred_max_bytes: 524_288,
    };
    orderer.values.insert("BatchSize".into(), value(&bs));
    orderer.values.insert(
        "BatchTimeout".into(),
        value(&BatchTimeout {
            timeout: "2s".into(),
        }),
    );
    orderer.values.insert(
        "ChannelRestrictions".into(),
        value(&ChannelRestrictions { max_count: 0 }),
    );
    orderer
        .values
        .insert("Capabilities".into(), capabilities(&["V2_0"]));
    standard_policies(&mut orderer);
    orderer.policies.insert(
        "BlockValidation".into(),
        implicit_meta(Rule::Any, "Writers"),
    );
    let mut orderer_org = org_group("OrdererMSP");
    orderer_org.policies.remove("Endorsement");
    let endpoints = OrdererAddresses {
        addresses: vec!["orderer.example.com:7050".into()],
    };
    orderer_org
        .values
        .insert("Endpoints".into(), value(&endpoints));
    orderer.groups.insert("OrdererOrg".into(), orderer_org);

    let mut app = ConfigGroup {
        mod_policy: "Admins".into(),
        ..Default::default()
    };
    app.values
        .insert("Capabilities".into(), capabilities(&["V2_0"]));
    standard_policies(&mut app);
    app.policies.insert(
        "Endorsement".into(),
        implicit_meta(Rule::Majority, "Endorsement"),
    );
    app.policies.insert(
        "LifecycleEndorsement".into(),
        implicit_meta(Rule::Majority, "Endorsement"),
    );
    for (org, port) in [("Org1", 7051), ("Org2", 9051)] {
        let mut g = org_group(&format!("{org}MSP"));
        let anchors = AnchorPeers {
            anchor_peers: vec![AnchorPeer {
                host: format!("peer0.{org}"),
                port,
            }],
        };
        g.values.insert("AnchorPeers".into(), value(&anchors));
        app.groups.insert(org.into(), g);
    }

    let mut root = ConfigGroup {
        mod_policy: "Admins".into(),
        ..Default::default()
    };
    root.values.insert(
        "HashingAlgorithm".into(),
        value(&HashingAlgorithm {
            name: "SHA256".into(),
        }),
    );
    root.values.insert(
        "BlockDataHashingStructure".into(),
        value(&BlockDataHashingStructure { width: u32::MAX }),
    );
    root.values.insert(
        "OrdererAddresses".into(),
        value(&OrdererAddresses {
            addresses: vec!["orderer.example.com:7050".into()],
        }),
    );
    root.values
        .insert("Capabilities".into(), capabilities(&["V2_0"]));
    standard_policies(&mut root);
    root.groups.insert("Orderer".into(), orderer);
    root.groups.insert("Application".into(), app);
    Config {
        sequence: 0,
        channel_group: Some(root),
    }
}

pub fn base_bundle() -> ChannelBundle {
    ChannelBundle::new(CHANNEL, &base_config(), sources()).unwrap()
}

/// The admin identity of an org (`Org1` -> `Org1MSP`, `OrdererOrg` -> `OrdererMSP`).
pub fn admin_of(org: &str) -> Vec<u8> {
    let msp = if org == "OrdererOrg" {
        "OrdererMSP".to_string()
    } else {
        format!("{org}MSP")
    };
    serialized(&msp, "admin")
}

/// Signs `update` as each of `signers` and wraps it in a CONFIG_UPDATE envelope.
pub fn update_envelope(update: &ConfigUpdate, signers: &[Vec<u8>]) -> Envelope {
    update_envelope_signed(
        update,
        &|i, data| (signers[i].clone(), fake_signature(&signers[i], data)),
        signers.len(),
    )
}

/// Given a signer index and the bytes to sign, the signer's creator and its signature.
pub type Signer<'a> = &'a dyn Fn(usize, &[u8]) -> (Vec<u8>, Vec<u8>);

/// Wraps `update` in a CONFIG_UPDATE envelope with `count` signatures; `sign(i, bytes)`
/// returns the i-th creator and its signature over `signature_header || config_update`.
pub fn update_envelope_signed(update: &ConfigUpdate, sign: Signer<'_>, count: usize) -> Envelope {
    let config_update = update.encode_to_vec();
    let signatures = (0..count)
        .map(|i| {
            // The creator is needed inside the header before signing; ask for it first.
            let (creator, _) = sign(i, &[]);
            let header = SignatureHeader {
                creator,
                nonce: vec![i as u8; 24],
            }
            .encode_to_vec();
            let mut signed = header.clone();
            signed.extend_from_slice(&config_update);
            let (_, signature) = sign(i, &signed);
            ConfigSignature {
                signature,
                signature_header: header,
            }
        })
        .collect();
    let cue = ConfigUpdateEnvelope {
        config_update,
        signatures,
    };
    let channel_header = ChannelHeader {
        r#type: HeaderType::ConfigUpdate as i32,
        channel_id: update.channel_id.clone(),
        ..Default::default()
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: vec![],
        }),
        data: cue.encode_to_vec(),
    };
    Envelope {
        payload: payload.encode_to_vec(),
        signature: vec![],
    }
}

/// The tree with every version zeroed, to compare contents regardless of versions.
pub fn without_versions(g: &ConfigGroup) -> ConfigGroup {
    ConfigGroup {
        version: 0,
        groups: g
            .groups
            .iter()
            .map(|(k, c)| (k.clone(), without_versions(c)))
            .collect(),
        values: g
            .values
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    ConfigValue {
                        version: 0,
                        ..v.clone()
                    },
                )
            })
            .collect(),
        policies: g
            .policies
            .iter()
            .map(|(k, p)| {
                (
                    k.clone(),
                    ConfigPolicy {
                        version: 0,
                        ..p.clone()
                    },
                )
            })
            .collect::<BTreeMap<_, _>>(),
        mod_policy: g.mod_policy.clone(),
    }
}
