//! An in-memory channel ledger and a stub over it, standing in for the endorser: public state of
//! the `_lifecycle` namespace, each org's implicit collection (readable only by that org's
//! peers) and the hashes of all private data (readable by everyone), with writes applied only
//! when a test commits the simulated transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use prost::Message;
use weft_chaincode_api::{
    Chaincode, ChaincodeStub, KeyModification, KeyValue, RangePage, Response, StateMetadata,
    StubError,
};
use weft_lifecycle::package::PackageStore;
use weft_lifecycle::{ChannelView, LifecycleScc, PeerContext};

pub const CHANNEL: &str = "mychannel";

fn sha256(data: &[u8]) -> Vec<u8> {
    openssl::sha::sha256(data).to_vec()
}

/// Committed state of one channel, shared by every peer in a test.
#[derive(Default, Debug, Clone)]
pub struct Ledger {
    pub public: BTreeMap<String, Vec<u8>>,
    pub lscc: BTreeMap<String, Vec<u8>>,
    /// (collection, key) -> value, for every org (a peer may read only its own).
    pub private: BTreeMap<(String, String), Vec<u8>>,
}

impl Ledger {
    pub fn private_hash(&self, collection: &str, key: &str) -> Option<Vec<u8>> {
        self.private
            .get(&(collection.to_owned(), key.to_owned()))
            .map(|v| sha256(v))
    }
}

/// What one simulated transaction read and wrote.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct RwSet {
    pub public_reads: BTreeSet<String>,
    pub lscc_reads: BTreeSet<String>,
    pub private_reads: BTreeSet<(String, String)>,
    pub public_writes: BTreeMap<String, Option<Vec<u8>>>,
    pub private_writes: BTreeMap<(String, String), Option<Vec<u8>>>,
}

pub struct FakeStub<'l> {
    pub ledger: &'l Ledger,
    pub msp_id: String,
    pub channel_id: String,
    pub args: Vec<Vec<u8>>,
    pub rwset: RwSet,
    pub support_lscc: bool,
    transient: BTreeMap<String, Vec<u8>>,
}

impl<'l> FakeStub<'l> {
    pub fn new(ledger: &'l Ledger, msp_id: &str, args: Vec<Vec<u8>>) -> Self {
        FakeStub {
            ledger,
            msp_id: msp_id.to_owned(),
            channel_id: CHANNEL.to_owned(),
            args,
            rwset: RwSet::default(),
            support_lscc: true,
            transient: BTreeMap::new(),
        }
    }

    fn own_collection(&self) -> String {
        format!("_implicit_org_{}", self.msp_id)
    }
}

impl ChaincodeStub for FakeStub<'_> {
    fn channel_id(&self) -> &str {
        &self.channel_id
    }
    fn tx_id(&self) -> &str {
        "tx"
    }
    fn args(&self) -> &[Vec<u8>] {
        &self.args
    }
    fn creator(&self) -> &[u8] {
        b"creator"
    }
    fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.transient
    }
    fn signed_proposal(&self) -> &[u8] {
        b"signed-proposal"
    }
    fn tx_timestamp(&self) -> (i64, i32) {
        (0, 0)
    }
    fn binding(&self) -> &[u8] {
        b""
    }

    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        self.rwset.public_reads.insert(key.to_owned());
        Ok(self.ledger.public.get(key).cloned())
    }
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), StubError> {
        self.rwset
            .public_writes
            .insert(key.to_owned(), Some(value.to_vec()));
        Ok(())
    }
    fn del_state(&mut self, key: &str) -> Result<(), StubError> {
        self.rwset.public_writes.insert(key.to_owned(), None);
        Ok(())
    }
    fn get_state_metadata(&mut self, _key: &str) -> Result<StateMetadata, StubError> {
        Ok(StateMetadata::new())
    }
    fn set_state_metadata(&mut self, _: &str, _: &str, _: &[u8]) -> Result<(), StubError> {
        Err(StubError::Unsupported("metadata".into()))
    }
    fn get_state_by_range(
        &mut self,
        start: &str,
        end: &str,
        _page_size: u32,
        _bookmark: &str,
    ) -> Result<RangePage, StubError> {
        let items: Vec<KeyValue> = self
            .ledger
            .public
            .range(start.to_owned()..end.to_owned())
            .map(|(key, value)| KeyValue {
                key: key.clone(),
                value: value.clone(),
            })
            .collect();
        Ok(RangePage {
            fetched_records_count: items.len() as u32,
            items,
            bookmark: String::new(),
        })
    }
    fn get_history_for_key(&mut self, _key: &str) -> Result<Vec<KeyModification>, StubError> {
        Ok(Vec::new())
    }

    fn get_private_data(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        if collection != self.own_collection() {
            return Err(StubError::AccessDenied(format!(
                "peer of {} is not eligible for {collection}",
                self.msp_id
            )));
        }
        self.rwset
            .private_reads
            .insert((collection.to_owned(), key.to_owned()));
        Ok(self
            .ledger
            .private
            .get(&(collection.to_owned(), key.to_owned()))
            .cloned())
    }
    fn get_private_data_hash(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        self.rwset
            .private_reads
            .insert((collection.to_owned(), key.to_owned()));
        Ok(self.ledger.private_hash(collection, key))
    }
    fn put_private_data(
        &mut self,
        collection: &str,
        key: &str,
        value: &[u8],
    ) -> Result<(), StubError> {
        self.rwset.private_writes.insert(
            (collection.to_owned(), key.to_owned()),
            Some(value.to_vec()),
        );
        Ok(())
    }
    fn del_private_data(&mut self, collection: &str, key: &str) -> Result<(), StubError> {
        self.rwset
            .private_writes
            .insert((collection.to_owned(), key.to_owned()), None);
        Ok(())
    }
    fn get_private_data_by_range(
        &mut self,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<Vec<KeyValue>, StubError> {
        Err(StubError::Unsupported("private range".into()))
    }
    fn get_private_data_metadata(&mut self, _: &str, _: &str) -> Result<StateMetadata, StubError> {
        Ok(StateMetadata::new())
    }
    fn set_private_data_metadata(
        &mut self,
        _: &str,
        _: &str,
        _: &str,
        _: &[u8],
    ) -> Result<(), StubError> {
        Err(StubError::Unsupported("metadata".into()))
    }
    fn set_event(&mut self, _: &str, _: &[u8]) -> Result<(), StubError> {
        Ok(())
    }
    fn invoke_chaincode(&mut self, _: &str, _: &[Vec<u8>], _: &str) -> Result<Response, StubError> {
        Err(StubError::Unsupported("invoke".into()))
    }
    fn get_state_of_namespace(
        &mut self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        if !self.support_lscc || namespace != "lscc" {
            return Err(StubError::Unsupported(namespace.to_owned()));
        }
        self.rwset.lscc_reads.insert(key.to_owned());
        Ok(self.ledger.lscc.get(key).cloned())
    }
}

