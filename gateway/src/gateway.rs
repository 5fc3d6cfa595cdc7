//! The `gateway.Gateway` service (Fabric `internal/pkg/gateway`): Evaluate, Endorse,
//! Submit, CommitStatus and ChaincodeEvents with Fabric's status codes, messages and
//! `ErrorDetail`s.

use std::sync::Arc;
use std::time::Duration;

use fabric_protos::common::Status as CommonStatus;
use fabric_protos::gateway::gateway_server::Gateway;
use fabric_protos::gateway::{
    ChaincodeEventsRequest, ChaincodeEventsResponse, CommitStatusRequest, CommitStatusResponse,
    EndorseRequest, EndorseResponse, ErrorDetail, EvaluateRequest, EvaluateResponse,
    SignedChaincodeEventsRequest, SignedCommitStatusRequest, SubmitRequest, SubmitResponse,
};
use fabric_protos::orderer::seek_position;
use fabric_protos::protos::{ChaincodeCall, ChaincodeInterest, ProposalResponse, SignedProposal};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status};
use weft_policy::SignedData;

use crate::api::{Connector, LedgerView, PeerSupport};
use crate::error::{detail, rpc_error};
use crate::events::{EventMatcher, block_events};
use crate::plan::{Plan, Target};
use crate::proposal::{parse, prepare_transaction, result_payload};
use crate::registry::{LocalPeer, Registry};

/// Fabric's message when a chaincode container went away mid-call.
const STREAM_TERMINATED: &str = "chaincode stream terminated";
/// Chaincode event responses buffered for a slow client before the reader waits.
pub const EVENTS_QUEUE_MAX: usize = 16;
/// How much earlier than the client's deadline the gateway gives up, so that its own
/// DeadlineExceeded status (with Fabric's message) wins the race with the transport's.
const DEADLINE_MARGIN: Duration = Duration::from_millis(10);
/// Longest `grpc-timeout` value read (8 digits, as the gRPC spec allows).
const GRPC_TIMEOUT_DIGITS_MAX: usize = 8;

/// The client's deadline from the `grpc-timeout` header, less [`DEADLINE_MARGIN`].
fn client_deadline<T>(request: &Request<T>) -> Option<tokio::time::Instant> {
    let value = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > GRPC_TIMEOUT_DIGITS_MAX {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    let timeout = match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    };
    Some(tokio::time::Instant::now() + timeout.saturating_sub(DEADLINE_MARGIN))
}

/// Runs `work` until `deadline`, then fails with DeadlineExceeded and `message`.
async fn within<T>(
    deadline: Option<tokio::time::Instant>,
    message: &str,
    work: impl std::future::Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    match deadline {
        None => work.await,
        Some(deadline) => tokio::time::timeout_at(deadline, work)
            .await
            .unwrap_or_else(|_| Err(Status::deadline_exceeded(message))),
    }
}

/// Timeouts (Fabric `peer.gateway` in core.yaml).
#[derive(Debug, Clone, Copy)]
pub struct GatewayOptions {
    pub endorsement_timeout: Duration,
    pub broadcast_timeout: Duration,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            endorsement_timeout: Duration::from_secs(30),
            broadcast_timeout: Duration::from_secs(30),
        }
    }
}

/// The gateway service; mount with `GatewayServer::new(service)`.
#[derive(Clone)]
pub struct GatewayService {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    support: Arc<dyn PeerSupport>,
    options: GatewayOptions,
}

/// How a proposal response is treated (Fabric `responseStatus`).
struct Outcome {
    code: Code,
    message: String,
    retry: bool,
    remove: bool,
}

