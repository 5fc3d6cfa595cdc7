//! The `_lifecycle` system chaincode (Fabric's `core/chaincode/lifecycle/scc.go` and the
//! functions of `lifecycle.go` behind it).
//!
//! Every call is a function name plus one marshalled `lifecycle.<Function>Args`; success returns
//! the marshalled `<Function>Result`. Refusals carry Fabric's messages, prefixed the way Fabric
//! prefixes them ("failed to invoke backing implementation of '<Function>': ..."), so clients and
//! scripts see what they would see from a Go peer. State is read and written only through the
//! [`ChaincodeStub`], so the endorser's simulator records the same read-write set a Go peer does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use fabric_protos::lifecycle as lb;
use fabric_protos::peer::CollectionConfigPackage;
use prost::Message;
use weft_chaincode_api::{Chaincode, ChaincodeStub, Response, StubError};

use crate::definition::{
    self, ChaincodeDefinition, ChaincodeLocalPackage, ChaincodeParameters,
    DEFAULT_ENDORSEMENT_PLUGIN, DEFAULT_ENDORSEMENT_POLICY_REF, DEFAULT_VALIDATION_PLUGIN,
};
use crate::error::{Context, LifecycleError};
use crate::package::{ChaincodePackage, InstalledPackage, PackageStore};
use crate::state::{
    self, CHAINCODE_SOURCES_PREFIX, NAMESPACES_PREFIX, OpaqueState, ReadableState, WritableState,
};
use crate::validate;

/// The namespace of legacy chaincode definitions Fabric consults for names `_lifecycle` does not
/// define.
pub const LEGACY_LSCC_NAMESPACE: &str = "lscc";
/// Most chaincode definitions listed by `QueryChaincodeDefinitions` (the range read is bounded
/// by the peer as well).
pub const MAX_LISTED_DEFINITIONS: usize = 10_000;

/// What the SCC needs to know about one channel, from its current configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelView {
    /// MSP IDs of the channel's application orgs; `None` when the channel has no Application
    /// group.
    pub application_orgs: Option<Vec<String>>,
    /// Every MSP ID of the channel (application and orderer orgs), which collection member
    /// policies may name.
    pub msp_ids: Vec<String>,
    /// Whether the application capability `V2_0` (new lifecycle) is on.
    pub lifecycle_v20: bool,
    /// Whether `/Channel/Application/Endorsement` exists (the default endorsement policy).
    pub defines_endorsement_policy: bool,
}

/// A chaincode definition that uses an installed package, for `QueryInstalledChaincode(s)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaincodeReference {
    pub name: String,
    pub version: String,
}

/// What the peer provides to `_lifecycle`.
pub trait PeerContext: Send + Sync {
    /// This peer's organization.
    fn local_msp_id(&self) -> &str;
    /// The channel as its current configuration describes it; `None` when the peer has not
    /// joined it.
    fn channel(&self, channel_id: &str) -> Option<ChannelView>;
    /// Where installed packages live.
    fn package_store(&self) -> &PackageStore;
    /// Fabric's ACL check of resource `_lifecycle/<Function>` (local admins for install and
    /// installed-package queries, channel policies otherwise). `Err` carries the reason.
    fn check_acl(
        &self,
        resource: &str,
        channel_id: &str,
        signed_proposal: &[u8],
    ) -> Result<(), String>;
    /// Prepares a freshly installed package to run (compiling a WASM module, say). An error
    /// removes the package again, as a failed build does in Fabric.
    fn build(
        &self,
        _installed: &InstalledPackage,
        _package: &ChaincodePackage,
    ) -> Result<(), String> {
        Ok(())
    }
    /// The channels and definitions that use a package.
    fn references(&self, _package_id: &str) -> BTreeMap<String, Vec<ChaincodeReference>> {
        BTreeMap::new()
    }
}

