//! Submit (Fabric internal/pkg/gateway/submit.go) and CommitStatus (commitstatus.go).

use std::time::Duration;

use fabric_protos::common::{Envelope, Status as CommonStatus};
use fabric_protos::gateway::gateway_server::Gateway;
use fabric_protos::gateway::{CommitStatusRequest, SignedCommitStatusRequest, SubmitRequest};
use fabric_protos::protos::TxValidationCode;
use prost::Message;
use tonic::{Code, Request};
use weft_gateway::error_details;

use crate::fixture::*;

fn submit(signature: &[u8]) -> SubmitRequest {
    SubmitRequest {
        transaction_id: "tx".into(),
        channel_id: CHANNEL.into(),
        prepared_transaction: Some(Envelope {
            payload: b"payload".to_vec(),
            signature: signature.to_vec(),
        }),
    }
}

fn policy() -> Vec<u8> {
    signature_app_policy(out_of_orgs(1, &["Org1MSP"]))
}

#[tokio::test]
async fn fails_over_to_a_working_orderer() {
    let net = NetBuilder::new(policy())
        .orderer("orderer0:7050", Err("connection refused"))
        .orderer("orderer1:7050", Ok(CommonStatus::Success as i32))
        .build();
    net.gateway
        .submit(Request::new(submit(b"s")))
        .await
        .unwrap();
    let calls = net.connector.orderers["orderer1:7050"]
        .calls
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(calls, 1);
}

#[tokio::test]
async fn no_working_orderer_is_unavailable_with_details() {
    let net = NetBuilder::new(policy())
        .orderer("orderer0:7050", Err("connection refused"))
        .orderer("orderer1:7050", Ok(CommonStatus::ServiceUnavailable as i32))
        .build();
    let status = net
        .gateway
        .submit(Request::new(submit(b"s")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        status.message(),
        "no orderers could successfully process transaction"
    );
    let details = error_details(&status);
    // Only transport failures are detailed; a 5xx answer just moves on.
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].address, "orderer0:7050");
    assert_eq!(details[0].msp_id, "OrdererMSP");
    assert_eq!(details[0].message, "connection refused");
}

#[tokio::test]
async fn client_error_from_orderer_aborts() {
    let net = NetBuilder::new(policy())
        .orderer("orderer0:7050", Ok(CommonStatus::BadRequest as i32))
        .build();
    let status = net
        .gateway
        .submit(Request::new(submit(b"s")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(
        status.message(),
        "received unsuccessful response from orderer: status=BAD_REQUEST, info=fake"
    );
}

#[tokio::test]
async fn unsigned_transaction_is_rejected() {
    let net = NetBuilder::new(policy()).build();
    let status = net
        .gateway
        .submit(Request::new(submit(b"")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), "prepared transaction must be signed");
}

fn commit_status(tx_id: &str, msp: &str, signature: &[u8]) -> SignedCommitStatusRequest {
    SignedCommitStatusRequest {
        request: CommitStatusRequest {
            transaction_id: tx_id.into(),
            channel_id: CHANNEL.into(),
            identity: identity(msp, "client"),
        }
        .encode_to_vec(),
        signature: signature.to_vec(),
    }
}

/// The status request blocks until the transaction commits (Fabric commit.Finder).
#[tokio::test]
async fn commit_status_waits_for_the_commit() {
    let net = NetBuilder::new(policy()).build();
    net.support.ledger.commit(&[("other", 0, None)]);
    let gateway = net.gateway.clone();
    let waiting = tokio::spawn(async move {
        gateway
            .commit_status(Request::new(commit_status(
                "tx-late",
                "Org1MSP",
                GOOD_SIGNATURE,
            )))
            .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished());
    net.support
        .ledger
        .commit(&[("tx-late", TxValidationCode::MvccReadConflict as i32, None)]);
    let response = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .into_inner();
    assert_eq!(response.result, TxValidationCode::MvccReadConflict as i32);
    assert_eq!(response.block_number, 1);
}

#[tokio::test]
async fn commit_status_of_committed_transaction_returns_at_once() {
    let net = NetBuilder::new(policy()).build();
    net.support
        .ledger
        .commit(&[("a", 0, None), ("tx-early", 0, None)]);
    let response = net
        .gateway
        .commit_status(Request::new(commit_status(
            "tx-early",
            "Org2MSP",
            GOOD_SIGNATURE,
        )))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.result, TxValidationCode::Valid as i32);
    assert_eq!(response.block_number, 0);
}

/// The signed request is checked against the channel's Readers policy.
#[tokio::test]
async fn commit_status_checks_the_signed_identity() {
    let net = NetBuilder::new(policy()).build();
    let bad_signature = net
        .gateway
        .commit_status(Request::new(commit_status("tx", "Org1MSP", b"forged")))
        .await
        .unwrap_err();
    assert_eq!(bad_signature.code(), Code::PermissionDenied);
    let outsider = net
        .gateway
        .commit_status(Request::new(commit_status("tx", "Org3MSP", GOOD_SIGNATURE)))
        .await
        .unwrap_err();
    assert_eq!(outsider.code(), Code::PermissionDenied);
    assert!(
        outsider.message().contains("/Channel/Application/Readers"),
        "{}",
        outsider.message()
    );
    let empty = net
        .gateway
        .commit_status(Request::new(SignedCommitStatusRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert_eq!(empty.message(), "a commit status request is required");
}
