//! The `protos.Endorser` gRPC service. Proposals go to a [`ProposalProcessor`]; until the
//! endorser crate serves chaincodes, [`SystemProposals`] runs the peer's own system chaincodes
//! (cscc, qscc) without simulation or endorsement, as Fabric's endorser answers channel-less
//! cscc calls.

use std::collections::BTreeMap;
use std::sync::Arc;

use fabric_protos::protos::endorser_server::Endorser;
use fabric_protos::protos::{ProposalResponse, Response as ProtoResponse, SignedProposal};
use weft_chaincode_api::{Chaincode, Response};

use crate::channels::ChannelManager;
use crate::proposal;
use crate::scc::ContextStub;

/// Turns a signed proposal into a proposal response; failures are responses with status 500
/// and a message, as Fabric's endorser returns them.
pub trait ProposalProcessor: Send + Sync {
    fn process(&self, signed: SignedProposal) -> ProposalResponse;
}

/// Chaincodes the peer runs in process, by name.
pub type SystemChaincodes = BTreeMap<String, Arc<dyn Chaincode>>;

/// Runs system chaincodes directly (no transaction simulation, no endorsement).
pub struct SystemProposals {
    chaincodes: SystemChaincodes,
    channels: Arc<ChannelManager>,
}

impl SystemProposals {
    pub fn new(chaincodes: SystemChaincodes, channels: Arc<ChannelManager>) -> Self {
        Self {
            chaincodes,
            channels,
        }
    }

    fn run(&self, signed: &SignedProposal) -> Result<Response, String> {
        let parsed = proposal::parse(signed)?;
        let header = &parsed.channel_header;
        let creator = &parsed.signature_header.creator;
        if parsed.signature_header.nonce.is_empty() || creator.is_empty() {
            return Err("invalid signature header: nonce and creator must be set".into());
        }
        let expected = weft_protoutil::compute_txid(&parsed.signature_header.nonce, creator);
        if header.tx_id != expected {
            return Err(format!(
                "incorrectly computed txid '{}' -- expected '{expected}'",
                header.tx_id
            ));
        }
        let chaincode = self
            .chaincodes
            .get(&parsed.chaincode_name)
            .ok_or_else(|| {
                format!(
                    "make sure the chaincode {} has been successfully defined on channel {} and try again: chaincode {} not found",
                    parsed.chaincode_name, header.channel_id, parsed.chaincode_name
                )
            })?;
        if !header.channel_id.is_empty()
            && self
                .channels
                .get(&header.channel_id)
                .ok()
                .flatten()
                .is_none()
        {
            return Err(format!("channel '{}' not found", header.channel_id));
        }
        let timestamp = header
            .timestamp
            .as_ref()
            .map_or((0, 0), |t| (t.seconds, t.nanos));
        let mut stub = ContextStub {
            channel_id: header.channel_id.clone(),
            tx_id: header.tx_id.clone(),
            args: parsed.args,
            creator: creator.clone(),
            transient: parsed.transient,
            signed_proposal: prost::Message::encode_to_vec(signed),
            timestamp,
            binding: Vec::new(),
        };
        Ok(chaincode.invoke(&mut stub))
    }
}

impl ProposalProcessor for SystemProposals {
    fn process(&self, signed: SignedProposal) -> ProposalResponse {
        let response = match self.run(&signed) {
            Ok(response) if response.is_error() => Response {
                status: weft_chaincode_api::ERROR,
                ..response
            },
            Ok(response) => response,
            Err(message) => Response::error(message),
        };
        ProposalResponse {
            version: 1,
            response: Some(ProtoResponse {
                status: response.status,
                message: response.message,
                payload: response.payload,
            }),
            ..Default::default()
        }
    }
}

/// The gRPC face of a [`ProposalProcessor`]; proposals run on blocking workers because
/// chaincodes are synchronous and may wait for disk.
pub struct EndorserService {
    processor: Arc<dyn ProposalProcessor>,
}

impl EndorserService {
    pub fn new(processor: Arc<dyn ProposalProcessor>) -> Self {
        Self { processor }
    }
}

#[tonic::async_trait]
impl Endorser for EndorserService {
    async fn process_proposal(
        &self,
        request: tonic::Request<SignedProposal>,
    ) -> Result<tonic::Response<ProposalResponse>, tonic::Status> {
        let signed = request.into_inner();
        let processor = self.processor.clone();
        let response = tokio::task::spawn_blocking(move || processor.process(signed))
            .await
            .map_err(|e| tonic::Status::internal(format!("proposal processing failed: {e}")))?;
        Ok(tonic::Response::new(response))
    }
}
