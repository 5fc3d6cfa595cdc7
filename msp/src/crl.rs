//! Certificate revocation lists as Fabric's MSP uses them: a CRL applies to a certificate when
//! its Authority Key Identifier equals the Subject Key Identifier of the certificate's issuer,
//! and it only counts once its signature verifies under that issuer.

use openssl::hash::{MessageDigest, hash};
use openssl::x509::X509Crl;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{CertificateRevocationList, FromDer};

use crate::api::MspError;
use crate::cert::{Certificate, serial_magnitude};
use crate::der;
use crate::pem;

/// Largest CRL accepted from configuration.
pub const CRL_BYTES_MAX: usize = 16 * 1024 * 1024;

const PEM_CRL_PREFIX: &[u8] = b"-----BEGIN X509 CRL";

#[derive(Debug)]
pub struct Crl {
    der: Vec<u8>,
    tbs: Vec<u8>,
    signature_algorithm: String,
    signature: Vec<u8>,
    authority_key_id: Option<Vec<u8>>,
    revoked_serials: Vec<Vec<u8>>,
}

fn bad_crl(what: impl std::fmt::Display) -> MspError {
    MspError::Config(format!("could not parse RevocationList: {what}"))
}

impl Crl {
    /// Parses DER, or PEM when the bytes start with the CRL PEM header (Go's `ParseCRL`).
    pub fn parse(bytes: &[u8]) -> Result<Self, MspError> {
        if bytes.len() > CRL_BYTES_MAX {
            return Err(bad_crl("CRL too large"));
        }
        let der_bytes = if bytes.starts_with(PEM_CRL_PREFIX) {
            pem::decode_first(bytes)
                .ok_or_else(|| bad_crl("bad PEM"))?
                .contents
        } else {
            bytes.to_vec()
        };
        let (_, crl) = CertificateRevocationList::from_der(&der_bytes).map_err(bad_crl)?;
        let mut authority_key_id = None;
        for ext in crl.tbs_cert_list.extensions() {
            if let ParsedExtension::AuthorityKeyIdentifier(aki) = ext.parsed_extension() {
                authority_key_id = aki.key_identifier.as_ref().map(|k| k.0.to_vec());
            }
        }
        let (outer, _) = der::read_tlv(&der_bytes).ok_or_else(|| bad_crl("bad DER"))?;
        let (tbs, _) = der::read_tlv(outer.contents).ok_or_else(|| bad_crl("bad TBS"))?;
        Ok(Self {
            tbs: tbs.encoded.to_vec(),
            signature_algorithm: crl.signature_algorithm.algorithm.to_id_string(),
            signature: crl.signature_value.data.to_vec(),
            authority_key_id,
            revoked_serials: crl
                .iter_revoked_certificates()
                .map(|r| serial_magnitude(r.raw_serial()))
                .collect(),
            der: der_bytes,
        })
    }

    /// Whether this CRL, issued by `issuer`, revokes `cert`.
    pub fn revokes(&self, cert: &Certificate, issuer: &Certificate) -> Result<bool, MspError> {
        let Some(ski) = issuer.subject_key_id.as_ref() else {
            return Err(MspError::InvalidIdentity {
                msp_id: String::new(),
                reason: "could not obtain Subject Key Identifier for signer cert".into(),
            });
        };
        // Fabric errors (rather than skipping) on a CRL without an AKI.
        let Some(aki) = self.authority_key_id.as_ref() else {
            return Err(MspError::InvalidIdentity {
                msp_id: String::new(),
                reason: "could not obtain Authority Key Identifier for crl".into(),
            });
        };
        if aki != ski || !self.revoked_serials.contains(&cert.serial) {
            return Ok(false);
        }
        Ok(self.is_signed_by(issuer))
    }

    fn is_signed_by(&self, issuer: &Certificate) -> bool {
        let md = match self.signature_algorithm.as_str() {
            "1.2.840.10045.4.1" => Some(MessageDigest::sha1()),
            "1.2.840.10045.4.3.2" => Some(MessageDigest::sha256()),
            "1.2.840.10045.4.3.3" => Some(MessageDigest::sha384()),
            "1.2.840.10045.4.3.4" => Some(MessageDigest::sha512()),
            _ => None,
        };
        match md {
            // Fabric re-encodes ECDSA CRL signatures before checking them, so the check is
            // on (r, s) rather than on the exact DER; high S is acceptable here as in Go.
            Some(md) => {
                let Ok(digest) = hash(md, &self.tbs) else {
                    return false;
                };
                let Ok(ec) = issuer.public_key.ec_key() else {
                    return false;
                };
                let Ok(rs) = der::parse_ecdsa_signature(&self.signature) else {
                    return false;
                };
                openssl::ecdsa::EcdsaSig::from_private_components(rs.r, rs.s)
                    .and_then(|sig| sig.verify(&digest, &ec))
                    .unwrap_or(false)
            }
            None => X509Crl::from_der(&self.der)
                .and_then(|crl| crl.verify(&issuer.public_key))
                .unwrap_or(false),
        }
    }
}
