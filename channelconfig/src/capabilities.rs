//! Capabilities of a channel, its orderers and its applications (Fabric's
//! `common/capabilities`). A config requiring a capability Weft does not know is refused
//! outright rather than half-honoured.

use std::collections::BTreeSet;

use fabric_protos::common::Capabilities;

use crate::error::ConfigError;

/// Channel capabilities Weft implements (Fabric 2.5 plus v3's `V3_0`).
pub const KNOWN_CHANNEL_CAPABILITIES: &[&str] =
    &["V1_1", "V1_3", "V1_4_2", "V1_4_3", "V2_0", "V3_0"];
/// Orderer capabilities Weft implements.
pub const KNOWN_ORDERER_CAPABILITIES: &[&str] = &["V1_1", "V1_4_2", "V2_0"];
/// Application capabilities Weft implements.
pub const KNOWN_APPLICATION_CAPABILITIES: &[&str] = &[
    "V1_1",
    "V1_2",
    "V1_3",
    "V1_4_2",
    "V2_0",
    "V2_5",
    "V1_1_PVTDATA_EXPERIMENTAL",
    "V1_1_RESOURCETREE_EXPERIMENTAL",
];

/// The MSP behaviour level the channel capabilities select (Fabric's `msp.MSPVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MspVersion {
    V1_0,
    V1_1,
    V1_3,
    V1_4_3,
    V3_0,
}

/// The set of capabilities one level of the config requires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilitySet {
    names: BTreeSet<String>,
}

impl CapabilitySet {
    pub(crate) fn from_proto(caps: &Capabilities) -> Self {
        Self {
            names: caps.capabilities.keys().cloned().collect(),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    fn any(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.has(n))
    }

    /// Fails on the first required capability not in `known`.
    pub(crate) fn require_known(
        &self,
        kind: &'static str,
        known: &[&str],
    ) -> Result<(), ConfigError> {
        match self.names.iter().find(|n| !known.contains(&n.as_str())) {
            Some(name) => Err(ConfigError::UnsupportedCapability {
                kind,
                name: name.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// Channel-level capabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelCapabilities(pub CapabilitySet);

impl ChannelCapabilities {
    pub fn msp_version(&self) -> MspVersion {
        let c = &self.0;
        if c.has("V3_0") {
            MspVersion::V3_0
        } else if c.any(&["V1_4_3", "V2_0"]) {
            MspVersion::V1_4_3
        } else if c.any(&["V1_3", "V1_4_2"]) {
            MspVersion::V1_3
        } else if c.has("V1_1") {
            MspVersion::V1_1
        } else {
            MspVersion::V1_0
        }
    }

    pub fn consensus_type_migration(&self) -> bool {
        self.0.any(&["V1_4_2", "V1_4_3", "V2_0", "V3_0"])
    }

    pub fn org_specific_orderer_endpoints(&self) -> bool {
        self.0.any(&["V1_4_2", "V1_4_3", "V2_0", "V3_0"])
    }

    pub fn consensus_type_bft(&self) -> bool {
        self.0.has("V3_0")
    }
}

/// Orderer-level capabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrdererCapabilities(pub CapabilitySet);

impl OrdererCapabilities {
    pub fn expiration_check(&self) -> bool {
        self.0.any(&["V1_1", "V1_4_2", "V2_0"])
    }

    pub fn consensus_type_migration(&self) -> bool {
        self.0.any(&["V1_4_2", "V2_0"])
    }

    pub fn use_channel_creation_policy_as_admins(&self) -> bool {
        self.0.has("V2_0")
    }
}

/// Application-level capabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationCapabilities(pub CapabilitySet);

const FROM_V1_2: &[&str] = &["V1_2", "V1_3", "V1_4_2", "V2_0", "V2_5"];

impl ApplicationCapabilities {
    pub fn acls(&self) -> bool {
        self.0.any(FROM_V1_2)
    }

    pub fn forbid_duplicate_txid_in_block(&self) -> bool {
        self.0.has("V1_1") || self.0.any(FROM_V1_2)
    }

    pub fn private_channel_data(&self) -> bool {
        self.0.has("V1_1_PVTDATA_EXPERIMENTAL") || self.0.any(FROM_V1_2)
    }

    pub fn key_level_endorsement(&self) -> bool {
        self.0.any(&["V1_3", "V1_4_2", "V2_0", "V2_5"])
    }

    pub fn store_pvt_data_of_invalid_tx(&self) -> bool {
        self.0.any(&["V1_4_2", "V2_0", "V2_5"])
    }

    pub fn v2_0_validation(&self) -> bool {
        self.0.any(&["V2_0", "V2_5"])
    }

    pub fn lifecycle_v20(&self) -> bool {
        self.v2_0_validation()
    }

    pub fn purge_pvt_data(&self) -> bool {
        self.0.has("V2_5")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::common::Capability;

    fn set(names: &[&str]) -> CapabilitySet {
        let mut caps = Capabilities::default();
        for n in names {
            caps.capabilities
                .insert((*n).to_string(), Capability::default());
        }
        CapabilitySet::from_proto(&caps)
    }

    #[test]
    fn unknown_capability_named_in_error() {
        let err = set(&["V2_0", "V9_9"])
            .require_known("Channel", KNOWN_CHANNEL_CAPABILITIES)
            .unwrap_err();
        assert_eq!(
            err,
            ConfigError::UnsupportedCapability {
                kind: "Channel",
                name: "V9_9".into()
            }
        );
        assert!(err.to_string().contains("V9_9"));
        assert!(
            set(&["V2_5"])
                .require_known("Application", KNOWN_APPLICATION_CAPABILITIES)
                .is_ok()
        );
        // V2_5 exists for applications only.
        assert!(
            set(&["V2_5"])
                .require_known("Orderer", KNOWN_ORDERER_CAPABILITIES)
                .is_err()
        );
    }

    // Fabric common/capabilities/channel.go MSPVersion.
    #[test]
    fn msp_version_follows_channel_capabilities() {
        let v = |n: &[&str]| ChannelCapabilities(set(n)).msp_version();
        assert_eq!(v(&[]), MspVersion::V1_0);
        assert_eq!(v(&["V1_1"]), MspVersion::V1_1);
        assert_eq!(v(&["V1_4_2"]), MspVersion::V1_3);
        assert_eq!(v(&["V2_0"]), MspVersion::V1_4_3);
        assert_eq!(v(&["V2_0", "V3_0"]), MspVersion::V3_0);
    }

    #[test]
    fn application_features() {
        let app = ApplicationCapabilities(set(&["V2_0"]));
        assert!(app.acls() && app.lifecycle_v20() && !app.purge_pvt_data());
        assert!(!ApplicationCapabilities(set(&["V1_1"])).acls());
    }
}
