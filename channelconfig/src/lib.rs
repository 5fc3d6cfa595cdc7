//! Channel configuration: the typed channel bundle, config update processing and config
//! block validation, with Fabric's semantics (`common/channelconfig`, `common/configtx`,
//! `common/capabilities`).
//!
//! - [`ChannelBundle`] parses a `common.Config` into typed sections, validating values the
//!   way Fabric does and refusing capabilities Weft does not implement.
//! - [`ConfigtxValidator`] authorizes `CONFIG_UPDATE` envelopes and checks config envelopes
//!   against the previous config (also reachable through the bundle).
//! - [`compute_update`] derives the read/write sets between two configs, like
//!   `configtxlator compute_update`.
//!
//! MSPs and policies come from the msp and policy crates through [`MspFactory`] and
//! [`PolicyProvider`] ([`BundleSources::weft`] wires Weft's X.509 MSP and policy manager), so
//! the bundle can also be built with test doubles.
//!
//! `testdata/config_updates.txt` is a table of config updates and the decision Fabric makes
//! on each (accept, refused by configtx, or refused as a config); the integration tests
//! replay it with test doubles and, in `upstream_configtx`, on a channel made by upstream
//! `cryptogen`/`configtxgen` with real keys (`cargo test -p weft-channelconfig`; the upstream
//! tests need `.cache/upstream/fabric-2.5.9/bin` and fail without it).

mod application;
mod bundle;
mod capabilities;
mod channel;
mod compute;
mod configmap;
mod configtx;
mod error;
mod orderer;
mod organization;
mod sources;
mod values;

pub use application::{ApplicationConfig, Consortium};
pub use bundle::{
    BundleSources, ChannelBundle, config_envelope_from_block, config_envelope_from_envelope,
};
pub use capabilities::{
    ApplicationCapabilities, CapabilitySet, ChannelCapabilities, KNOWN_APPLICATION_CAPABILITIES,
    KNOWN_CHANNEL_CAPABILITIES, KNOWN_ORDERER_CAPABILITIES, MspVersion, OrdererCapabilities,
};
pub use channel::{ChannelValues, HashingAlgorithm};
pub use compute::compute_update;
pub use configmap::{
    MAX_CONFIG_DEPTH, MAX_CONFIG_ELEMENTS, MAX_NAME_LENGTH, ROOT_GROUP_KEY, validate_channel_id,
    validate_config_id,
};
pub use configtx::{ConfigtxValidator, config_update_envelope, signed_data};
pub use error::{ConfigError, UpdateError};
pub use orderer::{Consensus, OrdererConfig};
pub use organization::{ApplicationOrg, OrdererOrg, Organization};
pub use sources::{
    ChannelMsp, GroupPolicyProvider, MspDispatch, MspFactory, PolicyProvider, X509MspFactory,
};
pub use weft_protoutil::parse_go_duration;

/// Names of the config groups, values and policies Fabric defines.
pub mod keys {
    pub use crate::application::{
        ACLS_KEY, APPLICATION_GROUP_KEY, CHANNEL_CREATION_POLICY_KEY, CONSORTIUMS_GROUP_KEY,
    };
    pub use crate::channel::{
        BLOCK_DATA_HASHING_STRUCTURE_KEY, CAPABILITIES_KEY, CONSORTIUM_KEY, HASHING_ALGORITHM_KEY,
        ORDERER_ADDRESSES_KEY,
    };
    pub use crate::orderer::{
        BATCH_SIZE_KEY, BATCH_TIMEOUT_KEY, CHANNEL_RESTRICTIONS_KEY, CONSENSUS_TYPE_KEY,
        KAFKA_BROKERS_KEY, ORDERER_GROUP_KEY, ORDERERS_KEY,
    };
    pub use crate::organization::{ANCHOR_PEERS_KEY, ENDPOINTS_KEY, MSP_KEY};
}
