//! A small Fabric admin client: what the `peer` CLI and `osnadmin` do to set up a channel and
//! deploy chaincode, done over the same wire calls: signed proposals to peers'
//! `protos.Endorser`, transactions assembled from their endorsements and sent to the orderer's
//! `Broadcast`, commits awaited on the peers' `DeliverFiltered`, and the orderer's channel
//! participation REST API for joining a channel.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fabric_protos::common::{Envelope, Payload, Status};
use fabric_protos::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use fabric_protos::orderer::{SeekInfo, SeekPosition, seek_info, seek_position};
use fabric_protos::peer::deliver_client::DeliverClient;
use fabric_protos::peer::endorser_client::EndorserClient;
use fabric_protos::peer::{ProposalResponse, TxValidationCode, deliver_response};
use futures::StreamExt;
use prost::Message;
use tonic::transport::Channel;
use weft_comm::{ClientConfig, ClientTlsConfig, MessageLimits};
use weft_msp::api::SigningIdentity;
use weft_protoutil::{Invocation, chaincode_proposal, sign_proposal, signed_transaction};

use crate::error::{DevnetError, Result};

/// How long a transaction may take from broadcast to commit before we give up.
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one RPC to a node may take.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(30);

/// An org member that signs: an admin or a user, loaded from its MSP folder.
#[derive(Clone)]
pub struct Signer {
    pub msp_id: String,
    identity: Arc<dyn SigningIdentity>,
}

impl Signer {
    pub fn load(msp_dir: &Path, msp_id: &str) -> Result<Self> {
        let msp_error = |detail: String| DevnetError::Msp {
            path: msp_dir.to_path_buf(),
            detail,
        };
        let msp =
            weft_msp::X509Msp::load_local(msp_dir, msp_id).map_err(|e| msp_error(e.to_string()))?;
        let identity = msp
            .signing_identity()
            .ok_or_else(|| msp_error("no signing identity (signcerts + keystore)".into()))?;
        Ok(Signer {
            msp_id: msp_id.to_owned(),
            identity,
        })
    }

    /// The serialized identity that goes into headers as the creator.
    pub fn creator(&self) -> Vec<u8> {
        self.identity.serialize()
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        self.identity.sign(message).map_err(|e| e.to_string())
    }
}

/// Where a node listens and how to reach it over TLS.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub address: String,
    pub tls_ca: PathBuf,
    /// Client certificate and key for mutual TLS, when the node asks for one.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

impl Endpoint {
    /// Dials the node over TLS (with the client certificate when one is set).
    pub async fn channel(&self) -> Result<Channel> {
        let connect_error = |detail: String| DevnetError::Connect {
            address: self.address.clone(),
            detail,
        };
        let mut tls = ClientTlsConfig::from_root_ca_file(&self.tls_ca)
            .map_err(|e| connect_error(e.to_string()))?;
        if let Some((cert, key)) = &self.client_cert {
            tls = tls
                .with_client_cert_files(cert, key)
                .map_err(|e| connect_error(e.to_string()))?;
        }
        let config = ClientConfig {
            tls: Some(tls),
            ..Default::default()
        };
        weft_comm::connect(&self.address, &config)
            .await
            .map_err(|e| connect_error(e.to_string()))
    }
}

/// A connection to one peer: proposals and filtered block events.
#[derive(Clone)]
pub struct PeerClient {
    pub address: String,
    endorser: EndorserClient<Channel>,
    deliver: DeliverClient<Channel>,
}

impl PeerClient {
    pub async fn connect(endpoint: &Endpoint) -> Result<Self> {
        let channel = endpoint.channel().await?;
        Ok(PeerClient {
            address: endpoint.address.clone(),
            endorser: EndorserClient::new(channel.clone()).with_fabric_message_limits(),
            deliver: DeliverClient::new(channel).with_fabric_message_limits(),
        })
    }

    /// Sends a signed proposal and returns the peer's response, failing on a transport error
    /// or a response status of 400 and above (as the `peer` CLI does).
    pub async fn propose(
        &self,
        signed: fabric_protos::peer::SignedProposal,
        what: &str,
    ) -> Result<ProposalResponse> {
        let mut endorser = self.endorser.clone();
        let call = endorser.process_proposal(signed);
        let response = tokio::time::timeout(RPC_TIMEOUT, call)
            .await
            .map_err(|_| DevnetError::Timeout {
                what: format!("{what} on {}", self.address),
                seconds: RPC_TIMEOUT.as_secs(),
            })?
            .map_err(DevnetError::rpc(format!("{what} on {}", self.address)))?
            .into_inner();
        let (status, message) = response
            .response
            .as_ref()
            .map_or((0, String::new()), |r| (r.status, r.message.clone()));
        if !(200..400).contains(&status) {
            return Err(DevnetError::Refused {
                what: format!("{what} on {}", self.address),
                status,
                message,
            });
        }
        Ok(response)
    }

