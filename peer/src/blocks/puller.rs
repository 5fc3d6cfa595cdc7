//! One task per channel that keeps the channel's ledger level with its ordering service.
//!
//! The task asks an orderer for blocks `height..=u64::MAX` (BLOCK_UNTIL_READY) with a signed
//! `DELIVER_SEEK_INFO` envelope bound to the peer's TLS client certificate, verifies and stores
//! each block, and on any failure (dial, stream error, status response, bad block) tries the
//! next endpoint after a backoff ([`super::pacing`]: it grows with the time the channel has
//! been failing, and the node as a whole starts a bounded number of attempts per second, so
//! thousands of channels that their orderers do not serve cost next to no CPU). A block
//! received resets the backoff. Endpoints are re-read from the channel config at each
//! attempt, so config blocks that move the orderers take effect at the next reconnect. Idle,
//! a task is one pending stream read or one timer: no thread, and no connection while it
//! waits to retry.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use fabric_protos::common::{
    ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader, Status,
};
use fabric_protos::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use fabric_protos::orderer::deliver_response::Type as DeliverType;
use fabric_protos::orderer::seek_info::SeekBehavior;
use fabric_protos::orderer::seek_position::Type as Position;
use fabric_protos::orderer::{SeekInfo, SeekPosition, SeekSpecified};
use prost::Message;
use tokio::sync::mpsc;
use weft_comm::{ClientConfig, ClientTlsConfig, MessageLimits};
use weft_msp::SigningIdentity;

use super::endpoints::{EndpointOverride, OrdererEndpoint, apply_overrides, orderer_endpoints};
use super::pacing::{AttemptPacer, RetrySchedule, jittered};
pub use super::pacing::{BACKOFF_INITIAL, BACKOFF_MAX_DEFAULT};
use weft_committer::{CommitError, Committer};

use crate::channels::PeerChannel;

/// Length of the random nonce in the seek envelope's signature header (Fabric's 24 bytes).
const NONCE_BYTES: usize = 24;

/// Node-wide settings of every channel's puller.
#[derive(Clone)]
pub struct PullerSettings {
    pub signer: Arc<dyn SigningIdentity>,
    /// Keepalive, dial timeout and message limits; TLS is filled per endpoint.
    pub client: ClientConfig,
    /// Whether orderer connections use TLS (`peer.tls.enabled`).
    pub tls: bool,
    /// The PEM certificate and key presented to orderers.
    pub client_cert_pem: Option<Vec<u8>>,
    pub client_key_pem: Option<Vec<u8>>,
    /// Longest wait between attempts while a channel has been failing for less than
    /// [`super::pacing::FAST_RETRY_PERIOD`].
    pub backoff_max: Duration,
    /// Longest wait afterwards (`peer.deliveryclient.reConnectBackoffThreshold`).
    pub backoff_threshold: Duration,
    /// Attempts the node starts per second at most, all channels together
    /// ([`super::pacing::ATTEMPTS_PER_SECOND_MAX`] unless a test wants another pace).
    pub attempts_per_second_max: u32,
    /// Attempts a quiet node may start at once beyond that pace
    /// ([`super::pacing::ATTEMPT_BURST`] unless a test wants another).
    pub attempt_burst: u32,
    /// `peer.deliveryclient.addressOverrides`.
    pub address_overrides: Vec<EndpointOverride>,
}

/// Starts and owns the pullers of all channels.
pub struct BlockPuller {
    settings: PullerSettings,
    committer: Committer,
    runtime: tokio::runtime::Handle,
    pacer: Arc<AttemptPacer>,
}

impl BlockPuller {
    pub fn new(
        settings: PullerSettings,
        committer: Committer,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self {
            committer,
            runtime,
            pacer: Arc::new(AttemptPacer::new(
                settings.attempts_per_second_max,
                settings.attempt_burst,
            )),
            settings,
        }
    }

    /// Starts pulling the blocks of a channel just joined: its first attempt is made at once.
    /// Callable from any thread.
    pub fn start(&self, channel: Arc<PeerChannel>) {
        self.spawn(channel, FirstAttempt::Now);
    }

