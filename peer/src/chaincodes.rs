//! Application chaincodes: which installed package runs for a chaincode committed on a channel
//! (the one this org approved, judged by `weft-lifecycle`'s resolver as Fabric's lifecycle cache
//! does), and the WASM chaincode loaded from it. One [`Engine`] serves every channel, so each
//! package is compiled once per peer.
//!
//! WASM runs on the caller's thread stack: the endorser's blocking threads must have at least
//! [`thread_stack_bytes`] of stack (the peer's runtime is built with it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use weft_chaincode_api::Chaincode;
use weft_chaincode_runtime::{Engine, Limits};
use weft_committer::Committer;
use weft_endorser::{ChaincodeDefinition, StateQuery};
use weft_ledger::kv::{VersionedStore, hashed_namespace};
use weft_lifecycle::resolve::LocalChaincodeInfo;
use weft_lifecycle::{LIFECYCLE_NAMESPACE, LifecycleError, PackageStore, resolve};

use crate::definitions::IMPLICIT_COLLECTION_PREFIX;
use crate::state::CommitterState;

/// The bounds every chaincode invocation on this peer runs under.
pub fn chaincode_limits() -> Limits {
    Limits::default()
}

/// The native stack a thread running chaincode invocations needs.
pub fn thread_stack_bytes() -> usize {
    chaincode_limits().recommended_thread_stack_bytes()
}

/// Most (channel, chaincode) entries [`ApplicationChaincodes`] keeps resolved; past it the
/// cache starts over.
pub const RESOLVED_CHAINCODES_MAX: usize = 4096;

/// The peer's application chaincodes: its package store and the engine running them.
pub struct ApplicationChaincodes {
    engine: Engine,
    packages: PackageStore,
    local_msp_id: String,
    /// Runnable chaincodes as resolved from committed state, by (channel, name): Fabric's
    /// lifecycle cache. An entry holds for the ledger height it was read at (a later block may
    /// change `_lifecycle`), so endorsements between two commits skip the installed-package
    /// listing and the committed reads. Only runnable resolutions are kept: a chaincode waiting
    /// for its package or this org's approval is read again at every request, so an install
    /// takes effect at once.
    resolved: Mutex<HashMap<(String, String), Resolved>>,
}

/// A runnable chaincode resolved at a ledger height.
struct Resolved {
    height: u64,
    info: LocalChaincodeInfo,
}

/// A state key's hash as the ledger keys hashed private state.
fn key_hash(key: &str) -> Vec<u8> {
    weft_protoutil::sha256(key.as_bytes()).to_vec()
}

impl ApplicationChaincodes {
    pub fn new(engine: Engine, packages: PackageStore, local_msp_id: String) -> Self {
        Self {
            engine,
            packages,
            local_msp_id,
            resolved: Mutex::new(HashMap::new()),
        }
    }

    pub fn local_msp_id(&self) -> &str {
        &self.local_msp_id
    }

    /// Fabric's `ChaincodeEndorsementInfo` for an application chaincode: the sequence is read
    /// through the simulation (so it lands in the read set), the definition and this org's
    /// approval from committed state (or from the cache of them, valid while the ledger height
    /// stays). `chaincode_id` of the result is the package to run.
    pub fn definition(
        &self,
        committer: &Committer,
        channel_id: &str,
        name: &str,
        simulation: &mut dyn StateQuery,
    ) -> Result<ChaincodeDefinition, String> {
        let mut simulated = |key: &str| {
            simulation
                .get_state(LIFECYCLE_NAMESPACE, key)
                .map_err(|e| e.to_string())
        };
        let found = resolve::chaincode_endorsement_info_from(
            &mut simulated,
            || self.local_info(committer, channel_id, name),
            channel_id,
            name,
        )
        .map_err(|e| e.to_string())?;
        let Some((definition, package_id)) = found else {
            return Err(format!("chaincode {name} not found"));
        };
        Ok(ChaincodeDefinition {
            name: name.to_owned(),
            version: definition.version().to_owned(),
            endorsement_plugin: definition.endorsement_plugin().to_owned(),
            init_required: definition.init_required(),
            chaincode_id: package_id,
        })
    }

    /// This org's view of committed chaincode `name` (Fabric's lifecycle cache entry).
    fn local_info(
        &self,
        committer: &Committer,
        channel_id: &str,
        name: &str,
    ) -> Result<Option<LocalChaincodeInfo>, LifecycleError> {
        // The height is read before the state, so an entry is never older than its height.
        let height = committer.channel(channel_id).map(|view| view.height());
        let key = (channel_id.to_owned(), name.to_owned());
        if let Some(height) = height
            && let Some(hit) = self.resolved_at(&key, height)
        {
            return Ok(Some(hit));
        }
        let info = self.read_local_info(committer, channel_id, name)?;
        if let (Some(height), Some(info)) = (height, &info)
            && info.approved
            && info.package_id.is_some()
        {
            let mut resolved = self.resolved.lock().unwrap_or_else(PoisonError::into_inner);
            if resolved.len() >= RESOLVED_CHAINCODES_MAX {
                resolved.clear();
            }
            resolved.insert(
                key,
                Resolved {
                    height,
                    info: info.clone(),
                },
            );
        }
        Ok(info)
    }

