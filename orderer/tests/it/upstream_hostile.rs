//! Hostile input against a running Weft `orderer` process on a channel made by upstream
//! `cryptogen`/`configtxgen` and joined with upstream `osnadmin`: every malformed or oversized
//! request gets an error answer (or a closed connection), and afterwards the process is still
//! alive, healthy and ordering. Fabric's behaviour for each input is named next to it.
//!
//! Not covered yet: an empty cluster `Step` and a forwarded submit with a nil payload, since
//! the orderer does not serve the `orderer.Cluster` service at this milestone.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use fabric_protos::common::{Block, Envelope, HeaderType, Status};
use fabric_protos::orderer::atomic_broadcast_client::AtomicBroadcastClient;
use fabric_protos::orderer::deliver_response::Type as DeliverType;
use fabric_protos::orderer::seek_info::SeekBehavior;
use fabric_protos::orderer::seek_position::Type as Position;
use fabric_protos::orderer::{SeekInfo, SeekPosition, SeekSpecified};
use prost::Message;
use tonic::transport::Channel;
use weft_comm::{ClientConfig, ClientTlsConfig};
use weft_interop_tests::readiness::healthz_ok;
use weft_interop_tests::{
    Network, NodeCommand, OrdererNode, REFERENCE_VERSION, TlsFiles, Topology, UpstreamToolchain,
};
use weft_msp::X509Msp;

use crate::network::signed_envelope;

const CHANNEL: &str = "hostilechannel";
/// `Orderer.BatchSize.AbsoluteMaxBytes` of the harness's configtx (10 MB).
const ABSOLUTE_MAX_BYTES: usize = 10 * 1024 * 1024;
/// gRPC receive limit of Fabric's servers (and Weft's).
const GRPC_MAX_RECV_BYTES: usize = 100 * 1024 * 1024;
/// Bound on each single exchange, so a hung server fails the test instead of stalling it.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a raw-socket peer waits for the server to close after garbage.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes read back from a raw socket at most.
const RAW_REPLY_BYTES_MAX: u64 = 64 * 1024;

/// What `broadcast` reports when the server closes the stream cleanly without answering.
const STREAM_ENDED: &str = "stream ended without a response";

/// Deterministic noise (xorshift64*), so a failure reproduces.
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

async fn connect(orderer: &OrdererNode) -> AtomicBroadcastClient<Channel> {
    let config = ClientConfig {
        tls: Some(ClientTlsConfig::from_root_ca_file(&orderer.tls_ca()).unwrap()),
        ..ClientConfig::default()
    };
    let channel = weft_comm::connect(&orderer.listen.to_string(), &config)
        .await
        .unwrap();
    AtomicBroadcastClient::new(channel)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX)
}

/// One envelope on a fresh Broadcast stream: the response's status, or the gRPC error.
async fn broadcast(orderer: &OrdererNode, envelope: Envelope) -> Result<(Status, String), String> {
    let mut client = connect(orderer).await;
    let exchange = async {
        let mut responses = client
            .broadcast(tokio_stream::once(envelope))
            .await
            .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?
            .into_inner();
        match responses.message().await {
            Ok(Some(r)) => Ok((
                Status::try_from(r.status).unwrap_or(Status::Unknown),
                r.info,
            )),
            Ok(None) => Err(STREAM_ENDED.to_owned()),
            Err(s) => Err(format!("{:?}: {}", s.code(), s.message())),
        }
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| panic!("broadcast got no answer within {EXCHANGE_TIMEOUT:?}"))
}

/// One request on a fresh Deliver stream: the first block, or the final status.
async fn deliver(orderer: &OrdererNode, envelope: Envelope) -> Result<Block, Status> {
    let mut client = connect(orderer).await;
    let exchange = async {
        let mut responses = client
            .deliver(tokio_stream::once(envelope))
            .await
            .unwrap()
            .into_inner();
        match responses.message().await.unwrap().and_then(|r| r.r#type) {
            Some(DeliverType::Block(block)) => Ok(block),
            Some(DeliverType::Status(status)) => {
                Err(Status::try_from(status).unwrap_or(Status::Unknown))
            }
            other => panic!("unexpected deliver response {other:?}"),
        }
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| panic!("deliver got no answer within {EXCHANGE_TIMEOUT:?}"))
}

