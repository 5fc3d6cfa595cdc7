//! The proposal response: payload layout, proposal hash, endorsement signature, and how
//! chaincode errors and channel-less proposals are answered (F25 core/endorser/endorser.go
//! ProcessProposalSuccessfullyOrError; default_endorsement.go; msgvalidation.go proposal hash).

use std::collections::BTreeMap;

use fabric_protos::protos::{
    ChaincodeAction, ChaincodeEvent, ChaincodeProposalPayload, ProposalResponsePayload,
};
use prost::Message;
use weft_msp::Identity;

use crate::fakes::{Node, ProposalSpec, build};

fn sha(data: &[u8]) -> Vec<u8> {
    weft_protoutil::sha256(data).to_vec()
}

#[tokio::test]
async fn endorsement_signs_payload_and_identity_and_hash_excludes_transient() {
    let node = Node::new();
    let mut spec = ProposalSpec::invoke("mycc", &["put:k=v", "event:created=abc"]);
    spec.transient = BTreeMap::from([("secret".to_owned(), b"hidden".to_vec())]);
    let proposal = build(&spec, &node.client);
    let response = node.endorser.process(proposal.signed).await.unwrap();
    assert_eq!(response.version, 1);
    assert_eq!(response.response.as_ref().unwrap().status, 200);

    let endorsement = response.endorsement.unwrap();
    assert_eq!(endorsement.endorser, node.peer.serialize());
    let mut signed = response.payload.clone();
    signed.extend_from_slice(&endorsement.endorser);
    node.peer.verify(&signed, &endorsement.signature).unwrap();
    assert!(
        node.peer
            .verify(&response.payload, &endorsement.signature)
            .is_err()
    );

    // Go: sha256(channel header || signature header || payload without the transient map).
    let mut hashed = proposal.channel_header.clone();
    hashed.extend_from_slice(&proposal.signature_header);
    hashed.extend_from_slice(
        &ChaincodeProposalPayload {
            input: proposal.input.clone(),
            transient_map: BTreeMap::new(),
        }
        .encode_to_vec(),
    );
    let payload = ProposalResponsePayload::decode(response.payload.as_slice()).unwrap();
    assert_eq!(payload.proposal_hash, sha(&hashed));

    let action = ChaincodeAction::decode(payload.extension.as_slice()).unwrap();
    let id = action.chaincode_id.unwrap();
    assert_eq!(
        (id.name.as_str(), id.version.as_str(), id.path.as_str()),
        ("mycc", "1.0", "")
    );
    let event = ChaincodeEvent::decode(action.events.as_slice()).unwrap();
    assert_eq!(
        event,
        ChaincodeEvent {
            chaincode_id: "mycc".into(),
            tx_id: proposal.tx_id.clone(),
            event_name: "created".into(),
            payload: b"abc".to_vec()
        }
    );
    // Two endorsements of the same proposal on the same state carry identical payloads.
    let again = node
        .endorser
        .process(build(&spec, &node.client).signed)
        .await
        .unwrap();
    assert_eq!(again.payload, response.payload);
}

// status >= 500: response and payload (with the rwset, without the event), no endorsement.
#[tokio::test]
async fn chaincode_error_is_returned_unendorsed_with_payload() {
    let node = Node::new();
    let proposal = build(
        &ProposalSpec::invoke("mycc", &["put:k=v", "event:e=1", "status:500:boom"]),
        &node.client,
    );
    let response = node.endorser.process(proposal.signed).await.unwrap();
    assert!(response.endorsement.is_none());
    assert_eq!(response.version, 0);
    let status = response.response.unwrap();
    assert_eq!((status.status, status.message.as_str()), (500, "boom"));
    let payload = ProposalResponsePayload::decode(response.payload.as_slice()).unwrap();
    let action = ChaincodeAction::decode(payload.extension.as_slice()).unwrap();
    assert!(action.events.is_empty());
    assert!(!action.results.is_empty());
}

// 400 <= status < 500: only the response.
#[tokio::test]
async fn chaincode_client_error_is_response_only() {
    let node = Node::new();
    let proposal = build(
        &ProposalSpec::invoke("mycc", &["status:404:missing"]),
        &node.client,
    );
    let response = node.endorser.process(proposal.signed).await.unwrap();
    assert!(response.endorsement.is_none());
    assert!(response.payload.is_empty());
    assert_eq!(response.response.unwrap().status, 404);
}

// Channel-less proposals (cscc JoinChain, _lifecycle InstallChaincode) are checked against
// the local MSP, run without a simulator and answered without endorsement.
#[tokio::test]
async fn channel_less_system_chaincode_is_not_endorsed() {
    let node = Node::new();
    let mut spec = ProposalSpec::invoke("cscc", &["status:200:joined"]);
    spec.channel = String::new();
    let response = node
        .endorser
        .process(build(&spec, &node.client).signed)
        .await
        .unwrap();
    assert!(response.endorsement.is_none());
    assert!(response.payload.is_empty());
    assert_eq!(response.response.unwrap().message, "joined");

    // A stub call that needs a ledger fails instead of panicking.
    let mut spec = ProposalSpec::invoke("cscc", &["get:a"]);
    spec.channel = String::new();
    let response = node
        .endorser
        .process(build(&spec, &node.client).signed)
        .await
        .unwrap();
    assert_eq!(response.response.unwrap().status, 500);
}

