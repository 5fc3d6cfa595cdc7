//! Behaviour tests of the X.509 MSP against certificates generated here with openssl.

use fabric_protos::common::msp_principal::Classification;
use fabric_protos::common::msp_role::MspRoleType;
use fabric_protos::common::{CombinedPrincipal, MspPrincipal, MspRole, OrganizationUnit};
use fabric_protos::msp::{
    FabricMspConfig, FabricNodeOUs, FabricOuIdentifier, KeyInfo, MspConfig, SerializedIdentity,
    SigningIdentityInfo,
};
use openssl::nid::Nid;
use prost::Message;

use crate::testpki::{Issued, Spec, crl, issue, now};
use crate::*;

struct Org {
    root: Issued,
    inter: Issued,
}

fn new_org() -> Org {
    let root = issue(&Spec::ca("ca.org1"), None);
    let inter = issue(&Spec::ca("ica.org1"), Some(&root));
    Org { root, inter }
}

fn node_ous(root_pem: &[u8]) -> FabricNodeOUs {
    let ou = |name: &str| {
        Some(FabricOuIdentifier {
            certificate: root_pem.to_vec(),
            organizational_unit_identifier: name.into(),
        })
    };
    FabricNodeOUs {
        enable: true,
        client_ou_identifier: ou("client"),
        peer_ou_identifier: ou("peer"),
        admin_ou_identifier: ou("admin"),
        orderer_ou_identifier: ou("orderer"),
    }
}

fn config(org: &Org, crls: Vec<Vec<u8>>) -> FabricMspConfig {
    FabricMspConfig {
        name: "Org1MSP".into(),
        root_certs: vec![org.root.pem()],
        intermediate_certs: vec![org.inter.pem()],
        revocation_list: crls,
        fabric_node_ous: Some(node_ous(&org.inter.pem())),
        ..Default::default()
    }
}

fn serialized(msp_id: &str, cert: &Issued) -> Vec<u8> {
    SerializedIdentity {
        mspid: msp_id.into(),
        id_bytes: cert.pem(),
    }
    .encode_to_vec()
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

// Fabric: an identity issued by an intermediate validates and is classified by its NodeOU.
#[test]
fn leaf_under_intermediate_validates_with_its_node_role() {
    let org = new_org();
    let msp = X509Msp::from_fabric_config(&config(&org, vec![]), &[]).unwrap();
    for (ou, expected) in [
        ("client", MspRoleType::Client),
        ("peer", MspRoleType::Peer),
        ("admin", MspRoleType::Admin),
        ("orderer", MspRoleType::Orderer),
    ] {
        let leaf = issue(&Spec::leaf("node", &[ou]), Some(&org.inter));
        let id = msp
            .deserialize_identity(&serialized("Org1MSP", &leaf))
            .unwrap();
        id.validate().unwrap();
        id.satisfies_principal(&role("Org1MSP", MspRoleType::Member))
            .unwrap();
        id.satisfies_principal(&role("Org1MSP", expected)).unwrap();
        for other in [
            MspRoleType::Client,
            MspRoleType::Peer,
            MspRoleType::Admin,
            MspRoleType::Orderer,
        ] {
            if other != expected {
                assert!(
                    id.satisfies_principal(&role("Org1MSP", other)).is_err(),
                    "{ou} as {other:?}"
                );
            }
        }
        assert!(id.satisfies_principal(&role("Org2MSP", expected)).is_err());
        assert_eq!(id.identifier().msp_id, "Org1MSP");
        assert_eq!(id.identifier().id.len(), 64);
    }
}

#[test]
fn unknown_ca_is_rejected() {
    let org = new_org();
    let other = new_org();
    let msp = X509Msp::from_fabric_config(&config(&org, vec![]), &[]).unwrap();
    let stranger = issue(&Spec::leaf("x", &["client"]), Some(&other.inter));
    let err = msp
        .deserialize_identity(&serialized("Org1MSP", &stranger))
        .unwrap_err();
    assert!(err.to_string().contains("unknown authority"), "{err}");
}

// Fabric validateCertAgainstChain: a CRL by the issuing CA revokes the serial.
#[test]
fn revoked_certificate_is_rejected_others_pass() {
    let org = new_org();
    let revoked = issue(&Spec::leaf("bad", &["client"]), Some(&org.inter));
    let fine = issue(&Spec::leaf("good", &["client"]), Some(&org.inter));
    let crl_der = crl(&org.inter, &[revoked.serial()]);
    let msp = X509Msp::from_fabric_config(&config(&org, vec![crl_der.clone()]), &[]).unwrap();
    let err = msp
        .deserialize_identity(&serialized("Org1MSP", &revoked))
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("revoked"), "{err}");
    msp.deserialize_identity(&serialized("Org1MSP", &fine))
        .unwrap()
        .validate()
        .unwrap();

    // A CRL signed by another key with the same AKI does not count.
    let impostor = Issued {
        cert: org.inter.cert.clone(),
        key: crate::testpki::key(Nid::X9_62_PRIME256V1),
    };
    let forged = crl(&impostor, &[revoked.serial()]);
    let msp = X509Msp::from_fabric_config(&config(&org, vec![forged]), &[]).unwrap();
    msp.deserialize_identity(&serialized("Org1MSP", &revoked))
        .unwrap()
        .validate()
        .unwrap();
}

