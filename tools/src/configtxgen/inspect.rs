//! `configtxgen -inspectBlock`: a block as JSON in the shape of upstream's protolator output.
//!
//! Messages are written with proto field names, enums by name, 64-bit integers as strings and
//! bytes as base64 (proto3 JSON), and byte fields that hold known messages are replaced by the
//! decoded message, as protolator does: envelopes, payload headers, config envelopes, config
//! values by key, policies by type, MSP configurations and Raft metadata.
//! Differences from upstream: block metadata slots stay base64; empty byte fields print as
//! "" and unset sub-messages are left out where protolator prints null; config update
//! envelopes inside `last_update` are decoded one level only.

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use serde_json::Value;

use crate::error::ToolError;

/// Bound on nested envelopes followed while decoding (config updates inside config blocks).
const DECODE_DEPTH_MAX: usize = 8;
const HEADER_TYPE_CONFIG: i64 = fabric_protos::common::HeaderType::Config as i64;
const HEADER_TYPE_CONFIG_UPDATE: i64 = fabric_protos::common::HeaderType::ConfigUpdate as i64;

struct Inspector {
    pool: DescriptorPool,
}

fn decode_err(what: &str, message: impl std::fmt::Display) -> ToolError {
    ToolError::Decode {
        what: what.to_string(),
        message: message.to_string(),
    }
}

impl Inspector {
    fn new() -> Result<Self, ToolError> {
        let pool = DescriptorPool::decode(fabric_protos::FILE_DESCRIPTOR_SET)
            .map_err(|e| decode_err("the built-in protobuf descriptors", e))?;
        Ok(Inspector { pool })
    }

    /// Decodes `bytes` as message `full_name` and returns its JSON.
    fn json(&self, full_name: &str, bytes: &[u8]) -> Result<Value, ToolError> {
        let desc = self
            .pool
            .get_message_by_name(full_name)
            .ok_or_else(|| decode_err(full_name, "message type unknown"))?;
        let message = DynamicMessage::decode(desc, bytes).map_err(|e| decode_err(full_name, e))?;
        let options = SerializeOptions::new()
            .use_proto_field_name(true)
            .skip_default_fields(false)
            .stringify_64_bit_integers(true);
        message
            .serialize_with_options(serde_json::value::Serializer, &options)
            .map_err(|e| decode_err(full_name, e))
    }

    /// Replaces the base64 string at `value[field]` with the decoded `full_name` message.
    fn expand(&self, value: &mut Value, field: &str, full_name: &str) -> Result<(), ToolError> {
        let Some(slot) = value.get_mut(field) else {
            return Ok(());
        };
        let Some(text) = slot.as_str() else {
            return Ok(());
        };
        // protolator prints an empty embedded message as null.
        if text.is_empty() {
            *slot = Value::Null;
            return Ok(());
        }
        let bytes = openssl::base64::decode_block(text).map_err(|e| decode_err(field, e))?;
        *slot = self.json(full_name, &bytes)?;
        Ok(())
    }

    fn block(&self, bytes: &[u8]) -> Result<Value, ToolError> {
        let mut block = self.json("common.Block", bytes)?;
        if let Some(items) = block
            .get_mut("data")
            .and_then(|d| d.get_mut("data"))
            .and_then(Value::as_array_mut)
        {
            for item in items.iter_mut() {
                let text = item.as_str().unwrap_or_default().to_string();
                let raw = openssl::base64::decode_block(&text)
                    .map_err(|e| decode_err("block data", e))?;
                let mut envelope = self.json("common.Envelope", &raw)?;
                self.envelope(&mut envelope, 0)?;
                *item = envelope;
            }
        }
        Ok(block)
    }

