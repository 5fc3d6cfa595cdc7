//! The access checks the peer's own services apply (Fabric's `core/aclmgmt` for the resources
//! the peer serves itself): local MSP admins or members for channel-less system chaincode calls,
//! a channel policy (with the channel config's ACL overrides) otherwise.

use fabric_protos::common::{MspPrincipal, MspRole, msp_principal, msp_role};
use fabric_protos::protos::SignedProposal;
use prost::Message;
use weft_channelconfig::ChannelBundle;
use weft_msp::IdentityDeserializer;
use weft_policy::api::SignedData;

/// The proposal's signature as policy input: the proposal bytes signed by the creator.
pub fn signed_data(signed: &SignedProposal, creator: &[u8]) -> SignedData {
    SignedData {
        data: signed.proposal_bytes.clone(),
        identity: creator.to_vec(),
        signature: signed.signature.clone(),
    }
}

/// Which local-MSP role a channel-less call requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalRole {
    Admin,
    Member,
}

/// Checks that the proposal was signed by an admin (or member) of the peer's own MSP, Fabric's
/// local `Admins` / `Members` policies.
pub fn check_local(
    local_msp: &dyn IdentityDeserializer,
    local_msp_id: &str,
    signed: &SignedProposal,
    creator: &[u8],
    role: LocalRole,
) -> Result<(), String> {
    let identity = local_msp
        .deserialize_identity(creator)
        .map_err(|e| format!("failed deserializing proposal creator: {e}"))?;
    identity.validate().map_err(|e| e.to_string())?;
    identity
        .verify(&signed.proposal_bytes, &signed.signature)
        .map_err(|e| e.to_string())?;
    let role = match role {
        LocalRole::Admin => msp_role::MspRoleType::Admin,
        LocalRole::Member => msp_role::MspRoleType::Member,
    };
    let principal = MspPrincipal {
        principal_classification: msp_principal::Classification::Role as i32,
        principal: MspRole {
            msp_identifier: local_msp_id.to_owned(),
            role: role as i32,
        }
        .encode_to_vec(),
    };
    identity
        .satisfies_principal(&principal)
        .map_err(|e| format!("the creator is not a {role:?} of {local_msp_id}: {e}"))
}

/// Fabric's default ACL policy for channel reads (qscc, Deliver): the channel's application
/// Readers.
pub const CHANNEL_APPLICATION_READERS: &str = "/Channel/Application/Readers";

/// Evaluates a channel policy over one signature.
pub fn check_channel_policy(
    bundle: &ChannelBundle,
    policy: &str,
    signed: &SignedData,
) -> Result<(), String> {
    let policy_ref = bundle
        .policy_manager()
        .get_policy(policy)
        .ok_or_else(|| format!("policy {policy} not found"))?;
    policy_ref
        .evaluate_signed_data(std::slice::from_ref(signed))
        .map_err(|e| {
            format!("failed evaluating policy on signed data during check policy [{policy}]: [{e}]")
        })
}

/// The policy guarding an API resource on a channel: the channel's ACL override when its
/// config has one, else Fabric's default.
pub fn acl_policy<'a>(bundle: &'a ChannelBundle, resource: &str, default: &'a str) -> &'a str {
    bundle
        .application()
        .and_then(|app| app.policy_ref_for_api(resource))
        .unwrap_or(default)
}

/// Checks a channel-scoped ACL resource (for example `qscc/GetChainInfo`, `event/Block`)
/// whose default policy is the channel's application Readers.
pub fn check_reader_acl(
    bundle: &ChannelBundle,
    resource: &str,
    signed: &SignedData,
) -> Result<(), String> {
    let policy = acl_policy(bundle, resource, CHANNEL_APPLICATION_READERS);
    check_channel_policy(bundle, policy, signed)
}
