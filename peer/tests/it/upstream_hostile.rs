//! Hostile input on every service of a running Weft peer: malformed and oversized proposals,
//! garbage Deliver envelopes, raw bytes and a TLS handshake of garbage on the gRPC port and on
//! the operations port. Every request gets an error (the same kind a Go peer gives where the
//! outcome is comparable) and the peer stays healthy and serving.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use fabric_protos::common::Envelope;
use fabric_protos::protos::SignedProposal;
use fabric_protos::protos::deliver_client::DeliverClient;
use fabric_protos::protos::deliver_response::Type as DeliverType;
use fabric_protos::protos::endorser_client::EndorserClient;
use weft_interop_tests::Network;
use weft_interop_tests::readiness::healthz_ok;

use crate::support::{CHANNEL, GO_PEER, WEFT_PEER, connect_peer, start_network};

/// A proposal response status, or the gRPC error code when the call failed.
async fn propose(
    network: &Network,
    peer: &str,
    signed: SignedProposal,
) -> Result<i32, tonic::Code> {
    let mut client = EndorserClient::new(connect_peer(network, peer).await);
    match client.process_proposal(signed).await {
        Ok(response) => Ok(response.into_inner().response.map_or(0, |r| r.status)),
        Err(status) => Err(status.code()),
    }
}

async fn deliver_status(network: &Network, peer: &str, envelope: Envelope) -> Option<i32> {
    let mut client = DeliverClient::new(connect_peer(network, peer).await);
    let mut stream = client
        .deliver(tokio_stream::iter(vec![envelope]))
        .await
        .ok()?
        .into_inner();
    let next = tokio::time::timeout(Duration::from_secs(10), stream.message()).await;
    match next {
        Ok(Ok(Some(response))) => match response.r#type {
            Some(DeliverType::Status(status)) => Some(status),
            _ => None,
        },
        _ => None,
    }
}

fn garbage_proposals() -> Vec<(&'static str, SignedProposal)> {
    let proposal = |bytes: Vec<u8>| SignedProposal {
        proposal_bytes: bytes,
        signature: vec![0x30, 0x00],
    };
    vec![
        ("empty", proposal(Vec::new())),
        ("not a proposal", proposal(vec![0xff; 64])),
        (
            "truncated varint",
            proposal(vec![0x0a, 0xff, 0xff, 0xff, 0xff]),
        ),
        (
            "nested garbage header",
            proposal(vec![0x0a, 0x03, 0x0a, 0x01, 0xff]),
        ),
        ("large junk", proposal(vec![0x5a; 1 << 20])),
    ]
}

#[test]
fn upstream_weft_peer_survives_hostile_requests() {
    let network = start_network();
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
    let weft = network.peer(WEFT_PEER).unwrap().clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        for (case, signed) in garbage_proposals() {
            let go = propose(&network, GO_PEER, signed.clone()).await;
            let ours = propose(&network, WEFT_PEER, signed).await;
            // A malformed proposal is never endorsed: an error response or a gRPC error.
            assert!(!matches!(ours, Ok(200)), "{case}: {ours:?}");
            assert_eq!(
                ours.is_err(),
                go.is_err(),
                "{case}: Weft {ours:?}, Go {go:?}"
            );
        }
        for (case, envelope) in [
            ("empty envelope", Envelope::default()),
            (
                "garbage payload",
                Envelope {
                    payload: vec![0xff; 1024],
                    signature: vec![1; 8],
                },
            ),
            (
                "header without channel header",
                Envelope {
                    payload: vec![0x0a, 0x00],
                    signature: Vec::new(),
                },
            ),
        ] {
            let go = deliver_status(&network, GO_PEER, envelope.clone()).await;
            let ours = deliver_status(&network, WEFT_PEER, envelope).await;
            assert_eq!(ours, go, "{case}");
        }
    });
    // Raw garbage on the gRPC (TLS) port and on the operations (HTTP) port.
    for address in [weft.listen, weft.operations] {
        for junk in [
            &b"\x16\x03\x01\x00\x05hello"[..],
            &[0u8; 4096][..],
            &b"GET /healthz HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"[..],
        ] {
            if let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(2)) {
                let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
                let _ = stream.write_all(junk);
            }
        }
    }
    assert!(healthz_ok(weft.operations), "the Weft peer stays healthy");
    assert_eq!(network.channel_height(WEFT_PEER).unwrap(), 1);
    let list = network.peer_cli(WEFT_PEER, &["channel", "list"]).unwrap();
    assert!(list.stdout.contains(CHANNEL));
}
