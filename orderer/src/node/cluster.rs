//! The cluster between consenters (Fabric's `orderer.Cluster` service, v2.5 behaviour).
//!
//! - Incoming: [`ClusterService`] serves `Step` streams. A caller is a consenter of a channel
//!   when the DER of its TLS client certificate equals that consenter's `ClientTlsCert`; each
//!   request is authenticated on its own channel. `ConsensusRequest.payload` carries a raft
//!   message for the Raft driver; a `SubmitRequest` carries an envelope a follower forwarded
//!   to this node, the leader. Anything else ends the stream with an error status.
//! - Outgoing: [`Cluster`] keeps one link per remote consenter endpoint: a bounded queue
//!   drained by a task that holds a mutual-TLS `Step` stream and reconnects with backoff.
//!   Messages that find the queue full are dropped (raft retransmits), and so is everything
//!   queued for a consenter that cannot be reached: delivered once it is back, those messages
//!   would be stale (raft appends from before its restart), where Fabric drops a send to an
//!   unreachable consenter and raft resends from its current state.
//!
//! Consenter ids are etcdraft's: the genesis numbering (1..=n in config order), then the ids
//! recorded in each block's metadata as config updates add and remove consenters; the
//! sequencer republishes the set after every config block.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use fabric_protos::common::Envelope;
use fabric_protos::etcdraft::Consenter;
use fabric_protos::orderer::cluster_client::ClusterClient;
use fabric_protos::orderer::cluster_server::Cluster as ClusterRpc;
use fabric_protos::orderer::step_request::Payload;
use fabric_protos::orderer::{ConsensusRequest, StepRequest, StepResponse, SubmitRequest};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Streaming};
use weft_channelconfig::{ChannelBundle, Consensus};
use weft_comm::{ClientConfig, ClientTlsConfig, PeerInfo};
use weft_orderer_raft::{Message, decode_message, encode_message};

use super::chain::Order;
use super::raft::RaftDriver;
use super::registrar::Registrar;
use crate::is_config_envelope;

/// Step requests queued for one remote consenter before new ones are dropped.
pub const SEND_QUEUE_CAPACITY: usize = 1024;
/// First wait before reconnecting to a consenter that could not be reached.
pub const RECONNECT_BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest wait between two connection attempts.
pub const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Responses buffered per incoming Step stream.
pub const STEP_RESPONSE_BUFFER: usize = 16;

/// One consenter of a channel, as this node addresses and recognises it.
#[derive(Debug, Clone)]
pub struct Member {
    /// `host:port` of its cluster endpoint.
    pub endpoint: String,
    pub server_tls_cert_pem: Vec<u8>,
    pub client_tls_cert_der: Vec<u8>,
}

/// The consenters of one channel by raft id, and this node's id among them.
#[derive(Debug, Clone)]
pub struct ChannelMembers {
    pub self_id: u64,
    pub members: BTreeMap<u64, Member>,
    /// Raft index of the block whose config named these members (0: genesis or unknown).
    pub config_raft_index: u64,
}

impl ChannelMembers {
    /// Reads the etcdraft consenters of `bundle` and finds this node (by its TLS certificate
    /// DER) among them; `None` when the channel is not etcdraft or this node is not a consenter.
    pub fn from_bundle(bundle: &ChannelBundle, own_tls_cert_der: &[u8]) -> Option<Self> {
        let Some(Consensus::EtcdRaft(metadata)) = bundle.orderer().map(|o| &o.consensus) else {
            return None;
        };
        Self::from_consenters(&metadata.consenters, own_tls_cert_der)
    }

    pub fn from_consenters(consenters: &[Consenter], own_tls_cert_der: &[u8]) -> Option<Self> {
        let genesis_ids: Vec<u64> = (1..=consenters.len() as u64).collect();
        Self::with_ids(consenters, &genesis_ids, own_tls_cert_der)
    }

    /// The consenters of `bundle` numbered by the etcdraft `metadata` of the last block
    /// (`consenter_ids` parallel to the config's consenters, as Fabric records them); `None`
    /// when the lists differ, the channel is not etcdraft or this node is not a consenter.
    pub fn from_metadata(
        bundle: &ChannelBundle,
        metadata: &fabric_protos::etcdraft::BlockMetadata,
        own_tls_cert_der: &[u8],
    ) -> Option<Self> {
        let Some(Consensus::EtcdRaft(config)) = bundle.orderer().map(|o| &o.consensus) else {
            return None;
        };
        let mut members = Self::with_ids(
            &config.consenters,
            &metadata.consenter_ids,
            own_tls_cert_der,
        )?;
        members.config_raft_index = metadata.raft_index;
        Some(members)
    }