    /// Starts pulling the blocks of a channel found in the ledger at start-up: its first
    /// attempt waits for its turn, so a restart with thousands of channels does not dial the
    /// orderers for all of them at once.
    pub fn resume(&self, channel: Arc<PeerChannel>) {
        self.spawn(channel, FirstAttempt::Paced);
    }

    fn spawn(&self, channel: Arc<PeerChannel>, first: FirstAttempt) {
        let task = ChannelPuller {
            settings: self.settings.clone(),
            committer: self.committer.clone(),
            pacer: self.pacer.clone(),
            channel,
        };
        self.runtime.spawn(task.run(first));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FirstAttempt {
    Now,
    Paced,
}

struct ChannelPuller {
    settings: PullerSettings,
    committer: Committer,
    pacer: Arc<AttemptPacer>,
    channel: Arc<PeerChannel>,
}

/// Why an attempt ended.
enum AttemptEnd {
    /// Blocks were received before the failure: retry at once with the backoff reset.
    Progress(String),
    /// Nothing was received.
    Failed(String),
}

impl ChannelPuller {
    async fn run(self, first: FirstAttempt) {
        let channel_id = self.channel.id().to_owned();
        let mut schedule =
            RetrySchedule::new(self.settings.backoff_max, self.settings.backoff_threshold);
        // Start at a random endpoint so that a channel's peers spread over its orderers, as
        // Fabric's peers pick a random orderer.
        let mut attempt = random_u64() as usize;
        let mut paced = first == FirstAttempt::Paced;
        loop {
            if paced {
                self.pacer.wait_turn().await;
            }
            paced = true;
            let endpoints = apply_overrides(
                orderer_endpoints(&self.channel.bundle()),
                &self.settings.address_overrides,
            );
            if endpoints.is_empty() {
                let wait = jittered(schedule.failed(Instant::now()), random_u64());
                tracing::warn!(channel = %channel_id, retry_in_ms = wait.as_millis() as u64, "no orderer endpoints in the channel config");
                tokio::time::sleep(wait).await;
                continue;
            }
            let endpoint = &endpoints[attempt % endpoints.len()];
            attempt = attempt.wrapping_add(1);
            match self.pull_from(endpoint).await {
                AttemptEnd::Progress(reason) => {
                    tracing::info!(channel = %channel_id, orderer = %endpoint.address, %reason, "block stream ended; reconnecting");
                    schedule.progress();
                }
                AttemptEnd::Failed(reason) => {
                    let wait = jittered(schedule.failed(Instant::now()), random_u64());
                    tracing::warn!(channel = %channel_id, orderer = %endpoint.address, %reason, retry_in_ms = wait.as_millis() as u64, "cannot pull blocks");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    fn client_config(&self, endpoint: &OrdererEndpoint) -> ClientConfig {
        let mut config = self.settings.client.clone();
        if self.settings.tls {
            config.tls = Some(ClientTlsConfig {
                server_root_cas_pem: endpoint.tls_roots_pem.clone(),
                client_cert_pem: self.settings.client_cert_pem.clone(),
                client_key_pem: self.settings.client_key_pem.clone(),
                server_name_override: None,
            });
        }
        config
    }

    async fn pull_from(&self, endpoint: &OrdererEndpoint) -> AttemptEnd {
        let fail =
            |what: &str, e: &dyn std::fmt::Display| AttemptEnd::Failed(format!("{what}: {e}"));
        let config = self.client_config(endpoint);
        let connection = match weft_comm::connect(&endpoint.address, &config).await {
            Ok(c) => c,
            Err(e) => return fail("dial", &e),
        };
        let height = match self.channel.height() {
            Ok(h) => h,
            Err(e) => return fail("ledger height", &e),
        };
        let request = match self.seek_envelope(height) {
            Ok(r) => r,
            Err(e) => return fail("signing the seek request", &e),
        };
        // `requests` lives until this function returns, which keeps the request stream open
        // while blocks flow.
        let (requests, receiver) = mpsc::channel(1);
        if requests.send(request).await.is_err() {
            return AttemptEnd::Failed("request stream closed".into());
        }
        let mut client = AtomicBroadcastClient::new(connection).with_message_limits(config.limits);
        let stream = client
            .deliver(tokio_stream::wrappers::ReceiverStream::new(receiver))
            .await;
        let mut stream = match stream {
            Ok(s) => s.into_inner(),
            Err(e) => return fail("deliver", &e),
        };
        tracing::info!(channel = %self.channel.id(), orderer = %endpoint.address, from = height, "pulling blocks");
        let mut received = 0u64;
        let end = |received: u64, reason: String| {
            if received > 0 {
                AttemptEnd::Progress(reason)
            } else {
                AttemptEnd::Failed(reason)
            }
        };
        loop {
            let message = match stream.message().await {
                Ok(Some(m)) => m,
                Ok(None) => return end(received, "orderer closed the stream".into()),
                Err(e) => return end(received, format!("stream error: {e}")),
            };
            match message.r#type {
                Some(DeliverType::Block(block)) => {
                    if let Err(reason) = self.commit(block).await {
                        return end(received, reason);
                    }
                    received += 1;
                }
                Some(DeliverType::Status(status)) => {
                    let status = Status::try_from(status)
                        .map_or_else(|_| status.to_string(), |s| s.as_str_name().to_owned());
                    return end(received, format!("orderer replied with status {status}"));
                }
                _ => return end(received, "unexpected deliver response".into()),
            }
        }
    }

    /// Verifies, validates and commits one block.
    async fn commit(&self, block: fabric_protos::common::Block) -> Result<(), String> {
        let number = block.header.as_ref().map_or(0, |h| h.number);
        let committer = self.committer.clone();
        let channel = self.channel.id().to_owned();
        let committed =
            tokio::task::spawn_blocking(move || committer.commit_block(&channel, block))
                .await
                .map_err(|e| format!("commit task failed: {e}"))?;
        match committed {
            Ok(outcome) => {
                tracing::info!(channel = %self.channel.id(), number, transactions = outcome.txs.len(), "committed block");
                Ok(())
            }
            Err(CommitError::Verify(e)) => Err(format!("block {number} refused: {e}")),
            Err(e) => Err(format!("block {number} not committed: {e}")),
        }
    }

    /// The signed request for blocks `start..` (Fabric's `seekHelper` in the blocks provider).
    fn seek_envelope(&self, start: u64) -> Result<Envelope, String> {
        let signer = &self.settings.signer;
        let seek = SeekInfo {
            start: Some(SeekPosition {
                r#type: Some(Position::Specified(SeekSpecified { number: start })),
            }),
            stop: Some(SeekPosition {
                r#type: Some(Position::Specified(SeekSpecified { number: u64::MAX })),
            }),
            behavior: SeekBehavior::BlockUntilReady as i32,
            ..Default::default()
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let tls_cert_hash = self
            .settings
            .client_cert_pem
            .as_deref()
            .and_then(|pem| openssl::x509::X509::from_pem(pem).ok())
            .and_then(|cert| cert.to_der().ok())
            .map(|der| weft_comm::tls_cert_hash(&der).to_vec())
            .unwrap_or_default();
        let channel_header = ChannelHeader {
            r#type: HeaderType::DeliverSeekInfo as i32,
            channel_id: self.channel.id().to_owned(),
            timestamp: Some(prost_types::Timestamp {
                seconds: now.as_secs() as i64,
                nanos: now.subsec_nanos() as i32,
            }),
            tls_cert_hash,
            ..Default::default()
        };
        let mut nonce = vec![0u8; NONCE_BYTES];
        openssl::rand::rand_bytes(&mut nonce).map_err(|e| e.to_string())?;
        let payload = Payload {
            header: Some(Header {
                channel_header: channel_header.encode_to_vec(),
                signature_header: SignatureHeader {
                    creator: signer.serialize(),
                    nonce,
                }
                .encode_to_vec(),
            }),
            data: seek.encode_to_vec(),
        };
        let payload = payload.encode_to_vec();
        let signature = signer.sign(&payload).map_err(|e| e.to_string())?;
        Ok(Envelope { payload, signature })
    }
}

/// A random number for endpoint rotation and retry jitter (not for cryptography).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(0);
    hasher.finish()
}
