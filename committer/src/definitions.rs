//! Where validation finds a namespace's endorsement policy: the chaincode definitions
//! `_lifecycle` keeps in state (Fabric's `ValidationInfo` and `CollectionValidationInfo`).
//!
//! The committer asks through [`DefinitionSource`], implemented over `weft-lifecycle` by the
//! peer, so that validation does not depend on how `_lifecycle` stores its data. Lookups read
//! the state committed before the block, as Fabric's validator does.

use fabric_protos::common::{
    MspPrincipal, MspRole, SignaturePolicy, SignaturePolicyEnvelope, msp_principal, msp_role,
    signature_policy,
};
use fabric_protos::protos::{ApplicationPolicy, application_policy};
use prost::Message;
use weft_channelconfig::ChannelBundle;
use weft_ledger::kv::VersionedStore;

/// The namespace of the lifecycle system chaincode.
pub const LIFECYCLE_NAMESPACE: &str = "_lifecycle";

/// Path of the channel policy that endorses `_lifecycle` transactions when it exists.
pub const LIFECYCLE_ENDORSEMENT_POLICY: &str = "/Channel/Application/LifecycleEndorsement";

/// The validation plugin Fabric builds in (the only one Weft has).
pub const BUILTIN_VALIDATION_PLUGIN: &str = "vscc";

/// A namespace's validation plugin and parameter (a serialized `peer.ApplicationPolicy`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationInfo {
    pub plugin: String,
    pub parameter: Vec<u8>,
}

/// What the definitions say about a namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamespaceDefinition {
    Defined(ValidationInfo),
    /// No chaincode of that name is defined; transactions writing it get INVALID_CHAINCODE.
    Undefined,
}

/// The endorsement policy of a private-data collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CollectionPolicy {
    /// The collection exists and names its own policy (a serialized `ApplicationPolicy`).
    Policy(Vec<u8>),
    /// The collection exists without a policy of its own; the chaincode's applies.
    ChaincodePolicy,
    /// The chaincode defines no such collection; writes to it fail the endorsement policy.
    Undefined,
}

/// Chaincode definitions as validation reads them. An `Err` is an unexpected failure (state
/// unreadable or corrupt) that stops the commit of the block, as in Fabric.
pub trait DefinitionSource: Send + Sync {
    /// The validation info of `namespace` (Fabric's `ValidationInfo`): for `_lifecycle`,
    /// [`lifecycle_validation_info`]; for a chaincode committed in `_lifecycle`, its definition's
    /// validation plugin and parameter; otherwise [`NamespaceDefinition::Undefined`] (Fabric
    /// would then look for a legacy LSCC definition, which Weft does not support).
    fn namespace(
        &self,
        namespace: &str,
        state: &dyn VersionedStore,
        bundle: &ChannelBundle,
    ) -> Result<NamespaceDefinition, String>;

    /// The endorsement policy of `collection` of chaincode `namespace` (Fabric's
    /// `CollectionValidationInfo`): [`CollectionPolicy::ChaincodePolicy`] when `namespace` has
    /// no definition in `_lifecycle` (so also for `_lifecycle` itself) or the collection names
    /// no policy; for an implicit collection `_implicit_org_<MSPID>` the policy
    /// `/Channel/Application/<org>/Endorsement` of the org with that MSP ID (else a signature
    /// by a member of it; [`CollectionPolicy::Undefined`] if no org has that MSP ID); for a
    /// static collection its `endorsement_policy`; [`CollectionPolicy::Undefined`] for a
    /// collection the definition does not have.
    fn collection(
        &self,
        namespace: &str,
        collection: &str,
        state: &dyn VersionedStore,
        bundle: &ChannelBundle,
    ) -> Result<CollectionPolicy, String>;
}

/// Fabric's validation info for `_lifecycle`: plugin `vscc` with the channel's
/// LifecycleEndorsement policy when the config defines one, else a signature from a member of a
/// majority of the application organizations.
pub fn lifecycle_validation_info(bundle: &ChannelBundle) -> ValidationInfo {
    let defined = bundle
        .policy_manager()
        .get_policy(LIFECYCLE_ENDORSEMENT_POLICY)
        .is_some();
    let policy = if defined {
        application_policy::Type::ChannelConfigPolicyReference(
            LIFECYCLE_ENDORSEMENT_POLICY.to_owned(),
        )
    } else {
        let mut ids: Vec<String> = bundle
            .application()
            .map(|a| {
                a.organizations
                    .values()
                    .map(|o| o.org.msp_id.clone())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        application_policy::Type::SignaturePolicy(majority_of_members(&ids))
    };
    ValidationInfo {
        plugin: BUILTIN_VALIDATION_PLUGIN.to_owned(),
        parameter: ApplicationPolicy {
            r#type: Some(policy),
        }
        .encode_to_vec(),
    }
}

fn majority_of_members(sorted_ids: &[String]) -> SignaturePolicyEnvelope {
    let n = i32::try_from(sorted_ids.len() / 2 + 1).unwrap_or(i32::MAX);
    let identities = sorted_ids
        .iter()
        .map(|id| MspPrincipal {
            principal_classification: msp_principal::Classification::Role as i32,
            principal: MspRole {
                msp_identifier: id.clone(),
                role: msp_role::MspRoleType::Member as i32,
            }
            .encode_to_vec(),
        })
        .collect();
    let rules = (0..sorted_ids.len())
        .map(|i| SignaturePolicy {
            r#type: Some(signature_policy::Type::SignedBy(
                i32::try_from(i).unwrap_or(i32::MAX),
            )),
        })
        .collect();
    SignaturePolicyEnvelope {
        version: 0,
        rule: Some(SignaturePolicy {
            r#type: Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
                n,
                rules,
            })),
        }),
        identities,
    }
}
