//! The checks of one transaction that need no ledger state: Fabric v2.5's
//! `validation.ValidateTransaction` (core/common/validation/msgvalidation.go: structure,
//! creator signature, txid) and the structural half of the v20 plugin dispatcher
//! (core/committer/txvalidator/v20/plugindispatcher/dispatcher.go: header extension, action,
//! read-write set, chaincode ids, event, namespaces). They are independent per transaction and
//! run in parallel.
//!
//! Where Go would dereference a missing message and crash the peer (a `ChaincodeActionPayload`
//! without an action), Weft gives INVALID_ENDORSER_TRANSACTION. Fabric checks the creator with
//! the MSPs of the channel named in the transaction; Weft only knows its own channel's, so a
//! transaction naming another channel fails with BAD_CREATOR_SIGNATURE.

use std::collections::BTreeSet;

use fabric_protos::common::{
    ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader,
};
use fabric_protos::protos::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeEvent, ChaincodeHeaderExtension,
    ProposalResponsePayload, Transaction, TxValidationCode,
};
use prost::Message;
use weft_ledger::kv::TxRwSet;
use weft_msp::IdentityDeserializer;
use weft_policy::SignedData;
use weft_protoutil::compute_txid;

/// What a transaction is, once its envelope passed the header checks.
#[derive(Debug)]
pub enum TxBody {
    /// The checks failed before the type mattered.
    None,
    /// A CONFIG transaction: its payload data (a serialized `ConfigEnvelope`).
    Config { config_envelope: Vec<u8> },
    /// An endorser transaction; `Err` holds the code of a failed structural check, which only
    /// applies if the transaction id is not already in the ledger.
    Endorser(Result<Box<EndorserTx>, TxValidationCode>),
}

/// The parts of an endorser transaction validation needs.
#[derive(Debug)]
pub struct EndorserTx {
    /// The invoked chaincode.
    pub chaincode: String,
    pub rwset: TxRwSet,
    /// Namespaces whose endorsement policy applies: the chaincode and every namespace the
    /// read-write set writes (values, metadata, hashed values or hashed metadata).
    pub written_namespaces: BTreeSet<String>,
    /// The endorsements as signed data: `proposal_response_payload | endorser` signed by the
    /// endorser.
    pub endorsements: Vec<SignedData>,
}

/// The outcome of the stateless checks of one transaction.
#[derive(Debug)]
pub struct CheckedTx {
    /// VALID when the envelope passed `ValidateTransaction`.
    pub code: TxValidationCode,
    pub txid: String,
    pub timestamp: Option<prost_types::Timestamp>,
    pub body: TxBody,
}

impl CheckedTx {
    fn invalid(code: TxValidationCode) -> Self {
        Self {
            code,
            txid: String::new(),
            timestamp: None,
            body: TxBody::None,
        }
    }
}

/// Runs the stateless checks on the envelope bytes `raw` of a block of `channel`.
pub fn check_transaction(raw: &[u8], channel: &str, msps: &dyn IdentityDeserializer) -> CheckedTx {
    use TxValidationCode as Code;
    let Ok(envelope) = Envelope::decode(raw) else {
        return CheckedTx::invalid(Code::InvalidOtherReason);
    };
    let Ok(payload) = Payload::decode(envelope.payload.as_slice()) else {
        return CheckedTx::invalid(Code::BadPayload);
    };
    let Some((header, chdr, shdr)) = common_header(&payload) else {
        return CheckedTx::invalid(Code::BadCommonHeader);
    };
    if !creator_signature_ok(&envelope, &chdr, &shdr, channel, msps) {
        return CheckedTx::invalid(Code::BadCreatorSignature);
    }
    let mut checked = CheckedTx {
        code: Code::Valid,
        txid: chdr.tx_id.clone(),
        timestamp: chdr.timestamp,
        body: TxBody::None,
    };
    match HeaderType::try_from(chdr.r#type) {
        Ok(HeaderType::EndorserTransaction) => {
            if compute_txid(&shdr.nonce, &shdr.creator) != chdr.tx_id {
                checked.code = Code::BadProposalTxid;
            } else if !endorser_transaction_ok(&payload.data, header) {
                checked.code = Code::InvalidEndorserTransaction;
            } else {
                checked.body = TxBody::Endorser(dispatch_checks(raw, &chdr).map(Box::new));
            }
        }
        Ok(HeaderType::Config) => {
            if payload.data.is_empty() {
                checked.code = Code::InvalidConfigTransaction;
            } else {
                checked.body = TxBody::Config {
                    config_envelope: payload.data,
                };
            }
        }
        _ => checked.code = Code::UnsupportedTxPayload,
    }
    checked
}