/// The peer context of one org's peer.
pub struct FakePeer {
    pub msp_id: String,
    pub store: PackageStore,
    pub channel: Option<ChannelView>,
    pub denied: Option<String>,
    pub build_error: Option<String>,
}

impl PeerContext for FakePeer {
    fn local_msp_id(&self) -> &str {
        &self.msp_id
    }
    fn channel(&self, channel_id: &str) -> Option<ChannelView> {
        (channel_id == CHANNEL)
            .then(|| self.channel.clone())
            .flatten()
    }
    fn package_store(&self) -> &PackageStore {
        &self.store
    }
    fn check_acl(&self, resource: &str, _: &str, signed_proposal: &[u8]) -> Result<(), String> {
        assert_eq!(signed_proposal, b"signed-proposal");
        match &self.denied {
            Some(denied) if denied == resource => Err(format!("access denied for [{resource}]")),
            _ => Ok(()),
        }
    }
    fn build(
        &self,
        _: &weft_lifecycle::InstalledPackage,
        _: &weft_lifecycle::ChaincodePackage,
    ) -> Result<(), String> {
        self.build_error.clone().map_or(Ok(()), Err)
    }
}

pub fn two_org_channel() -> ChannelView {
    ChannelView {
        application_orgs: Some(vec!["Org1MSP".into(), "Org2MSP".into()]),
        msp_ids: vec!["Org1MSP".into(), "Org2MSP".into(), "OrdererMSP".into()],
        lifecycle_v20: true,
        defines_endorsement_policy: true,
    }
}

/// One peer of one org: its SCC and its private view of the ledger.
pub struct Peer {
    pub msp_id: String,
    pub context: Arc<FakePeer>,
    pub scc: LifecycleScc,
    _dir: tempfile::TempDir,
}

impl Peer {
    pub fn new(msp_id: &str) -> Self {
        Self::with_channel(msp_id, Some(two_org_channel()))
    }

    pub fn with_channel(msp_id: &str, channel: Option<ChannelView>) -> Self {
        Self::build(msp_id, channel, None)
    }

    /// A peer whose ACL refuses `resource`.
    pub fn denying(msp_id: &str, resource: &str) -> Self {
        Self::build(msp_id, Some(two_org_channel()), Some(resource.to_owned()))
    }

    fn build(msp_id: &str, channel: Option<ChannelView>, denied: Option<String>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let context = Arc::new(FakePeer {
            msp_id: msp_id.to_owned(),
            store: PackageStore::for_peer(dir.path()).unwrap(),
            channel,
            denied,
            build_error: None,
        });
        Peer {
            msp_id: msp_id.to_owned(),
            scc: LifecycleScc::new(context.clone()),
            context,
            _dir: dir,
        }
    }

    /// Simulates one call; returns the response and what it read and wrote.
    pub fn call(&self, ledger: &Ledger, function: &str, arg: &impl Message) -> (Response, RwSet) {
        self.call_raw(
            ledger,
            vec![function.as_bytes().to_vec(), arg.encode_to_vec()],
        )
    }

    pub fn call_raw(&self, ledger: &Ledger, args: Vec<Vec<u8>>) -> (Response, RwSet) {
        let mut stub = FakeStub::new(ledger, &self.msp_id, args);
        let response = self.scc.invoke(&mut stub);
        (response, stub.rwset)
    }
}

/// Applies a successful simulation's writes to the ledger, as the committer would.
pub fn commit(ledger: &mut Ledger, rwset: RwSet) {
    for (key, value) in rwset.public_writes {
        match value {
            Some(v) => ledger.public.insert(key, v),
            None => ledger.public.remove(&key),
        };
    }
    for (key, value) in rwset.private_writes {
        match value {
            Some(v) => ledger.private.insert(key, v),
            None => ledger.private.remove(&key),
        };
    }
}
