//! Message size limits: Fabric's 100 MiB defaults and smaller configured ones.

use tonic::Code;
use weft_comm::{MessageSizeLimits, ServerConfig};

use crate::harness::{CallError, RunningServer, call, tls_client_config, tls_server_config};
use crate::pki::Pki;

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn ten_mib_messages_pass_both_ways_with_default_limits() {
    // tonic's default limit is 4 MiB; Fabric's is 100 MiB.
    let pki = Pki::new();
    let server = RunningServer::start(tls_server_config(&pki)).await;
    let client = tls_client_config(pki.ca.cert_pem(), None);
    let big: Vec<u8> = (0..10 * MIB).map(|i| (i % 251) as u8).collect();
    let response = call(&server.addr.to_string(), &client, big.clone())
        .await
        .unwrap();
    assert_eq!(response.payload.len(), big.len());
    assert!(response.payload == big);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_message_over_the_servers_limit_is_refused() {
    let server = RunningServer::start(ServerConfig {
        limits: MessageSizeLimits {
            max_recv_msg_size_bytes: MIB,
            ..MessageSizeLimits::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let address = server.addr.to_string();
    let client = weft_comm::ClientConfig::default();
    call(&address, &client, vec![7; MIB - 64]).await.unwrap();
    let result = call(&address, &client, vec![7; 2 * MIB]).await;
    let Err(CallError::Status(status)) = result else {
        panic!("oversized message not refused by status: {result:?}");
    };
    // tonic reports OUT_OF_RANGE where grpc-go reports RESOURCE_EXHAUSTED.
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(weft_comm::is_message_too_large(&status), "{status:?}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_response_over_the_clients_limit_is_refused() {
    let server = RunningServer::start(ServerConfig::default()).await;
    let client = weft_comm::ClientConfig {
        limits: MessageSizeLimits {
            max_recv_msg_size_bytes: MIB,
            ..MessageSizeLimits::default()
        },
        ..weft_comm::ClientConfig::default()
    };
    let result = call(&server.addr.to_string(), &client, vec![1; 2 * MIB]).await;
    let Err(CallError::Status(status)) = result else {
        panic!("oversized response accepted: {result:?}");
    };
    assert!(weft_comm::is_message_too_large(&status), "{status:?}");
    server.stop().await.unwrap();
}