    /// Waits until `tx_id` appears in a block of `channel_id` on this peer and returns its
    /// block number, or an error if it was committed invalid. Reads filtered blocks from
    /// `start_block` on.
    pub async fn wait_for_tx(
        &self,
        signer: &Signer,
        channel_id: &str,
        tx_id: &str,
        start_block: u64,
    ) -> Result<u64> {
        let seek = SeekInfo {
            start: Some(SeekPosition {
                r#type: Some(seek_position::Type::Specified(
                    fabric_protos::orderer::SeekSpecified {
                        number: start_block,
                    },
                )),
            }),
            stop: Some(SeekPosition {
                r#type: Some(seek_position::Type::Specified(
                    fabric_protos::orderer::SeekSpecified { number: u64::MAX },
                )),
            }),
            behavior: seek_info::SeekBehavior::BlockUntilReady as i32,
            ..Default::default()
        };
        let envelope = seek_envelope(signer, channel_id, &seek)?;
        let mut deliver = self.deliver.clone();
        let what = format!("transaction {tx_id} to commit on {}", self.address);
        let wait = async {
            let mut stream = deliver
                .deliver_filtered(futures::stream::iter([envelope]))
                .await
                .map_err(DevnetError::rpc(format!(
                    "DeliverFiltered on {}",
                    self.address
                )))?
                .into_inner();
            while let Some(message) = stream.next().await {
                let message = message.map_err(DevnetError::rpc(format!(
                    "DeliverFiltered on {}",
                    self.address
                )))?;
                match message.r#type {
                    Some(deliver_response::Type::FilteredBlock(block)) => {
                        if let Some(tx) =
                            block.filtered_transactions.iter().find(|t| t.txid == tx_id)
                        {
                            if tx.tx_validation_code != TxValidationCode::Valid as i32 {
                                let code = TxValidationCode::try_from(tx.tx_validation_code)
                                    .map(|c| c.as_str_name().to_owned())
                                    .unwrap_or_else(|_| tx.tx_validation_code.to_string());
                                return Err(DevnetError::Invalid {
                                    tx_id: tx_id.to_owned(),
                                    code,
                                    block: block.number,
                                });
                            }
                            return Ok(block.number);
                        }
                    }
                    Some(deliver_response::Type::Status(status)) => {
                        return Err(DevnetError::Refused {
                            what: what.clone(),
                            status,
                            message: "deliver stream ended".into(),
                        });
                    }
                    _ => {}
                }
            }
            Err(DevnetError::Setup(format!(
                "the deliver stream of {} closed before {tx_id} committed",
                self.address
            )))
        };
        tokio::time::timeout(COMMIT_TIMEOUT, wait)
            .await
            .map_err(|_| DevnetError::Timeout {
                what,
                seconds: COMMIT_TIMEOUT.as_secs(),
            })?
    }
}

/// A connection to one orderer's Broadcast service.
#[derive(Clone)]
pub struct OrdererClient {
    pub address: String,
    broadcast: AtomicBroadcastClient<Channel>,
}

impl OrdererClient {
    pub async fn connect(endpoint: &Endpoint) -> Result<Self> {
        let channel = endpoint.channel().await?;
        Ok(OrdererClient {
            address: endpoint.address.clone(),
            broadcast: AtomicBroadcastClient::new(channel).with_fabric_message_limits(),
        })
    }

    /// Sends one envelope and waits for the orderer's answer; anything but SUCCESS is an error.
    pub async fn broadcast(&self, envelope: Envelope) -> Result<()> {
        let what = format!("Broadcast to {}", self.address);
        let mut client = self.broadcast.clone();
        let call = async {
            let mut answers = client
                .broadcast(futures::stream::iter([envelope]))
                .await
                .map_err(DevnetError::rpc(what.clone()))?
                .into_inner();
            match answers.next().await {
                Some(Ok(answer)) if answer.status == Status::Success as i32 => Ok(()),
                Some(Ok(answer)) => Err(DevnetError::Refused {
                    what: what.clone(),
                    status: answer.status,
                    message: answer.info,
                }),
                Some(Err(status)) => Err(DevnetError::rpc(what.clone())(status)),
                None => Err(DevnetError::Setup(format!(
                    "{what}: the orderer closed the stream without an answer"
                ))),
            }
        };
        tokio::time::timeout(RPC_TIMEOUT, call)
            .await
            .map_err(|_| DevnetError::Timeout {
                what: what.clone(),
                seconds: RPC_TIMEOUT.as_secs(),
            })?
    }
}