/// The `_lifecycle` system chaincode.
pub struct LifecycleScc {
    context: Arc<dyn PeerContext>,
    /// Packages built by this process; installing one of them again is refused, as Fabric's
    /// build registry does.
    built: Mutex<BTreeSet<String>>,
}

impl LifecycleScc {
    pub fn new(context: Arc<dyn PeerContext>) -> Self {
        LifecycleScc {
            context,
            built: Mutex::new(BTreeSet::new()),
        }
    }
}

impl Chaincode for LifecycleScc {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Response {
        let args = stub.args().to_vec();
        if args.is_empty() {
            return Response::error("lifecycle scc must be invoked with arguments");
        }
        if args.len() != 2 {
            return Response::error(format!(
                "lifecycle scc operations require exactly two arguments but received {}",
                args.len()
            ));
        }
        let function = String::from_utf8_lossy(&args[0]).into_owned();
        let channel_id = stub.channel_id().to_owned();

        let mut channel = None;
        if !channel_id.is_empty() {
            let Some(view) = self.context.channel(&channel_id) else {
                return Response::error(format!(
                    "could not get channelconfig for channel '{channel_id}'"
                ));
            };
            if view.application_orgs.is_none() {
                return Response::error(format!(
                    "could not get application config for channel '{channel_id}'"
                ));
            }
            if !view.lifecycle_v20 {
                return Response::error(format!(
                    "cannot use new lifecycle for channel '{channel_id}' as it does not have the required capabilities enabled"
                ));
            }
            channel = Some(view);
        }

        let resource = format!("{}/{function}", state::LIFECYCLE_NAMESPACE);
        if let Err(reason) = self
            .context
            .check_acl(&resource, &channel_id, stub.signed_proposal())
        {
            return Response::error(format!(
                "Failed to authorize invocation due to failed ACL check: {reason}"
            ));
        }

        let mut invocation = Invocation {
            scc: self,
            stub,
            channel_id,
            channel,
        };
        match invocation.dispatch(&function, &args[1]) {
            Ok(payload) => Response::success(payload),
            Err(e) if e.is_not_found() => Response {
                status: 404,
                message: e.to_string(),
                payload: Vec::new(),
            },
            Err(e) => Response::error(format!(
                "failed to invoke backing implementation of '{function}': {e}"
            )),
        }
    }
}

/// One call of the SCC.
struct Invocation<'a> {
    scc: &'a LifecycleScc,
    stub: &'a mut dyn ChaincodeStub,
    channel_id: String,
    channel: Option<ChannelView>,
}

fn decode<M: Message + Default>(function: &str, input: &[u8]) -> Result<M, LifecycleError> {
    M::decode(input).map_err(|e| {
        LifecycleError::rejected(format!(
            "could not decode input arg for *lifecycle.Invocation.{function}: {e}"
        ))
    })
}

