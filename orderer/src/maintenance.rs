//! Rules for config updates that touch consensus maintenance (Fabric's
//! `msgprocessor/maintenancefilter.go`), applied to the CONFIG envelope an orderer builds
//! from a config update:
//! - without the consensus-type-migration capability, the next config must stay in state
//!   NORMAL and keep its consensus type;
//! - with it, a state change must change only `/Channel/Orderer/ConsensusType` (and not its
//!   type or metadata), and a type change needs both configs in maintenance and a supported
//!   target type.

use fabric_protos::common::{ConfigEnvelope, ConfigUpdate, Envelope, HeaderType, Payload};
use fabric_protos::etcdraft::ConfigMetadata;
use fabric_protos::orderer::consensus_type::State;
use weft_channelconfig::keys::{CONSENSUS_TYPE_KEY, ORDERER_GROUP_KEY};
use weft_channelconfig::{BundleSources, ChannelBundle, OrdererConfig, config_update_envelope};

/// Consensus types a channel may migrate to (Fabric 2.5 lists the same three).
pub const MIGRATION_TARGET_TYPES: &[&str] = &["etcdraft", "solo", "kafka"];

fn state_name(state: i32) -> &'static str {
    State::try_from(state).map_or("UNKNOWN", |s| s.as_str_name())
}

/// Checks the CONFIG envelope `config` against the current orderer config of `channel_id`.
pub fn check_config_envelope(
    channel_id: &str,
    current: &OrdererConfig,
    config: &Envelope,
) -> Result<(), String> {
    let envelope =
        config_envelope_of(config).map_err(|e| format!("envelope unmarshalling failed: {e}"))?;
    inspect(channel_id, current, &envelope)
        .map_err(|e| format!("config transaction inspection failed: {e}"))
}

fn config_envelope_of(config: &Envelope) -> Result<ConfigEnvelope, String> {
    let payload =
        weft_protoutil::decode::<Payload>("Payload", &config.payload).map_err(|e| e.to_string())?;
    let header = crate::broadcast::channel_header(config)?;
    if header.r#type != HeaderType::Config as i32 {
        return Err(format!("invalid type {}, expected CONFIG", header.r#type));
    }
    weft_protoutil::decode::<ConfigEnvelope>("ConfigEnvelope", &payload.data)
        .map_err(|e| e.to_string())
}

fn inspect(
    channel_id: &str,
    current: &OrdererConfig,
    envelope: &ConfigEnvelope,
) -> Result<(), String> {
    let last_update = envelope
        .last_update
        .as_ref()
        .ok_or("updated config does not include a config update")?;
    let config = envelope
        .config
        .as_ref()
        .ok_or("failed to parse config: no config")?;
    let bundle = ChannelBundle::new(channel_id, config, BundleSources::weft())
        .map_err(|e| format!("failed to parse config: {e}"))?;
    let next = bundle
        .orderer()
        .ok_or("next config is missing orderer group")?;
    let (cur_type, next_type) = (&current.consensus_type, &next.consensus_type);
    let (cur_state, next_state) = (current.consensus_state_raw, next.consensus_state_raw);
    if !current.capabilities.consensus_type_migration() {
        if next_state != State::Normal as i32 {
            return Err(format!(
                "next config attempted to change ConsensusType.State to {}, but capability is disabled",
                state_name(next_state)
            ));
        }
        if cur_type != next_type {
            return Err(format!(
                "next config attempted to change ConsensusType.Type from {cur_type} to {next_type}, but capability is disabled"
            ));
        }
        return Ok(());
    }
    if cur_state != next_state {
        ensure_consensus_type_change_only(last_update)?;
        if cur_type != next_type {
            return Err(format!(
                "attempted to change ConsensusType.Type from {cur_type} to {next_type}, but ConsensusType.State is changing from {} to {}",
                state_name(cur_state),
                state_name(next_state)
            ));
        }
        if current.consensus_metadata != next.consensus_metadata {
            return Err(format!(
                "attempted to change ConsensusType.Metadata, but ConsensusType.State is changing from {} to {}",
                state_name(cur_state),
                state_name(next_state)
            ));
        }
    }
    if cur_type != next_type {
        if cur_state == State::Normal as i32 {
            return Err(format!(
                "attempted to change consensus type from {cur_type} to {next_type}, but current config ConsensusType.State is not in maintenance mode"
            ));
        }
        if next_state == State::Normal as i32 {
            return Err(format!(
                "attempted to change consensus type from {cur_type} to {next_type}, but next config ConsensusType.State is not in maintenance mode"
            ));
        }
        if !MIGRATION_TARGET_TYPES.contains(&next_type.as_str()) {
            return Err(format!(
                "attempted to change consensus type from {cur_type} to {next_type}, transition not supported"
            ));
        }
        if next_type == "etcdraft" {
            weft_protoutil::decode::<ConfigMetadata>("ConfigMetadata", &next.consensus_metadata)
                .map_err(|e| format!("failed to unmarshal etcdraft metadata configuration: {e}"))?;
        }
    }
    Ok(())
}

fn ensure_consensus_type_change_only(last_update: &Envelope) -> Result<(), String> {
    let update_envelope = config_update_envelope(last_update)
        .map_err(|e| format!("envelope to config update unmarshalling error: {e}"))?;
    let update =
        weft_protoutil::decode::<ConfigUpdate>("ConfigUpdate", &update_envelope.config_update)
            .map_err(|e| format!("config update unmarshalling error: {e}"))?;
    let write_set = update.write_set.unwrap_or_default();
    if write_set.groups.is_empty() {
        return Err("config update contains no changes".into());
    }
    if !write_set.values.is_empty() {
        return Err("config update contains changes to values in group Channel".into());
    }
    if write_set.groups.len() > 1 {
        return Err("config update contains changes to more than one group".into());
    }
    let orderer = write_set
        .groups
        .get(ORDERER_GROUP_KEY)
        .ok_or_else(|| format!("update does not contain the {ORDERER_GROUP_KEY} group"))?;
    if !orderer.groups.is_empty() {
        return Err(format!(
            "config update contains changes to groups within the {ORDERER_GROUP_KEY} group"
        ));
    }
    if !orderer.values.contains_key(CONSENSUS_TYPE_KEY) {
        return Err(format!(
            "config update does not contain the {CONSENSUS_TYPE_KEY} value"
        ));
    }
    if orderer.values.len() > 1 {
        return Err(format!(
            "config update contain more then just the {CONSENSUS_TYPE_KEY} value in the {ORDERER_GROUP_KEY} group"
        ));
    }
    Ok(())
}
