//! Transaction validation codes, each mirroring what a Fabric v2.5 peer writes in
//! TRANSACTIONS_FILTER for the same transaction.

use fabric_protos::common::{BlockMetadataIndex, Metadata};
use fabric_protos::kvrwset::{
    KvMetadataEntry, KvMetadataWrite, KvrwSet, QueryReads, RangeQueryInfo, range_query_info,
};
use fabric_protos::orderer::BatchSize;
use fabric_protos::protos::TxValidationCode as Code;
use prost::Message;
use weft_ledger::kv::{BatchEntry, Height, UpdateBatch, VersionedStore, commit_hash, update_bytes};
use weft_msp::SigningIdentity;

use crate::fixture::TxSpec;
use crate::{Harness, net, org, read, writes};

#[test]
fn valid_transactions_commit_with_filter_commit_hash_history_and_event() {
    let mut h = Harness::new();
    let mut events = h.ledger.events().subscribe();
    let a = TxSpec::new(&net().user(1), &[&org(1)], "any", writes(&[("k1", "v1")]));
    let b = TxSpec::new(&net().user(2), &[&org(2)], "any", writes(&[("k2", "v2")]));
    let committed = h.commit(vec![a.build(), b.build()]);
    assert_eq!(committed.number, 1);
    assert_eq!(committed.txs[0].txid, a.txid());
    assert!(committed.txs.iter().all(|t| t.code == Code::Valid));

    let stored = h.ledger.blocks().block_by_number(1).unwrap().unwrap();
    let metadata = &stored.metadata.as_ref().unwrap().metadata;
    assert_eq!(
        metadata[BlockMetadataIndex::TransactionsFilter as usize],
        vec![0, 0]
    );
    // Fabric's first commit hash (block 1): no previous hash chained in.
    let mut batch = UpdateBatch::new();
    for (index, (key, value)) in [("k1", "v1"), ("k2", "v2")].iter().enumerate() {
        batch.put_public(
            "any",
            key.as_bytes(),
            BatchEntry {
                value: Some(value.as_bytes().to_vec()),
                metadata: None,
                version: Height::new(1, index as u64),
            },
        );
    }
    let expected = commit_hash(&[0, 0], &update_bytes(&batch), &[]);
    let stored_hash =
        Metadata::decode(metadata[BlockMetadataIndex::CommitHash as usize].as_slice()).unwrap();
    assert_eq!(stored_hash.value, expected.to_vec());

    let value = h.ledger.state().get("any", b"k2").unwrap().unwrap();
    assert_eq!(value.value, b"v2");
    assert_eq!(value.version, Height::new(1, 1));
    let tx = h.ledger.blocks().tx_by_id(&b.txid()).unwrap().unwrap();
    assert_eq!(tx.validation(), Some(Code::Valid));

    let event = events.try_recv().unwrap();
    assert_eq!(event.number, 1);
    assert_eq!(event.txs.len(), 2);

    let c = TxSpec::new(&net().user(1), &[&org(1)], "any", writes(&[("k1", "v1b")]));
    h.commit(vec![c.build()]);
    let history = h.ledger.history_for_key("any", "k1", 10).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].value, b"v1b");
    assert_eq!(history[0].tx_id, c.txid());
    assert_eq!(history[1].value, b"v1");
}

#[test]
fn bad_creator_signatures_are_flagged() {
    let mut h = Harness::new();
    let user = net().user(1);
    let forged = TxSpec::new(&user, &[&org(1)], "any", writes(&[("k", "v")]))
        .build_with(|e| e.signature = org(2).sign(&e.payload).unwrap());
    // A creator whose organization is not in the channel (Fabric: MSP error).
    let outsider = TxSpec::new(&net().user(9), &[&org(1)], "any", writes(&[("k", "v")])).build();
    let unsigned = TxSpec::new(&user, &[&org(1)], "any", writes(&[("k", "v")]))
        .build_with(|e| e.signature.clear());
    assert_eq!(
        h.codes(vec![forged, outsider]),
        vec![Code::BadCreatorSignature, Code::BadCreatorSignature]
    );
    // An envelope without signature is refused by block verification before validation
    // (Fabric's VerifyTransactionsAreWellFormed).
    let block = h.next_block(vec![unsigned]);
    assert!(h.ledger.commit_block(block).is_err());
}

