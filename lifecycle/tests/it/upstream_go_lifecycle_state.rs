//! Weft's `_lifecycle` against Go Fabric 2.5.9's: an upstream network of two orgs approves and
//! commits a definition with `peer lifecycle chaincode approveformyorg/commit`; the test takes
//! each transaction's arguments and read-write set from the blocks, replays the same call through
//! Weft's SCC over the fake stub, and requires the same keys read and the same values written
//! (plain for public state, hashed for the implicit collections). Finally `committed_definition`
//! decodes the public writes Go committed.

use std::collections::{BTreeMap, BTreeSet};

use fabric_protos::common::{Envelope, Payload};
use fabric_protos::kvrwset::{HashedRwSet, KvrwSet};
use fabric_protos::peer::{
    ChaincodeAction, ChaincodeActionPayload, ChaincodeInvocationSpec, ChaincodeProposalPayload,
    ProposalResponsePayload, Transaction, TxValidationCode,
};
use fabric_protos::rwset::TxReadWriteSet;
use prost::Message;
use weft_interop_tests::{Network, REFERENCE_VERSION, TlsFiles, Topology, UpstreamToolchain};
use weft_lifecycle::committed_definition;

use crate::fake::{Ledger, Peer, RwSet, commit};

const CHANNEL: &str = crate::fake::CHANNEL;
const ORG1_PEER: &str = "peer0.org1.example.com";
const ORG2_PEER: &str = "peer0.org2.example.com";
const PACKAGE_ID: &str =
    "refcc_1.0:0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000";
const OTHER_PACKAGE_ID: &str =
    "refcc_1.0:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

const COLLECTIONS: &str = r#"[{"name":"private","policy":"OR('Org1MSP.member','Org2MSP.member')","requiredPeerCount":0,"maxPeerCount":1,"blockToLive":10,"memberOnlyRead":true,"memberOnlyWrite":true}]"#;

fn sha256(data: &[u8]) -> Vec<u8> {
    openssl::sha::sha256(data).to_vec()
}

/// The `_lifecycle` call and what Go's endorsers read and wrote for it, from a committed block.
struct GoTx {
    args: Vec<Vec<u8>>,
    public_reads: BTreeSet<String>,
    lscc_reads: BTreeSet<String>,
    /// (collection, key hash)
    hashed_reads: BTreeSet<(String, Vec<u8>)>,
    public_writes: BTreeMap<String, Option<Vec<u8>>>,
    /// (collection, key hash) -> value hash (None for deletes)
    hashed_writes: BTreeMap<(String, Vec<u8>), Option<Vec<u8>>>,
}

fn go_tx(network: &Network, block_number: u64) -> GoTx {
    let block = network.fetch_block(ORG1_PEER, block_number).unwrap();
    let metadata = block.metadata.as_ref().unwrap();
    assert_eq!(metadata.metadata[2], [TxValidationCode::Valid as u8]);
    let data = &block.data.as_ref().unwrap().data;
    assert_eq!(data.len(), 1);
    let envelope = Envelope::decode(data[0].as_slice()).unwrap();
    let payload = Payload::decode(envelope.payload.as_slice()).unwrap();
    let tx = Transaction::decode(payload.data.as_slice()).unwrap();
    let action = ChaincodeActionPayload::decode(tx.actions[0].payload.as_slice()).unwrap();
    let proposal =
        ChaincodeProposalPayload::decode(action.chaincode_proposal_payload.as_slice()).unwrap();
    let invocation = ChaincodeInvocationSpec::decode(proposal.input.as_slice()).unwrap();
    let args = invocation.chaincode_spec.unwrap().input.unwrap().args;
    let response_payload = ProposalResponsePayload::decode(
        action.action.unwrap().proposal_response_payload.as_slice(),
    )
    .unwrap();
    let chaincode_action = ChaincodeAction::decode(response_payload.extension.as_slice()).unwrap();
    let rwset = TxReadWriteSet::decode(chaincode_action.results.as_slice()).unwrap();

    let mut tx = GoTx {
        args,
        public_reads: BTreeSet::new(),
        lscc_reads: BTreeSet::new(),
        hashed_reads: BTreeSet::new(),
        public_writes: BTreeMap::new(),
        hashed_writes: BTreeMap::new(),
    };
    for ns in rwset.ns_rwset {
        let kv = KvrwSet::decode(ns.rwset.as_slice()).unwrap();
        match ns.namespace.as_str() {
            "_lifecycle" => {
                tx.public_reads
                    .extend(kv.reads.iter().map(|r| r.key.clone()));
                for w in kv.writes {
                    tx.public_writes
                        .insert(w.key, (!w.is_delete).then_some(w.value));
                }
                for coll in ns.collection_hashed_rwset {
                    let hashed = HashedRwSet::decode(coll.hashed_rwset.as_slice()).unwrap();
                    for r in hashed.hashed_reads {
                        tx.hashed_reads
                            .insert((coll.collection_name.clone(), r.key_hash));
                    }
                    for w in hashed.hashed_writes {
                        tx.hashed_writes.insert(
                            (coll.collection_name.clone(), w.key_hash),
                            (!w.is_delete).then_some(w.value_hash),
                        );
                    }
                }
            }
            "lscc" => {
                assert!(kv.writes.is_empty());
                tx.lscc_reads.extend(kv.reads.iter().map(|r| r.key.clone()));
            }
            other => panic!("unexpected namespace {other} in a _lifecycle transaction"),
        }
    }
    tx
}

