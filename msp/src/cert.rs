//! Parsed X.509 certificates: the fields MSP validation reads, extracted once and owned.

use openssl::pkey::{PKey, Public};
use openssl::x509::X509;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::api::MspError;
use crate::der;
use crate::pem;

/// Largest DER certificate accepted; Fabric certificates are well under 4 KiB.
pub const CERTIFICATE_BYTES_MAX: usize = 64 * 1024;

const ECDSA_SIGNATURE_OIDS: [&str; 4] = [
    "1.2.840.10045.4.1",
    "1.2.840.10045.4.3.2",
    "1.2.840.10045.4.3.3",
    "1.2.840.10045.4.3.4",
];

/// Extensions Go's x509 parser understands, so a critical one does not fail verification.
const HANDLED_CRITICAL_EXTENSION_OIDS: [&str; 12] = [
    "2.5.29.14",
    "2.5.29.15",
    "2.5.29.17",
    "2.5.29.19",
    "2.5.29.30",
    "2.5.29.31",
    "2.5.29.32",
    "2.5.29.33",
    "2.5.29.35",
    "2.5.29.36",
    "2.5.29.37",
    "2.5.29.54",
];

/// Extended key usages Go accepts where server authentication is asked for.
const SERVER_AUTH_COMPATIBLE_EKU_OIDS: [&str; 2] =
    ["1.3.6.1.4.1.311.10.3.3", "2.16.840.1.113730.4.1"];

/// A certificate with the fields the MSP needs.
#[derive(Debug)]
pub struct Certificate {
    pub der: Vec<u8>,
    pub x509: X509,
    pub public_key: PKey<Public>,
    pub spki: Vec<u8>,
    pub subject: Vec<u8>,
    pub issuer: Vec<u8>,
    pub serial: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    pub is_ca: bool,
    pub basic_constraints_valid: bool,
    pub max_path_len: Option<u32>,
    pub subject_key_id: Option<Vec<u8>>,
    /// False when the certificate has an EKU extension without server auth or any usage:
    /// Go's verifier (which Fabric calls with no key usages, meaning server auth) rejects it.
    pub eku_allows_server_auth: bool,
    pub has_subject_alt_name: bool,
    pub has_name_constraints: bool,
    pub common_name: String,
    pub unhandled_critical_extension: bool,
    pub ecdsa_signed: bool,
    pub signature: Vec<u8>,
    pub organizational_units: Vec<String>,
}

fn malformed(what: impl std::fmt::Display) -> MspError {
    MspError::Malformed(format!("certificate: {what}"))
}

impl Certificate {
    /// Parses the first PEM block of `pem_bytes` as Fabric's `getCertFromPem` does.
    pub fn from_pem(pem_bytes: &[u8]) -> Result<Self, MspError> {
        let block = pem::decode_first(pem_bytes)
            .ok_or_else(|| MspError::Malformed("could not decode the PEM structure".into()))?;
        Self::from_der(&block.contents)
    }

    pub fn from_der(der_bytes: &[u8]) -> Result<Self, MspError> {
        if der_bytes.len() > CERTIFICATE_BYTES_MAX {
            return Err(malformed(format!("{} bytes is too large", der_bytes.len())));
        }
        let (rest, cert) = X509Certificate::from_der(der_bytes).map_err(malformed)?;
        if !rest.is_empty() {
            return Err(malformed("trailing data after the certificate"));
        }
        let x509 = X509::from_der(der_bytes).map_err(malformed)?;
        let public_key = x509.public_key().map_err(malformed)?;
        let parts = der::split_certificate(der_bytes).ok_or_else(|| malformed("bad structure"))?;
        let mut parsed = Self {
            der: der_bytes.to_vec(),
            x509,
            public_key,
            spki: cert.public_key().raw.to_vec(),
            subject: cert.subject().as_raw().to_vec(),
            issuer: cert.issuer().as_raw().to_vec(),
            serial: strip_leading_zeros(cert.raw_serial()),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            is_ca: false,
            basic_constraints_valid: false,
            max_path_len: None,
            subject_key_id: None,
            eku_allows_server_auth: true,
            has_subject_alt_name: false,
            has_name_constraints: false,
            common_name: cert
                .subject()
                .iter_common_name()
                .filter_map(|a| a.as_str().ok())
                .last()
                .unwrap_or_default()
                .to_string(),
            unhandled_critical_extension: false,
            ecdsa_signed: ECDSA_SIGNATURE_OIDS
                .contains(&cert.signature_algorithm.algorithm.to_id_string().as_str()),
            signature: parts.signature.to_vec(),
            organizational_units: cert
                .subject()
                .iter_organizational_unit()
                .filter_map(|a| a.as_str().ok())
                .map(str::to_string)
                .collect(),
        };
        parsed.read_extensions(&cert)?;
        Ok(parsed)
    }

    fn read_extensions(&mut self, cert: &X509Certificate<'_>) -> Result<(), MspError> {
        for ext in cert.extensions() {
            let oid = ext.oid.to_id_string();
            if ext.critical && !HANDLED_CRITICAL_EXTENSION_OIDS.contains(&oid.as_str()) {
                self.unhandled_critical_extension = true;
            }
            match ext.parsed_extension() {
                ParsedExtension::BasicConstraints(bc) => {
                    self.basic_constraints_valid = true;
                    self.is_ca = bc.ca;
                    self.max_path_len = bc.path_len_constraint;
                }
                ParsedExtension::SubjectKeyIdentifier(ski) => {
                    self.subject_key_id = Some(ski.0.to_vec());
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    self.eku_allows_server_auth = eku.any
                        || eku.server_auth
                        || eku.other.iter().any(|o| {
                            SERVER_AUTH_COMPATIBLE_EKU_OIDS.contains(&o.to_id_string().as_str())
                        });
                }
                ParsedExtension::SubjectAlternativeName(_) => self.has_subject_alt_name = true,
                ParsedExtension::NameConstraints(_) => self.has_name_constraints = true,
                ParsedExtension::ParseError { error } => {
                    return Err(malformed(format!("extension {oid}: {error}")));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether this certificate's signature verifies under `issuer`'s public key.
    pub fn is_signed_by(&self, issuer: &Certificate) -> bool {
        self.x509.verify(&issuer.public_key).unwrap_or(false)
    }

    pub fn is_self_signed(&self) -> bool {
        self.subject == self.issuer && self.x509.verify(&self.public_key).unwrap_or(false)
    }

    /// PEM encoding, byte-identical to Go's `pem.EncodeToMemory`.
    pub fn to_pem(&self) -> Vec<u8> {
        pem::encode("CERTIFICATE", &self.der)
    }

    /// Whether this certificate is valid at `unix_time` (inclusive bounds, as Go checks).
    pub fn is_current_at(&self, unix_time: i64) -> bool {
        self.not_before <= unix_time && unix_time <= self.not_after
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

/// Serial numbers compared as unsigned magnitudes.
pub fn serial_magnitude(raw: &[u8]) -> Vec<u8> {
    strip_leading_zeros(raw)
}
