//! The immutable, typed view of one channel config (Fabric's `channelconfig.Bundle`): values,
//! sections, MSPs, policies, and the configtx validator for the next update.

use std::collections::BTreeMap;
use std::sync::Arc;

use fabric_protos::common::{
    Block, ChannelHeader, Config, ConfigEnvelope, ConfigGroup, Envelope, HeaderType, Payload,
};
use prost::Message;
use weft_msp::IdentityDeserializer;
use weft_policy::PolicyManager;

use crate::application::{
    APPLICATION_GROUP_KEY, ApplicationConfig, CONSORTIUMS_GROUP_KEY, Consortium, parse_consortiums,
};
use crate::channel::{CAPABILITIES_KEY, ChannelValues};
use crate::configmap::ROOT_GROUP_KEY;
use crate::configtx::ConfigtxValidator;
use crate::error::{ConfigError, UpdateError};
use crate::orderer::{ORDERER_GROUP_KEY, OrdererConfig};
use crate::organization::MspCollector;
use crate::sources::{MspFactory, PolicyProvider};
use crate::values::invalid_group;

/// The builders a bundle needs from the MSP and policy crates.
#[derive(Clone, Copy)]
pub struct BundleSources<'a> {
    pub msps: &'a dyn MspFactory,
    pub policies: &'a dyn PolicyProvider,
}

/// One channel config, parsed and validated. Immutable: a config update yields a new bundle.
#[derive(Clone)]
pub struct ChannelBundle {
    channel: ChannelValues,
    orderer: Option<OrdererConfig>,
    application: Option<ApplicationConfig>,
    consortiums: Option<BTreeMap<String, Consortium>>,
    msp_manager: Arc<dyn IdentityDeserializer>,
    policy_manager: Arc<dyn PolicyManager>,
    configtx: ConfigtxValidator,
}

impl std::fmt::Debug for ChannelBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelBundle")
            .field("channel_id", &self.channel_id())
            .field("sequence", &self.sequence())
            .field("channel", &self.channel)
            .field("orderer", &self.orderer)
            .field("application", &self.application)
            .field("consortiums", &self.consortiums)
            .finish_non_exhaustive()
    }
}

impl ChannelBundle {
    /// Parses and validates `config` of channel `channel_id` (Fabric's `NewBundle`).
    pub fn new(
        channel_id: &str,
        config: &Config,
        sources: BundleSources<'_>,
    ) -> Result<Self, ConfigError> {
        let root = config
            .channel_group
            .as_ref()
            .ok_or_else(|| ConfigError::Envelope("config must contain a channel group".into()))?;
        pre_validate(root)?;
        let path = format!("/{ROOT_GROUP_KEY}");
        let channel = ChannelValues::parse(root, &path)?;
        let mut msps = MspCollector::new(sources.msps, channel.capabilities.msp_version());
        let (mut orderer, mut application, mut consortiums) = (None, None, None);
        for (name, group) in &root.groups {
            let sub_path = format!("{path}/{name}");
            match name.as_str() {
                ORDERER_GROUP_KEY => {
                    orderer = Some(OrdererConfig::parse(
                        group,
                        &sub_path,
                        &channel.capabilities,
                        &mut msps,
                    )?)
                }
                APPLICATION_GROUP_KEY => {
                    application = Some(ApplicationConfig::parse(group, &sub_path, &mut msps)?)
                }
                CONSORTIUMS_GROUP_KEY => {
                    consortiums = Some(parse_consortiums(group, &sub_path, &mut msps)?)
                }
                _ => return Err(invalid_group(&sub_path, "disallowed channel group")),
            }
        }
        let msp_manager = msps.into_manager()?;
        let policy_manager = sources
            .policies
            .new_policy_manager(root, msp_manager.clone())
            .map_err(ConfigError::Policy)?;
        let configtx = ConfigtxValidator::new(channel_id, config).map_err(ConfigError::Tree)?;
        Ok(Self {
            channel,
            orderer,
            application,
            consortiums,
            msp_manager,
            policy_manager,
            configtx,
        })
    }

