//! The identity contract shared by policies, channel config, the peer and the orderer.
//!
//! It mirrors Fabric's `msp.Identity`, `msp.SigningIdentity` and `msp.IdentityDeserializer`:
//! identities arrive as marshalled `msp.SerializedIdentity` bytes, are deserialized by the MSP
//! named inside them, and are then validated, matched against principals and used to verify
//! signatures.

use std::sync::Arc;
use std::time::SystemTime;

use fabric_protos::common::MspPrincipal;

/// Why an identity or signature was refused. Messages tell an operator what to fix.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum MspError {
    #[error("malformed identity: {0}")]
    Malformed(String),
    #[error("MSP {0} is unknown on this channel; check the MSP ID in the client's identity")]
    UnknownMsp(String),
    #[error("identity is not valid for MSP {msp_id}: {reason}")]
    InvalidIdentity { msp_id: String, reason: String },
    #[error("signature verification failed: {0}")]
    BadSignature(String),
    #[error("identity does not satisfy principal: {0}")]
    PrincipalMismatch(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("MSP configuration error: {0}")]
    Config(String),
    #[error("cryptographic operation failed: {0}")]
    Crypto(String),
}

/// Identifies an identity for deduplication: the MSP ID and the hex SHA-256 of the certificate
/// (Fabric's `IdentityIdentifier`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityIdentifier {
    pub msp_id: String,
    pub id: String,
}

/// A deserialized identity of some MSP.
pub trait Identity: Send + Sync + std::fmt::Debug {
    fn identifier(&self) -> &IdentityIdentifier;
    fn msp_id(&self) -> &str {
        &self.identifier().msp_id
    }
    /// Validates the identity against its MSP (chain, CRLs, OUs, NodeOUs). Certificate expiry
    /// is deliberately not checked here: Fabric validates as of NotBefore+1s so that replaying
    /// old blocks decides the same way. Use [`Identity::expires_at`] at entry points instead.
    fn validate(&self) -> Result<(), MspError>;
    /// Verifies `signature` (ECDSA DER, low-S required) over `message` (hashed by the MSP's
    /// hash function, SHA-256 for Fabric's default).
    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), MspError>;
    /// Checks the identity against an MSP principal (ROLE, ORGANIZATION_UNIT, IDENTITY...).
    fn satisfies_principal(&self, principal: &MspPrincipal) -> Result<(), MspError>;
    /// The marshalled `msp.SerializedIdentity`.
    fn serialize(&self) -> Vec<u8>;
    /// When the certificate stops being valid (NotAfter), if it has a certificate.
    fn expires_at(&self) -> Option<SystemTime>;
}

/// An identity that can also sign (the local node or a client).
pub trait SigningIdentity: Identity {
    /// Signs `message` (hashing it first), returning a low-S DER ECDSA signature.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, MspError>;
}

/// Turns `msp.SerializedIdentity` bytes into identities (an MSP, or a manager over a channel's
/// MSPs that dispatches on the MSP ID).
pub trait IdentityDeserializer: Send + Sync {
    fn deserialize_identity(&self, serialized: &[u8]) -> Result<Arc<dyn Identity>, MspError>;
}