#[test]
fn structural_failures_get_fabric_codes() {
    let mut h = Harness::new();
    let user = net().user(1);
    let mut wrong_txid = TxSpec::new(&user, &[&org(1)], "any", writes(&[("k", "v")]));
    let good_nonce = wrong_txid.nonce.clone();
    let bad_payload = wrong_txid.build_with(|e| {
        e.payload = vec![0xff, 0xff];
        e.signature = net().user(1).sign(&e.payload).unwrap();
    });
    wrong_txid.nonce = vec![];
    let no_nonce = wrong_txid.build();
    wrong_txid.nonce = good_nonce;
    // The first envelope must name the channel for the block to verify at all.
    let first = TxSpec::new(&user, &[&org(1)], "any", writes(&[("k0", "v")])).build();
    assert_eq!(
        h.codes(vec![first, bad_payload, no_nonce]),
        vec![Code::Valid, Code::BadPayload, Code::BadCommonHeader]
    );
}

#[test]
fn endorsement_policies_come_from_the_definition() {
    let mut h = Harness::new();
    let user = net().user(1);
    let cases = [
        ("both", vec![org(1)], Code::EndorsementPolicyFailure),
        ("both", vec![org(1), org(2)], Code::Valid),
        // /Channel/Application/Endorsement is MAJORITY Endorsement of two orgs: both needed.
        ("majority", vec![org(2)], Code::EndorsementPolicyFailure),
        ("majority", vec![org(1), org(2)], Code::Valid),
        // The same endorser twice counts once.
        ("both", vec![org(1), org(1)], Code::EndorsementPolicyFailure),
        ("nope", vec![org(1), org(2)], Code::InvalidChaincode),
        // _lifecycle writes need /Channel/Application/LifecycleEndorsement (MAJORITY).
        ("_lifecycle", vec![org(1)], Code::EndorsementPolicyFailure),
        ("_lifecycle", vec![org(1), org(2)], Code::Valid),
    ];
    let envelopes = cases
        .iter()
        .enumerate()
        .map(|(i, (cc, endorsers, _))| {
            let refs: Vec<_> = endorsers.iter().collect();
            TxSpec::new(&user, &refs, cc, writes(&[(&format!("k{i}"), "v")])).build()
        })
        .collect();
    let expected: Vec<Code> = cases.iter().map(|c| c.2).collect();
    assert_eq!(h.codes(envelopes), expected);

    // An endorsement whose signature does not verify does not count.
    let mut spec = TxSpec::new(&user, &[&org(1), &org(2)], "both", writes(&[("x", "v")]));
    spec.endorsers[1] = org(2);
    let forged = spec.build_with(|e| {
        use fabric_protos::common::Payload;
        use fabric_protos::protos::{ChaincodeActionPayload, Transaction};
        let mut payload = Payload::decode(e.payload.as_slice()).unwrap();
        let mut tx = Transaction::decode(payload.data.as_slice()).unwrap();
        let mut cap = ChaincodeActionPayload::decode(tx.actions[0].payload.as_slice()).unwrap();
        let action = cap.action.as_mut().unwrap();
        action.endorsements[1].signature = action.endorsements[0].signature.clone();
        tx.actions[0].payload = cap.encode_to_vec();
        payload.data = tx.encode_to_vec();
        e.payload = payload.encode_to_vec();
        e.signature = net().user(1).sign(&e.payload).unwrap();
    });
    assert_eq!(h.codes(vec![forged]), vec![Code::EndorsementPolicyFailure]);
}