fn outcome(result: &Result<ProposalResponse, Status>) -> Outcome {
    let ok = |code, message: String, retry, remove| Outcome {
        code,
        message,
        retry,
        remove,
    };
    match result {
        // The local endorser refuses a proposal before simulation with FAILED_PRECONDITION (as
        // Fabric's in-process endorser returns an error next to its response): final, no retry.
        // Remote peers only ever fail with transport errors, which are retried elsewhere.
        Err(status) if status.code() == Code::FailedPrecondition => ok(
            Code::FailedPrecondition,
            status.message().to_owned(),
            false,
            false,
        ),
        Err(status) => ok(Code::Unavailable, status.message().to_owned(), true, true),
        Ok(pr) => {
            let (status, message) = pr
                .response
                .as_ref()
                .map(|r| (r.status, r.message.clone()))
                .unwrap_or_default();
            if (200..400).contains(&status) {
                return ok(Code::Ok, String::new(), false, false);
            }
            if pr.payload.is_empty() && status == 500 {
                let remove = message.ends_with(STREAM_TERMINATED);
                return ok(Code::Aborted, message, true, remove);
            }
            ok(
                Code::Unknown,
                format!("chaincode response {status}, {message}"),
                false,
                false,
            )
        }
    }
}

impl GatewayService {
    pub fn new(
        local: LocalPeer,
        support: Arc<dyn PeerSupport>,
        connector: Arc<dyn Connector>,
        options: GatewayOptions,
    ) -> Self {
        GatewayService {
            inner: Arc::new(Inner {
                registry: Registry::new(local, support.clone(), connector),
                support,
                options,
            }),
        }
    }
}

impl Inner {
    async fn call(
        &self,
        target: &Target,
        proposal: &SignedProposal,
    ) -> Result<ProposalResponse, Status> {
        let call = target.endorser.process_proposal(proposal.clone());
        match tokio::time::timeout(self.options.endorsement_timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(Status::deadline_exceeded(
                "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
            )),
        }
    }

    /// Fabric's gateway first connects to the channel's peers and fails with UNAVAILABLE when the
    /// peer has no configuration for the channel.
    fn require_channel(&self, channel: &str) -> Result<(), Status> {
        match self.support.channel_config(channel) {
            Some(_) => Ok(()),
            None => Err(Status::unavailable(format!(
                "failed to get config for channel [{channel}]: could not get last config for channel {channel}"
            ))),
        }
    }

    async fn evaluate(&self, request: EvaluateRequest) -> Result<EvaluateResponse, Status> {
        let info = parse(request.proposed_transaction.as_ref()).map_err(|e| {
            Status::invalid_argument(format!("failed to unpack transaction proposal: {e}"))
        })?;
        self.require_channel(&info.channel)?;
        let signed = request.proposed_transaction.unwrap_or_default();
        let mut targets = request.target_organizations;
        let mut protected = false;
        if info.has_transient_data && targets.is_empty() {
            targets = vec![self.registry.local_msp_id().to_owned()];
            protected = true;
        }
        let plan = self
            .registry
            .evaluator(&info.channel, &info.chaincode, &targets)
            .map_err(|e| {
                if protected {
                    Status::failed_precondition(format!("no endorsers found in the gateway's organization; retry specifying target organization(s) to protect transient data: {e}"))
                } else {
                    Status::failed_precondition(e)
                }
            })?;
        let mut next = plan.first();
        let mut details: Vec<ErrorDetail> = Vec::new();
        while let Some(target) = next {
            let result = self.call(&target, &signed).await;
            let o = outcome(&result);
            if o.code == Code::Ok {
                let pr = result.unwrap_or_default();
                let mut response = pr.response.clone().unwrap_or_default();
                match result_payload(&pr) {
                    Ok(payload) => response.payload = payload,
                    Err(e) => {
                        tracing::warn!(error = %e, "successful proposal response contained no transaction result")
                    }
                }
                return Ok(EvaluateResponse {
                    result: Some(response),
                });
            }
            details.push(detail(&target.address, &target.msp_id, o.message.clone()));
            if o.remove {
                self.registry.remove(&target);
            }
            if !o.retry {
                return Err(rpc_error(
                    o.code,
                    format!("evaluate call to endorser returned error: {}", o.message),
                    &details,
                ));
            }
            next = plan.next_peer_in_group(&target);
            if next.is_none() {
                return Err(rpc_error(
                    o.code,
                    "failed to evaluate transaction, see attached details for more info",
                    &details,
                ));
            }
        }
        Err(Status::failed_precondition(format!(
            "no peers available to evaluate chaincode {} in channel {}",
            info.chaincode, info.channel
        )))
    }

