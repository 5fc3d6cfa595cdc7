//! The `orderer.AtomicBroadcast` gRPC service: Broadcast streams feed consensus, Deliver
//! streams read the ledger (Fabric's `orderer/common/broadcast` and `common/deliver`).

use std::sync::Arc;
use std::time::SystemTime;

use fabric_protos::common::{Envelope, Status};
use fabric_protos::orderer::atomic_broadcast_server::AtomicBroadcast;
use fabric_protos::orderer::deliver_response::Type as DeliverType;
use fabric_protos::orderer::{BroadcastResponse, DeliverResponse};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Streaming};
use weft_comm::PeerInfo;
use weft_msp::SigningIdentity;

use super::chain::{Chain, Order};
use super::cluster::Cluster;
use super::operations::Metrics;
use super::raft::RaftDriver;
use super::registrar::Registrar;
use crate::broadcast::{FilterOptions, StandardChannel, channel_header};
use crate::deliver::{DeliverChain, DeliverOptions, Step, open_session};
use crate::{Accepted, process_broadcast};

/// Responses buffered per stream before the handler waits for the client to read.
pub const STREAM_BUFFER: usize = 16;

pub struct AtomicBroadcastService {
    registrar: Arc<Registrar>,
    signer: Arc<dyn SigningIdentity>,
    filters: FilterOptions,
    deliver: DeliverOptions,
    cluster: Option<Arc<Cluster>>,
    raft: Option<RaftDriver>,
    metrics: Arc<Metrics>,
}

impl AtomicBroadcastService {
    pub fn new(
        registrar: Arc<Registrar>,
        signer: Arc<dyn SigningIdentity>,
        filters: FilterOptions,
        deliver: DeliverOptions,
    ) -> Self {
        Self {
            registrar,
            signer,
            filters,
            deliver,
            cluster: None,
            raft: None,
            metrics: Metrics::new(),
        }
    }

    /// Forwards what a follower accepts to the channel's leader through `cluster`.
    pub fn with_cluster(mut self, cluster: Arc<Cluster>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// Wakes the channel's raft group through `raft` whenever a follower forwards a submit, so
    /// a group that hibernated notices a leader that died meanwhile.
    pub fn with_raft(mut self, raft: RaftDriver) -> Self {
        self.raft = Some(raft);
        self
    }

    /// Counts broadcast responses and delivered blocks in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }
}

type ResponseStream<T> = ReceiverStream<Result<T, tonic::Status>>;

#[tonic::async_trait]
impl AtomicBroadcast for AtomicBroadcastService {
    type BroadcastStream = ResponseStream<BroadcastResponse>;
    type DeliverStream = ResponseStream<DeliverResponse>;

