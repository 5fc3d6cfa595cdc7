//! The contract the channel-config crate, the orderer and the peer evaluate policies through.

use std::sync::Arc;

/// One signature to evaluate: the signed bytes, the signer's marshalled
/// `msp.SerializedIdentity`, and the signature (Fabric's `protoutil.SignedData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedData {
    pub data: Vec<u8>,
    pub identity: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Why a policy was not satisfied or could not be built.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PolicyError {
    #[error("policy not satisfied: {0}")]
    NotSatisfied(String),
    #[error("invalid policy: {0}")]
    Invalid(String),
    #[error("policy {0} not found")]
    NotFound(String),
}

/// An evaluable policy.
pub trait Policy: Send + Sync + std::fmt::Debug {
    /// Succeeds when the signature set satisfies the policy.
    fn evaluate_signed_data(&self, signed: &[SignedData]) -> Result<(), PolicyError>;
}

/// Policies of a config tree, addressed by path (`/Channel/Application/Writers`, or relative
/// to this manager's group, `Writers`).
pub trait PolicyManager: Send + Sync + std::fmt::Debug {
    fn get_policy(&self, path: &str) -> Option<Arc<dyn Policy>>;
    /// The sub-manager for a child group path (`["Application", "Org1MSP"]`).
    fn manager(&self, path: &[&str]) -> Option<Arc<dyn PolicyManager>>;
}
