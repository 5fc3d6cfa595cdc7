//! Proposals the endorser refuses, with Go's messages (F25 core/endorser/msgvalidation.go
//! Validate, endorser.go preProcess / ProcessProposal).

use fabric_protos::common::HeaderType;
use fabric_protos::protos::SignedProposal;
use weft_endorser::EndorserConfig;

use crate::fakes::{CHANNEL, Node, ProposalSpec, TestIdentity, build};

async fn rejected(node: &Node, signed: SignedProposal) -> String {
    let message = node
        .endorser
        .process(signed.clone())
        .await
        .unwrap_err()
        .message;
    // process_proposal answers the same failure as a status-500 response.
    let response = node.endorser.process_proposal(signed).await;
    let status = response.response.unwrap();
    assert_eq!(
        (status.status, status.message.as_str()),
        (500, message.as_str())
    );
    assert!(response.endorsement.is_none());
    message
}

#[tokio::test]
async fn bad_signature_is_access_denied() {
    let node = Node::new();
    let mut proposal = build(&ProposalSpec::invoke("mycc", &["get:a"]), &node.client);
    let other = TestIdentity::new("Org1MSP");
    use weft_msp::SigningIdentity;
    proposal.signed.signature = other.sign(&proposal.signed.proposal_bytes).unwrap();
    assert_eq!(
        rejected(&node, proposal.signed).await,
        "error validating proposal: access denied: channel [mychannel] creator org [Org1MSP]"
    );
}

#[tokio::test]
async fn unknown_creator_is_malformed() {
    let node = Node::new();
    let stranger = TestIdentity::new("Org9MSP");
    let proposal = build(&ProposalSpec::invoke("mycc", &["get:a"]), &stranger);
    assert_eq!(
        rejected(&node, proposal.signed).await,
        "error validating proposal: access denied: channel [mychannel] creator org unknown, creator is malformed"
    );
}

#[tokio::test]
async fn wrong_txid_is_refused() {
    let node = Node::new();
    let mut spec = ProposalSpec::invoke("mycc", &["get:a"]);
    spec.tx_id = Some("not-the-hash".into());
    let expected = weft_protoutil::compute_txid(
        &spec.nonce,
        &weft_msp::Identity::serialize(node.client.as_ref()),
    );
    let proposal = build(&spec, &node.client);
    assert_eq!(
        rejected(&node, proposal.signed).await,
        format!(
            "error validating proposal: incorrectly computed txid 'not-the-hash' -- expected '{expected}'"
        )
    );
}

#[tokio::test]
async fn header_type_epoch_and_nonce_are_checked() {
    let node = Node::new();
    let mut spec = ProposalSpec::invoke("mycc", &["get:a"]);
    spec.header_type = HeaderType::Message;
    assert_eq!(
        rejected(&node, build(&spec, &node.client).signed).await,
        "error validating proposal: invalid header type MESSAGE"
    );

    let mut spec = ProposalSpec::invoke("mycc", &["get:a"]);
    spec.epoch = 3;
    assert_eq!(
        rejected(&node, build(&spec, &node.client).signed).await,
        "error validating proposal: epoch is non-zero"
    );

    let mut spec = ProposalSpec::invoke("mycc", &["get:a"]);
    spec.nonce = vec![];
    assert_eq!(
        rejected(&node, build(&spec, &node.client).signed).await,
        "error validating proposal: nonce is empty"
    );
}

#[tokio::test]
async fn garbage_and_missing_parts_are_refused_without_panic() {
    let node = Node::new();
    let garbage = SignedProposal {
        proposal_bytes: vec![0xff, 0xff, 0x01],
        signature: vec![1],
    };
    assert!(
        rejected(&node, garbage)
            .await
            .starts_with("error unmarshalling Proposal")
    );
    let empty = SignedProposal::default();
    assert_eq!(
        rejected(&node, empty).await,
        "ChaincodeHeaderExtension.ChaincodeId is nil"
    );
}