/// Builds and signs a proposal for `invocation` by `signer`.
pub fn signed_proposal(
    signer: &Signer,
    invocation: &Invocation,
) -> Result<(
    fabric_protos::peer::Proposal,
    fabric_protos::peer::SignedProposal,
    String,
)> {
    let nonce = random_nonce()?;
    let unsigned = chaincode_proposal(invocation, &signer.creator(), &nonce, now());
    let signed = sign_proposal(&unsigned.proposal, |m| signer.sign(m))?;
    Ok((unsigned.proposal, signed, unsigned.tx_id))
}

/// Evaluates a proposal on one peer (no transaction): queries and channel-less calls.
pub async fn evaluate(
    peer: &PeerClient,
    signer: &Signer,
    invocation: &Invocation,
    what: &str,
) -> Result<Vec<u8>> {
    let (_, signed, _) = signed_proposal(signer, invocation)?;
    let response = peer.propose(signed, what).await?;
    Ok(response.response.map(|r| r.payload).unwrap_or_default())
}

/// Endorses `invocation` on every peer in `endorsers`, orders the transaction and waits until
/// each peer in `committers` has committed it as valid. Returns the transaction id.
pub async fn submit(
    signer: &Signer,
    invocation: &Invocation,
    endorsers: &[&PeerClient],
    orderer: &OrdererClient,
    committers: &[&PeerClient],
    what: &str,
) -> Result<String> {
    let (proposal, signed, tx_id) = signed_proposal(signer, invocation)?;
    let mut responses = Vec::with_capacity(endorsers.len());
    for peer in endorsers {
        responses.push(peer.propose(signed.clone(), what).await?);
    }
    let envelope =
        signed_transaction(&proposal, &responses, &signer.creator(), |m| signer.sign(m))?;
    // Start watching before ordering so that a fast commit is not missed: the deliver stream
    // starts at the current height, which the transaction cannot be below.
    let mut waits = Vec::with_capacity(committers.len());
    for peer in committers {
        let peer = (*peer).clone();
        let signer = signer.clone();
        let channel = invocation.channel_id.clone();
        let tx = tx_id.clone();
        waits.push(tokio::spawn(async move {
            peer.wait_for_tx(&signer, &channel, &tx, 0).await
        }));
    }
    orderer.broadcast(envelope).await?;
    for wait in waits {
        wait.await
            .map_err(|e| DevnetError::Setup(format!("commit watcher failed: {e}")))??;
    }
    Ok(tx_id)
}

/// A signed DELIVER_SEEK_INFO envelope for `channel_id`.
pub fn seek_envelope(signer: &Signer, channel_id: &str, seek: &SeekInfo) -> Result<Envelope> {
    use fabric_protos::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
    let (seconds, nanos) = now();
    let channel_header = ChannelHeader {
        r#type: HeaderType::DeliverSeekInfo as i32,
        channel_id: channel_id.to_owned(),
        timestamp: Some(prost_types::Timestamp { seconds, nanos }),
        ..Default::default()
    };
    let signature_header = SignatureHeader {
        creator: signer.creator(),
        nonce: random_nonce()?,
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: signature_header.encode_to_vec(),
        }),
        data: seek.encode_to_vec(),
    };
    let payload = payload.encode_to_vec();
    let signature = signer.sign(&payload).map_err(DevnetError::Setup)?;
    Ok(Envelope { payload, signature })
}

fn random_nonce() -> Result<Vec<u8>> {
    let mut nonce = vec![0u8; weft_protoutil::proposal::NONCE_BYTES];
    openssl::rand::rand_bytes(&mut nonce)
        .map_err(|e| DevnetError::Setup(format!("no randomness for a nonce: {e}")))?;
    Ok(nonce)
}

fn now() -> (i64, i32) {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (
        i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX),
        i32::try_from(elapsed.subsec_nanos()).unwrap_or(0),
    )
}
