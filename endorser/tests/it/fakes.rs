//! Fakes of the node around the endorser: identities, a channel over an in-memory state store,
//! a chaincode registry, and a scripted chaincode whose arguments say which stub calls to make.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use fabric_protos::common::{ChannelHeader, Header, HeaderType, MspPrincipal, SignatureHeader};
use fabric_protos::msp::SerializedIdentity;
use fabric_protos::protos::{
    ChaincodeHeaderExtension, ChaincodeId, ChaincodeInput, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, ChaincodeSpec, Proposal, SignedProposal,
};
use fabric_protos::rwset::TxPvtReadWriteSet;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use prost::Message;
use weft_chaincode_api::{Chaincode, ChaincodeStub, Response, StubError};
use weft_endorser::{
    ChaincodeDefinition, ChaincodeRegistry, ChannelSource, ChannelSupport, CollectionAccess,
    Endorser, EndorserConfig, SimulationState, StateQuery,
};
use weft_ledger::kv::{
    BatchEntry, Height, KvError, MemoryStateStore, ScanItem, UpdateBatch, VersionedStore,
};
use weft_msp::{Identity, IdentityDeserializer, IdentityIdentifier, MspError, SigningIdentity};
use weft_policy::api::SignedData;

pub const CHANNEL: &str = "mychannel";

// ---------------------------------------------------------------------------------------------
// Identities

#[derive(Debug)]
pub struct TestIdentity {
    id: IdentityIdentifier,
    serialized: Vec<u8>,
    key: PKey<Private>,
}

impl TestIdentity {
    pub fn new(msp_id: &str) -> Arc<Self> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let public_pem = key.public_key_to_pem().unwrap();
        let serialized = SerializedIdentity {
            mspid: msp_id.to_owned(),
            id_bytes: public_pem.clone(),
        }
        .encode_to_vec();
        Arc::new(TestIdentity {
            id: IdentityIdentifier {
                msp_id: msp_id.to_owned(),
                id: hex::encode(weft_protoutil::sha256(&public_pem)),
            },
            serialized,
            key,
        })
    }
}

impl Identity for TestIdentity {
    fn identifier(&self) -> &IdentityIdentifier {
        &self.id
    }
    fn validate(&self) -> Result<(), MspError> {
        Ok(())
    }
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), MspError> {
        let mut verifier =
            openssl::sign::Verifier::new(MessageDigest::sha256(), &self.key).unwrap();
        verifier.update(message).unwrap();
        match verifier.verify(signature) {
            Ok(true) => Ok(()),
            _ => Err(MspError::BadSignature("signature does not verify".into())),
        }
    }
    fn satisfies_principal(&self, _: &MspPrincipal) -> Result<(), MspError> {
        Ok(())
    }
    fn serialize(&self) -> Vec<u8> {
        self.serialized.clone()
    }
    fn expires_at(&self) -> Option<SystemTime> {
        None
    }
}

impl SigningIdentity for TestIdentity {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, MspError> {
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &self.key).unwrap();
        signer.update(message).unwrap();
        Ok(signer.sign_to_vec().unwrap())
    }
}

/// Knows a fixed set of identities by their serialized bytes.
#[derive(Default)]
pub struct Identities(Mutex<BTreeMap<Vec<u8>, Arc<TestIdentity>>>);

impl Identities {
    pub fn add(&self, identity: &Arc<TestIdentity>) {
        self.0
            .lock()
            .unwrap()
            .insert(identity.serialize(), Arc::clone(identity));
    }
}

