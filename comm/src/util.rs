//! Small helpers for entry points: TLS binding hashes, certificate expiry, gRPC statuses.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fabric_protos::msp::SerializedIdentity;
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::x509::X509;
use prost::Message;
use tonic::{Code, Status};

use crate::error::CommError;

/// SHA-256 of a DER certificate: the value Fabric puts in `ChannelHeader.tls_cert_hash`
/// and compares with the caller's TLS certificate (F25 common/deliver/binding.go,
/// discovery's `client_tls_cert_hash`).
pub fn tls_cert_hash(cert_der: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(cert_der)
}

fn to_system_time(time: &Asn1TimeRef) -> Option<SystemTime> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(time).ok()?;
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    }
}

/// NotAfter of a DER certificate, or `None` when it does not parse.
pub fn cert_expires_at_der(cert_der: &[u8]) -> Option<SystemTime> {
    let cert = X509::from_der(cert_der).ok()?;
    to_system_time(cert.not_after())
}

/// NotAfter of the first certificate of a PEM text, or `None` when there is none.
pub fn cert_expires_at_pem(cert_pem: &[u8]) -> Option<SystemTime> {
    let cert = X509::from_pem(cert_pem).ok()?;
    to_system_time(cert.not_after())
}

/// NotAfter of the certificate inside a marshalled `msp.SerializedIdentity`, or `None`
/// when it cannot be told, in which case Fabric makes no expiry decision
/// (F25 common/crypto/expiration.go `ExpiresAt`).
pub fn identity_expires_at(serialized_identity: &[u8]) -> Option<SystemTime> {
    let identity = SerializedIdentity::decode(serialized_identity).ok()?;
    cert_expires_at_pem(&identity.id_bytes)
}

fn not_expired(expires_at: Option<SystemTime>, now: SystemTime) -> Result<(), CommError> {
    match expires_at {
        Some(not_after) if now > not_after => Err(CommError::CertificateExpired { not_after }),
        _ => Ok(()),
    }
}

/// Entry-point check that a creator identity has not expired at `now`. An identity whose
/// expiry cannot be read passes, as in Fabric (Broadcast, Deliver and the endorser check
/// expiry there; block validation never does).
pub fn check_identity_not_expired(
    serialized_identity: &[u8],
    now: SystemTime,
) -> Result<(), CommError> {
    not_expired(identity_expires_at(serialized_identity), now)
}

/// Check that a DER certificate (for instance a TLS client certificate) has not expired
/// at `now`; an unparsable certificate passes.
pub fn check_cert_not_expired(cert_der: &[u8], now: SystemTime) -> Result<(), CommError> {
    not_expired(cert_expires_at_der(cert_der), now)
}

/// Whether a status reports a message over the size limit: tonic says `OUT_OF_RANGE`
/// ("message length too large"), grpc-go says `RESOURCE_EXHAUSTED` ("larger than max").
pub fn is_message_too_large(status: &Status) -> bool {
    match status.code() {
        Code::OutOfRange => status.message().contains("message length too large"),
        Code::ResourceExhausted => status.message().contains("larger than max"),
        _ => false,
    }
}

/// The status an entry point returns for a comm error: expired certificates are
/// `PERMISSION_DENIED`, unreachable servers `UNAVAILABLE`, the rest `INTERNAL`.
pub fn status_from_error(error: &CommError) -> Status {
    match error {
        CommError::CertificateExpired { .. } => Status::permission_denied(error.to_string()),
        CommError::Connect { .. } => Status::unavailable(error.to_string()),
        _ => Status::internal(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::{X509Builder, X509NameBuilder};

    fn cert_valid_between(not_before_unix: i64, not_after_unix: i64) -> X509 {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "expiry").unwrap();
        let name = name.build();
        let mut builder = X509Builder::new().unwrap();
        builder.set_version(2).unwrap();
        builder.set_subject_name(&name).unwrap();
        builder.set_issuer_name(&name).unwrap();
        builder.set_pubkey(&key).unwrap();
        builder
            .set_not_before(&Asn1Time::from_unix(not_before_unix).unwrap())
            .unwrap();
        builder
            .set_not_after(&Asn1Time::from_unix(not_after_unix).unwrap())
            .unwrap();
        builder.sign(&key, MessageDigest::sha256()).unwrap();
        builder.build()
    }

    fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix)
    }

    #[test]
    fn tls_cert_hash_is_sha256_of_der() {
        // Known SHA-256 of the empty input.
        assert_eq!(
            hex_of(&tls_cert_hash(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn expiry_reads_not_after_to_the_second() {
        let cert = cert_valid_between(1_000_000, 2_000_000_123);
        assert_eq!(
            cert_expires_at_der(&cert.to_der().unwrap()),
            Some(at(2_000_000_123))
        );
        assert_eq!(
            cert_expires_at_pem(&cert.to_pem().unwrap()),
            Some(at(2_000_000_123))
        );
    }

    #[test]
    fn expired_identity_is_refused_and_live_one_accepted() {
        // Fabric's Deliver and Broadcast refuse a creator whose NotAfter is before now.
        let cert = cert_valid_between(1_000_000, 1_700_000_000);
        let identity = SerializedIdentity {
            mspid: "Org1MSP".into(),
            id_bytes: cert.to_pem().unwrap(),
        }
        .encode_to_vec();
        assert!(check_identity_not_expired(&identity, at(1_600_000_000)).is_ok());
        let err = check_identity_not_expired(&identity, at(1_700_000_001)).unwrap_err();
        assert!(
            matches!(err, CommError::CertificateExpired { not_after } if not_after == at(1_700_000_000))
        );
        assert_eq!(status_from_error(&err).code(), Code::PermissionDenied);
        assert!(check_cert_not_expired(&cert.to_der().unwrap(), at(1_700_000_001)).is_err());
    }

    #[test]
    fn undecidable_expiry_passes_as_in_fabric() {
        // Fabric's ExpiresAt returns the zero time for garbage, and callers then let it pass.
        assert_eq!(identity_expires_at(b"\xff\xff garbage"), None);
        let not_pem = SerializedIdentity {
            mspid: "Org1MSP".into(),
            id_bytes: b"not a certificate".to_vec(),
        }
        .encode_to_vec();
        assert_eq!(identity_expires_at(&not_pem), None);
        assert!(check_identity_not_expired(&not_pem, SystemTime::now()).is_ok());
    }

    #[test]
    fn message_too_large_recognised_from_both_stacks() {
        assert!(is_message_too_large(&Status::out_of_range(
            "Error, decoded message length too large: found 5 bytes, the limit is: 4 bytes"
        )));
        assert!(is_message_too_large(&Status::resource_exhausted(
            "grpc: received message larger than max (5 vs. 4)"
        )));
        assert!(!is_message_too_large(&Status::out_of_range(
            "block 7 is beyond height"
        )));
    }
}