// Go answers an unknown channel with a 500 response and no gRPC error.
#[tokio::test]
async fn unknown_channel_is_a_500_response() {
    let node = Node::new();
    let mut spec = ProposalSpec::invoke("mycc", &["get:a"]);
    spec.channel = "nochannel".into();
    let response = node
        .endorser
        .process(build(&spec, &node.client).signed)
        .await
        .unwrap();
    let status = response.response.unwrap();
    assert_eq!(
        (status.status, status.message.as_str()),
        (500, "channel 'nochannel' not found")
    );
}

#[tokio::test]
async fn acl_denied_for_non_writer() {
    let node = Node::new();
    node.channel.writers.lock().unwrap().clear();
    let proposal = build(&ProposalSpec::invoke("mycc", &["get:a"]), &node.client);
    let message = rejected(&node, proposal.signed).await;
    assert!(message.starts_with("failed evaluating policy on signed data during check policy [/Channel/Application/Writers]"), "{message}");
}

// System chaincodes check their own ACLs (endorser.go preProcess skips peer/Propose for them).
#[tokio::test]
async fn system_chaincodes_skip_the_propose_acl() {
    let node = Node::new();
    node.channel.writers.lock().unwrap().clear();
    let proposal = build(
        &ProposalSpec::invoke("cscc", &["status:200:fine"]),
        &node.client,
    );
    let response = node.endorser.process(proposal.signed).await.unwrap();
    assert_eq!(response.response.unwrap().status, 200);
}

#[tokio::test]
async fn duplicate_txid_is_refused() {
    let node = Node::new();
    let proposal = build(&ProposalSpec::invoke("mycc", &["get:a"]), &node.client);
    node.channel
        .committed_txids
        .lock()
        .unwrap()
        .insert(proposal.tx_id.clone());
    let creator = weft_msp::Identity::serialize(node.client.as_ref());
    assert_eq!(
        rejected(&node, proposal.signed).await,
        format!(
            "duplicate transaction found [{}]. Creator [{}]",
            proposal.tx_id,
            hex::encode(creator)
        )
    );
}

#[tokio::test]
async fn timestamp_window_when_configured() {
    let node = Node::with_config(EndorserConfig {
        timestamp_window: Some(std::time::Duration::from_secs(60)),
        ..Default::default()
    });
    let mut spec = ProposalSpec::invoke("mycc", &["get:a"]);
    spec.timestamp_seconds -= 3600;
    let message = rejected(&node, build(&spec, &node.client).signed).await;
    assert!(message.contains("away from the peer's clock"), "{message}");
    let fresh = build(&ProposalSpec::invoke("mycc", &["get:a"]), &node.client);
    assert_eq!(
        node.endorser
            .process(fresh.signed)
            .await
            .unwrap()
            .response
            .unwrap()
            .status,
        200
    );
}

#[tokio::test]
async fn undefined_chaincode_gets_gos_hint() {
    let node = Node::new();
    let proposal = build(&ProposalSpec::invoke("nocc", &["get:a"]), &node.client);
    let response = node.endorser.process(proposal.signed).await.unwrap();
    let status = response.response.unwrap();
    assert_eq!(status.status, 500);
    assert_eq!(
        status.message,
        format!(
            "make sure the chaincode nocc has been successfully defined on channel {CHANNEL} and try again: could not find chaincode with name 'nocc'"
        )
    );
}

// Network input is hostile: truncated and bit-flipped proposals are answered, never panic.
#[tokio::test]
async fn mutated_proposals_never_panic() {
    let node = Node::new();
    let good = build(&ProposalSpec::invoke("mycc", &["put:k=v"]), &node.client).signed;
    let bytes = good.proposal_bytes.clone();
    let mut seed = 0x2545_f491_u32;
    for round in 0..300usize {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let mut mutated = bytes.clone();
        if round % 3 == 0 {
            mutated.truncate(seed as usize % bytes.len());
        } else {
            let at = seed as usize % bytes.len();
            mutated[at] ^= 1 << (seed % 8);
        }
        let signed = SignedProposal {
            proposal_bytes: mutated,
            signature: good.signature.clone(),
        };
        let response = node.endorser.process_proposal(signed).await;
        // A mutated proposal is never endorsed: its signature no longer matches.
        assert!(response.endorsement.is_none(), "round {round}");
    }
}
