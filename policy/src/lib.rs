//! Fabric policies: signature policies (`SignaturePolicyEnvelope`), implicit meta policies,
//! the policy manager over config paths, and Fabric's policy language.

pub mod api;

pub use api::{Policy, PolicyError, PolicyManager, SignedData};
