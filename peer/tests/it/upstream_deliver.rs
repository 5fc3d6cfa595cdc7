//! The Weft peer's Deliver service against a Go peer's, request for request: both peers of
//! Org1 serve the same channel, and every SeekInfo case (Fabric's `common/deliver` table:
//! positions, FAIL_IF_NOT_READY, unknown channel, start after stop, stale timestamp, a signer
//! outside the channel's Readers, a bad signature, next_commit) must produce the same blocks and
//! the same final status from both.

use std::time::Duration;

use fabric_protos::common::{Block, Envelope, Status};
use fabric_protos::orderer::SeekInfo;
use fabric_protos::orderer::seek_info::SeekBehavior;
use fabric_protos::orderer::seek_position::Type as Position;
use fabric_protos::orderer::{SeekNewest, SeekNextCommit, SeekOldest};
use fabric_protos::protos::deliver_client::DeliverClient;
use fabric_protos::protos::deliver_response::Type as DeliverType;
use fabric_protos::protos::{DeliverResponse, FilteredBlock};
use weft_interop_tests::{Network, TlsFiles};
use weft_msp::SigningIdentity;

use crate::support::{
    CHANNEL, GO_PEER, WEFT_PEER, approve, connect_peer, header_hash, position, seek_envelope,
    signer_from, specified,
};

/// Longest a single Deliver exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy)]
enum Api {
    Block,
    Filtered,
    PrivateData,
}

/// What a peer answered: per block its number and header hash (0s for filtered blocks),
/// filtered transactions as (txid, type, validation code), and the final status (`None` if the stream ended
/// without one).
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    blocks: Vec<(u64, [u8; 32])>,
    filtered: Vec<Vec<(String, i32, i32)>>,
    status: Option<i32>,
}

fn record(outcome: &mut Outcome, response: DeliverResponse) -> bool {
    match response.r#type {
        Some(DeliverType::Block(block)) => push_block(outcome, &block),
        Some(DeliverType::BlockAndPrivateData(data)) => push_block(outcome, &data.block.unwrap()),
        Some(DeliverType::FilteredBlock(filtered)) => push_filtered(outcome, &filtered),
        Some(DeliverType::Status(status)) => {
            outcome.status = Some(status);
            return true;
        }
        None => panic!("empty deliver response"),
    }
    false
}

fn push_block(outcome: &mut Outcome, block: &Block) {
    outcome
        .blocks
        .push((block.header.as_ref().unwrap().number, header_hash(block)));
}

