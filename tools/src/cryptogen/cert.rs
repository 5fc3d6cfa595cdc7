//! ECDSA P-256 keys and X.509 certificates shaped like the ones Fabric's cryptogen writes.
//!
//! Go's `crypto/x509` decides the exact bytes upstream produces: subject attribute order
//! (C, ST, L, street, postalCode, O, OU, CN; several OUs share one RDN), PrintableString
//! unless a character forbids it, extension order (key usage, extended key usage, basic
//! constraints, subject key id, authority key id, SANs), an SKI only on CA certificates and an
//! AKI only on certificates not self-issued. The TBS certificate is therefore written by hand
//! and OpenSSL is used for key generation and signing only.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use openssl::bn::{BigNum, BigNumContext, MsbOption};
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::{MessageDigest, hash};
use openssl::nid::Nid;
use openssl::pkey::{Private, Public};

use crate::der;
use crate::error::ToolError;

/// Certificates are valid for about ten years, as upstream's template sets.
const VALIDITY_SECS: i64 = 3650 * 24 * 3600;
/// Upstream rounds "now" to the minute and backdates by five minutes.
const BACKDATE_SECS: i64 = 5 * 60;
/// Random serial numbers are below 2^128.
const SERIAL_BITS: i32 = 128;

const OID_COUNTRY: &[u64] = &[2, 5, 4, 6];
const OID_PROVINCE: &[u64] = &[2, 5, 4, 8];
const OID_LOCALITY: &[u64] = &[2, 5, 4, 7];
const OID_STREET: &[u64] = &[2, 5, 4, 9];
const OID_POSTAL_CODE: &[u64] = &[2, 5, 4, 17];
const OID_ORGANIZATION: &[u64] = &[2, 5, 4, 10];
const OID_ORG_UNIT: &[u64] = &[2, 5, 4, 11];
const OID_COMMON_NAME: &[u64] = &[2, 5, 4, 3];
const OID_EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
const OID_PRIME256V1: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
const OID_ECDSA_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];
const OID_KEY_USAGE: &[u64] = &[2, 5, 29, 15];
const OID_EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
const OID_BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
const OID_SUBJECT_KEY_ID: &[u64] = &[2, 5, 29, 14];
const OID_AUTHORITY_KEY_ID: &[u64] = &[2, 5, 29, 35];
const OID_SUBJECT_ALT_NAME: &[u64] = &[2, 5, 29, 17];
const OID_SERVER_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 1];
const OID_CLIENT_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 2];

/// Key usage bits, numbered as in RFC 5280 (and Go's `x509.KeyUsage`).
pub mod key_usage {
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    pub const KEY_ENCIPHERMENT: u16 = 1 << 2;
    pub const CERT_SIGN: u16 = 1 << 5;
    pub const CRL_SIGN: u16 = 1 << 6;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtKeyUsage {
    ServerAuth,
    ClientAuth,
}

/// An X.509 subject in Go's `pkix.Name` terms (only the fields cryptogen sets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub country: Vec<String>,
    pub province: Vec<String>,
    pub locality: Vec<String>,
    pub street_address: Vec<String>,
    pub postal_code: Vec<String>,
    pub organization: Vec<String>,
    pub organizational_unit: Vec<String>,
    pub common_name: String,
}

impl Subject {
    /// DER `Name`, in the attribute order Go's `ToRDNSequence` uses.
    pub fn to_der(&self) -> Vec<u8> {
        let mut rdns = Vec::new();
        let groups: [(&[u64], &Vec<String>); 7] = [
            (OID_COUNTRY, &self.country),
            (OID_PROVINCE, &self.province),
            (OID_LOCALITY, &self.locality),
            (OID_STREET, &self.street_address),
            (OID_POSTAL_CODE, &self.postal_code),
            (OID_ORGANIZATION, &self.organization),
            (OID_ORG_UNIT, &self.organizational_unit),
        ];
        for (oid, values) in groups {
            if values.is_empty() {
                continue;
            }
            let attrs = values.iter().map(|v| attribute(oid, v)).collect();
            rdns.push(der::set_of(attrs));
        }
        if !self.common_name.is_empty() {
            rdns.push(der::set_of(vec![attribute(
                OID_COMMON_NAME,
                &self.common_name,
            )]));
        }
        der::sequence(&rdns)
    }
}

fn attribute(oid: &[u64], value: &str) -> Vec<u8> {
    der::sequence(&[der::oid(oid), der::go_string(value)])
}

/// A P-256 private key.
pub struct KeyPair {
    key: EcKey<Private>,
}

