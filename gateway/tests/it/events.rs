//! ChaincodeEvents (Fabric internal/pkg/gateway/chaincodeevents.go): events of valid
//! transactions only, one response per block, from a start position or after a given
//! transaction.

use std::time::Duration;

use fabric_protos::gateway::gateway_server::Gateway;
use fabric_protos::gateway::{
    ChaincodeEventsRequest, ChaincodeEventsResponse, SignedChaincodeEventsRequest,
};
use fabric_protos::orderer::{
    SeekNextCommit, SeekOldest, SeekPosition, SeekSpecified, seek_position,
};
use fabric_protos::protos::TxValidationCode;
use prost::Message;
use tokio_stream::StreamExt;
use tonic::{Code, Request};

use crate::fixture::*;

const VALID: i32 = TxValidationCode::Valid as i32;
const MVCC: i32 = TxValidationCode::MvccReadConflict as i32;

fn events_request(start: Option<seek_position::Type>, after: &str) -> SignedChaincodeEventsRequest {
    SignedChaincodeEventsRequest {
        request: ChaincodeEventsRequest {
            channel_id: CHANNEL.into(),
            chaincode_id: CC.into(),
            identity: identity("Org1MSP", "client"),
            start_position: start.map(|t| SeekPosition { r#type: Some(t) }),
            after_transaction_id: after.into(),
        }
        .encode_to_vec(),
        signature: GOOD_SIGNATURE.to_vec(),
    }
}

/// (block number, event names) of a response.
fn summary(r: &ChaincodeEventsResponse) -> (u64, Vec<String>) {
    (
        r.block_number,
        r.events.iter().map(|e| e.event_name.clone()).collect(),
    )
}

fn net_with_history() -> Net {
    let net = NetBuilder::new(signature_app_policy(out_of_orgs(1, &["Org1MSP"]))).build();
    let ledger = &net.support.ledger;
    ledger.commit(&[("t0", VALID, Some("e0"))]);
    ledger.commit(&[("t1", VALID, Some("e1")), ("t1bad", MVCC, Some("invalid"))]);
    ledger.commit(&[("t2", VALID, None)]);
    ledger.commit(&[("t3a", VALID, Some("e3a")), ("t3b", VALID, Some("e3b"))]);
    net
}

async fn next(
    stream: &mut (
             impl tokio_stream::Stream<Item = Result<ChaincodeEventsResponse, tonic::Status>> + Unpin
         ),
) -> (u64, Vec<String>) {
    let item = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap();
    summary(&item.unwrap().unwrap())
}

#[tokio::test]
async fn specified_start_replays_valid_events_per_block() {
    let net = net_with_history();
    let start = seek_position::Type::Specified(SeekSpecified { number: 1 });
    let mut stream = net
        .gateway
        .chaincode_events(Request::new(events_request(Some(start), "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next(&mut stream).await, (1, vec!["e1".into()]));
    // Block 2 has no events and sends nothing.
    assert_eq!(
        next(&mut stream).await,
        (3, vec!["e3a".into(), "e3b".into()])
    );
    net.support.ledger.commit(&[("t4", VALID, Some("e4"))]);
    assert_eq!(next(&mut stream).await, (4, vec!["e4".into()]));
}

#[tokio::test]
async fn after_transaction_id_skips_that_transaction_and_earlier() {
    let net = net_with_history();
    let mut stream = net
        .gateway
        .chaincode_events(Request::new(events_request(None, "t3a")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next(&mut stream).await, (3, vec!["e3b".into()]));
}

#[tokio::test]
async fn next_commit_waits_for_new_blocks() {
    let net = net_with_history();
    let start = seek_position::Type::NextCommit(SeekNextCommit {});
    let mut stream = net
        .gateway
        .chaincode_events(Request::new(events_request(Some(start), "")))
        .await
        .unwrap()
        .into_inner();
    let pending = tokio::time::timeout(Duration::from_millis(50), stream.next()).await;
    assert!(pending.is_err(), "no event before a new commit");
    net.support
        .ledger
        .commit(&[("t4", MVCC, Some("bad")), ("t5", VALID, Some("e5"))]);
    assert_eq!(next(&mut stream).await, (4, vec!["e5".into()]));
}

#[tokio::test]
async fn oldest_is_not_a_valid_start_and_forged_requests_are_denied() {
    let net = net_with_history();
    let start = seek_position::Type::Oldest(SeekOldest {});
    let status = net
        .gateway
        .chaincode_events(Request::new(events_request(Some(start), "")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "invalid start position type: *orderer.SeekPosition_Oldest"
    );

    let mut forged = events_request(None, "");
    forged.signature = b"forged".to_vec();
    let status = net
        .gateway
        .chaincode_events(Request::new(forged))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}
