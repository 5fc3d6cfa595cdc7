//! Read-write sets equal, byte for byte, what Go's endorser builds for the same calls. Each
//! expected set is written out by hand from Go's rules (F25
//! core/ledger/kvledger/txmgmt/rwsetutil/rwset_builder.go: namespaces, keys and collections
//! sorted, hashed entries sorted by plain key, range queries in issue order;
//! txmgr/query_executor.go: reads record committed versions, range info end key / exhaustion,
//! merkle summary above 50 results; _lifecycle's sequence read from
//! core/chaincode/lifecycle/endorsement_info.go).

use fabric_protos::kvrwset::{
    HashedRwSet, KvMetadataEntry, KvMetadataWrite, KvRead, KvReadHash, KvWrite, KvWriteHash,
    KvrwSet, QueryReads, QueryReadsMerkleSummary, RangeQueryInfo, Version,
    range_query_info::ReadsInfo,
};
use fabric_protos::protos::{ChaincodeAction, ProposalResponse, ProposalResponsePayload};
use fabric_protos::rwset::{
    CollectionHashedReadWriteSet, CollectionPvtReadWriteSet, NsPvtReadWriteSet, NsReadWriteSet,
    TxPvtReadWriteSet, TxReadWriteSet,
};
use prost::Message;
use std::sync::Arc;
use weft_endorser::CollectionAccess;
use weft_ledger::kv::Height;

use crate::fakes::{Node, ProposalSpec, build, sequence_key};

fn v(block_num: u64, tx_num: u64) -> Option<Version> {
    Some(Version { block_num, tx_num })
}

fn read(key: &str, version: Option<Version>) -> KvRead {
    KvRead {
        key: key.into(),
        version,
    }
}

fn write(key: &str, value: &str) -> KvWrite {
    KvWrite {
        key: key.into(),
        is_delete: value.is_empty(),
        value: value.as_bytes().to_vec(),
    }
}

fn sha(data: &[u8]) -> Vec<u8> {
    weft_protoutil::sha256(data).to_vec()
}

fn lifecycle_ns(chaincodes: &[(&str, Option<Version>)]) -> NsReadWriteSet {
    NsReadWriteSet {
        namespace: "_lifecycle".into(),
        rwset: KvrwSet {
            reads: chaincodes
                .iter()
                .map(|(cc, ver)| read(&sequence_key(cc), *ver))
                .collect(),
            ..Default::default()
        }
        .encode_to_vec(),
        collection_hashed_rwset: vec![],
    }
}

fn tx_rwset(ns_rwset: Vec<NsReadWriteSet>) -> Vec<u8> {
    TxReadWriteSet {
        data_model: 0,
        ns_rwset,
    }
    .encode_to_vec()
}

async fn endorse(node: &Node, args: &[&str]) -> (ProposalResponse, ChaincodeAction) {
    let proposal = build(&ProposalSpec::invoke("mycc", args), &node.client);
    let response = node.endorser.process(proposal.signed).await.unwrap();
    let payload = ProposalResponsePayload::decode(response.payload.as_slice()).unwrap();
    let action = ChaincodeAction::decode(payload.extension.as_slice()).unwrap();
    (response, action)
}

fn seed(node: &Node) {
    let ch = &node.channel;
    ch.put("mycc", "a", b"va", Height::new(1, 0));
    ch.put("mycc", "b", b"vb", Height::new(1, 1));
    ch.put("mycc", "c", b"vc", Height::new(2, 0));
    ch.put("mycc", "d", b"vd", Height::new(2, 1));
    ch.put("mycc", "z", b"vz", Height::new(3, 0));
    ch.put(
        "mycc",
        "\u{0}obj\u{0}1\u{0}",
        b"composite",
        Height::new(3, 1),
    );
}

