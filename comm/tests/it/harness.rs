//! A test server running a tiny Endorser that reports what it saw of the caller, and a
//! client helper.

use std::net::SocketAddr;

use fabric_protos::common::{Envelope, Status as CommonStatus};
use fabric_protos::protos::DeliverResponse;
use fabric_protos::protos::deliver_client::DeliverClient;
use fabric_protos::protos::deliver_response::Type as DeliverType;
use fabric_protos::protos::deliver_server::{Deliver, DeliverServer};
use fabric_protos::protos::endorser_client::EndorserClient;
use fabric_protos::protos::endorser_server::{Endorser, EndorserServer};
use fabric_protos::protos::{ProposalResponse, Response, SignedProposal};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::{Request, Status};
use weft_comm::{
    ClientConfig, ClientRootsHandle, ClientTlsConfig, CommError, GrpcServer, MessageLimits,
    PeerInfo, ServerConfig, ServerTlsConfig,
};

use crate::pki::{Leaf, Pki};

/// Echoes the proposal bytes back in `payload`; `response.payload` carries the caller's
/// DER client certificate and `response.message` the hex SHA-256 from
/// `PeerInfo::client_cert_hash` ("none" without a certificate).
pub struct Echo;

#[tonic::async_trait]
impl Endorser for Echo {
    async fn process_proposal(
        &self,
        request: Request<SignedProposal>,
    ) -> Result<tonic::Response<ProposalResponse>, Status> {
        let cert = PeerInfo::client_cert_der(&request).map(<[u8]>::to_vec);
        let hash = PeerInfo::client_cert_hash(&request)
            .map(hex::encode)
            .unwrap_or_else(|| "none".to_owned());
        Ok(tonic::Response::new(ProposalResponse {
            response: Some(Response {
                status: 200,
                message: hash,
                payload: cert.unwrap_or_default(),
            }),
            payload: request.into_inner().proposal_bytes,
            ..ProposalResponse::default()
        }))
    }
}

/// A Deliver stand-in that checks a TLS binding the way Fabric's Deliver does
/// (common/deliver/binding.go): the first envelope's payload must equal the SHA-256 of
/// the caller's TLS client certificate. Answers SUCCESS or FORBIDDEN.
pub struct BindingDeliver;

type DeliverStream = tokio_stream::Iter<std::vec::IntoIter<Result<DeliverResponse, Status>>>;

impl BindingDeliver {
    async fn check(
        request: Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<DeliverStream>, Status> {
        let expected = PeerInfo::client_cert_hash(&request);
        let mut envelopes = request.into_inner();
        let first = envelopes
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("no envelope"))?;
        let status = match expected {
            Some(hash) if first.payload == hash => CommonStatus::Success,
            _ => CommonStatus::Forbidden,
        };
        let response = DeliverResponse {
            r#type: Some(DeliverType::Status(status as i32)),
        };
        Ok(tonic::Response::new(tokio_stream::iter(vec![Ok(response)])))
    }
}

#[tonic::async_trait]
impl Deliver for BindingDeliver {
    type DeliverStream = DeliverStream;
    type DeliverFilteredStream = DeliverStream;
    type DeliverWithPrivateDataStream = DeliverStream;

    async fn deliver(
        &self,
        request: Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<DeliverStream>, Status> {
        Self::check(request).await
    }

    async fn deliver_filtered(
        &self,
        request: Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<DeliverStream>, Status> {
        Self::check(request).await
    }

    async fn deliver_with_private_data(
        &self,
        request: Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<DeliverStream>, Status> {
        Self::check(request).await
    }
}

/// Opens a Deliver stream, sends one envelope whose payload is `binding`, and returns
/// the status the server answered.
pub async fn deliver_binding(address: &str, config: &ClientConfig, binding: Vec<u8>) -> i32 {
    let channel = weft_comm::connect(address, config).await.unwrap();
    let mut client = DeliverClient::new(channel).with_message_limits(config.limits);
    let envelope = Envelope {
        payload: binding,
        ..Envelope::default()
    };
    let mut responses = client
        .deliver(tokio_stream::iter(vec![envelope]))
        .await
        .unwrap()
        .into_inner();
    match responses.message().await.unwrap() {
        Some(DeliverResponse {
            r#type: Some(DeliverType::Status(status)),
        }) => status,
        other => panic!("unexpected Deliver answer {other:?}"),
    }
}

pub struct RunningServer {
    pub addr: SocketAddr,
    pub roots: Option<ClientRootsHandle>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), CommError>>,
}

impl RunningServer {
    pub async fn start(config: ServerConfig) -> RunningServer {
        let server = GrpcServer::bind("127.0.0.1:0", config).await.unwrap();
        let addr = server.local_addr();
        let roots = server.client_roots();
        let router = server
            .tonic_builder()
            .add_service(EndorserServer::new(Echo).with_message_limits(server.limits()))
            .add_service(DeliverServer::new(BindingDeliver).with_message_limits(server.limits()));
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(router, async {
            let _ = signal.await;
        }));
        RunningServer {
            addr,
            roots,
            shutdown: Some(shutdown),
            task,
        }
    }

    pub async fn stop(mut self) -> Result<(), CommError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        (&mut self.task).await.unwrap()
    }
}

pub fn tls_server_config(pki: &Pki) -> ServerConfig {
    ServerConfig {
        tls: Some(ServerTlsConfig {
            cert_pem: pki.server.cert_pem.clone(),
            key_pem: pki.server.key_pem.clone(),
            client_auth_required: false,
            client_root_cas_pem: Vec::new(),
        }),
        ..ServerConfig::default()
    }
}

pub fn mutual_tls_server_config(pki: &Pki, client_roots: Vec<Vec<u8>>) -> ServerConfig {
    let mut config = tls_server_config(pki);
    if let Some(tls) = &mut config.tls {
        tls.client_auth_required = true;
        tls.client_root_cas_pem = client_roots;
    }
    config
}

pub fn tls_client_config(root_pem: Vec<u8>, client: Option<&Leaf>) -> ClientConfig {
    ClientConfig {
        tls: Some(ClientTlsConfig {
            server_root_cas_pem: vec![root_pem],
            client_cert_pem: client.map(|leaf| leaf.cert_pem.clone()),
            client_key_pem: client.map(|leaf| leaf.key_pem.clone()),
            server_name_override: None,
        }),
        ..ClientConfig::default()
    }
}

/// Dials `address` and makes one call with `proposal_bytes`; any failure (dial, TLS, or
/// call) comes back as the status or error text. With TLS 1.3 a client certificate the
/// server refuses is only noticed after the client's side of the handshake, so either
/// step may be the one that fails.
pub async fn call(
    address: &str,
    config: &ClientConfig,
    proposal_bytes: Vec<u8>,
) -> Result<ProposalResponse, CallError> {
    let channel = weft_comm::connect(address, config)
        .await
        .map_err(CallError::Dial)?;
    let mut client = EndorserClient::new(channel).with_message_limits(config.limits);
    let response = client
        .process_proposal(SignedProposal {
            proposal_bytes,
            signature: Vec::new(),
        })
        .await
        .map_err(CallError::Status)?;
    Ok(response.into_inner())
}

#[derive(Debug)]
#[allow(dead_code)] // the payloads are read through Debug in assertion messages
pub enum CallError {
    Dial(CommError),
    Status(Status),
}
