//! The [`ChaincodeStub`] a chaincode sees during one invocation: its namespace of the
//! transaction simulator, the proposal's context, and calls to other chaincodes. It plays the
//! part of Fabric's peer-side chaincode handler (F25 core/chaincode/handler.go) together with the
//! rules the Go shim applies before a request reaches the peer (empty range start becomes
//! `"\x01"`, empty keys and event names are refused).

use std::collections::BTreeMap;
use std::sync::Arc;

use fabric_protos::protos::{ChaincodeEvent, SignedProposal};
use prost::Message;
use weft_chaincode_api::{
    ChaincodeStub, KeyModification, KeyValue, RangePage, Response, StateMetadata, StubError,
};
use weft_policy::api::SignedData;

use crate::invoke::{InvocationError, Invoker};
use crate::simulator::TxSimulator;
use crate::support::{ChannelSupport, CollectionAccess, PEER_CHAINCODE_TO_CHAINCODE};

/// Most history entries returned for one key (Fabric's `totalQueryLimit`).
pub const HISTORY_ENTRIES_MAX: usize = crate::simulator::TOTAL_QUERY_LIMIT;
/// Go's shim substitutes this for an empty start key of a simple range query.
const EMPTY_KEY_SUBSTITUTE: &str = "\u{1}";
/// The namespace of Fabric's lifecycle system chaincode.
pub const LIFECYCLE_NAMESPACE: &str = "_lifecycle";
/// The namespace of Fabric's legacy lifecycle (`lscc`), which `_lifecycle` still reads.
pub const LEGACY_LSCC_NAMESPACE: &str = "lscc";
/// Names of the per-org implicit collections: this prefix, then the org's MSP ID.
pub const IMPLICIT_COLLECTION_PREFIX: &str = "_implicit_org_";

/// Access to a collection of `_lifecycle`, decided without reading state as Fabric decides it:
/// `_lifecycle` is defined by the peer itself, with no explicit collections, and an implicit
/// org collection restricts neither reads nor writes to members (F25
/// core/chaincode/lifecycle/deployedcc_infoprovider.go `CollectionInfo`,
/// `GenerateImplicitCollectionForOrg`; core/common/privdata/store.go
/// `RetrieveReadWritePermission`). `None`: no such collection.
fn lifecycle_collection_access(collection: &str) -> Option<CollectionAccess> {
    let msp_id = collection.strip_prefix(IMPLICIT_COLLECTION_PREFIX)?;
    (!msp_id.is_empty()).then_some(CollectionAccess {
        read: true,
        write: true,
    })
}

/// What every chaincode of one transaction shares: the proposal and its decoded parts.
pub struct TxContext {
    pub channel_id: String,
    pub tx_id: String,
    pub creator: Vec<u8>,
    pub transient: BTreeMap<String, Vec<u8>>,
    pub signed_proposal: SignedProposal,
    pub signed_proposal_bytes: Vec<u8>,
    pub timestamp: (i64, i32),
    pub binding: Vec<u8>,
    pub channel: Option<Arc<dyn ChannelSupport>>,
}

impl TxContext {
    /// The proposal as ACL checks see it.
    pub fn signed_data(&self) -> SignedData {
        SignedData {
            data: self.signed_proposal.proposal_bytes.clone(),
            identity: self.creator.clone(),
            signature: self.signed_proposal.signature.clone(),
        }
    }
}

/// The stub of one chaincode invocation.
pub struct InvocationStub<'a> {
    pub(crate) tx: &'a TxContext,
    pub(crate) namespace: String,
    pub(crate) args: Vec<Vec<u8>>,
    pub(crate) sim: Option<&'a mut TxSimulator>,
    pub(crate) invoker: &'a Invoker,
    /// (channel, chaincode) of every invocation on the stack, outermost first.
    pub(crate) call_stack: Vec<(String, String)>,
    pub(crate) event: Option<ChaincodeEvent>,
    /// An init invocation (`is_init`); Fabric allows no private data there.
    pub(crate) is_init: bool,
    collection_access: BTreeMap<String, CollectionAccess>,
}