// Key-level endorsement metadata on a written key makes the interest carry its policy.
#[tokio::test]
async fn interest_names_the_chaincode_for_plain_writes() {
    let node = Node::new();
    let proposal = build(&ProposalSpec::invoke("mycc", &["put:k=v"]), &node.client);
    let response = node.endorser.process(proposal.signed).await.unwrap();
    let interest = response.interest.unwrap();
    assert_eq!(interest.chaincodes.len(), 1);
    assert_eq!(interest.chaincodes[0].name, "mycc");
    assert!(interest.chaincodes[0].collection_names.is_empty());
}

// The peer's tonic service needs a Send future.
#[test]
fn process_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let node = Node::new();
    let proposal = build(&ProposalSpec::invoke("mycc", &["get:a"]), &node.client);
    let future = node.endorser.process(proposal.signed);
    assert_send(&future);
}

struct Sleepy;
impl weft_chaincode_api::Chaincode for Sleepy {
    fn invoke(
        &self,
        _: &mut dyn weft_chaincode_api::ChaincodeStub,
    ) -> weft_chaincode_api::Response {
        std::thread::sleep(std::time::Duration::from_millis(300));
        weft_chaincode_api::Response::success(vec![])
    }
}

struct Panicky;
impl weft_chaincode_api::Chaincode for Panicky {
    fn invoke(
        &self,
        _: &mut dyn weft_chaincode_api::ChaincodeStub,
    ) -> weft_chaincode_api::Response {
        panic!("chaincode bug")
    }
}

// Go's chaincode.executetimeout message; a chaincode that panics fails its proposal only.
#[tokio::test]
async fn slow_and_panicking_chaincodes_fail_the_proposal_only() {
    let node = Node::with_config(weft_endorser::EndorserConfig {
        execute_timeout: std::time::Duration::from_millis(50),
        ..Default::default()
    });
    node.registry
        .0
        .lock()
        .unwrap()
        .insert("slowcc".into(), std::sync::Arc::new(Sleepy));
    node.channel
        .define("slowcc", "1", weft_ledger::kv::Height::new(1, 5));
    let proposal = build(&ProposalSpec::invoke("slowcc", &[]), &node.client);
    let tx_id = proposal.tx_id.clone();
    let response = node.endorser.process(proposal.signed).await.unwrap();
    assert_eq!(
        response.response.unwrap().message,
        format!(
            "error in simulation: failed to execute transaction {tx_id}: error sending: timeout expired while executing transaction"
        )
    );
    // A panic's backtrace can take longer than the short timeout above to print.
    let node = Node::new();
    node.registry
        .0
        .lock()
        .unwrap()
        .insert("paniccc".into(), std::sync::Arc::new(Panicky));
    node.channel
        .define("paniccc", "1", weft_ledger::kv::Height::new(1, 5));
    let proposal = build(&ProposalSpec::invoke("paniccc", &[]), &node.client);
    let response = node.endorser.process(proposal.signed).await.unwrap();
    let status = response.response.unwrap();
    assert_eq!(status.status, 500);
    assert!(
        status.message.contains("chaincode execution failed"),
        "{}",
        status.message
    );
    // The endorser still works afterwards.
    let proposal = build(&ProposalSpec::invoke("mycc", &["get:a"]), &node.client);
    assert_eq!(
        node.endorser
            .process(proposal.signed)
            .await
            .unwrap()
            .response
            .unwrap()
            .status,
        200
    );
}

// Go's buildChaincodeInterest: a write to a key with a key-level policy carries that policy,
// and the chaincode policy is disregarded unless some written key has none.
#[tokio::test]
async fn interest_carries_key_level_policies() {
    use fabric_protos::common::SignaturePolicyEnvelope;
    use fabric_protos::kvrwset::{KvMetadataEntry, KvMetadataWrite};
    let node = Node::new();
    let policy = SignaturePolicyEnvelope {
        version: 7,
        ..Default::default()
    };
    let metadata = KvMetadataWrite {
        key: String::new(),
        entries: vec![KvMetadataEntry {
            name: "VALIDATION_PARAMETER".into(),
            value: policy.encode_to_vec(),
        }],
    };
    node.channel.put_with_metadata(
        "mycc",
        "guarded",
        b"v",
        Some(metadata.encode_to_vec()),
        weft_ledger::kv::Height::new(2, 0),
    );

    let proposal = build(
        &ProposalSpec::invoke("mycc", &["put:guarded=1"]),
        &node.client,
    );
    let interest = node
        .endorser
        .process(proposal.signed)
        .await
        .unwrap()
        .interest
        .unwrap();
    assert_eq!(interest.chaincodes.len(), 1);
    assert_eq!(interest.chaincodes[0].key_policies, vec![policy.clone()]);
    assert!(interest.chaincodes[0].disregard_namespace_policy);

    let proposal = build(
        &ProposalSpec::invoke("mycc", &["put:guarded=1", "put:plain=2"]),
        &node.client,
    );
    let interest = node
        .endorser
        .process(proposal.signed)
        .await
        .unwrap()
        .interest
        .unwrap();
    assert_eq!(interest.chaincodes[0].key_policies, vec![policy]);
    assert!(!interest.chaincodes[0].disregard_namespace_policy);
}
