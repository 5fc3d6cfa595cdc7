//! The node's side of the Gateway and Discovery services (`weft-gateway`): channels, committed
//! chaincode definitions, the channel's peers, ledgers with commit notifications, and the local
//! endorser.
//!
//! Weft speaks no gossip yet, so a channel's peers are this peer plus the anchor peers of the
//! other organizations in the channel config, whose identity and ledger height each anchor
//! tells when asked ([`MembershipProbe`]). Until an anchor peer has answered, its identity
//! carries only its MSP ID (so it satisfies no endorsement policy) and its height is taken to
//! be this peer's; anchor peers are taken to run every chaincode committed on the channel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fabric_protos::common::BlockchainInfo;
use fabric_protos::common::{Block, Config};
use fabric_protos::msp::SerializedIdentity;
use fabric_protos::protos::endorser_client::EndorserClient;
use fabric_protos::protos::{AnchorPeers, ProposalResponse, SignedProposal};
use prost::Message;
use tokio::sync::broadcast;
use weft_comm::ClientConfig;
use weft_gateway::{
    BoxFuture, ChaincodeDefinition, ChannelConfigSource, InstalledChaincode, LedgerView, PeerInfo,
    PeerSupport, TxStatus,
};
use weft_msp::{IdentityDeserializer, SigningIdentity};
use weft_policy::SignedData;

use crate::chaincodes::{ApplicationChaincodes, ChannelChaincodes, committed_definition};
use crate::channels::ChannelManager;

/// Block numbers a gateway subscriber may fall behind by; a lagging one re-reads the ledger.
pub const COMMIT_NOTIFICATIONS_MAX: usize = 256;

/// The channel config group of the application organizations.
const APPLICATION_GROUP: &str = "Application";
/// The channel config key of an organization's MSP.
const MSP_KEY: &str = "MSP";
/// The channel config key of an organization's anchor peers.
const ANCHOR_PEERS_KEY: &str = "AnchorPeers";

/// This peer as the gateway and discovery describe it.
#[derive(Clone)]
pub struct LocalPeerInfo {
    pub msp_id: String,
    /// `peer.gossip.externalEndpoint` (else `peer.address`).
    pub endpoint: String,
    /// The peer's marshalled `SerializedIdentity`.
    pub identity: Vec<u8>,
}

pub struct GatewaySupport {
    channels: Arc<ChannelManager>,
    chaincodes: Arc<ApplicationChaincodes>,
    local: LocalPeerInfo,
    local_msp: Arc<dyn IdentityDeserializer>,
    runtime: tokio::runtime::Handle,
    notifications: Mutex<HashMap<String, broadcast::Sender<u64>>>,
    /// Each channel's chaincode lists (one entry per joined channel).
    chaincode_lists: Mutex<HashMap<String, CachedLists>>,
    /// What anchor peers answered, by channel and anchor endpoint.
    learned: Mutex<HashMap<(String, String), PeerInfo>>,
    /// When the gateway last asked for each channel's peers: only channels in use are probed,
    /// so idle channels cost no CPU and no connections.
    in_use: Mutex<HashMap<String, Instant>>,
    /// Wakes the membership refresh when a channel without answers comes into use.
    wake_refresh: tokio::sync::Notify,
    /// Channels to probe once whether or not they are in use: those open at start and those
    /// joined since, so that a gateway's first request on them finds the other orgs' peers.
    probe_once: Mutex<Vec<String>>,
}

impl GatewaySupport {
    pub fn new(
        channels: Arc<ChannelManager>,
        chaincodes: Arc<ApplicationChaincodes>,
        local: LocalPeerInfo,
        local_msp: Arc<dyn IdentityDeserializer>,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self {
            channels,
            chaincodes,
            local,
            local_msp,
            runtime,
            notifications: Mutex::new(HashMap::new()),
            learned: Mutex::new(HashMap::new()),
            in_use: Mutex::new(HashMap::new()),
            wake_refresh: tokio::sync::Notify::new(),
            probe_once: Mutex::new(Vec::new()),
            chaincode_lists: Mutex::new(HashMap::new()),
        }
    }

