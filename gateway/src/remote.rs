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

/// Go's rendering of a failed call to `address`. A refused connection reads as grpc-go's dial
/// failure (Fabric's gateway reports that text in ErrorDetail when a peer or orderer is down);
/// Go names the resolved address, this names the one dialled.
fn go_rpc_error_at(status: &tonic::Status, address: &str) -> String {
    if connection_refused(status) {
        return format!(
            "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp {address}: connect: connection refused\""
        );
    }
    go_rpc_error(status)
}

/// Whether the call failed because nothing listens at the address (an I/O error of kind
/// `ConnectionRefused` somewhere in the error's source chain, which is bounded by its length).
fn connection_refused(status: &tonic::Status) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = error.source();
    }
    false
}

fn rewrap(status: tonic::Status, address: &str) -> tonic::Status {
    tonic::Status::new(status.code(), go_rpc_error_at(&status, address))
}

struct RemoteEndorser {
    client: EndorserClient<Channel>,
    /// Where the client dials, for error messages.
    address: String,
}

impl Endorser for RemoteEndorser {
    fn process_proposal(
        &self,
        proposal: SignedProposal,
    ) -> BoxFuture<'static, Result<ProposalResponse, tonic::Status>> {
        let mut client = self.client.clone();
        let address = self.address.clone();
        Box::pin(async move {
            client
                .process_proposal(proposal)
                .await
                .map(tonic::Response::into_inner)
                .map_err(|status| rewrap(status, &address))
        })
    }
}

struct RemoteOrderer {
    client: AtomicBroadcastClient<Channel>,
    /// Where the client dials, for error messages.
    address: String,
}

impl Orderer for RemoteOrderer {
    fn broadcast(
        &self,
        envelope: Envelope,
    ) -> BoxFuture<'static, Result<BroadcastResponse, tonic::Status>> {
        let mut client = self.client.clone();
        let address = self.address.clone();
        Box::pin(async move {
            let request = tokio_stream::once(envelope);
            let mut responses = client
                .broadcast(request)
                .await
                .map_err(|status| rewrap(status, &address))?
                .into_inner();
            match responses
                .message()
                .await
                .map_err(|status| rewrap(status, &address))?
            {
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
        Ok(Arc::new(RemoteEndorser {
            client: EndorserClient::new(channel).with_fabric_message_limits(),
            address: address.to_owned(),
        }))
    }

    fn orderer(
        &self,
        address: &str,
        tls_root_certs: &[Vec<u8>],
    ) -> Result<Arc<dyn Orderer>, GatewayError> {
        let dialled = match self.orderer_overrides.get(address) {
            Some(o) => o.address.as_str(),
            None => address,
        };
        let channel = match self.orderer_overrides.get(address) {
            Some(o) => self.channel(&o.address, &o.ca_certs_pem)?,
            None => self.channel(address, tls_root_certs)?,
        };
        Ok(Arc::new(RemoteOrderer {
            client: AtomicBroadcastClient::new(channel).with_fabric_message_limits(),
            address: dialled.to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A free local address nothing listens on (the listener is closed again).
    fn closed_address() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        address
    }

    // Fabric's gateway puts grpc-go's dial failure in the ErrorDetail of a peer that is down
    // (seen from the Go SDK against a 2.5.9 network whose Org2 peer was stopped).
    #[tokio::test]
    async fn a_refused_endorser_reads_as_grpc_go_dial_failure() {
        let address = closed_address();
        let endorser = TonicConnector::default().endorser(&address, &[]).unwrap();
        let status = endorser
            .process_proposal(SignedProposal::default())
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(
            status.message(),
            format!(
                "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp {address}: connect: connection refused\""
            )
        );
    }

    #[tokio::test]
    async fn a_refused_orderer_reads_as_grpc_go_dial_failure() {
        let address = closed_address();
        let orderer = TonicConnector::default().orderer(&address, &[]).unwrap();
        let status = orderer.broadcast(Envelope::default()).await.unwrap_err();
        assert!(
            status.message().ends_with(&format!(
                "dial tcp {address}: connect: connection refused\""
            )),
            "{}",
            status.message()
        );
    }

    #[test]
    fn other_failures_keep_their_own_text() {
        let status = tonic::Status::unavailable("endorser is shutting down");
        assert_eq!(
            go_rpc_error_at(&status, "127.0.0.1:1"),
            "rpc error: code = Unavailable desc = endorser is shutting down"
        );
    }
}
