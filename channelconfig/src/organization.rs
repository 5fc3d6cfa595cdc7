//! Organizations and their MSPs (Fabric's `organization.go`, `applicationorg.go`, the orderer
//! org part of `orderer.go`, and `msp.go`).

use std::collections::BTreeMap;
use std::sync::Arc;

use fabric_protos::common::{ConfigGroup, OrdererAddresses};
use fabric_protos::msp::MspConfig;
use fabric_protos::protos::{AnchorPeer, AnchorPeers};
use weft_msp::IdentityDeserializer;

use crate::capabilities::MspVersion;
use crate::error::ConfigError;
use crate::sources::{ChannelMsp, MspFactory};
use crate::values::{check_value_keys, decode_value, invalid_group, invalid_value};

pub const MSP_KEY: &str = "MSP";
pub const ANCHOR_PEERS_KEY: &str = "AnchorPeers";
pub const ENDPOINTS_KEY: &str = "Endpoints";

/// MSP types Fabric knows (`msp.ProviderType`).
const MSP_TYPE_FABRIC: i32 = 0;
const MSP_TYPE_IDEMIX: i32 = 1;

/// An organization of the channel: its name in the config and its MSP.
#[derive(Debug, Clone)]
pub struct Organization {
    pub name: String,
    pub msp_id: String,
    pub msp: Arc<dyn ChannelMsp>,
}

/// An application (peer) organization.
#[derive(Debug, Clone)]
pub struct ApplicationOrg {
    pub org: Organization,
    pub anchor_peers: Vec<AnchorPeer>,
}

/// An orderer organization with the endpoints its orderers serve on.
#[derive(Debug, Clone)]
pub struct OrdererOrg {
    pub org: Organization,
    pub endpoints: Vec<String>,
}

/// Collects the MSPs of a config while it is parsed; the same MSP ID may appear in several
/// places only with identical configs.
pub(crate) struct MspCollector<'a> {
    factory: &'a dyn MspFactory,
    version: MspVersion,
    by_id: BTreeMap<String, (MspConfig, Arc<dyn ChannelMsp>)>,
}

impl<'a> MspCollector<'a> {
    pub fn new(factory: &'a dyn MspFactory, version: MspVersion) -> Self {
        Self {
            factory,
            version,
            by_id: BTreeMap::new(),
        }
    }

    fn propose(
        &mut self,
        path: &str,
        config: &MspConfig,
    ) -> Result<Arc<dyn ChannelMsp>, ConfigError> {
        if config.r#type != MSP_TYPE_FABRIC && config.r#type != MSP_TYPE_IDEMIX {
            return Err(invalid_value(
                path,
                MSP_KEY,
                format!("unsupported msp type {}", config.r#type),
            ));
        }
        let msp = self
            .factory
            .new_msp(config, self.version)
            .map_err(|source| ConfigError::Msp {
                path: format!("{path}/{MSP_KEY}"),
                source,
            })?;
        let id = msp.msp_id().to_string();
        match self.by_id.get(&id) {
            Some((existing, _)) if existing != config => Err(invalid_value(
                path,
                MSP_KEY,
                format!("attempted to define two different versions of MSP {id}"),
            )),
            Some(_) => Ok(msp),
            None => {
                self.by_id.insert(id, (config.clone(), msp.clone()));
                Ok(msp)
            }
        }
    }

    pub fn into_manager(self) -> Result<Arc<dyn IdentityDeserializer>, ConfigError> {
        let msps = self.by_id.into_values().map(|(_, msp)| msp).collect();
        self.factory
            .new_manager(msps)
            .map_err(ConfigError::MspManager)
    }
}

fn no_sub_groups(group: &ConfigGroup, path: &str) -> Result<(), ConfigError> {
    if group.groups.is_empty() {
        Ok(())
    } else {
        Err(invalid_group(path, "organizations do not allow sub-groups"))
    }
}

fn organization(
    name: &str,
    group: &ConfigGroup,
    path: &str,
    msps: &mut MspCollector<'_>,
) -> Result<Organization, ConfigError> {
    let config: MspConfig = decode_value(group, path, MSP_KEY)?;
    let msp = msps.propose(path, &config)?;
    let msp_id = msp.msp_id().to_string();
    if msp_id.is_empty() {
        return Err(invalid_value(
            path,
            MSP_KEY,
            format!("MSP for org {name} has empty MSP ID"),
        ));
    }
    Ok(Organization {
        name: name.to_string(),
        msp_id,
        msp,
    })
}

/// A consortium member: an organization with nothing but an MSP.
pub(crate) fn plain_org(
    name: &str,
    group: &ConfigGroup,
    path: &str,
    msps: &mut MspCollector<'_>,
) -> Result<Organization, ConfigError> {
    no_sub_groups(group, path)?;
    check_value_keys(group, path, &[MSP_KEY])?;
    organization(name, group, path, msps)
}

pub(crate) fn application_org(
    name: &str,
    group: &ConfigGroup,
    path: &str,
    msps: &mut MspCollector<'_>,
) -> Result<ApplicationOrg, ConfigError> {
    no_sub_groups(group, path)?;
    check_value_keys(group, path, &[MSP_KEY, ANCHOR_PEERS_KEY])?;
    let anchors: AnchorPeers = decode_value(group, path, ANCHOR_PEERS_KEY)?;
    let org = organization(name, group, path, msps)?;
    Ok(ApplicationOrg {
        org,
        anchor_peers: anchors.anchor_peers,
    })
}

pub(crate) fn orderer_org(
    name: &str,
    group: &ConfigGroup,
    path: &str,
    org_specific_endpoints: bool,
    msps: &mut MspCollector<'_>,
) -> Result<OrdererOrg, ConfigError> {
    no_sub_groups(group, path)?;
    if !org_specific_endpoints && group.values.contains_key(ENDPOINTS_KEY) {
        return Err(invalid_value(
            path,
            ENDPOINTS_KEY,
            "orderer org endpoints need the V1_4_2 channel capability or later",
        ));
    }
    check_value_keys(group, path, &[MSP_KEY, ENDPOINTS_KEY])?;
    let endpoints: OrdererAddresses = decode_value(group, path, ENDPOINTS_KEY)?;
    let org = organization(name, group, path, msps)?;
    Ok(OrdererOrg {
        org,
        endpoints: endpoints.addresses,
    })
}