impl<'a> InvocationStub<'a> {
    pub(crate) fn new(
        tx: &'a TxContext,
        namespace: &str,
        args: Vec<Vec<u8>>,
        sim: Option<&'a mut TxSimulator>,
        invoker: &'a Invoker,
        call_stack: Vec<(String, String)>,
    ) -> Self {
        InvocationStub {
            tx,
            namespace: namespace.to_owned(),
            args,
            sim,
            invoker,
            call_stack,
            event: None,
            is_init: false,
            collection_access: BTreeMap::new(),
        }
    }

    fn sim(&mut self) -> Result<&mut TxSimulator, StubError> {
        self.sim.as_deref_mut().ok_or_else(|| {
            StubError::Unsupported(format!(
                "no ledger context: chaincode {} was invoked without a channel simulator",
                self.namespace
            ))
        })
    }

    /// The creator's access to `coll`, looked up once per invocation as Go caches it.
    fn access(&mut self, coll: &str) -> Result<CollectionAccess, StubError> {
        if self.is_init {
            return Err(StubError::InvalidArgument(
                "private data APIs are not allowed in chaincode Init()".to_owned(),
            ));
        }
        if coll.is_empty() {
            return Err(StubError::InvalidArgument(
                "collection must not be an empty string".to_owned(),
            ));
        }
        if let Some(access) = self.collection_access.get(coll) {
            return Ok(*access);
        }
        if self.namespace == LIFECYCLE_NAMESPACE {
            let access = lifecycle_collection_access(coll).ok_or_else(|| {
                StubError::InvalidArgument(format!(
                    "collection [{coll}] not defined in the collection config for chaincode [{LIFECYCLE_NAMESPACE}]"
                ))
            })?;
            self.collection_access.insert(coll.to_owned(), access);
            return Ok(access);
        }
        let channel = self
            .tx
            .channel
            .clone()
            .ok_or_else(|| StubError::Unsupported("private data needs a channel".to_owned()))?;
        let ns = self.namespace.clone();
        let proposal = &self.tx.signed_proposal;
        let sim = self.sim()?;
        let access = channel
            .collection_access(&ns, coll, proposal, sim)
            .map_err(StubError::Internal)?
            .ok_or_else(|| {
                StubError::InvalidArgument(format!(
                    "collection [{coll}] not defined in the collection config for chaincode [{ns}]"
                ))
            })?;
        self.collection_access.insert(coll.to_owned(), access);
        Ok(access)
    }

    fn require_read(&mut self, coll: &str) -> Result<(), StubError> {
        if !self.access(coll)?.read {
            return Err(StubError::AccessDenied(format!(
                "tx creator does not have read access permission on privatedata in chaincodeName:{} collectionName: {coll}",
                self.namespace
            )));
        }
        Ok(())
    }

    fn require_write(&mut self, coll: &str) -> Result<(), StubError> {
        if !self.access(coll)?.write {
            return Err(StubError::AccessDenied(format!(
                "tx creator does not have write access permission on privatedata in chaincodeName:{} collectionName: {coll}",
                self.namespace
            )));
        }
        Ok(())
    }

    /// The chaincode event this invocation set, if any.
    pub(crate) fn take_event(&mut self) -> Option<ChaincodeEvent> {
        self.event.take()
    }
}

fn non_empty_key(key: &str) -> Result<(), StubError> {
    if key.is_empty() {
        return Err(StubError::InvalidArgument(
            "key must not be an empty string".to_owned(),
        ));
    }
    Ok(())
}

fn single_entry(name: &str, value: &[u8]) -> StateMetadata {
    // Fabric replaces a key's whole metadata with the one entry being set (handler.go
    // HandlePutStateMetadata builds a one-entry map).
    StateMetadata::from([(name.to_owned(), value.to_vec())])
}

