//! `_lifecycle` run through the endorser: Weft's real `LifecycleScc` on the endorser's stub over
//! a fake channel. What Go's endorser records for an approval of a chaincode the channel does
//! not define yet (F25 core/chaincode/lifecycle/scc.go `ApproveChaincodeDefinitionForMyOrg`,
//! lifecycle.go `ApproveChaincodeDefinitionForOrg`): the legacy `lscc/<name>` read, the
//! sequence read in `_lifecycle`, and the approval written to the org's implicit collection,
//! hashed in the public set and in clear in the private set. Also the stub's rules for
//! cross-namespace reads and `_lifecycle`'s collections.

use std::collections::BTreeMap;
use std::sync::Arc;

use fabric_protos::kvrwset::{HashedRwSet, KvRead, KvrwSet};
use fabric_protos::lifecycle as lb;
use fabric_protos::protos::{ChaincodeAction, ProposalResponse, ProposalResponsePayload};
use fabric_protos::rwset::{NsReadWriteSet, TxPvtReadWriteSet};
use prost::Message;
use weft_endorser::{IMPLICIT_COLLECTION_PREFIX, LEGACY_LSCC_NAMESPACE, LIFECYCLE_NAMESPACE};
use weft_ledger::kv::Height;
use weft_lifecycle::{ChannelView, LifecycleScc, PackageStore, PeerContext};

use crate::fakes::{Node, ProposalSpec, Script, build};

/// The `_lifecycle` peer context of an Org1 peer on a two-org channel that allows everything.
struct Org1Peer {
    store: PackageStore,
}

impl PeerContext for Org1Peer {
    fn local_msp_id(&self) -> &str {
        "Org1MSP"
    }
    fn channel(&self, channel_id: &str) -> Option<ChannelView> {
        (channel_id == crate::fakes::CHANNEL).then(|| ChannelView {
            application_orgs: Some(vec!["Org1MSP".into(), "Org2MSP".into()]),
            msp_ids: vec!["Org1MSP".into(), "Org2MSP".into(), "OrdererMSP".into()],
            lifecycle_v20: true,
            defines_endorsement_policy: true,
        })
    }
    fn package_store(&self) -> &PackageStore {
        &self.store
    }
    fn check_acl(&self, _: &str, _: &str, _: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

fn sha(data: &[u8]) -> Vec<u8> {
    weft_protoutil::sha256(data).to_vec()
}

fn namespace<'a>(action: &'a ChaincodeAction, rwset: &'a mut Vec<NsReadWriteSet>) -> KvrwSetOf<'a> {
    *rwset = fabric_protos::rwset::TxReadWriteSet::decode(action.results.as_slice())
        .unwrap()
        .ns_rwset;
    KvrwSetOf(rwset)
}

/// The namespaces of a public read-write set.
struct KvrwSetOf<'a>(&'a [NsReadWriteSet]);

impl KvrwSetOf<'_> {
    fn names(&self) -> Vec<&str> {
        self.0.iter().map(|n| n.namespace.as_str()).collect()
    }
    fn ns(&self, name: &str) -> &NsReadWriteSet {
        self.0.iter().find(|n| n.namespace == name).unwrap()
    }
    fn kv(&self, name: &str) -> KvrwSet {
        KvrwSet::decode(self.ns(name).rwset.as_slice()).unwrap()
    }
}

async fn endorse(
    node: &Node,
    chaincode: &str,
    args: Vec<Vec<u8>>,
) -> (ProposalResponse, ChaincodeAction) {
    let mut spec = ProposalSpec::invoke(chaincode, &[]);
    spec.raw_args = Some(args);
    let proposal = build(&spec, &node.client);
    let response = node.endorser.process(proposal.signed).await.unwrap();
    let payload = ProposalResponsePayload::decode(response.payload.as_slice()).unwrap_or_default();
    let action = ChaincodeAction::decode(payload.extension.as_slice()).unwrap_or_default();
    (response, action)
}

