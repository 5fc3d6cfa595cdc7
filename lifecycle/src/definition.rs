//! The records `_lifecycle` stores (Fabric's `ChaincodeDefinition`, `ChaincodeParameters` and
//! `ChaincodeLocalPackage`), the lookup other crates use to find a committed definition, and the
//! policies Fabric fills in by default.

use fabric_protos::common::{
    MspPrincipal, MspRole, SignaturePolicy, SignaturePolicyEnvelope, msp_principal, msp_role,
    signature_policy,
};
use fabric_protos::lifecycle::{ChaincodeEndorsementInfo, ChaincodeValidationInfo, StateMetadata};
use fabric_protos::peer::{ApplicationPolicy, CollectionConfigPackage, application_policy};
use prost::Message;

use crate::error::{Context, LifecycleError};
use crate::state::{self, FieldReader, FieldValue, NAMESPACES_PREFIX, ReadableState, Record};

/// Type name of a committed definition (public state).
pub const CHAINCODE_DEFINITION_TYPE: &str = "ChaincodeDefinition";
/// Type name of an org's approved parameters (implicit collection).
pub const CHAINCODE_PARAMETERS_TYPE: &str = "ChaincodeParameters";
/// Type name of the package an org approved (implicit collection).
pub const CHAINCODE_LOCAL_PACKAGE_TYPE: &str = "ChaincodeLocalPackage";

/// The endorsement plugin Fabric records when a definition names none.
pub const DEFAULT_ENDORSEMENT_PLUGIN: &str = "escc";
/// The validation plugin Fabric records when a definition names none.
pub const DEFAULT_VALIDATION_PLUGIN: &str = "vscc";
/// The channel policy a definition without an endorsement policy refers to.
pub const DEFAULT_ENDORSEMENT_POLICY_REF: &str = "/Channel/Application/Endorsement";
/// The channel policy that endorses `_lifecycle` transactions when the channel defines it.
pub const LIFECYCLE_ENDORSEMENT_POLICY_REF: &str = "/Channel/Application/LifecycleEndorsement";

/// What every definition has apart from its sequence: the parameters an org approves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChaincodeParameters {
    pub endorsement_info: ChaincodeEndorsementInfo,
    pub validation_info: ChaincodeValidationInfo,
    pub collections: CollectionConfigPackage,
}

/// A chaincode definition: committed in the public `_lifecycle` namespace under the chaincode's
/// name, or proposed in a request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChaincodeDefinition {
    pub sequence: i64,
    pub endorsement_info: ChaincodeEndorsementInfo,
    pub validation_info: ChaincodeValidationInfo,
    pub collections: CollectionConfigPackage,
}

/// The package an org approved for a definition; empty means "this org's peers do not run it".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChaincodeLocalPackage {
    pub package_id: String,
}

impl ChaincodeDefinition {
    pub fn sequence(&self) -> i64 {
        self.sequence
    }
    pub fn version(&self) -> &str {
        &self.endorsement_info.version
    }
    pub fn endorsement_plugin(&self) -> &str {
        &self.endorsement_info.endorsement_plugin
    }
    pub fn init_required(&self) -> bool {
        self.endorsement_info.init_required
    }
    pub fn validation_plugin(&self) -> &str {
        &self.validation_info.validation_plugin
    }
    /// The marshalled `ApplicationPolicy` the validator evaluates endorsements against.
    pub fn validation_parameter(&self) -> &[u8] {
        &self.validation_info.validation_parameter
    }
    pub fn collections(&self) -> &CollectionConfigPackage {
        &self.collections
    }

    /// The parameters without the sequence, as an org approves them.
    pub fn parameters(&self) -> ChaincodeParameters {
        ChaincodeParameters {
            endorsement_info: self.endorsement_info.clone(),
            validation_info: self.validation_info.clone(),
            collections: self.collections.clone(),
        }
    }
}

