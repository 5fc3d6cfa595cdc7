//! The services over real gRPC: a remote peer reached with the tonic connector, and error
//! details arriving in the client's status as Fabric's SDKs decode them.

use std::sync::Arc;

use fabric_protos::gateway::EndorseRequest;
use fabric_protos::gateway::gateway_client::GatewayClient;
use fabric_protos::gateway::gateway_server::GatewayServer;
use fabric_protos::protos::endorser_server::{Endorser as EndorserService, EndorserServer};
use fabric_protos::protos::{ProposalResponse, SignedProposal};
use tokio::sync::oneshot;
use tonic::{Code, Request, Response, Status};
use weft_comm::{GrpcServer, ServerConfig};
use weft_gateway::{TonicConnector, error_details};

use crate::fixture::*;

/// Org2's peer: endorses every proposal with the same result as the local fake.
struct Org2Peer;

#[tonic::async_trait]
impl EndorserService for Org2Peer {
    async fn process_proposal(
        &self,
        _request: Request<SignedProposal>,
    ) -> Result<Response<ProposalResponse>, Status> {
        Ok(Response::new(proposal_response("result", "org2-over-grpc")))
    }
}

async fn serve_org2() -> (String, oneshot::Sender<()>) {
    let server = GrpcServer::bind("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap();
    let address = server.local_addr().to_string();
    let router = server
        .tonic_builder()
        .add_service(EndorserServer::new(Org2Peer));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.serve(router, async move {
        let _ = stopped.await;
    }));
    (address, stop)
}

async fn serve_gateway(
    net: &Net,
) -> (
    GatewayClient<tonic::transport::Channel>,
    oneshot::Sender<()>,
) {
    let server = GrpcServer::bind("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap();
    let address = server.local_addr().to_string();
    let router = server
        .tonic_builder()
        .add_service(GatewayServer::new(net.gateway.clone()));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.serve(router, async move {
        let _ = stopped.await;
    }));
    let channel = weft_comm::connect(&address, &Default::default())
        .await
        .unwrap();
    (GatewayClient::new(channel), stop)
}

fn request() -> EndorseRequest {
    EndorseRequest {
        transaction_id: "wire".into(),
        channel_id: CHANNEL.into(),
        proposed_transaction: Some(signed_proposal("wire", false)),
        endorsing_organizations: vec![],
    }
}

/// A plain-text network (no TLS CAs in the channel's MSPs) requiring Org1 and Org2.
fn builder() -> NetBuilder {
    let mut b = NetBuilder::new(signature_app_policy(out_of_orgs(
        2,
        &["Org1MSP", "Org2MSP"],
    )));
    b.tls = false;
    b
}

#[tokio::test]
async fn endorses_with_a_remote_peer_over_grpc() {
    let (org2, _stop_org2) = serve_org2().await;
    let net = builder()
        .peer("Org2MSP", &org2, 5, Behaviour::Down) // the fake is unused: tonic dials
        .build_with(Some(Arc::new(TonicConnector::default())));
    let (mut client, _stop) = serve_gateway(&net).await;
    let envelope = client
        .endorse(request())
        .await
        .unwrap()
        .into_inner()
        .prepared_transaction
        .unwrap();
    assert!(!envelope.payload.is_empty());
}

/// What a fabric-gateway client sees when the other org's peer is down: Aborted, and an
/// ErrorDetail naming the peer with Go's rendering of the transport error.
#[tokio::test]
async fn unreachable_remote_peer_reaches_the_client_as_error_details() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let net = builder()
        .peer("Org2MSP", &closed, 5, Behaviour::Down)
        .build_with(Some(Arc::new(TonicConnector::default())));
    let (mut client, _stop) = serve_gateway(&net).await;
    let status = client.endorse(request()).await.unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(
        status.message(),
        "failed to collect enough transaction endorsements, see attached details for more info"
    );
    let details = error_details(&status);
    assert_eq!(details.len(), 1);
    assert_eq!(
        (details[0].address.as_str(), details[0].msp_id.as_str()),
        (closed.as_str(), "Org2MSP")
    );
    assert!(
        details[0]
            .message
            .starts_with("rpc error: code = Unavailable desc = "),
        "{}",
        details[0].message
    );
}

/// An orderer that answers each broadcast envelope with SUCCESS and records it.
struct RecordingOrderer(Arc<std::sync::Mutex<Vec<fabric_protos::common::Envelope>>>);

#[tonic::async_trait]
impl fabric_protos::orderer::atomic_broadcast_server::AtomicBroadcast for RecordingOrderer {
    type BroadcastStream = tokio_stream::Iter<
        std::vec::IntoIter<Result<fabric_protos::orderer::BroadcastResponse, Status>>,
    >;
    type DeliverStream = tokio_stream::Iter<
        std::vec::IntoIter<Result<fabric_protos::orderer::DeliverResponse, Status>>,
    >;

    async fn broadcast(
        &self,
        request: Request<tonic::Streaming<fabric_protos::common::Envelope>>,
    ) -> Result<Response<Self::BroadcastStream>, Status> {
        let mut stream = request.into_inner();
        let envelope = stream.message().await?.unwrap();
        self.0.lock().unwrap().push(envelope);
        let ok = fabric_protos::orderer::BroadcastResponse {
            status: fabric_protos::common::Status::Success as i32,
            info: String::new(),
        };
        Ok(Response::new(tokio_stream::iter(vec![Ok(ok)])))
    }

    async fn deliver(
        &self,
        _request: Request<tonic::Streaming<fabric_protos::common::Envelope>>,
    ) -> Result<Response<Self::DeliverStream>, Status> {
        Err(Status::unimplemented("not an orderer"))
    }
}

/// Submit reaches an orderer over gRPC, dialed through an address override (Fabric
/// `peer.deliveryclient.addressOverrides`) since the config names an unresolvable host.
#[tokio::test]
async fn submit_broadcasts_through_an_orderer_override() {
    use fabric_protos::orderer::atomic_broadcast_server::AtomicBroadcastServer;
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let server = GrpcServer::bind("127.0.0.1:0", ServerConfig::default())
        .await
        .unwrap();
    let address = server.local_addr().to_string();
    let router = server
        .tonic_builder()
        .add_service(AtomicBroadcastServer::new(RecordingOrderer(
            received.clone(),
        )));
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.serve(router, async move {
        let _ = stopped.await;
    }));

    let mut connector = TonicConnector::default();
    connector.orderer_overrides.insert(
        "orderer.invalid:7050".into(),
        weft_gateway::OrdererOverride {
            address,
            ca_certs_pem: vec![],
        },
    );
    let net = builder()
        .orderer("orderer.invalid:7050", Err("unused fake"))
        .build_with(Some(Arc::new(connector)));
    let (mut client, _stop_gateway) = serve_gateway(&net).await;
    let envelope = fabric_protos::common::Envelope {
        payload: b"tx".to_vec(),
        signature: b"signed".to_vec(),
    };
    client
        .submit(fabric_protos::gateway::SubmitRequest {
            transaction_id: "t".into(),
            channel_id: CHANNEL.into(),
            prepared_transaction: Some(envelope.clone()),
        })
        .await
        .unwrap();
    assert_eq!(*received.lock().unwrap(), vec![envelope]);
}