    /// The block numbers committed on `channel`, from one task per channel forwarding the
    /// committer's notifications.
    fn notifications(&self, channel: &str) -> broadcast::Sender<u64> {
        let mut senders = self.notifications.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = senders.get(channel) {
            return sender.clone();
        }
        let (sender, _) = broadcast::channel(COMMIT_NOTIFICATIONS_MAX);
        if let Some(view) = self.channels.committer().channel(channel) {
            let mut committed = view.events.subscribe();
            let forward = sender.clone();
            self.runtime.spawn(async move {
                loop {
                    match committed.recv().await {
                        Ok(block) => {
                            // No receiver is fine: nobody waits right now.
                            let _ = forward.send(block.number);
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                }
            });
        }
        senders.insert(channel.to_owned(), sender.clone());
        sender
    }

    fn anchor_peers(&self, channel: &str) -> Vec<PeerInfo> {
        let Ok(Some(peer_channel)) = self.channels.get(channel) else {
            return Vec::new();
        };
        let height = peer_channel.height().unwrap_or_default();
        let committed = advertised(&self.chaincode_lists(channel, height).committed);
        let bundle = peer_channel.bundle();
        other_anchor_peers(
            ChannelConfigSource::config(bundle.as_ref()),
            &self.local.msp_id,
        )
        .into_iter()
        .map(|(msp_id, endpoint)| PeerInfo {
            identity: SerializedIdentity {
                mspid: msp_id.clone(),
                id_bytes: Vec::new(),
            }
            .encode_to_vec(),
            msp_id,
            endpoint,
            ledger_height: height,
            chaincodes: committed.clone(),
        })
        .collect()
    }

    /// The channel's chaincodes, read again only after a commit or an install.
    fn chaincode_lists(&self, channel: &str, height: u64) -> ChannelChaincodes {
        let installed = self.chaincodes.installed_ids().unwrap_or_default();
        let mut cache = self
            .chaincode_lists
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(cached) = cache.get(channel)
            && cached.height == height
            && cached.installed == installed
        {
            return cached.lists.clone();
        }
        let lists = self
            .chaincodes
            .channel_chaincodes(self.channels.committer(), channel)
            .unwrap_or_else(|e| {
                tracing::warn!(%channel, error = %e, "cannot list the channel's chaincodes");
                ChannelChaincodes::default()
            });
        cache.insert(
            channel.to_owned(),
            CachedLists {
                height,
                installed,
                lists: lists.clone(),
            },
        );
        lists
    }

    fn local_peer(&self, channel: Option<&str>) -> PeerInfo {
        let (height, chaincodes) = match channel {
            Some(channel) => {
                let height = self
                    .channels
                    .get(channel)
                    .ok()
                    .flatten()
                    .and_then(|c| c.height().ok())
                    .unwrap_or_default();
                let chaincodes = advertised(&self.chaincode_lists(channel, height).runnable);
                (height, chaincodes)
            }
            None => (0, Vec::new()),
        };
        PeerInfo {
            msp_id: self.local.msp_id.clone(),
            endpoint: self.local.endpoint.clone(),
            identity: self.local.identity.clone(),
            ledger_height: height,
            chaincodes,
        }
    }
}

/// Chaincodes as gossip advertises them: the definition's sequence as the version.
fn advertised(chaincodes: &[(String, i64)]) -> Vec<InstalledChaincode> {
    chaincodes
        .iter()
        .map(|(name, sequence)| InstalledChaincode {
            name: name.clone(),
            version: sequence.to_string(),
        })
        .collect()
}

/// A channel's chaincode lists as of a height and a set of installed packages.
struct CachedLists {
    height: u64,
    installed: Vec<String>,
    lists: ChannelChaincodes,
}

/// The anchor peers (MSP ID, `host:port`) of the application organizations other than
/// `local_msp_id` in a channel config.
fn other_anchor_peers(config: &Config, local_msp_id: &str) -> Vec<(String, String)> {
    let Some(application) = config
        .channel_group
        .as_ref()
        .and_then(|g| g.groups.get(APPLICATION_GROUP))
    else {
        return Vec::new();
    };
    let mut peers = Vec::new();
    for org in application.groups.values() {
        let Some(msp_id) = org_msp_id(org) else {
            continue;
        };
        if msp_id == local_msp_id {
            continue;
        }
        let Some(anchors) = org
            .values
            .get(ANCHOR_PEERS_KEY)
            .and_then(|v| AnchorPeers::decode(v.value.as_slice()).ok())
        else {
            continue;
        };
        for anchor in anchors.anchor_peers {
            peers.push((msp_id.clone(), format!("{}:{}", anchor.host, anchor.port)));
        }
    }
    peers
}

/// The MSP ID in an organization group's `MSP` value.
fn org_msp_id(org: &fabric_protos::common::ConfigGroup) -> Option<String> {
    let value = org.values.get(MSP_KEY)?;
    let config = fabric_protos::msp::MspConfig::decode(value.value.as_slice()).ok()?;
    let fabric = fabric_protos::msp::FabricMspConfig::decode(config.config.as_slice()).ok()?;
    Some(fabric.name)
}

impl PeerSupport for GatewaySupport {
    fn channel_config(&self, channel: &str) -> Option<Arc<dyn ChannelConfigSource>> {
        let channel = self.channels.get(channel).ok()??;
        let bundle: Arc<dyn ChannelConfigSource> = channel.bundle();
        Some(bundle)
    }

    fn chaincode(&self, channel: &str, name: &str) -> Option<ChaincodeDefinition> {
        self.channels.get(channel).ok()??;
        let definition = committed_definition(self.channels.committer(), channel, name)
            .map_err(|e| tracing::warn!(%channel, chaincode = %name, error = %e, "cannot read the chaincode definition"))
            .ok()??;
        Some(ChaincodeDefinition {
            name: name.to_owned(),
            sequence: definition.sequence(),
            endorsement_policy: definition.validation_parameter().to_vec(),
            collections: Some(definition.collections().clone()).filter(|c| !c.config.is_empty()),
        })
    }

    fn channel_peers(&self, channel: &str) -> Vec<PeerInfo> {
        if !matches!(self.channels.get(channel), Ok(Some(_))) {
            return Vec::new();
        }
        let mut peers = vec![self.local_peer(Some(channel))];
        let anchors = self.anchor_peers(channel);
        let first_use = self
            .in_use
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(channel.to_owned(), Instant::now())
            .is_none();
        if first_use && !anchors.is_empty() {
            self.wake_refresh.notify_one();
        }
        let learned = self.learned.lock().unwrap_or_else(|p| p.into_inner());
        for anchor in anchors {
            match learned.get(&(channel.to_owned(), anchor.endpoint.clone())) {
                Some(answered) => peers.push(PeerInfo {
                    chaincodes: anchor.chaincodes,
                    ..answered.clone()
                }),
                None => peers.push(anchor),
            }
        }
        peers
    }

    fn local_peers(&self) -> Vec<PeerInfo> {
        vec![self.local_peer(None)]
    }

    fn ledger(&self, channel: &str) -> Option<Arc<dyn LedgerView>> {
        let channel = self.channels.get(channel).ok()??;
        Some(Arc::new(ChannelLedgerView {
            notifications: self.notifications(channel.id()),
            channel,
        }))
    }

    fn evaluate_local_policy(&self, name: &str, signed: &[SignedData]) -> Result<(), String> {
        let role = match name {
            "Admins" => fabric_protos::common::msp_role::MspRoleType::Admin,
            "Members" => fabric_protos::common::msp_role::MspRoleType::Member,
            other => return Err(format!("local policy {other} not found")),
        };
        let principal = fabric_protos::common::MspPrincipal {
            principal_classification: fabric_protos::common::msp_principal::Classification::Role
                as i32,
            principal: fabric_protos::common::MspRole {
                msp_identifier: self.local.msp_id.clone(),
                role: role as i32,
            }
            .encode_to_vec(),
        };
        let mut last = format!("no signature satisfies the local {name} policy");
        for data in signed {
            let checked = self
                .local_msp
                .deserialize_identity(&data.identity)
                .map_err(|e| e.to_string())
                .and_then(|identity| {
                    identity.validate().map_err(|e| e.to_string())?;
                    identity
                        .verify(&data.data, &data.signature)
                        .map_err(|e| e.to_string())?;
                    identity
                        .satisfies_principal(&principal)
                        .map_err(|e| e.to_string())
                });
            match checked {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(format!("the local {name} policy is not satisfied: {last}"))
    }
}

/// One channel's ledger as the gateway reads it.
struct ChannelLedgerView {
    channel: Arc<crate::channels::PeerChannel>,
    notifications: broadcast::Sender<u64>,
}

impl LedgerView for ChannelLedgerView {
    fn height(&self) -> Result<u64, String> {
        self.channel.ledger().height().map_err(|e| e.to_string())
    }

    fn block(&self, number: u64) -> Result<Option<Block>, String> {
        self.channel
            .ledger()
            .block_by_number(number)
            .map_err(|e| e.to_string())
    }

    fn tx_status(&self, tx_id: &str) -> Result<Option<TxStatus>, String> {
        let Some(tx) = self
            .channel
            .ledger()
            .tx_by_id(tx_id)
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        Ok(Some(TxStatus {
            code: i32::from(tx.validation_code.unwrap_or_default()),
            block_number: tx.location.block_number,
        }))
    }

    fn subscribe(&self) -> broadcast::Receiver<u64> {
        self.notifications.subscribe()
    }
}

/// The local endorser as the gateway's [`weft_gateway::Endorser`]. A proposal refused before
/// simulation (malformed, bad signature, access denied) is `FAILED_PRECONDITION` with the
/// endorser's message: Fabric's gateway calls its local endorser in process and gets both a
/// response and an error then, which it reports as FAILED_PRECONDITION without trying other
/// peers (remote peers answer such proposals with a gRPC error, status UNKNOWN).
pub struct LocalEndorser(pub Arc<weft_endorser::Endorser>);

impl weft_gateway::Endorser for LocalEndorser {
    fn process_proposal(
        &self,
        proposal: SignedProposal,
    ) -> BoxFuture<'static, Result<ProposalResponse, tonic::Status>> {
        let endorser = self.0.clone();
        Box::pin(async move {
            endorser
                .process(proposal)
                .await
                .map_err(|rejected| tonic::Status::failed_precondition(rejected.message))
        })
    }
}

/// How often each channel's anchor peers are asked who is in their organization.
pub const MEMBERSHIP_REFRESH_INTERVAL: Duration = Duration::from_secs(3);
/// A channel's anchor peers are probed while the gateway used the channel this recently.
pub const MEMBERSHIP_IN_USE_WINDOW: Duration = Duration::from_secs(300);
/// Deadline of one membership query to one anchor peer.
pub const MEMBERSHIP_QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Most anchor-peer connections the probe keeps; beyond it they are all dropped and redialled.
pub const PROBE_CONNECTIONS_MAX: usize = 256;
/// Random bytes in the nonce of a membership proposal (Fabric's nonce size).
const NONCE_BYTES: usize = 24;

/// Learns who the anchor peers of other organizations are by asking each for its chain info
/// (`qscc GetChainInfo`, signed by this peer, which the channel's Readers allow): the signed
/// answer carries the anchor's real identity (the endorser) and its ledger height. Weft's
/// stand-in for gossip membership; Go peers answer the same proposal. The installed chaincodes
/// stay an estimate (every committed chaincode).
pub struct MembershipProbe {
    signer: Arc<dyn SigningIdentity>,
    client: ClientConfig,
    /// Connections to anchor peers, by endpoint and the TLS roots trusted for it.
    connections: HashMap<(String, Vec<Vec<u8>>), tonic::transport::Channel>,
}

impl MembershipProbe {
    /// `client`: the settings (with this peer's client TLS certificate) to dial anchor peers.
    pub fn new(signer: Arc<dyn SigningIdentity>, client: ClientConfig) -> Self {
        Self {
            signer,
            client,
            connections: HashMap::new(),
        }
    }

    /// A connection to `endpoint`, reused across rounds (it reconnects by itself).
    fn connection(
        &mut self,
        endpoint: &str,
        tls_roots: &[Vec<u8>],
    ) -> Result<tonic::transport::Channel, String> {
        let key = (endpoint.to_owned(), tls_roots.to_vec());
        if let Some(connection) = self.connections.get(&key) {
            return Ok(connection.clone());
        }
        let mut config = self.client.clone();
        if tls_roots.is_empty() {
            config.tls = None;
        } else if let Some(tls) = &mut config.tls {
            tls.server_root_cas_pem = tls_roots.to_vec();
        }
        let connection = weft_comm::connect_lazy(endpoint, &config).map_err(|e| e.to_string())?;
        if self.connections.len() >= PROBE_CONNECTIONS_MAX {
            self.connections.clear();
        }
        self.connections.insert(key, connection.clone());
        Ok(connection)
    }

    fn proposal(&self, channel: &str) -> Result<SignedProposal, String> {
        let mut nonce = [0u8; NONCE_BYTES];
        openssl::rand::rand_bytes(&mut nonce).map_err(|e| e.to_string())?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let invocation = weft_protoutil::proposal::Invocation {
            channel_id: channel.to_owned(),
            chaincode: crate::scc::qscc::NAME.to_owned(),
            args: vec![b"GetChainInfo".to_vec(), channel.as_bytes().to_vec()],
            transient: Default::default(),
        };
        let unsigned = weft_protoutil::proposal::chaincode_proposal(
            &invocation,
            &self.signer.serialize(),
            &nonce,
            (
                i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
                i32::try_from(now.subsec_nanos()).unwrap_or_default(),
            ),
        );
        weft_protoutil::proposal::sign_proposal(&unsigned.proposal, |bytes| self.signer.sign(bytes))
            .map_err(|e| e.to_string())
    }

    /// The anchor peer as it describes itself, or why it could not be asked.
    async fn query(
        &mut self,
        channel: &str,
        anchor: &PeerInfo,
        tls_roots: &[Vec<u8>],
    ) -> Result<PeerInfo, String> {
        let mut client = EndorserClient::new(self.connection(&anchor.endpoint, tls_roots)?);
        let proposal = self.proposal(channel)?;
        let response =
            tokio::time::timeout(MEMBERSHIP_QUERY_TIMEOUT, client.process_proposal(proposal))
                .await
                .map_err(|_| format!("no answer within {MEMBERSHIP_QUERY_TIMEOUT:?}"))?
                .map_err(|s| s.message().to_owned())?
                .into_inner();
        let answer = response.response.unwrap_or_default();
        if answer.status != 200 {
            return Err(format!("status {}: {}", answer.status, answer.message));
        }
        let identity = response
            .endorsement
            .map(|e| e.endorser)
            .ok_or("the answer is not endorsed")?;
        let mspid = SerializedIdentity::decode(identity.as_slice())
            .map_err(|e| format!("endorser identity: {e}"))?
            .mspid;
        if mspid != anchor.msp_id {
            return Err(format!(
                "the anchor peer of {} answers as a member of {mspid}",
                anchor.msp_id
            ));
        }
        let info = BlockchainInfo::decode(answer.payload.as_slice())
            .map_err(|e| format!("chain info: {e}"))?;
        Ok(PeerInfo {
            identity,
            ledger_height: info.height,
            ..anchor.clone()
        })
    }
}

impl GatewaySupport {
    /// Asks the anchor peers of the other organizations, on every channel the gateway used in
    /// the last [`MEMBERSHIP_IN_USE_WINDOW`], for their identity and height, every
    /// [`MEMBERSHIP_REFRESH_INTERVAL`] (or at once when a channel comes into use), until the node
    /// stops. Idle channels are not probed.
    pub fn spawn_membership_refresh(self: &Arc<Self>, mut probe: MembershipProbe) {
        let support = Arc::downgrade(self);
        self.runtime.spawn(async move {
            loop {
                let Some(this) = support.upgrade() else { break };
                this.refresh_membership(&mut probe).await;
                let woken =
                    tokio::time::timeout(MEMBERSHIP_REFRESH_INTERVAL, this.wake_refresh.notified());
                let _ = woken.await;
            }
        });
    }

    /// Has `channel` probed once soon (a channel just joined or opened at start).
    pub fn probe_soon(&self, channel: &str) {
        self.probe_once
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(channel.to_owned());
        self.wake_refresh.notify_one();
    }

    /// The channels used within [`MEMBERSHIP_IN_USE_WINDOW`] (older entries are forgotten) and
    /// those waiting for their one probe.
    fn channels_to_probe(&self) -> Vec<String> {
        let mut channels: Vec<String> =
            std::mem::take(&mut *self.probe_once.lock().unwrap_or_else(|p| p.into_inner()));
        let mut in_use = self.in_use.lock().unwrap_or_else(|p| p.into_inner());
        in_use.retain(|_, used| used.elapsed() < MEMBERSHIP_IN_USE_WINDOW);
        channels.extend(in_use.keys().cloned());
        channels.sort();
        channels.dedup();
        channels
    }

    async fn refresh_membership(&self, probe: &mut MembershipProbe) {
        for channel in self.channels_to_probe() {
            let Some(config) = self.channel_config(&channel) else {
                continue;
            };
            let roots = weft_gateway::channel::config_result(config.config()).ok();
            for anchor in self.anchor_peers(&channel) {
                let tls_roots = roots
                    .as_ref()
                    .map(|r| weft_gateway::channel::tls_root_certs(r, &anchor.msp_id))
                    .unwrap_or_default();
                match probe.query(&channel, &anchor, &tls_roots).await {
                    Ok(peer) => {
                        self.learned
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert((channel.clone(), anchor.endpoint.clone()), peer);
                    }
                    Err(e) => {
                        tracing::debug!(%channel, anchor = %anchor.endpoint, error = %e, "membership query to an anchor peer failed");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use fabric_protos::common::{ConfigGroup, ConfigValue};
    use fabric_protos::msp::{FabricMspConfig, MspConfig};
    use fabric_protos::protos::AnchorPeer;

    use super::*;

    fn org(msp_id: &str, anchors: &[(&str, i32)]) -> ConfigGroup {
        let msp = MspConfig {
            r#type: 0,
            config: FabricMspConfig {
                name: msp_id.to_owned(),
                ..Default::default()
            }
            .encode_to_vec(),
        };
        let mut group = ConfigGroup::default();
        group.values.insert(
            MSP_KEY.to_owned(),
            ConfigValue {
                value: msp.encode_to_vec(),
                ..Default::default()
            },
        );
        if !anchors.is_empty() {
            let anchors = AnchorPeers {
                anchor_peers: anchors
                    .iter()
                    .map(|(host, port)| AnchorPeer {
                        host: (*host).to_owned(),
                        port: *port,
                    })
                    .collect(),
            };
            group.values.insert(
                ANCHOR_PEERS_KEY.to_owned(),
                ConfigValue {
                    value: anchors.encode_to_vec(),
                    ..Default::default()
                },
            );
        }
        group
    }

    fn config(orgs: Vec<(&str, ConfigGroup)>) -> Config {
        let mut application = ConfigGroup::default();
        for (name, group) in orgs {
            application.groups.insert(name.to_owned(), group);
        }
        let mut channel = ConfigGroup::default();
        channel
            .groups
            .insert(APPLICATION_GROUP.to_owned(), application);
        Config {
            channel_group: Some(channel),
            ..Default::default()
        }
    }

    // Fabric's gossip learns other organizations' peers from their anchor peers in the channel
    // config (its own org's anchors are not needed); orgs without anchors stay unknown.
    #[test]
    fn anchor_peers_of_the_other_organizations() {
        let config = config(vec![
            ("Org1", org("Org1MSP", &[("peer0.org1", 7051)])),
            (
                "Org2",
                org("Org2MSP", &[("peer0.org2", 9051), ("peer1.org2", 9061)]),
            ),
            ("Org3", org("Org3MSP", &[])),
        ]);
        assert_eq!(
            other_anchor_peers(&config, "Org1MSP"),
            vec![
                ("Org2MSP".to_owned(), "peer0.org2:9051".to_owned()),
                ("Org2MSP".to_owned(), "peer1.org2:9061".to_owned()),
            ]
        );
        assert_eq!(
            other_anchor_peers(&config, "Org2MSP"),
            vec![("Org1MSP".to_owned(), "peer0.org1:7051".to_owned())]
        );
        assert!(other_anchor_peers(&Config::default(), "Org1MSP").is_empty());
    }

    #[derive(Debug)]
    struct NoIdentity(weft_msp::IdentityIdentifier);

    impl weft_msp::Identity for NoIdentity {
        fn identifier(&self) -> &weft_msp::IdentityIdentifier {
            &self.0
        }
        fn validate(&self) -> Result<(), weft_msp::MspError> {
            Ok(())
        }
        fn verify(&self, _: &[u8], _: &[u8]) -> Result<(), weft_msp::MspError> {
            Err(weft_msp::MspError::BadSignature("test identity".into()))
        }
        fn satisfies_principal(
            &self,
            _: &fabric_protos::common::MspPrincipal,
        ) -> Result<(), weft_msp::MspError> {
            Err(weft_msp::MspError::PrincipalMismatch(
                "test identity".into(),
            ))
        }
        fn serialize(&self) -> Vec<u8> {
            Vec::new()
        }
        fn expires_at(&self) -> Option<std::time::SystemTime> {
            None
        }
    }

    impl SigningIdentity for NoIdentity {
        fn sign(&self, _: &[u8]) -> Result<Vec<u8>, weft_msp::MspError> {
            Ok(Vec::new())
        }
    }

    impl IdentityDeserializer for NoIdentity {
        fn deserialize_identity(
            &self,
            _: &[u8],
        ) -> Result<Arc<dyn weft_msp::Identity>, weft_msp::MspError> {
            Err(weft_msp::MspError::Malformed("test deserializer".into()))
        }
    }

    struct NoChannels;

    impl weft_endorser::ChannelSource for NoChannels {
        fn channel(&self, _: &str) -> Option<Arc<dyn weft_endorser::ChannelSupport>> {
            None
        }
    }

    // Fabric's gateway gets a response and an error from its in-process endorser for a proposal
    // refused before simulation, and reports FAILED_PRECONDITION without trying other peers
    // (internal/pkg/gateway/apiutils.go responseStatus).
    #[tokio::test]
    async fn local_endorser_refusals_are_failed_preconditions() {
        let identity = Arc::new(NoIdentity(weft_msp::IdentityIdentifier {
            msp_id: "Org1MSP".into(),
            id: "peer".into(),
        }));
        let endorser = weft_endorser::Endorser::new(
            Arc::new(NoChannels),
            Arc::new(crate::support::Chaincodes::default()),
            identity.clone(),
            identity,
            weft_endorser::EndorserConfig::default(),
        );
        let local = LocalEndorser(Arc::new(endorser));
        let malformed = SignedProposal {
            proposal_bytes: vec![0xff; 7],
            signature: Vec::new(),
        };
        let status = weft_gateway::Endorser::process_proposal(&local, malformed)
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert!(!status.message().is_empty());
    }
}
