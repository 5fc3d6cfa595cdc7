//! Tier "upstream": MSP folders written by Fabric v2.5.9's own `cryptogen` load and classify
//! as in Fabric. Needs the upstream binaries; fails (does not skip) without them.

use std::path::{Path, PathBuf};
use std::process::Command;

use fabric_protos::common::msp_principal::Classification;
use fabric_protos::common::msp_role::MspRoleType;
use fabric_protos::common::{MspPrincipal, MspRole};
use prost::Message;
use weft_msp::{
    Identity, IdentityDeserializer, MspManager, SigningIdentity, X509Msp, msp_config_from_dir,
};

const CRYPTO_CONFIG: &str = "\
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
    Template:
      Count: 1
    Users:
      Count: 1
";

fn cryptogen() -> PathBuf {
    let bin =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/upstream/fabric-2.5.9/bin/cryptogen");
    assert!(
        bin.exists(),
        "upstream cryptogen not found at {}: run interop-tests/upstream/install.sh first",
        bin.display()
    );
    bin
}

fn generate() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("crypto-config.yaml");
    std::fs::write(&config, CRYPTO_CONFIG).unwrap();
    let status = Command::new(cryptogen())
        .arg("generate")
        .arg(format!("--config={}", config.display()))
        .arg(format!("--output={}", dir.path().join("out").display()))
        .status()
        .unwrap();
    assert!(status.success(), "cryptogen failed");
    dir
}

fn role(msp: &str, role: MspRoleType) -> MspPrincipal {
    MspPrincipal {
        principal_classification: Classification::Role as i32,
        principal: MspRole {
            msp_identifier: msp.into(),
            role: role as i32,
        }
        .encode_to_vec(),
    }
}

const ROLES: [MspRoleType; 4] = [
    MspRoleType::Client,
    MspRoleType::Peer,
    MspRoleType::Admin,
    MspRoleType::Orderer,
];

#[test]
fn cryptogen_identities_validate_with_their_node_roles() {
    let dir = generate();
    let out = dir.path().join("out");
    let org1 = out.join("peerOrganizations/org1.example.com");
    let ord = out.join("ordererOrganizations/example.com");
    // Channel view: the org MSPs as configtxgen would embed them.
    let mgr = MspManager::from_msp_configs(&[
        msp_config_from_dir(&org1.join("msp"), "Org1MSP").unwrap(),
        msp_config_from_dir(&ord.join("msp"), "OrdererMSP").unwrap(),
    ])
    .unwrap();
    let cases = [
        (
            org1.join("peers/peer0.org1.example.com/msp"),
            "Org1MSP",
            MspRoleType::Peer,
        ),
        (
            org1.join("users/Admin@org1.example.com/msp"),
            "Org1MSP",
            MspRoleType::Admin,
        ),
        (
            org1.join("users/User1@org1.example.com/msp"),
            "Org1MSP",
            MspRoleType::Client,
        ),
        (
            ord.join("orderers/orderer.example.com/msp"),
            "OrdererMSP",
            MspRoleType::Orderer,
        ),
    ];
    for (path, msp_id, expected) in cases {
        let local = X509Msp::load_local(&path, msp_id).unwrap();
        let signer = local.signing_identity().unwrap();
        let id = mgr.deserialize_identity(&signer.serialize()).unwrap();
        id.validate().unwrap();
        id.satisfies_principal(&role(msp_id, MspRoleType::Member))
            .unwrap();
        for r in ROLES {
            let got = id.satisfies_principal(&role(msp_id, r));
            assert_eq!(
                got.is_ok(),
                r == expected,
                "{} as {r:?}: {got:?}",
                path.display()
            );
        }
        // Signatures by our signing identity verify through the channel view and openssl.
        let sig = signer.sign(b"proposal bytes").unwrap();
        id.verify(b"proposal bytes", &sig).unwrap();
        let cert_pem = std::fs::read_dir(path.join("signcerts"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let cert = openssl::x509::X509::from_pem(&std::fs::read(cert_pem).unwrap()).unwrap();
        let digest = openssl::sha::sha256(b"proposal bytes");
        let ecsig = openssl::ecdsa::EcdsaSig::from_der(&sig).unwrap();
        assert!(
            ecsig
                .verify(&digest, &cert.public_key().unwrap().ec_key().unwrap())
                .unwrap()
        );
    }
    // Org1's user claimed under the orderer org does not chain to that org's CA.
    let user =
        X509Msp::load_local(&org1.join("users/User1@org1.example.com/msp"), "Org1MSP").unwrap();
    let claimed = fabric_protos::msp::SerializedIdentity {
        mspid: "OrdererMSP".into(),
        id_bytes: user
            .signing_identity()
            .unwrap()
            .public_identity()
            .certificate_der()
            .to_vec(),
    };
    assert!(mgr.deserialize_identity(&claimed.encode_to_vec()).is_err());
    let pem = fabric_protos::msp::SerializedIdentity::decode(
        user.signing_identity().unwrap().serialize().as_slice(),
    )
    .unwrap()
    .id_bytes;
    let claimed = fabric_protos::msp::SerializedIdentity {
        mspid: "OrdererMSP".into(),
        id_bytes: pem,
    };
    let err = mgr
        .deserialize_identity(&claimed.encode_to_vec())
        .unwrap_err();
    assert!(err.to_string().contains("unknown authority"), "{err}");
}

#[test]
fn cryptogen_folder_config_carries_node_ous_and_no_signer() {
    let dir = generate();
    let org1 = dir
        .path()
        .join("out/peerOrganizations/org1.example.com/msp");
    let conf = weft_msp::fabric_msp_config_from_dir(&org1, "Org1MSP").unwrap();
    let node_ous = conf.fabric_node_ous.as_ref().unwrap();
    assert!(node_ous.enable);
    assert_eq!(
        node_ous
            .peer_ou_identifier
            .as_ref()
            .unwrap()
            .organizational_unit_identifier,
        "peer"
    );
    assert!(
        !node_ous
            .orderer_ou_identifier
            .as_ref()
            .unwrap()
            .certificate
            .is_empty()
    );
    assert!(conf.signing_identity.is_none());
    assert_eq!(conf.root_certs.len(), 1);
    assert_eq!(conf.tls_root_certs.len(), 1);
}