    /// Builds the bundle of a config block (`data[0]` must be a CONFIG envelope).
    pub fn from_config_block(
        block: &Block,
        sources: BundleSources<'_>,
    ) -> Result<Self, ConfigError> {
        let (channel_id, envelope) = config_envelope_from_block(block)?;
        let config = envelope
            .config
            .ok_or_else(|| ConfigError::Envelope("no config found in envelope".into()))?;
        Self::new(&channel_id, &config, sources)
    }

    pub fn channel_id(&self) -> &str {
        self.configtx.channel_id()
    }

    pub fn sequence(&self) -> u64 {
        self.configtx.sequence()
    }

    /// The config this bundle was built from.
    pub fn config(&self) -> &Config {
        self.configtx.config()
    }

    pub fn channel(&self) -> &ChannelValues {
        &self.channel
    }

    pub fn orderer(&self) -> Option<&OrdererConfig> {
        self.orderer.as_ref()
    }

    pub fn application(&self) -> Option<&ApplicationConfig> {
        self.application.as_ref()
    }

    pub fn consortiums(&self) -> Option<&BTreeMap<String, Consortium>> {
        self.consortiums.as_ref()
    }

    /// The identity deserializer over the channel's MSPs.
    pub fn msp_manager(&self) -> &Arc<dyn IdentityDeserializer> {
        &self.msp_manager
    }

    pub fn policy_manager(&self) -> &Arc<dyn PolicyManager> {
        &self.policy_manager
    }

    pub fn configtx(&self) -> &ConfigtxValidator {
        &self.configtx
    }

    /// Authorizes a CONFIG_UPDATE envelope against this config and returns the next config
    /// envelope (what an orderer puts in the next config block).
    pub fn propose_config_update(&self, update: &Envelope) -> Result<ConfigEnvelope, UpdateError> {
        self.configtx
            .propose_config_update(update, self.policy_manager.as_ref())
    }

    /// Checks a config envelope from a config block against this config (what a peer does
    /// before committing a config block).
    pub fn validate_config_envelope(&self, envelope: &ConfigEnvelope) -> Result<(), UpdateError> {
        self.configtx
            .validate(envelope, self.policy_manager.as_ref())
    }

    /// Validates `envelope` against this config and builds the bundle of the resulting
    /// config, checking that it may succeed this one.
    pub fn apply_config_envelope(
        &self,
        envelope: &ConfigEnvelope,
        sources: BundleSources<'_>,
    ) -> Result<ChannelBundle, ConfigError> {
        self.validate_config_envelope(envelope)
            .map_err(ConfigError::Tree)?;
        let config = envelope
            .config
            .as_ref()
            .ok_or(ConfigError::Tree(UpdateError::MissingConfig))?;
        let next = ChannelBundle::new(self.channel_id(), config, sources)?;
        self.validate_successor(&next)?;
        Ok(next)
    }

    /// Checks that `next` may replace this config (Fabric's `Bundle.ValidateNew`): sections
    /// are not dropped, the consensus type changes only with migration capability, and
    /// organizations keep their MSP IDs.
    pub fn validate_successor(&self, next: &ChannelBundle) -> Result<(), ConfigError> {
        let fail = |m: String| Err(ConfigError::Successor(m));
        if let Some(oc) = &self.orderer {
            let Some(noc) = &next.orderer else {
                return fail(
                    "current config has an orderer section, but the new config does not".into(),
                );
            };
            if !self.channel.capabilities.consensus_type_migration()
                && oc.consensus_type != noc.consensus_type
            {
                return fail(format!(
                    "attempted to change consensus type from {} to {}",
                    oc.consensus_type, noc.consensus_type
                ));
            }
            for (name, org) in &oc.organizations {
                if let Some(norg) = noc
                    .organizations
                    .get(name)
                    .filter(|n| n.org.msp_id != org.org.msp_id)
                {
                    return fail(format!(
                        "orderer org {name} attempted to change MSP ID from {} to {}",
                        org.org.msp_id, norg.org.msp_id
                    ));
                }
            }
        }
        if let Some(ac) = &self.application {
            let Some(nac) = &next.application else {
                return fail(
                    "current config has an application section, but the new config does not".into(),
                );
            };
            for (name, org) in &ac.organizations {
                if let Some(norg) = nac
                    .organizations
                    .get(name)
                    .filter(|n| n.org.msp_id != org.org.msp_id)
                {
                    return fail(format!(
                        "application org {name} attempted to change MSP ID from {} to {}",
                        org.org.msp_id, norg.org.msp_id
                    ));
                }
            }
        }
        match (&self.consortiums, &next.consortiums) {
            (Some(_), None) => {
                fail("current config has a consortiums section, but the new config does not".into())
            }
            (None, Some(_)) => {
                fail("current config has no consortiums section, but the new config does".into())
            }
            (Some(cur), Some(new)) => {
                for (cname, consortium) in cur {
                    let Some(nc) = new.get(cname) else { continue };
                    for (name, org) in &consortium.organizations {
                        if let Some(norg) = nc
                            .organizations
                            .get(name)
                            .filter(|n| n.msp_id != org.msp_id)
                        {
                            return fail(format!(
                                "consortium {cname} org {name} attempted to change MSP ID from {} to {}",
                                org.msp_id, norg.msp_id
                            ));
                        }
                    }
                }
                Ok(())
            }
            (None, None) => Ok(()),
        }
    }
}