    fn with_ids(consenters: &[Consenter], ids: &[u64], own_tls_cert_der: &[u8]) -> Option<Self> {
        if ids.len() != consenters.len() {
            return None;
        }
        let mut members = BTreeMap::new();
        let mut self_id = None;
        for (c, id) in consenters.iter().zip(ids) {
            let id = *id;
            let client_der = pem_to_der(&c.client_tls_cert)?;
            let server_der = pem_to_der(&c.server_tls_cert);
            if client_der == own_tls_cert_der || server_der.as_deref() == Some(own_tls_cert_der) {
                self_id = Some(id);
            }
            members.insert(
                id,
                Member {
                    endpoint: format!("{}:{}", c.host, c.port),
                    server_tls_cert_pem: c.server_tls_cert.clone(),
                    client_tls_cert_der: client_der,
                },
            );
        }
        Some(Self {
            self_id: self_id?,
            members,
            config_raft_index: 0,
        })
    }

    /// The raft id of the consenter whose client certificate is `cert_der`.
    pub fn id_of(&self, cert_der: &[u8]) -> Option<u64> {
        self.members
            .iter()
            .find(|(_, m)| m.client_tls_cert_der == cert_der)
            .map(|(id, _)| *id)
    }
}

/// Why a request could not be sent to another consenter.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("channel {0} has no known consenter set on this node")]
    UnknownChannel(String),
    #[error("consenter {id} of channel {channel} is unknown")]
    UnknownMember { channel: String, id: u64 },
    #[error("the send queue to {0} is full; retry later")]
    QueueFull(String),
    #[error("consenter {0} is unreachable; retry later")]
    Unreachable(String),
    #[error("cannot encode the raft message: {0}")]
    Encode(String),
}

/// Membership, leaders and outgoing links of this node; shared by the Raft driver (sending
/// raft messages), Broadcast (forwarding to the leader) and the Step service.
pub struct Cluster {
    client: ClientConfig,
    runtime: tokio::runtime::Handle,
    channels: RwLock<BTreeMap<String, Arc<ChannelMembers>>>,
    leaders: RwLock<BTreeMap<String, u64>>,
    links: Mutex<BTreeMap<String, Link>>,
}

/// The outgoing queue to one consenter endpoint and whether its Step stream is up.
struct Link {
    queue: mpsc::Sender<StepRequest>,
    /// False from a failed connection or a broken stream until a stream is open again.
    up: Arc<AtomicBool>,
}