    /// Sends to one planned peer and records the result; false on failure.
    async fn endorse_with(&self, plan: &Plan, target: &Target, signed: &SignedProposal) -> bool {
        let result = self.call(target, signed).await;
        let o = outcome(&result);
        if o.code != Code::Ok {
            if o.remove {
                self.registry.remove(target);
            }
            plan.add_error(detail(&target.address, &target.msp_id, o.message));
            return false;
        }
        let mut response = result.unwrap_or_default();
        if let Some(r) = response.response.as_mut() {
            r.payload.clear();
        }
        plan.process_endorsement(target, &response)
    }

    async fn plan_from_first_endorser(
        &self,
        channel: &str,
        chaincode: &str,
        has_transient_data: bool,
        signed: &SignedProposal,
    ) -> Result<Plan, Status> {
        let default_interest = ChaincodeInterest {
            chaincodes: vec![ChaincodeCall {
                name: chaincode.to_owned(),
                ..Default::default()
            }],
        };
        let local_org = [self.registry.local_msp_id().to_owned()];
        let plan = match self.registry.plan_for_orgs(channel, chaincode, &local_org) {
            Ok(plan) => plan,
            Err(_) if has_transient_data => {
                return Err(Status::failed_precondition(
                    "no endorsers found in the gateway's organization; retry specifying endorsing organization(s) to protect transient data",
                ));
            }
            Err(_) => self
                .registry
                .endorsement_plan(channel, &default_interest, None)
                .map_err(Status::failed_precondition)?,
        };
        let mut details = Vec::new();
        let mut next = plan.first();
        let mut first = None;
        while let Some(target) = next {
            let result = self.call(&target, signed).await;
            let o = outcome(&result);
            if o.code == Code::Ok {
                first = Some((target, result.unwrap_or_default()));
                break;
            }
            details.push(detail(&target.address, &target.msp_id, o.message));
            if o.remove {
                self.registry.remove(&target);
            }
            next = plan.next_peer_in_group(&target);
        }
        let Some((first_target, first_response)) = first else {
            return Err(rpc_error(
                Code::Aborted,
                "failed to endorse transaction, see attached details for more info",
                &details,
            ));
        };

        let mut interest = first_response.interest.clone().unwrap_or_default();
        if interest.chaincodes.is_empty() {
            interest = default_interest;
        }
        let original = interest.clone();
        let mut protected_collections = Vec::new();
        if has_transient_data {
            for call in &mut interest.chaincodes {
                if call.no_private_reads {
                    call.no_private_reads = false;
                    protected_collections.extend(call.collection_names.iter().cloned());
                }
            }
        }
        let plan = match self
            .registry
            .endorsement_plan(channel, &interest, Some(&first_target))
        {
            Ok(plan) => plan,
            Err(e) => {
                if !protected_collections.is_empty()
                    && self
                        .registry
                        .endorsement_plan(channel, &original, Some(&first_target))
                        .is_ok()
                {
                    return Err(Status::failed_precondition(format!(
                        "requires endorsement from organisation(s) that are not in the distribution policy of the private data collection(s): [{}]; retry specifying trusted endorsing organizations to protect transient data",
                        protected_collections.join(" ")
                    )));
                }
                return Err(Status::failed_precondition(e));
            }
        };
        plan.process_endorsement(&first_target, &first_response);
        Ok(plan)
    }

