//! In-process fakes of the node, remote peers and orderers.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use fabric_protos::common::{
    Block, BlockData, BlockHeader, BlockMetadata, ChannelHeader, Config, ConfigGroup, ConfigPolicy,
    ConfigValue, Envelope, Header, HeaderType, ImplicitMetaPolicy, MspPrincipal, MspRole,
    OrdererAddresses, Payload, Policy, SignaturePolicy, SignaturePolicyEnvelope,
    implicit_meta_policy, msp_principal, msp_role, policy::PolicyType, signature_policy,
};
use fabric_protos::msp::{FabricMspConfig, MspConfig, SerializedIdentity};
use fabric_protos::orderer::BroadcastResponse;
use fabric_protos::protos::{
    ApplicationPolicy, ChaincodeAction, ChaincodeActionPayload, ChaincodeEndorsedAction,
    ChaincodeEvent, ChaincodeId, ChaincodeInput, ChaincodeInvocationSpec, ChaincodeProposalPayload,
    ChaincodeSpec, Endorsement, Proposal, ProposalResponse, ProposalResponsePayload, Response,
    SignedProposal, Transaction, TransactionAction, application_policy,
};
use prost::Message;
use tokio::sync::broadcast;
use weft_gateway::{
    BoxFuture, ChaincodeDefinition, ChannelConfigSource, Connector, Endorser, GatewayError,
    GatewayOptions, GatewayService, InstalledChaincode, LedgerView, LocalPeer, Orderer, PeerInfo,
    PeerSupport, TxStatus,
};
use weft_policy::SignedData;

pub const CHANNEL: &str = "mychannel";
pub const CC: &str = "basic";
pub const LOCAL: &str = "peer0.org1:7051";
/// The signature the fake policies accept.
pub const GOOD_SIGNATURE: &[u8] = b"good";

pub fn identity(msp: &str, name: &str) -> Vec<u8> {
    SerializedIdentity {
        mspid: msp.into(),
        id_bytes: name.as_bytes().to_vec(),
    }
    .encode_to_vec()
}

pub fn member(msp: &str) -> MspPrincipal {
    MspPrincipal {
        principal_classification: msp_principal::Classification::Role as i32,
        principal: MspRole {
            msp_identifier: msp.into(),
            role: msp_role::MspRoleType::Member as i32,
        }
        .encode_to_vec(),
    }
}

pub fn signed_by(i: i32) -> SignaturePolicy {
    SignaturePolicy {
        r#type: Some(signature_policy::Type::SignedBy(i)),
    }
}

pub fn out_of(n: i32, rules: Vec<SignaturePolicy>) -> SignaturePolicy {
    SignaturePolicy {
        r#type: Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
            n,
            rules,
        })),
    }
}

/// `OutOf(n, members of orgs...)`.
pub fn out_of_orgs(n: i32, orgs: &[&str]) -> SignaturePolicyEnvelope {
    SignaturePolicyEnvelope {
        version: 0,
        rule: Some(out_of(n, (0..orgs.len() as i32).map(signed_by).collect())),
        identities: orgs.iter().map(|o| member(o)).collect(),
    }
}

pub fn signature_app_policy(envelope: SignaturePolicyEnvelope) -> Vec<u8> {
    ApplicationPolicy {
        r#type: Some(application_policy::Type::SignaturePolicy(envelope)),
    }
    .encode_to_vec()
}

pub fn reference_app_policy(path: &str) -> Vec<u8> {
    ApplicationPolicy {
        r#type: Some(application_policy::Type::ChannelConfigPolicyReference(
            path.into(),
        )),
    }
    .encode_to_vec()
}

fn msp_value(msp: &str, tls: bool) -> ConfigValue {
    ConfigValue {
        version: 0,
        value: MspConfig {
            r#type: 0,
            config: FabricMspConfig {
                name: msp.into(),
                tls_root_certs: if tls {
                    vec![format!("{msp}-tls-ca").into_bytes()]
                } else {
                    vec![]
                },
                ..Default::default()
            }
            .encode_to_vec(),
        }
        .encode_to_vec(),
        mod_policy: String::new(),
    }
}

