//! Reading a signed proposal and assembling the transaction from its endorsements.

use fabric_protos::common::ChannelHeader;
use fabric_protos::common::{Envelope, Header, Payload};
use fabric_protos::protos::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeEndorsedAction, ChaincodeInvocationSpec,
    ChaincodeProposalPayload, Proposal, ProposalResponse, ProposalResponsePayload, SignedProposal,
    Transaction, TransactionAction,
};
use prost::Message;

/// The parts of a proposal the gateway routes by.
pub struct ProposalInfo {
    pub channel: String,
    pub chaincode: String,
    pub has_transient_data: bool,
    pub header: Header,
    pub payload: ChaincodeProposalPayload,
}

fn decode<M: Message + Default>(what: &str, bytes: &[u8]) -> Result<M, String> {
    M::decode(bytes).map_err(|e| format!("error unmarshalling {what}: {e}"))
}

/// Parses the proposal (Fabric `getChannelAndChaincodeFromSignedProposal`).
pub fn parse(signed: Option<&SignedProposal>) -> Result<ProposalInfo, String> {
    let bytes = signed
        .map(|s| s.proposal_bytes.as_slice())
        .unwrap_or_default();
    if bytes.is_empty() {
        return Err("a signed proposal is required".into());
    }
    let proposal: Proposal = decode("Proposal", bytes)?;
    let header: Header = decode("Header", &proposal.header)?;
    let channel_header: ChannelHeader = decode("ChannelHeader", &header.channel_header)?;
    let payload: ChaincodeProposalPayload = decode("ChaincodeProposalPayload", &proposal.payload)?;
    let spec: ChaincodeInvocationSpec = decode("ChaincodeInvocationSpec", &payload.input)?;
    let channel = channel_header.channel_id;
    if channel.is_empty() {
        return Err("no channel id provided".into());
    }
    let Some(cc_spec) = spec.chaincode_spec else {
        return Err(format!(
            "no chaincode spec is provided, channel id [{channel}]"
        ));
    };
    let Some(cc_id) = cc_spec.chaincode_id else {
        return Err(format!(
            "no chaincode id is provided, channel id [{channel}]"
        ));
    };
    if cc_id.name.is_empty() {
        return Err(format!(
            "no chaincode name is provided, channel id [{channel}]"
        ));
    }
    Ok(ProposalInfo {
        channel,
        chaincode: cc_id.name,
        has_transient_data: !payload.transient_map.is_empty(),
        header,
        payload,
    })
}

/// The chaincode's result inside a successful proposal response.
pub fn result_payload(response: &ProposalResponse) -> Result<Vec<u8>, String> {
    let prp: ProposalResponsePayload = decode("ProposalResponsePayload", &response.payload)
        .map_err(|e| format!("failed to deserialize proposal response payload: {e}"))?;
    let action: ChaincodeAction = decode("ChaincodeAction", &prp.extension)
        .map_err(|e| format!("failed to deserialize chaincode action: {e}"))?;
    Ok(action.response.map(|r| r.payload).unwrap_or_default())
}

/// The unsigned transaction envelope carrying the endorsed action (Fabric
/// `prepareTransaction`); the transient map never leaves the gateway.
pub fn prepare_transaction(
    header: &Header,
    payload: &ChaincodeProposalPayload,
    response_payload: Vec<u8>,
    endorsements: Vec<fabric_protos::protos::Endorsement>,
) -> Envelope {
    let without_transient = ChaincodeProposalPayload {
        input: payload.input.clone(),
        transient_map: Default::default(),
    };
    let action_payload = ChaincodeActionPayload {
        chaincode_proposal_payload: without_transient.encode_to_vec(),
        action: Some(ChaincodeEndorsedAction {
            proposal_response_payload: response_payload,
            endorsements,
        }),
    };
    let tx = Transaction {
        actions: vec![TransactionAction {
            header: header.signature_header.clone(),
            payload: action_payload.encode_to_vec(),
        }],
    };
    let payload = Payload {
        header: Some(header.clone()),
        data: tx.encode_to_vec(),
    };
    Envelope {
        payload: payload.encode_to_vec(),
        signature: Vec::new(),
    }
}