impl IdentityDeserializer for Identities {
    fn deserialize_identity(&self, serialized: &[u8]) -> Result<Arc<dyn Identity>, MspError> {
        match self.0.lock().unwrap().get(serialized) {
            Some(id) => Ok(Arc::clone(id) as Arc<dyn Identity>),
            None => Err(MspError::UnknownMsp("unknown identity".into())),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Channel

/// Gives a simulation its own handle on the shared in-memory state.
struct SharedState(Arc<MemoryStateStore>);

impl VersionedStore for SharedState {
    fn get(
        &self,
        ns: &str,
        key: &[u8],
    ) -> Result<Option<weft_ledger::kv::VersionedValue>, KvError> {
        self.0.get(ns, key)
    }
    fn scan<'a>(
        &'a self,
        ns: &str,
        start: &[u8],
        end: &[u8],
    ) -> Result<Box<dyn Iterator<Item = ScanItem> + 'a>, KvError> {
        self.0.scan(ns, start, end)
    }
    fn apply(&self, batch: &UpdateBatch, savepoint: Height) -> Result<(), KvError> {
        self.0.apply(batch, savepoint)
    }
    fn savepoint(&self) -> Result<Option<Height>, KvError> {
        self.0.savepoint()
    }
}

/// The key Go's lifecycle reads through the simulator to find a chaincode's sequence.
pub fn sequence_key(chaincode: &str) -> String {
    format!("namespaces/fields/{chaincode}/Sequence")
}

pub struct FakeChannel {
    pub state: Arc<MemoryStateStore>,
    pub identities: Arc<Identities>,
    /// Serialized identities that satisfy the Writers ACL.
    pub writers: Mutex<BTreeSet<Vec<u8>>>,
    pub committed_txids: Mutex<BTreeSet<String>>,
    pub definitions: Mutex<BTreeMap<String, ChaincodeDefinition>>,
    /// (chaincode, collection) -> access of every creator.
    pub collections: Mutex<BTreeMap<(String, String), CollectionAccess>>,
    pub distributed: Mutex<Vec<(String, TxPvtReadWriteSet)>>,
}

impl FakeChannel {
    pub fn new(identities: Arc<Identities>) -> Arc<Self> {
        Arc::new(FakeChannel {
            state: Arc::new(MemoryStateStore::new()),
            identities,
            writers: Mutex::default(),
            committed_txids: Mutex::default(),
            definitions: Mutex::default(),
            collections: Mutex::default(),
            distributed: Mutex::default(),
        })
    }

    /// Defines `name` the way `_lifecycle` commits a definition: the sequence lands in state.
    pub fn define(&self, name: &str, version: &str, at: Height) {
        self.put("_lifecycle", &sequence_key(name), b"\x08\x01", at);
        self.definitions.lock().unwrap().insert(
            name.to_owned(),
            ChaincodeDefinition {
                name: name.to_owned(),
                version: version.to_owned(),
                endorsement_plugin: "escc".to_owned(),
                init_required: false,
                chaincode_id: format!("{name}:0123"),
            },
        );
    }

    pub fn put(&self, ns: &str, key: &str, value: &[u8], at: Height) {
        self.put_with_metadata(ns, key, value, None, at);
    }

    pub fn put_with_metadata(
        &self,
        ns: &str,
        key: &str,
        value: &[u8],
        metadata: Option<Vec<u8>>,
        at: Height,
    ) {
        let mut batch = UpdateBatch::new();
        batch.put_public(
            ns,
            key.as_bytes(),
            BatchEntry {
                value: Some(value.to_vec()),
                metadata,
                version: at,
            },
        );
        self.state.apply(&batch, at).unwrap();
    }

    /// Commits a private value and its hash at `at`.
    pub fn put_private(&self, ns: &str, coll: &str, key: &str, value: &[u8], at: Height) {
        let mut batch = UpdateBatch::new();
        let entry = |v: Vec<u8>| BatchEntry {
            value: Some(v),
            metadata: None,
            version: at,
        };
        batch.put_private(ns, coll, key.as_bytes(), entry(value.to_vec()));
        batch.put_hashed(
            ns,
            coll,
            &weft_protoutil::sha256(key.as_bytes()),
            entry(weft_protoutil::sha256(value).to_vec()),
        );
        self.state.apply(&batch, at).unwrap();
    }
}

impl ChannelSupport for FakeChannel {
    fn identity_deserializer(&self) -> Arc<dyn IdentityDeserializer> {
        Arc::clone(&self.identities) as Arc<dyn IdentityDeserializer>
    }

    fn check_acl(&self, resource: &str, signed: &SignedData) -> Result<(), String> {
        if self.writers.lock().unwrap().contains(&signed.identity) {
            Ok(())
        } else {
            Err(format!(
                "failed evaluating policy on signed data during check policy [/Channel/Application/Writers]: [{resource} denied]"
            ))
        }
    }

    fn transaction_exists(&self, tx_id: &str) -> Result<bool, String> {
        Ok(self.committed_txids.lock().unwrap().contains(tx_id))
    }

