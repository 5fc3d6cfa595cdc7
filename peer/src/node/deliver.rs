//! The peer's `protos.Deliver` service (Fabric's `core/peer/deliverevents.go` over
//! `common/deliver`): Deliver sends blocks, DeliverFiltered filtered blocks (transaction ids,
//! types, validation codes and chaincode event names), DeliverWithPrivateData blocks with the
//! private data the requester may read.
//!
//! Request evaluation (envelope checks, time window, TLS binding when client certificates are
//! required, channel lookup, session access, SeekInfo positions including `next_commit`, and
//! the Fabric status codes) is the shared Deliver core of `weft_orderer::deliver`; this module
//! supplies the peer's channels and ACLs (`event/Block`, `event/FilteredBlock`, the channel's
//! application Readers by default).

use std::sync::Arc;
use std::time::SystemTime;

use fabric_protos::common::{Block, BlockMetadataIndex, Envelope, HeaderType, Status};
use fabric_protos::protos::deliver_response::Type as DeliverType;
use fabric_protos::protos::deliver_server::Deliver;
use fabric_protos::protos::{
    BlockAndPrivateData, ChaincodeAction, ChaincodeActionPayload, ChaincodeEvent, DeliverResponse,
    FilteredBlock, FilteredChaincodeAction, FilteredTransaction, FilteredTransactionActions,
    ProposalResponsePayload, Transaction, TxValidationCode, filtered_transaction,
};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Streaming};
use weft_comm::PeerInfo;
use weft_orderer::deliver::{DeliverChain, DeliverOptions, Step, open_session};

use crate::channels::{ChannelManager, PeerChannel};
use crate::proposal;

/// Responses buffered per stream before the handler waits for the client to read.
pub const STREAM_BUFFER: usize = 16;

/// What a Deliver variant sends for each block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliverKind {
    Block,
    Filtered,
    WithPrivateData,
}

impl DeliverKind {
    fn acl_resource(self) -> &'static str {
        match self {
            DeliverKind::Filtered => "event/FilteredBlock",
            DeliverKind::Block | DeliverKind::WithPrivateData => "event/Block",
        }
    }

    fn response(self, block: Block) -> DeliverResponse {
        let kind = match self {
            DeliverKind::Block => DeliverType::Block(block),
            // Fabric sends a BAD_REQUEST status in place of a block it cannot summarise and
            // goes on with the next block.
            DeliverKind::Filtered => match filtered_block(&block) {
                Ok(filtered) => DeliverType::FilteredBlock(filtered),
                Err(error) => {
                    tracing::warn!(%error, "sending BAD_REQUEST in place of a filtered block");
                    DeliverType::Status(Status::BadRequest as i32)
                }
            },
            // Private data dissemination needs gossip, which Weft does not run: the block comes
            // with no private data.
            DeliverKind::WithPrivateData => DeliverType::BlockAndPrivateData(BlockAndPrivateData {
                block: Some(block),
                private_data_map: Default::default(),
            }),
        };
        DeliverResponse { r#type: Some(kind) }
    }
}

pub struct DeliverService {
    channels: Arc<ChannelManager>,
    options: DeliverOptions,
}

impl DeliverService {
    pub fn new(channels: Arc<ChannelManager>, options: DeliverOptions) -> Self {
        Self { channels, options }
    }

    fn serve(
        &self,
        kind: DeliverKind,
        request: Request<Streaming<Envelope>>,
    ) -> ReceiverStream<Result<DeliverResponse, tonic::Status>> {
        let cert_hash = PeerInfo::client_cert_hash(&request);
        let mut incoming = request.into_inner();
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let channels = self.channels.clone();
        let options = self.options;
        tokio::spawn(async move {
            loop {
                let envelope = match incoming.message().await {
                    Ok(Some(envelope)) => envelope,
                    Ok(None) => return,
                    Err(status) => {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                };
                let Some(status) =
                    deliver_one(&channels, kind, &options, cert_hash, &envelope, &sender).await
                else {
                    return;
                };
                let response = DeliverResponse {
                    r#type: Some(DeliverType::Status(status as i32)),
                };
                if sender.send(Ok(response)).await.is_err() {
                    return;
                }
            }
        });
        ReceiverStream::new(receiver)
    }
}

type ResponseStream = ReceiverStream<Result<DeliverResponse, tonic::Status>>;

#[tonic::async_trait]
impl Deliver for DeliverService {
    type DeliverStream = ResponseStream;
    type DeliverFilteredStream = ResponseStream;
    type DeliverWithPrivateDataStream = ResponseStream;

