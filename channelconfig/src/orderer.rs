//! The `/Channel/Orderer` group (Fabric's `orderer.go`): consensus type and its metadata,
//! batching, channel restrictions, orderer organizations.

use std::collections::BTreeMap;
use std::time::Duration;

use fabric_protos::common::{Capabilities, ConfigGroup, Consenter, Orderers};
use fabric_protos::etcdraft;
use fabric_protos::orderer::consensus_type::State as ConsensusState;
use fabric_protos::orderer::smartbft;
use fabric_protos::orderer::{
    BatchSize, BatchTimeout, ChannelRestrictions, ConsensusType, KafkaBrokers,
};
use prost::Message;

use crate::capabilities::{
    CapabilitySet, ChannelCapabilities, KNOWN_ORDERER_CAPABILITIES, OrdererCapabilities,
};
use crate::channel::CAPABILITIES_KEY;
use crate::error::ConfigError;
use crate::organization::{MspCollector, OrdererOrg, orderer_org};
use crate::values::{check_value_keys, decode_value, invalid_group, invalid_value};
use weft_protoutil::parse_go_duration;

pub const ORDERER_GROUP_KEY: &str = "Orderer";
pub const CONSENSUS_TYPE_KEY: &str = "ConsensusType";
pub const BATCH_SIZE_KEY: &str = "BatchSize";
pub const BATCH_TIMEOUT_KEY: &str = "BatchTimeout";
pub const CHANNEL_RESTRICTIONS_KEY: &str = "ChannelRestrictions";
pub const KAFKA_BROKERS_KEY: &str = "KafkaBrokers";
pub const ORDERERS_KEY: &str = "Orderers";

/// The consensus protocol a channel runs, with its decoded metadata.
#[derive(Debug, Clone, PartialEq)]
pub enum Consensus {
    /// `etcdraft`: consenters and Raft options.
    EtcdRaft(etcdraft::ConfigMetadata),
    /// `BFT` (Fabric v3 SmartBFT): options; the consenters are the `Orderers` value.
    Bft(smartbft::Options),
    /// `solo` and `kafka`: legacy types Weft can read but not run.
    Legacy(String),
}

/// The orderer section of a channel config.
#[derive(Debug, Clone)]
pub struct OrdererConfig {
    pub consensus_type: String,
    pub consensus_metadata: Vec<u8>,
    /// Raw `ConsensusType.state` (0 normal, 1 maintenance); see [`Self::consensus_state`].
    pub consensus_state_raw: i32,
    pub consensus: Consensus,
    pub batch_size: BatchSize,
    pub batch_timeout: Duration,
    pub kafka_brokers: Vec<String>,
    pub max_channels_count: u64,
    /// The BFT consenter mapping (`Orderers` value, Fabric v3).
    pub consenters: Vec<Consenter>,
    pub capabilities: OrdererCapabilities,
    pub organizations: BTreeMap<String, OrdererOrg>,
}

impl OrdererConfig {
    pub fn consensus_state(&self) -> Option<ConsensusState> {
        ConsensusState::try_from(self.consensus_state_raw).ok()
    }

    pub(crate) fn parse(
        group: &ConfigGroup,
        path: &str,
        channel_caps: &ChannelCapabilities,
        msps: &mut MspCollector<'_>,
    ) -> Result<Self, ConfigError> {
        check_value_keys(
            group,
            path,
            &[
                CONSENSUS_TYPE_KEY,
                BATCH_SIZE_KEY,
                BATCH_TIMEOUT_KEY,
                KAFKA_BROKERS_KEY,
                CHANNEL_RESTRICTIONS_KEY,
                ORDERERS_KEY,
                CAPABILITIES_KEY,
            ],
        )?;
        let consensus_type: ConsensusType = decode_value(group, path, CONSENSUS_TYPE_KEY)?;
        let batch_size: BatchSize = decode_value(group, path, BATCH_SIZE_KEY)?;
        let batch_timeout: BatchTimeout = decode_value(group, path, BATCH_TIMEOUT_KEY)?;
        let kafka: KafkaBrokers = decode_value(group, path, KAFKA_BROKERS_KEY)?;
        let restrictions: ChannelRestrictions =
            decode_value(group, path, CHANNEL_RESTRICTIONS_KEY)?;
        let orderers: Orderers = decode_value(group, path, ORDERERS_KEY)?;
        let caps: Capabilities = decode_value(group, path, CAPABILITIES_KEY)?;
        let capabilities = CapabilitySet::from_proto(&caps);
        capabilities.require_known("Orderer", KNOWN_ORDERER_CAPABILITIES)?;

        validate_batch_size(&batch_size).map_err(|r| invalid_value(path, BATCH_SIZE_KEY, r))?;
        let batch_timeout = validate_batch_timeout(&batch_timeout.timeout)
            .map_err(|r| invalid_value(path, BATCH_TIMEOUT_KEY, r))?;
        if let Some(bad) = kafka.brokers.iter().find(|b| !broker_entry_seems_valid(b)) {
            return Err(invalid_value(
                path,
                KAFKA_BROKERS_KEY,
                format!("invalid broker entry: {bad}"),
            ));
        }
        let consensus = decode_consensus(&consensus_type)
            .map_err(|r| invalid_value(path, CONSENSUS_TYPE_KEY, r))?;

        let mut organizations = BTreeMap::new();
        for (name, org_group) in &group.groups {
            let org_path = format!("{path}/{name}");
            let org = orderer_org(
                name,
                org_group,
                &org_path,
                channel_caps.org_specific_orderer_endpoints(),
                msps,
            )?;
            organizations.insert(name.clone(), org);
        }
        if channel_caps.consensus_type_bft() {
            let missing: Vec<&str> = organizations
                .values()
                .filter(|o| o.endpoints.is_empty())
                .map(|o| o.org.name.as_str())
                .collect();
            if !missing.is_empty() {
                return Err(invalid_group(
                    path,
                    format!("some orderer organizations endpoints are empty: {missing:?}"),
                ));
            }
        }
        Ok(Self {
            consensus_type: consensus_type.r#type,
            consensus_metadata: consensus_type.metadata,
            consensus_state_raw: consensus_type.state,
            consensus,
            batch_size,
            batch_timeout,
            kafka_brokers: kafka.brokers,
            max_channels_count: restrictions.max_count,
            consenters: orderers.consenter_mapping,
            capabilities: OrdererCapabilities(capabilities),
            organizations,
        })
    }
}