    async fn broadcast(
        &self,
        request: Request<Streaming<Envelope>>,
    ) -> Result<Response<Self::BroadcastStream>, tonic::Status> {
        let mut incoming = request.into_inner();
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let registrar = self.registrar.clone();
        let signer = self.signer.clone();
        let filters = self.filters;
        let cluster = self.cluster.clone();
        let raft = self.raft.clone();
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            while let Some(envelope) = next_request(&mut incoming, &sender).await {
                let response = broadcast_one(
                    &registrar,
                    signer.as_ref(),
                    filters,
                    cluster.as_deref().map(|c| (c, raft.as_ref())),
                    &envelope,
                )
                .await;
                record_broadcast(&metrics, &envelope, &response);
                if sender.send(Ok(response)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    async fn deliver(
        &self,
        request: Request<Streaming<Envelope>>,
    ) -> Result<Response<Self::DeliverStream>, tonic::Status> {
        let cert_hash = PeerInfo::client_cert_hash(&request);
        let mut incoming = request.into_inner();
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let registrar = self.registrar.clone();
        let options = self.deliver;
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            while let Some(envelope) = next_request(&mut incoming, &sender).await {
                let status = deliver_one(
                    &registrar, &options, &metrics, cert_hash, &envelope, &sender,
                )
                .await;
                let Some(status) = status else { return };
                let response = DeliverResponse {
                    r#type: Some(DeliverType::Status(status as i32)),
                };
                if sender.send(Ok(response)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}

/// Reads the next request of a stream. A receive failure (for example a message over the
/// gRPC size limit) is passed on to the client as the stream's final status, as Fabric's
/// handlers end the stream with the receive error rather than with OK.
async fn next_request<T>(
    incoming: &mut Streaming<Envelope>,
    sender: &mpsc::Sender<Result<T, tonic::Status>>,
) -> Option<Envelope> {
    match incoming.message().await {
        Ok(envelope) => envelope,
        Err(status) => {
            // The client may be gone already; then there is nobody left to tell.
            let _ = sender.send(Err(as_grpc_go_status(status))).await;
            None
        }
    }
}

/// The status grpc-go (so Fabric) ends a stream with when a request is over the receive
/// limit: RESOURCE_EXHAUSTED "grpc: received message larger than max (N vs. M)". tonic reports
/// the same refusal as OUT_OF_RANGE with its own wording; anything else passes unchanged.
fn as_grpc_go_status(status: tonic::Status) -> tonic::Status {
    if status.code() != tonic::Code::OutOfRange || !weft_comm::is_message_too_large(&status) {
        return status;
    }
    // tonic: "Error, decoded message length too large: found N bytes, the limit is: M bytes".
    let numbers: Vec<&str> = status
        .message()
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .collect();
    match numbers.as_slice() {
        [found, limit] => tonic::Status::resource_exhausted(format!(
            "grpc: received message larger than max ({found} vs. {limit})"
        )),
        _ => tonic::Status::resource_exhausted(status.message().to_string()),
    }
}

async fn broadcast_one(
    registrar: &Registrar,
    signer: &dyn SigningIdentity,
    filters: FilterOptions,
    cluster: Option<(&Cluster, Option<&RaftDriver>)>,
    envelope: &Envelope,
) -> BroadcastResponse {
    let chain = channel_header(envelope)
        .ok()
        .and_then(|h| registrar.chain(&h.channel_id));
    let bundle = chain.as_ref().map(|c| c.bundle());
    let decision = process_broadcast(
        envelope,
        |id| {
            let bundle = bundle.as_deref()?;
            (bundle.channel_id() == id).then(|| StandardChannel::new(bundle, signer, filters))
        },
        SystemTime::now(),
    );
    let (chain, accepted) = match (chain, decision) {
        (_, Err(rejection)) => return rejection.to_response(),
        (Some(chain), Ok((_, accepted))) => (chain, accepted),
        (None, Ok(_)) => {
            return failure(Status::BadRequest, "channel not found".into());
        }
    };
    let order = match accepted {
        Accepted::Normal { config_sequence } => Order::Normal {
            envelope: envelope.clone(),
            config_sequence,
        },
        Accepted::ConfigUpdate {
            config,
            config_sequence,
        } => Order::Config {
            envelope: config,
            config_sequence,
        },
    };
    // As Fabric's inactive chain: a node removed from the consenters neither orders nor
    // forwards, even while its transport still knows the channel's leader.
    if chain.is_removed() {
        return failure(
            Status::ServiceUnavailable,
            format!(
                "this orderer is no longer a consenter of channel {}; send to one of its consenters",
                chain.id()
            ),
        );
    }
    if let Some((cluster, raft)) = cluster
        && let Some(forwarded) = forward_to_leader(cluster, raft, chain.id(), &order)
    {
        return forwarded;
    }
    match chain.submit(order).await {
        Ok(()) => Accepted::response(),
        Err(halted) => failure(Status::ServiceUnavailable, halted.to_string()),
    }
}

/// Serves one SeekInfo request; returns the final status to send, or `None` when the client
/// went away.
async fn deliver_one(
    registrar: &Registrar,
    options: &DeliverOptions,
    metrics: &Metrics,
    cert_hash: Option<[u8; 32]>,
    envelope: &Envelope,
    sender: &mpsc::Sender<Result<DeliverResponse, tonic::Status>>,
) -> Option<Status> {
    let chain: Option<Arc<Chain>> = channel_header(envelope)
        .ok()
        .and_then(|h| registrar.chain(&h.channel_id));
    let opened = open_session(
        envelope,
        SystemTime::now(),
        options,
        cert_hash.as_ref().map(|h| h.as_slice()),
        |id| chain.as_deref().filter(|c| c.id() == id),
    );
    let (mut session, chain) = match opened {
        Ok(opened) => opened,
        Err(refusal) => {
            tracing::debug!(reason = %refusal.reason, "deliver request refused");
            return Some(refusal.status);
        }
    };
    loop {
        if chain.errored() && !session.cursor.best_effort() {
            return Some(Status::ServiceUnavailable);
        }
        match session.cursor.step(chain.height()) {
            Step::Finish(status) => return Some(status),
            Step::Wait => {
                let next = session.cursor.next_number();
                tokio::select! {
                    waited = chain.ledger().wait_for_block(next) => {
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
                        .evaluate(SystemTime::now(), chain.config_sequence(), |e| {
                            chain.check_readers(e)
                        })
                {
                    tracing::debug!(%reason, "deliver access revoked");
                    return Some(Status::Forbidden);
                }
                let ledger = chain.ledger().clone();
                let block =
                    match tokio::task::spawn_blocking(move || ledger.block_by_number(number)).await
                    {
                        Ok(Ok(Some(block))) => block,
                        _ => return Some(Status::ServiceUnavailable),
                    };
                let response = DeliverResponse {
                    r#type: Some(DeliverType::Block(block)),
                };
                if sender.send(Ok(response)).await.is_err() {
                    return None;
                }
                metrics.deliver_block_sent(chain.id());
                if let Some(status) = session.cursor.sent() {
                    return Some(status);
                }
            }
        }
    }
}

/// Counts one broadcast response under Fabric's labels: the envelope's claimed channel and
/// header type name ("unknown" without a readable channel header), and the status name.
fn record_broadcast(metrics: &Metrics, envelope: &Envelope, response: &BroadcastResponse) {
    let (channel, tx_type) = match channel_header(envelope) {
        Ok(header) => {
            let tx_type = fabric_protos::common::HeaderType::try_from(header.r#type).map_or_else(
                |_| header.r#type.to_string(),
                |t| t.as_str_name().to_string(),
            );
            (header.channel_id, tx_type)
        }
        Err(_) => ("unknown".to_string(), "unknown".to_string()),
    };
    let status = Status::try_from(response.status).map_or_else(
        |_| response.status.to_string(),
        |s| s.as_str_name().to_string(),
    );
    metrics.broadcast_processed(&channel, &tx_type, &status);
}

/// On a follower, sends `order` to the channel's leader (Fabric: a follower's `Submit` forwards
/// the envelope in a `SubmitRequest`); `None` when this node leads or is not in a cluster.
fn forward_to_leader(
    cluster: &Cluster,
    raft: Option<&RaftDriver>,
    channel: &str,
    order: &Order,
) -> Option<BroadcastResponse> {
    let members = cluster.channel(channel)?;
    if members.members.len() < 2 {
        return None;
    }
    if let Some(raft) = raft
        && cluster.leader(channel) != Some(members.self_id)
    {
        raft.wake(channel);
    }
    let Some(leader) = cluster.leader(channel) else {
        return Some(failure(
            Status::ServiceUnavailable,
            format!("no Raft leader for channel {channel}; retry later"),
        ));
    };
    if leader == members.self_id {
        return None;
    }
    let (envelope, sequence) = match order {
        Order::Normal {
            envelope,
            config_sequence,
        }
        | Order::Config {
            envelope,
            config_sequence,
        } => (envelope.clone(), *config_sequence),
    };
    Some(match cluster.forward(channel, leader, sequence, envelope) {
        Ok(()) => Accepted::response(),
        Err(e) => failure(
            Status::ServiceUnavailable,
            format!("cannot forward to the leader: {e}"),
        ),
    })
}

fn failure(status: Status, info: String) -> BroadcastResponse {
    BroadcastResponse {
        status: status as i32,
        info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // grpc-go (Fabric) answers an over-limit request with RESOURCE_EXHAUSTED and this wording.
    #[test]
    fn over_limit_receive_errors_read_as_grpc_go_reports_them() {
        let tonic_refusal = tonic::Status::out_of_range(
            "Error, decoded message length too large: found 104858624 bytes, the limit is: 104857600 bytes",
        );
        let status = as_grpc_go_status(tonic_refusal);
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert_eq!(
            status.message(),
            "grpc: received message larger than max (104858624 vs. 104857600)"
        );
        let other = as_grpc_go_status(tonic::Status::out_of_range("seek past the end"));
        assert_eq!(other.code(), tonic::Code::OutOfRange);
        let cancelled = as_grpc_go_status(tonic::Status::cancelled("gone"));
        assert_eq!(cancelled.code(), tonic::Code::Cancelled);
    }
}
