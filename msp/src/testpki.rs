//! Test-only PKI: CAs, intermediates, leaves with OUs and CRLs generated with openssl.

use std::sync::atomic::{AtomicU32, Ordering};

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder};

static SERIAL: AtomicU32 = AtomicU32::new(1000);

pub struct Issued {
    pub cert: X509,
    pub key: PKey<Private>,
}

impl Issued {
    pub fn pem(&self) -> Vec<u8> {
        self.cert.to_pem().unwrap()
    }
    pub fn key_pem(&self) -> Vec<u8> {
        self.key.private_key_to_pem_pkcs8().unwrap()
    }
    pub fn serial(&self) -> u32 {
        self.cert
            .serial_number()
            .to_bn()
            .unwrap()
            .to_dec_str()
            .unwrap()
            .parse()
            .unwrap()
    }
}

pub fn key(nid: Nid) -> PKey<Private> {
    PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap()).unwrap()
}

pub struct Spec<'a> {
    pub cn: &'a str,
    pub ous: &'a [&'a str],
    pub is_ca: bool,
    pub curve: Nid,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
}

impl<'a> Spec<'a> {
    pub fn ca(cn: &'a str) -> Self {
        let now = now();
        Self {
            cn,
            ous: &[],
            is_ca: true,
            curve: Nid::X9_62_PRIME256V1,
            not_before: now - 86400 * 10,
            not_after: now + 86400 * 365,
        }
    }
    pub fn leaf(cn: &'a str, ous: &'a [&'a str]) -> Self {
        Self {
            is_ca: false,
            ous,
            ..Self::ca(cn)
        }
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Issues a certificate per `spec`, self-signed when `issuer` is None.
pub fn issue(spec: &Spec<'_>, issuer: Option<&Issued>) -> Issued {
    let key = key(spec.curve);
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "org1.example.com")
        .unwrap();
    for ou in spec.ous {
        name.append_entry_by_nid(Nid::ORGANIZATIONALUNITNAME, ou)
            .unwrap();
    }
    name.append_entry_by_nid(Nid::COMMONNAME, spec.cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(SERIAL.fetch_add(1, Ordering::SeqCst)).unwrap();
    b.set_serial_number(&Asn1Integer::from_bn(&serial).unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&name, |i| i.cert.subject_name()))
        .unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(spec.not_before).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(spec.not_after).unwrap())
        .unwrap();
    if spec.is_ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .digital_signature()
                .build()
                .unwrap(),
        )
        .unwrap();
    } else {
        b.append_extension(BasicConstraints::new().critical().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .build()
                .unwrap(),
        )
        .unwrap();
    }
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(issuer.map(|i| i.cert.as_ref()), None))
        .unwrap();
    b.append_extension(ski).unwrap();
    if let Some(i) = issuer {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(&i.cert), None))
            .unwrap();
        b.append_extension(aki).unwrap();
    }
    let signer = issuer.map_or(&key, |i| &i.key);
    b.sign(signer, MessageDigest::sha256()).unwrap();
    Issued {
        cert: b.build(),
        key,
    }
}

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if body.len() < 0x80 {
        out.push(body.len() as u8);
    } else if body.len() < 0x100 {
        out.extend([0x81, body.len() as u8]);
    } else {
        out.extend([0x82, (body.len() >> 8) as u8, body.len() as u8]);
    }
    out.extend_from_slice(body);
    out
}

fn utc_time(unix: i64) -> Vec<u8> {
    let (days, rem) = (unix.div_euclid(86400), unix.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    let s = format!(
        "{:02}{m:02}{d:02}{:02}{:02}{:02}Z",
        y % 100,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    tlv(0x17, s.as_bytes())
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A DER CRL issued by `ca` revoking `serials`, with the CA's SKI as AKI.
pub fn crl(ca: &Issued, serials: &[u32]) -> Vec<u8> {
    let alg = tlv(
        0x30,
        &tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
    );
    let mut revoked = Vec::new();
    for s in serials {
        let serial = Asn1Integer::from_bn(&BigNum::from_u32(*s).unwrap()).unwrap();
        let bytes = serial.to_bn().unwrap().to_vec();
        let mut int = bytes.clone();
        if int[0] & 0x80 != 0 {
            int.insert(0, 0);
        }
        let entry = [tlv(0x02, &int), utc_time(now() - 60)].concat();
        revoked.extend(tlv(0x30, &entry));
    }
    let ski = ca.cert.subject_key_id().unwrap().as_slice().to_vec();
    let aki_value = tlv(0x30, &tlv(0x80, &ski));
    let aki_ext = tlv(
        0x30,
        &[tlv(0x06, &[0x55, 0x1d, 0x23]), tlv(0x04, &aki_value)].concat(),
    );
    let exts = tlv(0xa0, &tlv(0x30, &aki_ext));
    let tbs = tlv(
        0x30,
        &[
            tlv(0x02, &[1]),
            alg.clone(),
            ca.cert.subject_name().to_der().unwrap(),
            utc_time(now() - 60),
            utc_time(now() + 86400),
            tlv(0x30, &revoked),
            exts,
        ]
        .concat(),
    );
    let digest = openssl::hash::hash(MessageDigest::sha256(), &tbs).unwrap();
    let sig = openssl::ecdsa::EcdsaSig::sign(&digest, &ca.key.ec_key().unwrap())
        .unwrap()
        .to_der()
        .unwrap();
    let mut bits = vec![0];
    bits.extend(sig);
    tlv(0x30, &[tbs, alg, tlv(0x03, &bits)].concat())
}
