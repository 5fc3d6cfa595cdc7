//! Lookups the endorser and the validator make against `_lifecycle` state, as Fabric's lifecycle
//! cache and `ValidatorCommitter` make them:
//! - which installed package this org runs for a committed chaincode (judged from the hashes in
//!   the org's implicit collection, which every peer of the org has even when the approval's
//!   private values were written by another peer), and
//! - which validation plugin and policy apply to a namespace or a collection.

use std::collections::BTreeMap;

use fabric_protos::common::{
    MspPrincipal, MspRole, SignaturePolicy, SignaturePolicyEnvelope, msp_principal, msp_role,
    signature_policy,
};
use fabric_protos::peer::{ApplicationPolicy, application_policy, collection_config};
use prost::Message;

use crate::definition::{
    self, ChaincodeDefinition, ChaincodeLocalPackage, DEFAULT_VALIDATION_PLUGIN, KeyReader,
};
use crate::error::LifecycleError;
use crate::package::InstalledPackage;
use crate::scc::ChaincodeReference;
use crate::state::{
    self, CHAINCODE_SOURCES_PREFIX, FieldValue, LIFECYCLE_NAMESPACE, NAMESPACES_PREFIX,
    OpaqueState, ReadableState,
};

/// A committed chaincode as this org's peers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalChaincodeInfo {
    pub definition: ChaincodeDefinition,
    /// Whether this org approved exactly the committed parameters at the committed sequence.
    pub approved: bool,
    /// The installed package this org approved for it, if any is installed here.
    pub package_id: Option<String>,
}

struct Reader<'a, 'b, E> {
    get: &'a mut KeyReader<'b, E>,
}

impl<E: std::fmt::Display> ReadableState for Reader<'_, '_, E> {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, LifecycleError> {
        (self.get)(key).map_err(|e| LifecycleError::State(e.to_string()))
    }
}

impl<E: std::fmt::Display> OpaqueState for Reader<'_, '_, E> {
    fn get_state_hash(&mut self, key: &str) -> Result<Option<Vec<u8>>, LifecycleError> {
        (self.get)(key).map_err(|e| LifecycleError::State(e.to_string()))
    }
}

/// Fabric's lifecycle cache entry for `name`: the committed definition, whether this org
/// approved it, and the installed package the org's approval names. `public` reads the
/// `_lifecycle` namespace; `own_hashes` reads the sha256 of a key's value in this org's implicit
/// collection. `None` when nothing is committed under `name`.
pub fn local_chaincode_info<E: std::fmt::Display>(
    public: &mut KeyReader<'_, E>,
    own_hashes: &mut KeyReader<'_, E>,
    name: &str,
    installed: &[InstalledPackage],
) -> Result<Option<LocalChaincodeInfo>, LifecycleError> {
    let Some(definition) =
        definition::read_committed_definition(&mut Reader { get: public }, name)?
    else {
        return Ok(None);
    };
    let private_name = state::private_name(name, definition.sequence);
    let mut hashes = Reader { get: own_hashes };
    let approved = state::is_serialized(
        NAMESPACES_PREFIX,
        &private_name,
        &definition.parameters(),
        &mut hashes,
    )?;
    let mut package_id = None;
    if approved {
        let metadata_key = state::metadata_key(CHAINCODE_SOURCES_PREFIX, &private_name);
        let has_source = hashes.get_state_hash(&metadata_key)?.as_deref()
            == Some(state::sha256(&state::metadata_bytes::<ChaincodeLocalPackage>()).as_slice());
        if has_source {
            let key = state::field_key(CHAINCODE_SOURCES_PREFIX, &private_name, "PackageID");
            if let Some(hash) = hashes.get_state_hash(&key)? {
                package_id = installed
                    .iter()
                    .find(|p| {
                        let value = FieldValue::String(p.package_id.clone()).to_state_data_bytes();
                        state::sha256(&value).as_slice() == hash.as_slice()
                    })
                    .map(|p| p.package_id.clone());
            }
        }
    }
    Ok(Some(LocalChaincodeInfo {
        definition,
        approved,
        package_id,
    }))
}

/// What the endorser needs to run a chaincode: its definition and this org's package. Errors
/// carry Fabric's messages for a definition this org has not approved or whose package is not
/// installed; `Ok(None)` means no definition is committed under `name`.
pub fn endorsement_target<E: std::fmt::Display>(
    public: &mut KeyReader<'_, E>,
    own_hashes: &mut KeyReader<'_, E>,
    channel_id: &str,
    name: &str,
    installed: &[InstalledPackage],
) -> Result<Option<(ChaincodeDefinition, String)>, LifecycleError> {
    let Some(info) = local_chaincode_info(public, own_hashes, name, installed)? else {
        return Ok(None);
    };
    runnable(info, channel_id, name).map(Some)
}

