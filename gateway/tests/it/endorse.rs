//! Endorse (Fabric internal/pkg/gateway/endorse.go): the local org first, then a plan from
//! the chaincode's policy, retries within a group, and agreement of all responses.

use fabric_protos::common::{Envelope, Payload};
use fabric_protos::gateway::EndorseRequest;
use fabric_protos::gateway::gateway_server::Gateway;
use fabric_protos::protos::{ChaincodeActionPayload, Transaction};
use prost::Message;
use tonic::{Code, Request};
use weft_gateway::error_details;

use crate::fixture::*;

fn request(tx_id: &str) -> EndorseRequest {
    EndorseRequest {
        transaction_id: tx_id.into(),
        channel_id: CHANNEL.into(),
        proposed_transaction: Some(signed_proposal(tx_id, false)),
        endorsing_organizations: vec![],
    }
}

/// The endorsers (by identity bytes) in a prepared transaction.
fn endorsers_of(envelope: &Envelope) -> Vec<String> {
    let payload = Payload::decode(envelope.payload.as_slice()).unwrap();
    let tx = Transaction::decode(payload.data.as_slice()).unwrap();
    let cap = ChaincodeActionPayload::decode(tx.actions[0].payload.as_slice()).unwrap();
    let mut names: Vec<String> = cap
        .action
        .unwrap()
        .endorsements
        .iter()
        .map(|e| String::from_utf8(e.endorser.clone()).unwrap())
        .collect();
    names.sort();
    names
}

fn and_org1_org2() -> Vec<u8> {
    signature_app_policy(out_of_orgs(2, &["Org1MSP", "Org2MSP"]))
}

#[tokio::test]
async fn and_policy_collects_local_and_other_org() {
    let net = NetBuilder::new(and_org1_org2())
        .peer(
            "Org2MSP",
            "peer0.org2:9051",
            5,
            Behaviour::Endorse("result"),
        )
        .peer(
            "Org3MSP",
            "peer0.org3:11051",
            5,
            Behaviour::Endorse("result"),
        )
        .build();
    let response = net
        .gateway
        .endorse(Request::new(request("tx1")))
        .await
        .unwrap();
    let envelope = response.into_inner().prepared_transaction.unwrap();
    assert!(
        envelope.signature.is_empty(),
        "the client signs the prepared transaction"
    );
    assert_eq!(
        endorsers_of(&envelope),
        vec![LOCAL.to_owned(), "peer0.org2:9051".into()]
    );
    assert_eq!(net.local.calls(), 1);
    assert_eq!(net.endorser("peer0.org3:11051").calls(), 0);
}

/// A peer that cannot be reached is replaced by the next peer of its group (Fabric
/// `nextPeerInGroup`); the highest ledger is tried first.
#[tokio::test]
async fn unreachable_peer_is_replaced_by_another_of_its_org() {
    let net = NetBuilder::new(and_org1_org2())
        .peer("Org2MSP", "peer0.org2:9051", 9, Behaviour::Down)
        .peer(
            "Org2MSP",
            "peer1.org2:9151",
            4,
            Behaviour::Endorse("result"),
        )
        .build();
    let response = net
        .gateway
        .endorse(Request::new(request("tx2")))
        .await
        .unwrap();
    let envelope = response.into_inner().prepared_transaction.unwrap();
    assert_eq!(
        endorsers_of(&envelope),
        vec![LOCAL.to_owned(), "peer1.org2:9151".into()]
    );
    assert_eq!(net.endorser("peer0.org2:9051").calls(), 1);
}

#[tokio::test]
async fn all_peers_of_a_required_org_down_aborts_with_details() {
    let net = NetBuilder::new(and_org1_org2())
        .peer("Org2MSP", "peer0.org2:9051", 9, Behaviour::Down)
        .build();
    let status = net
        .gateway
        .endorse(Request::new(request("tx3")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(
        status.message(),
        "failed to collect enough transaction endorsements, see attached details for more info"
    );
    let details = error_details(&status);
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].address, "peer0.org2:9051");
    assert_eq!(details[0].msp_id, "Org2MSP");
    assert!(
        details[0].message.contains("Unavailable"),
        "{}",
        details[0].message
    );
}

/// Fabric rejects endorsements whose ProposalResponsePayloads differ from the first one.
#[tokio::test]
async fn mismatched_responses_are_not_combined() {
    let net = NetBuilder::new(and_org1_org2())
        .peer(
            "Org2MSP",
            "peer0.org2:9051",
            5,
            Behaviour::Endorse("different"),
        )
        .build();
    let status = net
        .gateway
        .endorse(Request::new(request("tx4")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    let details = error_details(&status);
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].message, "ProposalResponsePayloads do not match");
    assert_eq!(details[0].address, "peer0.org2:9051");
}

