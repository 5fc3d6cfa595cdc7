//! The node's side of the endorser's contract (`weft_endorser::support`): channels as
//! [`ChannelSupport`] (identities, ACLs, duplicate lookups, state) and the chaincodes the peer
//! can run as a [`ChaincodeRegistry`].

use std::collections::BTreeMap;
use std::sync::Arc;

use fabric_protos::protos::SignedProposal;
use fabric_protos::rwset::TxPvtReadWriteSet;
use weft_chaincode_api::Chaincode;
use weft_endorser::{
    ChaincodeDefinition, ChaincodeRegistry, ChannelSource, ChannelSupport, CollectionAccess,
    SimulationState, StateQuery, check_policy_acl, default_acl_policy,
};
use weft_msp::IdentityDeserializer;
use weft_policy::api::SignedData;

use weft_committer::Committer;

use crate::chaincodes::ApplicationChaincodes;
use crate::channels::{ChannelManager, PeerChannel};
use crate::definitions::IMPLICIT_COLLECTION_PREFIX;
use crate::proposal::CHANNEL_APPLICATION_READERS;
use crate::state::CommitterState;

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
    committer: Committer,
    applications: Option<Arc<ApplicationChaincodes>>,
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
        Ok(Box::new(CommitterState::new(
            self.committer.clone(),
            self.channel.id(),
        )))
    }

    /// Served from the committer's history database (Fabric's `GetHistoryForKey`: newest first).
    fn history_for_key(
        &self,
        namespace: &str,
        key: &str,
        limit: usize,
    ) -> Result<Vec<weft_chaincode_api::KeyModification>, String> {
        let history = self
            .committer
            .history_for_key(self.channel.id(), namespace, key, limit)
            .map_err(|e| e.to_string())?;
        Ok(history
            .into_iter()
            .map(|m| {
                let (timestamp_seconds, timestamp_nanos) =
                    m.timestamp.map_or((0, 0), |t| (t.seconds, t.nanos));
                weft_chaincode_api::KeyModification {
                    tx_id: m.tx_id,
                    value: m.value,
                    timestamp_seconds,
                    timestamp_nanos,
                    is_delete: m.is_delete,
                }
            })
            .collect())
    }

    /// Implicit org collections (`_implicit_org_<MSP>`) exist for every chaincode and, as in
    /// Fabric, restrict neither reads nor writes to members; explicit collections need private
    /// data support Weft does not have yet.
    fn collection_access(
        &self,
        _namespace: &str,
        collection: &str,
        _proposal: &SignedProposal,
        _state: &mut dyn StateQuery,
    ) -> Result<Option<CollectionAccess>, String> {
        if collection.starts_with(IMPLICIT_COLLECTION_PREFIX) {
            return Ok(Some(CollectionAccess {
                read: true,
                write: true,
            }));
        }
        Err(format!(
            "collection [{collection}] not defined: this peer has no private-data support"
        ))
    }

    /// Implicit collections require no other peer to hold the data (Fabric's required peer
    /// count 0), so their private writes need no dissemination; Weft runs no gossip, so other
    /// collections cannot be served.
    fn distribute_private_data(
        &self,
        tx_id: &str,
        private: &TxPvtReadWriteSet,
    ) -> Result<(), String> {
        let explicit = private
            .ns_pvt_rwset
            .iter()
            .flat_map(|ns| &ns.collection_pvt_rwset)
            .find(|c| !c.collection_name.starts_with(IMPLICIT_COLLECTION_PREFIX));
        match explicit {
            None => {
                tracing::debug!(%tx_id, "private writes to implicit collections only: nothing to disseminate");
                Ok(())
            }
            Some(c) => Err(format!(
                "cannot disseminate private data of collection {}: this peer runs no gossip",
                c.collection_name
            )),
        }
    }

    fn chaincode_definition(
        &self,
        name: &str,
        state: &mut dyn StateQuery,
    ) -> Result<ChaincodeDefinition, String> {
        if SYSTEM_CHAINCODES.contains(&name) {
            return Ok(ChaincodeDefinition::system(name));
        }
        match &self.applications {
            Some(applications) => {
                applications.definition(&self.committer, self.channel.id(), name, state)
            }
            None => Err(format!("chaincode {name} not found")),
        }
    }
}

/// The channel manager as the endorser's channel lookup.
pub struct EndorserChannels {
    channels: Arc<ChannelManager>,
    applications: Option<Arc<ApplicationChaincodes>>,
}

impl EndorserChannels {
    pub fn new(channels: Arc<ChannelManager>) -> Self {
        Self {
            channels,
            applications: None,
        }
    }

    /// Resolves committed application chaincodes to this org's installed packages.
    pub fn with_applications(mut self, applications: Arc<ApplicationChaincodes>) -> Self {
        self.applications = Some(applications);
        self
    }
}

impl ChannelSource for EndorserChannels {
    fn channel(&self, channel_id: &str) -> Option<Arc<dyn ChannelSupport>> {
        let channel = self.channels.get(channel_id).ok()??;
        Some(Arc::new(EndorserChannel {
            channel,
            committer: self.channels.committer().clone(),
            applications: self.applications.clone(),
        }))
    }
}

/// The chaincodes this peer runs, by the id a definition names.
#[derive(Default)]
pub struct Chaincodes {
    system: BTreeMap<String, Arc<dyn Chaincode>>,
    applications: Option<Arc<ApplicationChaincodes>>,
}

impl Chaincodes {
    /// Runs application chaincodes from the packages `applications` resolves.
    pub fn with_applications(mut self, applications: Arc<ApplicationChaincodes>) -> Self {
        self.applications = Some(applications);
        self
    }

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
        if let Some(system) = self.system.get(&definition.chaincode_id) {
            return Ok(system.clone());
        }
        match &self.applications {
            Some(applications) if !self.is_system_chaincode(&definition.name) => {
                applications.chaincode(&definition.chaincode_id)
            }
            _ => Err(format!(
                "chaincode {} is not installed on this peer",
                definition.chaincode_id
            )),
        }
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
