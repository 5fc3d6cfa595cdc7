//! Unpacking and checking a signed proposal, as Fabric's endorser does (F25
//! core/endorser/msgvalidation.go `UnpackProposal` and `Validate`). Messages match Go's.

use fabric_protos::common::{ChannelHeader, Header, HeaderType, SignatureHeader};
use fabric_protos::protos::{
    ChaincodeHeaderExtension, ChaincodeInput, ChaincodeInvocationSpec, ChaincodeProposalPayload,
    Proposal, SignedProposal,
};
use prost::Message;
use weft_msp::IdentityDeserializer;

use crate::error::ProposalRejected;

/// The parts of a proposal the endorser works with; every field is present once unpacked.
#[derive(Debug, Clone)]
pub struct UnpackedProposal {
    pub signed: SignedProposal,
    pub proposal: Proposal,
    pub channel_header: ChannelHeader,
    pub signature_header: SignatureHeader,
    pub chaincode_name: String,
    pub input: ChaincodeInput,
    pub transient: std::collections::BTreeMap<String, Vec<u8>>,
    /// SHA-256 over channel header, signature header and the payload without transient data.
    pub proposal_hash: Vec<u8>,
}

fn decode<M: Message + Default>(what: &str, bytes: &[u8]) -> Result<M, ProposalRejected> {
    M::decode(bytes).map_err(|e| ProposalRejected::new(format!("error unmarshalling {what}: {e}")))
}

impl UnpackedProposal {
    /// Decodes every layer of `signed` (Go's `UnpackProposal`).
    pub fn unpack(signed: SignedProposal) -> Result<Self, ProposalRejected> {
        let proposal: Proposal = decode("Proposal", &signed.proposal_bytes)?;
        let header: Header = decode("Header", &proposal.header)?;
        let channel_header: ChannelHeader = decode("ChannelHeader", &header.channel_header)?;
        let signature_header: SignatureHeader =
            decode("SignatureHeader", &header.signature_header)?;
        let extension: ChaincodeHeaderExtension =
            decode("ChaincodeHeaderExtension", &channel_header.extension)?;
        let chaincode_id = extension
            .chaincode_id
            .ok_or_else(|| ProposalRejected::new("ChaincodeHeaderExtension.ChaincodeId is nil"))?;
        if chaincode_id.name.is_empty() {
            return Err(ProposalRejected::new(
                "ChaincodeHeaderExtension.ChaincodeId.Name is empty",
            ));
        }
        let payload: ChaincodeProposalPayload =
            decode("ChaincodeProposalPayload", &proposal.payload)?;
        let invocation: ChaincodeInvocationSpec =
            decode("ChaincodeInvocationSpec", &payload.input)?;
        let spec = invocation.chaincode_spec.ok_or_else(|| {
            ProposalRejected::new("chaincode invocation spec did not contain chaincode spec")
        })?;
        let input = spec
            .input
            .ok_or_else(|| ProposalRejected::new("chaincode input did not contain any input"))?;
        let proposal_hash = proposal_hash(&header, &payload.input);
        Ok(UnpackedProposal {
            signed,
            proposal,
            channel_header,
            signature_header,
            chaincode_name: chaincode_id.name,
            input,
            transient: payload.transient_map,
            proposal_hash,
        })
    }

    pub fn channel_id(&self) -> &str {
        &self.channel_header.channel_id
    }

    pub fn tx_id(&self) -> &str {
        &self.channel_header.tx_id
    }

    pub fn creator(&self) -> &[u8] {
        &self.signature_header.creator
    }

    /// Header type, epoch, nonce, creator, transaction ID, then the creator's identity and
    /// signature against `identities` (Go's `UnpackedProposal.Validate`).
    pub fn validate(&self, identities: &dyn IdentityDeserializer) -> Result<(), ProposalRejected> {
        let header_type = self.channel_header.r#type;
        if header_type != HeaderType::EndorserTransaction as i32
            && header_type != HeaderType::Config as i32
        {
            return Err(ProposalRejected::new(format!(
                "invalid header type {}",
                header_type_name(header_type)
            )));
        }
        if self.channel_header.epoch != 0 {
            return Err(ProposalRejected::new("epoch is non-zero"));
        }
        if self.signature_header.nonce.is_empty() {
            return Err(ProposalRejected::new("nonce is empty"));
        }
        if self.signature_header.creator.is_empty() {
            return Err(ProposalRejected::new("creator is empty"));
        }
        let expected = weft_protoutil::compute_txid(&self.signature_header.nonce, self.creator());
        if self.tx_id() != expected {
            return Err(ProposalRejected::new(format!(
                "incorrectly computed txid '{}' -- expected '{expected}'",
                self.tx_id()
            )));
        }
        if self.signed.proposal_bytes.is_empty() {
            return Err(ProposalRejected::new("empty proposal bytes"));
        }
        if self.signed.signature.is_empty() {
            return Err(ProposalRejected::new("empty signature bytes"));
        }
        let channel = self.channel_id();
        let creator = identities
            .deserialize_identity(self.creator())
            .map_err(|e| {
                tracing::warn!(channel, error = %e, "access denied: creator cannot be deserialized");
                ProposalRejected::new(format!(
                    "access denied: channel [{channel}] creator org unknown, creator is malformed"
                ))
            })?;
        let denied = || {
            ProposalRejected::new(format!(
                "access denied: channel [{channel}] creator org [{}]",
                creator.msp_id()
            ))
        };
        if let Err(e) = creator.validate() {
            tracing::warn!(channel, msp_id = creator.msp_id(), error = %e, "access denied: identity is not valid");
            return Err(denied());
        }
        if let Err(e) = creator.verify(&self.signed.proposal_bytes, &self.signed.signature) {
            tracing::warn!(channel, msp_id = creator.msp_id(), error = %e, "access denied: creator's signature over the proposal is not valid");
            return Err(denied());
        }
        Ok(())
    }
}

/// Go prints a header type by its enum name, or its number when it has none.
fn header_type_name(value: i32) -> String {
    HeaderType::try_from(value)
        .map(|t| t.as_str_name().to_owned())
        .unwrap_or_else(|_| value.to_string())
}

/// Fabric's proposal hash: SHA-256 of the channel header bytes, the signature header bytes and
/// the `ChaincodeProposalPayload` re-marshalled without its transient map (F25
/// core/endorser/msgvalidation.go; protoutil GetProposalHash1).
pub fn proposal_hash(header: &Header, payload_input: &[u8]) -> Vec<u8> {
    let without_transient = ChaincodeProposalPayload {
        input: payload_input.to_vec(),
        transient_map: Default::default(),
    };
    let mut data = Vec::with_capacity(
        header.channel_header.len() + header.signature_header.len() + payload_input.len() + 8,
    );
    data.extend_from_slice(&header.channel_header);
    data.extend_from_slice(&header.signature_header);
    data.extend_from_slice(&without_transient.encode_to_vec());
    weft_protoutil::sha256(&data).to_vec()
}
