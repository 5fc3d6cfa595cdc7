//! Certificates made in-test with OpenSSL, shaped like cryptogen's TLS certificates
//! (ECDSA, serverAuth + clientAuth, SANs).

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder};

pub struct Ca {
    pub cert: X509,
    key: PKey<Private>,
}

pub struct Leaf {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    pub cert_der: Vec<u8>,
}

fn ec_key(curve: Nid) -> PKey<Private> {
    let group = EcGroup::from_curve_name(curve).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn builder(cn: &str, key: &PKey<Private>) -> X509Builder {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("O", "weft-test").unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut builder = X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(127, MsbOption::MAYBE_ZERO, false).unwrap();
    builder
        .set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_pubkey(key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(365).unwrap())
        .unwrap();
    builder
}

impl Ca {
    /// A self-signed CA on the given curve (P-256 or P-384, as cryptogen offers).
    pub fn new(cn: &str, curve: Nid) -> Ca {
        let key = ec_key(curve);
        let mut builder = builder(cn, &key);
        let subject = builder_subject(cn);
        builder.set_issuer_name(&subject).unwrap();
        builder
            .append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        builder
            .append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .key_cert_sign()
                    .crl_sign()
                    .build()
                    .unwrap(),
            )
            .unwrap();
        let ski = SubjectKeyIdentifier::new()
            .build(&builder.x509v3_context(None, None))
            .unwrap();
        builder.append_extension(ski).unwrap();
        builder.sign(&key, MessageDigest::sha256()).unwrap();
        Ca {
            cert: builder.build(),
            key,
        }
    }

    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.to_pem().unwrap()
    }

    /// A TLS leaf usable as server and client certificate, with DNS and IP SANs.
    pub fn issue(&self, cn: &str, dns_names: &[&str], ips: &[&str]) -> Leaf {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let mut builder = builder(cn, &key);
        builder.set_issuer_name(self.cert.subject_name()).unwrap();
        builder
            .append_extension(BasicConstraints::new().critical().build().unwrap())
            .unwrap();
        builder
            .append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .key_encipherment()
                    .build()
                    .unwrap(),
            )
            .unwrap();
        builder
            .append_extension(
                ExtendedKeyUsage::new()
                    .server_auth()
                    .client_auth()
                    .build()
                    .unwrap(),
            )
            .unwrap();
        if !dns_names.is_empty() || !ips.is_empty() {
            let mut san = SubjectAlternativeName::new();
            for name in dns_names {
                san.dns(name);
            }
            for ip in ips {
                san.ip(ip);
            }
            let san = san
                .build(&builder.x509v3_context(Some(&self.cert), None))
                .unwrap();
            builder.append_extension(san).unwrap();
        }
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&builder.x509v3_context(Some(&self.cert), None))
            .unwrap();
        builder.append_extension(aki).unwrap();
        builder.sign(&self.key, MessageDigest::sha256()).unwrap();
        let cert = builder.build();
        Leaf {
            cert_pem: cert.to_pem().unwrap(),
            // PKCS#8, as cryptogen writes keys.
            key_pem: key.private_key_to_pem_pkcs8().unwrap(),
            cert_der: cert.to_der().unwrap(),
        }
    }
}

fn builder_subject(cn: &str) -> openssl::x509::X509Name {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("O", "weft-test").unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    name.build()
}

/// The usual cast: a P-256 CA with a server and a client, and an unrelated P-384 CA with
/// its own client.
pub struct Pki {
    pub ca: Ca,
    pub server: Leaf,
    pub client: Leaf,
    pub other_ca: Ca,
    pub other_client: Leaf,
}

impl Pki {
    pub fn new() -> Pki {
        let ca = Ca::new("tlsca.org1.example.com", Nid::X9_62_PRIME256V1);
        let server = ca.issue(
            "peer0.org1.example.com",
            &["peer0.org1.example.com", "localhost"],
            &["127.0.0.1"],
        );
        let client = ca.issue("Admin@org1.example.com", &[], &[]);
        let other_ca = Ca::new("tlsca.org2.example.com", Nid::SECP384R1);
        let other_client = other_ca.issue("Admin@org2.example.com", &[], &[]);
        Pki {
            ca,
            server,
            client,
            other_ca,
            other_client,
        }
    }
}
