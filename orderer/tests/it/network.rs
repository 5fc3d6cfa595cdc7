//! One upstream-generated channel shared by the tests: crypto material, genesis block, bundle,
//! and helpers to sign envelopes with its identities.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use fabric_protos::common::{
    Block, ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader,
};
use fabric_protos::msp::SerializedIdentity;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::EcKey;
use openssl::ecdsa::EcdsaSig;
use openssl::pkey::{PKey, Private};
use prost::Message;
use weft_channelconfig::{BundleSources, ChannelBundle};
use weft_msp::{SigningIdentity, X509Msp, X509SigningIdentity};

pub const CHANNEL: &str = "weftch";

pub fn bin(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.cache/upstream/fabric-2.5.9/bin")
        .join(name);
    assert!(
        path.exists(),
        "upstream binary {} is missing; install the upstream toolchain first",
        path.display()
    );
    path
}

pub fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

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
      Organizations: [ *Org1 ]
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

impl Network {
    fn generate() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let crypto = dir.path().join("crypto");
        std::fs::write(dir.path().join("crypto-config.yaml"), CRYPTO_CONFIG).unwrap();
        run(Command::new(bin("cryptogen"))
            .arg("generate")
            .arg("--config")
            .arg(dir.path().join("crypto-config.yaml"))
            .arg("--output")
            .arg(&crypto));
        std::fs::write(dir.path().join("configtx.yaml"), configtx_yaml(&crypto)).unwrap();
        let block_path = dir.path().join("genesis.block");
        run(Command::new(bin("configtxgen"))
            .arg("-configPath")
            .arg(dir.path())
            .args(["-profile", "Weft", "-channelID", CHANNEL, "-outputBlock"])
            .arg(&block_path));
        let genesis = Block::decode(std::fs::read(block_path).unwrap().as_slice()).unwrap();
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

    fn load(&self, rel: &str, msp_id: &str) -> Arc<X509SigningIdentity> {
        X509Msp::load_local(&self.dir.path().join("crypto").join(rel), msp_id)
            .unwrap()
            .signing_identity()
            .unwrap()
    }

    /// The orderer node's own identity (signs blocks and config envelopes).
    pub fn orderer(&self) -> Arc<X509SigningIdentity> {
        self.load(
            "ordererOrganizations/example.com/orderers/orderer.example.com/msp",
            "OrdererMSP",
        )
    }

    pub fn orderer_admin(&self) -> Arc<X509SigningIdentity> {
        self.load(
            "ordererOrganizations/example.com/users/Admin@example.com/msp",
            "OrdererMSP",
        )
    }

    pub fn org1_user(&self) -> Arc<X509SigningIdentity> {
        self.load(
            "peerOrganizations/org1.example.com/users/User1@org1.example.com/msp",
            "Org1MSP",
        )
    }

    /// A user of Org9, an organization that is not a member of the channel.
    pub fn outsider(&self) -> Arc<X509SigningIdentity> {
        self.load(
            "peerOrganizations/org9.example.com/users/User1@org9.example.com/msp",
            "Org9MSP",
        )
    }