#[test]
fn node_ou_and_ou_identifier_mismatches_are_rejected() {
    let org = new_org();
    let msp = X509Msp::from_fabric_config(&config(&org, vec![]), &[]).unwrap();
    for ous in [&["sales"][..], &[][..], &["client", "peer"][..]] {
        let leaf = issue(&Spec::leaf("x", ous), Some(&org.inter));
        let err = msp
            .deserialize_identity(&serialized("Org1MSP", &leaf))
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("OU"), "{ous:?}: {err}");
    }
    // OrganizationalUnitIdentifiers: only "sales" certified by the intermediate is a member.
    let mut conf = config(&org, vec![]);
    conf.fabric_node_ous = None;
    conf.admins = vec![issue(&Spec::leaf("admin", &["sales"]), Some(&org.inter)).pem()];
    conf.organizational_unit_identifiers = vec![FabricOuIdentifier {
        certificate: org.inter.pem(),
        organizational_unit_identifier: "sales".into(),
    }];
    let msp = X509Msp::from_fabric_config(&conf, &[]).unwrap();
    let sales = issue(&Spec::leaf("s", &["sales"]), Some(&org.inter));
    let ops = issue(&Spec::leaf("o", &["ops"]), Some(&org.inter));
    msp.deserialize_identity(&serialized("Org1MSP", &sales))
        .unwrap()
        .validate()
        .unwrap();
    let err = msp
        .deserialize_identity(&serialized("Org1MSP", &ops))
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("none of the identity's organizational units"),
        "{err}"
    );
}

// Fabric validates at NotBefore + 1s: expiry is for entry points, not validate().
#[test]
fn expired_certificate_validates_but_reports_expiry() {
    let org = new_org();
    let msp = X509Msp::from_fabric_config(&config(&org, vec![]), &[]).unwrap();
    let spec = Spec {
        not_before: now() - 7200,
        not_after: now() - 3600,
        ..Spec::leaf("old", &["client"])
    };
    let old = issue(&spec, Some(&org.inter));
    let id = msp
        .deserialize_identity(&serialized("Org1MSP", &old))
        .unwrap();
    id.validate().unwrap();
    assert!(id.expires_at().unwrap() < std::time::SystemTime::now());
}

#[test]
fn p384_signing_identity_signs_low_s_and_high_s_is_refused() {
    let root = issue(
        &Spec {
            curve: Nid::SECP384R1,
            ..Spec::ca("ca384")
        },
        None,
    );
    let leaf = issue(
        &Spec {
            curve: Nid::SECP384R1,
            ..Spec::leaf("n384", &["peer"])
        },
        Some(&root),
    );
    let conf = FabricMspConfig {
        name: "P384MSP".into(),
        root_certs: vec![root.pem()],
        fabric_node_ous: Some(node_ous(&root.pem())),
        signing_identity: Some(SigningIdentityInfo {
            public_signer: leaf.pem(),
            private_signer: Some(KeyInfo {
                key_identifier: String::new(),
                key_material: leaf.key_pem(),
            }),
        }),
        ..Default::default()
    };
    let msp = X509Msp::from_fabric_config(&conf, &[]).unwrap();
    let signer = msp.signing_identity().unwrap();
    let verifier = msp.deserialize_identity(&signer.serialize()).unwrap();
    verifier.validate().unwrap();
    for _ in 0..8 {
        let sig = signer.sign(b"payload").unwrap();
        verifier.verify(b"payload", &sig).unwrap();
        let high = crate::crypto::tests::high_s_twin(&leaf.key, &sig);
        assert!(verifier.verify(b"payload", &high).is_err());
        assert!(verifier.verify(b"payload2", &sig).is_err());
        // The MSP hash is SHA-256 even on P-384 (bccsp SHA2 family).
        let digest = openssl::sha::sha256(b"payload");
        let ecsig = openssl::ecdsa::EcdsaSig::from_der(&sig).unwrap();
        assert!(ecsig.verify(&digest, &leaf.key.ec_key().unwrap()).unwrap());
    }
}

