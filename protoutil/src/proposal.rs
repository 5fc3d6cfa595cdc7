//! Client-side assembly of chaincode proposals and of the transactions built from their
//! endorsements, as Fabric's clients (the `peer` CLI, the Gateway) assemble them, plus the proposal
//! hash an endorser signs over.
//!
//! Shapes follow Fabric's `protoutil` (`CreateChaincodeProposalWithTxIDNonceAndTransient`,
//! `GetProposalHash1`, `CreateSignedTx`): the transaction carries the proposal payload without
//! its transient map, endorsements are de-duplicated by endorser, and every response must carry
//! identical payload bytes.

use std::collections::BTreeMap;

use fabric_protos::common::{
    ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader,
};
use fabric_protos::peer::{
    ChaincodeActionPayload, ChaincodeEndorsedAction, ChaincodeHeaderExtension, ChaincodeId,
    ChaincodeInput, ChaincodeInvocationSpec, ChaincodeProposalPayload, ChaincodeSpec, Endorsement,
    Proposal, ProposalResponse, SignedProposal, Transaction, TransactionAction,
};
use prost::Message;

use crate::envelope::{DecodeError, decode};

/// Length of the random nonce in a signature header (Fabric uses 24 bytes).
pub const NONCE_BYTES: usize = 24;

/// Failures while assembling a transaction from proposal responses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AssemblyError {
    #[error("at least one proposal response is required")]
    NoResponses,
    #[error("proposal response was not successful, error code {status}, msg {message}")]
    Unsuccessful { status: i32, message: String },
    #[error("ProposalResponsePayloads do not match: the endorsers simulated different results")]
    PayloadMismatch,
    #[error("no endorsements")]
    NoEndorsements,
    #[error("signer must be the same as the one referenced in the header")]
    SignerMismatch,
    #[error("signing failed: {0}")]
    Signing(String),
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// What to invoke: a chaincode function with its arguments on a channel (empty channel for
/// channel-less system calls such as `cscc JoinChain` or `_lifecycle InstallChaincode`).
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    pub channel_id: String,
    pub chaincode: String,
    pub args: Vec<Vec<u8>>,
    pub transient: BTreeMap<String, Vec<u8>>,
}

/// A proposal ready to sign, with its transaction id.
#[derive(Debug, Clone)]
pub struct UnsignedProposal {
    pub proposal: Proposal,
    pub tx_id: String,
}

/// Builds an endorser-transaction proposal for `invocation`, created by `creator` (serialized
/// identity bytes) with `nonce`, at `timestamp` (seconds, nanos since the Unix epoch).
pub fn chaincode_proposal(
    invocation: &Invocation,
    creator: &[u8],
    nonce: &[u8],
    timestamp: (i64, i32),
) -> UnsignedProposal {
    let tx_id = crate::compute_txid(nonce, creator);
    let chaincode_id = ChaincodeId {
        name: invocation.chaincode.clone(),
        ..Default::default()
    };
    let spec = ChaincodeInvocationSpec {
        chaincode_spec: Some(ChaincodeSpec {
            // The peer CLI marks every spec GOLANG; the Gateway SDKs leave it undefined. Peers ignore it.
            r#type: 0,
            chaincode_id: Some(chaincode_id.clone()),
            input: Some(ChaincodeInput {
                args: invocation.args.clone(),
                ..Default::default()
            }),
            timeout: 0,
        }),
    };
    let payload = ChaincodeProposalPayload {
        input: spec.encode_to_vec(),
        transient_map: invocation.transient.clone(),
    };
    let channel_header = ChannelHeader {
        r#type: HeaderType::EndorserTransaction as i32,
        version: 0,
        timestamp: Some(prost_types_timestamp(timestamp)),
        channel_id: invocation.channel_id.clone(),
        tx_id: tx_id.clone(),
        epoch: 0,
        extension: ChaincodeHeaderExtension {
            chaincode_id: Some(chaincode_id),
        }
        .encode_to_vec(),
        tls_cert_hash: Vec::new(),
    };
    let signature_header = SignatureHeader {
        creator: creator.to_vec(),
        nonce: nonce.to_vec(),
    };
    let header = Header {
        channel_header: channel_header.encode_to_vec(),
        signature_header: signature_header.encode_to_vec(),
    };
    let proposal = Proposal {
        header: header.encode_to_vec(),
        payload: payload.encode_to_vec(),
        extension: Vec::new(),
    };
    UnsignedProposal { proposal, tx_id }
}