    fn simulation_state(&self) -> Result<SimulationState, String> {
        Ok(Box::new(SharedState(Arc::clone(&self.state))))
    }

    fn chaincode_definition(
        &self,
        name: &str,
        state: &mut dyn StateQuery,
    ) -> Result<ChaincodeDefinition, String> {
        let sequence = state
            .get_state("_lifecycle", &sequence_key(name))
            .map_err(|e| e.to_string())?;
        match (sequence, self.definitions.lock().unwrap().get(name)) {
            (Some(_), Some(definition)) => Ok(definition.clone()),
            _ => Err(format!("could not find chaincode with name '{name}'")),
        }
    }

    fn collection_access(
        &self,
        namespace: &str,
        collection: &str,
        _: &SignedProposal,
        _: &mut dyn StateQuery,
    ) -> Result<Option<CollectionAccess>, String> {
        Ok(self
            .collections
            .lock()
            .unwrap()
            .get(&(namespace.to_owned(), collection.to_owned()))
            .copied())
    }

    fn distribute_private_data(
        &self,
        tx_id: &str,
        private: &TxPvtReadWriteSet,
    ) -> Result<(), String> {
        self.distributed
            .lock()
            .unwrap()
            .push((tx_id.to_owned(), private.clone()));
        Ok(())
    }
}

#[derive(Default)]
pub struct Channels(pub Mutex<BTreeMap<String, Arc<FakeChannel>>>);

impl ChannelSource for Channels {
    fn channel(&self, channel_id: &str) -> Option<Arc<dyn ChannelSupport>> {
        self.0
            .lock()
            .unwrap()
            .get(channel_id)
            .map(|c| Arc::clone(c) as Arc<dyn ChannelSupport>)
    }
}

// ---------------------------------------------------------------------------------------------
// Chaincodes

#[derive(Default)]
pub struct Registry(pub Mutex<BTreeMap<String, Arc<dyn Chaincode>>>);

impl ChaincodeRegistry for Registry {
    fn is_system_chaincode(&self, name: &str) -> bool {
        matches!(name, "_lifecycle" | "cscc" | "qscc")
    }