// A signature verified before is remembered only for the exact message and signature bytes:
// a second check of the same pair passes, any other message or signature is checked afresh
// (a remembered success never vouches for a tampered or high-S twin), and the memory is
// bounded.
#[test]
fn remembered_verifications_vouch_only_for_the_same_bytes() {
    let org = new_org();
    let leaf = issue(&Spec::leaf("client", &["client"]), Some(&org.inter));
    let msp = X509Msp::from_fabric_config(&config(&org, vec![]), &[]).unwrap();
    let id = msp
        .deserialize_identity(&serialized("Org1MSP", &leaf))
        .unwrap();
    let sign = |message: &[u8]| {
        let digest = openssl::sha::sha256(message);
        let sig = openssl::ecdsa::EcdsaSig::sign(&digest, &leaf.key.ec_key().unwrap()).unwrap();
        let low = crate::crypto::tests::high_s_twin(&leaf.key, &sig.to_der().unwrap());
        // Whichever of the twins is low-S is the valid Fabric signature.
        if id.verify(message, &low).is_ok() {
            low
        } else {
            sig.to_der().unwrap()
        }
    };
    let sig = sign(b"proposal");
    id.verify(b"proposal", &sig).unwrap();
    id.verify(b"proposal", &sig).unwrap();
    assert!(id.verify(b"proposal!", &sig).is_err());
    let twin = crate::crypto::tests::high_s_twin(&leaf.key, &sig);
    assert!(id.verify(b"proposal", &twin).is_err());
    let mut flipped = sig.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(id.verify(b"proposal", &flipped).is_err());
    for i in 0..(VERIFIED_SIGNATURES_MAX + 8) {
        let message = format!("message {i}");
        let sig = sign(message.as_bytes());
        id.verify(message.as_bytes(), &sig).unwrap();
        id.verify(message.as_bytes(), &sig).unwrap();
    }
    id.verify(b"proposal", &sig).unwrap();
}

#[test]
fn malformed_inputs_are_errors_not_panics() {
    let org = new_org();
    let msp = X509Msp::from_fabric_config(&config(&org, vec![]), &[]).unwrap();
    let leaf = issue(&Spec::leaf("x", &["client"]), Some(&org.inter));
    let der = leaf.cert.to_der().unwrap();
    let mut cases: Vec<Vec<u8>> = vec![vec![], vec![0xff; 40], b"\x0a\x07Org1MSP".to_vec()];
    let pem_of = |b: &[u8]| crate::pem::encode("CERTIFICATE", b);
    for cut in [1, 10, der.len() / 2, der.len() - 1] {
        cases.push(
            SerializedIdentity {
                mspid: "Org1MSP".into(),
                id_bytes: pem_of(&der[..cut]),
            }
            .encode_to_vec(),
        );
    }
    let mut flipped = der.clone();
    flipped[3] ^= 0xff;
    cases.push(
        SerializedIdentity {
            mspid: "Org1MSP".into(),
            id_bytes: pem_of(&flipped),
        }
        .encode_to_vec(),
    );
    let mut trailing = der.clone();
    trailing.push(0);
    cases.push(
        SerializedIdentity {
            mspid: "Org1MSP".into(),
            id_bytes: pem_of(&trailing),
        }
        .encode_to_vec(),
    );
    cases.push(
        SerializedIdentity {
            mspid: "Org1MSP".into(),
            id_bytes: b"not pem".to_vec(),
        }
        .encode_to_vec(),
    );
    for case in &cases {
        assert!(msp.deserialize_identity(case).is_err(), "{case:x?}");
    }
    let id = msp
        .deserialize_identity(&serialized("Org1MSP", &leaf))
        .unwrap();
    for sig in [
        &[][..],
        &[0x30, 0x00],
        &[0x30, 0x06, 2, 1, 1, 2, 1, 1],
        &[0u8; 300],
    ] {
        assert!(id.verify(b"m", sig).is_err());
    }
}