impl Cluster {
    /// `client` is the TLS client setup (certificate, key, roots) used to dial consenters;
    /// each link also trusts the consenter's own server certificate. Call inside a runtime.
    pub fn new(client: ClientConfig) -> Result<Arc<Self>, String> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| format!("the cluster needs a tokio runtime: {e}"))?;
        Ok(Arc::new(Self {
            client,
            runtime,
            channels: RwLock::new(BTreeMap::new()),
            leaders: RwLock::new(BTreeMap::new()),
            links: Mutex::new(BTreeMap::new()),
        }))
    }

    pub fn set_channel(&self, channel: &str, members: ChannelMembers) {
        self.channels
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(channel.to_string(), Arc::new(members));
    }

    pub fn remove_channel(&self, channel: &str) {
        self.channels
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(channel);
        self.leaders
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(channel);
    }

    pub fn channel(&self, channel: &str) -> Option<Arc<ChannelMembers>> {
        self.channels
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(channel)
            .cloned()
    }

    /// Records the leader the Raft driver sees (0 or `None`: no leader).
    pub fn set_leader(&self, channel: &str, leader: Option<u64>) {
        let mut leaders = self.leaders.write().unwrap_or_else(|p| p.into_inner());
        match leader {
            Some(id) if id != 0 => {
                leaders.insert(channel.to_string(), id);
            }
            _ => {
                leaders.remove(channel);
            }
        }
    }

    pub fn leader(&self, channel: &str) -> Option<u64> {
        self.leaders
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(channel)
            .copied()
    }

    /// Sends a raft message of `channel` to consenter `message.to`.
    pub fn send_consensus(&self, channel: &str, message: &Message) -> Result<(), ClusterError> {
        let payload = encode_message(message).map_err(|e| ClusterError::Encode(e.to_string()))?;
        let request = StepRequest {
            payload: Some(Payload::ConsensusRequest(ConsensusRequest {
                channel: channel.to_string(),
                payload,
                metadata: Vec::new(),
            })),
        };
        self.send(channel, message.to, request, false)
    }

    /// Forwards an envelope Broadcast accepted to the leader `to` (Fabric: `SubmitRequest`).
    pub fn forward(
        &self,
        channel: &str,
        to: u64,
        last_validation_seq: u64,
        envelope: Envelope,
    ) -> Result<(), ClusterError> {
        let request = StepRequest {
            payload: Some(Payload::SubmitRequest(SubmitRequest {
                channel: channel.to_string(),
                last_validation_seq,
                payload: Some(envelope),
            })),
        };
        // As Fabric's follower, whose submit fails when its stream to the leader is broken:
        // the client hears SERVICE_UNAVAILABLE instead of an acknowledgement for nothing.
        self.send(channel, to, request, true)
    }

    /// Queues `request` for consenter `to`; with `require_up`, refuses while the last attempt
    /// to reach it failed.
    fn send(
        &self,
        channel: &str,
        to: u64,
        request: StepRequest,
        require_up: bool,
    ) -> Result<(), ClusterError> {
        let members = self
            .channel(channel)
            .ok_or_else(|| ClusterError::UnknownChannel(channel.to_string()))?;
        let member = members
            .members
            .get(&to)
            .ok_or_else(|| ClusterError::UnknownMember {
                channel: channel.to_string(),
                id: to,
            })?;
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        let link = links
            .entry(member.endpoint.clone())
            .or_insert_with(|| self.open_link(member));
        if require_up && !link.up.load(Ordering::Relaxed) {
            return Err(ClusterError::Unreachable(member.endpoint.clone()));
        }
        match link.queue.try_send(request) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                Err(ClusterError::QueueFull(member.endpoint.clone()))
            }
            Err(mpsc::error::TrySendError::Closed(request)) => {
                // The link task ended; start a new one.
                let fresh = self.open_link(member);
                let sent = fresh.queue.try_send(request).is_ok();
                links.insert(member.endpoint.clone(), fresh);
                if sent {
                    Ok(())
                } else {
                    Err(ClusterError::QueueFull(member.endpoint.clone()))
                }
            }
        }
    }

    fn open_link(&self, member: &Member) -> Link {
        let (sender, receiver) = mpsc::channel(SEND_QUEUE_CAPACITY);
        let up = Arc::new(AtomicBool::new(true));
        let mut config = self.client.clone();
        if let Some(tls) = config.tls.as_mut() {
            tls.server_root_cas_pem
                .push(member.server_tls_cert_pem.clone());
        } else {
            config.tls = Some(ClientTlsConfig {
                server_root_cas_pem: vec![member.server_tls_cert_pem.clone()],
                ..ClientTlsConfig::default()
            });
        }
        self.runtime.spawn(run_link(
            member.endpoint.clone(),
            config,
            receiver,
            up.clone(),
        ));
        Link { queue: sender, up }
    }
}

/// Holds a Step stream to `endpoint` and feeds it from `queue` until every sender is gone.
async fn run_link(
    endpoint: String,
    config: ClientConfig,
    mut queue: mpsc::Receiver<StepRequest>,
    up: Arc<AtomicBool>,
) {
    let mut backoff = RECONNECT_BACKOFF_MIN;
    loop {
        // A link connects when it has something to send.
        let Some(first) = queue.recv().await else {
            return;
        };
        let channel = match weft_comm::connect(&endpoint, &config).await {
            Ok(channel) => channel,
            Err(e) => {
                tracing::debug!(%endpoint, error = %e, "cannot reach consenter; dropping what was queued for it");
                up.store(false, Ordering::Relaxed);
                // As Fabric, whose send to an unreachable consenter fails and is dropped:
                // `first` and what queued behind it would be stale by the time the consenter
                // is back, and raft sends again from its own state. The next message tries
                // again.
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RECONNECT_BACKOFF_MAX);
                if discard_queued(&mut queue).is_none() {
                    return;
                }
                continue;
            }
        };
        let (stream, outgoing) = mpsc::channel(SEND_QUEUE_CAPACITY);
        let mut client = ClusterClient::new(channel);
        let _ = stream.try_send(first);
        let mut responses = match client.step(ReceiverStream::new(outgoing)).await {
            Ok(response) => response.into_inner(),
            Err(e) => {
                tracing::debug!(%endpoint, error = %e, "consenter refused the Step stream");
                up.store(false, Ordering::Relaxed);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RECONNECT_BACKOFF_MAX);
                if discard_queued(&mut queue).is_none() {
                    return;
                }
                continue;
            }
        };
        backoff = RECONNECT_BACKOFF_MIN;
        up.store(true, Ordering::Relaxed);
        loop {
            tokio::select! {
                request = queue.recv() => {
                    let Some(request) = request else { return };
                    if stream.send(request).await.is_err() {
                        break;
                    }
                }
                response = responses.message() => match response {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(%endpoint, error = %e, "Step stream ended");
                        break;
                    }
                },
            }
        }
        up.store(false, Ordering::Relaxed);
    }
}

