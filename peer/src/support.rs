//! The node's side of the endorser's contract (`weft_endorser::support`): channels as
//! [`ChannelSupport`] (identities, ACLs, duplicate lookups, state) and the chaincodes the peer
//! can run as a [`ChaincodeRegistry`].

use std::collections::BTreeMap;
use std::sync::Arc;

use weft_chaincode_api::Chaincode;
use weft_endorser::{
    ChaincodeDefinition, ChaincodeRegistry, ChannelSource, ChannelSupport, SimulationState,
    StateQuery, check_policy_acl, default_acl_policy,
};
use weft_msp::IdentityDeserializer;
use weft_policy::api::SignedData;

use crate::channels::{ChannelManager, PeerChannel};
use crate::proposal::CHANNEL_APPLICATION_READERS;

/// System chaincode names, as Fabric registers them.
pub const SYSTEM_CHAINCODES: [&str; 3] = ["_lifecycle", "cscc", "qscc"];

/// The policy guarding `resource` on a channel without an ACL override: the endorser's
/// defaults, and the channel's application Readers for the read-only resources the peer serves
/// itself (qscc, cscc reads, events), as Fabric's default ACL provider.
fn default_policy(resource: &str) -> Option<&'static str> {
    default_acl_policy(resource).or_else(|| {
        let reader = resource.starts_with("qscc/")
            || resource.starts_with("event/")
            || matches!(resource, "cscc/GetConfigBlock" | "cscc/GetChannelConfig");
        reader.then_some(CHANNEL_APPLICATION_READERS)
    })
}

/// One joined channel as the endorser sees it.
pub struct EndorserChannel {
    channel: Arc<PeerChannel>,
}

impl ChannelSupport for EndorserChannel {
    fn identity_deserializer(&self) -> Arc<dyn IdentityDeserializer> {
        self.channel.bundle().msp_manager().clone()
    }

    fn check_acl(&self, resource: &str, signed: &SignedData) -> Result<(), String> {
        let bundle = self.channel.bundle();
        let policy = bundle
            .application()
            .and_then(|app| app.policy_ref_for_api(resource))
            .or_else(|| default_policy(resource))
            .ok_or_else(|| format!("unknown ACL resource {resource}"))?;
        check_policy_acl(
            bundle.policy_manager().as_ref(),
            policy,
            std::slice::from_ref(signed),
        )
    }

    fn transaction_exists(&self, tx_id: &str) -> Result<bool, String> {
        self.channel
            .ledger()
            .tx_location(tx_id)
            .map(|l| l.is_some())
            .map_err(|e| e.to_string())
    }

    fn simulation_state(&self) -> Result<SimulationState, String> {
        Err(format!(
            "channel {}: this peer keeps no world state yet, so it cannot simulate transactions",
            self.channel.id()
        ))
    }

    fn chaincode_definition(
        &self,
        name: &str,
        _state: &mut dyn StateQuery,
    ) -> Result<ChaincodeDefinition, String> {
        if SYSTEM_CHAINCODES.contains(&name) {
            return Ok(ChaincodeDefinition::system(name));
        }
        Err(format!("chaincode {name} not found"))
    }
}

/// The channel manager as the endorser's channel lookup.
pub struct EndorserChannels {
    channels: Arc<ChannelManager>,
}

impl EndorserChannels {
    pub fn new(channels: Arc<ChannelManager>) -> Self {
        Self { channels }
    }
}

impl ChannelSource for EndorserChannels {
    fn channel(&self, channel_id: &str) -> Option<Arc<dyn ChannelSupport>> {
        let channel = self.channels.get(channel_id).ok()??;
        Some(Arc::new(EndorserChannel { channel }))
    }
}

/// The chaincodes this peer runs, by the id a definition names.
#[derive(Default)]
pub struct Chaincodes {
    system: BTreeMap<String, Arc<dyn Chaincode>>,
}

impl Chaincodes {
    pub fn with_system(mut self, name: &str, chaincode: Arc<dyn Chaincode>) -> Self {
        self.system.insert(name.to_owned(), chaincode);
        self
    }
}

impl ChaincodeRegistry for Chaincodes {
    fn is_system_chaincode(&self, name: &str) -> bool {
        SYSTEM_CHAINCODES.contains(&name)
    }

    fn chaincode(
        &self,
        _channel_id: &str,
        definition: &ChaincodeDefinition,
    ) -> Result<Arc<dyn Chaincode>, String> {
        self.system
            .get(&definition.chaincode_id)
            .cloned()
            .ok_or_else(|| {
                format!(
                    "chaincode {} is not installed on this peer",
                    definition.chaincode_id
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Fabric's defaultaclprovider: propose and chaincode-to-chaincode need Writers; qscc, the
    // cscc reads and the events need Readers; anything else is unknown here.
    #[test]
    fn default_policies_follow_fabric() {
        let table = [
            ("peer/Propose", Some("/Channel/Application/Writers")),
            (
                "peer/ChaincodeToChaincode",
                Some("/Channel/Application/Writers"),
            ),
            ("qscc/GetChainInfo", Some(CHANNEL_APPLICATION_READERS)),
            ("qscc/GetBlockByTxID", Some(CHANNEL_APPLICATION_READERS)),
            ("cscc/GetChannelConfig", Some(CHANNEL_APPLICATION_READERS)),
            ("event/Block", Some(CHANNEL_APPLICATION_READERS)),
            ("event/FilteredBlock", Some(CHANNEL_APPLICATION_READERS)),
            ("cscc/JoinChain", None),
            ("nonsense", None),
        ];
        for (resource, policy) in table {
            assert_eq!(default_policy(resource), policy, "{resource}");
        }
    }
}