    async fn endorse(
        &self,
        request: EndorseRequest,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<EndorseResponse, Status> {
        let signed = request.proposed_transaction.clone().unwrap_or_default();
        if signed.proposal_bytes.is_empty() {
            return Err(Status::invalid_argument(
                "the proposed transaction must contain a signed proposal",
            ));
        }
        let info = parse(Some(&signed)).map_err(Status::invalid_argument)?;
        self.require_channel(&info.channel)?;
        let plan = if request.endorsing_organizations.is_empty() {
            within(
                deadline,
                "endorsement timeout expired while collecting first endorsement",
                self.plan_from_first_endorser(
                    &info.channel,
                    &info.chaincode,
                    info.has_transient_data,
                    &signed,
                ),
            )
            .await?
        } else {
            self.registry
                .plan_for_orgs(
                    &info.channel,
                    &info.chaincode,
                    &request.endorsing_organizations,
                )
                .map_err(Status::unavailable)?
        };

        let collect = async {
            while plan.completed().is_none() {
                let Some(targets) = plan.endorsers() else {
                    break;
                };
                let tasks = targets.into_iter().map(|first| {
                    let plan = &plan;
                    let signed = &signed;
                    async move {
                        let mut next = Some(first);
                        while let Some(target) = next {
                            if self.endorse_with(plan, &target, signed).await {
                                break;
                            }
                            next = plan.next_peer_in_group(&target);
                        }
                    }
                });
                futures::future::join_all(tasks).await;
            }
            Ok(())
        };
        within(
            deadline,
            "endorsement timeout expired while collecting endorsements",
            collect,
        )
        .await?;
        let Some((response_payload, endorsements)) = plan.completed() else {
            return Err(rpc_error(
                Code::Aborted,
                "failed to collect enough transaction endorsements, see attached details for more info",
                &plan.errors(),
            ));
        };
        let envelope =
            prepare_transaction(&info.header, &info.payload, response_payload, endorsements);
        Ok(EndorseResponse {
            prepared_transaction: Some(envelope),
        })
    }

    async fn submit(&self, request: SubmitRequest) -> Result<SubmitResponse, Status> {
        let Some(envelope) = request.prepared_transaction else {
            return Err(Status::invalid_argument(
                "a prepared transaction is required",
            ));
        };
        if envelope.signature.is_empty() {
            return Err(Status::invalid_argument(
                "prepared transaction must be signed",
            ));
        }
        let orderers = self
            .registry
            .orderers(&request.channel_id)
            .map_err(Status::failed_precondition)?;
        if orderers.is_empty() {
            return Err(Status::unavailable("no orderer nodes available"));
        }
        let mut details = Vec::new();
        // Start at a varying orderer so load spreads (Fabric shuffles the list).
        let offset = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as usize)
            .unwrap_or(0)
            % orderers.len();
        for i in 0..orderers.len() {
            let orderer = &orderers[(offset + i) % orderers.len()];
            let sent = tokio::time::timeout(
                self.options.broadcast_timeout,
                orderer.client.broadcast(envelope.clone()),
            )
            .await;
            let response = match sent {
                Ok(Ok(r)) => r,
                Ok(Err(status)) => {
                    details.push(detail(
                        &orderer.endpoint.address,
                        &orderer.endpoint.msp_id,
                        status.message(),
                    ));
                    continue;
                }
                Err(_) => {
                    details.push(detail(
                        &orderer.endpoint.address,
                        &orderer.endpoint.msp_id,
                        "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
                    ));
                    continue;
                }
            };
            if response.status == CommonStatus::Success as i32 {
                return Ok(SubmitResponse {});
            }
            if (400..500).contains(&response.status) {
                let name = CommonStatus::try_from(response.status)
                    .map(|s| s.as_str_name().to_owned())
                    .unwrap_or_else(|_| response.status.to_string());
                return Err(rpc_error(
                    Code::Aborted,
                    format!(
                        "received unsuccessful response from orderer: status={name}, info={}",
                        response.info
                    ),
                    &[],
                ));
            }
            tracing::warn!(orderer = %orderer.endpoint.address, status = response.status, info = %response.info, "unsuccessful response from orderer");
        }
        Err(rpc_error(
            Code::Unavailable,
            "no orderers could successfully process transaction",
            &details,
        ))
    }

