//! The `_lifecycle` system chaincode (Fabric's `core/chaincode/lifecycle/scc.go` and the
//! functions of `lifecycle.go` behind it).
//!
//! Every call is a function name plus one marshalled `lifecycle.<Function>Args`; success returns
//! the marshalled `<Function>Result`. Refusals carry Fabric's messages, prefixed the way Fabric
//! prefixes them (`failed to invoke backing implementation of '<Function>': ...`), so clients and
//! scripts see what they would see from a Go peer. State is read and written only through the
//! [`ChaincodeStub`], so the endorser's simulator records the same read-write set a Go peer does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use fabric_protos::lifecycle as lb;
use prost::Message;
use weft_chaincode_api::{Chaincode, ChaincodeStub, Response};

use crate::error::LifecycleError;
use crate::package::{ChaincodePackage, InstalledPackage, PackageStore};
use crate::state;

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

mod approvals;
mod definitions;
mod installed;
mod ledger;

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
}