fn common_header(payload: &Payload) -> Option<(&Header, ChannelHeader, SignatureHeader)> {
    let header = payload.header.as_ref()?;
    let chdr = ChannelHeader::decode(header.channel_header.as_slice()).ok()?;
    let shdr = SignatureHeader::decode(header.signature_header.as_slice()).ok()?;
    let known = matches!(
        HeaderType::try_from(chdr.r#type),
        Ok(HeaderType::EndorserTransaction | HeaderType::ConfigUpdate | HeaderType::Config)
    );
    let ok = known && chdr.epoch == 0 && signature_header_ok(&shdr);
    ok.then_some((header, chdr, shdr))
}

fn signature_header_ok(shdr: &SignatureHeader) -> bool {
    !shdr.nonce.is_empty() && !shdr.creator.is_empty()
}

fn creator_signature_ok(
    envelope: &Envelope,
    chdr: &ChannelHeader,
    shdr: &SignatureHeader,
    channel: &str,
    msps: &dyn IdentityDeserializer,
) -> bool {
    if envelope.signature.is_empty() || envelope.payload.is_empty() || chdr.channel_id != channel {
        return false;
    }
    let Ok(creator) = msps.deserialize_identity(&shdr.creator) else {
        return false;
    };
    creator.validate().is_ok()
        && creator
            .verify(&envelope.payload, &envelope.signature)
            .is_ok()
}

/// Fabric's `validateEndorserTransaction`: one action whose proposal response names the hash
/// of this transaction's proposal.
fn endorser_transaction_ok(data: &[u8], header: &Header) -> bool {
    if data.is_empty() {
        return false;
    }
    let Ok(tx) = Transaction::decode(data) else {
        return false;
    };
    let [action] = tx.actions.as_slice() else {
        return false;
    };
    let Ok(shdr) = SignatureHeader::decode(action.header.as_slice()) else {
        return false;
    };
    if !signature_header_ok(&shdr) {
        return false;
    }
    let Ok(cap) = ChaincodeActionPayload::decode(action.payload.as_slice()) else {
        return false;
    };
    let Some(endorsed) = cap.action.as_ref() else {
        return false;
    };
    let Ok(prp) = ProposalResponsePayload::decode(endorsed.proposal_response_payload.as_slice())
    else {
        return false;
    };
    let mut hasher = openssl::sha::Sha256::new();
    hasher.update(&header.channel_header);
    hasher.update(&action.header);
    hasher.update(&cap.chaincode_proposal_payload);
    hasher.finish().as_slice() == prp.proposal_hash.as_slice()
}

/// The stateless part of the v20 dispatcher, in Fabric's order.
fn dispatch_checks(raw: &[u8], chdr: &ChannelHeader) -> Result<EndorserTx, TxValidationCode> {
    use TxValidationCode as Code;
    let extension = ChaincodeHeaderExtension::decode(chdr.extension.as_slice())
        .map_err(|_| Code::BadHeaderExtension)?;
    let (action, prp_bytes, endorsements) =
        chaincode_action(raw).ok_or(Code::BadResponsePayload)?;
    let rwset = TxRwSet::decode_bytes(&action.results).map_err(|_| Code::BadRwset)?;
    let header_cc = extension.chaincode_id.ok_or(Code::InvalidOtherReason)?;
    let action_cc = action.chaincode_id.ok_or(Code::InvalidOtherReason)?;
    if header_cc.name.is_empty() || header_cc.name != action_cc.name || action_cc.version.is_empty()
    {
        return Err(Code::InvalidChaincode);
    }
    let chaincode = header_cc.name;
    if !action.events.is_empty() {
        let event = ChaincodeEvent::decode(action.events.as_slice())
            .map_err(|_| Code::InvalidOtherReason)?;
        if event.chaincode_id != chaincode {
            return Err(Code::InvalidOtherReason);
        }
    }
    let mut written_namespaces = BTreeSet::from([chaincode.clone()]);
    let mut seen = BTreeSet::new();
    for ns in &rwset.ns_rwsets {
        if !seen.insert(ns.namespace.as_str()) {
            return Err(Code::IllegalWriteset);
        }
        if writes_to_namespace(ns) {
            written_namespaces.insert(ns.namespace.clone());
        }
    }
    let endorsements = endorsements
        .into_iter()
        .map(|e| {
            let mut data = Vec::with_capacity(prp_bytes.len() + e.endorser.len());
            data.extend_from_slice(&prp_bytes);
            data.extend_from_slice(&e.endorser);
            SignedData {
                data,
                identity: e.endorser,
                signature: e.signature,
            }
        })
        .collect();
    Ok(EndorserTx {
        chaincode,
        rwset,
        written_namespaces,
        endorsements,
    })
}

type ActionParts = (
    ChaincodeAction,
    Vec<u8>,
    Vec<fabric_protos::protos::Endorsement>,
);

/// Fabric's `GetActionFromEnvelope`, also returning the proposal response payload bytes and
/// the endorsements.
fn chaincode_action(raw: &[u8]) -> Option<ActionParts> {
    let envelope = Envelope::decode(raw).ok()?;
    let payload = Payload::decode(envelope.payload.as_slice()).ok()?;
    let tx = Transaction::decode(payload.data.as_slice()).ok()?;
    let first = tx.actions.into_iter().next()?;
    let cap = ChaincodeActionPayload::decode(first.payload.as_slice()).ok()?;
    let endorsed = cap.action?;
    if endorsed.proposal_response_payload.is_empty() {
        return None;
    }
    let prp =
        ProposalResponsePayload::decode(endorsed.proposal_response_payload.as_slice()).ok()?;
    if prp.extension.is_empty() {
        return None;
    }
    let action = ChaincodeAction::decode(prp.extension.as_slice()).ok()?;
    Some((
        action,
        endorsed.proposal_response_payload,
        endorsed.endorsements,
    ))
}

fn writes_to_namespace(ns: &weft_ledger::kv::NsRwSet) -> bool {
    !ns.kv.writes.is_empty()
        || !ns.kv.metadata_writes.is_empty()
        || ns
            .collections
            .iter()
            .any(|c| !c.hashed.hashed_writes.is_empty() || !c.hashed.metadata_writes.is_empty())
}

/// What a committed transaction wrote, read back from its envelope when state or history is
/// rebuilt from stored blocks: the endorser transaction's read-write set, or the config write of
/// a config transaction. `None` for anything else or anything that does not decode.
pub(crate) fn committed_writes(raw: &[u8]) -> Option<(HeaderType, TxRwSet)> {
    let envelope = Envelope::decode(raw).ok()?;
    let payload = Payload::decode(envelope.payload.as_slice()).ok()?;
    let chdr = ChannelHeader::decode(payload.header?.channel_header.as_slice()).ok()?;
    match HeaderType::try_from(chdr.r#type).ok()? {
        HeaderType::EndorserTransaction => {
            let (action, _, _) = chaincode_action(raw)?;
            let rwset = TxRwSet::decode_bytes(&action.results).ok()?;
            Some((HeaderType::EndorserTransaction, rwset))
        }
        HeaderType::Config => Some((
            HeaderType::Config,
            crate::validator::config_rwset(&payload.data),
        )),
        _ => None,
    }
}