fn lifecycle_node(dir: &tempfile::TempDir) -> Node {
    let node = Node::new();
    let scc = LifecycleScc::new(Arc::new(Org1Peer {
        store: PackageStore::open(dir.path().join("packages")).unwrap(),
    }));
    node.registry
        .0
        .lock()
        .unwrap()
        .insert(LIFECYCLE_NAMESPACE.into(), Arc::new(scc));
    node
}

fn approve_args(name: &str, sequence: i64) -> Vec<Vec<u8>> {
    let args = lb::ApproveChaincodeDefinitionForMyOrgArgs {
        sequence,
        name: name.into(),
        version: "1.0".into(),
        source: Some(lb::ChaincodeSource {
            r#type: Some(lb::chaincode_source::Type::LocalPackage(
                lb::chaincode_source::Local {
                    package_id: "newcc_1.0:0123".into(),
                },
            )),
        }),
        ..Default::default()
    };
    vec![
        b"ApproveChaincodeDefinitionForMyOrg".to_vec(),
        args.encode_to_vec(),
    ]
}

// Fabric's ApproveChaincodeDefinitionForMyOrg for a name neither lifecycle defines: lscc/<name>
// is read (absent: no version), `namespaces/fields/<name>/Sequence` is read in `_lifecycle`,
// and the approval lands in `_implicit_org_Org1MSP` under `<name>#<sequence>`.
#[tokio::test]
async fn lifecycle_approve_records_lscc_read_and_hashed_approval() {
    let dir = tempfile::tempdir().unwrap();
    let node = lifecycle_node(&dir);
    let (response, action) = endorse(&node, LIFECYCLE_NAMESPACE, approve_args("newcc", 1)).await;
    let status = response.response.clone().unwrap();
    assert_eq!(status.status, 200, "{}", status.message);

    let mut namespaces = Vec::new();
    let set = namespace(&action, &mut namespaces);
    assert_eq!(set.names(), [LIFECYCLE_NAMESPACE, LEGACY_LSCC_NAMESPACE]);
    let lscc = set.kv(LEGACY_LSCC_NAMESPACE);
    assert_eq!(
        lscc.reads,
        [KvRead {
            key: "newcc".into(),
            version: None
        }]
    );
    assert!(
        lscc.writes.is_empty()
            && set
                .ns(LEGACY_LSCC_NAMESPACE)
                .collection_hashed_rwset
                .is_empty()
    );
    let lifecycle = set.kv(LIFECYCLE_NAMESPACE);
    assert!(
        lifecycle
            .reads
            .iter()
            .any(|r| r.key == "namespaces/fields/newcc/Sequence" && r.version.is_none()),
        "{:?}",
        lifecycle.reads
    );
    assert!(
        lifecycle.writes.is_empty(),
        "approvals write no public state"
    );

    let org1 = format!("{IMPLICIT_COLLECTION_PREFIX}Org1MSP");
    let collections = &set.ns(LIFECYCLE_NAMESPACE).collection_hashed_rwset;
    assert_eq!(collections.len(), 1);
    assert_eq!(collections[0].collection_name, org1);
    let hashed = HashedRwSet::decode(collections[0].hashed_rwset.as_slice()).unwrap();
    // The approval checks for an earlier approval of the same sequence first: a hashed read.
    assert!(
        hashed
            .hashed_reads
            .iter()
            .any(|r| r.key_hash == sha(b"namespaces/metadata/newcc#1") && r.version.is_none())
    );

    // Every private write shows up hashed; the private set is what the channel distributed.
    let distributed = node.channel.distributed.lock().unwrap();
    assert_eq!(distributed.len(), 1);
    let private: &TxPvtReadWriteSet = &distributed[0].1;
    assert_eq!(private.ns_pvt_rwset.len(), 1);
    assert_eq!(private.ns_pvt_rwset[0].namespace, LIFECYCLE_NAMESPACE);
    let coll = &private.ns_pvt_rwset[0].collection_pvt_rwset[0];
    assert_eq!(coll.collection_name, org1);
    assert_eq!(collections[0].pvt_rwset_hash, sha(&coll.rwset));
    let clear = KvrwSet::decode(coll.rwset.as_slice()).unwrap();
    let written: BTreeMap<Vec<u8>, Vec<u8>> = clear
        .writes
        .iter()
        .map(|w| (sha(w.key.as_bytes()), sha(&w.value)))
        .collect();
    let hashed_writes: BTreeMap<Vec<u8>, Vec<u8>> = hashed
        .hashed_writes
        .iter()
        .map(|w| (w.key_hash.clone(), w.value_hash.clone()))
        .collect();
    assert_eq!(written, hashed_writes);
    let keys: Vec<&str> = clear.writes.iter().map(|w| w.key.as_str()).collect();
    for key in [
        "namespaces/metadata/newcc#1",
        "namespaces/fields/newcc#1/EndorsementInfo",
        "chaincode-sources/metadata/newcc#1",
        "chaincode-sources/fields/newcc#1/PackageID",
    ] {
        assert!(keys.contains(&key), "{key} not written: {keys:?}");
    }

    // Go's endorser leaves system namespaces, `lscc` included, out of the interest.
    assert_eq!(response.interest.unwrap_or_default().chaincodes, []);
}