fn push_filtered(outcome: &mut Outcome, filtered: &FilteredBlock) {
    assert_eq!(filtered.channel_id, CHANNEL);
    outcome.blocks.push((filtered.number, [0; 32]));
    outcome.filtered.push(
        filtered
            .filtered_transactions
            .iter()
            .map(|t| (t.txid.clone(), t.r#type, t.tx_validation_code))
            .collect(),
    );
}

/// Sends one envelope, collects responses up to a status, `stop_after` blocks, or the timeout.
async fn exchange(
    network: &Network,
    peer: &str,
    api: Api,
    envelope: Envelope,
    stop_after: Option<usize>,
) -> Outcome {
    let channel = connect_peer(network, peer).await;
    let mut client = DeliverClient::new(channel);
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    sender.send(envelope).await.unwrap();
    let requests = tokio_stream::wrappers::ReceiverStream::new(receiver);
    let mut stream = match api {
        Api::Block => client.deliver(requests).await.unwrap().into_inner(),
        Api::Filtered => client
            .deliver_filtered(requests)
            .await
            .unwrap()
            .into_inner(),
        Api::PrivateData => client
            .deliver_with_private_data(requests)
            .await
            .unwrap()
            .into_inner(),
    };
    let mut outcome = Outcome {
        blocks: Vec::new(),
        filtered: Vec::new(),
        status: None,
    };
    let collect = async {
        while let Some(response) = stream.message().await.unwrap() {
            if record(&mut outcome, response) || Some(outcome.blocks.len()) == stop_after {
                break;
            }
        }
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, collect)
        .await
        .unwrap_or_else(|_| panic!("{peer}: no answer within {EXCHANGE_TIMEOUT:?}"));
    drop(sender);
    outcome
}

fn seek(
    start: Option<fabric_protos::orderer::SeekPosition>,
    stop: Option<fabric_protos::orderer::SeekPosition>,
    fail_if_not_ready: bool,
) -> SeekInfo {
    SeekInfo {
        start,
        stop,
        behavior: if fail_if_not_ready {
            SeekBehavior::FailIfNotReady as i32
        } else {
            SeekBehavior::BlockUntilReady as i32
        },
        ..Default::default()
    }
}

/// Runs the same request against both peers and returns the Weft peer's outcome after checking
/// it equals the Go peer's.
async fn same_on_both(network: &Network, case: &str, api: Api, envelope: Envelope) -> Outcome {
    let go = exchange(network, GO_PEER, api, envelope.clone(), None).await;
    let weft = exchange(network, WEFT_PEER, api, envelope, None).await;
    assert_eq!(weft, go, "{case}");
    weft
}

#[test]
fn upstream_weft_deliver_answers_every_seek_like_a_go_peer() {
    let network = crate::support::start_network();
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
    approve(&network, GO_PEER, "weftcc", 1);
    network.wait_for_height(WEFT_PEER, 2).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(cases(&network));
}

async fn cases(network: &Network) {
    let org1_admin = network.admin_of("Org1MSP").unwrap();
    let admin = signer_from(&org1_admin.msp_dir(), "Org1MSP");
    let admin: &dyn SigningIdentity = admin.as_ref();
    let orderer_admin = network.admin_of("OrdererMSP").unwrap();
    let outsider = signer_from(&orderer_admin.msp_dir(), "OrdererMSP");
    let fresh = Duration::ZERO;
    let success = Some(Status::Success as i32);
    let oldest = || position(Position::Oldest(SeekOldest {}));
    let newest = || position(Position::Newest(SeekNewest {}));

    let all = seek_envelope(admin, CHANNEL, &seek(oldest(), newest(), false), fresh);
    let outcome = same_on_both(network, "oldest..newest", Api::Block, all.clone()).await;
    assert_eq!(outcome.blocks.len(), 2);
    assert_eq!(outcome.status, success);
    let outcome = same_on_both(
        network,
        "private data oldest..newest",
        Api::PrivateData,
        all,
    )
    .await;
    assert_eq!(outcome.status, success);

    let last = seek_envelope(admin, CHANNEL, &seek(newest(), newest(), false), fresh);
    let outcome = same_on_both(network, "filtered newest", Api::Filtered, last).await;
    assert_eq!(outcome.filtered.len(), 1);
    assert_eq!(outcome.filtered[0].len(), 1, "one lifecycle transaction");

    let cases: Vec<(&str, Envelope, Status)> = vec![
        (
            "FAIL_IF_NOT_READY beyond the height",
            seek_envelope(
                admin,
                CHANNEL,
                &seek(specified(1), specified(9), true),
                fresh,
            ),
            Status::NotFound,
        ),
        (
            "start beyond the height",
            seek_envelope(
                admin,
                CHANNEL,
                &seek(specified(7), specified(9), false),
                fresh,
            ),
            Status::NotFound,
        ),
        (
            "unknown channel",
            seek_envelope(
                admin,
                "nosuchchannel",
                &seek(oldest(), newest(), false),
                fresh,
            ),
            Status::NotFound,
        ),
        (
            "start after stop",
            seek_envelope(
                admin,
                CHANNEL,
                &seek(specified(1), specified(0), false),
                fresh,
            ),
            Status::BadRequest,
        ),
        (
            "missing stop",
            seek_envelope(admin, CHANNEL, &seek(oldest(), None, false), fresh),
            Status::BadRequest,
        ),
        (
            "timestamp outside the time window",
            seek_envelope(
                admin,
                CHANNEL,
                &seek(oldest(), newest(), false),
                Duration::from_secs(3600),
            ),
            Status::BadRequest,
        ),
        (
            "signer outside the channel's readers",
            seek_envelope(
                outsider.as_ref(),
                CHANNEL,
                &seek(oldest(), newest(), false),
                fresh,
            ),
            Status::Forbidden,
        ),
        (
            "bad signature",
            {
                let mut envelope =
                    seek_envelope(admin, CHANNEL, &seek(oldest(), newest(), false), fresh);
                envelope.signature = outsider.sign(b"something else").unwrap();
                envelope
            },
            Status::Forbidden,
        ),
        (
            "garbage payload",
            Envelope {
                payload: vec![0xff; 9],
                signature: vec![1],
            },
            Status::BadRequest,
        ),
    ];
    for (case, envelope, status) in cases {
        for api in [Api::Block, Api::Filtered] {
            let outcome = same_on_both(network, case, api, envelope.clone()).await;
            assert_eq!(outcome.status, Some(status as i32), "{case} ({api:?})");
        }
    }

    // next_commit waits for the block after the current height on both peers.
    let next = seek_envelope(
        admin,
        CHANNEL,
        &seek(
            position(Position::NextCommit(SeekNextCommit {})),
            specified(u64::MAX),
            false,
        ),
        fresh,
    );
    let go = exchange(network, GO_PEER, Api::Block, next.clone(), Some(1));
    let weft = exchange(network, WEFT_PEER, Api::Block, next, Some(1));
    let approval = async {
        // Give both streams time to be registered before the block is cut.
        tokio::time::sleep(Duration::from_secs(1)).await;
        tokio::task::block_in_place(|| approve(network, GO_PEER, "nextcc", 1));
    };
    let (go, weft, ()) = tokio::join!(go, weft, approval);
    assert_eq!(go.blocks.len(), 1);
    assert_eq!(go.blocks[0].0, 2);
    assert_eq!(weft, go, "next_commit");
}