// Reads, writes, deletes, metadata and ranges in one transaction, issued out of key order.
#[tokio::test]
async fn public_reads_writes_ranges_and_metadata_match_go() {
    let node = Node::new();
    seed(&node);
    let (response, action) = endorse(
        &node,
        &[
            "get:z",
            "get:a",
            "put:k2=x",
            "put:k1=y",
            "del:b",
            "range:b:d",
            "meta:d:VALIDATION_PARAMETER=pol",
            "get:missing",
            "put:a=new",
            "get:a",
            "range::",
            "range:b:d",
        ],
    )
    .await;
    assert_eq!(response.response.as_ref().unwrap().status, 200);
    // Go's simulator reads committed state: "a" still reads "va" after the write.
    let lines: Vec<String> = String::from_utf8(action.response.unwrap().payload)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines[9], "va");
    // An empty range start becomes "\x01" in Go's shim, so composite keys stay out.
    assert_eq!(lines[10], "a,b,c,d,z");

    let mycc = KvrwSet {
        reads: vec![
            read("a", v(1, 0)),
            read("missing", None),
            read("z", v(3, 0)),
        ],
        range_queries_info: vec![
            RangeQueryInfo {
                start_key: "b".into(),
                end_key: "d".into(),
                itr_exhausted: true,
                reads_info: Some(ReadsInfo::RawReads(QueryReads {
                    kv_reads: vec![read("b", v(1, 1)), read("c", v(2, 0))],
                })),
            },
            RangeQueryInfo {
                start_key: "\u{1}".into(),
                end_key: "".into(),
                itr_exhausted: true,
                reads_info: Some(ReadsInfo::RawReads(QueryReads {
                    kv_reads: vec![
                        read("a", v(1, 0)),
                        read("b", v(1, 1)),
                        read("c", v(2, 0)),
                        read("d", v(2, 1)),
                        read("z", v(3, 0)),
                    ],
                })),
            },
        ],
        writes: vec![
            write("a", "new"),
            write("b", ""),
            write("k1", "y"),
            write("k2", "x"),
        ],
        metadata_writes: vec![KvMetadataWrite {
            key: "d".into(),
            entries: vec![KvMetadataEntry {
                name: "VALIDATION_PARAMETER".into(),
                value: b"pol".to_vec(),
            }],
        }],
    };
    let expected = tx_rwset(vec![
        lifecycle_ns(&[("mycc", v(1, 0))]),
        NsReadWriteSet {
            namespace: "mycc".into(),
            rwset: mycc.encode_to_vec(),
            collection_hashed_rwset: vec![],
        },
    ]);
    assert_eq!(hex::encode(&action.results), hex::encode(&expected));
}

// More than 50 results: Go hashes every 51 pending reads into a leaf and keeps the top level
// (query_results_helper.go with maxDegree 50); 60 results give two leaves at level 1.
#[tokio::test]
async fn large_range_is_summarized_by_merkle_hashes_as_go() {
    let node = Node::new();
    for i in 0..60u64 {
        node.channel
            .put("mycc", &format!("key{i:03}"), b"v", Height::new(5, i));
    }
    let (_, action) = endorse(&node, &["range:key:kez"]).await;
    let reads: Vec<KvRead> = (0..60u64)
        .map(|i| read(&format!("key{i:03}"), v(5, i)))
        .collect();
    let leaf = |r: &[KvRead]| {
        sha(&QueryReads {
            kv_reads: r.to_vec(),
        }
        .encode_to_vec())
    };
    let mycc = KvrwSet {
        range_queries_info: vec![RangeQueryInfo {
            start_key: "key".into(),
            end_key: "kez".into(),
            itr_exhausted: true,
            reads_info: Some(ReadsInfo::ReadsMerkleHashes(QueryReadsMerkleSummary {
                max_degree: 50,
                max_level: 1,
                max_level_hashes: vec![leaf(&reads[..51]), leaf(&reads[51..])],
            })),
        }],
        ..Default::default()
    };
    let expected = tx_rwset(vec![
        lifecycle_ns(&[("mycc", v(1, 0))]),
        NsReadWriteSet {
            namespace: "mycc".into(),
            rwset: mycc.encode_to_vec(),
            collection_hashed_rwset: vec![],
        },
    ]);
    assert_eq!(action.results, expected);
}