impl Invocation<'_> {
    fn dispatch(&mut self, function: &str, input: &[u8]) -> Result<Vec<u8>, LifecycleError> {
        Ok(match function {
            "InstallChaincode" => self.install(decode(function, input)?)?.encode_to_vec(),
            "QueryInstalledChaincode" => self
                .query_installed(decode(function, input)?)?
                .encode_to_vec(),
            "GetInstalledChaincodePackage" => self
                .get_installed_package(decode(function, input)?)?
                .encode_to_vec(),
            "QueryInstalledChaincodes" => {
                let _: lb::QueryInstalledChaincodesArgs = decode(function, input)?;
                self.query_all_installed()?.encode_to_vec()
            }
            "ApproveChaincodeDefinitionForMyOrg" => {
                self.approve(decode(function, input)?)?;
                lb::ApproveChaincodeDefinitionForMyOrgResult {}.encode_to_vec()
            }
            "QueryApprovedChaincodeDefinition" => self
                .query_approved(decode(function, input)?)?
                .encode_to_vec(),
            "CheckCommitReadiness" => self
                .check_commit_readiness(decode(function, input)?)?
                .encode_to_vec(),
            "CommitChaincodeDefinition" => {
                self.commit(decode(function, input)?)?;
                lb::CommitChaincodeDefinitionResult {}.encode_to_vec()
            }
            "QueryChaincodeDefinition" => self
                .query_definition(decode(function, input)?)?
                .encode_to_vec(),
            "QueryChaincodeDefinitions" => {
                let _: lb::QueryChaincodeDefinitionsArgs = decode(function, input)?;
                self.query_definitions()?.encode_to_vec()
            }
            other => {
                return Err(LifecycleError::rejected(format!(
                    "receiver *lifecycle.Invocation.{other} does not exist"
                )));
            }
        })
    }

    fn store(&self) -> &PackageStore {
        self.scc.context.package_store()
    }

    fn local_msp_id(&self) -> String {
        self.scc.context.local_msp_id().to_owned()
    }

    // ---- installed packages -------------------------------------------------------------

    fn install(
        &mut self,
        args: lb::InstallChaincodeArgs,
    ) -> Result<lb::InstallChaincodeResult, LifecycleError> {
        let package = &args.chaincode_install_package;
        let parsed = crate::package::parse_package(package)
            .context(|| "could not parse as a chaincode install package".to_owned())?;
        let (installed, _) = self
            .store()
            .save(&parsed.metadata.label, package)
            .context(|| "could not save cc install package".to_owned())?;
        let package_id = installed.package_id.clone();
        let mut built = self
            .scc
            .built
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if built.contains(&package_id) {
            return Err(LifecycleError::rejected(format!(
                "chaincode already successfully installed (package ID '{package_id}')"
            )));
        }
        if let Err(reason) = self.scc.context.build(&installed, &parsed) {
            let _ = self.store().delete(&package_id);
            return Err(LifecycleError::rejected(format!(
                "could not build chaincode: {reason}"
            )));
        }
        built.insert(package_id.clone());
        Ok(lb::InstallChaincodeResult {
            package_id,
            label: installed.label,
        })
    }

    fn query_installed(
        &mut self,
        args: lb::QueryInstalledChaincodeArgs,
    ) -> Result<lb::QueryInstalledChaincodeResult, LifecycleError> {
        let installed = self.store().get(&args.package_id)?.ok_or_else(|| {
            LifecycleError::rejected(format!(
                "could not find chaincode with package id '{}'",
                args.package_id
            ))
        })?;
        let references = self
            .scc
            .context
            .references(&installed.package_id)
            .into_iter()
            .map(|(channel, refs)| {
                let chaincodes = refs
                    .into_iter()
                    .map(|r| lb::query_installed_chaincode_result::Chaincode {
                        name: r.name,
                        version: r.version,
                    })
                    .collect();
                (
                    channel,
                    lb::query_installed_chaincode_result::References { chaincodes },
                )
            })
            .collect();
        Ok(lb::QueryInstalledChaincodeResult {
            package_id: installed.package_id,
            label: installed.label,
            references,
        })
    }

    fn get_installed_package(
        &mut self,
        args: lb::GetInstalledChaincodePackageArgs,
    ) -> Result<lb::GetInstalledChaincodePackageResult, LifecycleError> {
        let bytes = self
            .store()
            .load(&args.package_id)
            .context(|| "could not load cc install package".to_owned())?;
        Ok(lb::GetInstalledChaincodePackageResult {
            chaincode_install_package: bytes,
        })
    }

    fn query_all_installed(
        &mut self,
    ) -> Result<lb::QueryInstalledChaincodesResult, LifecycleError> {
        let mut installed_chaincodes = Vec::new();
        for installed in self.store().list()? {
            let references = self
                .scc
                .context
                .references(&installed.package_id)
                .into_iter()
                .map(|(channel, refs)| {
                    let chaincodes = refs
                        .into_iter()
                        .map(|r| lb::query_installed_chaincodes_result::Chaincode {
                            name: r.name,
                            version: r.version,
                        })
                        .collect();
                    (
                        channel,
                        lb::query_installed_chaincodes_result::References { chaincodes },
                    )
                })
                .collect();
            installed_chaincodes.push(lb::query_installed_chaincodes_result::InstalledChaincode {
                package_id: installed.package_id,
                label: installed.label,
                references,
            });
        }
        Ok(lb::QueryInstalledChaincodesResult {
            installed_chaincodes,
        })
    }

    // ---- definitions ----------------------------------------------------------------------

    /// Fabric's `validateInput`: syntax, collections, and compatibility with what is committed.
    fn validate_input(
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

    fn public(&mut self) -> PublicState<'_> {
        PublicState { stub: self.stub }
    }

    fn org_state(&mut self, msp_id: &str) -> OrgState<'_> {
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

    fn current_sequence(&mut self, name: &str) -> Result<i64, LifecycleError> {
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
    fn set_defaults(&self, definition: &mut ChaincodeDefinition) -> Result<(), LifecycleError> {
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

    fn approve(
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

    fn query_approved(
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

    fn check_commit_readiness(
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

    fn commit(&mut self, args: lb::CommitChaincodeDefinitionArgs) -> Result<(), LifecycleError> {
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

    fn query_definition(
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

    fn query_definitions(&mut self) -> Result<lb::QueryChaincodeDefinitionsResult, LifecycleError> {
        let prefix = format!("{NAMESPACES_PREFIX}/metadata/");
        // Fabric ranges to prefix + "\x7f", assuming printable ASCII names.
        let page = self
            .stub
            .get_state_by_range(&prefix, &format!("{prefix}\u{7f}"), 0, "")
            .map_err(|e| {
                LifecycleError::State(format!(
                    "could not query namespace metadata: could not get state iterator: {e}"
                ))
            })?;
        let mut names = Vec::new();
        for item in page.items.into_iter().take(MAX_LISTED_DEFINITIONS) {
            let Some(name) = item.key.strip_prefix(&prefix) else {
                continue;
            };
            let metadata = lb::StateMetadata::decode(item.value.as_slice()).map_err(|e| {
                LifecycleError::Corrupt {
                    what: "metadata",
                    key: item.key.clone(),
                    reason: e.to_string(),
                }
            })?;
            if metadata.datatype == definition::CHAINCODE_DEFINITION_TYPE {
                names.push(name.to_owned());
            }
        }
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

fn stub_error(e: StubError) -> LifecycleError {
    LifecycleError::State(e.to_string())
}

/// The public `_lifecycle` namespace through the stub.
struct PublicState<'s> {
    stub: &'s mut dyn ChaincodeStub,
}

impl ReadableState for PublicState<'_> {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, LifecycleError> {
        self.stub.get_state(key).map_err(stub_error)
    }
}

impl WritableState for PublicState<'_> {
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), LifecycleError> {
        self.stub.put_state(key, value).map_err(stub_error)
    }
    fn del_state(&mut self, key: &str) -> Result<(), LifecycleError> {
        self.stub.del_state(key).map_err(stub_error)
    }
}

/// One org's implicit collection through the stub: readable and writable for this peer's org,
/// hashes only for the others.
struct OrgState<'s> {
    stub: &'s mut dyn ChaincodeStub,
    collection: String,
}

impl ReadableState for OrgState<'_> {
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, LifecycleError> {
        self.stub
            .get_private_data(&self.collection, key)
            .map_err(stub_error)
    }
}

impl WritableState for OrgState<'_> {
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), LifecycleError> {
        self.stub
            .put_private_data(&self.collection, key, value)
            .map_err(stub_error)
    }
    fn del_state(&mut self, key: &str) -> Result<(), LifecycleError> {
        self.stub
            .del_private_data(&self.collection, key)
            .map_err(stub_error)
    }
}

impl OpaqueState for OrgState<'_> {
    fn get_state_hash(&mut self, key: &str) -> Result<Option<Vec<u8>>, LifecycleError> {
        self.stub
            .get_private_data_hash(&self.collection, key)
            .map_err(stub_error)
    }
}