impl ChaincodeParameters {
    /// Fabric's comparison of two parameter sets, with its message for the first difference.
    pub fn mismatch(&self, other: &ChaincodeParameters) -> Option<String> {
        let (a, b) = (&self.endorsement_info, &other.endorsement_info);
        let (va, vb) = (&self.validation_info, &other.validation_info);
        if a.version != b.version {
            return Some(format!(
                "expected Version '{}' does not match passed Version '{}'",
                a.version, b.version
            ));
        }
        if a.endorsement_plugin != b.endorsement_plugin {
            return Some(format!(
                "expected EndorsementPlugin '{}' does not match passed EndorsementPlugin '{}'",
                a.endorsement_plugin, b.endorsement_plugin
            ));
        }
        if a.init_required != b.init_required {
            return Some(format!(
                "expected InitRequired '{}' does not match passed InitRequired '{}'",
                a.init_required, b.init_required
            ));
        }
        if va.validation_plugin != vb.validation_plugin {
            return Some(format!(
                "expected ValidationPlugin '{}' does not match passed ValidationPlugin '{}'",
                va.validation_plugin, vb.validation_plugin
            ));
        }
        if va.validation_parameter != vb.validation_parameter {
            return Some(format!(
                "expected ValidationParameter '{}' does not match passed ValidationParameter '{}'",
                hex::encode(&va.validation_parameter),
                hex::encode(&vb.validation_parameter)
            ));
        }
        if self.collections != other.collections {
            return Some("Collections do not match".to_owned());
        }
        None
    }
}

impl Record for ChaincodeDefinition {
    const DATATYPE: &'static str = CHAINCODE_DEFINITION_TYPE;
    const FIELDS: &'static [&'static str] = &[
        "Sequence",
        "EndorsementInfo",
        "ValidationInfo",
        "Collections",
    ];

    fn to_fields(&self) -> Vec<FieldValue> {
        vec![
            FieldValue::Int64(self.sequence),
            FieldValue::Bytes(self.endorsement_info.encode_to_vec()),
            FieldValue::Bytes(self.validation_info.encode_to_vec()),
            FieldValue::Bytes(self.collections.encode_to_vec()),
        ]
    }

    fn from_fields(mut fields: FieldReader<'_>) -> Result<Self, LifecycleError> {
        Ok(ChaincodeDefinition {
            sequence: fields.int64("Sequence")?,
            endorsement_info: fields.message("EndorsementInfo")?,
            validation_info: fields.message("ValidationInfo")?,
            collections: fields.message("Collections")?,
        })
    }
}

impl Record for ChaincodeParameters {
    const DATATYPE: &'static str = CHAINCODE_PARAMETERS_TYPE;
    const FIELDS: &'static [&'static str] = &["EndorsementInfo", "ValidationInfo", "Collections"];

    fn to_fields(&self) -> Vec<FieldValue> {
        vec![
            FieldValue::Bytes(self.endorsement_info.encode_to_vec()),
            FieldValue::Bytes(self.validation_info.encode_to_vec()),
            FieldValue::Bytes(self.collections.encode_to_vec()),
        ]
    }

    fn from_fields(mut fields: FieldReader<'_>) -> Result<Self, LifecycleError> {
        Ok(ChaincodeParameters {
            endorsement_info: fields.message("EndorsementInfo")?,
            validation_info: fields.message("ValidationInfo")?,
            collections: fields.message("Collections")?,
        })
    }
}

impl Record for ChaincodeLocalPackage {
    const DATATYPE: &'static str = CHAINCODE_LOCAL_PACKAGE_TYPE;
    const FIELDS: &'static [&'static str] = &["PackageID"];

    fn to_fields(&self) -> Vec<FieldValue> {
        vec![FieldValue::String(self.package_id.clone())]
    }

    fn from_fields(mut fields: FieldReader<'_>) -> Result<Self, LifecycleError> {
        Ok(ChaincodeLocalPackage {
            package_id: fields.string("PackageID")?,
        })
    }
}

/// A caller's reader of one key of the `_lifecycle` namespace (`None` when the key is absent).
pub type KeyReader<'a, E> = dyn FnMut(&str) -> Result<Option<Vec<u8>>, E> + 'a;

/// Adapts a caller's key reader (committed state, a simulator, a test map) to [`ReadableState`].
struct FnState<'a, E> {
    get: &'a mut KeyReader<'a, E>,
}

