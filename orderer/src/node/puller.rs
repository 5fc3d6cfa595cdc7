//! Pulling blocks a node is missing from the other orderers of a channel (Fabric's
//! `BlockPuller`, used by etcdraft to catch up behind a snapshot and by channel participation
//! to onboard a node that joins with a later config block).
//!
//! Blocks come over the standard Deliver service of the channel's consenters (their
//! etcdraft `host:port`, trusted through their `ServerTlsCert`, with this node's cluster client
//! certificate), requested by this node's signing identity as a channel reader. Nothing pulled
//! is trusted: [`verify_next`] checks each block before it is written.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fabric_protos::common::{Block, ChannelHeader, Envelope, Header, HeaderType, Payload, Status};
use fabric_protos::etcdraft::Consenter;
use fabric_protos::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use fabric_protos::orderer::deliver_response::Type as DeliverType;
use fabric_protos::orderer::seek_info::SeekBehavior;
use fabric_protos::orderer::seek_position::Type as Position;
use fabric_protos::orderer::{SeekInfo, SeekPosition, SeekSpecified};
use prost::Message;
use weft_channelconfig::{ChannelBundle, Consensus};
use weft_comm::{ClientConfig, ClientTlsConfig};
use weft_msp::SigningIdentity;

/// The policy every pulled block's orderer signatures must satisfy.
pub const BLOCK_VALIDATION_POLICY: &str = "/Channel/Orderer/BlockValidation";
/// Blocks asked for in one Deliver request; a longer range is pulled in windows.
pub const PULL_WINDOW_BLOCKS: u64 = 256;
/// Longest wait for a connection or for the next message of a Deliver stream.
pub const PULL_TIMEOUT: Duration = Duration::from_secs(10);
/// Rounds over all endpoints before a pull gives up.
pub const PULL_ROUNDS_MAX: usize = 30;
/// Wait between two rounds over the endpoints.
pub const PULL_ROUND_BACKOFF: Duration = Duration::from_secs(1);

/// Why blocks could not be pulled.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(
        "no orderer of channel {channel} served block {number} after {PULL_ROUNDS_MAX} rounds; check that the other consenters run and are reachable"
    )]
    Unavailable { channel: String, number: u64 },
    #[error("cannot sign the Deliver request: {0}")]
    Sign(String),
}

/// An orderer to pull from.
#[derive(Debug, Clone)]
pub struct Source {
    pub endpoint: String,
    pub server_tls_cert_pem: Vec<u8>,
}

/// The consenters of an etcdraft channel as pull sources.
pub fn sources(bundle: &ChannelBundle) -> Vec<Source> {
    let Some(Consensus::EtcdRaft(metadata)) = bundle.orderer().map(|o| &o.consensus) else {
        return Vec::new();
    };
    metadata.consenters.iter().map(source).collect()
}

fn source(consenter: &Consenter) -> Source {
    Source {
        endpoint: format!("{}:{}", consenter.host, consenter.port),
        server_tls_cert_pem: consenter.server_tls_cert.clone(),
    }
}

/// Pulls blocks from other orderers; cheap to share.
pub struct BlockPuller {
    client: ClientConfig,
    signer: Arc<dyn SigningIdentity>,
}

impl BlockPuller {
    /// `client` is the cluster client setup (certificate and roots); `signer` signs the
    /// Deliver requests.
    pub fn new(client: ClientConfig, signer: Arc<dyn SigningIdentity>) -> Self {
        Self { client, signer }
    }

    /// Pulls block `number` from the first of `sources` that has it (retrying the round a
    /// bounded number of times); `None` once none did.
    pub async fn pull_one(&self, channel: &str, sources: &[Source], number: u64) -> Option<Block> {
        let mut blocks = self
            .pull_window(channel, sources, number, number)
            .await
            .ok()?;
        blocks.pop()
    }