/// The definition and package of an approved, installed chaincode, else Fabric's refusal.
fn runnable(
    info: LocalChaincodeInfo,
    channel_id: &str,
    name: &str,
) -> Result<(ChaincodeDefinition, String), LifecycleError> {
    if !info.approved {
        return Err(LifecycleError::rejected(format!(
            "chaincode definition for '{name}' at sequence {} on channel '{channel_id}' has not yet been approved by this org",
            info.definition.sequence
        )));
    }
    match info.package_id {
        Some(package_id) => Ok((info.definition, package_id)),
        None => Err(LifecycleError::rejected(format!(
            "chaincode definition for '{name}' exists, but chaincode is not installed"
        ))),
    }
}

/// Fabric's `ChaincodeEndorsementInfoSource.CachedChaincodeInfo`, which the endorser asks before
/// running a chaincode. Only `namespaces/fields/<name>/Sequence` is read through `simulation`
/// (so it lands in the transaction's read set, as in Go); the rest comes from `committed` and
/// `own_hashes`, which play the part of Go's lifecycle cache and must not record reads.
/// `Ok(None)` when no definition is committed (sequence 0); errors carry Go's messages.
pub fn chaincode_endorsement_info<E: std::fmt::Display>(
    simulation: &mut KeyReader<'_, E>,
    committed: &mut KeyReader<'_, E>,
    own_hashes: &mut KeyReader<'_, E>,
    channel_id: &str,
    name: &str,
    installed: &[InstalledPackage],
) -> Result<Option<(ChaincodeDefinition, String)>, LifecycleError> {
    chaincode_endorsement_info_from(
        simulation,
        || local_chaincode_info(committed, own_hashes, name, installed),
        channel_id,
        name,
    )
}

/// [`chaincode_endorsement_info`] with this org's view of the committed chaincode from
/// `local` (which a caller may answer from a cache of [`local_chaincode_info`], as Fabric's
/// lifecycle cache does). `local` is asked only when the simulation sees a definition.
pub fn chaincode_endorsement_info_from<E: std::fmt::Display>(
    simulation: &mut KeyReader<'_, E>,
    local: impl FnOnce() -> Result<Option<LocalChaincodeInfo>, LifecycleError>,
    channel_id: &str,
    name: &str,
) -> Result<Option<(ChaincodeDefinition, String)>, LifecycleError> {
    let current = state::read_int64_field(
        NAMESPACES_PREFIX,
        name,
        "Sequence",
        &mut Reader { get: simulation },
    )
    .map_err(|e| {
        LifecycleError::rejected(format!(
            "could not get current sequence for chaincode '{name}' on channel '{channel_id}': {e}"
        ))
    })?;
    if current == 0 {
        return Ok(None);
    }
    let Some(info) = local()? else {
        return Err(LifecycleError::rejected(format!(
            "could not get approved chaincode info from cache: unknown chaincode '{name}' for channel '{channel_id}'"
        )));
    };
    if info.definition.sequence != current {
        return Err(LifecycleError::rejected(format!(
            "chaincode cache at sequence {} but current sequence is {current}, chaincode definition for '{name}' changed during invoke",
            info.definition.sequence
        )));
    }
    runnable(info, channel_id, name).map(Some)
}

/// For `QueryInstalledChaincode(s)`: on one channel, the committed chaincodes (`names`, from
/// [`definition::chaincode_names`]) that this org runs from each installed package, keyed by
/// package ID (Fabric's lifecycle cache references).
pub fn package_references<E: std::fmt::Display>(
    public: &mut KeyReader<'_, E>,
    own_hashes: &mut KeyReader<'_, E>,
    names: &[String],
    installed: &[InstalledPackage],
) -> Result<BTreeMap<String, Vec<ChaincodeReference>>, LifecycleError> {
    let mut references: BTreeMap<String, Vec<ChaincodeReference>> = BTreeMap::new();
    for name in names {
        let Some(info) = local_chaincode_info(public, own_hashes, name, installed)? else {
            continue;
        };
        if let (true, Some(package_id)) = (info.approved, info.package_id) {
            references
                .entry(package_id)
                .or_default()
                .push(ChaincodeReference {
                    name: name.clone(),
                    version: info.definition.endorsement_info.version,
                });
        }
    }
    Ok(references)
}