    /// Checks a signed request against the channel policy guarding `resource`.
    fn check_acl(&self, resource: &str, channel: &str, signed: SignedData) -> Result<(), Status> {
        let config = self.support.channel_config(channel).ok_or_else(|| {
            Status::permission_denied(format!(
                "Failed to get policy manager for channel [{channel}]"
            ))
        })?;
        let path = crate::acl::policy_for(config.config(), resource);
        config
            .evaluate_policy(&path, &[signed])
            .map_err(|e| {
                Status::permission_denied(format!(
                    "failed evaluating policy on signed data during check policy on channel [{channel}] with policy [{path}]: [{e}]"
                ))
            })
    }

    async fn commit_status(
        &self,
        signed: SignedCommitStatusRequest,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<CommitStatusResponse, Status> {
        if signed.request.is_empty() {
            return Err(Status::invalid_argument(
                "a commit status request is required",
            ));
        }
        let request = CommitStatusRequest::decode(signed.request.as_slice())
            .map_err(|e| Status::invalid_argument(format!("invalid status request: {e}")))?;
        self.check_acl(
            crate::acl::GATEWAY_COMMIT_STATUS,
            &request.channel_id,
            SignedData {
                data: signed.request.clone(),
                identity: request.identity.clone(),
                signature: signed.signature,
            },
        )?;
        let ledger = self
            .support
            .ledger(&request.channel_id)
            .ok_or_else(|| Status::aborted(format!("channel {} not found", request.channel_id)))?;
        let status = within(
            deadline,
            "context deadline exceeded",
            wait_for_commit(ledger.as_ref(), &request.transaction_id),
        )
        .await?;
        Ok(CommitStatusResponse {
            result: status.code,
            block_number: status.block_number,
        })
    }

    fn chaincode_events(
        &self,
        signed: SignedChaincodeEventsRequest,
    ) -> Result<ReceiverStream<Result<ChaincodeEventsResponse, Status>>, Status> {
        if signed.request.is_empty() {
            return Err(Status::invalid_argument(
                "a chaincode events request is required",
            ));
        }
        let request = ChaincodeEventsRequest::decode(signed.request.as_slice()).map_err(|e| {
            Status::invalid_argument(format!("invalid chaincode events request: {e}"))
        })?;
        self.check_acl(
            crate::acl::GATEWAY_CHAINCODE_EVENTS,
            &request.channel_id,
            SignedData {
                data: signed.request.clone(),
                identity: request.identity.clone(),
                signature: signed.signature,
            },
        )?;
        let ledger = self.support.ledger(&request.channel_id).ok_or_else(|| {
            Status::not_found(format!("channel {} not found", request.channel_id))
        })?;
        let start = events_start_block(ledger.as_ref(), &request)?;
        let (tx, rx) = mpsc::channel(EVENTS_QUEUE_MAX);
        tokio::spawn(stream_events(ledger, request, start, tx));
        Ok(ReceiverStream::new(rx))
    }
}

/// Waits until `tx_id` is committed, subscribing before looking so a commit in between
/// is not missed (Fabric `commit.Finder`). The client's deadline bounds the wait.
async fn wait_for_commit(
    ledger: &dyn LedgerView,
    tx_id: &str,
) -> Result<crate::api::TxStatus, Status> {
    let mut commits = ledger.subscribe();
    loop {
        if let Some(status) = ledger.tx_status(tx_id).map_err(Status::aborted)? {
            return Ok(status);
        }
        match commits.recv().await {
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                return Err(Status::aborted(
                    "unexpected close of commit notification channel",
                ));
            }
        }
    }
}