impl KeyPair {
    pub fn generate() -> Result<Self, ToolError> {
        let group = p256()?;
        Ok(KeyPair {
            key: EcKey::generate(&group)?,
        })
    }

    pub fn from_pem(pem: &[u8]) -> Result<Self, ToolError> {
        let pkey = openssl::pkey::PKey::private_key_from_pem(pem)?;
        Ok(KeyPair {
            key: pkey.ec_key()?,
        })
    }

    /// The uncompressed public point (0x04 || X || Y).
    pub fn public_point(&self) -> Result<Vec<u8>, ToolError> {
        let mut ctx = BigNumContext::new()?;
        Ok(self.key.public_key().to_bytes(
            self.key.group(),
            PointConversionForm::UNCOMPRESSED,
            &mut ctx,
        )?)
    }

    /// Subject key identifier: SHA-256 of the uncompressed point (RFC 7093 section 2, method 4),
    /// as upstream computes it.
    pub fn subject_key_id(&self) -> Result<Vec<u8>, ToolError> {
        Ok(hash(MessageDigest::sha256(), &self.public_point()?)?.to_vec())
    }

    pub fn public_key(&self) -> Result<EcKey<Public>, ToolError> {
        Ok(EcKey::from_public_key(
            self.key.group(),
            self.key.public_key(),
        )?)
    }

    /// SubjectPublicKeyInfo with the named curve, as Go writes it.
    pub fn spki_der(&self) -> Result<Vec<u8>, ToolError> {
        Ok(spki_der(&self.public_point()?))
    }

    /// PKCS#8 "PRIVATE KEY" PEM whose inner ECPrivateKey carries the public key but no curve
    /// parameters (Go's `MarshalPKCS8PrivateKey`).
    pub fn to_pkcs8_pem(&self) -> Result<String, ToolError> {
        let scalar = self.key.private_key().to_vec_padded(32)?;
        let inner = der::sequence(&[
            der::small_integer(1),
            der::octet_string(&scalar),
            der::context(1, true, &der::bit_string(0, &self.public_point()?)),
        ]);
        let pkcs8 = der::sequence(&[
            der::small_integer(0),
            der::sequence(&[der::oid(OID_EC_PUBLIC_KEY), der::oid(OID_PRIME256V1)]),
            der::octet_string(&inner),
        ]);
        Ok(pem_encode("PRIVATE KEY", &pkcs8))
    }

    /// ECDSA-SHA256 over `message`, DER-encoded with a low S value (Fabric rejects high S).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ToolError> {
        let digest = hash(MessageDigest::sha256(), message)?;
        let sig = EcdsaSig::sign(&digest, &self.key)?;
        let mut ctx = BigNumContext::new()?;
        let mut order = BigNum::new()?;
        self.key.group().order(&mut order, &mut ctx)?;
        let mut half = BigNum::new()?;
        half.rshift1(&order)?;
        let s = sig.s().to_owned()?;
        let s = if s > half {
            let mut low = BigNum::new()?;
            low.checked_sub(&order, &s)?;
            low
        } else {
            s
        };
        let low_sig = EcdsaSig::from_private_components(sig.r().to_owned()?, s)?;
        Ok(low_sig.to_der()?)
    }
}

fn p256() -> Result<EcGroup, ToolError> {
    Ok(EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?)
}

fn spki_der(point: &[u8]) -> Vec<u8> {
    der::sequence(&[
        der::sequence(&[der::oid(OID_EC_PUBLIC_KEY), der::oid(OID_PRIME256V1)]),
        der::bit_string(0, point),
    ])
}

/// PEM with 64-character lines, like Go's `pem.Encode`.
pub fn pem_encode(label: &str, der_bytes: &[u8]) -> String {
    let b64 = openssl::base64::encode_block(der_bytes);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// What goes into one certificate.
pub struct CertTemplate<'a> {
    pub subject: &'a Subject,
    pub is_ca: bool,
    pub key_usage: u16,
    pub ext_key_usage: &'a [ExtKeyUsage],
    /// Set on CA certificates only, as upstream does.
    pub subject_key_id: Option<&'a [u8]>,
    /// DNS names and IP addresses; each entry that parses as an IP becomes an IP SAN.
    pub alternate_names: &'a [String],
}

/// The issuing side of a signature: its subject and key id, and its private key.
pub struct Issuer<'a> {
    pub subject: &'a Subject,
    pub subject_key_id: &'a [u8],
    pub key: &'a KeyPair,
}

