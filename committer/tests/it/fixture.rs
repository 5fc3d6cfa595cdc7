//! A channel generated with Weft's cryptogen and configtxgen (orderer org and two peer orgs),
//! identities that sign with real keys, and builders for endorser transactions and
//! orderer-signed blocks.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use fabric_protos::common::{
    Block, BlockData, BlockMetadataIndex, ChannelHeader, Config, ConfigSignature,
    ConfigUpdateEnvelope, Envelope, Header, HeaderType, Metadata, MetadataSignature, Payload,
    SignatureHeader,
};
use fabric_protos::kvrwset::KvrwSet;
use fabric_protos::protos::{
    ApplicationPolicy, ChaincodeAction, ChaincodeActionPayload, ChaincodeEndorsedAction,
    ChaincodeHeaderExtension, ChaincodeId, Endorsement, ProposalResponsePayload, Transaction,
    TransactionAction, application_policy,
};
use fabric_protos::rwset::{CollectionHashedReadWriteSet, NsReadWriteSet, TxReadWriteSet};
use prost::Message;
use weft_channelconfig::{BundleSources, ChannelBundle, compute_update};
use weft_committer::{
    CollectionPolicy, DefinitionSource, NamespaceDefinition, ValidationInfo,
    lifecycle_validation_info,
};
use weft_ledger::kv::VersionedStore;
use weft_msp::{Identity, SigningIdentity, X509Msp, X509SigningIdentity};
use weft_protoutil::{
    block_data_hash, block_header_bytes, block_header_hash, compute_txid, new_block,
};

pub const CHANNEL: &str = "weftch";

const CRYPTO_CONFIG: &str = "
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    Template: { Count: 1 }
    Users: { Count: 1 }
  - Name: Org2
    Domain: org2.example.com
    EnableNodeOUs: true
    Template: { Count: 1 }
    Users: { Count: 1 }
  - Name: Org9
    Domain: org9.example.com
    EnableNodeOUs: true
    Template: { Count: 1 }
    Users: { Count: 1 }
";

