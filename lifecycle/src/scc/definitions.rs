//! The definition functions of `_lifecycle` (Fabric's `lifecycle.go`): input validation,
//! commit readiness, committing, and the definition queries, with Fabric's sequence rules,
//! defaults and messages.

use std::collections::BTreeMap;

use fabric_protos::lifecycle as lb;
use fabric_protos::peer::CollectionConfigPackage;
use prost::Message;
use weft_chaincode_api::StubError;

use super::ledger::{OrgState, PublicState};
use super::{Invocation, LEGACY_LSCC_NAMESPACE, MAX_LISTED_DEFINITIONS};
use crate::definition::{
    self, ChaincodeDefinition, DEFAULT_ENDORSEMENT_PLUGIN, DEFAULT_ENDORSEMENT_POLICY_REF,
    DEFAULT_VALIDATION_PLUGIN,
};
use crate::error::{Context, LifecycleError};
use crate::state::{self, NAMESPACES_PREFIX};
use crate::validate;

impl Invocation<'_> {
    /// Fabric's `validateInput`: syntax, collections, and compatibility with what is committed.
    pub(super) fn validate_input(
        &mut self,
        name: &str,
        version: &str,
        collections: Option<&CollectionConfigPackage>,
    ) -> Result<(), LifecycleError> {
        validate::check_name_and_version(name, version)?;
        let proposed = validate::static_collections(collections)?;
        let channel = self.channel.as_ref().ok_or_else(|| {
            LifecycleError::rejected(format!(
                "could not get channelconfig for channel '{}'",
                self.channel_id
            ))
        })?;
        validate::check_collections(&proposed, &channel.msp_ids)?;
        let committed = self.committed_collections(name).map_err(|e| {
            LifecycleError::rejected(format!(
                "could not retrieve committed definition for chaincode '{name}': could not get info about chaincode: {e}"
            ))
        })?;
        validate::check_against_committed(&proposed, committed.as_ref())
    }

    /// The collections of the committed definition (new lifecycle, else legacy `lscc`), reading
    /// the same keys Fabric's deployed-chaincode lookup reads.
    fn committed_collections(
        &mut self,
        name: &str,
    ) -> Result<Option<CollectionConfigPackage>, LifecycleError> {
        if let Some(defined) = definition::read_committed_definition(&mut self.public(), name)? {
            return Ok(Some(defined.collections));
        }
        let Some(_legacy) = self.legacy_state(name)? else {
            return Ok(None);
        };
        let collections = self.legacy_state(&format!("{name}~collection"))?;
        let Some(bytes) = collections else {
            return Ok(None);
        };
        CollectionConfigPackage::decode(bytes.as_slice())
            .map(Some)
            .map_err(|e| LifecycleError::Corrupt {
                what: "legacy collection config",
                key: format!("{name}~collection"),
                reason: e.to_string(),
            })
    }

    /// A key of the legacy `lscc` namespace; absent when the peer cannot read it.
    fn legacy_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, LifecycleError> {
        match self.stub.get_state_of_namespace(LEGACY_LSCC_NAMESPACE, key) {
            Ok(value) => Ok(value),
            Err(StubError::Unsupported(_)) => Ok(None),
            Err(e) => Err(LifecycleError::State(e.to_string())),
        }
    }

    pub(super) fn public(&mut self) -> PublicState<'_> {
        PublicState { stub: self.stub }
    }

    pub(super) fn org_state(&mut self, msp_id: &str) -> OrgState<'_> {
        OrgState {
            stub: self.stub,
            collection: state::implicit_collection_for_org(msp_id),
        }
    }

    fn application_orgs(&self) -> Result<Vec<String>, LifecycleError> {
        self.channel
            .as_ref()
            .and_then(|c| c.application_orgs.clone())
            .ok_or_else(|| {
                LifecycleError::rejected(format!(
                    "no application config for channel '{}'",
                    self.channel_id
                ))
            })
    }

    pub(super) fn current_sequence(&mut self, name: &str) -> Result<i64, LifecycleError> {
        let current =
            state::read_int64_field(NAMESPACES_PREFIX, name, "Sequence", &mut self.public())
                .context(|| "could not get current sequence".to_owned())?;
        // Commits only ever move a sequence up by one from zero, so a negative or maximal
        // value means the ledger was written by something else; refuse rather than wrap.
        if !(0..i64::MAX).contains(&current) {
            return Err(LifecycleError::Corrupt {
                what: "sequence",
                key: state::field_key(NAMESPACES_PREFIX, name, "Sequence"),
                reason: format!("{current} is not a sequence a commit can produce"),
            });
        }
        Ok(current)
    }

    /// Fabric's `SetChaincodeDefinitionDefaults`.
    pub(super) fn set_defaults(
        &self,
        definition: &mut ChaincodeDefinition,
    ) -> Result<(), LifecycleError> {
        if definition.endorsement_info.endorsement_plugin.is_empty() {
            definition.endorsement_info.endorsement_plugin = DEFAULT_ENDORSEMENT_PLUGIN.to_owned();
        }
        if definition.validation_info.validation_plugin.is_empty() {
            definition.validation_info.validation_plugin = DEFAULT_VALIDATION_PLUGIN.to_owned();
        }
        if definition.validation_info.validation_parameter.is_empty() {
            let defined = self
                .channel
                .as_ref()
                .is_some_and(|c| c.defines_endorsement_policy);
            if !defined {
                return Err(LifecycleError::rejected(format!(
                    "could not set defaults for chaincode definition in channel {0}: policy '{DEFAULT_ENDORSEMENT_POLICY_REF}' must be defined for channel '{0}' before chaincode operations can be attempted",
                    self.channel_id
                )));
            }
            definition.validation_info.validation_parameter =
                definition::default_endorsement_policy_bytes();
        }
        Ok(())
    }

    /// Which application orgs approved exactly these parameters at this sequence, judged from
    /// the hashes in their implicit collections.
    fn org_approvals(
        &mut self,
        name: &str,
        definition: &ChaincodeDefinition,
        orgs: &[String],
    ) -> Result<BTreeMap<String, bool>, LifecycleError> {
        let private_name = state::private_name(name, definition.sequence);
        let parameters = definition.parameters();
        let mut approvals = BTreeMap::new();
        for msp_id in orgs {
            let approved = state::is_serialized(
                NAMESPACES_PREFIX,
                &private_name,
                &parameters,
                &mut self.org_state(msp_id),
            )
            .context(|| format!("serialization check failed for key {private_name}"))?;
            approvals.insert(msp_id.clone(), approved);
        }
        Ok(approvals)
    }

    /// Fabric's `CheckCommitReadiness` behind both the query and the commit.
    fn readiness(
        &mut self,
        name: &str,
        definition: &mut ChaincodeDefinition,
        orgs: &[String],
    ) -> Result<BTreeMap<String, bool>, LifecycleError> {
        let current = self.current_sequence(name)?;
        if definition.sequence != current + 1 {
            return Err(LifecycleError::rejected(format!(
                "requested sequence is {}, but new definition must be sequence {}",
                definition.sequence,
                current + 1
            )));
        }
        self.set_defaults(definition)?;
        self.org_approvals(name, definition, orgs)
    }

    pub(super) fn check_commit_readiness(
        &mut self,
        args: lb::CheckCommitReadinessArgs,
    ) -> Result<lb::CheckCommitReadinessResult, LifecycleError> {
        let orgs = self.application_orgs()?;
        let mut definition = definition_from(
            args.sequence,
            args.version,
            args.endorsement_plugin,
            args.init_required,
            args.validation_plugin,
            args.validation_parameter,
            args.collections,
        );
        let approvals = self.readiness(&args.name, &mut definition, &orgs)?;
        Ok(lb::CheckCommitReadinessResult {
            approvals,
            mismatches: BTreeMap::new(),
        })
    }

    pub(super) fn commit(
        &mut self,
        args: lb::CommitChaincodeDefinitionArgs,
    ) -> Result<(), LifecycleError> {
        self.validate_input(&args.name, &args.version, args.collections.as_ref())
            .context(|| "error validating chaincode definition".to_owned())?;
        let orgs = self.application_orgs()?;
        let msp_id = self.local_msp_id();
        if !orgs.contains(&msp_id) {
            return Err(LifecycleError::rejected(
                "impossibly, this peer's org is processing requests for a channel it is not a member of",
            ));
        }
        let mut definition = definition_from(
            args.sequence,
            args.version,
            args.endorsement_plugin,
            args.init_required,
            args.validation_plugin,
            args.validation_parameter,
            args.collections,
        );
        let approvals = self.readiness(&args.name, &mut definition, &orgs)?;
        state::serialize(
            NAMESPACES_PREFIX,
            &args.name,
            &definition,
            &mut self.public(),
        )
        .context(|| "could not serialize chaincode definition".to_owned())?;
        // The majority is the LifecycleEndorsement policy's business at validation; each
        // endorsing peer only vouches for its own org's approval.
        if approvals.get(&msp_id) != Some(&true) {
            return Err(LifecycleError::rejected(format!(
                "chaincode definition not agreed to by this org ({msp_id})"
            )));
        }
        Ok(())
    }

    /// Fabric's `QueryChaincodeDefinition` of the functions layer (no datatype check up front).
    fn defined(&mut self, name: &str) -> Result<ChaincodeDefinition, LifecycleError> {
        let mut public = self.public();
        let metadata = state::read_metadata(NAMESPACES_PREFIX, name, &mut public)
            .context(|| format!("could not fetch metadata for namespace {name}"))?
            .ok_or_else(|| LifecycleError::NotFound(format!("namespace {name} is not defined")))?;
        state::deserialize(NAMESPACES_PREFIX, name, &metadata, &mut public)
            .context(|| format!("could not deserialize namespace {name} as chaincode"))
    }

    pub(super) fn query_definition(
        &mut self,
        args: lb::QueryChaincodeDefinitionArgs,
    ) -> Result<lb::QueryChaincodeDefinitionResult, LifecycleError> {
        let defined = self.defined(&args.name)?;
        let orgs = self.application_orgs()?;
        let approvals = self.org_approvals(&args.name, &defined, &orgs)?;
        Ok(lb::QueryChaincodeDefinitionResult {
            sequence: defined.sequence,
            version: defined.endorsement_info.version,
            endorsement_plugin: defined.endorsement_info.endorsement_plugin,
            validation_plugin: defined.validation_info.validation_plugin,
            validation_parameter: defined.validation_info.validation_parameter,
            collections: Some(defined.collections),
            init_required: defined.endorsement_info.init_required,
            approvals,
        })
    }

    pub(super) fn query_definitions(
        &mut self,
    ) -> Result<lb::QueryChaincodeDefinitionsResult, LifecycleError> {
        let (start, end) = state::definitions_range();
        let page = self
            .stub
            .get_state_by_range(&start, &end, 0, "")
            .map_err(|e| {
                LifecycleError::State(format!(
                    "could not query namespace metadata: could not get state iterator: {e}"
                ))
            })?;
        let entries = page
            .items
            .into_iter()
            .take(MAX_LISTED_DEFINITIONS)
            .map(|kv| (kv.key, kv.value));
        let names = definition::chaincode_names(entries)?;
        let mut chaincode_definitions = Vec::with_capacity(names.len());
        for name in names {
            let defined = self.defined(&name)?;
            chaincode_definitions.push(
                lb::query_chaincode_definitions_result::ChaincodeDefinition {
                    name,
                    sequence: defined.sequence,
                    version: defined.endorsement_info.version,
                    endorsement_plugin: defined.endorsement_info.endorsement_plugin,
                    validation_plugin: defined.validation_info.validation_plugin,
                    validation_parameter: defined.validation_info.validation_parameter,
                    collections: Some(defined.collections),
                    init_required: defined.endorsement_info.init_required,
                },
            );
        }
        Ok(lb::QueryChaincodeDefinitionsResult {
            chaincode_definitions,
        })
    }
}

/// A definition from the flat fields of `CheckCommitReadinessArgs`/`CommitChaincodeDefinitionArgs`.
fn definition_from(
    sequence: i64,
    version: String,
    endorsement_plugin: String,
    init_required: bool,
    validation_plugin: String,
    validation_parameter: Vec<u8>,
    collections: Option<CollectionConfigPackage>,
) -> ChaincodeDefinition {
    ChaincodeDefinition {
        sequence,
        endorsement_info: lb::ChaincodeEndorsementInfo {
            version,
            init_required,
            endorsement_plugin,
        },
        validation_info: lb::ChaincodeValidationInfo {
            validation_plugin,
            validation_parameter,
        },
        // A missing package and an empty one are stored identically (zero-length bytes).
        collections: collections.unwrap_or_default(),
    }
}
