//! A Gateway client that does what the Fabric Gateway SDKs do for one transaction: build and sign
//! the proposal, `Endorse`, sign the prepared transaction, `Submit`, then `CommitStatus` until it
//! is committed; or `Evaluate` for a query. It is the load generator's only way into a network, so
//! Weft and upstream peers are driven through the same calls.

use std::time::{Duration, Instant};

use fabric_protos::gateway::gateway_client::GatewayClient;
use fabric_protos::gateway::{
    CommitStatusRequest, EndorseRequest, EvaluateRequest, SignedCommitStatusRequest, SubmitRequest,
};
use fabric_protos::peer::TxValidationCode;
use prost::Message;
use tonic::transport::Channel;
use weft_comm::MessageLimits;
use weft_devnet::admin::{Endpoint, Signer, signed_proposal};
use weft_protoutil::Invocation;

use crate::error::{BenchError, Result};

/// Deadline of one Gateway call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// One client identity connected to one peer's Gateway service.
#[derive(Clone)]
pub struct Gateway {
    client: GatewayClient<Channel>,
    signer: Signer,
}

/// How one submitted transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Committed,
    /// Committed with a validation code other than VALID (for example an MVCC conflict).
    Invalid(i32),
}

impl Gateway {
    pub async fn connect(endpoint: &Endpoint, signer: Signer) -> Result<Self> {
        let channel = endpoint.channel().await?;
        Ok(Gateway {
            client: GatewayClient::new(channel).with_fabric_message_limits(),
            signer,
        })
    }

    /// Endorse, submit and wait for the commit. Returns the outcome and the latency.
    pub async fn submit(
        &self,
        channel: &str,
        chaincode: &str,
        args: &[Vec<u8>],
    ) -> Result<(Outcome, Duration)> {
        let started = Instant::now();
        let invocation = Invocation {
            channel_id: channel.to_owned(),
            chaincode: chaincode.to_owned(),
            args: args.to_vec(),
            ..Default::default()
        };
        let (_, proposal, tx_id) = signed_proposal(&self.signer, &invocation)?;
        let mut client = self.client.clone();
        let endorsed = timed(client.endorse(EndorseRequest {
            transaction_id: tx_id.clone(),
            channel_id: channel.to_owned(),
            proposed_transaction: Some(proposal),
            endorsing_organizations: Vec::new(),
        }))
        .await
        .map_err(BenchError::call("Endorse"))?
        .into_inner();
        let mut envelope = endorsed.prepared_transaction.ok_or_else(|| {
            BenchError::Protocol("Endorse returned no prepared transaction".into())
        })?;
        envelope.signature = self
            .signer
            .sign(&envelope.payload)
            .map_err(BenchError::Protocol)?;
        timed(client.submit(SubmitRequest {
            transaction_id: tx_id.clone(),
            channel_id: channel.to_owned(),
            prepared_transaction: Some(envelope),
        }))
        .await
        .map_err(BenchError::call("Submit"))?;
        let request = CommitStatusRequest {
            transaction_id: tx_id,
            channel_id: channel.to_owned(),
            identity: self.signer.creator(),
        }
        .encode_to_vec();
        let signature = self.signer.sign(&request).map_err(BenchError::Protocol)?;
        let status = timed(client.commit_status(SignedCommitStatusRequest { request, signature }))
            .await
            .map_err(BenchError::call("CommitStatus"))?
            .into_inner();
        let outcome = if status.result == TxValidationCode::Valid as i32 {
            Outcome::Committed
        } else {
            Outcome::Invalid(status.result)
        };
        Ok((outcome, started.elapsed()))
    }

    /// Evaluate a query; returns its payload and latency.
    pub async fn evaluate(
        &self,
        channel: &str,
        chaincode: &str,
        args: &[Vec<u8>],
    ) -> Result<(Vec<u8>, Duration)> {
        let started = Instant::now();
        let invocation = Invocation {
            channel_id: channel.to_owned(),
            chaincode: chaincode.to_owned(),
            args: args.to_vec(),
            ..Default::default()
        };
        let (_, proposal, tx_id) = signed_proposal(&self.signer, &invocation)?;
        let mut client = self.client.clone();
        let response = timed(client.evaluate(EvaluateRequest {
            transaction_id: tx_id,
            channel_id: channel.to_owned(),
            proposed_transaction: Some(proposal),
            target_organizations: Vec::new(),
        }))
        .await
        .map_err(BenchError::call("Evaluate"))?
        .into_inner();
        let payload = response.result.map(|r| r.payload).unwrap_or_default();
        Ok((payload, started.elapsed()))
    }
}

async fn timed<T>(
    call: impl std::future::Future<Output = Result<T, tonic::Status>>,
) -> Result<T, tonic::Status> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .map_err(|_| tonic::Status::deadline_exceeded("the benchmark's call deadline passed"))?
}