/// A mismatching peer does not stop the plan: another peer of the org that agrees
/// completes it.
#[tokio::test]
async fn mismatch_is_retried_on_another_peer() {
    let net = NetBuilder::new(and_org1_org2())
        .peer(
            "Org2MSP",
            "peer0.org2:9051",
            9,
            Behaviour::Endorse("different"),
        )
        .peer(
            "Org2MSP",
            "peer1.org2:9151",
            4,
            Behaviour::Endorse("result"),
        )
        .build();
    let response = net
        .gateway
        .endorse(Request::new(request("tx5")))
        .await
        .unwrap();
    let envelope = response.into_inner().prepared_transaction.unwrap();
    assert_eq!(
        endorsers_of(&envelope),
        vec![LOCAL.to_owned(), "peer1.org2:9151".into()]
    );
}

#[tokio::test]
async fn local_chaincode_error_fails_first_endorsement() {
    let net = NetBuilder::new(and_org1_org2())
        .local(Behaviour::ChaincodeStatus(400, "asset exists"))
        .peer(
            "Org2MSP",
            "peer0.org2:9051",
            5,
            Behaviour::Endorse("result"),
        )
        .build();
    let status = net
        .gateway
        .endorse(Request::new(request("tx6")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(
        status.message(),
        "failed to endorse transaction, see attached details for more info"
    );
    let details = error_details(&status);
    assert_eq!(details[0].message, "chaincode response 400, asset exists");
    assert_eq!(details[0].address, LOCAL);
}

#[tokio::test]
async fn endorsing_organizations_pick_one_peer_per_org() {
    let net = NetBuilder::new(signature_app_policy(out_of_orgs(1, &["Org1MSP"])))
        .peer(
            "Org2MSP",
            "peer0.org2:9051",
            5,
            Behaviour::Endorse("result"),
        )
        .peer(
            "Org3MSP",
            "peer0.org3:11051",
            5,
            Behaviour::Endorse("result"),
        )
        .build();
    let mut req = request("tx7");
    req.endorsing_organizations = vec!["Org2MSP".into(), "Org3MSP".into()];
    let response = net.gateway.endorse(Request::new(req)).await.unwrap();
    let envelope = response.into_inner().prepared_transaction.unwrap();
    assert_eq!(
        endorsers_of(&envelope),
        vec!["peer0.org2:9051".to_owned(), "peer0.org3:11051".into()]
    );
    assert_eq!(net.local.calls(), 0);

    let mut missing = request("tx8");
    missing.endorsing_organizations = vec!["Org9MSP".into()];
    let status = net
        .gateway
        .endorse(Request::new(missing))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        status.message(),
        "failed to find any endorsing peers for org(s): Org9MSP"
    );
}

/// The other org's peer is dialed with the TLS CA of its MSP from the channel config.
#[tokio::test]
async fn remote_peers_are_dialed_with_their_org_tls_roots() {
    let net = NetBuilder::new(and_org1_org2())
        .peer(
            "Org2MSP",
            "peer0.org2:9051",
            5,
            Behaviour::Endorse("result"),
        )
        .build();
    net.gateway
        .endorse(Request::new(request("tx9")))
        .await
        .unwrap();
    let dialed = net.connector.dialed.lock().unwrap().clone();
    assert!(dialed.contains(&("peer0.org2:9051".into(), vec![b"Org2MSP-tls-ca".to_vec()])));
}

#[tokio::test]
async fn prepared_transaction_drops_the_transient_map() {
    let net = NetBuilder::new(signature_app_policy(out_of_orgs(1, &["Org1MSP"]))).build();
    let mut req = request("tx10");
    req.proposed_transaction = Some(signed_proposal("tx10", true));
    let envelope = net
        .gateway
        .endorse(Request::new(req))
        .await
        .unwrap()
        .into_inner()
        .prepared_transaction
        .unwrap();
    let payload = Payload::decode(envelope.payload.as_slice()).unwrap();
    let tx = Transaction::decode(payload.data.as_slice()).unwrap();
    let cap = ChaincodeActionPayload::decode(tx.actions[0].payload.as_slice()).unwrap();
    let cpp = fabric_protos::protos::ChaincodeProposalPayload::decode(
        cap.chaincode_proposal_payload.as_slice(),
    )
    .unwrap();
    assert!(cpp.transient_map.is_empty());
    assert_eq!(tx.actions[0].header, b"sighdr".to_vec());
}

#[tokio::test]
async fn malformed_proposal_is_invalid_argument() {
    let net = NetBuilder::new(and_org1_org2()).build();
    let mut req = request("tx11");
    req.proposed_transaction = None;
    let status = net.gateway.endorse(Request::new(req)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "the proposed transaction must contain a signed proposal"
    );
}

/// When no peer of the gateway's org has the chaincode, the plan comes from the policy
/// alone (Fabric `planFromFirstEndorser` falling back to `endorsementPlan`).
#[tokio::test]
async fn org_without_the_chaincode_plans_from_the_policy() {
    let mut builder = NetBuilder::new(signature_app_policy(out_of_orgs(1, &["Org2MSP"]))).peer(
        "Org2MSP",
        "peer0.org2:9051",
        5,
        Behaviour::Endorse("result"),
    );
    builder.peers[0].0.chaincodes.clear();
    let net = builder.build();
    let envelope = net
        .gateway
        .endorse(Request::new(request("tx12")))
        .await
        .unwrap()
        .into_inner()
        .prepared_transaction
        .unwrap();
    assert_eq!(endorsers_of(&envelope), vec!["peer0.org2:9051".to_owned()]);
    assert_eq!(net.local.calls(), 0);
}

/// The first endorser's interest (here a write to a collection with its own endorsement
/// policy) decides the plan: the collection policy AND(Org1, Org3) replaces the
/// chaincode's OR(Org1), and Org2, outside the collection, is not asked.
#[tokio::test]
async fn first_endorser_interest_drives_the_plan() {
    use fabric_protos::protos::{
        ApplicationPolicy, ChaincodeCall, ChaincodeInterest, CollectionConfig,
        CollectionConfigPackage, CollectionPolicyConfig, StaticCollectionConfig,
        application_policy, collection_config, collection_policy_config,
    };
    let collection = StaticCollectionConfig {
        name: "private".into(),
        member_orgs_policy: Some(CollectionPolicyConfig {
            payload: Some(collection_policy_config::Payload::SignaturePolicy(
                out_of_orgs(1, &["Org1MSP", "Org3MSP"]),
            )),
        }),
        endorsement_policy: Some(ApplicationPolicy {
            r#type: Some(application_policy::Type::SignaturePolicy(out_of_orgs(
                2,
                &["Org1MSP", "Org3MSP"],
            ))),
        }),
        ..Default::default()
    };
    let interest = ChaincodeInterest {
        chaincodes: vec![ChaincodeCall {
            name: CC.into(),
            collection_names: vec!["private".into()],
            ..Default::default()
        }],
    };
    let mut builder = NetBuilder::new(signature_app_policy(out_of_orgs(1, &["Org1MSP"])))
        .local(Behaviour::EndorseWithInterest("result", interest))
        .peer(
            "Org2MSP",
            "peer0.org2:9051",
            9,
            Behaviour::Endorse("result"),
        )
        .peer(
            "Org3MSP",
            "peer0.org3:11051",
            5,
            Behaviour::Endorse("result"),
        );
    builder.collections = Some(CollectionConfigPackage {
        config: vec![CollectionConfig {
            payload: Some(collection_config::Payload::StaticCollectionConfig(
                collection,
            )),
        }],
    });
    let net = builder.build();
    let envelope = net
        .gateway
        .endorse(Request::new(request("tx13")))
        .await
        .unwrap()
        .into_inner()
        .prepared_transaction
        .unwrap();
    assert_eq!(
        endorsers_of(&envelope),
        vec![LOCAL.to_owned(), "peer0.org3:11051".into()]
    );
    assert_eq!(net.endorser("peer0.org2:9051").calls(), 0);
    assert_eq!(net.local.calls(), 1);
}

