//! Chaincode definitions for validation, read from `_lifecycle`'s state with Fabric's layout
//! (`weft-lifecycle`): the committer's [`DefinitionSource`] (Fabric's `ValidatorCommitter`
//! `ValidationInfo` and `CollectionValidationInfo`, F25 core/chaincode/lifecycle/
//! deployedcc_infoprovider.go).
//!
//! Implicit org collections take their endorsement policy from the channel config: the org's
//! `Endorsement` policy, else any member of the org.

use fabric_protos::common::{
    MspPrincipal, MspRole, SignaturePolicy, SignaturePolicyEnvelope, msp_principal, msp_role,
    signature_policy,
};
use fabric_protos::protos::collection_config::Payload as CollectionPayload;
use fabric_protos::protos::{ApplicationPolicy, application_policy};
use prost::Message;
use weft_channelconfig::ChannelBundle;
use weft_committer::{
    CollectionPolicy, DefinitionSource, NamespaceDefinition, ValidationInfo,
    lifecycle_validation_info,
};
use weft_ledger::kv::VersionedStore;
use weft_lifecycle::{ChaincodeDefinition, LIFECYCLE_NAMESPACE, committed_definition};

/// Prefix of the implicit per-org collection names (Fabric's `implicitcollection`).
pub const IMPLICIT_COLLECTION_PREFIX: &str = "_implicit_org_";

/// Definitions committed through `_lifecycle`.
#[derive(Debug, Default, Clone, Copy)]
pub struct LifecycleDefinitions;

/// Whether a definition exists: `_lifecycle` always does (with no collections of its own).
enum Defined {
    Lifecycle,
    Chaincode(Box<ChaincodeDefinition>),
}

fn definition(state: &dyn VersionedStore, name: &str) -> Result<Option<Defined>, String> {
    if name == LIFECYCLE_NAMESPACE {
        return Ok(Some(Defined::Lifecycle));
    }
    let mut get = |key: &str| -> Result<Option<Vec<u8>>, String> {
        state
            .get(LIFECYCLE_NAMESPACE, key.as_bytes())
            .map(|v| v.map(|v| v.value))
            .map_err(|e| e.to_string())
    };
    Ok(committed_definition(&mut get, name)
        .map_err(|e| e.to_string())?
        .map(|d| Defined::Chaincode(Box::new(d))))
}

impl DefinitionSource for LifecycleDefinitions {
    fn namespace(
        &self,
        namespace: &str,
        state: &dyn VersionedStore,
        bundle: &ChannelBundle,
    ) -> Result<NamespaceDefinition, String> {
        Ok(match definition(state, namespace)? {
            Some(Defined::Lifecycle) => {
                NamespaceDefinition::Defined(lifecycle_validation_info(bundle))
            }
            Some(Defined::Chaincode(definition)) => NamespaceDefinition::Defined(ValidationInfo {
                plugin: definition.validation_plugin().to_owned(),
                parameter: definition.validation_parameter().to_vec(),
            }),
            None => NamespaceDefinition::Undefined,
        })
    }

    fn collection(
        &self,
        namespace: &str,
        collection: &str,
        state: &dyn VersionedStore,
        bundle: &ChannelBundle,
    ) -> Result<CollectionPolicy, String> {
        let Some(defined) = definition(state, namespace)? else {
            return Ok(CollectionPolicy::Undefined);
        };
        if let Some(msp_id) = collection.strip_prefix(IMPLICIT_COLLECTION_PREFIX) {
            return Ok(implicit_collection_policy(bundle, msp_id));
        }
        let Defined::Chaincode(definition) = defined else {
            return Ok(CollectionPolicy::Undefined);
        };
        let found = definition
            .collections()
            .config
            .iter()
            .filter_map(|c| {
                c.payload
                    .as_ref()
                    .map(|CollectionPayload::StaticCollectionConfig(s)| s)
            })
            .find(|s| s.name == collection);
        Ok(match found {
            None => CollectionPolicy::Undefined,
            Some(config) => match &config.endorsement_policy {
                Some(policy) => CollectionPolicy::Policy(policy.encode_to_vec()),
                None => CollectionPolicy::ChaincodePolicy,
            },
        })
    }
}

/// The endorsement policy of an org's implicit collection: the org's `Endorsement` policy when
/// the channel defines one, else a signature by any member of the org; an org not in the
/// channel has no implicit collection.
fn implicit_collection_policy(bundle: &ChannelBundle, msp_id: &str) -> CollectionPolicy {
    let org_name = bundle.application().and_then(|app| {
        app.organizations
            .iter()
            .find(|(_, org)| org.org.msp_id == msp_id)
            .map(|(name, _)| name.clone())
    });
    let Some(org_name) = org_name else {
        return CollectionPolicy::Undefined;
    };
    let policy_name = format!("/Channel/Application/{org_name}/Endorsement");
    let policy = if bundle.policy_manager().get_policy(&policy_name).is_some() {
        application_policy::Type::ChannelConfigPolicyReference(policy_name)
    } else {
        application_policy::Type::SignaturePolicy(signed_by_any_member(msp_id))
    };
    CollectionPolicy::Policy(
        ApplicationPolicy {
            r#type: Some(policy),
        }
        .encode_to_vec(),
    )
}

/// Fabric's `policydsl.SignedByAnyMember([msp_id])`.
fn signed_by_any_member(msp_id: &str) -> SignaturePolicyEnvelope {
    SignaturePolicyEnvelope {
        version: 0,
        rule: Some(SignaturePolicy {
            r#type: Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
                n: 1,
                rules: vec![SignaturePolicy {
                    r#type: Some(signature_policy::Type::SignedBy(0)),
                }],
            })),
        }),
        identities: vec![MspPrincipal {
            principal_classification: msp_principal::Classification::Role as i32,
            principal: MspRole {
                msp_identifier: msp_id.to_owned(),
                role: msp_role::MspRoleType::Member as i32,
            }
            .encode_to_vec(),
        }],
    }
}