    fn chaincode(
        &self,
        _: &str,
        definition: &ChaincodeDefinition,
    ) -> Result<Arc<dyn Chaincode>, String> {
        self.0
            .lock()
            .unwrap()
            .get(&definition.name)
            .cloned()
            .ok_or_else(|| format!("chaincode {} is not installed", definition.name))
    }
}

/// Runs each argument as one stub call and answers with what the calls returned, one line per
/// call. Calls: `get:k`, `put:k=v`, `del:k`, `range:start:end`, `page:start:end:size:bookmark`,
/// `meta:k:name=value`, `getmeta:k`, `pget:coll:k`, `pput:coll:k=v`, `pdel:coll:k`,
/// `phash:coll:k`, `nsget:namespace:k` (another namespace), `event:name=payload`,
/// `call:cc:arg|arg`, `status:code:message`.
/// A failed stub call ends the invocation with a 500 carrying the stub's error.
pub struct Script;

fn split2(s: &str, sep: char) -> (&str, &str) {
    s.split_once(sep).unwrap_or((s, ""))
}

impl Script {
    fn step(stub: &mut dyn ChaincodeStub, op: &str) -> Result<Option<String>, StubError> {
        let (verb, rest) = split2(op, ':');
        let text = |v: Option<Vec<u8>>| {
            v.map(|v| String::from_utf8_lossy(&v).into_owned())
                .unwrap_or_else(|| "<none>".into())
        };
        Ok(Some(match verb {
            "get" => text(stub.get_state(rest)?),
            "put" => {
                let (k, v) = split2(rest, '=');
                stub.put_state(k, v.as_bytes())?;
                "ok".into()
            }
            "del" => {
                stub.del_state(rest)?;
                "ok".into()
            }
            "range" => {
                let (start, end) = split2(rest, ':');
                let page = stub.get_state_by_range(start, end, 0, "")?;
                page.items
                    .iter()
                    .map(|kv| kv.key.clone())
                    .collect::<Vec<_>>()
                    .join(",")
            }
            "page" => {
                let parts: Vec<&str> = rest.split(':').collect();
                let page = stub.get_state_by_range(
                    parts[0],
                    parts[1],
                    parts[2].parse().unwrap(),
                    parts[3],
                )?;
                let keys: Vec<_> = page.items.iter().map(|kv| kv.key.clone()).collect();
                format!("{}|{}", keys.join(","), page.bookmark)
            }
            "meta" => {
                let (k, entry) = split2(rest, ':');
                let (name, value) = split2(entry, '=');
                stub.set_state_metadata(k, name, value.as_bytes())?;
                "ok".into()
            }
            "getmeta" => format!("{:?}", stub.get_state_metadata(rest)?),
            "pget" => {
                let (coll, k) = split2(rest, ':');
                text(stub.get_private_data(coll, k)?)
            }
            "pput" => {
                let (coll, kv) = split2(rest, ':');
                let (k, v) = split2(kv, '=');
                stub.put_private_data(coll, k, v.as_bytes())?;
                "ok".into()
            }
            "pdel" => {
                let (coll, k) = split2(rest, ':');
                stub.del_private_data(coll, k)?;
                "ok".into()
            }
            "phash" => {
                let (coll, k) = split2(rest, ':');
                stub.get_private_data_hash(coll, k)?
                    .map(hex::encode)
                    .unwrap_or_else(|| "<none>".into())
            }
            "nsget" => {
                let (ns, k) = split2(rest, ':');
                text(stub.get_state_of_namespace(ns, k)?)
            }
            "event" => {
                let (name, payload) = split2(rest, '=');
                stub.set_event(name, payload.as_bytes())?;
                "ok".into()
            }
            "call" => {
                let (cc, args) = split2(rest, ':');
                let args: Vec<Vec<u8>> = args.split('|').map(|a| a.as_bytes().to_vec()).collect();
                let response = stub.invoke_chaincode(cc, &args, "")?;
                format!(
                    "{}/{}/{}",
                    response.status,
                    String::from_utf8_lossy(&response.payload),
                    response.message
                )
            }
            "xcall" => {
                let (channel, rest) = split2(rest, ':');
                let (cc, args) = split2(rest, ':');
                let args: Vec<Vec<u8>> = args.split('|').map(|a| a.as_bytes().to_vec()).collect();
                let response = stub.invoke_chaincode(cc, &args, channel)?;
                format!(
                    "{}/{}/{}",
                    response.status,
                    String::from_utf8_lossy(&response.payload),
                    response.message
                )
            }
            _ => return Ok(None),
        }))
    }
}

impl Chaincode for Script {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Response {
        let ops: Vec<String> = stub
            .args()
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let mut out = Vec::new();
        for op in ops {
            if let Some(status) = op.strip_prefix("status:") {
                let (code, message) = split2(status, ':');
                return Response {
                    status: code.parse().unwrap(),
                    message: message.to_owned(),
                    payload: out.join("\n").into_bytes(),
                };
            }
            match Script::step(stub, &op) {
                Ok(Some(line)) => out.push(line),
                Ok(None) => {}
                Err(e) => return Response::error(e.to_string()),
            }
        }
        Response::success(out.join("\n").into_bytes())
    }
}

// ---------------------------------------------------------------------------------------------
// A node with one channel

pub struct Node {
    pub endorser: Endorser,
    pub peer: Arc<TestIdentity>,
    pub client: Arc<TestIdentity>,
    pub channel: Arc<FakeChannel>,
    pub channels: Arc<Channels>,
    pub registry: Arc<Registry>,
}

impl Node {
    pub fn new() -> Node {
        Node::with_config(EndorserConfig::default())
    }