/// Fabric's answer to an Endorse of a chaincode not defined on the channel.
#[tokio::test]
async fn undefined_chaincode_is_failed_precondition() {
    let mut builder = NetBuilder::new(and_org1_org2());
    builder.peers[0].0.chaincodes.clear();
    let net = builder.build();
    let mut req = request("tx14");
    let mut proposal = signed_proposal("tx14", false);
    // Re-point the proposal at a chaincode nobody defined.
    let mut p =
        fabric_protos::protos::Proposal::decode(proposal.proposal_bytes.as_slice()).unwrap();
    let mut cpp =
        fabric_protos::protos::ChaincodeProposalPayload::decode(p.payload.as_slice()).unwrap();
    let mut spec =
        fabric_protos::protos::ChaincodeInvocationSpec::decode(cpp.input.as_slice()).unwrap();
    spec.chaincode_spec
        .as_mut()
        .unwrap()
        .chaincode_id
        .as_mut()
        .unwrap()
        .name = "nope".into();
    cpp.input = spec.encode_to_vec();
    p.payload = cpp.encode_to_vec();
    proposal.proposal_bytes = p.encode_to_vec();
    req.proposed_transaction = Some(proposal);
    let status = net.gateway.endorse(Request::new(req)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status.message(),
        "no combination of peers can be derived which satisfy the endorsement policy: No metadata was found for chaincode nope in channel mychannel"
    );
}
