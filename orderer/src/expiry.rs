//! When a client identity expires, as Fabric's `common/crypto.ExpiresAt` decides it: the
//! `NotAfter` of the PEM certificate inside a serialized identity. Anything that is not such a
//! certificate has no expiry (Fabric makes no decision on identities it cannot parse).

use std::time::{Duration, SystemTime};

use fabric_protos::msp::SerializedIdentity;
use openssl::asn1::Asn1Time;
use openssl::x509::X509;

/// Seconds in a day, for converting `Asn1Time::diff`.
const SECONDS_PER_DAY: i64 = 86_400;

/// The expiry of the certificate in `serialized_identity`, or `None` if it has none.
pub fn identity_expires_at(serialized_identity: &[u8]) -> Option<SystemTime> {
    let identity =
        weft_protoutil::decode::<SerializedIdentity>("SerializedIdentity", serialized_identity)
            .ok()?;
    let cert = X509::from_pem(&identity.id_bytes).ok()?;
    let epoch = Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(cert.not_after()).ok()?;
    let seconds = i64::from(diff.days) * SECONDS_PER_DAY + i64::from(diff.secs);
    if seconds >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(seconds as u64))
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(seconds.unsigned_abs()))
    }
}

/// Whether the identity has expired at `now` (an identity without expiry never does).
pub fn is_expired(serialized_identity: &[u8], now: SystemTime) -> bool {
    identity_expires_at(serialized_identity).is_some_and(|at| now >= at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn identities_without_a_certificate_never_expire() {
        // Fabric's ExpiresAt returns the zero time for anything it cannot parse.
        let now = SystemTime::now();
        assert_eq!(identity_expires_at(b"\xff\xff"), None);
        let not_pem = SerializedIdentity {
            mspid: "Org1MSP".into(),
            id_bytes: b"not a certificate".to_vec(),
        }
        .encode_to_vec();
        assert_eq!(identity_expires_at(&not_pem), None);
        assert!(!is_expired(&not_pem, now));
    }
}