/// Signs the proposal bytes with `sign`.
pub fn sign_proposal<E: std::fmt::Display>(
    proposal: &Proposal,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<SignedProposal, AssemblyError> {
    let proposal_bytes = proposal.encode_to_vec();
    let signature = sign(&proposal_bytes).map_err(|e| AssemblyError::Signing(e.to_string()))?;
    Ok(SignedProposal {
        proposal_bytes,
        signature,
    })
}

/// The bytes of a proposal payload as they go into a transaction: the transient map removed.
pub fn proposal_payload_for_tx(payload: &ChaincodeProposalPayload) -> Vec<u8> {
    ChaincodeProposalPayload {
        input: payload.input.clone(),
        transient_map: BTreeMap::new(),
    }
    .encode_to_vec()
}

/// The hash an endorser puts in `ProposalResponsePayload.proposal_hash`: SHA-256 over the
/// channel header bytes, the signature header bytes and the proposal payload without transient
/// data (Fabric's `GetProposalHash1`).
pub fn proposal_hash(header: &Header, proposal_payload: &[u8]) -> Result<[u8; 32], DecodeError> {
    let payload: ChaincodeProposalPayload = decode("chaincode proposal payload", proposal_payload)?;
    let mut hasher = openssl::sha::Sha256::new();
    hasher.update(&header.channel_header);
    hasher.update(&header.signature_header);
    hasher.update(&proposal_payload_for_tx(&payload));
    Ok(hasher.finish())
}

/// Builds and signs the transaction envelope for `proposal` from its endorsements, as Fabric's
/// `CreateSignedTx`: every response must be successful (200..400) with identical payload bytes;
/// endorsements are kept once per endorser; `signer_creator` must be the proposal's creator.
pub fn signed_transaction<E: std::fmt::Display>(
    proposal: &Proposal,
    responses: &[ProposalResponse],
    signer_creator: &[u8],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Envelope, AssemblyError> {
    let header: Header = decode("proposal header", &proposal.header)?;
    let proposal_payload: ChaincodeProposalPayload =
        decode("chaincode proposal payload", &proposal.payload)?;
    let signature_header: SignatureHeader = decode("signature header", &header.signature_header)?;
    if signature_header.creator != signer_creator {
        return Err(AssemblyError::SignerMismatch);
    }
    let first = responses.first().ok_or(AssemblyError::NoResponses)?;
    for response in responses {
        let status = response.response.as_ref().map_or(0, |r| r.status);
        if !(200..400).contains(&status) {
            let message = response
                .response
                .as_ref()
                .map(|r| r.message.clone())
                .unwrap_or_default();
            return Err(AssemblyError::Unsuccessful { status, message });
        }
        if response.payload != first.payload {
            return Err(AssemblyError::PayloadMismatch);
        }
    }
    let endorsements = unique_endorsements(responses);
    if endorsements.is_empty() {
        return Err(AssemblyError::NoEndorsements);
    }
    let action_payload = ChaincodeActionPayload {
        chaincode_proposal_payload: proposal_payload_for_tx(&proposal_payload),
        action: Some(ChaincodeEndorsedAction {
            proposal_response_payload: first.payload.clone(),
            endorsements,
        }),
    };
    let transaction = Transaction {
        actions: vec![TransactionAction {
            header: header.signature_header.clone(),
            payload: action_payload.encode_to_vec(),
        }],
    };
    let payload = Payload {
        header: Some(header),
        data: transaction.encode_to_vec(),
    };
    let payload_bytes = payload.encode_to_vec();
    let signature = sign(&payload_bytes).map_err(|e| AssemblyError::Signing(e.to_string()))?;
    Ok(Envelope {
        payload: payload_bytes,
        signature,
    })
}

fn unique_endorsements(responses: &[ProposalResponse]) -> Vec<Endorsement> {
    let mut seen = std::collections::BTreeSet::new();
    responses
        .iter()
        .filter_map(|r| r.endorsement.as_ref())
        .filter(|e| seen.insert(e.endorser.clone()))
        .cloned()
        .collect()
}

fn prost_types_timestamp((seconds, nanos): (i64, i32)) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::peer::{ProposalResponsePayload, Response};

    fn invocation() -> Invocation {
        Invocation {
            channel_id: "mychannel".into(),
            chaincode: "basic".into(),
            args: vec![b"ReadAsset".to_vec(), b"asset1".to_vec()],
            transient: BTreeMap::from([("secret".to_owned(), b"s3cret".to_vec())]),
        }
    }

    fn response(payload: &[u8], endorser: &[u8], status: i32) -> ProposalResponse {
        ProposalResponse {
            response: Some(Response {
                status,
                ..Default::default()
            }),
            payload: payload.to_vec(),
            endorsement: Some(Endorsement {
                endorser: endorser.to_vec(),
                signature: b"sig".to_vec(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn proposal_carries_txid_of_nonce_and_creator() {
        let p = chaincode_proposal(
            &invocation(),
            b"creator",
            &[7; NONCE_BYTES],
            (1_700_000_000, 5),
        );
        let header: Header = decode("h", &p.proposal.header).unwrap();
        let ch: ChannelHeader = decode("ch", &header.channel_header).unwrap();
        assert_eq!(ch.tx_id, crate::compute_txid(&[7; NONCE_BYTES], b"creator"));
        assert_eq!(ch.tx_id, p.tx_id);
        assert_eq!(ch.channel_id, "mychannel");
        assert_eq!(ch.r#type, HeaderType::EndorserTransaction as i32);
        let ext = ChaincodeHeaderExtension::decode(ch.extension.as_slice()).unwrap();
        assert_eq!(ext.chaincode_id.unwrap().name, "basic");
    }

    // Fabric's GetProposalHash1 ignores the transient map: two proposals that differ only in
    // transient data hash the same.
    #[test]
    fn proposal_hash_ignores_transient_data() {
        let a = chaincode_proposal(&invocation(), b"c", &[1; NONCE_BYTES], (1, 0)).proposal;
        let mut other = invocation();
        other.transient.clear();
        let b = chaincode_proposal(&other, b"c", &[1; NONCE_BYTES], (1, 0)).proposal;
        let header: Header = decode("h", &a.header).unwrap();
        assert_ne!(a.payload, b.payload);
        assert_eq!(
            proposal_hash(&header, &a.payload).unwrap(),
            proposal_hash(&header, &b.payload).unwrap()
        );
    }

    #[test]
    fn signed_transaction_strips_transient_and_dedups_endorsers() {
        let p = chaincode_proposal(&invocation(), b"c", &[1; NONCE_BYTES], (1, 0)).proposal;
        let prp = ProposalResponsePayload {
            proposal_hash: vec![1],
            extension: vec![2],
        }
        .encode_to_vec();
        let responses = [
            response(&prp, b"org1", 200),
            response(&prp, b"org1", 200),
            response(&prp, b"org2", 200),
        ];
        let env =
            signed_transaction(&p, &responses, b"c", |m| Ok::<_, String>(m[..4].to_vec())).unwrap();
        assert_eq!(env.signature, env.payload[..4].to_vec());
        let payload: Payload = decode("p", &env.payload).unwrap();
        let tx: Transaction = decode("t", &payload.data).unwrap();
        let cap: ChaincodeActionPayload = decode("cap", &tx.actions[0].payload).unwrap();
        let cpp: ChaincodeProposalPayload = decode("cpp", &cap.chaincode_proposal_payload).unwrap();
        assert!(cpp.transient_map.is_empty());
        let action = cap.action.unwrap();
        assert_eq!(action.endorsements.len(), 2);
        assert_eq!(action.proposal_response_payload, prp);
    }

    #[test]
    fn signed_transaction_refuses_mismatch_failure_and_wrong_signer() {
        let p = chaincode_proposal(&invocation(), b"c", &[1; NONCE_BYTES], (1, 0)).proposal;
        let ok = |m: &[u8]| Ok::<_, String>(m.to_vec());
        let mismatch = [response(b"a", b"o1", 200), response(b"b", b"o2", 200)];
        assert_eq!(
            signed_transaction(&p, &mismatch, b"c", ok),
            Err(AssemblyError::PayloadMismatch)
        );
        let failed = [response(b"a", b"o1", 500)];
        assert!(matches!(
            signed_transaction(&p, &failed, b"c", ok),
            Err(AssemblyError::Unsuccessful { status: 500, .. })
        ));
        assert_eq!(
            signed_transaction(&p, &[response(b"a", b"o1", 200)], b"x", ok),
            Err(AssemblyError::SignerMismatch)
        );
        assert_eq!(
            signed_transaction(&p, &[], b"c", ok),
            Err(AssemblyError::NoResponses)
        );
    }
}