#[test]
fn duplicate_txids_within_block_and_ledger() {
    let mut h = Harness::new();
    let tx = TxSpec::new(&net().user(1), &[&org(1)], "any", writes(&[("k", "v")])).build();
    assert_eq!(
        h.codes(vec![tx.clone(), tx.clone()]),
        vec![Code::Valid, Code::DuplicateTxid]
    );
    assert_eq!(h.codes(vec![tx]), vec![Code::DuplicateTxid]);
}

#[test]
fn mvcc_conflicts_against_state_and_earlier_transactions() {
    let mut h = Harness::new();
    let user = net().user(1);
    let w = TxSpec::new(&user, &[&org(1)], "any", writes(&[("k", "v1")])).build();
    assert_eq!(h.codes(vec![w]), vec![Code::Valid]);

    let read_write = |version, value: &str| {
        let mut kv = writes(&[("k", value)]);
        kv.reads = vec![read("k", version)];
        TxSpec::new(&user, &[&org(1)], "any", kv).build()
    };
    // First reads the committed version and writes: valid. Second read the same version but
    // the first already wrote the key in this block. Third read a stale version.
    let codes = h.codes(vec![
        read_write(Some((1, 0)), "v2"),
        read_write(Some((1, 0)), "v3"),
        read_write(None, "v4"),
    ]);
    assert_eq!(
        codes,
        vec![Code::Valid, Code::MvccReadConflict, Code::MvccReadConflict]
    );
    assert_eq!(
        h.ledger.state().get("any", b"k").unwrap().unwrap().value,
        b"v2"
    );
}

#[test]
fn phantom_reads_are_detected() {
    let mut h = Harness::new();
    let user = net().user(1);
    h.codes(vec![
        TxSpec::new(&user, &[&org(1)], "any", writes(&[("a1", "v")])).build(),
    ]);
    let range = |reads: Vec<_>| {
        let kv = KvrwSet {
            range_queries_info: vec![RangeQueryInfo {
                start_key: "a".into(),
                end_key: "b".into(),
                itr_exhausted: true,
                reads_info: Some(range_query_info::ReadsInfo::RawReads(QueryReads {
                    kv_reads: reads,
                })),
            }],
            writes: writes(&[("other", "v")]).writes,
            ..Default::default()
        };
        TxSpec::new(&user, &[&org(1)], "any", kv).build()
    };
    let insert = TxSpec::new(&user, &[&org(1)], "any", writes(&[("a2", "v")])).build();
    let codes = h.codes(vec![
        range(vec![read("a1", Some((1, 0)))]),
        insert,
        range(vec![read("a1", Some((1, 0)))]),
    ]);
    assert_eq!(
        codes,
        vec![Code::Valid, Code::Valid, Code::PhantomReadConflict]
    );
}

fn with_validation_parameter(key: &str, rule: &str) -> KvrwSet {
    let mut kv = writes(&[(key, "v")]);
    kv.metadata_writes = vec![KvMetadataWrite {
        key: key.into(),
        entries: vec![KvMetadataEntry {
            name: "VALIDATION_PARAMETER".into(),
            value: weft_policy::from_string(rule).unwrap().encode_to_vec(),
        }],
    }];
    kv
}

