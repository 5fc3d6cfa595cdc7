//! X.509 identities and signing identities.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fabric_protos::common::MspPrincipal;
use fabric_protos::msp::SerializedIdentity;
use openssl::pkey::{PKey, Private};
use prost::Message;

use crate::api::{Identity, IdentityIdentifier, MspError, SigningIdentity};
use crate::cert::Certificate;
use crate::crypto;
use crate::principal;
use crate::state::{MspState, NodeRole, OuIdentifier};

/// Signatures an identity remembers having verified; past this many the oldest is forgotten.
/// The endorser checks a proposal's signature, then the ACL policy checks the same signature
/// over the same bytes again (as Fabric does): the second check finds it here.
pub const VERIFIED_SIGNATURES_MAX: usize = 64;

/// An identity of an X.509 MSP: a sanitized certificate plus its MSP. Validation runs once
/// and its outcome is kept (Fabric caches it on the identity too); so do its OUs, which take a
/// certification chain to compute and which every role principal (`Org.member`, `Org.peer`)
/// asks for. Both depend only on the certificate and the MSP's config, which an identity never
/// outlives.
pub struct X509Identity {
    identifier: IdentityIdentifier,
    cert: Arc<Certificate>,
    serialized: Vec<u8>,
    pub(crate) msp: Arc<MspState>,
    validation: OnceLock<Result<(), MspError>>,
    organizational_units: OnceLock<Vec<OuIdentifier>>,
    /// SHA-256 of (digest, signature) pairs that verified under this identity's key, newest
    /// last. Verification is a pure function of key, digest and signature, so a remembered
    /// success is the answer a new check would give.
    verified: Mutex<VecDeque<[u8; 32]>>,
}

impl std::fmt::Debug for X509Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X509Identity")
            .field("identifier", &self.identifier)
            .finish_non_exhaustive()
    }
}

impl X509Identity {
    pub(crate) fn new(msp: Arc<MspState>, cert: Arc<Certificate>) -> Result<Self, MspError> {
        let digest = crypto::identifier_digest(&msp.identifier_hash, &cert.der)?;
        let serialized = SerializedIdentity {
            mspid: msp.name.clone(),
            id_bytes: cert.to_pem(),
        }
        .encode_to_vec();
        Ok(Self {
            identifier: IdentityIdentifier {
                msp_id: msp.name.clone(),
                id: hex::encode(digest),
            },
            cert,
            serialized,
            msp,
            validation: OnceLock::new(),
            organizational_units: OnceLock::new(),
            verified: Mutex::new(VecDeque::new()),
        })
    }

    pub(crate) fn certificate(&self) -> &Arc<Certificate> {
        &self.cert
    }

    /// The certificate (after low-S sanitizing) in DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert.der
    }

    /// The identity's OUs with their certifiers identifiers.
    pub fn organizational_units(&self) -> Vec<OuIdentifier> {
        self.ous().to_vec()
    }

    fn verified_lately(&self) -> std::sync::MutexGuard<'_, VecDeque<[u8; 32]>> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn ous(&self) -> &[OuIdentifier] {
        self.organizational_units
            .get_or_init(|| self.msp.organizational_units(&self.cert))
    }

    /// The NodeOU roles this identity carries (empty when NodeOUs are off).
    pub fn node_roles(&self) -> Vec<NodeRole> {
        self.msp.node_roles_among(self.ous())
    }

    /// Whether this identity carries the NodeOU of `role` (see [`MspState::has_node_role`]).
    pub fn has_node_role(&self, role: NodeRole) -> Result<(), MspError> {
        self.msp.has_node_role_among(self.ous(), role)
    }
}

fn unix_to_system_time(unix: i64) -> SystemTime {
    if unix >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
    }
}

impl Identity for X509Identity {
    fn identifier(&self) -> &IdentityIdentifier {
        &self.identifier
    }

    fn validate(&self) -> Result<(), MspError> {
        self.validation
            .get_or_init(|| self.msp.validate_cert(&self.cert))
            .clone()
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), MspError> {
        let digest = self.msp.hash_family.digest(message)?;
        let mut seen = openssl::sha::Sha256::new();
        seen.update(&(digest.len() as u64).to_be_bytes());
        seen.update(&digest);
        seen.update(signature);
        let seen = seen.finish();
        if self.verified_lately().contains(&seen) {
            return Ok(());
        }
        crypto::verify_digest(&self.cert.public_key, signature, &digest)?;
        let mut verified = self.verified_lately();
        if verified.len() >= VERIFIED_SIGNATURES_MAX {
            verified.pop_front();
        }
        verified.push_back(seen);
        Ok(())
    }

    fn satisfies_principal(&self, principal: &MspPrincipal) -> Result<(), MspError> {
        principal::satisfies(self, principal)
    }

    fn serialize(&self) -> Vec<u8> {
        self.serialized.clone()
    }

    fn expires_at(&self) -> Option<SystemTime> {
        Some(unix_to_system_time(self.cert.not_after))
    }
}

/// An identity with its private key (the local node's, or a client's).
pub struct X509SigningIdentity {
    identity: X509Identity,
    key: PKey<Private>,
}

impl std::fmt::Debug for X509SigningIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X509SigningIdentity")
            .field("identifier", &self.identity.identifier)
            .finish_non_exhaustive()
    }
}

impl X509SigningIdentity {
    pub(crate) fn new(identity: X509Identity, key: PKey<Private>) -> Result<Self, MspError> {
        if !crypto::same_public_key(&identity.cert.public_key, &key) {
            return Err(MspError::Config(
                "the private key does not match the signing certificate".into(),
            ));
        }
        Ok(Self { identity, key })
    }

    /// The public half of this signing identity.
    pub fn public_identity(&self) -> &X509Identity {
        &self.identity
    }
}

impl Identity for X509SigningIdentity {
    fn identifier(&self) -> &IdentityIdentifier {
        self.identity.identifier()
    }
    fn validate(&self) -> Result<(), MspError> {
        self.identity.validate()
    }
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), MspError> {
        self.identity.verify(message, signature)
    }
    fn satisfies_principal(&self, principal: &MspPrincipal) -> Result<(), MspError> {
        self.identity.satisfies_principal(principal)
    }
    fn serialize(&self) -> Vec<u8> {
        self.identity.serialize()
    }
    fn expires_at(&self) -> Option<SystemTime> {
        self.identity.expires_at()
    }
}

impl SigningIdentity for X509SigningIdentity {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, MspError> {
        let digest = self.identity.msp.hash_family.digest(message)?;
        crypto::sign_digest(&self.key, &digest)
    }
}