/// Replays Go's call through Weft's SCC and compares everything the endorsers recorded.
fn replay(peer: &Peer, ledger: &Ledger, go: &GoTx) -> RwSet {
    let (response, weft) = peer.call_raw(ledger, go.args.clone());
    assert_eq!(response.status, 200, "{}", response.message);
    assert_eq!(weft.public_reads, go.public_reads, "public reads");
    assert_eq!(weft.lscc_reads, go.lscc_reads, "legacy lscc reads");
    let weft_hashed_reads: BTreeSet<(String, Vec<u8>)> = weft
        .private_reads
        .iter()
        .map(|(c, k)| (c.clone(), sha256(k.as_bytes())))
        .collect();
    assert_eq!(weft_hashed_reads, go.hashed_reads, "hashed reads");
    assert_eq!(weft.public_writes, go.public_writes, "public writes");
    let weft_hashed_writes: BTreeMap<(String, Vec<u8>), Option<Vec<u8>>> = weft
        .private_writes
        .iter()
        .map(|((c, k), v)| ((c.clone(), sha256(k.as_bytes())), v.as_deref().map(sha256)))
        .collect();
    assert_eq!(weft_hashed_writes, go.hashed_writes, "hashed writes");
    weft
}

fn approve(
    network: &Network,
    peer: &str,
    collections: &str,
    sequence: &str,
    version: &str,
    package_id: &str,
) {
    let mut args: Vec<String> = [
        "lifecycle",
        "chaincode",
        "approveformyorg",
        "--channelID",
        CHANNEL,
        "--name",
        "refcc",
        "--version",
        version,
        "--sequence",
        sequence,
        "--package-id",
        package_id,
        "--init-required",
        "--signature-policy",
        "OR('Org1MSP.member','Org2MSP.member')",
        "--collections-config",
        collections,
    ]
    .map(String::from)
    .to_vec();
    args.extend(network.orderer_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    network
        .peer_cli(peer, &args)
        .unwrap_or_else(|e| panic!("{e}"));
}

// Fabric: lifecycle approvals and commits written by Go peers are byte-identical to Weft's, so
// mixed channels agree (issue 6, "_lifecycle" done-when).
#[test]
fn upstream_go_lifecycle_writes_what_weft_writes() {
    go_lifecycle_writes_what_weft_writes(REFERENCE_VERSION);
}

// The same against Fabric 3.1.1, whose _lifecycle keeps 2.5's layout and read set.
#[test]
fn upstream_go_v3_lifecycle_writes_what_weft_writes() {
    go_lifecycle_writes_what_weft_writes("3.1.1");
}

fn go_lifecycle_writes_what_weft_writes(version: &str) {
    let toolchain = UpstreamToolchain::locate(version).unwrap_or_else(|e| panic!("{e}"));
    let topology = Topology::new(CHANNEL, &toolchain)
        .peer_org("Org1", 1)
        .peer_org("Org2", 1);
    let network = Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"));
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
    let collections = network.work_dir().join("collections.json");
    std::fs::write(&collections, COLLECTIONS).unwrap();
    let collections = collections.display().to_string();

    approve(&network, ORG1_PEER, &collections, "1", "1.0", PACKAGE_ID);
    // Org1 changes its mind about the package: Fabric rewrites only the PackageID.
    approve(
        &network,
        ORG1_PEER,
        &collections,
        "1",
        "1.0",
        OTHER_PACKAGE_ID,
    );
    approve(&network, ORG2_PEER, &collections, "1", "1.0", PACKAGE_ID);
    let mut commit_args: Vec<String> = [
        "lifecycle",
        "chaincode",
        "commit",
        "--channelID",
        CHANNEL,
        "--name",
        "refcc",
        "--version",
        "1.0",
        "--sequence",
        "1",
        "--init-required",
        "--signature-policy",
        "OR('Org1MSP.member','Org2MSP.member')",
        "--collections-config",
        &collections,
    ]
    .map(String::from)
    .to_vec();
    for peer in [ORG1_PEER, ORG2_PEER] {
        let node = network.peer(peer).unwrap();
        commit_args.extend([
            "--peerAddresses".to_owned(),
            node.listen.to_string(),
            "--tlsRootCertFiles".to_owned(),
            node.tls_ca().display().to_string(),
        ]);
    }
    commit_args.extend(network.orderer_args());
    let commit_args: Vec<&str> = commit_args.iter().map(String::as_str).collect();
    network
        .peer_cli(ORG1_PEER, &commit_args)
        .unwrap_or_else(|e| panic!("{e}"));
    // With the definition committed, the next approval reads it instead of legacy lscc.
    approve(&network, ORG1_PEER, &collections, "2", "2.0", PACKAGE_ID);
    network
        .wait_for_height(ORG1_PEER, 6)
        .unwrap_or_else(|e| panic!("{e}"));

    let org1 = Peer::new("Org1MSP");
    let org2 = Peer::new("Org2MSP");
    let mut ledger = Ledger::default();

    let go_approve1 = go_tx(&network, 1);
    assert_eq!(go_approve1.args[0], b"ApproveChaincodeDefinitionForMyOrg");
    assert_eq!(
        go_approve1.lscc_reads.len(),
        1,
        "Go looks for a legacy definition"
    );
    assert_eq!(
        go_approve1.hashed_writes.len(),
        6,
        "parameters and package ID"
    );
    assert!(go_approve1.public_writes.is_empty());
    let weft = replay(&org1, &ledger, &go_approve1);
    eprintln!(
        "approve: {} public reads, {} lscc reads, {} hashed reads, {} hashed writes match Go",
        weft.public_reads.len(),
        weft.lscc_reads.len(),
        weft.private_reads.len(),
        weft.private_writes.len()
    );
    commit(&mut ledger, weft);

    let go_reapprove = go_tx(&network, 2);
    assert_eq!(
        go_reapprove.hashed_writes.len(),
        1,
        "only the package ID changes"
    );
    let weft = replay(&org1, &ledger, &go_reapprove);
    commit(&mut ledger, weft);

    let go_approve2 = go_tx(&network, 3);
    let weft = replay(&org2, &ledger, &go_approve2);
    commit(&mut ledger, weft);

    let go_commit = go_tx(&network, 4);
    assert_eq!(go_commit.args[0], b"CommitChaincodeDefinition");
    assert_eq!(go_commit.public_writes.len(), 5, "metadata and four fields");
    let weft = replay(&org1, &ledger, &go_commit);
    eprintln!(
        "commit: {} public reads, {} hashed reads, {} public writes match Go",
        weft.public_reads.len(),
        weft.private_reads.len(),
        weft.public_writes.len()
    );
    replay(&org2, &ledger, &go_commit);
    commit(&mut ledger, weft);

    let go_next = go_tx(&network, 5);
    assert!(
        go_next.lscc_reads.is_empty(),
        "a defined chaincode is not looked up in lscc"
    );
    assert!(
        go_next
            .public_reads
            .contains("namespaces/fields/refcc/Collections")
    );
    replay(&org1, &ledger, &go_next);

    // The definition Go committed, read back by the lookup the endorser and committer use.
    let public: BTreeMap<String, Vec<u8>> = go_commit
        .public_writes
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
        .collect();
    let mut get = |key: &str| -> Result<Option<Vec<u8>>, String> { Ok(public.get(key).cloned()) };
    let defined = committed_definition(&mut get, "refcc").unwrap().unwrap();
    assert_eq!(defined.sequence(), 1);
    assert_eq!(defined.version(), "1.0");
    assert!(defined.init_required());
    assert_eq!(defined.endorsement_plugin(), "escc");
    assert_eq!(defined.validation_plugin(), "vscc");
    assert!(!defined.validation_parameter().is_empty());
    assert_eq!(defined.collections().config.len(), 1);
}
