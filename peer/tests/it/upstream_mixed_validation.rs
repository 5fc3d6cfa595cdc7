//! A Weft peer validates the same chain as the Go peers beside it (issue 5, first "Done when").
//!
//! One upstream orderer; Org1 runs a Go peer and the Weft peer, Org2 a Go peer. The Go peers
//! endorse Weft's `basic` contract served as chaincode-as-a-service (the Weft peer only
//! validates: it needs the committed definition, not the chaincode). The transactions are
//! crafted with the devnet admin client so that each of Fabric's validation outcomes happens
//! deterministically:
//! - valid transactions endorsed by both orgs;
//! - MVCC_READ_CONFLICT: two transfers of one asset endorsed before either commits;
//! - PHANTOM_READ_CONFLICT: `GetAllAssets` (a range read) endorsed, then a new asset committed
//!   inside the range before it;
//! - ENDORSEMENT_POLICY_FAILURE: endorsed by Org1 only under the default MAJORITY policy, and
//!   endorsed by both orgs with one endorsement signature altered;
//! - DUPLICATE_TXID: one envelope ordered twice, in a later block (ledger duplicate) and back to
//!   back (duplicate inside one block);
//! - a creator (envelope) signature altered: the upstream orderer refuses it (FORBIDDEN, the
//!   channel Writers policy), so no peer ever validates one.
//!
//! Then every block of the chain must carry the same TRANSACTIONS_FILTER and COMMIT_HASH on the
//! Weft peer as on the Go peer of its org (and on Org2's Go peer), and qscc GetTransactionByID
//! answers the same on the Weft peer as on the Go peer for every transaction.

use std::collections::BTreeMap;

use fabric_protos::common::{Block, BlockMetadataIndex, ChannelHeader, Envelope, Payload, Status};
use fabric_protos::peer::{ProcessedTransaction, ProposalResponse, TxValidationCode};
use prost::Message;
use weft_devnet::DevnetError;
use weft_devnet::admin::{Endpoint, OrdererClient, PeerClient, Signer, evaluate, signed_proposal};
use weft_interop_tests::{
    ContractKind, Network, NodeCommand, REFERENCE_VERSION, TlsFiles, Topology, UpstreamToolchain,
};
use weft_protoutil::{Invocation, signed_transaction};

use std::time::Duration;

use fabric_protos::orderer::SeekInfo;
use fabric_protos::orderer::seek_info::SeekBehavior;
use fabric_protos::peer::deliver_client::DeliverClient;
use fabric_protos::peer::deliver_response::Type as DeliverType;

use crate::support::{
    CHANNEL, GO_PEER, WEFT_PEER, connect_peer, seek_envelope, signer_from, specified,
};

const ORG2_PEER: &str = "peer0.org2.example.com";
/// The orderer's batch timeout: envelopes broadcast back to back land in one block.
const BATCH_TIMEOUT_MS: u64 = 1500;
/// Most responses read from one DeliverFiltered stream.
const MAX_RESPONSES: usize = 16;

/// The clients the scenario drives: Org1's admin endorses through the Go peers and orders.
struct Clients {
    signer: Signer,
    org1: PeerClient,
    org2: PeerClient,
    weft: PeerClient,
    orderer: OrdererClient,
}

fn peer_endpoint(network: &Network, name: &str) -> Endpoint {
    let node = network.peer(name).unwrap();
    let admin = network.admin_of(&node.msp_id).unwrap();
    Endpoint {
        address: node.listen.to_string(),
        tls_ca: node.tls_ca(),
        client_cert: Some((admin.tls_cert(), admin.tls_key())),
    }
}