fn signature_config_policy(envelope: SignaturePolicyEnvelope) -> ConfigPolicy {
    ConfigPolicy {
        version: 0,
        policy: Some(Policy {
            r#type: PolicyType::Signature as i32,
            value: envelope.encode_to_vec(),
        }),
        mod_policy: String::new(),
    }
}

/// A channel config with orderer orgs (with per-org endpoints) and application orgs whose
/// `Endorsement` policies are their members, under an implicit-meta MAJORITY
/// `/Channel/Application/Endorsement`.
/// With `tls`, each MSP carries a (fake) TLS CA certificate.
pub fn channel_config(app_orgs: &[&str], orderers: &[(&str, &[&str])], tls: bool) -> Config {
    let mut app = ConfigGroup::default();
    for org in app_orgs {
        let mut g = ConfigGroup::default();
        g.values.insert("MSP".into(), msp_value(org, tls));
        g.policies.insert(
            "Endorsement".into(),
            signature_config_policy(out_of_orgs(1, &[org])),
        );
        app.groups.insert((*org).into(), g);
    }
    app.policies.insert(
        "Endorsement".into(),
        ConfigPolicy {
            version: 0,
            policy: Some(Policy {
                r#type: PolicyType::ImplicitMeta as i32,
                value: ImplicitMetaPolicy {
                    sub_policy: "Endorsement".into(),
                    rule: implicit_meta_policy::Rule::Majority as i32,
                }
                .encode_to_vec(),
            }),
            mod_policy: String::new(),
        },
    );
    let mut ord = ConfigGroup::default();
    for (org, endpoints) in orderers {
        let mut g = ConfigGroup::default();
        g.values.insert("MSP".into(), msp_value(org, tls));
        g.values.insert(
            "Endpoints".into(),
            ConfigValue {
                version: 0,
                value: OrdererAddresses {
                    addresses: endpoints.iter().map(|s| (*s).into()).collect(),
                }
                .encode_to_vec(),
                mod_policy: String::new(),
            },
        );
        ord.groups.insert((*org).into(), g);
    }
    let mut root = ConfigGroup::default();
    root.groups.insert("Application".into(), app);
    root.groups.insert("Orderer".into(), ord);
    Config {
        sequence: 1,
        channel_group: Some(root),
    }
}

/// A channel whose policies accept any identity of the listed MSPs signing with
/// [`GOOD_SIGNATURE`], and whose principals are matched on MSP ID.
pub struct FakeChannel {
    pub config: Config,
    pub allowed_msps: Vec<String>,
}

impl ChannelConfigSource for FakeChannel {
    fn config(&self) -> &Config {
        &self.config
    }

    fn evaluate_policy(&self, path: &str, signed: &[SignedData]) -> Result<(), String> {
        let ok = signed.iter().any(|s| {
            let id = SerializedIdentity::decode(s.identity.as_slice()).unwrap_or_default();
            s.signature == GOOD_SIGNATURE && self.allowed_msps.contains(&id.mspid)
        });
        if ok {
            Ok(())
        } else {
            Err(format!("signature set did not satisfy policy {path}"))
        }
    }

    fn satisfies_principal(&self, identity: &[u8], principal: &MspPrincipal) -> Result<(), String> {
        let id = SerializedIdentity::decode(identity).map_err(|e| e.to_string())?;
        let role = MspRole::decode(principal.principal.as_slice()).map_err(|e| e.to_string())?;
        if role.msp_identifier == id.mspid {
            Ok(())
        } else {
            Err("principal mismatch".into())
        }
    }
}

/// A ledger of blocks appended by the test.
pub struct FakeLedger {
    blocks: Mutex<Vec<Block>>,
    statuses: Mutex<HashMap<String, TxStatus>>,
    commits: broadcast::Sender<u64>,
}