fn events_start_block(
    ledger: &dyn LedgerView,
    request: &ChaincodeEventsRequest,
) -> Result<u64, Status> {
    if !request.after_transaction_id.is_empty()
        && let Ok(Some(status)) = ledger.tx_status(&request.after_transaction_id)
    {
        return Ok(status.block_number);
    }
    match request
        .start_position
        .as_ref()
        .and_then(|p| p.r#type.as_ref())
    {
        None | Some(seek_position::Type::NextCommit(_)) => ledger.height().map_err(Status::aborted),
        Some(seek_position::Type::Specified(s)) => Ok(s.number),
        Some(seek_position::Type::Oldest(_)) => Err(Status::invalid_argument(
            "invalid start position type: *orderer.SeekPosition_Oldest",
        )),
        Some(seek_position::Type::Newest(_)) => Err(Status::invalid_argument(
            "invalid start position type: *orderer.SeekPosition_Newest",
        )),
    }
}

/// Reads blocks from `start` on, sending each block's matching events, until the client
/// goes away.
async fn stream_events(
    ledger: Arc<dyn LedgerView>,
    request: ChaincodeEventsRequest,
    start: u64,
    tx: mpsc::Sender<Result<ChaincodeEventsResponse, Status>>,
) {
    let mut matcher = EventMatcher::new(&request.chaincode_id, &request.after_transaction_id);
    let mut commits = ledger.subscribe();
    let mut number = start;
    loop {
        let block = match ledger.block(number) {
            Ok(Some(block)) => block,
            Ok(None) => {
                tokio::select! {
                    received = commits.recv() => {
                        if matches!(received, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                            let _ = tx.send(Err(Status::aborted("ledger closed"))).await;
                            return;
                        }
                    }
                    () = tx.closed() => return,
                }
                continue;
            }
            Err(e) => {
                let _ = tx.send(Err(Status::aborted(e))).await;
                return;
            }
        };
        let events: Vec<_> = block_events(&block)
            .into_iter()
            .filter(|e| matcher.matches(e))
            .collect();
        if !events.is_empty() {
            let response = ChaincodeEventsResponse {
                events,
                block_number: number,
            };
            if tx.send(Ok(response)).await.is_err() {
                return;
            }
        }
        number += 1;
    }
}

#[tonic::async_trait]
impl Gateway for GatewayService {
    async fn endorse(
        &self,
        request: Request<EndorseRequest>,
    ) -> Result<Response<EndorseResponse>, Status> {
        let deadline = client_deadline(&request);
        self.inner
            .endorse(request.into_inner(), deadline)
            .await
            .map(Response::new)
    }

    async fn submit(
        &self,
        request: Request<SubmitRequest>,
    ) -> Result<Response<SubmitResponse>, Status> {
        let deadline = client_deadline(&request);
        within(
            deadline,
            "submit timeout expired while broadcasting to ordering service",
            self.inner.submit(request.into_inner()),
        )
        .await
        .map(Response::new)
    }

    async fn commit_status(
        &self,
        request: Request<SignedCommitStatusRequest>,
    ) -> Result<Response<CommitStatusResponse>, Status> {
        let deadline = client_deadline(&request);
        self.inner
            .commit_status(request.into_inner(), deadline)
            .await
            .map(Response::new)
    }

    async fn evaluate(
        &self,
        request: Request<EvaluateRequest>,
    ) -> Result<Response<EvaluateResponse>, Status> {
        let deadline = client_deadline(&request);
        within(
            deadline,
            "evaluate timeout expired",
            self.inner.evaluate(request.into_inner()),
        )
        .await
        .map(Response::new)
    }

    type ChaincodeEventsStream = ReceiverStream<Result<ChaincodeEventsResponse, Status>>;

    async fn chaincode_events(
        &self,
        request: Request<SignedChaincodeEventsRequest>,
    ) -> Result<Response<Self::ChaincodeEventsStream>, Status> {
        self.inner
            .chaincode_events(request.into_inner())
            .map(Response::new)
    }
}