/// Fabric's batch size sanity checks.
fn validate_batch_size(b: &BatchSize) -> Result<(), String> {
    if b.max_message_count == 0 {
        return Err("batch size max message count must be greater than 0".into());
    }
    if b.absolute_max_bytes == 0 {
        return Err("batch size absolute max bytes must be greater than 0".into());
    }
    if b.preferred_max_bytes == 0 {
        return Err("batch size preferred max bytes must be greater than 0".into());
    }
    if b.preferred_max_bytes > b.absolute_max_bytes {
        return Err(format!(
            "batch size preferred max bytes ({}) greater than the absolute max bytes ({})",
            b.preferred_max_bytes, b.absolute_max_bytes
        ));
    }
    Ok(())
}

/// A Go duration that must be positive.
fn validate_batch_timeout(timeout: &str) -> Result<Duration, String> {
    let nanos = parse_go_duration(timeout).map_err(|e| format!("invalid batch timeout: {e}"))?;
    if nanos <= 0 {
        return Err(format!("batch timeout must be positive, got {timeout:?}"));
    }
    Ok(Duration::from_nanos(nanos.unsigned_abs()))
}

/// `host:port` with a 16-bit port and a DNS-like host (Fabric 2.5's Kafka broker check).
fn broker_entry_seems_valid(broker: &str) -> bool {
    let mut parts = broker.split(':');
    let (Some(host), Some(port), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err()
    {
        return false;
    }
    let inner_ok = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let ends_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    inner_ok && ends_ok(host.bytes().next()) && ends_ok(host.bytes().last())
}

fn decode_consensus(ct: &ConsensusType) -> Result<Consensus, String> {
    match ct.r#type.as_str() {
        "etcdraft" => etcdraft::ConfigMetadata::decode(ct.metadata.as_slice())
            .map(Consensus::EtcdRaft)
            .map_err(|e| format!("etcdraft metadata could not be decoded: {e}")),
        "BFT" => smartbft::Options::decode(ct.metadata.as_slice())
            .map(Consensus::Bft)
            .map_err(|e| format!("BFT metadata could not be decoded: {e}")),
        "solo" | "kafka" => Ok(Consensus::Legacy(ct.r#type.clone())),
        other => Err(format!(
            "unknown consensus type {other:?}; Weft knows etcdraft, BFT, solo and kafka"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_size_checks() {
        let ok = BatchSize {
            max_message_count: 10,
            absolute_max_bytes: 100,
            preferred_max_bytes: 50,
        };
        assert!(validate_batch_size(&ok).is_ok());
        for bad in [
            BatchSize {
                max_message_count: 0,
                ..ok
            },
            BatchSize {
                absolute_max_bytes: 0,
                ..ok
            },
            BatchSize {
                preferred_max_bytes: 0,
                ..ok
            },
            BatchSize {
                preferred_max_bytes: 101,
                ..ok
            },
        ] {
            assert!(validate_batch_size(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn batch_timeout_must_be_positive_go_duration() {
        assert_eq!(validate_batch_timeout("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(
            validate_batch_timeout("500ms"),
            Ok(Duration::from_millis(500))
        );
        for bad in ["", "0", "-1s", "2", "2 seconds"] {
            assert!(validate_batch_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kafka_broker_entries() {
        for ok in ["kafka0:9092", "a:1", "k.example-1.com:65535"] {
            assert!(broker_entry_seems_valid(ok), "{ok}");
        }
        for bad in [
            "kafka0",
            "kafka0:",
            "kafka0:65536",
            "-k:1",
            "k-:1",
            "a:b:1",
            ":1",
            "k_1:1",
        ] {
            assert!(!broker_entry_seems_valid(bad), "{bad}");
        }
    }

    #[test]
    fn unknown_consensus_type_rejected() {
        let ct = ConsensusType {
            r#type: "paxos".into(),
            ..Default::default()
        };
        assert!(decode_consensus(&ct).unwrap_err().contains("paxos"));
        let raft = ConsensusType {
            r#type: "etcdraft".into(),
            ..Default::default()
        };
        assert_eq!(
            decode_consensus(&raft),
            Ok(Consensus::EtcdRaft(Default::default()))
        );
    }
}
