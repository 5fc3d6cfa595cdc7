//! Evaluate (Fabric internal/pkg/gateway/evaluate.go): the local peer first, else the
//! highest ledger of the target orgs; retries on other peers for unreachable peers and
//! chaincode 500s.

use fabric_protos::gateway::EvaluateRequest;
use fabric_protos::gateway::gateway_server::Gateway;
use tonic::{Code, Request};
use weft_gateway::error_details;

use crate::fixture::*;

fn request(targets: &[&str]) -> EvaluateRequest {
    EvaluateRequest {
        transaction_id: "q".into(),
        channel_id: CHANNEL.into(),
        proposed_transaction: Some(signed_proposal("q", false)),
        target_organizations: targets.iter().map(|s| (*s).into()).collect(),
    }
}

fn any_org() -> Vec<u8> {
    signature_app_policy(out_of_orgs(1, &["Org1MSP", "Org2MSP"]))
}

#[tokio::test]
async fn evaluates_on_local_peer_and_returns_the_chaincode_result() {
    let net = NetBuilder::new(any_org())
        .peer(
            "Org2MSP",
            "peer0.org2:9051",
            50,
            Behaviour::Endorse("remote"),
        )
        .local(Behaviour::Endorse("local"))
        .build();
    let response = net
        .gateway
        .evaluate(Request::new(request(&[])))
        .await
        .unwrap();
    let result = response.into_inner().result.unwrap();
    assert_eq!(result.status, 200);
    assert_eq!(result.payload, b"local".to_vec());
    assert_eq!(net.endorser("peer0.org2:9051").calls(), 0);
}

#[tokio::test]
async fn target_org_uses_its_highest_ledger_peer() {
    let net = NetBuilder::new(any_org())
        .peer("Org2MSP", "peer0.org2:9051", 3, Behaviour::Endorse("low"))
        .peer("Org2MSP", "peer1.org2:9151", 8, Behaviour::Endorse("high"))
        .build();
    let response = net
        .gateway
        .evaluate(Request::new(request(&["Org2MSP"])))
        .await
        .unwrap();
    assert_eq!(
        response.into_inner().result.unwrap().payload,
        b"high".to_vec()
    );
    assert_eq!(net.local.calls(), 0);
    assert_eq!(net.endorser("peer0.org2:9051").calls(), 0);
}

#[tokio::test]
async fn unreachable_peer_is_retried_on_the_next() {
    let net = NetBuilder::new(any_org())
        .peer("Org2MSP", "peer0.org2:9051", 8, Behaviour::Down)
        .peer(
            "Org2MSP",
            "peer1.org2:9151",
            3,
            Behaviour::Endorse("second"),
        )
        .build();
    let response = net
        .gateway
        .evaluate(Request::new(request(&["Org2MSP"])))
        .await
        .unwrap();
    assert_eq!(
        response.into_inner().result.unwrap().payload,
        b"second".to_vec()
    );
    assert_eq!(net.endorser("peer0.org2:9051").calls(), 1);
}

#[tokio::test]
async fn every_peer_failing_gives_details_of_each() {
    let net = NetBuilder::new(any_org())
        .local(Behaviour::ChaincodeStatus(500, "boom"))
        .peer("Org2MSP", "peer0.org2:9051", 8, Behaviour::Down)
        .build();
    let status = net
        .gateway
        .evaluate(Request::new(request(&[])))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        status.message(),
        "failed to evaluate transaction, see attached details for more info"
    );
    let details = error_details(&status);
    assert_eq!(details.len(), 2);
    assert_eq!(
        (details[0].address.as_str(), details[0].message.as_str()),
        (LOCAL, "boom")
    );
    assert_eq!(details[1].address, "peer0.org2:9051");
}

/// A chaincode error status other than an empty 500 is the chaincode's answer: no retry.
#[tokio::test]
async fn chaincode_error_is_returned_without_retry() {
    let net = NetBuilder::new(any_org())
        .local(Behaviour::ChaincodeStatus(404, "asset not found"))
        .peer("Org2MSP", "peer0.org2:9051", 8, Behaviour::Endorse("x"))
        .build();
    let status = net
        .gateway
        .evaluate(Request::new(request(&[])))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unknown);
    assert_eq!(
        status.message(),
        "evaluate call to endorser returned error: chaincode response 404, asset not found"
    );
    assert_eq!(error_details(&status)[0].msp_id, "Org1MSP");
    assert_eq!(net.endorser("peer0.org2:9051").calls(), 0);
}

#[tokio::test]
async fn unknown_chaincode_or_channel_is_failed_precondition() {
    let net = NetBuilder::new(any_org()).build();
    let status = net
        .gateway
        .evaluate(Request::new(request(&["Org9MSP"])))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status.message(),
        "no peers available to evaluate chaincode basic in channel mychannel"
    );
    let mut bad = request(&[]);
    bad.proposed_transaction.as_mut().unwrap().proposal_bytes = b"\xff\xff".to_vec();
    let status = net.gateway.evaluate(Request::new(bad)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("failed to unpack transaction proposal: ")
    );
}