// Mirrors Fabric's state-based endorsement: a key's VALIDATION_PARAMETER replaces the chaincode
// policy for writes of that key, and a parameter changed by an earlier valid transaction of the
// same block fails later writers (ValidationParameterUpdatedError).
#[test]
fn key_level_endorsement_policies() {
    let mut h = Harness::new();
    let user = net().user(1);
    let set = TxSpec::new(
        &user,
        &[&org(1)],
        "any",
        with_validation_parameter("k", "AND('Org1MSP.member','Org2MSP.member')"),
    );
    assert_eq!(h.codes(vec![set.build()]), vec![Code::Valid]);

    let one = TxSpec::new(&user, &[&org(1)], "any", writes(&[("k", "x")])).build();
    let two = TxSpec::new(&user, &[&org(1), &org(2)], "any", writes(&[("k", "y")])).build();
    let other_key = TxSpec::new(&user, &[&org(1)], "any", writes(&[("free", "z")])).build();
    assert_eq!(
        h.codes(vec![one, two, other_key]),
        vec![Code::EndorsementPolicyFailure, Code::Valid, Code::Valid]
    );

    let change = TxSpec::new(
        &user,
        &[&org(1), &org(2)],
        "any",
        with_validation_parameter("k", "OR('Org1MSP.member')"),
    )
    .build();
    let after = TxSpec::new(&user, &[&org(1), &org(2)], "any", writes(&[("k", "w")])).build();
    assert_eq!(
        h.codes(vec![change, after]),
        vec![Code::Valid, Code::EndorsementPolicyFailure]
    );
    // Next block: the new parameter (Org1 alone) is in force.
    let alone = TxSpec::new(&user, &[&org(1)], "any", writes(&[("k", "q")])).build();
    assert_eq!(h.codes(vec![alone]), vec![Code::Valid]);
}

#[test]
fn config_transaction_replaces_the_bundle() {
    let mut h = Harness::new();
    let before = h.ledger.bundle().clone();
    let mut config = before.config().clone();
    let orderer = config
        .channel_group
        .as_mut()
        .unwrap()
        .groups
        .get_mut("Orderer")
        .unwrap();
    let value = orderer.values.get_mut("BatchSize").unwrap();
    let mut batch = BatchSize::decode(value.value.as_slice()).unwrap();
    batch.max_message_count = 3;
    value.value = batch.encode_to_vec();
    let envelope = crate::fixture::config_envelope(&before, &config, net());
    assert_eq!(h.codes(vec![envelope.clone()]), vec![Code::Valid]);
    assert_eq!(h.ledger.bundle().sequence(), before.sequence() + 1);
    assert_eq!(
        h.ledger
            .bundle()
            .orderer()
            .unwrap()
            .batch_size
            .max_message_count,
        3
    );
    // The peer keeps the config envelope in state, as Fabric's configtx processor does.
    let stored = h
        .ledger
        .state()
        .get("", b"CHANNEL_CONFIG_ENV_BYTES")
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, Height::new(1, 0));

    // Replaying the same config envelope is refused: its sequence is no longer next.
    let block = h.next_block(vec![envelope]);
    assert!(h.ledger.commit_block(block).is_err());
    let tx = TxSpec::new(&net().user(1), &[&org(1)], "any", writes(&[("k", "v")])).build();
    assert_eq!(h.codes(vec![tx]), vec![Code::Valid]);
}

// Envelopes that do not decode get Fabric's codes (INVALID_OTHER_REASON when the envelope
// itself does not decode, BAD_PAYLOAD when its payload does not) and never stop the commit.
// Such blocks fail verification; this drives validation directly as a hostile orderer would.
#[test]
fn garbage_envelopes_get_codes_not_panics() {
    let mut h = Harness::new();
    let good = TxSpec::new(&net().user(1), &[&org(1)], "any", writes(&[("k", "v")])).build();
    let garbage = vec![
        good,
        vec![0xff],
        vec![0x0a, 0x03, 0xff, 0xff, 0xff],
        vec![],
        vec![0x0a, 0x00, 0x12, 0x00],
    ];
    let block = h.next_block(garbage);
    let prepared = weft_committer::prepare_block(block, h.ledger.bundle(), 2);
    let committed = h.ledger.commit_prepared(prepared).unwrap();
    let codes: Vec<Code> = committed.txs.iter().map(|t| t.code).collect();
    assert_eq!(
        codes,
        vec![
            Code::Valid,
            Code::InvalidOtherReason,
            Code::BadPayload,
            Code::BadCommonHeader,
            Code::BadCommonHeader
        ]
    );
}

