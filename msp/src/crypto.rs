//! ECDSA as Fabric's software BCCSP does it: the MSP hashes the message (SHA-256 for the
//! default SHA2 family, whatever the curve), signatures are DER (r, s) with s in the lower
//! half of the group order, and high-S signatures are refused rather than normalized.

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::EcKeyRef;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::{MessageDigest, hash};
use openssl::pkey::{HasParams, HasPublic, PKeyRef, Private, Public};

use crate::api::MspError;
use crate::der;

/// The hash applied to messages before signing or verifying (Fabric's `SignatureHashFamily`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFamily {
    Sha2,
    Sha3,
}

impl HashFamily {
    pub fn from_config(name: &str) -> Result<Self, MspError> {
        match name {
            "" | "SHA2" => Ok(Self::Sha2),
            "SHA3" => Ok(Self::Sha3),
            other => Err(MspError::Config(format!(
                "signature hash family {other:?} is not recognized; use SHA2 or SHA3"
            ))),
        }
    }

    pub fn digest(self, message: &[u8]) -> Result<Vec<u8>, MspError> {
        let md = match self {
            Self::Sha2 => MessageDigest::sha256(),
            Self::Sha3 => MessageDigest::sha3_256(),
        };
        Ok(hash(md, message).map_err(crypto_err)?.to_vec())
    }
}

/// Hash used for identity identifiers and certifiers identifiers.
pub fn identifier_digest(function: &str, data: &[u8]) -> Result<Vec<u8>, MspError> {
    let md = match function {
        "" | "SHA256" => MessageDigest::sha256(),
        "SHA384" => MessageDigest::sha384(),
        "SHA3_256" => MessageDigest::sha3_256(),
        "SHA3_384" => MessageDigest::sha3_384(),
        other => {
            return Err(MspError::Config(format!(
                "identity identifier hash function {other:?} is not recognized; use SHA256"
            )));
        }
    };
    Ok(hash(md, data).map_err(crypto_err)?.to_vec())
}

pub fn crypto_err(e: openssl::error::ErrorStack) -> MspError {
    MspError::Crypto(e.to_string())
}

fn half_order<T: HasParams>(key: &EcKeyRef<T>) -> Result<BigNum, MspError> {
    let mut order = BigNum::new().map_err(crypto_err)?;
    let mut ctx = BigNumContext::new().map_err(crypto_err)?;
    key.group()
        .order(&mut order, &mut ctx)
        .map_err(crypto_err)?;
    let mut half = BigNum::new().map_err(crypto_err)?;
    half.rshift1(&order).map_err(crypto_err)?;
    Ok(half)
}

/// Rewrites `s` as `n - s` when it is in the upper half of the order.
fn to_low_s<T: HasParams>(key: &EcKeyRef<T>, s: BigNum) -> Result<BigNum, MspError> {
    if s <= half_order(key)? {
        return Ok(s);
    }
    let mut order = BigNum::new().map_err(crypto_err)?;
    let mut ctx = BigNumContext::new().map_err(crypto_err)?;
    key.group()
        .order(&mut order, &mut ctx)
        .map_err(crypto_err)?;
    let mut low = BigNum::new().map_err(crypto_err)?;
    low.checked_sub(&order, &s).map_err(crypto_err)?;
    Ok(low)
}

/// Verifies a DER ECDSA signature over an already computed digest, refusing high-S.
pub fn verify_digest<T: HasPublic>(
    key: &PKeyRef<T>,
    signature: &[u8],
    digest: &[u8],
) -> Result<(), MspError> {
    let ec = key
        .ec_key()
        .map_err(|_| MspError::Unsupported("only ECDSA identities can verify signatures".into()))?;
    let rs = der::parse_ecdsa_signature(signature).map_err(MspError::BadSignature)?;
    if rs.s > half_order(&ec)? {
        return Err(MspError::BadSignature(
            "invalid S: must be smaller than half the curve order (high-S signatures are refused)"
                .into(),
        ));
    }
    let sig = EcdsaSig::from_private_components(rs.r, rs.s).map_err(crypto_err)?;
    match sig.verify(digest, &ec) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(MspError::BadSignature("the signature is invalid".into())),
    }
}

/// Signs a digest and returns a low-S DER signature.
pub fn sign_digest(key: &PKeyRef<Private>, digest: &[u8]) -> Result<Vec<u8>, MspError> {
    let ec = key
        .ec_key()
        .map_err(|_| MspError::Unsupported("only ECDSA signing keys are supported".into()))?;
    let sig = EcdsaSig::sign(digest, &ec).map_err(crypto_err)?;
    let r = sig.r().to_owned().map_err(crypto_err)?;
    let s = to_low_s(&ec, sig.s().to_owned().map_err(crypto_err)?)?;
    Ok(der::encode_ecdsa_signature(&r, &s))
}

/// Re-encodes an ECDSA signature with low S relative to `key`'s curve (Fabric's
/// `SignatureToLowS`), as used for certificate sanitizing.
pub fn signature_to_low_s(key: &PKeyRef<Public>, signature: &[u8]) -> Result<Vec<u8>, MspError> {
    let ec = key.ec_key().map_err(|_| {
        MspError::Malformed("ECDSA-signed certificate issued by a non-EC key".into())
    })?;
    let rs = der::parse_ecdsa_signature(signature).map_err(MspError::Malformed)?;
    let s = to_low_s(&ec, rs.s)?;
    Ok(der::encode_ecdsa_signature(&rs.r, &s))
}

/// Whether `a` and `b` are the same public key.
pub fn same_public_key<A: HasPublic, B: HasPublic>(a: &PKeyRef<A>, b: &PKeyRef<B>) -> bool {
    a.public_eq(b)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::PKey;

    pub fn ec_key(nid: Nid) -> PKey<Private> {
        let group = EcGroup::from_curve_name(nid).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    }

    /// The high-S twin of a low-S signature: (r, n - s).
    pub fn high_s_twin(key: &PKey<Private>, signature: &[u8]) -> Vec<u8> {
        let ec = key.ec_key().unwrap();
        let rs = der::parse_ecdsa_signature(signature).unwrap();
        let mut order = BigNum::new().unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        ec.group().order(&mut order, &mut ctx).unwrap();
        let mut high = BigNum::new().unwrap();
        high.checked_sub(&order, &rs.s).unwrap();
        der::encode_ecdsa_signature(&rs.r, &high)
    }

    // Mirrors bccsp/sw verifyECDSA: low-S verifies, its high-S twin is refused.
    #[test]
    fn low_s_verifies_high_s_twin_refused_on_both_curves() {
        for nid in [Nid::X9_62_PRIME256V1, Nid::SECP384R1] {
            let key = ec_key(nid);
            let digest = HashFamily::Sha2.digest(b"message").unwrap();
            for _ in 0..8 {
                let sig = sign_digest(&key, &digest).unwrap();
                verify_digest(&key, &sig, &digest).unwrap();
                let high = high_s_twin(&key, &sig);
                let err = verify_digest(&key, &high, &digest).unwrap_err();
                assert!(err.to_string().contains("high-S"), "{err}");
                // The twin is a mathematically valid signature: openssl alone accepts it.
                let ec = key.ec_key().unwrap();
                assert!(
                    EcdsaSig::from_der(&high)
                        .unwrap()
                        .verify(&digest, &ec)
                        .unwrap()
                );
            }
            let wrong = HashFamily::Sha2.digest(b"other").unwrap();
            let sig = sign_digest(&key, &digest).unwrap();
            assert!(verify_digest(&key, &sig, &wrong).is_err());
        }
    }
}
