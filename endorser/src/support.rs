//! What the endorser needs from the node: channels (identities, ACLs, state, ledger lookups,
//! chaincode definitions, collections) and chaincodes. The peer implements these traits; tests
//! implement them with fakes.
//!
//! Lookups that Fabric performs *through the transaction simulator* (chaincode definitions,
//! collection configuration) receive a [`StateQuery`]: every key read through it lands in the
//! transaction's read set, exactly as Go's `_lifecycle` reads of `namespaces/fields/<cc>/Sequence`
//! do. Implementations must read through it the same keys Go reads, or read-write sets differ.

use std::sync::Arc;

use fabric_protos::protos::SignedProposal;
use fabric_protos::rwset::TxPvtReadWriteSet;
use weft_chaincode_api::{Chaincode, KeyModification, StubError};
use weft_ledger::kv::{KvError, ScanItem, VersionedStore, VersionedValue};
use weft_msp::IdentityDeserializer;
use weft_policy::api::{PolicyManager, SignedData};

/// Fabric's ACL resource for proposals to application chaincodes (checked by the endorser).
pub const PEER_PROPOSE: &str = "peer/Propose";
/// Fabric's ACL resource for a chaincode calling an application chaincode.
pub const PEER_CHAINCODE_TO_CHAINCODE: &str = "peer/ChaincodeToChaincode";

/// The policy Fabric's default ACL provider uses for `resource` when the channel config has no
/// ACL for it (F25 core/aclmgmt/defaultaclprovider.go). Only the resources the endorser checks.
pub fn default_acl_policy(resource: &str) -> Option<&'static str> {
    match resource {
        PEER_PROPOSE | PEER_CHAINCODE_TO_CHAINCODE => Some("/Channel/Application/Writers"),
        _ => None,
    }
}

/// Evaluates `policy_path` for an ACL check and words a failure as Fabric's resource-based ACL
/// provider does (F25 core/aclmgmt/resourceprovider.go), so clients see the same message.
pub fn check_policy_acl(
    policies: &dyn PolicyManager,
    policy_path: &str,
    signed: &[SignedData],
) -> Result<(), String> {
    let failed = |reason: String| {
        format!(
            "failed evaluating policy on signed data during check policy [{policy_path}]: [{reason}]"
        )
    };
    let policy = policies
        .get_policy(policy_path)
        .ok_or_else(|| failed(format!("policy {policy_path} not found")))?;
    policy
        .evaluate_signed_data(signed)
        .map_err(|e| failed(e.to_string()))
}

/// What the lifecycle says about a chaincode on a channel (Go's `ChaincodeEndorsementInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaincodeDefinition {
    pub name: String,
    /// Goes into `ChaincodeAction.chaincode_id.version` of the response.
    pub version: String,
    /// The endorsement plugin; Weft has Fabric's built-in `escc` only.
    pub endorsement_plugin: String,
    /// `--init-required`: invocations must start with an init call.
    pub init_required: bool,
    /// What the registry runs: the installed package ID, or the name of a system chaincode.
    pub chaincode_id: String,
}

/// Version Fabric reports for system chaincodes (F25 core/scc/scc.go `SysCCVersion`).
pub const SYSTEM_CHAINCODE_VERSION: &str = "syscc";
/// Fabric's default endorsement plugin.
pub const DEFAULT_ENDORSEMENT_PLUGIN: &str = "escc";

impl ChaincodeDefinition {
    /// The definition Fabric's lifecycle returns for any system chaincode, without reading state.
    pub fn system(name: &str) -> Self {
        ChaincodeDefinition {
            name: name.to_owned(),
            version: SYSTEM_CHAINCODE_VERSION.to_owned(),
            endorsement_plugin: DEFAULT_ENDORSEMENT_PLUGIN.to_owned(),
            init_required: false,
            chaincode_id: name.to_owned(),
        }
    }
}

/// Whether the proposal's creator may read and write a private-data collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionAccess {
    pub read: bool,
    pub write: bool,
}

/// Reads public state through the running simulation, recording each read in the read set.
pub trait StateQuery {
    fn get_state(&mut self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, StubError>;
}

/// Read access to a channel's committed state: all a simulation needs. Every
/// [`VersionedStore`] is one; a peer whose store lives on another thread can implement just
/// this.
pub trait StateView {
    /// The committed value of `key` in namespace `ns`.
    fn get(&self, ns: &str, key: &[u8]) -> Result<Option<VersionedValue>, KvError>;