    pub fn with_config(config: EndorserConfig) -> Node {
        let peer = TestIdentity::new("Org1MSP");
        let client = TestIdentity::new("Org1MSP");
        let identities = Arc::new(Identities::default());
        identities.add(&client);
        let channel = FakeChannel::new(Arc::clone(&identities));
        channel.writers.lock().unwrap().insert(client.serialize());
        let channels = Arc::new(Channels::default());
        channels
            .0
            .lock()
            .unwrap()
            .insert(CHANNEL.to_owned(), Arc::clone(&channel));
        let registry = Arc::new(Registry::default());
        registry
            .0
            .lock()
            .unwrap()
            .insert("mycc".into(), Arc::new(Script));
        registry
            .0
            .lock()
            .unwrap()
            .insert("othercc".into(), Arc::new(Script));
        registry
            .0
            .lock()
            .unwrap()
            .insert("cscc".into(), Arc::new(Script));
        channel.define("mycc", "1.0", Height::new(1, 0));
        channel.define("othercc", "2.0", Height::new(1, 1));
        let local_msp = Arc::new(Identities::default());
        local_msp.add(&client);
        let endorser = Endorser::new(
            Arc::clone(&channels) as Arc<dyn ChannelSource>,
            Arc::clone(&registry) as Arc<dyn ChaincodeRegistry>,
            local_msp,
            Arc::clone(&peer) as Arc<dyn SigningIdentity>,
            config,
        );
        Node {
            endorser,
            peer,
            client,
            channel,
            channels,
            registry,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Proposals

/// The parts of a proposal a test may vary.
pub struct ProposalSpec {
    pub channel: String,
    pub chaincode: String,
    pub args: Vec<String>,
    /// Arguments that are not text (marshalled messages); replace `args` when set.
    pub raw_args: Option<Vec<Vec<u8>>>,
    pub header_type: HeaderType,
    pub epoch: u64,
    pub nonce: Vec<u8>,
    pub tx_id: Option<String>,
    pub transient: BTreeMap<String, Vec<u8>>,
    pub timestamp_seconds: i64,
    pub is_init: bool,
}

impl ProposalSpec {
    pub fn invoke(chaincode: &str, args: &[&str]) -> Self {
        ProposalSpec {
            channel: CHANNEL.into(),
            chaincode: chaincode.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            raw_args: None,
            header_type: HeaderType::EndorserTransaction,
            epoch: 0,
            nonce: b"0123456789abcdef01234567".to_vec(),
            tx_id: None,
            transient: BTreeMap::new(),
            is_init: false,
            timestamp_seconds: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64,
        }
    }
}

/// A proposal with its header bytes, so tests can compute Go's proposal hash by hand.
pub struct BuiltProposal {
    pub signed: SignedProposal,
    pub channel_header: Vec<u8>,
    pub signature_header: Vec<u8>,
    pub input: Vec<u8>,
    pub tx_id: String,
}

pub fn build(spec: &ProposalSpec, signer: &TestIdentity) -> BuiltProposal {
    let creator = signer.serialize();
    let tx_id = spec
        .tx_id
        .clone()
        .unwrap_or_else(|| weft_protoutil::compute_txid(&spec.nonce, &creator));
    let channel_header = ChannelHeader {
        r#type: spec.header_type as i32,
        version: 0,
        timestamp: Some(prost_types::Timestamp {
            seconds: spec.timestamp_seconds,
            nanos: 0,
        }),
        channel_id: spec.channel.clone(),
        tx_id: tx_id.clone(),
        epoch: spec.epoch,
        extension: ChaincodeHeaderExtension {
            chaincode_id: Some(ChaincodeId {
                name: spec.chaincode.clone(),
                ..Default::default()
            }),
        }
        .encode_to_vec(),
        tls_cert_hash: Vec::new(),
    }
    .encode_to_vec();
    let signature_header = SignatureHeader {
        creator,
        nonce: spec.nonce.clone(),
    }
    .encode_to_vec();
    let input = ChaincodeInvocationSpec {
        chaincode_spec: Some(ChaincodeSpec {
            r#type: 0,
            chaincode_id: Some(ChaincodeId {
                name: spec.chaincode.clone(),
                ..Default::default()
            }),
            input: Some(ChaincodeInput {
                args: spec
                    .raw_args
                    .clone()
                    .unwrap_or_else(|| spec.args.iter().map(|a| a.as_bytes().to_vec()).collect()),
                is_init: spec.is_init,
                ..Default::default()
            }),
            timeout: 0,
        }),
    }
    .encode_to_vec();
    let proposal = Proposal {
        header: Header {
            channel_header: channel_header.clone(),
            signature_header: signature_header.clone(),
        }
        .encode_to_vec(),
        payload: ChaincodeProposalPayload {
            input: input.clone(),
            transient_map: spec.transient.clone(),
        }
        .encode_to_vec(),
        extension: Vec::new(),
    };
    let proposal_bytes = proposal.encode_to_vec();
    let signature = signer.sign(&proposal_bytes).unwrap();
    BuiltProposal {
        signed: SignedProposal {
            proposal_bytes,
            signature,
        },
        channel_header,
        signature_header,
        input,
        tx_id,
    }
}