// Pagination: the page stops before Go asks the iterator again, so the range is not exhausted
// and ends at the last returned key; the bookmark is the next key (stateleveldb kvScanner).
// An empty range has no reads_info at all (Go sets raw reads only when there are results).
#[tokio::test]
async fn paginated_ranges_record_partial_ranges_and_bookmarks_as_go() {
    let node = Node::new();
    seed(&node);
    let (_, action) = endorse(
        &node,
        &["page:a::2:", "page:a::2:c", "page:a::10:", "page:m:n:5:"],
    )
    .await;
    let lines: Vec<String> = String::from_utf8(action.response.unwrap().payload)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines, ["a,b|c", "c,d|z", "a,b,c,d,z|", "|"]);
    let raw = |reads: Vec<KvRead>| Some(ReadsInfo::RawReads(QueryReads { kv_reads: reads }));
    let mycc = KvrwSet {
        range_queries_info: vec![
            RangeQueryInfo {
                start_key: "a".into(),
                end_key: "b".into(),
                itr_exhausted: false,
                reads_info: raw(vec![read("a", v(1, 0)), read("b", v(1, 1))]),
            },
            RangeQueryInfo {
                start_key: "c".into(),
                end_key: "d".into(),
                itr_exhausted: false,
                reads_info: raw(vec![read("c", v(2, 0)), read("d", v(2, 1))]),
            },
            RangeQueryInfo {
                start_key: "a".into(),
                end_key: "".into(),
                itr_exhausted: true,
                reads_info: raw(vec![
                    read("a", v(1, 0)),
                    read("b", v(1, 1)),
                    read("c", v(2, 0)),
                    read("d", v(2, 1)),
                    read("z", v(3, 0)),
                ]),
            },
            RangeQueryInfo {
                start_key: "m".into(),
                end_key: "n".into(),
                itr_exhausted: true,
                reads_info: None,
            },
        ],
        ..Default::default()
    };
    let expected = tx_rwset(vec![
        lifecycle_ns(&[("mycc", v(1, 0))]),
        NsReadWriteSet {
            namespace: "mycc".into(),
            rwset: mycc.encode_to_vec(),
            collection_hashed_rwset: vec![],
        },
    ]);
    assert_eq!(action.results, expected);
}

// Go refuses writes after a paginated query (tx_simulator.go checkPaginatedQueryPerformed).
#[tokio::test]
async fn write_after_paginated_query_fails_as_go() {
    let node = Node::new();
    seed(&node);
    let (response, action) = endorse(&node, &["page:a::2:", "put:x=1"]).await;
    let status = action.response.unwrap();
    assert_eq!(status.status, 500);
    assert!(
        status.message.contains(
            "Transaction has already performed a paginated query. Writes are not allowed"
        ),
        "{}",
        status.message
    );
    assert!(response.endorsement.is_none());
}

// Private data: hashes in the public set sorted by plain key ("gone" < "k2", although
// sha256("k2") = 015f.. sorts before sha256("gone") = 283b..), the private set kept apart and handed to distribution,
// and pvt_rwset_hash = SHA-256 of the collection's private KVRWSet bytes.
#[tokio::test]
async fn private_writes_and_reads_hash_as_go() {
    let node = Node::new();
    node.channel.collections.lock().unwrap().insert(
        ("mycc".into(), "coll".into()),
        CollectionAccess {
            read: true,
            write: true,
        },
    );
    node.channel
        .put_private("mycc", "coll", "p1", b"secret", Height::new(4, 2));
    let (response, action) = endorse(
        &node,
        &[
            "pget:coll:p1",
            "pput:coll:k9=nine",
            "pput:coll:k2=two",
            "pdel:coll:gone",
            "phash:coll:nothing",
        ],
    )
    .await;
    assert_eq!(
        response.response.as_ref().unwrap().status,
        200,
        "{:?}",
        response.response
    );
    assert!(response.endorsement.is_some());

    let private_kv = KvrwSet {
        writes: vec![write("gone", ""), write("k2", "two"), write("k9", "nine")],
        ..Default::default()
    }
    .encode_to_vec();
    let hashed = HashedRwSet {
        hashed_reads: vec![
            KvReadHash {
                key_hash: sha(b"nothing"),
                version: None,
            },
            KvReadHash {
                key_hash: sha(b"p1"),
                version: v(4, 2),
            },
        ],
        hashed_writes: vec![
            KvWriteHash {
                key_hash: sha(b"gone"),
                is_delete: true,
                value_hash: vec![],
                is_purge: false,
            },
            KvWriteHash {
                key_hash: sha(b"k2"),
                is_delete: false,
                value_hash: sha(b"two"),
                is_purge: false,
            },
            KvWriteHash {
                key_hash: sha(b"k9"),
                is_delete: false,
                value_hash: sha(b"nine"),
                is_purge: false,
            },
        ],
        metadata_writes: vec![],
    };
    let expected = tx_rwset(vec![
        lifecycle_ns(&[("mycc", v(1, 0))]),
        NsReadWriteSet {
            namespace: "mycc".into(),
            rwset: KvrwSet::default().encode_to_vec(),
            collection_hashed_rwset: vec![CollectionHashedReadWriteSet {
                collection_name: "coll".into(),
                hashed_rwset: hashed.encode_to_vec(),
                pvt_rwset_hash: sha(&private_kv),
            }],
        },
    ]);
    assert_eq!(action.results, expected);

    let distributed = node.channel.distributed.lock().unwrap();
    assert_eq!(distributed.len(), 1);
    assert_eq!(
        distributed[0].1,
        TxPvtReadWriteSet {
            data_model: 0,
            ns_pvt_rwset: vec![NsPvtReadWriteSet {
                namespace: "mycc".into(),
                collection_pvt_rwset: vec![CollectionPvtReadWriteSet {
                    collection_name: "coll".into(),
                    rwset: private_kv
                }],
            }],
        }
    );
    // The creator read private data, so the interest says so.
    let interest = response.interest.unwrap();
    let coll_call = interest
        .chaincodes
        .iter()
        .find(|c| c.collection_names == ["coll"])
        .unwrap();
    assert!(!coll_call.no_private_reads);
}