/// Capabilities at channel or application level need orderer capabilities first
/// (Fabric's `preValidate`).
fn pre_validate(root: &ConfigGroup) -> Result<(), ConfigError> {
    let Some(orderer) = root.groups.get(ORDERER_GROUP_KEY) else {
        return Ok(());
    };
    if orderer.values.contains_key(CAPABILITIES_KEY) {
        return Ok(());
    }
    if root.values.contains_key(CAPABILITIES_KEY) {
        return Err(invalid_group(
            "/Channel",
            "cannot enable channel capabilities without orderer support first",
        ));
    }
    if root
        .groups
        .get(APPLICATION_GROUP_KEY)
        .is_some_and(|a| a.values.contains_key(CAPABILITIES_KEY))
    {
        return Err(invalid_group(
            "/Channel/Application",
            "cannot enable application capabilities without orderer support first",
        ));
    }
    Ok(())
}

/// The channel ID and config envelope of a config block: `data[0]` is an envelope whose
/// payload has header type CONFIG and carries a `ConfigEnvelope`.
pub fn config_envelope_from_block(block: &Block) -> Result<(String, ConfigEnvelope), ConfigError> {
    let first = block
        .data
        .as_ref()
        .and_then(|d| d.data.first())
        .ok_or_else(|| ConfigError::Envelope("block has no data".into()))?;
    let envelope = Envelope::decode(first.as_slice()).map_err(|e| decode("Envelope", e))?;
    config_envelope_from_envelope(&envelope)
}

/// The channel ID and config envelope of a CONFIG envelope.
pub fn config_envelope_from_envelope(
    envelope: &Envelope,
) -> Result<(String, ConfigEnvelope), ConfigError> {
    let payload = Payload::decode(envelope.payload.as_slice()).map_err(|e| decode("Payload", e))?;
    let header = payload
        .header
        .ok_or_else(|| ConfigError::Envelope("envelope must have a header".into()))?;
    let channel_header = ChannelHeader::decode(header.channel_header.as_slice())
        .map_err(|e| decode("ChannelHeader", e))?;
    if channel_header.r#type != HeaderType::Config as i32 {
        return Err(ConfigError::Envelope(format!(
            "envelope has header type {}, expected CONFIG",
            channel_header.r#type
        )));
    }
    let config_envelope =
        ConfigEnvelope::decode(payload.data.as_slice()).map_err(|e| decode("ConfigEnvelope", e))?;
    Ok((channel_header.channel_id, config_envelope))
}

fn decode(what: &str, e: prost::DecodeError) -> ConfigError {
    ConfigError::Decode {
        what: what.to_string(),
        reason: e.to_string(),
    }
}

impl BundleSources<'static> {
    /// Weft's X.509 MSP and policy crates.
    pub fn weft() -> Self {
        BundleSources {
            msps: &crate::sources::X509MspFactory,
            policies: &crate::sources::GroupPolicyProvider,
        }
    }
}
