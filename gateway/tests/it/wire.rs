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