fn configtx_yaml(crypto: &Path) -> String {
    let c = crypto.display();
    let tls =
        format!("{c}/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt");
    let meta = |indent: &str| {
        format!(
            "\n{indent}Readers: {{ Type: ImplicitMeta, Rule: \"ANY Readers\" }}\n{indent}Writers: {{ Type: ImplicitMeta, Rule: \"ANY Writers\" }}\n{indent}Admins: {{ Type: ImplicitMeta, Rule: \"MAJORITY Admins\" }}"
        )
    };
    let org = |name: &str, id: &str, dir: &str, extra: &str| {
        format!(
            "  - &{name}
    Name: {name}
    ID: {id}
    MSPDir: {c}/{dir}
    Policies:
      Readers: {{ Type: Signature, Rule: \"OR('{id}.member')\" }}
      Writers: {{ Type: Signature, Rule: \"OR('{id}.member')\" }}
      Admins: {{ Type: Signature, Rule: \"OR('{id}.admin')\" }}
      Endorsement: {{ Type: Signature, Rule: \"OR('{id}.member')\" }}
{extra}"
        )
    };
    let orgs = org(
        "OrdererOrg",
        "OrdererMSP",
        "ordererOrganizations/example.com/msp",
        "    OrdererEndpoints: [ \"orderer.example.com:7050\" ]\n",
    ) + &org(
        "Org1",
        "Org1MSP",
        "peerOrganizations/org1.example.com/msp",
        "",
    ) + &org(
        "Org2",
        "Org2MSP",
        "peerOrganizations/org2.example.com/msp",
        "",
    );
    format!(
        "Organizations:
{orgs}
Profiles:
  Weft:
    Capabilities: {{ V2_0: true }}
    Policies:{top}
    Orderer:
      OrdererType: etcdraft
      BatchTimeout: 2s
      BatchSize: {{ MaxMessageCount: 10, AbsoluteMaxBytes: 64 KB, PreferredMaxBytes: 16 KB }}
      EtcdRaft:
        Consenters:
          - {{ Host: orderer.example.com, Port: 7050, ClientTLSCert: {tls}, ServerTLSCert: {tls} }}
      Organizations: [ *OrdererOrg ]
      Capabilities: {{ V2_0: true }}
      Policies:{section}
        BlockValidation: {{ Type: ImplicitMeta, Rule: \"ANY Writers\" }}
    Application:
      Organizations: [ *Org1, *Org2 ]
      Capabilities: {{ V2_5: true }}
      Policies:{section}
        Endorsement: {{ Type: ImplicitMeta, Rule: \"MAJORITY Endorsement\" }}
        LifecycleEndorsement: {{ Type: ImplicitMeta, Rule: \"MAJORITY Endorsement\" }}
",
        top = meta("      "),
        section = meta("        "),
    )
}

pub struct Network {
    pub dir: tempfile::TempDir,
    pub genesis: Block,
    pub bundle: ChannelBundle,
}

pub type Signer = Arc<X509SigningIdentity>;

impl Network {
    fn generate() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let crypto = dir.path().join("crypto");
        let config = weft_tools::cryptogen::spec::parse(CRYPTO_CONFIG).unwrap();
        weft_tools::cryptogen::generate::generate(&config, &crypto, &mut |_| {}).unwrap();
        let configtx = dir.path().join("configtx.yaml");
        std::fs::write(&configtx, configtx_yaml(&crypto)).unwrap();
        let genesis =
            weft_tools::configtxgen::genesis_block_for_profile(&configtx, "Weft", CHANNEL).unwrap();
        let bundle = ChannelBundle::from_config_block(&genesis, BundleSources::weft()).unwrap();
        Self {
            dir,
            genesis,
            bundle,
        }
    }

    /// The channel shared by all tests (generated once per test binary).
    pub fn shared() -> &'static Network {
        static NETWORK: OnceLock<Network> = OnceLock::new();
        NETWORK.get_or_init(Self::generate)
    }

    fn load(&self, rel: &str, msp_id: &str) -> Signer {
        X509Msp::load_local(&self.dir.path().join("crypto").join(rel), msp_id)
            .unwrap()
            .signing_identity()
            .unwrap()
    }

    pub fn orderer(&self) -> Signer {
        self.load(
            "ordererOrganizations/example.com/orderers/orderer.example.com/msp",
            "OrdererMSP",
        )
    }

    pub fn orderer_admin(&self) -> Signer {
        self.load(
            "ordererOrganizations/example.com/users/Admin@example.com/msp",
            "OrdererMSP",
        )
    }

    pub fn user(&self, org: u8) -> Signer {
        let msp = if org == 9 {
            "Org9MSP".to_string()
        } else {
            format!("Org{org}MSP")
        };
        self.load(
            &format!("peerOrganizations/org{org}.example.com/users/User1@org{org}.example.com/msp"),
            &msp,
        )
    }

    pub fn peer(&self, org: u8) -> Signer {
        self.load(
            &format!("peerOrganizations/org{org}.example.com/peers/peer0.org{org}.example.com/msp"),
            &format!("Org{org}MSP"),
        )
    }
}

/// The chaincode definitions of the tests: `basic` endorsed by any one org
/// (`/Channel/Application/Endorsement` is MAJORITY of two orgs, so both), `both` needing
/// Org1 and Org2 by signature policy, `any` needing a member of either org.
pub struct TestDefinitions {
    pub namespaces: BTreeMap<String, Vec<u8>>,
}

pub fn signature_policy_bytes(rule: &str) -> Vec<u8> {
    ApplicationPolicy {
        r#type: Some(application_policy::Type::SignaturePolicy(
            weft_policy::from_string(rule).unwrap(),
        )),
    }
    .encode_to_vec()
}

impl Default for TestDefinitions {
    fn default() -> Self {
        let mut namespaces = BTreeMap::new();
        namespaces.insert(
            "majority".to_string(),
            ApplicationPolicy {
                r#type: Some(application_policy::Type::ChannelConfigPolicyReference(
                    "/Channel/Application/Endorsement".into(),
                )),
            }
            .encode_to_vec(),
        );
        namespaces.insert(
            "both".to_string(),
            signature_policy_bytes("AND('Org1MSP.member','Org2MSP.member')"),
        );
        namespaces.insert(
            "any".to_string(),
            signature_policy_bytes("OR('Org1MSP.member','Org2MSP.member')"),
        );
        Self { namespaces }
    }
}

impl DefinitionSource for TestDefinitions {
    fn namespace(
        &self,
        namespace: &str,
        _state: &dyn VersionedStore,
        bundle: &ChannelBundle,
    ) -> Result<NamespaceDefinition, String> {
        if namespace == "_lifecycle" {
            return Ok(NamespaceDefinition::Defined(lifecycle_validation_info(
                bundle,
            )));
        }
        Ok(match self.namespaces.get(namespace) {
            Some(parameter) => NamespaceDefinition::Defined(ValidationInfo {
                plugin: "vscc".into(),
                parameter: parameter.clone(),
            }),
            None => NamespaceDefinition::Undefined,
        })
    }

    fn collection(
        &self,
        namespace: &str,
        collection: &str,
        _state: &dyn VersionedStore,
        _bundle: &ChannelBundle,
    ) -> Result<CollectionPolicy, String> {
        // `any` has two collections: `shared` under the chaincode's policy, `org2only` needing
        // an Org2 member.
        Ok(match (namespace, collection) {
            ("any", "shared") => CollectionPolicy::ChaincodePolicy,
            ("any", "org2only") => {
                CollectionPolicy::Policy(signature_policy_bytes("OR('Org2MSP.member')"))
            }
            _ => CollectionPolicy::Undefined,
        })
    }
}

/// An endorser transaction under construction.
pub struct TxSpec {
    pub creator: Signer,
    pub endorsers: Vec<Signer>,
    pub chaincode: String,
    pub rwset: Vec<(String, KvrwSet)>,
    /// Hashed collection write sets of the first namespace.
    pub hashed: Vec<CollectionHashedReadWriteSet>,
    pub nonce: Vec<u8>,
}

impl TxSpec {
    pub fn new(creator: &Signer, endorsers: &[&Signer], chaincode: &str, kv: KvrwSet) -> Self {
        static NONCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NONCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            creator: creator.clone(),
            endorsers: endorsers.iter().map(|s| (*s).clone()).collect(),
            chaincode: chaincode.into(),
            rwset: vec![(chaincode.into(), kv)],
            hashed: vec![],
            nonce: n.to_be_bytes().repeat(3),
        }
    }

    pub fn txid(&self) -> String {
        compute_txid(&self.nonce, &self.creator.serialize())
    }

    /// The signed envelope bytes.
    pub fn build(&self) -> Vec<u8> {
        self.build_with(|_| {})
    }

    /// The envelope bytes, after `edit` changed the envelope (to forge it).
    pub fn build_with(&self, edit: impl FnOnce(&mut Envelope)) -> Vec<u8> {
        let creator = self.creator.serialize();
        let txid = self.txid();
        let chdr = ChannelHeader {
            r#type: HeaderType::EndorserTransaction as i32,
            channel_id: CHANNEL.into(),
            tx_id: txid,
            timestamp: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            extension: ChaincodeHeaderExtension {
                chaincode_id: Some(ChaincodeId {
                    name: self.chaincode.clone(),
                    ..Default::default()
                }),
            }
            .encode_to_vec(),
            ..Default::default()
        }
        .encode_to_vec();
        let shdr = SignatureHeader {
            creator,
            nonce: self.nonce.clone(),
        }
        .encode_to_vec();
        let proposal_payload = b"proposal-input".to_vec();
        let mut hasher = openssl::sha::Sha256::new();
        hasher.update(&chdr);
        hasher.update(&shdr);
        hasher.update(&proposal_payload);
        let results = TxReadWriteSet {
            data_model: 0,
            ns_rwset: self
                .rwset
                .iter()
                .enumerate()
                .map(|(i, (ns, kv))| NsReadWriteSet {
                    namespace: ns.clone(),
                    rwset: kv.encode_to_vec(),
                    collection_hashed_rwset: if i == 0 { self.hashed.clone() } else { vec![] },
                })
                .collect(),
        }
        .encode_to_vec();
        let prp = ProposalResponsePayload {
            proposal_hash: hasher.finish().to_vec(),
            extension: ChaincodeAction {
                results,
                events: vec![],
                response: None,
                chaincode_id: Some(ChaincodeId {
                    name: self.chaincode.clone(),
                    version: "1.0".into(),
                    path: String::new(),
                }),
            }
            .encode_to_vec(),
        }
        .encode_to_vec();
        let endorsements = self
            .endorsers
            .iter()
            .map(|e| {
                let endorser = e.serialize();
                let mut data = prp.clone();
                data.extend_from_slice(&endorser);
                Endorsement {
                    signature: e.sign(&data).unwrap(),
                    endorser,
                }
            })
            .collect();
        let tx = Transaction {
            actions: vec![TransactionAction {
                header: shdr.clone(),
                payload: ChaincodeActionPayload {
                    chaincode_proposal_payload: proposal_payload,
                    action: Some(ChaincodeEndorsedAction {
                        proposal_response_payload: prp,
                        endorsements,
                    }),
                }
                .encode_to_vec(),
            }],
        };
        let payload = Payload {
            header: Some(Header {
                channel_header: chdr,
                signature_header: shdr,
            }),
            data: tx.encode_to_vec(),
        }
        .encode_to_vec();
        let mut envelope = Envelope {
            signature: self.creator.sign(&payload).unwrap(),
            payload,
        };
        edit(&mut envelope);
        envelope.encode_to_vec()
    }
}

/// Block `number` chained onto `previous`, holding `envelopes`, signed by `signer` in the
/// SIGNATURES metadata as an orderer signs.
pub fn signed_block(
    number: u64,
    previous: &[u8],
    envelopes: Vec<Vec<u8>>,
    signer: &Signer,
) -> Block {
    let mut block = new_block(number, previous.to_vec());
    let data = BlockData { data: envelopes };
    block.header.as_mut().unwrap().data_hash = block_data_hash(&data).to_vec();
    block.data = Some(data);
    sign_block(&mut block, signer);
    block
}

/// (Re)writes the SIGNATURES metadata of `block` with one signature of `signer`.
pub fn sign_block(block: &mut Block, signer: &Signer) {
    let value = b"orderer-block-metadata".to_vec();
    let shdr = SignatureHeader {
        creator: signer.serialize(),
        nonce: vec![7; 24],
    }
    .encode_to_vec();
    let mut signed = value.clone();
    signed.extend_from_slice(&shdr);
    signed.extend_from_slice(&block_header_bytes(block.header.as_ref().unwrap()));
    let metadata = Metadata {
        value,
        signatures: vec![MetadataSignature {
            signature_header: shdr,
            signature: signer.sign(&signed).unwrap(),
            identifier_header: vec![],
        }],
    };
    let slots = &mut block.metadata.as_mut().unwrap().metadata;
    slots.resize(5, Vec::new());
    slots[BlockMetadataIndex::Signatures as usize] = metadata.encode_to_vec();
}

pub fn header_hash(block: &Block) -> Vec<u8> {
    block_header_hash(block.header.as_ref().unwrap()).to_vec()
}

/// A CONFIG envelope moving the channel from `bundle`'s config to `updated`, authorized by the
/// orderer admin and wrapped and signed by the orderer, as an orderer puts it in a config block.
pub fn config_envelope(bundle: &ChannelBundle, updated: &Config, net: &Network) -> Vec<u8> {
    let update = compute_update(CHANNEL, bundle.config(), updated).unwrap();
    let admin = net.orderer_admin();
    let config_update = update.encode_to_vec();
    let header = SignatureHeader {
        creator: admin.serialize(),
        nonce: vec![3; 24],
    }
    .encode_to_vec();
    let mut signed = header.clone();
    signed.extend_from_slice(&config_update);
    let cue = ConfigUpdateEnvelope {
        config_update,
        signatures: vec![ConfigSignature {
            signature: admin.sign(&signed).unwrap(),
            signature_header: header,
        }],
    };
    let update_envelope = wrap(HeaderType::ConfigUpdate, cue.encode_to_vec(), &admin);
    let next = bundle.propose_config_update(&update_envelope).unwrap();
    let orderer = net.orderer();
    wrap(HeaderType::Config, next.encode_to_vec(), &orderer).encode_to_vec()
}

fn wrap(kind: HeaderType, data: Vec<u8>, signer: &Signer) -> Envelope {
    let payload = Payload {
        header: Some(Header {
            channel_header: ChannelHeader {
                r#type: kind as i32,
                channel_id: CHANNEL.into(),
                ..Default::default()
            }
            .encode_to_vec(),
            signature_header: SignatureHeader {
                creator: signer.serialize(),
                nonce: vec![5; 24],
            }
            .encode_to_vec(),
        }),
        data,
    }
    .encode_to_vec();
    Envelope {
        signature: signer.sign(&payload).unwrap(),
        payload,
    }
}
