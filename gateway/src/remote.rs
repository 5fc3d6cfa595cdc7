//! Clients for other organizations' peers and for orderers over gRPC (TLS through
//! weft-comm), connecting lazily so a peer that is down costs nothing until used.

use std::collections::HashMap;
use std::sync::Arc;

use fabric_protos::common::Envelope;
use fabric_protos::orderer::BroadcastResponse;
use fabric_protos::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use fabric_protos::protos::endorser_client::EndorserClient;
use fabric_protos::protos::{ProposalResponse, SignedProposal};
use tonic::transport::Channel;
use weft_comm::{ClientConfig, MessageLimits};

use crate::api::{BoxFuture, Connector, Endorser, Orderer};
use crate::error::GatewayError;

/// Dials remote nodes with the peer's client TLS settings.
#[derive(Clone, Default)]
pub struct TonicConnector {
    /// Base settings: keepalive, limits, dial timeout and the peer's client certificate
    /// for mutual TLS. Server roots are replaced per endpoint.
    pub base: ClientConfig,
    /// Orderer addresses to dial elsewhere, with the CA certificates (PEM) to trust there
    /// (Fabric `peer.deliveryclient.addressOverrides`).
    pub orderer_overrides: HashMap<String, OrdererOverride>,
}

/// Where to reach an orderer named in the channel config instead.
#[derive(Clone, Debug, Default)]
pub struct OrdererOverride {
    pub address: String,
    pub ca_certs_pem: Vec<Vec<u8>>,
}

impl TonicConnector {
    fn channel(&self, address: &str, tls_root_certs: &[Vec<u8>]) -> Result<Channel, GatewayError> {
        let mut config = self.base.clone();
        if tls_root_certs.is_empty() {
            config.tls = None;
        } else {
            let mut tls = config.tls.take().unwrap_or_default();
            tls.server_root_cas_pem = tls_root_certs.to_vec();
            config.tls = Some(tls);
        }
        weft_comm::connect_lazy(address, &config).map_err(|e| GatewayError::Connect {
            address: address.to_owned(),
            reason: e.to_string(),
        })
    }
}

/// Go's rendering of a failed call, which Fabric puts in ErrorDetail messages.
pub fn go_rpc_error(status: &tonic::Status) -> String {
    let code = match status.code() {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "Canceled",
        tonic::Code::Unknown => "Unknown",
        tonic::Code::InvalidArgument => "InvalidArgument",
        tonic::Code::DeadlineExceeded => "DeadlineExceeded",
        tonic::Code::NotFound => "NotFound",
        tonic::Code::AlreadyExists => "AlreadyExists",
        tonic::Code::PermissionDenied => "PermissionDenied",
        tonic::Code::ResourceExhausted => "ResourceExhausted",
        tonic::Code::FailedPrecondition => "FailedPrecondition",
        tonic::Code::Aborted => "Aborted",
        tonic::Code::OutOfRange => "OutOfRange",
        tonic::Code::Unimplemented => "Unimplemented",
        tonic::Code::Internal => "Internal",
        tonic::Code::Unavailable => "Unavailable",
        tonic::Code::DataLoss => "DataLoss",
        tonic::Code::Unauthenticated => "Unauthenticated",
    };
    format!("rpc error: code = {code} desc = {}", status.message())
}

fn rewrap(status: tonic::Status) -> tonic::Status {
    tonic::Status::new(status.code(), go_rpc_error(&status))
}

struct RemoteEndorser(EndorserClient<Channel>);

impl Endorser for RemoteEndorser {
    fn process_proposal(
        &self,
        proposal: SignedProposal,
    ) -> BoxFuture<'static, Result<ProposalResponse, tonic::Status>> {
        let mut client = self.0.clone();
        Box::pin(async move {
            client
                .process_proposal(proposal)
                .await
                .map(tonic::Response::into_inner)
                .map_err(rewrap)
        })
    }
}

struct RemoteOrderer(AtomicBroadcastClient<Channel>);

impl Orderer for RemoteOrderer {
    fn broadcast(
        &self,
        envelope: Envelope,
    ) -> BoxFuture<'static, Result<BroadcastResponse, tonic::Status>> {
        let mut client = self.0.clone();
        Box::pin(async move {
            let request = tokio_stream::once(envelope);
            let mut responses = client
                .broadcast(request)
                .await
                .map_err(rewrap)?
                .into_inner();
            match responses.message().await.map_err(rewrap)? {
                Some(response) => Ok(response),
                None => Err(tonic::Status::unavailable(
                    "rpc error: code = Unavailable desc = orderer closed the stream without a response",
                )),
            }
        })
    }
}

impl Connector for TonicConnector {
    fn endorser(
        &self,
        address: &str,
        tls_root_certs: &[Vec<u8>],
    ) -> Result<Arc<dyn Endorser>, GatewayError> {
        let channel = self.channel(address, tls_root_certs)?;
        Ok(Arc::new(RemoteEndorser(
            EndorserClient::new(channel).with_fabric_message_limits(),
        )))
    }

    fn orderer(
        &self,
        address: &str,
        tls_root_certs: &[Vec<u8>],
    ) -> Result<Arc<dyn Orderer>, GatewayError> {
        let channel = match self.orderer_overrides.get(address) {
            Some(o) => self.channel(&o.address, &o.ca_certs_pem)?,
            None => self.channel(address, tls_root_certs)?,
        };
        Ok(Arc::new(RemoteOrderer(
            AtomicBroadcastClient::new(channel).with_fabric_message_limits(),
        )))
    }
}