#[test]
fn principals_identity_ou_admin_combined_and_unknown() {
    let org = new_org();
    let admin = issue(&Spec::leaf("admin", &["client"]), Some(&org.inter));
    let mut conf = config(&org, vec![]);
    conf.admins = vec![admin.pem()];
    let msp = X509Msp::from_fabric_config(&conf, &[]).unwrap();
    let admin_id = msp
        .deserialize_identity(&serialized("Org1MSP", &admin))
        .unwrap();
    // Listed in admincerts: ADMIN even though its OU is client.
    admin_id
        .satisfies_principal(&role("Org1MSP", MspRoleType::Admin))
        .unwrap();

    let user = issue(&Spec::leaf("user", &["client"]), Some(&org.inter));
    let user_id = msp
        .deserialize_identity(&serialized("Org1MSP", &user))
        .unwrap();
    assert!(
        user_id
            .satisfies_principal(&role("Org1MSP", MspRoleType::Admin))
            .is_err()
    );

    let identity_principal = |bytes: Vec<u8>| MspPrincipal {
        principal_classification: Classification::Identity as i32,
        principal: bytes,
    };
    user_id
        .satisfies_principal(&identity_principal(serialized("Org1MSP", &user)))
        .unwrap();
    assert!(
        user_id
            .satisfies_principal(&identity_principal(serialized("Org1MSP", &admin)))
            .is_err()
    );

    let x509 = msp.deserialize_x509(&serialized("Org1MSP", &user)).unwrap();
    let ou = &x509.organizational_units()[0];
    assert_eq!(ou.organizational_unit_identifier, "client");
    let ou_principal = |name: &str, cid: Vec<u8>| MspPrincipal {
        principal_classification: Classification::OrganizationUnit as i32,
        principal: OrganizationUnit {
            msp_identifier: "Org1MSP".into(),
            organizational_unit_identifier: name.into(),
            certifiers_identifier: cid,
        }
        .encode_to_vec(),
    };
    user_id
        .satisfies_principal(&ou_principal("client", ou.certifiers_identifier.clone()))
        .unwrap();
    assert!(
        user_id
            .satisfies_principal(&ou_principal("client", vec![1, 2]))
            .is_err()
    );
    assert!(
        user_id
            .satisfies_principal(&ou_principal("peer", ou.certifiers_identifier.clone()))
            .is_err()
    );

    let combined = |ps: Vec<MspPrincipal>| MspPrincipal {
        principal_classification: Classification::Combined as i32,
        principal: CombinedPrincipal { principals: ps }.encode_to_vec(),
    };
    user_id
        .satisfies_principal(&combined(vec![
            role("Org1MSP", MspRoleType::Member),
            role("Org1MSP", MspRoleType::Client),
        ]))
        .unwrap();
    assert!(
        user_id
            .satisfies_principal(&combined(vec![
                role("Org1MSP", MspRoleType::Member),
                role("Org1MSP", MspRoleType::Peer)
            ]))
            .is_err()
    );
    assert!(user_id.satisfies_principal(&combined(vec![])).is_err());

    let unknown = MspPrincipal {
        principal_classification: 42,
        principal: vec![],
    };
    let err = user_id.satisfies_principal(&unknown).unwrap_err();
    assert!(matches!(err, MspError::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("invalid principal type 42"));
}

#[test]
fn manager_dispatches_and_rejects_unknown_and_idemix() {
    let (a, b) = (new_org(), new_org());
    let mut conf_b = config(&b, vec![]);
    conf_b.name = "Org2MSP".into();
    let configs = [&config(&a, vec![]), &conf_b].map(|c| MspConfig {
        r#type: 0,
        config: c.encode_to_vec(),
    });
    let mgr = MspManager::from_msp_configs(&configs).unwrap();
    let la = issue(&Spec::leaf("a", &["peer"]), Some(&a.inter));
    let lb = issue(&Spec::leaf("b", &["peer"]), Some(&b.inter));
    assert_eq!(
        mgr.deserialize_identity(&serialized("Org1MSP", &la))
            .unwrap()
            .msp_id(),
        "Org1MSP"
    );
    assert_eq!(
        mgr.deserialize_identity(&serialized("Org2MSP", &lb))
            .unwrap()
            .msp_id(),
        "Org2MSP"
    );
    // An Org2 certificate claimed under Org1 does not chain.
    assert!(
        mgr.deserialize_identity(&serialized("Org1MSP", &lb))
            .is_err()
    );
    let err = mgr
        .deserialize_identity(&serialized("Org9MSP", &la))
        .unwrap_err();
    assert_eq!(err, MspError::UnknownMsp("Org9MSP".into()));
    let err = X509Msp::from_msp_config(&MspConfig {
        r#type: 1,
        config: vec![],
    })
    .unwrap_err();
    assert!(
        matches!(err, MspError::Unsupported(ref m) if m.contains("Idemix")),
        "{err}"
    );
}

#[test]
fn cache_returns_the_same_identity_and_stays_bounded() {
    let org = new_org();
    let msp = X509Msp::from_fabric_config(&config(&org, vec![]), &[]).unwrap();
    let leaf = issue(&Spec::leaf("x", &["client"]), Some(&org.inter));
    let a = msp.deserialize_x509(&serialized("Org1MSP", &leaf)).unwrap();
    let b = msp.deserialize_x509(&serialized("Org1MSP", &leaf)).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert_eq!(msp.cached_identities(), 1);
}

#[test]
fn setup_requires_admins_without_admin_ou_and_a_ca() {
    let org = new_org();
    let mut conf = config(&org, vec![]);
    conf.fabric_node_ous = None;
    let err = X509Msp::from_fabric_config(&conf, &[]).unwrap_err();
    assert!(
        err.to_string().contains("administrators must be declared"),
        "{err}"
    );
    conf.root_certs.clear();
    assert!(X509Msp::from_fabric_config(&conf, &[]).is_err());
}