/// What a server did with raw bytes on a fresh TCP connection.
#[derive(Debug)]
enum RawOutcome {
    /// It closed (or reset) the connection after answering these bytes.
    Closed { reply: Vec<u8> },
}

/// Writes `bytes` to `addr` and waits until the server ends the connection. Panics when the
/// server neither closes nor resets within `CLOSE_TIMEOUT` (a stalled acceptor).
fn send_raw(addr: SocketAddr, bytes: &[u8]) -> RawOutcome {
    let mut stream = TcpStream::connect_timeout(&addr, CLOSE_TIMEOUT).unwrap();
    stream.set_read_timeout(Some(CLOSE_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(CLOSE_TIMEOUT)).unwrap();
    // The server may close before everything is written; that is a fine answer too.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut reply = Vec::new();
    match (&mut stream)
        .take(RAW_REPLY_BYTES_MAX)
        .read_to_end(&mut reply)
    {
        Ok(_) => RawOutcome::Closed { reply },
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ) =>
        {
            RawOutcome::Closed { reply }
        }
        Err(e) => panic!("{addr}: server kept a garbage connection open: {e}"),
    }
}

/// A TLS handshake record whose body is noise (Fabric: the TLS stack fails the handshake).
fn garbage_client_hello() -> Vec<u8> {
    let body = garbage(512, 7);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(body.len() as u16 + 4).to_be_bytes());
    // Handshake type ClientHello with a 24-bit length that matches the noise.
    record.push(0x01);
    record.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    record.extend_from_slice(&body);
    record
}