/// Validity window starting now: rounded to the minute, then backdated five minutes.
pub fn validity_now() -> (i64, i64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let rounded = (now + 30).div_euclid(60) * 60;
    let not_before = rounded - BACKDATE_SECS;
    (not_before, not_before + VALIDITY_SECS)
}

/// Builds and signs a certificate for `subject_public_point`; returns its DER.
pub fn issue_certificate(
    template: &CertTemplate<'_>,
    subject_public_point: &[u8],
    issuer: &Issuer<'_>,
) -> Result<Vec<u8>, ToolError> {
    let mut serial = BigNum::new()?;
    serial.rand(SERIAL_BITS, MsbOption::MAYBE_ZERO, false)?;
    let (not_before, not_after) = validity_now();
    let subject_der = template.subject.to_der();
    let issuer_der = issuer.subject.to_der();
    let self_issued = subject_der == issuer_der;
    let sig_alg = der::sequence(&[der::oid(OID_ECDSA_SHA256)]);

    let mut extensions = vec![extension(
        OID_KEY_USAGE,
        true,
        &key_usage_der(template.key_usage),
    )];
    if !template.ext_key_usage.is_empty() {
        let oids: Vec<Vec<u8>> = template
            .ext_key_usage
            .iter()
            .map(|u| {
                der::oid(match u {
                    ExtKeyUsage::ServerAuth => OID_SERVER_AUTH,
                    ExtKeyUsage::ClientAuth => OID_CLIENT_AUTH,
                })
            })
            .collect();
        extensions.push(extension(OID_EXT_KEY_USAGE, false, &der::sequence(&oids)));
    }
    let basic = if template.is_ca {
        der::sequence(&[der::boolean(true)])
    } else {
        der::sequence(&[])
    };
    extensions.push(extension(OID_BASIC_CONSTRAINTS, true, &basic));
    if let Some(ski) = template.subject_key_id {
        extensions.push(extension(
            OID_SUBJECT_KEY_ID,
            false,
            &der::octet_string(ski),
        ));
    }
    if !self_issued && !issuer.subject_key_id.is_empty() {
        let aki = der::sequence(&[der::context(0, false, issuer.subject_key_id)]);
        extensions.push(extension(OID_AUTHORITY_KEY_ID, false, &aki));
    }
    if !template.alternate_names.is_empty() {
        extensions.push(extension(
            OID_SUBJECT_ALT_NAME,
            false,
            &san_der(template.alternate_names),
        ));
    }

    let tbs = der::sequence(&[
        der::context(0, true, &der::small_integer(2)),
        der::unsigned_integer(&serial.to_vec()),
        sig_alg.clone(),
        issuer_der,
        der::sequence(&[der::x509_time(not_before), der::x509_time(not_after)]),
        subject_der,
        spki_der(subject_public_point),
        der::context(3, true, &der::sequence(&extensions)),
    ]);
    let signature = issuer.key.sign(&tbs)?;
    Ok(der::sequence(&[
        tbs,
        sig_alg,
        der::bit_string(0, &signature),
    ]))
}

fn extension(oid: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![der::oid(oid)];
    if critical {
        parts.push(der::boolean(true));
    }
    parts.push(der::octet_string(value));
    der::sequence(&parts)
}

/// Go writes key usage as a BIT STRING trimmed after the last set bit.
fn key_usage_der(bits: u16) -> Vec<u8> {
    let bytes = [
        (bits as u8).reverse_bits(),
        ((bits >> 8) as u8).reverse_bits(),
    ];
    let len = if bytes[1] != 0 { 2 } else { 1 };
    let content = &bytes[..len];
    let unused = content
        .last()
        .map(|b| if *b == 0 { 0 } else { b.trailing_zeros() as u8 })
        .unwrap_or(0);
    der::bit_string(unused, content)
}

