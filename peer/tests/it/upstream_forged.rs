//! Forged blocks: the Weft peer pulls through a relay in front of the upstream orderer
//! (`peer.deliveryclient.addressOverrides`) that tampers with the blocks it passes on. A block
//! whose data no longer matches its header, or whose orderer signature was altered, is refused
//! (Fabric's block verification); the peer keeps retrying and commits the genuine block once
//! the relay stops tampering, ending on the Go peer's chain.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use fabric_protos::common::Envelope;
use fabric_protos::orderer::DeliverResponse;
use fabric_protos::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use fabric_protos::orderer::atomic_broadcast_server::{AtomicBroadcast, AtomicBroadcastServer};
use fabric_protos::orderer::deliver_response::Type as DeliverType;
use tokio_stream::wrappers::ReceiverStream;
use weft_comm::{ClientConfig, ClientTlsConfig, ServerConfig, ServerTlsConfig};
use weft_interop_tests::process::{NodeProcess, clean_command};
use weft_interop_tests::readiness::healthz_ok;
use weft_interop_tests::{Network, TlsFiles, node_env};

use crate::support::{GO_PEER, WEFT_PEER, approve, header_hash, start_network};

const GENUINE: u8 = 0;
const TAMPER_DATA: u8 = 1;
const TAMPER_SIGNATURE: u8 = 2;

/// Relays Deliver to the real orderer, altering blocks after the genesis block per `mode`.
struct Relay {
    upstream: tonic::transport::Channel,
    mode: Arc<AtomicU8>,
}

#[tonic::async_trait]
impl AtomicBroadcast for Relay {
    type BroadcastStream =
        ReceiverStream<Result<fabric_protos::orderer::BroadcastResponse, tonic::Status>>;
    type DeliverStream = ReceiverStream<Result<DeliverResponse, tonic::Status>>;

    async fn broadcast(
        &self,
        _request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<Self::BroadcastStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("relay serves Deliver only"))
    }

    async fn deliver(
        &self,
        request: tonic::Request<tonic::Streaming<Envelope>>,
    ) -> Result<tonic::Response<Self::DeliverStream>, tonic::Status> {
        let mut incoming = request.into_inner();
        let first = incoming
            .message()
            .await?
            .ok_or_else(|| tonic::Status::invalid_argument("no request"))?;
        let (requests, forwarded) = tokio::sync::mpsc::channel(1);
        requests.send(first).await.unwrap();
        let mut client = AtomicBroadcastClient::new(self.upstream.clone());
        let mut upstream = client
            .deliver(ReceiverStream::new(forwarded))
            .await?
            .into_inner();
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        let mode = self.mode.clone();
        tokio::spawn(async move {
            // Keeps the upstream request stream open while blocks flow.
            let _requests = requests;
            while let Ok(Some(mut response)) = upstream.message().await {
                if let Some(DeliverType::Block(block)) = response.r#type.as_mut() {
                    let number = block.header.as_ref().map_or(0, |h| h.number);
                    match mode.load(Ordering::Relaxed) {
                        TAMPER_DATA if number > 0 => {
                            // The envelope ends with its signature: still well-formed,
                            // but no longer what the header's data hash covers.
                            let envelope = &mut block.data.as_mut().unwrap().data[0];
                            *envelope.last_mut().unwrap() ^= 0x01;
                        }
                        TAMPER_SIGNATURE if number > 0 => {
                            let metadata = &mut block.metadata.as_mut().unwrap().metadata[0];
                            let last = metadata.len() - 3;
                            metadata[last] ^= 0x01;
                        }
                        _ => {}
                    }
                }
                if sender.send(Ok(response)).await.is_err() {
                    return;
                }
            }
        });
        Ok(tonic::Response::new(ReceiverStream::new(receiver)))
    }
}

fn weft_height(network: &Network) -> u64 {
    network.channel_height(WEFT_PEER).unwrap_or(0)
}

#[test]
fn upstream_weft_peer_refuses_forged_blocks() {
    let mut network = start_network();
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
    network.stop_node(WEFT_PEER).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let orderer = network.orderers()[0].clone();
    let mode = Arc::new(AtomicU8::new(TAMPER_DATA));
    let relay_address = runtime.block_on(async {
        let upstream_tls = ClientTlsConfig::from_root_ca_file(&orderer.tls_ca()).unwrap();
        let upstream = weft_comm::connect_lazy(
            &orderer.listen.to_string(),
            &ClientConfig {
                tls: Some(upstream_tls),
                ..ClientConfig::default()
            },
        )
        .unwrap();
        let server = weft_comm::GrpcServer::bind(
            "127.0.0.1:0",
            ServerConfig {
                tls: Some(
                    ServerTlsConfig::from_files(&orderer.tls_cert(), &orderer.tls_key()).unwrap(),
                ),
                ..ServerConfig::default()
            },
        )
        .await
        .unwrap();
        let address = server.local_addr();
        let router = server
            .tonic_builder()
            .add_service(AtomicBroadcastServer::new(Relay {
                upstream,
                mode: mode.clone(),
            }));
        tokio::spawn(server.serve(router, futures::future::pending()));
        address
    });

    // Restart the Weft peer with its orderer address overridden to the relay.
    let node = network.peer(WEFT_PEER).unwrap().clone();
    let mut env = node_env::peer_env(
        &node,
        network.peer(GO_PEER).unwrap(),
        &network.node_config_dir(),
        network.toolchain().ccaas_builder(),
    );
    env.push((
        "CORE_PEER_DELIVERYCLIENT_ADDRESSOVERRIDES".into(),
        format!(
            "[{{from: \"{}\", to: \"{relay_address}\"}}]",
            orderer.listen
        ),
    ));
    let mut command = clean_command(std::path::Path::new(env!("CARGO_BIN_EXE_peer")));
    command
        .args(["node", "start"])
        .envs(env)
        .current_dir(&node.data_dir);
    let _weft = NodeProcess::spawn(WEFT_PEER, command, &node.log).unwrap();
    let started = Instant::now();
    while !healthz_ok(node.operations) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "Weft peer did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    approve(&network, GO_PEER, "forged", 1);
    network.wait_for_height(GO_PEER, 2).unwrap();
    for tamper in [TAMPER_DATA, TAMPER_SIGNATURE] {
        mode.store(tamper, Ordering::Relaxed);
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(
            weft_height(&network),
            1,
            "a forged block (mode {tamper}) was committed"
        );
    }
    let log = std::fs::read_to_string(&node.log).unwrap();
    assert!(
        log.contains("does not match its data"),
        "data tampering not reported"
    );
    assert!(
        log.contains("BlockValidation"),
        "signature tampering not reported"
    );

    mode.store(GENUINE, Ordering::Relaxed);
    network.wait_for_height(WEFT_PEER, 2).unwrap();
    assert_eq!(
        header_hash(&network.fetch_block(WEFT_PEER, 1).unwrap()),
        header_hash(&network.fetch_block(GO_PEER, 1).unwrap())
    );
    assert_eq!(
        network.fetch_block(WEFT_PEER, 1).unwrap(),
        network.fetch_block(GO_PEER, 1).unwrap()
    );
    drop(runtime);
}