// A collection the creator may not write: Go's handler message, and nothing endorsed.
#[tokio::test]
async fn private_write_without_permission_fails_with_go_message() {
    let node = Node::new();
    node.channel.collections.lock().unwrap().insert(
        ("mycc".into(), "coll".into()),
        CollectionAccess {
            read: true,
            write: false,
        },
    );
    let (_, action) = endorse(&node, &["pput:coll:k=v"]).await;
    let response = action.response.unwrap();
    assert_eq!(response.status, 500);
    assert!(response.message.contains("tx creator does not have write access permission on privatedata in chaincodeName:mycc collectionName: coll"), "{}", response.message);
    let (_, action) = endorse(&node, &["pget:undefined:k"]).await;
    assert!(action.response.unwrap().message.contains(
        "collection [undefined] not defined in the collection config for chaincode [mycc]"
    ));
}

// Chaincode-to-chaincode on one channel: the callee writes into its own namespace of the same
// rwset, and _lifecycle is read for both chaincodes (chaincode_support.go CheckInvocation).
#[tokio::test]
async fn chaincode_to_chaincode_adds_callee_namespace() {
    let node = Node::new();
    seed(&node);
    let (response, action) =
        endorse(&node, &["put:mine=1", "call:othercc:put:theirs=2|get:a"]).await;
    assert_eq!(response.response.as_ref().unwrap().status, 200);
    let payload = String::from_utf8(action.response.unwrap().payload).unwrap();
    assert_eq!(payload, "ok\n200/ok\n<none>/");
    let expected = tx_rwset(vec![
        lifecycle_ns(&[("mycc", v(1, 0)), ("othercc", v(1, 1))]),
        NsReadWriteSet {
            namespace: "mycc".into(),
            rwset: KvrwSet {
                writes: vec![write("mine", "1")],
                ..Default::default()
            }
            .encode_to_vec(),
            collection_hashed_rwset: vec![],
        },
        NsReadWriteSet {
            namespace: "othercc".into(),
            rwset: KvrwSet {
                reads: vec![read("a", None)],
                writes: vec![write("theirs", "2")],
                ..Default::default()
            }
            .encode_to_vec(),
            collection_hashed_rwset: vec![],
        },
    ]);
    assert_eq!(action.results, expected);

    // Re-entering a chaincode already on the call stack fails as Go's per-chaincode
    // transaction context does.
    let (_, action) = endorse(&node, &["call:othercc:call:mycc:get:a"]).await;
    let payload = String::from_utf8(action.response.unwrap().payload).unwrap();
    let tx_id = &node_tx_id(&node, &["call:othercc:call:mycc:get:a"]);
    assert_eq!(
        payload,
        format!("500//peer error: execute failed: error sending: txid: {tx_id}(mychannel) exists")
    );
}

fn node_tx_id(node: &Node, args: &[&str]) -> String {
    build(&ProposalSpec::invoke("mycc", args), &node.client).tx_id
}

