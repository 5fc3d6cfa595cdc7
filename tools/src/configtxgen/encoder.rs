//! Builds the channel configuration tree from a profile, group for group as upstream's
//! configtxgen encoder does: the same group, value and policy keys, mod_policy "Admins"
//! everywhere except OrdererAddresses ("/Channel/Orderer/Admins"), version 0, capabilities
//! listing only the enabled ones, and values only present when the profile sets them.

use std::collections::BTreeMap;
use std::path::Path;

use fabric_protos::common::{
    BlockDataHashingStructure, Capabilities, Capability, ConfigGroup, ConfigPolicy, ConfigValue,
    HashingAlgorithm, OrdererAddresses, Policy, policy,
};
use fabric_protos::etcdraft::{ConfigMetadata, Consenter, Options};
use fabric_protos::orderer::{
    BatchSize, BatchTimeout, ChannelRestrictions, ConsensusType, KafkaBrokers,
};
use fabric_protos::protos::{AcLs, AnchorPeer, AnchorPeers, ApiResource};
use prost::Message;

use super::config::{Application, Orderer, Organization, PolicySpec, Profile, format_go_duration};
use super::policy_text::{implicit_meta_policy, signature_policy};
use crate::error::ToolError;

const ADMINS: &str = "Admins";
const ORDERER_ADMINS: &str = "/Channel/Orderer/Admins";

fn value(group: &mut ConfigGroup, key: &str, message: &impl Message, mod_policy: &str) {
    group.values.insert(
        key.to_string(),
        ConfigValue {
            version: 0,
            value: message.encode_to_vec(),
            mod_policy: mod_policy.to_string(),
        },
    );
}

fn new_group() -> ConfigGroup {
    ConfigGroup {
        mod_policy: ADMINS.to_string(),
        ..ConfigGroup::default()
    }
}

/// Adds the policies of a section; Admins, Readers and Writers are required (upstream's rule).
fn add_policies(
    group: &mut ConfigGroup,
    policies: Option<&BTreeMap<String, PolicySpec>>,
    section: &str,
) -> Result<(), ToolError> {
    let policies =
        policies.ok_or_else(|| ToolError::Config(format!("{section}: no policies defined")))?;
    for required in ["Admins", "Readers", "Writers"] {
        if !policies.contains_key(required) {
            return Err(ToolError::Config(format!(
                "{section}: no {required} policy defined"
            )));
        }
    }
    for (name, spec) in policies {
        let policy = match spec.kind.as_str() {
            "ImplicitMeta" => Policy {
                r#type: policy::PolicyType::ImplicitMeta as i32,
                value: implicit_meta_policy(&spec.rule)?.encode_to_vec(),
            },
            "Signature" => Policy {
                r#type: policy::PolicyType::Signature as i32,
                value: signature_policy(&spec.rule)?.encode_to_vec(),
            },
            other => {
                return Err(ToolError::Config(format!(
                    "{section}: policy {name} has unknown type {other:?}; use Signature or ImplicitMeta"
                )));
            }
        };
        group.policies.insert(
            name.clone(),
            ConfigPolicy {
                version: 0,
                policy: Some(policy),
                mod_policy: ADMINS.to_string(),
            },
        );
    }
    Ok(())
}

fn capabilities(caps: &BTreeMap<String, bool>) -> Capabilities {
    Capabilities {
        capabilities: caps
            .iter()
            .filter(|(_, on)| **on)
            .map(|(name, _)| (name.clone(), Capability {}))
            .collect(),
    }
}

/// The `/Channel` group for `profile`.
pub fn channel_group(profile: &Profile) -> Result<ConfigGroup, ToolError> {
    if profile.consortiums.is_some() {
        return Err(ToolError::Config(
            "profiles with Consortiums (system channels) are not supported; \
             use an application channel profile with Orderer and Application sections"
                .to_string(),
        ));
    }
    let mut group = new_group();
    add_policies(&mut group, profile.policies.as_ref(), "Channel")?;
    value(
        &mut group,
        "HashingAlgorithm",
        &HashingAlgorithm {
            name: "SHA256".into(),
        },
        ADMINS,
    );
    value(
        &mut group,
        "BlockDataHashingStructure",
        &BlockDataHashingStructure { width: u32::MAX },
        ADMINS,
    );
    if let Some(orderer) = profile.orderer.as_ref().filter(|o| !o.addresses.is_empty()) {
        value(
            &mut group,
            "OrdererAddresses",
            &OrdererAddresses {
                addresses: orderer.addresses.clone(),
            },
            ORDERER_ADMINS,
        );
    }
    if !profile.consortium.is_empty() {
        value(
            &mut group,
            "Consortium",
            &fabric_protos::common::Consortium {
                name: profile.consortium.clone(),
            },
            ADMINS,
        );
    }
    if !profile.capabilities.is_empty() {
        value(
            &mut group,
            "Capabilities",
            &capabilities(&profile.capabilities),
            ADMINS,
        );
    }
    if let Some(orderer) = &profile.orderer {
        group
            .groups
            .insert("Orderer".into(), orderer_group(orderer)?);
    }
    if let Some(app) = &profile.application {
        group
            .groups
            .insert("Application".into(), application_group(app)?);
    }
    Ok(group)
}

