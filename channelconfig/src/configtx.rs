//! Config update processing, as Fabric's `common/configtx` validator does it.
//!
//! An update names the elements it depends on (read set, with versions) and the elements it
//! sets (write set). Elements of the write set whose version differs from the read set form
//! the delta; each must be exactly one version above the current element (or version 0 if
//! new) and is authorized by the *current* element's mod_policy, resolved relative to the
//! group holding it, against the signatures of the `ConfigUpdateEnvelope`. The next config is
//! the current one with the delta laid over it, rebuilt from the group entries down.

use fabric_protos::common::{
    ChannelHeader, Config, ConfigEnvelope, ConfigUpdate, ConfigUpdateEnvelope, Envelope,
    HeaderType, Payload, SignatureHeader,
};
use prost::Message;
use weft_policy::{Policy, PolicyManager, SignedData};

use std::sync::Arc;

use crate::configmap::{self, ConfigMap, Entry};
use crate::error::UpdateError;

/// Validates config updates against one channel config (Fabric's `configtx.ValidatorImpl`).
#[derive(Debug, Clone)]
pub struct ConfigtxValidator {
    channel_id: String,
    config: Config,
    config_map: ConfigMap,
}

impl ConfigtxValidator {
    /// Indexes `config` of channel `channel_id`.
    pub fn new(channel_id: &str, config: &Config) -> Result<Self, UpdateError> {
        let root = config
            .channel_group
            .as_ref()
            .ok_or(UpdateError::MissingChannelGroup)?;
        configmap::validate_channel_id(channel_id).map_err(UpdateError::BadChannelId)?;
        let config_map = configmap::map_config(Some(root))?;
        Ok(Self {
            channel_id: channel_id.to_string(),
            config: config.clone(),
            config_map,
        })
    }

    pub fn channel_id(&self) -> &str {
        &self.channel_id
    }

    pub fn sequence(&self) -> u64 {
        self.config.sequence
    }

    /// The config this validator checks updates against.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Authorizes a `CONFIG_UPDATE` envelope and returns the config envelope of the next
    /// config (sequence + 1) with the envelope as its `last_update` (Fabric's
    /// `ProposeConfigUpdate`). `policies` must be the policy manager of the current config.
    pub fn propose_config_update(
        &self,
        update_envelope: &Envelope,
        policies: &dyn PolicyManager,
    ) -> Result<ConfigEnvelope, UpdateError> {
        let update = config_update_envelope(update_envelope)?;
        let channel_group = self.authorize_and_apply(&update, policies)?;
        Ok(ConfigEnvelope {
            config: Some(Config {
                sequence: self.sequence() + 1,
                channel_group: Some(channel_group),
            }),
            last_update: Some(update_envelope.clone()),
        })
    }

    /// Checks a config envelope (from a config block) against the current config: its
    /// sequence is the next one and re-applying its `last_update` reproduces its channel
    /// group exactly, as a peer does before committing a config block.
    pub fn validate(
        &self,
        envelope: &ConfigEnvelope,
        policies: &dyn PolicyManager,
    ) -> Result<(), UpdateError> {
        let config = envelope.config.as_ref().ok_or(UpdateError::MissingConfig)?;
        if config.sequence != self.sequence().wrapping_add(1) {
            return Err(UpdateError::SequenceMismatch {
                current: self.sequence(),
                proposed: config.sequence,
            });
        }
        let last_update = envelope.last_update.clone().unwrap_or_default();
        let update = config_update_envelope(&last_update)?;
        let channel_group = self.authorize_and_apply(&update, policies)?;
        if config.channel_group.as_ref() != Some(&channel_group) {
            return Err(UpdateError::ResultMismatch);
        }
        Ok(())
    }

    fn authorize_and_apply(
        &self,
        envelope: &ConfigUpdateEnvelope,
        policies: &dyn PolicyManager,
    ) -> Result<fabric_protos::common::ConfigGroup, UpdateError> {
        let proposed = self.authorize_update(envelope, policies)?;
        configmap::map_to_config(&proposed)
    }

    fn authorize_update(
        &self,
        envelope: &ConfigUpdateEnvelope,
        policies: &dyn PolicyManager,
    ) -> Result<ConfigMap, UpdateError> {
        let update = ConfigUpdate::decode(envelope.config_update.as_slice())
            .map_err(|e| decode_error("ConfigUpdate", e))?;
        if update.channel_id != self.channel_id {
            return Err(UpdateError::ChannelMismatch {
                update: update.channel_id,
                channel: self.channel_id.clone(),
            });
        }
        let read_set = configmap::map_config(update.read_set.as_ref())?;
        self.verify_read_set(&read_set)?;
        let write_set = configmap::map_config(update.write_set.as_ref())?;
        let delta = delta_set(&read_set, &write_set);
        let signed = signed_data(envelope)?;
        self.verify_delta_set(&delta, &signed, policies)?;
        let mut proposed = self.config_map.clone();
        for (key, entry) in delta {
            proposed.insert(key.clone(), entry.clone());
        }
        if let Some(key) = write_set.keys().find(|k| !proposed.contains_key(*k)) {
            return Err(UpdateError::WriteSetNotInResult { key: key.clone() });
        }
        Ok(proposed)
    }

