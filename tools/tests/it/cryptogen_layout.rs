//! cryptogen output layout and certificate contents, as upstream cryptogen writes them.

use std::path::Path;
use std::process::Command;

use openssl::nid::Nid;
use openssl::x509::X509;

const CONFIG: &str = r#"
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
        SANS: ["localhost", "127.0.0.1"]
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    CA: { Country: DE, OrganizationalUnit: Hyper }
    Template: { Count: 2, Start: 3 }
    Users: { Count: 1 }
  - Name: Org2
    Domain: org2.example.com
    EnableNodeOUs: false
    Template: { Count: 1 }
    Users: { Count: 1 }
"#;

fn generate(dir: &Path) {
    std::fs::write(dir.join("crypto-config.yaml"), CONFIG).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cryptogen"))
        .arg("generate")
        .arg(format!(
            "--config={}",
            dir.join("crypto-config.yaml").display()
        ))
        .arg("--output")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "org1.example.com\norg2.example.com\n"
    );
}

fn cert(path: &Path) -> X509 {
    X509::from_pem(&std::fs::read(path).unwrap()).unwrap()
}

fn ous(cert: &X509) -> Vec<String> {
    cert.subject_name()
        .entries_by_nid(Nid::ORGANIZATIONALUNITNAME)
        .map(|e| e.data().to_string().unwrap())
        .collect()
}

#[test]
fn node_ou_org_has_upstream_layout_and_roles() {
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path());
    let org = tmp.path().join("out/peerOrganizations/org1.example.com");
    for rel in [
        "ca/ca.org1.example.com-cert.pem",
        "ca/priv_sk",
        "tlsca/tlsca.org1.example.com-cert.pem",
        "tlsca/priv_sk",
        "msp/cacerts/ca.org1.example.com-cert.pem",
        "msp/tlscacerts/tlsca.org1.example.com-cert.pem",
        "msp/config.yaml",
        "peers/peer3.org1.example.com/msp/keystore/priv_sk",
        "peers/peer4.org1.example.com/tls/server.key",
        "users/User1@org1.example.com/tls/client.crt",
        "users/Admin@org1.example.com/msp/signcerts/Admin@org1.example.com-cert.pem",
    ] {
        assert!(org.join(rel).is_file(), "missing {rel}");
    }
    // NodeOUs on: admincerts exists but stays empty.
    assert_eq!(
        std::fs::read_dir(org.join("msp/admincerts"))
            .unwrap()
            .count(),
        0
    );
    let config = std::fs::read_to_string(org.join("msp/config.yaml")).unwrap();
    assert!(config.contains("Certificate: cacerts/ca.org1.example.com-cert.pem"));
    assert!(config.contains("OrganizationalUnitIdentifier: orderer"));

    let ca = cert(&org.join("ca/ca.org1.example.com-cert.pem"));
    let peer = cert(
        &org.join("peers/peer3.org1.example.com/msp/signcerts/peer3.org1.example.com-cert.pem"),
    );
    let admin = cert(
        &org.join("users/Admin@org1.example.com/msp/signcerts/Admin@org1.example.com-cert.pem"),
    );
    let user = cert(
        &org.join("users/User1@org1.example.com/msp/signcerts/User1@org1.example.com-cert.pem"),
    );
    assert!(peer.verify(&ca.public_key().unwrap()).unwrap());
    let country: Vec<_> = ca
        .subject_name()
        .entries_by_nid(Nid::COUNTRYNAME)
        .map(|e| e.data().to_string().unwrap())
        .collect();
    assert_eq!(country, ["DE"]);
    assert_eq!(ous(&peer), ["peer", "Hyper"]);
    assert_eq!(ous(&admin), ["Hyper", "admin"]);
    assert_eq!(ous(&user), ["Hyper", "client"]);

    let tls = cert(&org.join("peers/peer3.org1.example.com/tls/server.crt"));
    let tls_ca = cert(&org.join("tlsca/tlsca.org1.example.com-cert.pem"));
    assert!(tls.verify(&tls_ca.public_key().unwrap()).unwrap());
    let sans: Vec<_> = tls
        .subject_alt_names()
        .unwrap()
        .iter()
        .filter_map(|n| n.dnsname().map(str::to_string))
        .collect();
    assert_eq!(sans, ["peer3.org1.example.com", "peer3"]);

    let orderer_tls =
        cert(&tmp.path().join(
            "out/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt",
        ));
    let ips: Vec<_> = orderer_tls
        .subject_alt_names()
        .unwrap()
        .iter()
        .filter_map(|n| n.ipaddress().map(<[u8]>::to_vec))
        .collect();
    assert_eq!(ips, [vec![127, 0, 0, 1]]);
    // Orderer orgs get only Admin as a user.
    let users: Vec<_> = std::fs::read_dir(
        tmp.path()
            .join("out/ordererOrganizations/example.com/users"),
    )
    .unwrap()
    .map(|e| e.unwrap().file_name().into_string().unwrap())
    .collect();
    assert_eq!(users, ["Admin@example.com"]);
}

#[test]
fn org_without_node_ous_fills_admincerts_with_the_admin() {
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path());
    let org = tmp.path().join("out/peerOrganizations/org2.example.com");
    let admin_cert = std::fs::read(
        org.join("users/Admin@org2.example.com/msp/signcerts/Admin@org2.example.com-cert.pem"),
    )
    .unwrap();
    for dir in [
        "msp/admincerts",
        "peers/peer0.org2.example.com/msp/admincerts",
    ] {
        let entries: Vec<_> = std::fs::read_dir(org.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(entries.len(), 1, "{dir}");
        assert_eq!(std::fs::read(&entries[0]).unwrap(), admin_cert, "{dir}");
    }
    // Users keep their own certificate in admincerts, as upstream leaves it.
    let user_admincert =
        org.join("users/User1@org2.example.com/msp/admincerts/User1@org2.example.com-cert.pem");
    assert!(user_admincert.is_file());
    assert!(!org.join("msp/config.yaml").exists());
    let peer = cert(
        &org.join("peers/peer0.org2.example.com/msp/signcerts/peer0.org2.example.com-cert.pem"),
    );
    assert!(ous(&peer).is_empty());
}