/// A validation plugin and its argument (for `vscc`, a marshalled `ApplicationPolicy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationInfo {
    pub plugin: String,
    pub parameter: Vec<u8>,
}

/// The channel facts that decide `_lifecycle`'s own policies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelPolicies {
    /// Whether `/Channel/Application/LifecycleEndorsement` exists.
    pub defines_lifecycle_endorsement: bool,
    /// Application orgs as (org name in the config, MSP ID, whether
    /// `/Channel/Application/<org>/Endorsement` exists).
    pub application_orgs: Vec<(String, String, bool)>,
}

/// Fabric's `ValidationInfo` for a namespace: `_lifecycle` itself is checked with `vscc` against
/// the lifecycle endorsement policy; a committed chaincode with its definition's plugin and
/// parameter. `None` when `name` is not defined in `_lifecycle` (Fabric then falls back to legacy
/// lscc definitions).
pub fn namespace_validation_info<E: std::fmt::Display>(
    public: &mut KeyReader<'_, E>,
    name: &str,
    channel: &ChannelPolicies,
) -> Result<Option<ValidationInfo>, LifecycleError> {
    if name == LIFECYCLE_NAMESPACE {
        let msp_ids: Vec<String> = channel
            .application_orgs
            .iter()
            .map(|(_, msp, _)| msp.clone())
            .collect();
        return Ok(Some(ValidationInfo {
            plugin: DEFAULT_VALIDATION_PLUGIN.to_owned(),
            parameter: definition::lifecycle_validation_parameter(
                channel.defines_lifecycle_endorsement,
                &msp_ids,
            ),
        }));
    }
    Ok(
        definition::read_committed_definition(&mut Reader { get: public }, name)?.map(|d| {
            ValidationInfo {
                plugin: d.validation_info.validation_plugin,
                parameter: d.validation_info.validation_parameter,
            }
        }),
    )
}

/// Fabric's `CollectionValidationInfo`: the marshalled `ApplicationPolicy` that endorses writes
/// to `collection` of chaincode `name`. Implicit collections use the org's endorsement policy
/// (or any member of the org); explicit ones their own policy, else the chaincode's. `Ok(None)`
/// when the chaincode is not defined in `_lifecycle`.
pub fn collection_validation_parameter<E: std::fmt::Display>(
    public: &mut KeyReader<'_, E>,
    name: &str,
    collection: &str,
    channel: &ChannelPolicies,
) -> Result<Option<Vec<u8>>, LifecycleError> {
    let defined = if name == LIFECYCLE_NAMESPACE {
        // Fabric treats _lifecycle as defined, with no collections of its own.
        Some(ChaincodeDefinition::default())
    } else {
        definition::read_committed_definition(&mut Reader { get: public }, name)?
    };
    let Some(defined) = defined else {
        return Ok(None);
    };
    if let Some(msp_id) = state::msp_id_of_implicit_collection(collection) {
        return implicit_collection_policy(msp_id, channel).map(Some);
    }
    for config in &defined.collections.config {
        if let Some(collection_config::Payload::StaticCollectionConfig(c)) = &config.payload
            && c.name == collection
        {
            return Ok(Some(match &c.endorsement_policy {
                Some(policy) => policy.encode_to_vec(),
                None => defined.validation_info.validation_parameter.clone(),
            }));
        }
    }
    Err(LifecycleError::rejected(format!(
        "no such collection '{collection}'"
    )))
}

/// Fabric's `ImplicitCollectionEndorsementPolicyAsBytes`.
fn implicit_collection_policy(
    msp_id: &str,
    channel: &ChannelPolicies,
) -> Result<Vec<u8>, LifecycleError> {
    let Some((org_name, _, defines_policy)) = channel
        .application_orgs
        .iter()
        .find(|(_, msp, _)| msp == msp_id)
    else {
        return Err(LifecycleError::rejected(format!(
            "no org found in channel with MSPID '{msp_id}'"
        )));
    };
    if *defines_policy {
        return Ok(definition::policy_reference_bytes(&format!(
            "/Channel/Application/{org_name}/Endorsement"
        )));
    }
    Ok(signed_by_any_member(msp_id))
}

/// Fabric's `SignedByAnyMember([msp_id])` as an `ApplicationPolicy`.
fn signed_by_any_member(msp_id: &str) -> Vec<u8> {
    let envelope = SignaturePolicyEnvelope {
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
    };
    ApplicationPolicy {
        r#type: Some(application_policy::Type::SignaturePolicy(envelope)),
    }
    .encode_to_vec()
}