    /// Blocks `from..=to` (at most [`PULL_WINDOW_BLOCKS`]) from one source, tried in turn;
    /// rounds over all sources until one serves at least block `from`. Returns what that
    /// source served, in order: a prefix of the range, unverified.
    pub async fn pull_window(
        &self,
        channel: &str,
        sources: &[Source],
        from: u64,
        to: u64,
    ) -> Result<Vec<Block>, PullError> {
        let to = to.min(from.saturating_add(PULL_WINDOW_BLOCKS - 1));
        for round in 0..PULL_ROUNDS_MAX {
            for source in sources {
                match self.deliver(channel, source, from, to).await {
                    Ok(blocks) if !blocks.is_empty() => return Ok(blocks),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(channel, endpoint = %source.endpoint, from, error = %e, "cannot pull blocks")
                    }
                }
            }
            if round + 1 < PULL_ROUNDS_MAX {
                tokio::time::sleep(PULL_ROUND_BACKOFF).await;
            }
        }
        Err(PullError::Unavailable {
            channel: channel.to_string(),
            number: from,
        })
    }

    /// One Deliver request for `from..=to` to `source`; the blocks it sent, in order, until
    /// the range ends, a status arrives or a number is out of place.
    async fn deliver(
        &self,
        channel: &str,
        source: &Source,
        from: u64,
        to: u64,
    ) -> Result<Vec<Block>, String> {
        let mut config = self.client.clone();
        match config.tls.as_mut() {
            Some(tls) => tls
                .server_root_cas_pem
                .push(source.server_tls_cert_pem.clone()),
            None => {
                config.tls = Some(ClientTlsConfig {
                    server_root_cas_pem: vec![source.server_tls_cert_pem.clone()],
                    ..ClientTlsConfig::default()
                })
            }
        }
        let request = self.seek_request(channel, from, to)?;
        let connection =
            tokio::time::timeout(PULL_TIMEOUT, weft_comm::connect(&source.endpoint, &config))
                .await
                .map_err(|_| "connection timed out".to_string())?
                .map_err(|e| e.to_string())?;
        let mut client = AtomicBroadcastClient::new(connection);
        let mut stream =
            tokio::time::timeout(PULL_TIMEOUT, client.deliver(tokio_stream::once(request)))
                .await
                .map_err(|_| "deliver call timed out".to_string())?
                .map_err(|e| e.to_string())?
                .into_inner();
        let mut blocks = Vec::new();
        let mut expected = from;
        while expected <= to {
            let message = tokio::time::timeout(PULL_TIMEOUT, stream.message())
                .await
                .map_err(|_| "deliver stream stalled".to_string())?
                .map_err(|e| e.to_string())?;
            match message.and_then(|m| m.r#type) {
                Some(DeliverType::Block(block))
                    if block.header.as_ref().is_some_and(|h| h.number == expected) =>
                {
                    blocks.push(block);
                    expected += 1;
                }
                Some(DeliverType::Block(_)) => break,
                Some(DeliverType::Status(status)) if status == Status::Success as i32 => break,
                Some(DeliverType::Status(status)) if blocks.is_empty() => {
                    return Err(format!("deliver answered status {status}"));
                }
                _ => break,
            }
        }
        Ok(blocks)
    }

    fn seek_request(&self, channel: &str, from: u64, to: u64) -> Result<Envelope, String> {
        let at = |number| SeekPosition {
            r#type: Some(Position::Specified(SeekSpecified { number })),
        };
        let seek = SeekInfo {
            start: Some(at(from)),
            stop: Some(at(to)),
            behavior: SeekBehavior::FailIfNotReady as i32,
            ..SeekInfo::default()
        };
        let sign_error = |e: String| PullError::Sign(e).to_string();
        let seconds = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let channel_header = ChannelHeader {
            r#type: HeaderType::DeliverSeekInfo as i32,
            timestamp: Some(prost_types::Timestamp { seconds, nanos: 0 }),
            channel_id: channel.to_string(),
            ..ChannelHeader::default()
        };
        let signature_header = crate::blockwriter::new_signature_header(self.signer.as_ref())
            .map_err(|e| sign_error(e.to_string()))?;
        let payload = Payload {
            header: Some(Header {
                channel_header: channel_header.encode_to_vec(),
                signature_header: signature_header.encode_to_vec(),
            }),
            data: seek.encode_to_vec(),
        }
        .encode_to_vec();
        let signature = self
            .signer
            .sign(&payload)
            .map_err(|e| sign_error(e.to_string()))?;
        Ok(Envelope { payload, signature })
    }
}

/// Checks that `block` may follow `previous` on a channel whose config is `bundle`: the next
/// number, linked by the previous header hash, data matching its header, and orderer
/// signatures satisfying `/Channel/Orderer/BlockValidation` (Fabric's `VerifyBlocks`).
pub fn verify_next(bundle: &ChannelBundle, previous: &Block, block: &Block) -> Result<(), String> {
    let previous_header = previous
        .header
        .as_ref()
        .ok_or("the previous block has no header")?;
    let header = block.header.as_ref().ok_or("block has no header")?;
    if header.number != previous_header.number + 1 {
        return Err(format!(
            "expected block {} but got block {}",
            previous_header.number + 1,
            header.number
        ));
    }
    if header.previous_hash != weft_protoutil::block_header_hash(previous_header) {
        return Err("its previous hash does not match the block before it".into());
    }
    verify_data_and_signatures(bundle, block)
}

/// Checks that `block`'s data matches its header and its orderer signatures satisfy
/// `/Channel/Orderer/BlockValidation` of `bundle`.
pub fn verify_data_and_signatures(bundle: &ChannelBundle, block: &Block) -> Result<(), String> {
    let header = block.header.as_ref().ok_or("block has no header")?;
    let data = block.data.as_ref().ok_or("block has no data")?;
    if header.data_hash != weft_protoutil::block_data_hash(data) {
        return Err("its data hash does not match its data".into());
    }
    let signed = crate::block_signed_data(block).map_err(|e| e.to_string())?;
    let policy = bundle
        .policy_manager()
        .get_policy(BLOCK_VALIDATION_POLICY)
        .ok_or_else(|| format!("the channel config has no {BLOCK_VALIDATION_POLICY} policy"))?;
    policy
        .evaluate_signed_data(&signed)
        .map_err(|e| format!("its signatures do not satisfy {BLOCK_VALIDATION_POLICY}: {e}"))
}

/// Checks that `blocks` (numbers 0..n, genesis first) hash-link up to `anchor`, a block
/// trusted because an administrator supplied it (Fabric onboarding verifies the chain below
/// the join block the same way, backwards from it).
pub fn verify_chain_to(blocks: &[Block], anchor: &Block) -> Result<(), String> {
    let mut expected_hash = anchor
        .header
        .as_ref()
        .ok_or("the join block has no header")?
        .previous_hash
        .clone();
    for (number, block) in blocks.iter().enumerate().rev() {
        let header = block.header.as_ref().ok_or("block has no header")?;
        if header.number != number as u64 {
            return Err(format!("expected block {number} but got {}", header.number));
        }
        if weft_protoutil::block_header_hash(header).as_slice() != expected_hash.as_slice() {
            return Err(format!(
                "block {number} is not the one the join block's chain names"
            ));
        }
        let data = block.data.as_ref().ok_or("block has no data")?;
        if header.data_hash != weft_protoutil::block_data_hash(data) {
            return Err(format!("block {number}: data hash does not match its data"));
        }
        expected_hash = header.previous_hash.clone();
    }
    Ok(())
}