impl FakeLedger {
    pub fn new() -> Arc<Self> {
        Arc::new(FakeLedger {
            blocks: Mutex::new(Vec::new()),
            statuses: Mutex::new(HashMap::new()),
            commits: broadcast::channel(16).0,
        })
    }

    /// Appends a block of transactions `(tx_id, validation code, chaincode event name)`.
    pub fn commit(&self, txs: &[(&str, i32, Option<&str>)]) -> u64 {
        let mut blocks = self.blocks.lock().unwrap();
        let number = blocks.len() as u64;
        let data = txs.iter().map(|(id, _, ev)| tx_envelope(id, *ev)).collect();
        let filter = txs.iter().map(|(_, code, _)| *code as u8).collect();
        blocks.push(Block {
            header: Some(BlockHeader {
                number,
                previous_hash: vec![],
                data_hash: vec![],
            }),
            data: Some(BlockData { data }),
            metadata: Some(BlockMetadata {
                metadata: vec![vec![], vec![], filter, vec![], vec![]],
            }),
        });
        let mut statuses = self.statuses.lock().unwrap();
        for (id, code, _) in txs {
            statuses.entry((*id).into()).or_insert(TxStatus {
                code: *code,
                block_number: number,
            });
        }
        let _ = self.commits.send(number);
        number
    }
}

impl LedgerView for FakeLedger {
    fn height(&self) -> Result<u64, String> {
        Ok(self.blocks.lock().unwrap().len() as u64)
    }
    fn block(&self, number: u64) -> Result<Option<Block>, String> {
        Ok(self.blocks.lock().unwrap().get(number as usize).cloned())
    }
    fn tx_status(&self, tx_id: &str) -> Result<Option<TxStatus>, String> {
        Ok(self.statuses.lock().unwrap().get(tx_id).copied())
    }
    fn subscribe(&self) -> broadcast::Receiver<u64> {
        self.commits.subscribe()
    }
}

/// An endorser transaction whose chaincode action carries an event named `event`.
pub fn tx_envelope(tx_id: &str, event: Option<&str>) -> Vec<u8> {
    let events = event
        .map(|name| {
            ChaincodeEvent {
                chaincode_id: CC.into(),
                tx_id: tx_id.into(),
                event_name: name.into(),
                payload: name.as_bytes().to_vec(),
            }
            .encode_to_vec()
        })
        .unwrap_or_default();
    let prp = ProposalResponsePayload {
        proposal_hash: vec![],
        extension: ChaincodeAction {
            events,
            ..Default::default()
        }
        .encode_to_vec(),
    };
    let cap = ChaincodeActionPayload {
        chaincode_proposal_payload: vec![],
        action: Some(ChaincodeEndorsedAction {
            proposal_response_payload: prp.encode_to_vec(),
            endorsements: vec![],
        }),
    };
    let tx = Transaction {
        actions: vec![TransactionAction {
            header: vec![],
            payload: cap.encode_to_vec(),
        }],
    };
    let header = Header {
        channel_header: ChannelHeader {
            r#type: HeaderType::EndorserTransaction as i32,
            channel_id: CHANNEL.into(),
            tx_id: tx_id.into(),
            ..Default::default()
        }
        .encode_to_vec(),
        signature_header: vec![],
    };
    Envelope {
        payload: Payload {
            header: Some(header),
            data: tx.encode_to_vec(),
        }
        .encode_to_vec(),
        signature: b"sig".to_vec(),
    }
    .encode_to_vec()
}

