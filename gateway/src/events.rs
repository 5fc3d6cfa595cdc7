//! Chaincode events of committed blocks (Fabric `internal/pkg/gateway/event`): only valid
//! endorser transactions count, and an event needs a chaincode ID, a name and a TxID.

use fabric_protos::common::{
    Block, BlockMetadataIndex, ChannelHeader, Envelope, HeaderType, Payload,
};
use fabric_protos::protos::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeEvent, ProposalResponsePayload, Transaction,
    TxValidationCode,
};
use prost::Message;

/// The valid chaincode events of a block, in transaction order.
pub fn block_events(block: &Block) -> Vec<ChaincodeEvent> {
    let filter = block
        .metadata
        .as_ref()
        .and_then(|m| {
            m.metadata
                .get(BlockMetadataIndex::TransactionsFilter as usize)
        })
        .cloned()
        .unwrap_or_default();
    let Some(data) = &block.data else {
        return Vec::new();
    };
    let mut events = Vec::new();
    for (index, env_bytes) in data.data.iter().enumerate() {
        let valid = filter.get(index).copied() == Some(TxValidationCode::Valid as u8);
        if !valid {
            continue;
        }
        events.extend(transaction_events(env_bytes));
    }
    events
}

fn transaction_events(env_bytes: &[u8]) -> Vec<ChaincodeEvent> {
    let Some(payload) = Envelope::decode(env_bytes)
        .ok()
        .and_then(|e| Payload::decode(e.payload.as_slice()).ok())
    else {
        return Vec::new();
    };
    let is_endorser_tx = payload
        .header
        .as_ref()
        .and_then(|h| ChannelHeader::decode(h.channel_header.as_slice()).ok())
        .is_some_and(|ch| ch.r#type == HeaderType::EndorserTransaction as i32);
    if !is_endorser_tx {
        return Vec::new();
    }
    let Ok(tx) = Transaction::decode(payload.data.as_slice()) else {
        return Vec::new();
    };
    tx.actions
        .iter()
        .filter_map(|action| {
            let cap = ChaincodeActionPayload::decode(action.payload.as_slice()).ok()?;
            let prp =
                ProposalResponsePayload::decode(cap.action?.proposal_response_payload.as_slice())
                    .ok()?;
            let cc_action = ChaincodeAction::decode(prp.extension.as_slice()).ok()?;
            let event = ChaincodeEvent::decode(cc_action.events.as_slice()).ok()?;
            let complete = !event.chaincode_id.is_empty()
                && !event.event_name.is_empty()
                && !event.tx_id.is_empty();
            complete.then_some(event)
        })
        .collect()
}

/// Selects the events a client asked for: of one chaincode, and with an
/// `after_transaction_id`, only those after that transaction's events.
pub struct EventMatcher {
    chaincode: String,
    after_tx: Option<String>,
    passed: bool,
}

impl EventMatcher {
    pub fn new(chaincode: &str, after_transaction_id: &str) -> Self {
        EventMatcher {
            chaincode: chaincode.to_owned(),
            after_tx: (!after_transaction_id.is_empty()).then(|| after_transaction_id.to_owned()),
            passed: after_transaction_id.is_empty(),
        }
    }

    pub fn matches(&mut self, event: &ChaincodeEvent) -> bool {
        if !self.passed {
            if self.after_tx.as_deref() == Some(event.tx_id.as_str()) {
                self.passed = true;
            }
            return false;
        }
        event.chaincode_id == self.chaincode
    }
}