fn orderer_group(orderer: &Orderer) -> Result<ConfigGroup, ToolError> {
    let mut group = new_group();
    let has_block_validation = orderer
        .policies
        .as_ref()
        .is_some_and(|p| p.contains_key("BlockValidation"));
    if orderer.policies.is_some() && !has_block_validation {
        return Err(ToolError::Config(
            "Orderer: no BlockValidation policy defined".into(),
        ));
    }
    add_policies(&mut group, orderer.policies.as_ref(), "Orderer")?;
    let size = &orderer.batch_size;
    value(
        &mut group,
        "BatchSize",
        &BatchSize {
            max_message_count: size.max_message_count,
            absolute_max_bytes: size.absolute_max_bytes,
            preferred_max_bytes: size.preferred_max_bytes,
        },
        ADMINS,
    );
    value(
        &mut group,
        "BatchTimeout",
        &BatchTimeout {
            timeout: format_go_duration(orderer.batch_timeout_nanos),
        },
        ADMINS,
    );
    value(
        &mut group,
        "ChannelRestrictions",
        &ChannelRestrictions {
            max_count: orderer.max_channels,
        },
        ADMINS,
    );
    if !orderer.capabilities.is_empty() {
        value(
            &mut group,
            "Capabilities",
            &capabilities(&orderer.capabilities),
            ADMINS,
        );
    }
    let metadata = match orderer.orderer_type.as_str() {
        "solo" => Vec::new(),
        "kafka" => {
            value(
                &mut group,
                "KafkaBrokers",
                &KafkaBrokers {
                    brokers: orderer.kafka.brokers.clone().unwrap_or_default(),
                },
                ADMINS,
            );
            Vec::new()
        }
        "etcdraft" => etcd_raft_metadata(orderer)?.encode_to_vec(),
        other => return Err(ToolError::Config(format!("unknown orderer type {other:?}"))),
    };
    value(
        &mut group,
        "ConsensusType",
        &ConsensusType {
            r#type: orderer.orderer_type.clone(),
            metadata,
            state: 0,
        },
        ADMINS,
    );
    for org in &orderer.organizations {
        group
            .groups
            .insert(org.name.clone(), org_group(org, OrgSection::Orderer)?);
    }
    Ok(group)
}

/// Raft metadata with the consenters' certificate files read in (upstream embeds the PEM bytes).
fn etcd_raft_metadata(orderer: &Orderer) -> Result<ConfigMetadata, ToolError> {
    let raft = orderer
        .etcd_raft
        .as_ref()
        .ok_or_else(|| ToolError::Config("Orderer.EtcdRaft is missing".into()))?;
    let read = |path: &str| std::fs::read(path).map_err(|e| ToolError::read(path, e));
    let consenters = raft
        .consenters
        .iter()
        .map(|c| {
            Ok(Consenter {
                host: c.host.clone(),
                port: c.port,
                client_tls_cert: read(&c.client_tls_cert)?,
                server_tls_cert: read(&c.server_tls_cert)?,
            })
        })
        .collect::<Result<Vec<_>, ToolError>>()?;
    let options = raft.options.as_ref().map(|o| Options {
        tick_interval: o.tick_interval.clone(),
        election_tick: o.election_tick,
        heartbeat_tick: o.heartbeat_tick,
        max_inflight_blocks: o.max_inflight_blocks,
        snapshot_interval_size: o.snapshot_interval_size,
    });
    Ok(ConfigMetadata {
        consenters,
        options,
    })
}

fn application_group(app: &Application) -> Result<ConfigGroup, ToolError> {
    let mut group = new_group();
    add_policies(&mut group, app.policies.as_ref(), "Application")?;
    if !app.acls.is_empty() {
        let acls = AcLs {
            acls: app
                .acls
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        ApiResource {
                            policy_ref: v.clone(),
                        },
                    )
                })
                .collect(),
        };
        value(&mut group, "ACLs", &acls, ADMINS);
    }
    if !app.capabilities.is_empty() {
        value(
            &mut group,
            "Capabilities",
            &capabilities(&app.capabilities),
            ADMINS,
        );
    }
    for org in &app.organizations {
        group
            .groups
            .insert(org.name.clone(), org_group(org, OrgSection::Application)?);
    }
    Ok(group)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OrgSection {
    Orderer,
    Application,
}

fn org_group(org: &Organization, section: OrgSection) -> Result<ConfigGroup, ToolError> {
    let mut group = new_group();
    if org.skip_as_foreign {
        return Err(ToolError::Config(format!(
            "organization {} is marked SkipAsForeign; all organizations must be local to \
             build a genesis block",
            org.name
        )));
    }
    if org.msp_type != "bccsp" {
        return Err(ToolError::Config(format!(
            "organization {}: MSPType {:?} is not supported (only bccsp)",
            org.name, org.msp_type
        )));
    }
    let msp = weft_msp::msp_config_from_dir(Path::new(&org.msp_dir), &org.id).map_err(|e| {
        ToolError::Config(format!("loading the MSP of organization {}: {e}", org.name))
    })?;
    add_policies(
        &mut group,
        org.policies.as_ref(),
        &format!("organization {}", org.name),
    )?;
    value(&mut group, "MSP", &msp, ADMINS);
    match section {
        OrgSection::Orderer if !org.orderer_endpoints.is_empty() => {
            value(
                &mut group,
                "Endpoints",
                &OrdererAddresses {
                    addresses: org.orderer_endpoints.clone(),
                },
                ADMINS,
            );
        }
        OrgSection::Application if !org.anchor_peers.is_empty() => {
            let anchor_peers = org
                .anchor_peers
                .iter()
                .map(|a| AnchorPeer {
                    host: a.host.clone(),
                    port: a.port,
                })
                .collect();
            value(
                &mut group,
                "AnchorPeers",
                &AnchorPeers { anchor_peers },
                ADMINS,
            );
        }
        _ => {}
    }
    Ok(group)
}