// A chaincode still defined only by the legacy lifecycle: the lscc read carries its version.
#[tokio::test]
async fn lifecycle_approve_reads_legacy_definition_at_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let node = lifecycle_node(&dir);
    node.channel.put(
        LEGACY_LSCC_NAMESPACE,
        "newcc",
        b"not-a-definition",
        Height::new(3, 2),
    );
    let (_, action) = endorse(&node, LIFECYCLE_NAMESPACE, approve_args("newcc", 1)).await;
    let mut namespaces = Vec::new();
    let set = namespace(&action, &mut namespaces);
    let reads = set.kv(LEGACY_LSCC_NAMESPACE).reads;
    assert_eq!(reads[0].key, "newcc");
    assert_eq!(
        reads[0].version,
        Some(fabric_protos::kvrwset::Version {
            block_num: 3,
            tx_num: 2
        })
    );
}

// Go gives only system chaincodes a way into other namespaces; a user chaincode asking is
// refused and nothing of `lscc` is recorded.
#[tokio::test]
async fn user_chaincode_cannot_read_another_namespace() {
    let node = Node::new();
    node.channel
        .put(LEGACY_LSCC_NAMESPACE, "mycc", b"legacy", Height::new(3, 2));
    let (response, _) = endorse(&node, "mycc", vec![b"nsget:lscc:mycc".to_vec()]).await;
    let status = response.response.unwrap();
    assert_eq!(status.status, 500);
    assert!(
        status.message.contains("only system chaincodes"),
        "{}",
        status.message
    );
}

// `_lifecycle` has implicit org collections only; the channel is never asked (the fake channel
// defines no `_lifecycle` collection, so asking it would fail), and other names are refused.
#[tokio::test]
async fn lifecycle_collections_are_the_implicit_ones() {
    let node = Node::new();
    node.registry
        .0
        .lock()
        .unwrap()
        .insert(LIFECYCLE_NAMESPACE.into(), Arc::new(Script));
    let ok = vec![
        b"pput:_implicit_org_Org2MSP:k=v".to_vec(),
        b"phash:_implicit_org_Org1MSP:k".to_vec(),
    ];
    let (response, _) = endorse(&node, LIFECYCLE_NAMESPACE, ok).await;
    let status = response.response.unwrap();
    assert_eq!(status.status, 200, "{}", status.message);
    for refused in ["pget:coll:k", "pget:_implicit_org_:k"] {
        let (response, _) = endorse(
            &node,
            LIFECYCLE_NAMESPACE,
            vec![refused.as_bytes().to_vec()],
        )
        .await;
        let status = response.response.unwrap();
        assert_eq!(status.status, 500, "{refused}");
        assert!(status.message.contains("not defined"), "{}", status.message);
    }
}