// A call to a chaincode on another channel runs against that channel's state and its writes
// are discarded: only the caller's channel appears in the rwset (handler.go
// HandleInvokeChaincode uses a separate simulator for another channel).
#[tokio::test]
async fn call_to_another_channel_is_query_only() {
    let node = Node::new();
    let other = crate::fakes::FakeChannel::new(Arc::clone(&node.channel.identities));
    other
        .writers
        .lock()
        .unwrap()
        .insert(weft_msp::Identity::serialize(node.client.as_ref()));
    other.define("othercc", "3.0", Height::new(7, 0));
    other.put("othercc", "there", b"far", Height::new(7, 1));
    node.channels
        .0
        .lock()
        .unwrap()
        .insert("otherchannel".into(), other);
    let (response, action) =
        endorse(&node, &["xcall:otherchannel:othercc:get:there|put:w=1"]).await;
    assert_eq!(response.response.as_ref().unwrap().status, 200);
    assert_eq!(
        String::from_utf8(action.response.unwrap().payload).unwrap(),
        "200/far\nok/"
    );
    assert_eq!(
        action.results,
        tx_rwset(vec![lifecycle_ns(&[("mycc", v(1, 0))])])
    );
}

// The definition exists but the registry cannot run it: Go's launch failure, as a 500.
#[tokio::test]
async fn chaincode_that_cannot_launch_is_a_500() {
    let node = Node::new();
    node.registry.0.lock().unwrap().remove("mycc");
    let proposal = build(&ProposalSpec::invoke("mycc", &["get:a"]), &node.client);
    let tx_id = proposal.tx_id.clone();
    let response = node.endorser.process(proposal.signed).await.unwrap();
    assert_eq!(
        response.response.unwrap().message,
        format!(
            "error in simulation: failed to execute transaction {tx_id}: could not launch chaincode mycc:0123: chaincode mycc is not installed"
        )
    );
}

// --init-required: the first call must be an init, which reads and writes Fabric's
// initialized key with the definition's version (chaincode_support.go CheckInvocation).
#[tokio::test]
async fn init_required_chaincode_records_the_initialized_key() {
    let node = Node::new();
    node.channel
        .definitions
        .lock()
        .unwrap()
        .get_mut("mycc")
        .unwrap()
        .init_required = true;
    let proposal = build(&ProposalSpec::invoke("mycc", &["put:k=v"]), &node.client);
    let tx_id = proposal.tx_id.clone();
    let response = node.endorser.process(proposal.signed).await.unwrap();
    assert_eq!(
        response.response.unwrap().message,
        format!(
            "error in simulation: failed to execute transaction {tx_id}: invalid invocation: chaincode 'mycc' has not been initialized for this version, must call as init first"
        )
    );

    let mut spec = ProposalSpec::invoke("mycc", &["put:k=v", "pget:coll:x"]);
    spec.is_init = true;
    let response = node
        .endorser
        .process(build(&spec, &node.client).signed)
        .await
        .unwrap();
    let payload = ProposalResponsePayload::decode(response.payload.as_slice()).unwrap();
    let action = ChaincodeAction::decode(payload.extension.as_slice()).unwrap();
    // Private data is refused inside init, as Go's handler does.
    assert!(
        action
            .response
            .unwrap()
            .message
            .contains("private data APIs are not allowed in chaincode Init()")
    );

    let mut spec = ProposalSpec::invoke("mycc", &["put:k=v"]);
    spec.is_init = true;
    let response = node
        .endorser
        .process(build(&spec, &node.client).signed)
        .await
        .unwrap();
    assert!(response.endorsement.is_some());
    let payload = ProposalResponsePayload::decode(response.payload.as_slice()).unwrap();
    let action = ChaincodeAction::decode(payload.extension.as_slice()).unwrap();
    let initialized = "\u{0}\u{10FFFF}initialized";
    let mycc = KvrwSet {
        reads: vec![read(initialized, None)],
        writes: vec![write(initialized, "1.0"), write("k", "v")],
        ..Default::default()
    };
    let expected = tx_rwset(vec![
        lifecycle_ns(&[("mycc", v(1, 0))]),
        NsReadWriteSet {
            namespace: "mycc".into(),
            rwset: mycc.encode_to_vec(),
            collection_hashed_rwset: vec![],
        },
    ]);
    assert_eq!(action.results, expected);
}