    fn verify_read_set(&self, read_set: &ConfigMap) -> Result<(), UpdateError> {
        for (key, entry) in read_set {
            let existing = self
                .config_map
                .get(key)
                .ok_or_else(|| UpdateError::ReadSetMissing { key: key.clone() })?;
            if existing.version() != entry.version() {
                return Err(UpdateError::ReadSetVersion {
                    key: key.clone(),
                    required: entry.version(),
                    current: existing.version(),
                });
            }
        }
        Ok(())
    }

    fn verify_delta_set(
        &self,
        delta: &[(&String, &Entry)],
        signed: &[SignedData],
        policies: &dyn PolicyManager,
    ) -> Result<(), UpdateError> {
        if delta.is_empty() {
            return Err(UpdateError::EmptyDelta);
        }
        for (key, entry) in delta {
            validate_mod_policy(entry.mod_policy()).map_err(|reason| {
                UpdateError::BadModPolicy {
                    key: (*key).clone(),
                    reason,
                }
            })?;
            let Some(existing) = self.config_map.get(*key) else {
                if entry.version() != 0 {
                    return Err(UpdateError::NewElementVersion {
                        key: (*key).clone(),
                        version: entry.version(),
                    });
                }
                continue;
            };
            if entry.version() != existing.version().wrapping_add(1) {
                return Err(UpdateError::VersionNotIncremented {
                    key: (*key).clone(),
                    proposed: entry.version(),
                    current: existing.version(),
                });
            }
            let policy =
                policy_for(existing, policies).ok_or_else(|| UpdateError::MissingPolicy {
                    key: (*key).clone(),
                    policy: existing.mod_policy().to_string(),
                })?;
            policy.evaluate_signed_data(signed).map_err(|source| {
                UpdateError::PolicyNotSatisfied {
                    key: (*key).clone(),
                    policy: existing.mod_policy().to_string(),
                    source,
                }
            })?;
        }
        Ok(())
    }
}

/// Elements of the write set that are not in the read set at the same version.
fn delta_set<'a>(read_set: &ConfigMap, write_set: &'a ConfigMap) -> Vec<(&'a String, &'a Entry)> {
    write_set
        .iter()
        .filter(|(key, entry)| {
            read_set
                .get(*key)
                .is_none_or(|r| r.version() != entry.version())
        })
        .collect()
}

/// A mod_policy must be set and every element of its path must be a legal config ID.
fn validate_mod_policy(mod_policy: &str) -> Result<(), String> {
    if mod_policy.is_empty() {
        return Err("mod_policy not set".into());
    }
    let relative = mod_policy.strip_prefix('/').unwrap_or(mod_policy);
    for (i, part) in relative.split('/').enumerate() {
        configmap::validate_config_id(part)
            .map_err(|e| format!("path element at {i} is invalid: {e}"))?;
    }
    Ok(())
}

/// Resolves an element's mod_policy: absolute paths from the root, relative names from the
/// group holding the element (for a group, from the group itself).
fn policy_for(entry: &Entry, policies: &dyn PolicyManager) -> Option<Arc<dyn Policy>> {
    let mod_policy = entry.mod_policy();
    if mod_policy.starts_with('/') || entry.parent_path.is_empty() {
        return policies.get_policy(mod_policy);
    }
    let mut sub_path: Vec<&str> = entry.parent_path[1..].iter().map(String::as_str).collect();
    if entry.is_group() {
        sub_path.push(&entry.key);
    }
    if sub_path.is_empty() {
        return policies.get_policy(mod_policy);
    }
    policies.manager(&sub_path)?.get_policy(mod_policy)
}

/// The signatures of a config update as Fabric evaluates them: each signs
/// `signature_header || config_update`, by the creator named in its signature header.
pub fn signed_data(envelope: &ConfigUpdateEnvelope) -> Result<Vec<SignedData>, UpdateError> {
    envelope
        .signatures
        .iter()
        .map(|sig| {
            let header = SignatureHeader::decode(sig.signature_header.as_slice())
                .map_err(|e| decode_error("SignatureHeader", e))?;
            let mut data = sig.signature_header.clone();
            data.extend_from_slice(&envelope.config_update);
            Ok(SignedData {
                data,
                identity: header.creator,
                signature: sig.signature.clone(),
            })
        })
        .collect()
}

/// Opens a `CONFIG_UPDATE` envelope down to its `ConfigUpdateEnvelope`.
pub fn config_update_envelope(envelope: &Envelope) -> Result<ConfigUpdateEnvelope, UpdateError> {
    let payload =
        Payload::decode(envelope.payload.as_slice()).map_err(|e| decode_error("Payload", e))?;
    let header = payload.header.ok_or(UpdateError::MissingHeader)?;
    let channel_header = ChannelHeader::decode(header.channel_header.as_slice())
        .map_err(|e| decode_error("ChannelHeader", e))?;
    if channel_header.r#type != HeaderType::ConfigUpdate as i32 {
        return Err(UpdateError::WrongHeaderType {
            found: channel_header.r#type,
            expected: "CONFIG_UPDATE",
        });
    }
    ConfigUpdateEnvelope::decode(payload.data.as_slice())
        .map_err(|e| decode_error("ConfigUpdateEnvelope", e))
}

fn decode_error(what: &'static str, e: prost::DecodeError) -> UpdateError {
    UpdateError::Decode {
        what,
        reason: e.to_string(),
    }
}