    async fn deliver(
        &self,
        request: Request<Streaming<Envelope>>,
    ) -> Result<Response<ResponseStream>, tonic::Status> {
        Ok(Response::new(self.serve(DeliverKind::Block, request)))
    }

    async fn deliver_filtered(
        &self,
        request: Request<Streaming<Envelope>>,
    ) -> Result<Response<ResponseStream>, tonic::Status> {
        Ok(Response::new(self.serve(DeliverKind::Filtered, request)))
    }

    async fn deliver_with_private_data(
        &self,
        request: Request<Streaming<Envelope>>,
    ) -> Result<Response<ResponseStream>, tonic::Status> {
        Ok(Response::new(
            self.serve(DeliverKind::WithPrivateData, request),
        ))
    }
}

/// A peer channel as the Deliver core sees it.
struct DeliverTarget {
    channel: Arc<PeerChannel>,
    kind: DeliverKind,
}

impl DeliverChain for DeliverTarget {
    fn height(&self) -> u64 {
        self.channel.height().unwrap_or(0)
    }

    fn errored(&self) -> bool {
        false
    }

    fn config_sequence(&self) -> u64 {
        self.channel.bundle().sequence()
    }

    fn check_readers(&self, envelope: &Envelope) -> Result<(), String> {
        let signed = weft_orderer::broadcast::envelope_signed_data(envelope)?;
        proposal::check_reader_acl(&self.channel.bundle(), self.kind.acl_resource(), &signed)
    }
}

/// Serves one SeekInfo request; returns the final status, or `None` when the client left.
async fn deliver_one(
    channels: &Arc<ChannelManager>,
    kind: DeliverKind,
    options: &DeliverOptions,
    cert_hash: Option<[u8; 32]>,
    envelope: &Envelope,
    sender: &mpsc::Sender<Result<DeliverResponse, tonic::Status>>,
) -> Option<Status> {
    let target = {
        let channels = channels.clone();
        let channel_id = weft_orderer::broadcast::channel_header(envelope)
            .map(|h| h.channel_id)
            .unwrap_or_default();
        tokio::task::spawn_blocking(move || channels.get(&channel_id).ok().flatten())
            .await
            .ok()
            .flatten()
            .map(|channel| DeliverTarget { channel, kind })
    };
    let opened = open_session(
        envelope,
        SystemTime::now(),
        options,
        cert_hash.as_ref().map(|h| h.as_slice()),
        |id| target.as_ref().filter(|t| t.channel.id() == id),
    );
    let (mut session, target) = match opened {
        Ok(opened) => opened,
        Err(refusal) => {
            tracing::debug!(reason = %refusal.reason, status = ?refusal.status, "deliver request refused");
            return Some(refusal.status);
        }
    };
    let ledger = target.channel.ledger().clone();
    let mut watch = match ledger.subscribe() {
        Ok(watch) => watch,
        Err(_) => return Some(Status::ServiceUnavailable),
    };
    loop {
        match session.cursor.step(target.height()) {
            Step::Finish(status) => return Some(status),
            Step::Wait => {
                let next = session.cursor.next_number();
                tokio::select! {
                    waited = watch.wait_for_block(next) => {
                        if waited.is_err() {
                            return Some(Status::ServiceUnavailable);
                        }
                    }
                    () = sender.closed() => return None,
                }
            }
            Step::Send(number) => {
                if let Err(reason) =
                    session
                        .access
                        .evaluate(SystemTime::now(), target.config_sequence(), |e| {
                            target.check_readers(e)
                        })
                {
                    tracing::debug!(%reason, "deliver access revoked");
                    return Some(Status::Forbidden);
                }
                let reader = ledger.clone();
                let block =
                    match tokio::task::spawn_blocking(move || reader.block_by_number(number)).await
                    {
                        Ok(Ok(Some(block))) => block,
                        _ => return Some(Status::ServiceUnavailable),
                    };
                if sender.send(Ok(kind.response(block))).await.is_err() {
                    return None;
                }
                if let Some(status) = session.cursor.sent() {
                    return Some(status);
                }
            }
        }
    }
}

/// Why a block has no filtered view: a part Fabric requires to decode did not.
#[derive(Debug, thiserror::Error)]
#[error("block {block}, transaction {index}: the {part} cannot be decoded")]
pub struct FilteredBlockError {
    pub block: u64,
    pub index: usize,
    pub part: &'static str,
}

/// Fabric's filtered view of a block: per transaction its id, header type, validation code
/// and, for endorser transactions, the chaincode events without payloads. As Fabric's
/// `toFilteredBlock`, a transaction whose envelope cannot be decoded or whose payload has no
/// header is skipped, while an undecodable payload, channel header, endorser transaction,
/// action payload, proposal response payload, chaincode action or event fails the whole block.
pub fn filtered_block(block: &Block) -> Result<FilteredBlock, FilteredBlockError> {
    let number = block.header.as_ref().map_or(0, |h| h.number);
    let filter = block
        .metadata
        .as_ref()
        .and_then(|m| {
            m.metadata
                .get(BlockMetadataIndex::TransactionsFilter as usize)
        })
        .cloned()
        .unwrap_or_default();
    let mut filtered = FilteredBlock {
        number,
        ..Default::default()
    };
    let data = block
        .data
        .as_ref()
        .map(|d| d.data.as_slice())
        .unwrap_or_default();
    for (index, envelope_bytes) in data.iter().enumerate() {
        let Ok(envelope) = Envelope::decode(envelope_bytes.as_slice()) else {
            continue;
        };
        let undecodable = |part| FilteredBlockError {
            block: number,
            index,
            part,
        };
        let payload = fabric_protos::common::Payload::decode(envelope.payload.as_slice())
            .map_err(|_| undecodable("payload"))?;
        let Some(header) = payload.header else {
            continue;
        };
        let channel_header =
            fabric_protos::common::ChannelHeader::decode(header.channel_header.as_slice())
                .map_err(|_| undecodable("channel header"))?;
        filtered.channel_id = channel_header.channel_id.clone();
        let code = filter
            .get(index)
            .map_or(TxValidationCode::NotValidated as i32, |c| i32::from(*c));
        let data = if channel_header.r#type == HeaderType::EndorserTransaction as i32 {
            let actions = filtered_actions(&payload.data).map_err(undecodable)?;
            Some(filtered_transaction::Data::TransactionActions(actions))
        } else {
            None
        };
        filtered.filtered_transactions.push(FilteredTransaction {
            txid: channel_header.tx_id,
            r#type: channel_header.r#type,
            tx_validation_code: code,
            data,
        });
    }
    Ok(filtered)
}