/// GeneralNames with all DNS names first, then all IP addresses, as Go orders them.
fn san_der(names: &[String]) -> Vec<u8> {
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    for name in names {
        match name.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => ips.push(der::context(7, false, &v4.octets())),
            Ok(IpAddr::V6(v6)) => ips.push(der::context(7, false, &v6.octets())),
            Err(_) => dns.push(der::context(2, false, name.as_bytes())),
        }
    }
    dns.extend(ips);
    der::sequence(&dns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_usage_matches_go_bytes() {
        // Values read from certificates written by upstream cryptogen v2.5.9.
        use key_usage::*;
        assert_eq!(key_usage_der(DIGITAL_SIGNATURE), [0x03, 0x02, 0x07, 0x80]);
        assert_eq!(
            key_usage_der(DIGITAL_SIGNATURE | KEY_ENCIPHERMENT),
            [0x03, 0x02, 0x05, 0xa0]
        );
        assert_eq!(
            key_usage_der(DIGITAL_SIGNATURE | KEY_ENCIPHERMENT | CERT_SIGN | CRL_SIGN),
            [0x03, 0x02, 0x01, 0xa6]
        );
    }

    #[test]
    fn several_org_units_share_one_sorted_rdn() {
        let subject = Subject {
            organizational_unit: vec!["Hyper".into(), "peer".into()],
            common_name: "peer0".into(),
            ..Subject::default()
        };
        let name = openssl::x509::X509Name::from_der(&subject.to_der()).unwrap();
        let ous: Vec<String> = name
            .entries_by_nid(Nid::ORGANIZATIONALUNITNAME)
            .map(|e| e.data().to_string().unwrap())
            .collect();
        // DER sorts SET OF by encoding, so the shorter value comes first.
        assert_eq!(ous, ["peer", "Hyper"]);
        // Two RDNs: the OU set and the CN.
        assert_eq!(subject.to_der()[1] as usize + 2, subject.to_der().len());
    }

    #[test]
    fn signatures_are_low_s_and_verify() {
        let key = KeyPair::generate().unwrap();
        let public = key.public_key().unwrap();
        let group = p256().unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        let mut order = BigNum::new().unwrap();
        group.order(&mut order, &mut ctx).unwrap();
        let mut half = BigNum::new().unwrap();
        half.rshift1(&order).unwrap();
        for i in 0..32u8 {
            let msg = [i; 8];
            let sig = EcdsaSig::from_der(&key.sign(&msg).unwrap()).unwrap();
            assert!(sig.s() <= &half);
            let digest = hash(MessageDigest::sha256(), &msg).unwrap();
            assert!(sig.verify(&digest, &public).unwrap());
        }
    }

    #[test]
    fn pkcs8_round_trips_through_openssl() {
        let key = KeyPair::generate().unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let back = KeyPair::from_pem(pem.as_bytes()).unwrap();
        assert_eq!(back.public_point().unwrap(), key.public_point().unwrap());
    }

    #[test]
    fn issued_certificate_parses_and_verifies_against_issuer() {
        let ca_key = KeyPair::generate().unwrap();
        let ca_ski = ca_key.subject_key_id().unwrap();
        let ca_subject = Subject {
            organization: vec!["org1.example.com".into()],
            common_name: "ca.org1.example.com".into(),
            ..Subject::default()
        };
        let ca_issuer = Issuer {
            subject: &ca_subject,
            subject_key_id: &ca_ski,
            key: &ca_key,
        };
        let ca_der = issue_certificate(
            &CertTemplate {
                subject: &ca_subject,
                is_ca: true,
                key_usage: key_usage::CERT_SIGN,
                ext_key_usage: &[],
                subject_key_id: Some(&ca_ski),
                alternate_names: &[],
            },
            &ca_key.public_point().unwrap(),
            &ca_issuer,
        )
        .unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf_subject = Subject {
            common_name: "peer0.org1.example.com".into(),
            ..Subject::default()
        };
        let sans = [
            "peer0.org1.example.com".to_string(),
            "127.0.0.1".to_string(),
        ];
        let leaf_der = issue_certificate(
            &CertTemplate {
                subject: &leaf_subject,
                is_ca: false,
                key_usage: key_usage::DIGITAL_SIGNATURE,
                ext_key_usage: &[ExtKeyUsage::ServerAuth],
                subject_key_id: None,
                alternate_names: &sans,
            },
            &leaf_key.public_point().unwrap(),
            &ca_issuer,
        )
        .unwrap();
        let ca = openssl::x509::X509::from_der(&ca_der).unwrap();
        let leaf = openssl::x509::X509::from_der(&leaf_der).unwrap();
        let ca_pub = ca.public_key().unwrap();
        assert!(ca.verify(&ca_pub).unwrap());
        assert!(leaf.verify(&ca_pub).unwrap());
        assert_eq!(ca.subject_key_id().unwrap().as_slice(), &ca_ski[..]);
        assert!(ca.authority_key_id().is_none());
        assert_eq!(leaf.authority_key_id().unwrap().as_slice(), &ca_ski[..]);
        assert!(leaf.subject_key_id().is_none());
        let names = leaf.subject_alt_names().unwrap();
        assert_eq!(
            names.get(0).unwrap().dnsname(),
            Some("peer0.org1.example.com")
        );
        assert_eq!(names.get(1).unwrap().ipaddress(), Some(&[127, 0, 0, 1][..]));
    }
}