impl<E: std::fmt::Display> ReadableState for FnState<'_, E> {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, LifecycleError> {
        (self.get)(key).map_err(|e| LifecycleError::State(e.to_string()))
    }
}

/// Looks up the committed definition of chaincode `name`. `get` reads one key of the
/// `_lifecycle` namespace. `None` when no definition was ever committed; an error when the name
/// is defined as something other than a chaincode or its values do not decode.
///
/// `_lifecycle` itself has no stored definition; see [`lifecycle_validation_parameter`] for the
/// policy that endorses it (Fabric's `ChaincodeDefinitionIfDefined` and `ValidationInfo`).
pub fn committed_definition<E: std::fmt::Display>(
    get: &mut KeyReader<'_, E>,
    name: &str,
) -> Result<Option<ChaincodeDefinition>, LifecycleError> {
    read_committed_definition(&mut FnState { get }, name)
}

pub(crate) fn read_committed_definition(
    state: &mut dyn ReadableState,
    name: &str,
) -> Result<Option<ChaincodeDefinition>, LifecycleError> {
    let metadata = state::read_metadata(NAMESPACES_PREFIX, name, state)
        .context(|| format!("could not deserialize metadata for chaincode {name}"))?;
    let Some(metadata) = metadata else {
        return Ok(None);
    };
    if metadata.datatype != CHAINCODE_DEFINITION_TYPE {
        return Err(LifecycleError::rejected(format!(
            "not a chaincode type: {}",
            metadata.datatype
        )));
    }
    state::deserialize(NAMESPACES_PREFIX, name, &metadata, state)
        .context(|| format!("could not deserialize chaincode definition for chaincode {name}"))
        .map(Some)
}

/// The names of the committed chaincodes among the entries of [`state::definitions_range`] in
/// the public `_lifecycle` namespace (Fabric's `QueryNamespaceDefinitions`), sorted.
pub fn chaincode_names(
    entries: impl IntoIterator<Item = (String, Vec<u8>)>,
) -> Result<Vec<String>, LifecycleError> {
    let (prefix, _) = state::definitions_range();
    let mut names = Vec::new();
    for (key, value) in entries {
        let Some(name) = key.strip_prefix(&prefix) else {
            continue;
        };
        let metadata =
            StateMetadata::decode(value.as_slice()).map_err(|e| LifecycleError::Corrupt {
                what: "metadata",
                key: key.clone(),
                reason: e.to_string(),
            })?;
        if metadata.datatype == CHAINCODE_DEFINITION_TYPE {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The marshalled `ApplicationPolicy` referring to a channel policy by path.
pub fn policy_reference_bytes(path: &str) -> Vec<u8> {
    ApplicationPolicy {
        r#type: Some(application_policy::Type::ChannelConfigPolicyReference(
            path.to_owned(),
        )),
    }
    .encode_to_vec()
}

/// The validation parameter Fabric records when a definition names no endorsement policy.
pub fn default_endorsement_policy_bytes() -> Vec<u8> {
    policy_reference_bytes(DEFAULT_ENDORSEMENT_POLICY_REF)
}

/// The policy that endorses `_lifecycle` transactions on a channel (what Fabric's validator uses
/// for the `_lifecycle` namespace, with plugin `vscc`): the channel's LifecycleEndorsement policy
/// when it defines one, else a signature from a member of a majority of the application orgs.
pub fn lifecycle_validation_parameter(
    channel_defines_lifecycle_policy: bool,
    application_org_msp_ids: &[String],
) -> Vec<u8> {
    if channel_defines_lifecycle_policy {
        return policy_reference_bytes(LIFECYCLE_ENDORSEMENT_POLICY_REF);
    }
    let mut ids = application_org_msp_ids.to_vec();
    ids.sort();
    let majority = i32::try_from(ids.len() / 2 + 1).unwrap_or(i32::MAX);
    ApplicationPolicy {
        r#type: Some(application_policy::Type::SignaturePolicy(
            signed_by_n_members(majority, &ids),
        )),
    }
    .encode_to_vec()
}

/// Fabric's `SignedByNOutOfGivenRole(n, MEMBER, ids)` for already sorted ids.
fn signed_by_n_members(n: i32, sorted_ids: &[String]) -> SignaturePolicyEnvelope {
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