    /// An Org1 client certificate that expired an hour ago, issued by Org1's cryptogen CA,
    /// with its key.
    pub fn expired_org1_client(&self) -> (Vec<u8>, PKey<Private>) {
        use openssl::asn1::Asn1Time;
        use openssl::hash::MessageDigest;
        use openssl::x509::{X509, X509NameBuilder};
        let ca_dir = self
            .dir
            .path()
            .join("crypto/peerOrganizations/org1.example.com/ca");
        let mut ca_cert = None;
        let mut ca_key = None;
        for entry in std::fs::read_dir(&ca_dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            if path.to_string_lossy().ends_with("_sk") {
                ca_key = Some(PKey::private_key_from_pem(&bytes).unwrap());
            } else {
                ca_cert = Some(X509::from_pem(&bytes).unwrap());
            }
        }
        let (ca_cert, ca_key) = (ca_cert.unwrap(), ca_key.unwrap());
        let key =
            PKey::from_ec_key(EcKey::generate(ca_key.ec_key().unwrap().group()).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("OU", "client").unwrap();
        name.append_entry_by_text("CN", "Expired@org1.example.com")
            .unwrap();
        let name = name.build();
        let mut builder = X509::builder().unwrap();
        builder.set_version(2).unwrap();
        let serial = BigNum::from_u32(4242).unwrap().to_asn1_integer().unwrap();
        builder.set_serial_number(&serial).unwrap();
        builder.set_subject_name(&name).unwrap();
        builder.set_issuer_name(ca_cert.subject_name()).unwrap();
        builder.set_pubkey(&key).unwrap();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        builder
            .set_not_before(&Asn1Time::from_unix(now - 7200).unwrap())
            .unwrap();
        builder
            .set_not_after(&Asn1Time::from_unix(now - 3600).unwrap())
            .unwrap();
        builder.sign(&ca_key, MessageDigest::sha256()).unwrap();
        (builder.build().to_pem().unwrap(), key)
    }
}

/// Signs like a Fabric client: ECDSA over SHA-256, DER, low-S.
pub fn sign_low_s(key: &PKey<Private>, message: &[u8]) -> Vec<u8> {
    let ec = key.ec_key().unwrap();
    let digest = openssl::sha::sha256(message);
    let sig = EcdsaSig::sign(&digest, &ec).unwrap();
    let mut ctx = BigNumContext::new().unwrap();
    let mut order = BigNum::new().unwrap();
    ec.group().order(&mut order, &mut ctx).unwrap();
    let mut half = BigNum::new().unwrap();
    half.rshift1(&order).unwrap();
    let s = if sig.s() > &half {
        let mut low = BigNum::new().unwrap();
        low.checked_sub(&order, sig.s()).unwrap();
        low
    } else {
        sig.s().to_owned().unwrap()
    };
    EcdsaSig::from_private_components(sig.r().to_owned().unwrap(), s)
        .unwrap()
        .to_der()
        .unwrap()
}

pub fn now_timestamp() -> prost_types::Timestamp {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    prost_types::Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

/// An envelope of `header_type` on `channel` with `data`, signed by `creator` with `sign`.
pub fn envelope_with(
    header_type: HeaderType,
    channel: &str,
    data: Vec<u8>,
    creator: Vec<u8>,
    sign: impl Fn(&[u8]) -> Vec<u8>,
    tls_cert_hash: Vec<u8>,
) -> Envelope {
    let channel_header = ChannelHeader {
        r#type: header_type as i32,
        channel_id: channel.into(),
        timestamp: Some(now_timestamp()),
        tx_id: format!("tx-{}", data.len()),
        tls_cert_hash,
        ..Default::default()
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec(),
            signature_header: SignatureHeader {
                creator,
                nonce: vec![5; 24],
            }
            .encode_to_vec(),
        }),
        data,
    }
    .encode_to_vec();
    let signature = sign(&payload);
    Envelope { payload, signature }
}

/// An envelope signed by a cryptogen identity.
pub fn signed_envelope(
    signer: &dyn SigningIdentity,
    header_type: HeaderType,
    channel: &str,
    data: Vec<u8>,
) -> Envelope {
    envelope_with(
        header_type,
        channel,
        data,
        signer.serialize(),
        |m| signer.sign(m).unwrap(),
        Vec::new(),
    )
}

/// An envelope signed by the expired Org1 client.
pub fn expired_envelope(network: &Network, data: Vec<u8>) -> Envelope {
    let (pem, key) = network.expired_org1_client();
    let creator = SerializedIdentity {
        mspid: "Org1MSP".into(),
        id_bytes: pem,
    }
    .encode_to_vec();
    envelope_with(
        HeaderType::EndorserTransaction,
        CHANNEL,
        data,
        creator,
        |m| sign_low_s(&key, m),
        Vec::new(),
    )
}