/// What a fake endorser answers.
#[derive(Clone)]
pub enum Behaviour {
    /// Endorses with this result payload.
    Endorse(&'static str),
    /// The peer cannot be reached.
    Down,
    /// The chaincode answers with this status and message.
    ChaincodeStatus(i32, &'static str),
    /// Never answers.
    Hang,
    /// Endorses and reports what the transaction touched (the endorser's `interest`).
    EndorseWithInterest(&'static str, fabric_protos::protos::ChaincodeInterest),
}

pub struct FakeEndorser {
    pub name: String,
    pub behaviour: Mutex<Behaviour>,
    pub calls: AtomicUsize,
}

impl FakeEndorser {
    pub fn new(name: &str, behaviour: Behaviour) -> Arc<Self> {
        Arc::new(FakeEndorser {
            name: name.into(),
            behaviour: Mutex::new(behaviour),
            calls: AtomicUsize::new(0),
        })
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

pub fn proposal_response(result: &str, endorser: &str) -> ProposalResponse {
    let action = ChaincodeAction {
        response: Some(Response {
            status: 200,
            message: String::new(),
            payload: result.as_bytes().to_vec(),
        }),
        ..Default::default()
    };
    ProposalResponse {
        version: 1,
        timestamp: None,
        response: Some(Response {
            status: 200,
            message: String::new(),
            payload: result.as_bytes().to_vec(),
        }),
        payload: ProposalResponsePayload {
            proposal_hash: b"hash".to_vec(),
            extension: action.encode_to_vec(),
        }
        .encode_to_vec(),
        endorsement: Some(Endorsement {
            endorser: endorser.as_bytes().to_vec(),
            signature: b"endorsed".to_vec(),
        }),
        interest: None,
    }
}

impl Endorser for FakeEndorser {
    fn process_proposal(
        &self,
        _proposal: SignedProposal,
    ) -> BoxFuture<'static, Result<ProposalResponse, tonic::Status>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let behaviour = self.behaviour.lock().unwrap().clone();
        let name = self.name.clone();
        Box::pin(async move {
            match behaviour {
                Behaviour::Endorse(result) => Ok(proposal_response(result, &name)),
                Behaviour::Hang => std::future::pending().await,
                Behaviour::EndorseWithInterest(result, interest) => {
                    let mut response = proposal_response(result, &name);
                    response.interest = Some(interest);
                    Ok(response)
                }
                Behaviour::Down => Err(tonic::Status::unavailable(format!(
                    "rpc error: code = Unavailable desc = {name} is down"
                ))),
                Behaviour::ChaincodeStatus(status, message) => Ok(ProposalResponse {
                    response: Some(Response {
                        status,
                        message: message.into(),
                        payload: vec![],
                    }),
                    ..Default::default()
                }),
            }
        })
    }
}

pub struct FakeOrderer {
    pub result: Result<i32, &'static str>,
    pub calls: AtomicUsize,
}

impl Orderer for FakeOrderer {
    fn broadcast(
        &self,
        _envelope: Envelope,
    ) -> BoxFuture<'static, Result<BroadcastResponse, tonic::Status>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let result = self.result;
        Box::pin(async move {
            match result {
                Ok(status) => Ok(BroadcastResponse {
                    status,
                    info: "fake".into(),
                }),
                Err(message) => Err(tonic::Status::unavailable(message)),
            }
        })
    }
}

#[derive(Default)]
pub struct FakeConnector {
    pub endorsers: HashMap<String, Arc<FakeEndorser>>,
    pub orderers: HashMap<String, Arc<FakeOrderer>>,
    /// TLS roots each address was dialed with.
    pub dialed: Mutex<Vec<(String, Vec<Vec<u8>>)>>,
}

impl Connector for FakeConnector {
    fn endorser(
        &self,
        address: &str,
        roots: &[Vec<u8>],
    ) -> Result<Arc<dyn Endorser>, GatewayError> {
        self.dialed
            .lock()
            .unwrap()
            .push((address.into(), roots.to_vec()));
        self.endorsers
            .get(address)
            .map(|e| e.clone() as Arc<dyn Endorser>)
            .ok_or_else(|| GatewayError::Connect {
                address: address.into(),
                reason: "no route".into(),
            })
    }
    fn orderer(&self, address: &str, _roots: &[Vec<u8>]) -> Result<Arc<dyn Orderer>, GatewayError> {
        self.orderers
            .get(address)
            .map(|o| o.clone() as Arc<dyn Orderer>)
            .ok_or_else(|| GatewayError::Connect {
                address: address.into(),
                reason: "no route".into(),
            })
    }
}

/// The node: one channel, its peers, chaincode definitions and ledger.
pub struct FakeSupport {
    pub channel: Arc<FakeChannel>,
    pub peers: Vec<PeerInfo>,
    pub chaincodes: BTreeMap<String, ChaincodeDefinition>,
    pub ledger: Arc<FakeLedger>,
}

impl PeerSupport for FakeSupport {
    fn channel_config(&self, channel: &str) -> Option<Arc<dyn ChannelConfigSource>> {
        (channel == CHANNEL).then(|| self.channel.clone() as Arc<dyn ChannelConfigSource>)
    }
    fn chaincode(&self, channel: &str, name: &str) -> Option<ChaincodeDefinition> {
        (channel == CHANNEL)
            .then(|| self.chaincodes.get(name).cloned())
            .flatten()
    }
    fn channel_peers(&self, channel: &str) -> Vec<PeerInfo> {
        if channel == CHANNEL {
            self.peers.clone()
        } else {
            vec![]
        }
    }
    fn local_peers(&self) -> Vec<PeerInfo> {
        self.peers.clone()
    }
    fn ledger(&self, channel: &str) -> Option<Arc<dyn LedgerView>> {
        (channel == CHANNEL).then(|| self.ledger.clone() as Arc<dyn LedgerView>)
    }
    fn evaluate_local_policy(&self, _name: &str, signed: &[SignedData]) -> Result<(), String> {
        if signed.iter().all(|s| s.signature == GOOD_SIGNATURE) {
            Ok(())
        } else {
            Err("not an admin".into())
        }
    }
}

pub fn peer(msp: &str, endpoint: &str, height: u64) -> PeerInfo {
    PeerInfo {
        msp_id: msp.into(),
        endpoint: endpoint.into(),
        identity: identity(msp, endpoint),
        ledger_height: height,
        chaincodes: vec![InstalledChaincode {
            name: CC.into(),
            version: "1".into(),
        }],
    }
}

pub fn definition(policy: Vec<u8>) -> ChaincodeDefinition {
    ChaincodeDefinition {
        name: CC.into(),
        sequence: 1,
        endorsement_policy: policy,
        collections: None,
    }
}

/// A network under test: the support, the fake remote peers, and a gateway running in
/// the peer at [`LOCAL`].
pub struct Net {
    pub support: Arc<FakeSupport>,
    pub connector: Arc<FakeConnector>,
    pub local: Arc<FakeEndorser>,
    pub gateway: GatewayService,
}

pub struct NetBuilder {
    pub app_orgs: Vec<&'static str>,
    pub peers: Vec<(PeerInfo, Behaviour)>,
    pub policy: Vec<u8>,
    pub orderers: Vec<(&'static str, Result<i32, &'static str>)>,
    /// Whether the channel's MSPs have TLS CAs (remote nodes are then dialed with TLS).
    pub tls: bool,
    pub collections: Option<fabric_protos::protos::CollectionConfigPackage>,
}

impl NetBuilder {
    pub fn new(policy: Vec<u8>) -> Self {
        NetBuilder {
            app_orgs: vec!["Org1MSP", "Org2MSP", "Org3MSP"],
            peers: vec![(peer("Org1MSP", LOCAL, 5), Behaviour::Endorse("result"))],
            policy,
            orderers: vec![],
            tls: true,
            collections: None,
        }
    }

    pub fn peer(mut self, msp: &str, endpoint: &str, height: u64, behaviour: Behaviour) -> Self {
        self.peers.push((peer(msp, endpoint, height), behaviour));
        self
    }

    pub fn orderer(mut self, address: &'static str, result: Result<i32, &'static str>) -> Self {
        self.orderers.push((address, result));
        self
    }

    pub fn local(mut self, behaviour: Behaviour) -> Self {
        self.peers[0].1 = behaviour;
        self
    }

    pub fn build(self) -> Net {
        self.build_with(None)
    }

    /// Builds with `remote` dialing other peers and orderers instead of the fakes.
    pub fn build_with(self, remote: Option<Arc<dyn Connector>>) -> Net {
        let endpoints: Vec<&str> = self.orderers.iter().map(|(a, _)| *a).collect();
        let config = channel_config(&self.app_orgs, &[("OrdererMSP", &endpoints)], self.tls);
        let mut connector = FakeConnector::default();
        let mut local = None;
        for (p, b) in &self.peers {
            let e = FakeEndorser::new(&p.endpoint, b.clone());
            if p.endpoint == LOCAL {
                local = Some(e);
            } else {
                connector.endorsers.insert(p.endpoint.clone(), e);
            }
        }
        for (address, result) in &self.orderers {
            connector.orderers.insert(
                (*address).into(),
                Arc::new(FakeOrderer {
                    result: *result,
                    calls: AtomicUsize::new(0),
                }),
            );
        }
        let local = local.unwrap();
        let support = Arc::new(FakeSupport {
            channel: Arc::new(FakeChannel {
                config,
                allowed_msps: vec!["Org1MSP".into(), "Org2MSP".into()],
            }),
            peers: self.peers.iter().map(|(p, _)| p.clone()).collect(),
            chaincodes: BTreeMap::from([(
                CC.into(),
                ChaincodeDefinition {
                    collections: self.collections,
                    ..definition(self.policy)
                },
            )]),
            ledger: FakeLedger::new(),
        });
        let connector = Arc::new(connector);
        let dialer: Arc<dyn Connector> = remote.unwrap_or_else(|| connector.clone());
        let gateway = GatewayService::new(
            LocalPeer {
                msp_id: "Org1MSP".into(),
                endpoint: LOCAL.into(),
                identity: identity("Org1MSP", LOCAL),
                endorser: local.clone(),
            },
            support.clone(),
            dialer,
            GatewayOptions::default(),
        );
        Net {
            support,
            connector,
            local,
            gateway,
        }
    }
}

impl Net {
    pub fn endorser(&self, endpoint: &str) -> &FakeEndorser {
        &self.connector.endorsers[endpoint]
    }
}

/// A signed proposal invoking [`CC`] on [`CHANNEL`].
pub fn signed_proposal(tx_id: &str, transient: bool) -> SignedProposal {
    let header = Header {
        channel_header: ChannelHeader {
            r#type: HeaderType::EndorserTransaction as i32,
            channel_id: CHANNEL.into(),
            tx_id: tx_id.into(),
            ..Default::default()
        }
        .encode_to_vec(),
        signature_header: b"sighdr".to_vec(),
    };
    let spec = ChaincodeInvocationSpec {
        chaincode_spec: Some(ChaincodeSpec {
            r#type: 0,
            chaincode_id: Some(ChaincodeId {
                name: CC.into(),
                ..Default::default()
            }),
            input: Some(ChaincodeInput {
                args: vec![b"CreateAsset".to_vec()],
                ..Default::default()
            }),
            timeout: 0,
        }),
    };
    let mut payload = ChaincodeProposalPayload {
        input: spec.encode_to_vec(),
        transient_map: Default::default(),
    };
    if transient {
        payload
            .transient_map
            .insert("secret".into(), b"value".to_vec());
    }
    SignedProposal {
        proposal_bytes: Proposal {
            header: header.encode_to_vec(),
            payload: payload.encode_to_vec(),
            extension: vec![],
        }
        .encode_to_vec(),
        signature: b"sig".to_vec(),
    }
}
