//! The client's gRPC deadline ends a call with DeadlineExceeded and Fabric's message for
//! the stage it was in (internal/pkg/gateway: "evaluate timeout expired", "endorsement
//! timeout expired while collecting ...", commit status's context deadline).

use std::time::{Duration, Instant};

use fabric_protos::gateway::gateway_server::Gateway;
use fabric_protos::gateway::{
    CommitStatusRequest, EndorseRequest, EvaluateRequest, SignedCommitStatusRequest,
};
use prost::Message;
use tonic::{Code, Request};

use crate::fixture::*;

fn with_deadline<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("grpc-timeout", "200m".parse().unwrap());
    request
}

fn assert_deadline(status: &tonic::Status, message: &str, started: Instant) {
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert_eq!(status.message(), message);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn evaluate_stops_at_the_client_deadline() {
    let net = NetBuilder::new(signature_app_policy(out_of_orgs(1, &["Org1MSP"])))
        .local(Behaviour::Hang)
        .build();
    let started = Instant::now();
    let status = net
        .gateway
        .evaluate(with_deadline(EvaluateRequest {
            transaction_id: "q".into(),
            channel_id: CHANNEL.into(),
            proposed_transaction: Some(signed_proposal("q", false)),
            target_organizations: vec![],
        }))
        .await
        .unwrap_err();
    assert_deadline(&status, "evaluate timeout expired", started);
}

#[tokio::test]
async fn endorse_reports_the_stage_it_timed_out_in() {
    let request = || EndorseRequest {
        transaction_id: "t".into(),
        channel_id: CHANNEL.into(),
        proposed_transaction: Some(signed_proposal("t", false)),
        endorsing_organizations: vec![],
    };
    let and = signature_app_policy(out_of_orgs(2, &["Org1MSP", "Org2MSP"]));
    let first_hangs = NetBuilder::new(and.clone())
        .local(Behaviour::Hang)
        .peer(
            "Org2MSP",
            "peer0.org2:9051",
            5,
            Behaviour::Endorse("result"),
        )
        .build();
    let started = Instant::now();
    let status = first_hangs
        .gateway
        .endorse(with_deadline(request()))
        .await
        .unwrap_err();
    assert_deadline(
        &status,
        "endorsement timeout expired while collecting first endorsement",
        started,
    );

    let second_hangs = NetBuilder::new(and)
        .peer("Org2MSP", "peer0.org2:9051", 5, Behaviour::Hang)
        .build();
    let started = Instant::now();
    let status = second_hangs
        .gateway
        .endorse(with_deadline(request()))
        .await
        .unwrap_err();
    assert_deadline(
        &status,
        "endorsement timeout expired while collecting endorsements",
        started,
    );
}

#[tokio::test]
async fn commit_status_of_a_transaction_never_committed_ends_at_the_deadline() {
    let net = NetBuilder::new(signature_app_policy(out_of_orgs(1, &["Org1MSP"]))).build();
    let request = SignedCommitStatusRequest {
        request: CommitStatusRequest {
            transaction_id: "never".into(),
            channel_id: CHANNEL.into(),
            identity: identity("Org1MSP", "client"),
        }
        .encode_to_vec(),
        signature: GOOD_SIGNATURE.to_vec(),
    };
    let started = Instant::now();
    let status = net
        .gateway
        .commit_status(with_deadline(request))
        .await
        .unwrap_err();
    assert_deadline(&status, "context deadline exceeded", started);
}