fn private_write(
    collection: &str,
    key: &str,
    value: &str,
) -> (
    fabric_protos::rwset::CollectionHashedReadWriteSet,
    fabric_protos::rwset::CollectionPvtReadWriteSet,
) {
    use fabric_protos::kvrwset::{HashedRwSet, KvWrite, KvWriteHash};
    use fabric_protos::rwset::{CollectionHashedReadWriteSet, CollectionPvtReadWriteSet};
    let pvt = KvrwSet {
        writes: vec![KvWrite {
            key: key.into(),
            is_delete: false,
            value: value.as_bytes().to_vec(),
        }],
        ..Default::default()
    }
    .encode_to_vec();
    let hashed = HashedRwSet {
        hashed_writes: vec![KvWriteHash {
            key_hash: openssl::sha::sha256(key.as_bytes()).to_vec(),
            is_delete: false,
            value_hash: openssl::sha::sha256(value.as_bytes()).to_vec(),
            is_purge: false,
        }],
        ..Default::default()
    };
    (
        CollectionHashedReadWriteSet {
            collection_name: collection.into(),
            hashed_rwset: hashed.encode_to_vec(),
            pvt_rwset_hash: openssl::sha::sha256(&pvt).to_vec(),
        },
        CollectionPvtReadWriteSet {
            collection_name: collection.into(),
            rwset: pvt,
        },
    )
}

// Private writes: the hashes enter state (and the commit hash) from the block, the values from
// the private data the peer holds; collection endorsement policies apply to hashed writes
// (Fabric's CollectionValidationInfo).
#[test]
fn private_data_commits_with_collection_policies() {
    use fabric_protos::rwset::{NsPvtReadWriteSet, TxPvtReadWriteSet};
    use std::collections::BTreeMap;

    let mut h = Harness::new();
    let user = net().user(1);
    let tx = |collection: &str, endorsers: &[&crate::fixture::Signer]| {
        let (hashed, pvt) = private_write(collection, "secret-key", "secret-value");
        let mut spec = TxSpec::new(&user, endorsers, "any", KvrwSet::default());
        spec.hashed = vec![hashed];
        (spec.build(), pvt)
    };
    let (shared, shared_pvt) = tx("shared", &[&org(1)]);
    let (org2_by_org1, _) = tx("org2only", &[&org(1)]);
    let (org2_by_org2, _) = tx("org2only", &[&org(2)]);
    let (undefined, _) = tx("nosuch", &[&org(1), &org(2)]);
    let private = BTreeMap::from([(
        0u64,
        TxPvtReadWriteSet {
            data_model: 0,
            ns_pvt_rwset: vec![NsPvtReadWriteSet {
                namespace: "any".into(),
                collection_pvt_rwset: vec![shared_pvt],
            }],
        },
    )]);
    let block = h.next_block(vec![shared, org2_by_org1, org2_by_org2, undefined]);
    let prepared = weft_committer::prepare_block(block, h.ledger.bundle(), 2);
    let committed = h
        .ledger
        .commit_prepared_with_private(prepared, &private)
        .unwrap();
    let codes: Vec<Code> = committed.txs.iter().map(|t| t.code).collect();
    assert_eq!(
        codes,
        vec![
            Code::Valid,
            Code::EndorsementPolicyFailure,
            Code::Valid,
            Code::EndorsementPolicyFailure
        ]
    );
    let state = h.ledger.state();
    let value = state.get("any$$pshared", b"secret-key").unwrap().unwrap();
    assert_eq!(value.value, b"secret-value");
    let key_hash = openssl::sha::sha256(b"secret-key");
    assert!(state.get("any$$hshared", &key_hash).unwrap().is_some());
    assert!(state.get("any$$horg2only", &key_hash).unwrap().is_some());
    // No private data was supplied for the org2only transaction: only its hash is stored.
    assert!(
        state
            .get("any$$porg2only", b"secret-key")
            .unwrap()
            .is_none()
    );
}