/// POSTs `body` to the channel participation endpoint over mutual TLS as the admin whose
/// cryptogen directory is `admin_dir`; returns the HTTP status and body.
fn admin_post(
    orderer: &OrdererNode,
    admin_dir: &std::path::Path,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    use openssl::ssl::{SslConnector, SslFiletype, SslMethod};
    let mut connector = SslConnector::builder(SslMethod::tls_client()).unwrap();
    connector.set_ca_file(orderer.tls_ca()).unwrap();
    connector
        .set_certificate_chain_file(admin_dir.join("tls/client.crt"))
        .unwrap();
    connector
        .set_private_key_file(admin_dir.join("tls/client.key"), SslFiletype::PEM)
        .unwrap();
    let tcp = TcpStream::connect_timeout(&orderer.admin, CLOSE_TIMEOUT).unwrap();
    tcp.set_read_timeout(Some(EXCHANGE_TIMEOUT)).unwrap();
    let mut tls = connector.build().connect("localhost", tcp).unwrap();
    let head = format!(
        "POST /participation/v1/channels HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).unwrap();
    tls.write_all(body).unwrap();
    let mut reply = Vec::new();
    // A peer that closes without close_notify is fine: the reply is complete by then.
    let _ = (&mut tls).take(RAW_REPLY_BYTES_MAX).read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status = reply
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = reply
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

fn seek_block(number: u64) -> Vec<u8> {
    let position = || SeekPosition {
        r#type: Some(Position::Specified(SeekSpecified { number })),
    };
    SeekInfo {
        start: Some(position()),
        stop: Some(position()),
        behavior: SeekBehavior::BlockUntilReady as i32,
        ..SeekInfo::default()
    }
    .encode_to_vec()
}

fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat
                .rsplit(')')
                .next()?
                .split_whitespace()
                .next()?
                .to_owned();
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

#[test]
fn hostile_input_gets_errors_and_the_orderer_keeps_ordering() {
    let toolchain = UpstreamToolchain::locate(REFERENCE_VERSION).unwrap_or_else(|e| panic!("{e}"));
    let mut topology = Topology::new(CHANNEL, &toolchain).peer_org("Org1", 1);
    topology.orderer_command = NodeCommand::new(env!("CARGO_BIN_EXE_orderer"), &[]);
    let network = Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"));
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
    let orderer = network.orderers()[0].clone();
    let (_, pid) = network
        .node_pids()
        .into_iter()
        .find(|(name, _)| *name == orderer.name)
        .unwrap();
    let admin = network.admin_of("Org1MSP").unwrap();
    let signer = X509Msp::load_local(&admin.msp_dir(), "Org1MSP")
        .unwrap()
        .signing_identity()
        .unwrap();
    let signed = |header_type: HeaderType, data: Vec<u8>| {
        signed_envelope(signer.as_ref(), header_type, CHANNEL, data)
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // Broadcast. Fabric's handler answers BAD_REQUEST for an envelope without a header and
    // for a payload that does not parse, and its size filter BAD_REQUEST above
    // AbsoluteMaxBytes; above the gRPC receive limit the stream fails with a gRPC status.
    let outcomes = runtime.block_on(async {
        let empty = broadcast(&orderer, Envelope::default()).await;
        let noise = broadcast(
            &orderer,
            Envelope {
                payload: garbage(300, 1),
                signature: garbage(70, 2),
            },
        )
        .await;
        let over_batch = broadcast(
            &orderer,
            signed(
                HeaderType::EndorserTransaction,
                vec![0xab; ABSOLUTE_MAX_BYTES + 1024],
            ),
        )
        .await;
        let over_grpc = broadcast(
            &orderer,
            Envelope {
                payload: vec![0xcd; GRPC_MAX_RECV_BYTES + 1024],
                signature: Vec::new(),
            },
        )
        .await;
        [empty, noise, over_batch, over_grpc]
    });
    eprintln!("broadcast outcomes: {outcomes:?}");
    let [empty, noise, over_batch, over_grpc] = outcomes;
    assert_eq!(empty.unwrap().0, Status::BadRequest);
    assert_eq!(noise.unwrap().0, Status::BadRequest);
    let (status, info) = over_batch.unwrap();
    assert_eq!(status, Status::BadRequest, "{info}");
    // Fabric ends the stream with the receive error: grpc-go's RESOURCE_EXHAUSTED "grpc:
    // received message larger than max (N vs. M)"; Weft answers the same.
    let error = over_grpc.expect_err("a message over the gRPC limit must not be answered");
    assert!(
        error.contains("ResourceExhausted") && error.contains("received message larger than max"),
        "{error}"
    );

    // A replayed channel creation on Broadcast: the genesis block's CONFIG envelope is no
    // CONFIG_UPDATE, so Fabric refuses it (it never becomes a block).
    let genesis =
        Block::decode(std::fs::read(network.genesis_block()).unwrap().as_slice()).unwrap();
    let genesis_config = Envelope::decode(genesis.data.unwrap().data[0].as_slice()).unwrap();
    let replay = runtime.block_on(broadcast(&orderer, genesis_config));
    eprintln!("broadcast of the genesis config envelope: {replay:?}");
    let (status, info) = replay.unwrap();
    assert_ne!(status, Status::Success, "{info}");

    // Deliver. Fabric answers a request it cannot parse with BAD_REQUEST and ends the stream.
    let deliver_outcomes = runtime.block_on(async {
        let empty = deliver(&orderer, Envelope::default()).await;
        let noise = deliver(
            &orderer,
            Envelope {
                payload: garbage(200, 3),
                signature: garbage(70, 4),
            },
        )
        .await;
        let bad_seek = deliver(
            &orderer,
            signed(HeaderType::DeliverSeekInfo, garbage(64, 5)),
        )
        .await;
        [empty, noise, bad_seek]
    });
    eprintln!("deliver outcomes: {deliver_outcomes:?}");
    for outcome in deliver_outcomes {
        assert_eq!(outcome.unwrap_err(), Status::BadRequest);
    }

    // Channel participation. Fabric: joining an existing channel is 405, a body that is no
    // block is 400.
    let genesis_path = network.genesis_block().display().to_string();
    let join = |block: &str| {
        network
            .osnadmin(
                &orderer.name,
                &[
                    "channel",
                    "join",
                    "--channelID",
                    CHANNEL,
                    "--config-block",
                    block,
                ],
            )
            .unwrap()
    };
    let (status, body) = join(&genesis_path);
    eprintln!("second join: {status} {body}");
    assert_eq!(status, 405, "{body}");
    // osnadmin refuses to send a block it cannot parse, so the garbage goes over raw HTTPS
    // with the orderer admin's client certificate: once as the `config-block` part of a
    // well-formed form, once as a body that is no form at all.
    let form_boundary = "weftboundary";
    let mut form = format!(
        "--{form_boundary}\r\nContent-Disposition: form-data; name=\"config-block\"; filename=\"b\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    form.extend(garbage(4096, 6));
    form.extend(format!("\r\n--{form_boundary}--\r\n").into_bytes());
    // cryptogen: orderers/<node> and users/Admin@<domain> are siblings under the org.
    let orderer_admin = orderer
        .crypto_dir
        .parent()
        .and_then(|orderers| orderers.parent())
        .map(|org| org.join("users/Admin@example.com"))
        .unwrap();
    for (what, content_type, body) in [
        (
            "garbage config-block part",
            format!("multipart/form-data; boundary={form_boundary}"),
            form,
        ),
        (
            "garbage body",
            "multipart/form-data; boundary=x".to_owned(),
            garbage(4096, 8),
        ),
    ] {
        let (status, reply) = admin_post(&orderer, &orderer_admin, &content_type, &body);
        eprintln!("join with {what}: {status} {reply}");
        assert_eq!(status, 400, "{what}: {reply}");
    }

    // Raw sockets: noise, and a TLS handshake record full of noise, on every port. The TLS
    // listeners drop the connection (after a fatal alert when the record framing parsed); the
    // plain-HTTP operations server answers 400 and closes.
    for (port, addr) in [
        ("grpc", orderer.listen),
        ("admin", orderer.admin),
        ("operations", orderer.operations),
    ] {
        for (what, bytes) in [
            ("noise", garbage(8192, 11)),
            ("garbage ClientHello", garbage_client_hello()),
        ] {
            let RawOutcome::Closed { reply } = send_raw(addr, &bytes);
            eprintln!(
                "{port} port, {what}: closed after {} reply bytes {:?}",
                reply.len(),
                String::from_utf8_lossy(&reply[..reply.len().min(40)])
            );
            if port == "operations" {
                assert!(reply.starts_with(b"HTTP/1.1 400 "), "{reply:?}");
            } else {
                // Nothing, or TLS alert records (content type 21) before the close.
                assert!(reply.is_empty() || reply[0] == 0x15, "{reply:?}");
            }
        }
    }

    // Still alive, healthy and ordering: a valid transaction is accepted and delivered.
    assert!(process_alive(pid), "the orderer process ended");
    assert!(healthz_ok(orderer.operations), "/healthz is not 200");
    let tx = signed(HeaderType::EndorserTransaction, b"still ordering".to_vec());
    let (status, info) = runtime.block_on(broadcast(&orderer, tx.clone())).unwrap();
    assert_eq!(status, Status::Success, "{info}");
    let block = runtime
        .block_on(deliver(
            &orderer,
            signed(HeaderType::DeliverSeekInfo, seek_block(1)),
        ))
        .unwrap();
    assert_eq!(block.header.unwrap().number, 1);
    assert_eq!(block.data.unwrap().data, [tx.encode_to_vec()]);

    // The operations endpoint counts what was ordered and delivered (Fabric's
    // broadcast_processed_count, deliver_blocks_sent and ledger_blockchain_height, served on
    // /metrics with Metrics.Provider "prometheus").
    let RawOutcome::Closed { reply } = send_raw(
        orderer.operations,
        b"GET /metrics HTTP/1.1\r\nHost: orderer\r\n\r\n",
    );
    let metrics = String::from_utf8_lossy(&reply);
    assert!(metrics.starts_with("HTTP/1.1 200 "), "{metrics}");
    let success = format!(
        "broadcast_processed_count{{channel=\"{CHANNEL}\",type=\"ENDORSER_TRANSACTION\",status=\"SUCCESS\"}} 1"
    );
    let sent = format!(
        "deliver_blocks_sent{{channel=\"{CHANNEL}\",filtered=\"false\",data_type=\"block\"}} "
    );
    let height = format!("ledger_blockchain_height{{channel=\"{CHANNEL}\"}} 2");
    assert!(metrics.lines().any(|l| l == success), "{metrics}");
    assert!(metrics.lines().any(|l| l.starts_with(&sent)), "{metrics}");
    assert!(metrics.lines().any(|l| l == height), "{metrics}");

    let log = std::fs::read_to_string(&orderer.log).unwrap();
    assert!(!log.contains("panicked"), "the orderer log shows a panic");
    assert!(process_alive(pid), "the orderer process ended");
}