impl ChaincodeStub for InvocationStub<'_> {
    fn channel_id(&self) -> &str {
        &self.tx.channel_id
    }

    fn tx_id(&self) -> &str {
        &self.tx.tx_id
    }

    fn args(&self) -> &[Vec<u8>] {
        &self.args
    }

    fn creator(&self) -> &[u8] {
        &self.tx.creator
    }

    fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.tx.transient
    }

    fn signed_proposal(&self) -> &[u8] {
        &self.tx.signed_proposal_bytes
    }

    fn tx_timestamp(&self) -> (i64, i32) {
        self.tx.timestamp
    }

    fn binding(&self) -> &[u8] {
        &self.tx.binding
    }

    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        let ns = self.namespace.clone();
        Ok(self.sim()?.get_state(&ns, key)?.map(|v| v.value))
    }

    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), StubError> {
        non_empty_key(key)?;
        let ns = self.namespace.clone();
        self.sim()?.set_state(&ns, key, value)
    }

    fn del_state(&mut self, key: &str) -> Result<(), StubError> {
        let ns = self.namespace.clone();
        self.sim()?.set_state(&ns, key, &[])
    }

    fn get_state_metadata(&mut self, key: &str) -> Result<StateMetadata, StubError> {
        let ns = self.namespace.clone();
        self.sim()?.get_state_metadata(&ns, key)
    }

    fn set_state_metadata(&mut self, key: &str, name: &str, value: &[u8]) -> Result<(), StubError> {
        let ns = self.namespace.clone();
        self.sim()?
            .set_state_metadata(&ns, key, &single_entry(name, value))
    }

    fn get_state_by_range(
        &mut self,
        start: &str,
        end: &str,
        page_size: u32,
        bookmark: &str,
    ) -> Result<RangePage, StubError> {
        let ns = self.namespace.clone();
        let start = if start.is_empty() {
            EMPTY_KEY_SUBSTITUTE
        } else {
            start
        };
        // Fabric paginates when a page size or a bookmark is given; the bookmark replaces
        // the start key (handler.go HandleGetStateByRange).
        let paginated = page_size != 0 || !bookmark.is_empty();
        let start = if !bookmark.is_empty() {
            bookmark
        } else {
            start
        };
        let result =
            self.sim()?
                .get_state_range(&ns, start, end, paginated.then_some(page_size))?;
        let fetched_records_count = u32::try_from(result.items.len()).unwrap_or(u32::MAX);
        Ok(RangePage {
            items: result
                .items
                .into_iter()
                .map(|(key, value)| KeyValue { key, value })
                .collect(),
            bookmark: result.bookmark,
            fetched_records_count,
        })
    }

    fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, StubError> {
        let channel = self
            .tx
            .channel
            .clone()
            .ok_or_else(|| StubError::Unsupported("history needs a channel".to_owned()))?;
        channel
            .history_for_key(&self.namespace, key, HISTORY_ENTRIES_MAX)
            .map_err(StubError::Internal)
    }

    fn get_private_data(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        self.require_read(collection)?;
        let ns = self.namespace.clone();
        self.sim()?.get_private_data(&ns, collection, key)
    }

    fn get_private_data_hash(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        self.access(collection)?;
        let ns = self.namespace.clone();
        self.sim()?.get_private_data_hash(&ns, collection, key)
    }

    fn put_private_data(
        &mut self,
        collection: &str,
        key: &str,
        value: &[u8],
    ) -> Result<(), StubError> {
        non_empty_key(key)?;
        self.require_write(collection)?;
        let ns = self.namespace.clone();
        self.sim()?
            .set_private_data(&ns, collection, key, value, false)
    }

    fn del_private_data(&mut self, collection: &str, key: &str) -> Result<(), StubError> {
        self.require_write(collection)?;
        let ns = self.namespace.clone();
        self.sim()?
            .set_private_data(&ns, collection, key, &[], false)
    }

    fn get_private_data_by_range(
        &mut self,
        collection: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<KeyValue>, StubError> {
        self.require_read(collection)?;
        let ns = self.namespace.clone();
        let start = if start.is_empty() {
            EMPTY_KEY_SUBSTITUTE
        } else {
            start
        };
        let items = self
            .sim()?
            .get_private_data_range(&ns, collection, start, end)?;
        Ok(items
            .into_iter()
            .map(|(key, value)| KeyValue { key, value })
            .collect())
    }

    fn get_private_data_metadata(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<StateMetadata, StubError> {
        self.require_read(collection)?;
        let ns = self.namespace.clone();
        self.sim()?.get_private_data_metadata(&ns, collection, key)
    }

    fn set_private_data_metadata(
        &mut self,
        collection: &str,
        key: &str,
        name: &str,
        value: &[u8],
    ) -> Result<(), StubError> {
        self.require_write(collection)?;
        let ns = self.namespace.clone();
        self.sim()?
            .set_private_data_metadata(&ns, collection, key, &single_entry(name, value))
    }

    /// A recorded read of another namespace, for system chaincodes only: Fabric gives
    /// `_lifecycle` the running transaction's simulator to look up legacy `lscc` definitions
    /// (F25 core/chaincode/lifecycle/scc.go `validateInput`), while user chaincodes can reach no
    /// namespace but their own.
    fn get_state_of_namespace(
        &mut self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        if !self.invoker.registry.is_system_chaincode(&self.namespace) {
            return Err(StubError::AccessDenied(format!(
                "chaincode {} may not read namespace {namespace}: only system chaincodes read other namespaces",
                self.namespace
            )));
        }
        if namespace.is_empty() {
            return Err(StubError::InvalidArgument(
                "namespace must not be an empty string".to_owned(),
            ));
        }
        Ok(self.sim()?.get_state(namespace, key)?.map(|v| v.value))
    }

    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), StubError> {
        if name.is_empty() {
            return Err(StubError::InvalidArgument(
                "event name can not be empty string".to_owned(),
            ));
        }
        self.event = Some(ChaincodeEvent {
            chaincode_id: self.namespace.clone(),
            tx_id: self.tx.tx_id.clone(),
            event_name: name.to_owned(),
            payload: payload.to_vec(),
        });
        Ok(())
    }

    fn invoke_chaincode(
        &mut self,
        chaincode: &str,
        args: &[Vec<u8>],
        channel: &str,
    ) -> Result<Response, StubError> {
        let target_channel = if channel.is_empty() {
            self.tx.channel_id.clone()
        } else {
            channel.to_owned()
        };
        let invoker = self.invoker;
        if !invoker.registry.is_system_chaincode(chaincode) {
            let support = invoker.channels.channel(&target_channel).ok_or_else(|| {
                StubError::InvalidArgument(format!(
                    "failed to find ledger for channel: {target_channel}"
                ))
            })?;
            support
                .check_acl(PEER_CHAINCODE_TO_CHAINCODE, &self.tx.signed_data())
                .map_err(StubError::AccessDenied)?;
        }
        let mut stack = self.call_stack.clone();
        let result = if target_channel == self.tx.channel_id {
            let sim = self.sim.as_deref_mut();
            invoker.invoke(self.tx, chaincode, args.to_vec(), false, sim, &mut stack)
        } else {
            invoker.invoke_other_channel(
                self.tx,
                &target_channel,
                chaincode,
                args.to_vec(),
                &mut stack,
            )
        };
        match result {
            Ok((response, _callee_event)) => Ok(response),
            Err(InvocationError(message)) => {
                Err(StubError::Internal(format!("execute failed: {message}")))
            }
        }
    }
}

/// Marshals a chaincode event as Go does (nil event: no bytes).
pub(crate) fn event_bytes(event: Option<&ChaincodeEvent>) -> Vec<u8> {
    event.map(Message::encode_to_vec).unwrap_or_default()
}
