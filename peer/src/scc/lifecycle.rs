//! What the `_lifecycle` system chaincode (`weft-lifecycle`'s [`LifecycleScc`]) needs from the
//! peer: the channel's orgs and capabilities, the package store under `peer.fileSystemPath`,
//! and Fabric's ACLs for its functions (local MSP admins for install, approve and the
//! installed-package queries; the channel's application Writers, or the channel's ACL
//! override, for commit, readiness and definition queries).

use std::sync::Arc;

use fabric_protos::common::{Header, SignatureHeader};
use fabric_protos::protos::{Proposal, SignedProposal};
use weft_lifecycle::{ChannelView, PackageStore, PeerContext};
use weft_msp::IdentityDeserializer;

use crate::channels::ChannelManager;
use crate::proposal::{self, LocalRole};

pub use weft_lifecycle::LifecycleScc;

pub const NAME: &str = "_lifecycle";

/// Functions guarded by the local MSP's Admins (Fabric's peer-level `_lifecycle` resources).
const LOCAL_ADMIN_FUNCTIONS: [&str; 6] = [
    "InstallChaincode",
    "QueryInstalledChaincode",
    "GetInstalledChaincodePackage",
    "QueryInstalledChaincodes",
    "ApproveChaincodeDefinitionForMyOrg",
    "QueryApprovedChaincodeDefinition",
];

/// Fabric's default policy for the channel-level `_lifecycle` resources.
const CHANNEL_APPLICATION_WRITERS: &str = "/Channel/Application/Writers";

pub struct LifecycleContext {
    channels: Arc<ChannelManager>,
    local_msp: Arc<dyn IdentityDeserializer>,
    local_msp_id: String,
    packages: PackageStore,
}

impl LifecycleContext {
    pub fn new(
        channels: Arc<ChannelManager>,
        local_msp: Arc<dyn IdentityDeserializer>,
        local_msp_id: String,
        packages: PackageStore,
    ) -> Self {
        Self {
            channels,
            local_msp,
            local_msp_id,
            packages,
        }
    }
}

/// The creator named in a signed proposal's signature header.
fn proposal_creator(signed: &SignedProposal) -> Result<Vec<u8>, String> {
    let proposal = weft_protoutil::decode::<Proposal>("Proposal", &signed.proposal_bytes)
        .map_err(|e| e.to_string())?;
    let header =
        weft_protoutil::decode::<Header>("Header", &proposal.header).map_err(|e| e.to_string())?;
    let signature_header =
        weft_protoutil::decode::<SignatureHeader>("SignatureHeader", &header.signature_header)
            .map_err(|e| e.to_string())?;
    Ok(signature_header.creator)
}

impl PeerContext for LifecycleContext {
    fn local_msp_id(&self) -> &str {
        &self.local_msp_id
    }

    fn channel(&self, channel_id: &str) -> Option<ChannelView> {
        let channel = self.channels.get(channel_id).ok()??;
        let bundle = channel.bundle();
        let application_orgs: Option<Vec<String>> = bundle.application().map(|app| {
            app.organizations
                .values()
                .map(|o| o.org.msp_id.clone())
                .collect()
        });
        let orderer_orgs = bundle
            .orderer()
            .map(|o| {
                o.organizations
                    .values()
                    .map(|o| o.org.msp_id.clone())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let mut msp_ids: Vec<String> = application_orgs
            .iter()
            .flatten()
            .cloned()
            .chain(orderer_orgs)
            .collect();
        msp_ids.sort();
        msp_ids.dedup();
        Some(ChannelView {
            lifecycle_v20: bundle
                .application()
                .is_some_and(|app| app.capabilities.lifecycle_v20()),
            defines_endorsement_policy: bundle
                .policy_manager()
                .get_policy("/Channel/Application/Endorsement")
                .is_some(),
            application_orgs,
            msp_ids,
        })
    }

    fn package_store(&self) -> &PackageStore {
        &self.packages
    }

    fn check_acl(
        &self,
        resource: &str,
        channel_id: &str,
        signed_proposal: &[u8],
    ) -> Result<(), String> {
        let signed = weft_protoutil::decode::<SignedProposal>("SignedProposal", signed_proposal)
            .map_err(|e| e.to_string())?;
        let creator = proposal_creator(&signed)?;
        let function = resource.rsplit('/').next().unwrap_or_default();
        if LOCAL_ADMIN_FUNCTIONS.contains(&function) {
            return proposal::check_local(
                self.local_msp.as_ref(),
                &self.local_msp_id,
                &signed,
                &creator,
                LocalRole::Admin,
            );
        }
        let channel = self
            .channels
            .require(channel_id)
            .map_err(|e| e.to_string())?;
        let bundle = channel.bundle();
        let policy = proposal::acl_policy(&bundle, resource, CHANNEL_APPLICATION_WRITERS);
        proposal::check_channel_policy(&bundle, policy, &proposal::signed_data(&signed, &creator))
    }
}