    /// Entries of `ns` with `start <= key < end` in key byte order (empty `end`: to the end).
    fn scan<'a>(
        &'a self,
        ns: &str,
        start: &[u8],
        end: &[u8],
    ) -> Result<Box<dyn Iterator<Item = ScanItem> + 'a>, KvError>;
}

impl<T: VersionedStore + ?Sized> StateView for T {
    fn get(&self, ns: &str, key: &[u8]) -> Result<Option<VersionedValue>, KvError> {
        VersionedStore::get(self, ns, key)
    }

    fn scan<'a>(
        &'a self,
        ns: &str,
        start: &[u8],
        end: &[u8],
    ) -> Result<Box<dyn Iterator<Item = ScanItem> + 'a>, KvError> {
        VersionedStore::scan(self, ns, start, end)
    }
}

/// A consistent view of a channel's committed state for one simulation. The peer should make
/// commits wait while a view is alive (Go's simulator holds the commit lock's read side); the
/// endorser drops it as soon as the simulation ends.
pub type SimulationState = Box<dyn StateView + Send>;

/// One channel as the endorser sees it.
pub trait ChannelSupport: Send + Sync {
    /// The channel's MSPs, to deserialize and verify the proposal's creator.
    fn identity_deserializer(&self) -> Arc<dyn IdentityDeserializer>;

    /// Checks the ACL `resource` (such as [`PEER_PROPOSE`]) for `signed`. The error is shown to
    /// the client as is; [`check_policy_acl`] words it as Fabric does.
    fn check_acl(&self, resource: &str, signed: &SignedData) -> Result<(), String>;

    /// Whether a transaction with this ID is already in the ledger. An error counts as "no",
    /// as in Go (only a successful lookup proves a duplicate).
    fn transaction_exists(&self, tx_id: &str) -> Result<bool, String>;

    /// A view of committed state for one simulation (public, `ns$$h<coll>` hashed and
    /// `ns$$p<coll>` private namespaces, as the ledger's stores lay them out).
    fn simulation_state(&self) -> Result<SimulationState, String>;

    /// The definition of chaincode `name`, read through `state` as Go's lifecycle does. For system
    /// chaincodes return [`ChaincodeDefinition::system`] without reading. The error text follows
    /// Go's lifecycle (the endorser adds the "make sure the chaincode ..." prefix).
    fn chaincode_definition(
        &self,
        name: &str,
        state: &mut dyn StateQuery,
    ) -> Result<ChaincodeDefinition, String>;

    /// The creator's access to `collection` of chaincode `namespace`; `Ok(None)` when the
    /// chaincode defines no such collection. Reads collection config through `state`, the keys
    /// Go reads (for a user chaincode's implicit collection, its `_lifecycle` definition).
    /// Never asked about `_lifecycle`'s own collections.
    fn collection_access(
        &self,
        namespace: &str,
        collection: &str,
        proposal: &SignedProposal,
        state: &mut dyn StateQuery,
    ) -> Result<Option<CollectionAccess>, String> {
        let _ = (namespace, proposal, state);
        Err(format!(
            "collection [{collection}] not defined: this peer has no private-data support"
        ))
    }

    /// History of `key` in `namespace`, newest first, at most `limit` entries.
    fn history_for_key(
        &self,
        namespace: &str,
        key: &str,
        limit: usize,
    ) -> Result<Vec<KeyModification>, String> {
        let _ = (namespace, key, limit);
        Err("history database is not enabled".to_owned())
    }

    /// Hands the private write set of an endorsed transaction to the transient store and
    /// dissemination (Go's `PrivateDataDistributor`).
    fn distribute_private_data(
        &self,
        tx_id: &str,
        private: &TxPvtReadWriteSet,
    ) -> Result<(), String> {
        let _ = (tx_id, private);
        Err("private data distribution is not available on this peer".to_owned())
    }
}

/// Looks channels up by ID.
pub trait ChannelSource: Send + Sync {
    fn channel(&self, channel_id: &str) -> Option<Arc<dyn ChannelSupport>>;
}

/// The chaincodes the peer can run.
pub trait ChaincodeRegistry: Send + Sync {
    /// System chaincodes (`_lifecycle`, `cscc`, `qscc`) check their own ACLs; the endorser skips
    /// the `peer/Propose` check for them and gives `cscc`/`qscc` no simulator, as Go does.
    fn is_system_chaincode(&self, name: &str) -> bool;

    /// The chaincode to run for `definition` on `channel_id` ("" for channel-less proposals).
    /// The error says why it cannot run (for example not installed).
    fn chaincode(
        &self,
        channel_id: &str,
        definition: &ChaincodeDefinition,
    ) -> Result<Arc<dyn Chaincode>, String>;
}