    fn envelope(&self, envelope: &mut Value, depth: usize) -> Result<(), ToolError> {
        if depth > DECODE_DEPTH_MAX {
            return Ok(());
        }
        self.expand(envelope, "payload", "common.Payload")?;
        let Some(payload) = envelope.get_mut("payload").filter(|p| p.is_object()) else {
            return Ok(());
        };
        if let Some(header) = payload.get_mut("header") {
            self.expand(header, "channel_header", "common.ChannelHeader")?;
            self.expand(header, "signature_header", "common.SignatureHeader")?;
        }
        // ChannelHeader.type is an int32 on the wire, so it prints as a number.
        let kind = payload
            .pointer("/header/channel_header/type")
            .and_then(Value::as_i64)
            .unwrap_or_default();
        match kind {
            HEADER_TYPE_CONFIG => {
                self.expand(payload, "data", "common.ConfigEnvelope")?;
                if let Some(data) = payload.get_mut("data") {
                    if let Some(group) = data.pointer_mut("/config/channel_group") {
                        self.group(group)?;
                    }
                    if let Some(last) = data.get_mut("last_update").filter(|l| l.is_object()) {
                        self.envelope(last, depth + 1)?;
                    }
                }
            }
            HEADER_TYPE_CONFIG_UPDATE => {
                self.expand(payload, "data", "common.ConfigUpdateEnvelope")?;
                if let Some(data) = payload.get_mut("data") {
                    self.expand(data, "config_update", "common.ConfigUpdate")?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn group(&self, group: &mut Value) -> Result<(), ToolError> {
        if let Some(values) = group.get_mut("values").and_then(Value::as_object_mut) {
            for (key, value) in values.iter_mut() {
                self.config_value(key, value)?;
            }
        }
        if let Some(policies) = group.get_mut("policies").and_then(Value::as_object_mut) {
            for policy in policies.values_mut() {
                if let Some(p) = policy.get_mut("policy") {
                    self.policy(p)?;
                }
            }
        }
        if let Some(groups) = group.get_mut("groups").and_then(Value::as_object_mut) {
            for child in groups.values_mut() {
                self.group(child)?;
            }
        }
        Ok(())
    }

    fn config_value(&self, key: &str, value: &mut Value) -> Result<(), ToolError> {
        let full_name = match key {
            "HashingAlgorithm" => "common.HashingAlgorithm",
            "BlockDataHashingStructure" => "common.BlockDataHashingStructure",
            "OrdererAddresses" | "Endpoints" => "common.OrdererAddresses",
            "Consortium" => "common.Consortium",
            "Capabilities" => "common.Capabilities",
            "BatchSize" => "orderer.BatchSize",
            "BatchTimeout" => "orderer.BatchTimeout",
            "ChannelRestrictions" => "orderer.ChannelRestrictions",
            "ConsensusType" => "orderer.ConsensusType",
            "KafkaBrokers" => "orderer.KafkaBrokers",
            "MSP" => "msp.MSPConfig",
            "AnchorPeers" => "protos.AnchorPeers",
            "ACLs" => "protos.ACLs",
            _ => return Ok(()),
        };
        self.expand(value, "value", full_name)?;
        let Some(inner) = value.get_mut("value") else {
            return Ok(());
        };
        match key {
            "MSP" if inner.get("type").and_then(Value::as_i64) == Some(0) => {
                self.expand(inner, "config", "msp.FabricMSPConfig")?;
            }
            "ConsensusType" if inner.get("type").and_then(Value::as_str) == Some("etcdraft") => {
                self.expand(inner, "metadata", "etcdraft.ConfigMetadata")?;
            }
            _ => {}
        }
        Ok(())
    }

    fn policy(&self, policy: &mut Value) -> Result<(), ToolError> {
        match policy.get("type").and_then(Value::as_i64) {
            Some(1) => {
                self.expand(policy, "value", "common.SignaturePolicyEnvelope")?;
                if let Some(ids) = policy
                    .pointer_mut("/value/identities")
                    .and_then(Value::as_array_mut)
                {
                    for id in ids.iter_mut() {
                        if id.get("principal_classification").and_then(Value::as_str)
                            == Some("ROLE")
                        {
                            self.expand(id, "principal", "common.MSPRole")?;
                        }
                    }
                }
            }
            Some(3) => self.expand(policy, "value", "common.ImplicitMetaPolicy")?,
            _ => {}
        }
        Ok(())
    }
}

/// The JSON of a marshalled block.
pub fn block_to_json(bytes: &[u8]) -> Result<Value, ToolError> {
    Inspector::new()?.block(bytes)
}
