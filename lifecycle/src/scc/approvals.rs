//! Approving a definition for this org (Fabric's `ApproveChaincodeDefinitionForOrg`) and
//! reading the approval back: the parameters and package ID go to the org's implicit collection
//! under `<chaincode>#<sequence>`.

use fabric_protos::lifecycle as lb;
use fabric_protos::peer::CollectionConfigPackage;

use super::Invocation;
use crate::definition::{self, ChaincodeDefinition, ChaincodeLocalPackage, ChaincodeParameters};
use crate::error::{Context, LifecycleError};
use crate::state::{self, CHAINCODE_SOURCES_PREFIX, NAMESPACES_PREFIX};

impl Invocation<'_> {
    pub(super) fn approve(
        &mut self,
        args: lb::ApproveChaincodeDefinitionForMyOrgArgs,
    ) -> Result<(), LifecycleError> {
        self.validate_input(&args.name, &args.version, args.collections.as_ref())
            .context(|| "error validating chaincode definition".to_owned())?;
        let package_id = match args.source.and_then(|s| s.r#type) {
            Some(lb::chaincode_source::Type::LocalPackage(local)) => local.package_id,
            _ => String::new(),
        };
        let mut definition = ChaincodeDefinition {
            sequence: args.sequence,
            endorsement_info: lb::ChaincodeEndorsementInfo {
                version: args.version,
                init_required: args.init_required,
                endorsement_plugin: args.endorsement_plugin,
            },
            validation_info: lb::ChaincodeValidationInfo {
                validation_plugin: args.validation_plugin,
                validation_parameter: args.validation_parameter,
            },
            // Fabric keeps only the configs, dropping anything else the client sent.
            collections: CollectionConfigPackage {
                config: args.collections.map(|c| c.config).unwrap_or_default(),
            },
        };
        self.approve_for_org(&args.name, &mut definition, &package_id)
    }

    /// Fabric's `ApproveChaincodeDefinitionForOrg`.
    fn approve_for_org(
        &mut self,
        name: &str,
        definition: &mut ChaincodeDefinition,
        package_id: &str,
    ) -> Result<(), LifecycleError> {
        let current = self.current_sequence(name)?;
        let requested = definition.sequence;
        if current == requested && requested == 0 {
            return Err(LifecycleError::rejected(
                "requested sequence is 0, but first definable sequence number is 1",
            ));
        }
        if requested < current {
            return Err(LifecycleError::rejected(format!(
                "currently defined sequence {current} is larger than requested sequence {requested}"
            )));
        }
        if requested > current + 1 {
            return Err(LifecycleError::rejected(format!(
                "requested sequence {requested} is larger than the next available sequence number {}",
                current + 1
            )));
        }
        self.set_defaults(definition)?;

        if requested == current {
            let mut public = self.public();
            let metadata = state::read_metadata(NAMESPACES_PREFIX, name, &mut public)
                .context(|| "could not fetch metadata for current definition".to_owned())?
                .ok_or_else(|| {
                    LifecycleError::rejected(format!(
                        "missing metadata for currently committed sequence number ({current})"
                    ))
                })?;
            let defined: ChaincodeDefinition =
                state::deserialize(NAMESPACES_PREFIX, name, &metadata, &mut public)
                    .context(|| format!("could not deserialize namespace {name} as chaincode"))?;
            if let Some(mismatch) = defined.parameters().mismatch(&definition.parameters()) {
                return Err(LifecycleError::rejected(format!(
                    "attempted to redefine the current committed sequence ({current}) for namespace {name} with different parameters: {mismatch}"
                )));
            }
        }

        let private_name = state::private_name(name, requested);
        let msp_id = self.local_msp_id();
        let mut org = self.org_state(&msp_id);
        if requested == current + 1 {
            let uncommitted = state::read_metadata(NAMESPACES_PREFIX, &private_name, &mut org)
                .context(|| "could not fetch uncommitted definition".to_owned())?;
            if let Some(metadata) = uncommitted {
                let approved: ChaincodeParameters =
                    state::deserialize(NAMESPACES_PREFIX, &private_name, &metadata, &mut org)
                        .context(|| {
                            format!("could not deserialize namespace {private_name} as chaincode")
                        })?;
                if approved.mismatch(&definition.parameters()).is_none() {
                    let source = state::read_metadata(
                        CHAINCODE_SOURCES_PREFIX,
                        &private_name,
                        &mut org,
                    )
                    .context(|| {
                        format!(
                            "could not deserialize chaincode-source metadata for {private_name}"
                        )
                    })?;
                    if let Some(metadata) = source {
                        let local: ChaincodeLocalPackage = state::deserialize(
                            CHAINCODE_SOURCES_PREFIX,
                            &private_name,
                            &metadata,
                            &mut org,
                        )
                        .context(|| {
                            format!("could not deserialize chaincode package for {private_name}")
                        })?;
                        if local.package_id == package_id {
                            return Err(LifecycleError::rejected(format!(
                                "attempted to redefine uncommitted sequence ({requested}) for namespace {name} with unchanged content"
                            )));
                        }
                    }
                }
            }
        }

        state::serialize(
            NAMESPACES_PREFIX,
            &private_name,
            &definition.parameters(),
            &mut org,
        )
        .context(|| "could not serialize chaincode parameters to state".to_owned())?;
        state::serialize(
            CHAINCODE_SOURCES_PREFIX,
            &private_name,
            &ChaincodeLocalPackage {
                package_id: package_id.to_owned(),
            },
            &mut org,
        )
        .context(|| "could not serialize chaincode package info to state".to_owned())
    }

    pub(super) fn query_approved(
        &mut self,
        args: lb::QueryApprovedChaincodeDefinitionArgs,
    ) -> Result<lb::QueryApprovedChaincodeDefinitionResult, LifecycleError> {
        let name = &args.name;
        let msp_id = self.local_msp_id();
        let mut requested = args.sequence;
        if requested == 0 {
            let current = self.current_sequence(name)?;
            requested = current;
            let next = state::private_name(name, current + 1);
            let next_approved =
                state::read_metadata(NAMESPACES_PREFIX, &next, &mut self.org_state(&msp_id))
                    .context(|| {
                        format!(
                            "could not deserialize namespace metadata for next sequence {}",
                            current + 1
                        )
                    })?;
            if next_approved.is_some() {
                requested = current + 1;
            }
        }
        let channel_id = self.channel_id.clone();
        let not_found = || {
            LifecycleError::rejected(format!(
                "could not fetch approved chaincode definition (name: '{name}', sequence: '{}') on channel '{channel_id}'",
                args.sequence
            ))
        };
        let private_name = state::private_name(name, requested);
        let mut org = self.org_state(&msp_id);
        let metadata = state::read_metadata(NAMESPACES_PREFIX, &private_name, &mut org)
            .context(|| format!("could not deserialize namespace metadata for {private_name}"))?
            .ok_or_else(not_found)?;
        if metadata.datatype != definition::CHAINCODE_PARAMETERS_TYPE {
            return Err(LifecycleError::rejected(format!(
                "not a chaincode parameters type: {}",
                metadata.datatype
            )));
        }
        let parameters: ChaincodeParameters =
            state::deserialize(NAMESPACES_PREFIX, &private_name, &metadata, &mut org).context(
                || format!("could not deserialize chaincode parameters for {private_name}"),
            )?;
        let metadata = state::read_metadata(CHAINCODE_SOURCES_PREFIX, &private_name, &mut org)
            .context(|| {
                format!("could not deserialize chaincode-source metadata for {private_name}")
            })?
            .ok_or_else(not_found)?;
        if metadata.datatype != definition::CHAINCODE_LOCAL_PACKAGE_TYPE {
            return Err(LifecycleError::rejected(format!(
                "not a chaincode local package type: {}",
                metadata.datatype
            )));
        }
        let local: ChaincodeLocalPackage =
            state::deserialize(CHAINCODE_SOURCES_PREFIX, &private_name, &metadata, &mut org)
                .context(|| {
                    format!("could not deserialize chaincode package for {private_name}")
                })?;
        let source = if local.package_id.is_empty() {
            lb::chaincode_source::Type::Unavailable(lb::chaincode_source::Unavailable {})
        } else {
            lb::chaincode_source::Type::LocalPackage(lb::chaincode_source::Local {
                package_id: local.package_id,
            })
        };
        Ok(lb::QueryApprovedChaincodeDefinitionResult {
            sequence: requested,
            version: parameters.endorsement_info.version,
            endorsement_plugin: parameters.endorsement_info.endorsement_plugin,
            validation_plugin: parameters.validation_info.validation_plugin,
            validation_parameter: parameters.validation_info.validation_parameter,
            collections: Some(parameters.collections),
            init_required: parameters.endorsement_info.init_required,
            source: Some(lb::ChaincodeSource {
                r#type: Some(source),
            }),
        })
    }
}
