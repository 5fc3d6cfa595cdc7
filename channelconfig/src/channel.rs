//! Channel-level values of `/Channel` (Fabric's `channel.go`).

use fabric_protos::common::{
    BlockDataHashingStructure, Capabilities, ConfigGroup, Consenter, Consortium,
    HashingAlgorithm as HashingAlgorithmProto, OrdererAddresses, Orderers,
};

use crate::capabilities::{CapabilitySet, ChannelCapabilities, KNOWN_CHANNEL_CAPABILITIES};
use crate::error::ConfigError;
use crate::values::{check_value_keys, decode_value, invalid_value};

pub const HASHING_ALGORITHM_KEY: &str = "HashingAlgorithm";
pub const BLOCK_DATA_HASHING_STRUCTURE_KEY: &str = "BlockDataHashingStructure";
pub const ORDERER_ADDRESSES_KEY: &str = "OrdererAddresses";
pub const CONSORTIUM_KEY: &str = "Consortium";
pub const CAPABILITIES_KEY: &str = "Capabilities";
pub const ORDERERS_KEY: &str = "Orderers";

/// The only block data hashing width Fabric supports.
pub const BLOCK_DATA_HASHING_WIDTH: u32 = u32::MAX;

/// The channel's hashing algorithm. Fabric accepts both; block and transaction hashes are
/// SHA-256 regardless (Fabric's protoutil hashes with SHA-256 unconditionally).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashingAlgorithm {
    Sha256,
    Sha3_256,
}

/// Values set directly on `/Channel`.
#[derive(Debug, Clone)]
pub struct ChannelValues {
    pub hashing_algorithm: HashingAlgorithm,
    pub block_data_hashing_width: u32,
    /// Global orderer addresses (deprecated since V1_4_2, forbidden at V3_0).
    pub orderer_addresses: Vec<String>,
    /// Consortium name; empty when the channel names none.
    pub consortium: String,
    /// Channel-level consenter mapping (Fabric v3 `Orderers` value).
    pub consenters: Vec<Consenter>,
    pub capabilities: ChannelCapabilities,
}

impl ChannelValues {
    pub(crate) fn parse(group: &ConfigGroup, path: &str) -> Result<Self, ConfigError> {
        check_value_keys(
            group,
            path,
            &[
                HASHING_ALGORITHM_KEY,
                BLOCK_DATA_HASHING_STRUCTURE_KEY,
                ORDERER_ADDRESSES_KEY,
                ORDERERS_KEY,
                CONSORTIUM_KEY,
                CAPABILITIES_KEY,
            ],
        )?;
        let hashing: HashingAlgorithmProto = decode_value(group, path, HASHING_ALGORITHM_KEY)?;
        let width: BlockDataHashingStructure =
            decode_value(group, path, BLOCK_DATA_HASHING_STRUCTURE_KEY)?;
        let addresses: OrdererAddresses = decode_value(group, path, ORDERER_ADDRESSES_KEY)?;
        let orderers: Orderers = decode_value(group, path, ORDERERS_KEY)?;
        let consortium: Consortium = decode_value(group, path, CONSORTIUM_KEY)?;
        let caps: Capabilities = decode_value(group, path, CAPABILITIES_KEY)?;
        let capabilities = ChannelCapabilities(CapabilitySet::from_proto(&caps));
        capabilities
            .0
            .require_known("Channel", KNOWN_CHANNEL_CAPABILITIES)?;

        let hashing_algorithm = match hashing.name.as_str() {
            "SHA256" => HashingAlgorithm::Sha256,
            "SHA3_256" => HashingAlgorithm::Sha3_256,
            other => {
                return Err(invalid_value(
                    path,
                    HASHING_ALGORITHM_KEY,
                    format!("unknown hashing algorithm type {other:?}"),
                ));
            }
        };
        if width.width != BLOCK_DATA_HASHING_WIDTH {
            return Err(invalid_value(
                path,
                BLOCK_DATA_HASHING_STRUCTURE_KEY,
                format!(
                    "width must be {BLOCK_DATA_HASHING_WIDTH} (max uint32), got {}",
                    width.width
                ),
            ));
        }
        if !capabilities.org_specific_orderer_endpoints() && addresses.addresses.is_empty() {
            return Err(invalid_value(
                path,
                ORDERER_ADDRESSES_KEY,
                "must set some OrdererAddresses",
            ));
        }
        if capabilities.consensus_type_bft() && !addresses.addresses.is_empty() {
            return Err(invalid_value(
                path,
                ORDERER_ADDRESSES_KEY,
                "global OrdererAddresses are not allowed with the V3_0 capability; use org-specific endpoints",
            ));
        }
        Ok(Self {
            hashing_algorithm,
            block_data_hashing_width: width.width,
            orderer_addresses: addresses.addresses,
            consortium: consortium.name,
            consenters: orderers.consenter_mapping,
            capabilities,
        })
    }
}