async fn connect(network: &Network) -> Clients {
    let admin = network.admin_of("Org1MSP").unwrap();
    let orderer = &network.orderers()[0];
    let orderer = Endpoint {
        address: orderer.listen.to_string(),
        tls_ca: orderer.tls_ca(),
        client_cert: Some((admin.tls_cert(), admin.tls_key())),
    };
    Clients {
        signer: Signer::load(&admin.msp_dir(), "Org1MSP").unwrap(),
        org1: PeerClient::connect(&peer_endpoint(network, GO_PEER))
            .await
            .unwrap(),
        org2: PeerClient::connect(&peer_endpoint(network, ORG2_PEER))
            .await
            .unwrap(),
        weft: PeerClient::connect(&peer_endpoint(network, WEFT_PEER))
            .await
            .unwrap(),
        orderer: OrdererClient::connect(&orderer).await.unwrap(),
    }
}

fn basic(args: &[&str]) -> Invocation {
    Invocation {
        channel_id: CHANNEL.to_owned(),
        chaincode: "basic".to_owned(),
        args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}

/// A transaction endorsed by `endorsers` (nothing ordered yet), with its id, and the
/// endorsements for tampering before assembly.
async fn endorse(
    clients: &Clients,
    args: &[&str],
    endorsers: &[&PeerClient],
) -> (fabric_protos::peer::Proposal, Vec<ProposalResponse>, String) {
    let (proposal, signed, tx_id) = signed_proposal(&clients.signer, &basic(args)).unwrap();
    let mut responses = Vec::new();
    for peer in endorsers {
        responses.push(peer.propose(signed.clone(), args[0]).await.unwrap());
    }
    (proposal, responses, tx_id)
}

fn assemble(
    clients: &Clients,
    proposal: &fabric_protos::peer::Proposal,
    responses: &[ProposalResponse],
) -> Envelope {
    let signer = &clients.signer;
    signed_transaction(proposal, responses, &signer.creator(), |m| signer.sign(m)).unwrap()
}

/// Endorsed by both orgs and assembled.
async fn endorsed(clients: &Clients, args: &[&str]) -> (Envelope, String) {
    let (proposal, responses, tx_id) =
        endorse(clients, args, &[&clients.org1, &clients.org2]).await;
    (assemble(clients, &proposal, &responses), tx_id)
}

/// The code `tx_id` first committed with on `peer` (blocks searched from `from_block`), and
/// its block.
async fn committed(
    clients: &Clients,
    peer: &PeerClient,
    tx_id: &str,
    from_block: u64,
) -> (String, u64) {
    match peer
        .wait_for_tx(&clients.signer, CHANNEL, tx_id, from_block)
        .await
    {
        Ok(block) => ("VALID".to_owned(), block),
        Err(DevnetError::Invalid { code, block, .. }) => (code, block),
        Err(e) => panic!("{tx_id} on {}: {e}", peer.address),
    }
}

/// Orders `envelope` and returns the code and block it committed with on the Go peer of Org1
/// and the Weft peer (which must agree).
async fn order(
    clients: &Clients,
    envelope: Envelope,
    tx_id: &str,
    from_block: u64,
) -> (String, u64) {
    clients.orderer.broadcast(envelope).await.unwrap();
    let go = committed(clients, &clients.org1, tx_id, from_block).await;
    let weft = committed(clients, &clients.weft, tx_id, from_block).await;
    assert_eq!(weft, go, "{tx_id}: Weft peer vs Go peer");
    go
}

/// Flips a bit inside the `r` integer of a DER ECDSA signature, keeping the encoding valid.
fn tamper(signature: &mut [u8]) {
    assert!(signature.len() > 8, "not a DER signature");
    signature[6] ^= 0x01;
}

/// `envelope` with its channel header and data edited and the payload signed again by the
/// creator, so that the orderer's Writers check passes; returns it with its (new) tx id.
fn resigned(
    clients: &Clients,
    envelope: &Envelope,
    edit: impl FnOnce(&mut ChannelHeader, &mut Vec<u8>),
) -> (Envelope, String) {
    let mut payload = Payload::decode(envelope.payload.as_slice()).unwrap();
    let header = payload.header.as_mut().unwrap();
    let mut channel_header = ChannelHeader::decode(header.channel_header.as_slice()).unwrap();
    edit(&mut channel_header, &mut payload.data);
    header.channel_header = channel_header.encode_to_vec();
    let payload = payload.encode_to_vec();
    let signature = clients.signer.sign(&payload).unwrap();
    (Envelope { payload, signature }, channel_header.tx_id)
}

/// The transactions the scenario ordered, with the code Fabric must give each occurrence.
#[derive(Default)]
struct Expected {
    /// (tx id, code) in ordering order; a duplicated tx id appears once per occurrence.
    codes: Vec<(String, TxValidationCode)>,
    /// Transactions ordered back to back that must share one block, so that the checks
    /// against earlier transactions of the same block run (every occurrence of each id).
    together: Vec<Vec<String>>,
    /// The channel height once everything ordered has committed.
    height: u64,
}

impl Expected {
    fn push(&mut self, tx_id: &str, code: TxValidationCode) {
        self.codes.push((tx_id.to_owned(), code));
    }
}

async fn run_scenario(clients: &Clients) -> Expected {
    let mut expected = Expected::default();
    let valid = TxValidationCode::Valid;

    // Valid transactions.
    for id in ["asset1", "asset2", "asset3"] {
        let (envelope, tx_id) =
            endorsed(clients, &["CreateAsset", id, "blue", "5", "Tom", "300"]).await;
        assert_eq!(order(clients, envelope, &tx_id, 0).await.0, "VALID");
        expected.push(&tx_id, valid);
    }

    // MVCC: both transfers read asset1 at the same version; the second to commit conflicts.
    let (first, first_id) = endorsed(clients, &["TransferAsset", "asset1", "Ann"]).await;
    let (second, second_id) = endorsed(clients, &["TransferAsset", "asset1", "Bob"]).await;
    assert_eq!(order(clients, first, &first_id, 0).await.0, "VALID");
    assert_eq!(
        order(clients, second, &second_id, 0).await.0,
        "MVCC_READ_CONFLICT"
    );
    expected.push(&first_id, valid);
    expected.push(&second_id, TxValidationCode::MvccReadConflict);

    // Phantom read: the range GetAllAssets read gains a key before the transaction commits.
    let (listing, listing_id) = endorsed(clients, &["GetAllAssets"]).await;
    let (create, create_id) = endorsed(
        clients,
        &["CreateAsset", "asset2a", "red", "3", "Max", "10"],
    )
    .await;
    assert_eq!(order(clients, create, &create_id, 0).await.0, "VALID");
    assert_eq!(
        order(clients, listing, &listing_id, 0).await.0,
        "PHANTOM_READ_CONFLICT"
    );
    expected.push(&create_id, valid);
    expected.push(&listing_id, TxValidationCode::PhantomReadConflict);

    // Endorsement policy: Org1 alone does not satisfy the MAJORITY of two orgs.
    let (proposal, responses, one_org_id) = endorse(
        clients,
        &["CreateAsset", "asset4", "green", "1", "Eve", "1"],
        &[&clients.org1],
    )
    .await;
    let envelope = assemble(clients, &proposal, &responses);
    assert_eq!(
        order(clients, envelope, &one_org_id, 0).await.0,
        "ENDORSEMENT_POLICY_FAILURE"
    );
    expected.push(&one_org_id, TxValidationCode::EndorsementPolicyFailure);

    // Bad endorsement signature: Org2's endorsement no longer verifies, so only Org1's counts.
    let (proposal, mut responses, bad_endorsement_id) = endorse(
        clients,
        &["CreateAsset", "asset5", "white", "2", "Ida", "2"],
        &[&clients.org1, &clients.org2],
    )
    .await;
    tamper(&mut responses[1].endorsement.as_mut().unwrap().signature);
    let envelope = assemble(clients, &proposal, &responses);
    assert_eq!(
        order(clients, envelope, &bad_endorsement_id, 0).await.0,
        "ENDORSEMENT_POLICY_FAILURE"
    );
    expected.push(
        &bad_endorsement_id,
        TxValidationCode::EndorsementPolicyFailure,
    );

    // Bad creator signature: the orderer's Writers check refuses the envelope.
    let (mut envelope, _) = endorsed(
        clients,
        &["CreateAsset", "asset6", "black", "2", "Joe", "2"],
    )
    .await;
    tamper(&mut envelope.signature);
    match clients.orderer.broadcast(envelope).await {
        Err(DevnetError::Refused { status, .. }) => {
            assert_eq!(status, Status::Forbidden as i32)
        }
        other => panic!("the orderer took a badly signed envelope: {other:?}"),
    }

    // Duplicate in a later block: the ledger already holds the tx id.
    let (envelope, dup_id) =
        endorsed(clients, &["CreateAsset", "asset7", "pink", "2", "Kim", "2"]).await;
    let (code, block) = order(clients, envelope.clone(), &dup_id, 0).await;
    assert_eq!(code, "VALID");
    let (code, again) = order(clients, envelope, &dup_id, block + 1).await;
    assert_eq!(code, "DUPLICATE_TXID");
    assert!(again > block);
    expected.push(&dup_id, valid);
    expected.push(&dup_id, TxValidationCode::DuplicateTxid);

    // Duplicate inside one block: the same envelope broadcast back to back, well within the
    // batch timeout.
    let (envelope, twin_id) =
        endorsed(clients, &["CreateAsset", "asset8", "gray", "2", "Lou", "2"]).await;
    clients.orderer.broadcast(envelope.clone()).await.unwrap();
    clients.orderer.broadcast(envelope).await.unwrap();
    expected.push(&twin_id, valid);
    expected.push(&twin_id, TxValidationCode::DuplicateTxid);
    expected.together.push(vec![twin_id]);

    // MVCC inside one block: the second transfer reads what the first, earlier in the same
    // block, writes.
    let (first, first_id) = endorsed(clients, &["TransferAsset", "asset2", "Ann"]).await;
    let (second, second_id) = endorsed(clients, &["TransferAsset", "asset2", "Bob"]).await;
    clients.orderer.broadcast(first).await.unwrap();
    clients.orderer.broadcast(second).await.unwrap();
    expected.push(&first_id, valid);
    expected.push(&second_id, TxValidationCode::MvccReadConflict);
    expected.together.push(vec![first_id, second_id]);

    // Phantom inside one block: a key created earlier in the block falls in the range read.
    let (listing, listing_id) = endorsed(clients, &["GetAllAssets"]).await;
    let (create, create_id) = endorsed(
        clients,
        &["CreateAsset", "asset3a", "red", "3", "Max", "10"],
    )
    .await;
    clients.orderer.broadcast(create).await.unwrap();
    clients.orderer.broadcast(listing).await.unwrap();
    expected.push(&create_id, valid);
    expected.push(&listing_id, TxValidationCode::PhantomReadConflict);
    expected.together.push(vec![create_id, listing_id]);

    // An endorsement signature that is not even DER: it counts for nothing either.
    let (proposal, mut responses, garbled_id) = endorse(
        clients,
        &["CreateAsset", "asset10", "olive", "2", "Ola", "2"],
        &[&clients.org1, &clients.org2],
    )
    .await;
    responses[0]
        .endorsement
        .as_mut()
        .unwrap()
        .signature
        .truncate(3);
    let envelope = assemble(clients, &proposal, &responses);
    clients.orderer.broadcast(envelope).await.unwrap();
    expected.push(&garbled_id, TxValidationCode::EndorsementPolicyFailure);

    // Structural checks, before any endorsement is looked at; the orderer does not make them.
    // A tx id that is not the hash of nonce and creator: BAD_PROPOSAL_TXID.
    let (envelope, _) = endorsed(
        clients,
        &["CreateAsset", "asset11", "navy", "2", "Pat", "2"],
    )
    .await;
    let (envelope, forged_id) = resigned(clients, &envelope, |header, _| {
        header.tx_id = "0".repeat(64);
    });
    assert_eq!(
        order(clients, envelope, &forged_id, 0).await.0,
        "BAD_PROPOSAL_TXID"
    );
    expected.push(&forged_id, TxValidationCode::BadProposalTxid);

    // A header type Fabric does not know: BAD_COMMON_HEADER.
    let (envelope, _) = endorsed(
        clients,
        &["CreateAsset", "asset12", "lime", "2", "Rob", "2"],
    )
    .await;
    let (envelope, unknown_type_id) = resigned(clients, &envelope, |header, _| {
        header.r#type = 42;
    });
    assert_eq!(
        order(clients, envelope, &unknown_type_id, 0).await.0,
        "BAD_COMMON_HEADER"
    );
    expected.push(&unknown_type_id, TxValidationCode::BadCommonHeader);

    // A last valid transaction: once it committed, everything before it has.
    let (envelope, last_id) =
        endorsed(clients, &["CreateAsset", "asset9", "teal", "2", "Ned", "2"]).await;
    let (code, last_block) = order(clients, envelope, &last_id, 0).await;
    assert_eq!(code, "VALID");
    expected.push(&last_id, valid);

    // An endorser transaction whose data is not a Transaction: INVALID_ENDORSER_TRANSACTION.
    // Last, because the Go peer's DeliverFiltered cannot summarise its block: the stream ends
    // with BAD_REQUEST there, and the Weft peer must answer alike.
    let (envelope, _) = endorsed(
        clients,
        &["CreateAsset", "asset13", "plum", "2", "Sue", "2"],
    )
    .await;
    let (envelope, garbage_id) = resigned(clients, &envelope, |_, data| {
        *data = vec![0xff; 16];
    });
    clients.orderer.broadcast(envelope).await.unwrap();
    expected.push(&garbage_id, TxValidationCode::InvalidEndorserTransaction);
    expected.height = last_block + 2;
    expected
}

/// What DeliverFiltered sends `peer` for blocks `first..=last`: one line per response.
async fn filtered_responses(network: &Network, peer: &str, first: u64, last: u64) -> Vec<String> {
    let admin = network.admin_of("Org1MSP").unwrap();
    let signer = signer_from(&admin.msp_dir(), "Org1MSP");
    let seek = SeekInfo {
        start: specified(first),
        stop: specified(last),
        behavior: SeekBehavior::BlockUntilReady as i32,
        ..Default::default()
    };
    let envelope = seek_envelope(signer.as_ref(), CHANNEL, &seek, Duration::ZERO);
    let mut client = DeliverClient::new(connect_peer(network, peer).await);
    let mut stream = client
        .deliver_filtered(futures::stream::iter([envelope]))
        .await
        .unwrap()
        .into_inner();
    let mut lines = Vec::new();
    let collect = async {
        while let Some(response) = stream.message().await.unwrap() {
            match response.r#type {
                Some(DeliverType::FilteredBlock(block)) => {
                    let codes: Vec<i32> = block
                        .filtered_transactions
                        .iter()
                        .map(|t| t.tx_validation_code)
                        .collect();
                    lines.push(format!("block {} codes {codes:?}", block.number));
                }
                Some(DeliverType::Status(status)) => {
                    lines.push(format!("status {status}"));
                    if status == Status::Success as i32 {
                        break;
                    }
                }
                other => lines.push(format!("unexpected {other:?}")),
            }
            if lines.len() >= MAX_RESPONSES {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), collect)
        .await
        .unwrap_or_else(|_| panic!("{peer}: DeliverFiltered answered {lines:?} and then nothing"));
    lines
}

fn metadata(block: &Block, index: BlockMetadataIndex) -> Vec<u8> {
    block
        .metadata
        .as_ref()
        .and_then(|m| m.metadata.get(index as usize))
        .cloned()
        .unwrap_or_default()
}

/// (tx id, validation code) of every transaction in `block`, from its TRANSACTIONS_FILTER.
fn transactions(block: &Block) -> Vec<(String, u8)> {
    let filter = metadata(block, BlockMetadataIndex::TransactionsFilter);
    let data = &block.data.as_ref().unwrap().data;
    assert_eq!(filter.len(), data.len(), "one filter byte per transaction");
    data.iter()
        .zip(filter)
        .map(|(bytes, code)| {
            let envelope = Envelope::decode(bytes.as_slice()).unwrap();
            let payload = Payload::decode(envelope.payload.as_slice()).unwrap();
            let header =
                ChannelHeader::decode(payload.header.unwrap().channel_header.as_slice()).unwrap();
            (header.tx_id, code)
        })
        .collect()
}

async fn transaction_by_id(clients: &Clients, peer: &PeerClient, tx_id: &str) -> Vec<u8> {
    let invocation = Invocation {
        channel_id: CHANNEL.to_owned(),
        chaincode: "qscc".to_owned(),
        args: vec![
            b"GetTransactionByID".to_vec(),
            CHANNEL.as_bytes().to_vec(),
            tx_id.as_bytes().to_vec(),
        ],
        ..Default::default()
    };
    evaluate(
        peer,
        &clients.signer,
        &invocation,
        "qscc GetTransactionByID",
    )
    .await
    .unwrap()
}

#[test]
fn upstream_weft_peer_validates_every_outcome_like_the_go_peers() {
    let toolchain = UpstreamToolchain::locate(REFERENCE_VERSION).unwrap_or_else(|e| panic!("{e}"));
    let mut topology = Topology::new(CHANNEL, &toolchain)
        .peer_org("Org1", 2)
        .peer_org("Org2", 1)
        .node_command(
            WEFT_PEER,
            NodeCommand::new(env!("CARGO_BIN_EXE_peer"), &["node", "start"]),
        );
    // Long enough that envelopes broadcast back to back share a block on a loaded machine.
    topology.batch_timeout_ms = BATCH_TIMEOUT_MS;
    let mut network = Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"));
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
    network
        .deploy_ccaas("basic", ContractKind::Basic)
        .unwrap_or_else(|e| panic!("{e}"));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let clients = runtime.block_on(connect(&network));
    let expected = runtime.block_on(run_scenario(&clients));

    let height = expected.height;
    for peer in [GO_PEER, WEFT_PEER, ORG2_PEER] {
        network.wait_for_height(peer, height).unwrap();
        assert_eq!(network.channel_height(peer).unwrap(), height, "{peer}");
    }

    let mut seen: Vec<(String, TxValidationCode)> = Vec::new();
    let mut blocks_of: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for number in 0..height {
        let go = network.fetch_block(GO_PEER, number).unwrap();
        let weft = network.fetch_block(WEFT_PEER, number).unwrap();
        let org2 = network.fetch_block(ORG2_PEER, number).unwrap();
        for index in [
            BlockMetadataIndex::TransactionsFilter,
            BlockMetadataIndex::CommitHash,
        ] {
            let go_value = metadata(&go, index);
            // Fabric writes no COMMIT_HASH for the genesis block it joins with.
            let written = number > 0 || index == BlockMetadataIndex::TransactionsFilter;
            assert_eq!(
                !go_value.is_empty(),
                written,
                "block {number}: what the Go peer wrote as {index:?}"
            );
            assert_eq!(
                hex::encode(metadata(&weft, index)),
                hex::encode(&go_value),
                "block {number}: {index:?} of the Weft peer vs the Go peer of Org1"
            );
            assert_eq!(
                hex::encode(metadata(&org2, index)),
                hex::encode(&go_value),
                "block {number}: {index:?} of Org2's Go peer vs Org1's"
            );
        }
        assert_eq!(weft, go, "block {number}: whole block");
        for (tx_id, code) in transactions(&go) {
            blocks_of.entry(tx_id.clone()).or_default().push(number);
            seen.push((tx_id, TxValidationCode::try_from(i32::from(code)).unwrap()));
        }
    }

    // Every transaction the scenario ordered, in order, with the code Fabric gives it.
    let ordered: Vec<_> = seen
        .iter()
        .filter(|(tx_id, _)| expected.codes.iter().any(|(id, _)| id == tx_id))
        .cloned()
        .collect();
    let names = |list: &[(String, TxValidationCode)]| {
        list.iter()
            .map(|(id, code)| format!("{}:{}", &id[..8], code.as_str_name()))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&ordered), names(&expected.codes));
    eprintln!("validation codes seen: {:?}", names(&seen));
    // Fabric's DeliverFiltered cannot summarise the block holding the transaction whose data is
    // not a Transaction: it sends BAD_REQUEST in its place and goes on.
    let (go, weft) = runtime.block_on(async {
        (
            filtered_responses(&network, GO_PEER, height - 2, height - 1).await,
            filtered_responses(&network, WEFT_PEER, height - 2, height - 1).await,
        )
    });
    eprintln!("DeliverFiltered over the last two blocks: {go:?}");
    assert_eq!(go.len(), 3, "{go:?}");
    assert_eq!(go[1], format!("status {}", Status::BadRequest as i32));
    assert_eq!(
        weft, go,
        "DeliverFiltered over the last two blocks: Weft vs Go"
    );

    let short_blocks: BTreeMap<&str, &Vec<u64>> = blocks_of
        .iter()
        .map(|(id, b)| (&id[..8.min(id.len())], b))
        .collect();
    eprintln!("blocks of each transaction: {short_blocks:?}");
    for group in &expected.together {
        let blocks: Vec<u64> = group.iter().flat_map(|id| blocks_of[id].clone()).collect();
        assert!(
            blocks.windows(2).all(|pair| pair[0] == pair[1]),
            "{group:?} were ordered back to back but landed in blocks {blocks:?}"
        );
    }

    // The chain as `peer channel getinfo` (qscc GetChainInfo) and the _lifecycle state as
    // `querycommitted` report them.
    let getinfo = |peer: &str| {
        let output = network
            .peer_cli(peer, &["channel", "getinfo", "-c", CHANNEL])
            .unwrap_or_else(|e| panic!("{e}"));
        output.stdout[output.stdout.find('{').unwrap()..]
            .trim()
            .to_owned()
    };
    assert_eq!(getinfo(WEFT_PEER), getinfo(GO_PEER), "peer channel getinfo");
    let committed = |peer: &str| network.committed_chaincode(peer, "basic").unwrap();
    assert!(committed(GO_PEER).is_some());
    assert_eq!(
        committed(WEFT_PEER),
        committed(GO_PEER),
        "querycommitted basic"
    );

    // qscc answers the same on both peers for every transaction, with the code the block
    // gave it (for a duplicated id: the code of its first, valid, occurrence on both).
    let mut first_code: BTreeMap<&str, TxValidationCode> = BTreeMap::new();
    for (tx_id, code) in &seen {
        first_code.entry(tx_id.as_str()).or_insert(*code);
    }
    runtime.block_on(async {
        for (tx_id, code) in &first_code {
            let go = transaction_by_id(&clients, &clients.org1, tx_id).await;
            let weft = transaction_by_id(&clients, &clients.weft, tx_id).await;
            let decoded = ProcessedTransaction::decode(weft.as_slice()).unwrap();
            assert_eq!(
                weft, go,
                "GetTransactionByID {tx_id} (Weft says {})",
                decoded.validation_code
            );
            assert_eq!(decoded.validation_code, *code as i32, "{tx_id}");
        }
    });
}