/// Drops every request waiting in `queue`; returns how many, or `None` once every sender is
/// gone.
fn discard_queued(queue: &mut mpsc::Receiver<StepRequest>) -> Option<usize> {
    let mut dropped = 0;
    loop {
        match queue.try_recv() {
            Ok(_) => dropped += 1,
            Err(mpsc::error::TryRecvError::Empty) => return Some(dropped),
            Err(mpsc::error::TryRecvError::Disconnected) => return None,
        }
    }
}

/// The `orderer.Cluster` gRPC service.
pub struct ClusterService {
    cluster: Arc<Cluster>,
    registrar: Arc<Registrar>,
    driver: RaftDriver,
}

impl ClusterService {
    pub fn new(cluster: Arc<Cluster>, registrar: Arc<Registrar>, driver: RaftDriver) -> Self {
        Self {
            cluster,
            registrar,
            driver,
        }
    }
}

#[tonic::async_trait]
impl ClusterRpc for ClusterService {
    type StepStream = ReceiverStream<Result<StepResponse, tonic::Status>>;

    async fn step(
        &self,
        request: Request<Streaming<StepRequest>>,
    ) -> Result<Response<Self::StepStream>, tonic::Status> {
        let caller = PeerInfo::client_cert_der(&request).map(<[u8]>::to_vec);
        let mut incoming = request.into_inner();
        let (sender, receiver) = mpsc::channel(STEP_RESPONSE_BUFFER);
        let cluster = self.cluster.clone();
        let registrar = self.registrar.clone();
        let driver = self.driver.clone();
        tokio::spawn(async move {
            while let Ok(Some(request)) = incoming.message().await {
                if let Err(status) =
                    handle_step(&cluster, &registrar, &driver, caller.as_deref(), request).await
                {
                    tracing::debug!(error = %status.message(), "refusing a cluster Step request");
                    let _ = sender.send(Err(status)).await;
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}

/// A Step request that passed authentication and validation.
#[derive(Debug)]
pub enum Checked {
    /// A raft message for `channel` from consenter `message.from`.
    Consensus { channel: String, message: Message },
    /// An envelope forwarded by a follower of `channel`.
    Submit { channel: String, order: Order },
}

/// Authenticates `caller` (DER of its TLS client certificate) as a consenter of the request's
/// channel and validates the request; the `Err` status ends the stream (Fabric answers an
/// unknown sender or a malformed request with an error).
pub fn check_step(
    cluster: &Cluster,
    caller: Option<&[u8]>,
    request: StepRequest,
) -> Result<Checked, tonic::Status> {
    let channel = match &request.payload {
        Some(Payload::ConsensusRequest(r)) => r.channel.clone(),
        Some(Payload::SubmitRequest(r)) => r.channel.clone(),
        None => {
            return Err(tonic::Status::invalid_argument(
                "message is neither a Submit nor a Consensus request",
            ));
        }
    };
    let members = cluster
        .channel(&channel)
        .ok_or_else(|| tonic::Status::not_found(format!("channel {channel} is not served here")))?;
    let sender = caller.and_then(|der| members.id_of(der)).ok_or_else(|| {
        tonic::Status::permission_denied(format!(
            "the caller's TLS client certificate is not a consenter of channel {channel}"
        ))
    })?;
    match request.payload {
        Some(Payload::ConsensusRequest(r)) => {
            let message = decode_message(&r.payload, sender).map_err(|e| {
                tonic::Status::invalid_argument(format!("bad raft message from {sender}: {e}"))
            })?;
            Ok(Checked::Consensus { channel, message })
        }
        Some(Payload::SubmitRequest(r)) => {
            let envelope = r.payload.ok_or_else(|| {
                tonic::Status::invalid_argument("the SubmitRequest carries no envelope")
            })?;
            let config_sequence = r.last_validation_seq;
            let order = if is_config_envelope(&envelope) {
                Order::Config {
                    envelope,
                    config_sequence,
                }
            } else {
                Order::Normal {
                    envelope,
                    config_sequence,
                }
            };
            Ok(Checked::Submit { channel, order })
        }
        None => Err(tonic::Status::invalid_argument("empty Step request")),
    }
}

/// Serves one Step request; an `Err` ends the stream with that status.
pub async fn handle_step(
    cluster: &Cluster,
    registrar: &Registrar,
    driver: &RaftDriver,
    caller: Option<&[u8]>,
    request: StepRequest,
) -> Result<(), tonic::Status> {
    match check_step(cluster, caller, request)? {
        Checked::Consensus { channel, message } => {
            driver.step(&channel, message);
            Ok(())
        }
        Checked::Submit { channel, order } => {
            let chain = registrar.chain(&channel).ok_or_else(|| {
                tonic::Status::not_found(format!("channel {channel} is not served here"))
            })?;
            chain
                .submit(order)
                .await
                .map_err(|e| tonic::Status::unavailable(e.to_string()))
        }
    }
}

fn pem_to_der(pem: &[u8]) -> Option<Vec<u8>> {
    openssl::x509::X509::from_pem(pem)
        .ok()
        .and_then(|c| c.to_der().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::common::Envelope;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::{X509, X509NameBuilder};
    use tonic::Code;

    fn cert(name: &str) -> Vec<u8> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut subject = X509NameBuilder::new().unwrap();
        subject.append_entry_by_text("CN", name).unwrap();
        let subject = subject.build();
        let mut builder = X509::builder().unwrap();
        builder.set_version(2).unwrap();
        builder.set_subject_name(&subject).unwrap();
        builder.set_issuer_name(&subject).unwrap();
        builder.set_pubkey(&key).unwrap();
        let now = openssl::asn1::Asn1Time::days_from_now(0).unwrap();
        let later = openssl::asn1::Asn1Time::days_from_now(1).unwrap();
        builder.set_not_before(&now).unwrap();
        builder.set_not_after(&later).unwrap();
        builder
            .sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        builder.build().to_pem().unwrap()
    }

    fn der(pem: &[u8]) -> Vec<u8> {
        pem_to_der(pem).unwrap()
    }

    struct Setup {
        cluster: Arc<Cluster>,
        certs: Vec<Vec<u8>>,
        outsider: Vec<u8>,
        _runtime: tokio::runtime::Runtime,
    }

    /// A node that is consenter 1 of "ch" with two others.
    fn setup() -> Setup {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let cluster = {
            let _guard = runtime.enter();
            Cluster::new(ClientConfig::default()).unwrap()
        };
        let certs: Vec<Vec<u8>> = ["o1", "o2", "o3"].iter().map(|n| cert(n)).collect();
        let consenters: Vec<Consenter> = certs
            .iter()
            .enumerate()
            .map(|(i, c)| Consenter {
                host: "127.0.0.1".into(),
                port: 7050 + i as u32,
                client_tls_cert: c.clone(),
                server_tls_cert: c.clone(),
            })
            .collect();
        let members = ChannelMembers::from_consenters(&consenters, &der(&certs[0])).unwrap();
        assert_eq!(members.self_id, 1);
        assert_eq!(members.members[&3].endpoint, "127.0.0.1:7052");
        cluster.set_channel("ch", members);
        Setup {
            cluster,
            certs,
            outsider: cert("outsider"),
            _runtime: runtime,
        }
    }

    /// An eraftpb `Message` of type MsgHeartbeat (8), encoded by hand: field 1 `msg_type`,
    /// field 2 `to`, field 3 `from` (small ids fit one varint byte).
    fn raft_message(from: u64, to: u64) -> Vec<u8> {
        vec![0x08, 8, 0x10, to as u8, 0x18, from as u8]
    }

    fn consensus(channel: &str, payload: Vec<u8>) -> StepRequest {
        StepRequest {
            payload: Some(Payload::ConsensusRequest(ConsensusRequest {
                channel: channel.into(),
                payload,
                metadata: Vec::new(),
            })),
        }
    }

    fn code(result: Result<Checked, tonic::Status>) -> Code {
        match result {
            Ok(checked) => panic!("accepted: {checked:?}"),
            Err(status) => status.code(),
        }
    }

    // Fabric 2.5 cluster service: the sender is the consenter whose client TLS certificate
    // the caller presented; anything else, and malformed requests, end the stream with an
    // error rather than reaching consensus.
    #[test]
    fn step_requests_are_authenticated_by_client_certificate_and_validated() {
        let s = setup();
        let o2 = der(&s.certs[1]);
        match check_step(&s.cluster, Some(&o2), consensus("ch", raft_message(2, 1))) {
            Ok(Checked::Consensus { channel, message }) => {
                assert_eq!(channel, "ch");
                assert_eq!((message.from, message.to), (2, 1));
            }
            other => panic!("{other:?}"),
        }
        let empty = StepRequest { payload: None };
        assert_eq!(
            code(check_step(&s.cluster, Some(&o2), empty)),
            Code::InvalidArgument
        );
        assert_eq!(
            code(check_step(
                &s.cluster,
                Some(&der(&s.outsider)),
                consensus("ch", raft_message(2, 1))
            )),
            Code::PermissionDenied
        );
        assert_eq!(
            code(check_step(
                &s.cluster,
                None,
                consensus("ch", raft_message(2, 1))
            )),
            Code::PermissionDenied
        );
        assert_eq!(
            code(check_step(
                &s.cluster,
                Some(&o2),
                consensus("other", raft_message(2, 1))
            )),
            Code::NotFound
        );
        // Consenter 2 may not speak for consenter 3.
        assert_eq!(
            code(check_step(
                &s.cluster,
                Some(&o2),
                consensus("ch", raft_message(3, 1))
            )),
            Code::InvalidArgument
        );
        assert_eq!(
            code(check_step(
                &s.cluster,
                Some(&o2),
                consensus("ch", vec![0xff; 7])
            )),
            Code::InvalidArgument
        );

        let submit = |payload: Option<Envelope>| StepRequest {
            payload: Some(Payload::SubmitRequest(SubmitRequest {
                channel: "ch".into(),
                last_validation_seq: 4,
                payload,
            })),
        };
        assert_eq!(
            code(check_step(&s.cluster, Some(&o2), submit(None))),
            Code::InvalidArgument
        );
        let envelope = Envelope {
            payload: b"tx".to_vec(),
            signature: b"sig".to_vec(),
        };
        match check_step(&s.cluster, Some(&o2), submit(Some(envelope.clone()))) {
            Ok(Checked::Submit {
                channel,
                order:
                    Order::Normal {
                        envelope: got,
                        config_sequence,
                    },
            }) => {
                assert_eq!(channel, "ch");
                assert_eq!(got, envelope);
                assert_eq!(config_sequence, 4);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sends_to_unknown_channels_or_members_fail_and_queues_are_bounded() {
        let s = setup();
        let _guard = s._runtime.enter();
        let mut message = Message {
            from: 1,
            to: 9,
            ..Message::default()
        };
        assert!(matches!(
            s.cluster.send_consensus("ch", &message),
            Err(ClusterError::UnknownMember { id: 9, .. })
        ));
        assert!(matches!(
            s.cluster.send_consensus("nope", &message),
            Err(ClusterError::UnknownChannel(_))
        ));
        // Nothing listens on consenter 2's endpoint: the link keeps reconnecting, and once
        // its queue is full further messages are refused instead of piling up.
        message.to = 2;
        let mut refused = 0;
        for _ in 0..SEND_QUEUE_CAPACITY + 10 {
            if matches!(
                s.cluster.send_consensus("ch", &message),
                Err(ClusterError::QueueFull(_))
            ) {
                refused += 1;
            }
        }
        assert!(refused >= 8, "refused {refused}");
    }

    // Fabric drops a send to a consenter it cannot reach (etcdraft then reports it
    // unreachable). A link that cannot connect empties its queue instead of holding stale raft
    // messages for when the consenter is back, so fresh messages are taken again.
    #[test]
    fn a_link_that_cannot_connect_drops_what_was_queued() {
        let s = setup();
        let _guard = s._runtime.enter();
        let message = Message {
            from: 1,
            to: 2,
            ..Message::default()
        };
        let full = (0..SEND_QUEUE_CAPACITY + 10).any(|_| {
            matches!(
                s.cluster.send_consensus("ch", &message),
                Err(ClusterError::QueueFull(_))
            )
        });
        assert!(full, "the queue of an unreachable consenter never filled");
        let started = std::time::Instant::now();
        while s.cluster.send_consensus("ch", &message).is_err() {
            assert!(
                started.elapsed() < RECONNECT_BACKOFF_MAX * 2,
                "the link kept its queue full of stale messages"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