/// The chaincode events of an endorser transaction; the error names the part that did not
/// decode. An action without an endorsed action is skipped, as Fabric skips it.
fn filtered_actions(transaction_bytes: &[u8]) -> Result<FilteredTransactionActions, &'static str> {
    let mut actions = FilteredTransactionActions::default();
    let transaction = Transaction::decode(transaction_bytes).map_err(|_| "endorser transaction")?;
    for action in transaction.actions {
        let payload = ChaincodeActionPayload::decode(action.payload.as_slice())
            .map_err(|_| "chaincode action payload")?;
        let Some(endorsed) = payload.action else {
            continue;
        };
        let response =
            ProposalResponsePayload::decode(endorsed.proposal_response_payload.as_slice())
                .map_err(|_| "proposal response payload")?;
        let chaincode_action = ChaincodeAction::decode(response.extension.as_slice())
            .map_err(|_| "chaincode action")?;
        let event = ChaincodeEvent::decode(chaincode_action.events.as_slice())
            .map_err(|_| "chaincode event")?;
        if !event.chaincode_id.is_empty() {
            actions.chaincode_actions.push(FilteredChaincodeAction {
                chaincode_event: Some(ChaincodeEvent {
                    payload: Vec::new(),
                    ..event
                }),
            });
        }
    }
    Ok(actions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::common::{BlockData, BlockHeader, BlockMetadata, ChannelHeader, Header};
    use fabric_protos::protos::{ChaincodeEndorsedAction, TransactionAction};

    fn envelope(tx_id: &str, header_type: HeaderType, data: Vec<u8>) -> Vec<u8> {
        let channel_header = ChannelHeader {
            r#type: header_type as i32,
            channel_id: "ch".into(),
            tx_id: tx_id.into(),
            ..Default::default()
        };
        Envelope {
            payload: fabric_protos::common::Payload {
                header: Some(Header {
                    channel_header: channel_header.encode_to_vec(),
                    signature_header: Vec::new(),
                }),
                data,
            }
            .encode_to_vec(),
            signature: vec![1],
        }
        .encode_to_vec()
    }

    fn transaction_with_event(event: &ChaincodeEvent) -> Vec<u8> {
        let action = ChaincodeAction {
            events: event.encode_to_vec(),
            ..Default::default()
        };
        let payload = ChaincodeActionPayload {
            chaincode_proposal_payload: Vec::new(),
            action: Some(ChaincodeEndorsedAction {
                proposal_response_payload: ProposalResponsePayload {
                    proposal_hash: vec![1],
                    extension: action.encode_to_vec(),
                }
                .encode_to_vec(),
                endorsements: Vec::new(),
            }),
        };
        Transaction {
            actions: vec![TransactionAction {
                header: Vec::new(),
                payload: payload.encode_to_vec(),
            }],
        }
        .encode_to_vec()
    }

    fn block(data: Vec<Vec<u8>>, filter: Vec<u8>) -> Block {
        Block {
            header: Some(BlockHeader {
                number: 7,
                ..Default::default()
            }),
            data: Some(BlockData { data }),
            metadata: Some(BlockMetadata {
                metadata: vec![Vec::new(), Vec::new(), filter],
            }),
        }
    }

    // Mirrors Fabric's toFilteredBlock: ids, types and codes per transaction, chaincode events
    // without payload, undecodable envelopes skipped.
    #[test]
    fn filtered_block_strips_event_payloads_and_keeps_codes() {
        let event = ChaincodeEvent {
            chaincode_id: "cc".into(),
            tx_id: "tx1".into(),
            event_name: "moved".into(),
            payload: b"secret".to_vec(),
        };
        let block = block(
            vec![
                envelope(
                    "tx1",
                    HeaderType::EndorserTransaction,
                    transaction_with_event(&event),
                ),
                vec![0xff, 0xff],
                envelope("cfg", HeaderType::Config, Vec::new()),
            ],
            vec![
                TxValidationCode::Valid as u8,
                0,
                TxValidationCode::MvccReadConflict as u8,
            ],
        );
        let filtered = filtered_block(&block).unwrap();
        assert_eq!(filtered.number, 7);
        assert_eq!(filtered.channel_id, "ch");
        assert_eq!(filtered.filtered_transactions.len(), 2);
        let first = &filtered.filtered_transactions[0];
        assert_eq!(first.txid, "tx1");
        assert_eq!(first.tx_validation_code, TxValidationCode::Valid as i32);
        let Some(filtered_transaction::Data::TransactionActions(actions)) = &first.data else {
            panic!("endorser transactions carry actions");
        };
        let sent = actions.chaincode_actions[0]
            .chaincode_event
            .as_ref()
            .unwrap();
        assert_eq!(sent.event_name, "moved");
        assert!(sent.payload.is_empty());
        let config = &filtered.filtered_transactions[1];
        assert_eq!(config.r#type, HeaderType::Config as i32);
        assert_eq!(
            config.tx_validation_code,
            TxValidationCode::MvccReadConflict as i32
        );
        assert!(config.data.is_none());
    }

    // Mirrors Fabric's toFilteredBlock: an endorser transaction whose data is not a
    // Transaction fails the block (the stream then gets BAD_REQUEST in its place), while a
    // payload without a header is skipped.
    #[test]
    fn filtered_block_fails_on_an_undecodable_endorser_transaction() {
        let headerless = Envelope {
            payload: fabric_protos::common::Payload::default().encode_to_vec(),
            signature: vec![1],
        }
        .encode_to_vec();
        let skipped = block(
            vec![headerless.clone()],
            vec![TxValidationCode::Valid as u8],
        );
        assert!(
            filtered_block(&skipped)
                .unwrap()
                .filtered_transactions
                .is_empty()
        );

        let garbage = envelope("tx", HeaderType::EndorserTransaction, vec![0xff; 16]);
        let failing = block(
            vec![headerless, garbage],
            vec![0, TxValidationCode::InvalidEndorserTransaction as u8],
        );
        let error = filtered_block(&failing).unwrap_err();
        assert_eq!((error.block, error.index), (7, 1));
        assert_eq!(error.part, "endorser transaction");

        let response = DeliverKind::Filtered.response(failing);
        assert_eq!(
            response.r#type,
            Some(DeliverType::Status(Status::BadRequest as i32))
        );
    }

    #[test]
    fn filtered_block_without_filter_reports_not_validated() {
        let block = block(
            vec![envelope("tx", HeaderType::EndorserTransaction, Vec::new())],
            Vec::new(),
        );
        let filtered = filtered_block(&block).unwrap();
        assert_eq!(
            filtered.filtered_transactions[0].tx_validation_code,
            TxValidationCode::NotValidated as i32
        );
    }
}