    fn resolved_at(&self, key: &(String, String), height: u64) -> Option<LocalChaincodeInfo> {
        let resolved = self.resolved.lock().unwrap_or_else(PoisonError::into_inner);
        resolved
            .get(key)
            .filter(|r| r.height == height)
            .map(|r| r.info.clone())
    }

    fn read_local_info(
        &self,
        committer: &Committer,
        channel_id: &str,
        name: &str,
    ) -> Result<Option<LocalChaincodeInfo>, LifecycleError> {
        let installed = self.packages.list().map_err(|e| {
            LifecycleError::State(format!("could not list installed chaincodes: {e}"))
        })?;
        let committed = CommitterState::new(committer.clone(), channel_id);
        let own = hashed_namespace(
            LIFECYCLE_NAMESPACE,
            &format!("{IMPLICIT_COLLECTION_PREFIX}{}", self.local_msp_id),
        );
        let mut public = |key: &str| {
            committed
                .get(LIFECYCLE_NAMESPACE, key.as_bytes())
                .map(|v| v.map(|v| v.value))
                .map_err(|e| e.to_string())
        };
        let mut hashes = |key: &str| {
            committed
                .get(&own, &key_hash(key))
                .map(|v| v.map(|v| v.value))
                .map_err(|e| e.to_string())
        };
        resolve::local_chaincode_info(&mut public, &mut hashes, name, &installed)
    }

    /// The chaincode in installed package `package_id`, compiled on first use.
    pub fn chaincode(&self, package_id: &str) -> Result<Arc<dyn Chaincode>, String> {
        if let Some(loaded) = self.engine.get(package_id) {
            return Ok(loaded);
        }
        let package = self
            .packages
            .load(package_id)
            .map_err(|e| format!("could not get chaincode code package for {package_id}: {e}"))?;
        let loaded = self
            .engine
            .load_package(package_id, &package)
            .map_err(|e| format!("could not start chaincode {package_id}: {e}"))?;
        Ok(loaded)
    }

    /// The installed package IDs.
    pub fn installed_ids(&self) -> Result<Vec<String>, String> {
        Ok(self
            .packages
            .list()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|p| p.package_id)
            .collect())
    }

    /// The chaincodes committed on a channel, and those of them this org approved and runs
    /// from an installed package, by name with the definition's sequence (what gossip
    /// advertises as the version).
    pub fn channel_chaincodes(
        &self,
        committer: &Committer,
        channel_id: &str,
    ) -> Result<ChannelChaincodes, String> {
        let installed = self.packages.list().map_err(|e| e.to_string())?;
        let state = CommitterState::new(committer.clone(), channel_id);
        let names = committed_names(&state)?;
        let own = hashed_namespace(
            LIFECYCLE_NAMESPACE,
            &format!("{IMPLICIT_COLLECTION_PREFIX}{}", self.local_msp_id),
        );
        let mut found = ChannelChaincodes::default();
        for name in names {
            let mut public = |key: &str| {
                state
                    .get(LIFECYCLE_NAMESPACE, key.as_bytes())
                    .map(|v| v.map(|v| v.value))
                    .map_err(|e| e.to_string())
            };
            let mut hashes = |key: &str| {
                state
                    .get(&own, &key_hash(key))
                    .map(|v| v.map(|v| v.value))
                    .map_err(|e| e.to_string())
            };
            let info = resolve::local_chaincode_info(&mut public, &mut hashes, &name, &installed)
                .map_err(|e| e.to_string())?;
            let Some(info) = info else { continue };
            let sequence = info.definition.sequence();
            if info.approved && info.package_id.is_some() {
                found.runnable.push((name.clone(), sequence));
            }
            found.committed.push((name, sequence));
        }
        Ok(found)
    }
}

/// A channel's committed chaincodes, by name with their sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelChaincodes {
    pub committed: Vec<(String, i64)>,
    /// Those this org approved and has the package of.
    pub runnable: Vec<(String, i64)>,
}

/// Names of the chaincodes committed in `_lifecycle` on a channel.
pub fn committed_names(state: &CommitterState) -> Result<Vec<String>, String> {
    let (start, end) = weft_lifecycle::state::definitions_range();
    let entries = state
        .scan(LIFECYCLE_NAMESPACE, start.as_bytes(), end.as_bytes())
        .map_err(|e| e.to_string())?
        .map(|item| {
            item.map(|(key, value)| (String::from_utf8_lossy(&key).into_owned(), value.value))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    weft_lifecycle::definition::chaincode_names(entries).map_err(|e| e.to_string())
}

/// A committed definition read from committed state, for the gateway and discovery.
pub fn committed_definition(
    committer: &Committer,
    channel_id: &str,
    name: &str,
) -> Result<Option<weft_lifecycle::ChaincodeDefinition>, String> {
    let state = CommitterState::new(committer.clone(), channel_id);
    let mut get = |key: &str| {
        state
            .get(LIFECYCLE_NAMESPACE, key.as_bytes())
            .map(|v| v.map(|v| v.value))
            .map_err(|e| e.to_string())
    };
    weft_lifecycle::committed_definition(&mut get, name).map_err(|e| e.to_string())
}
