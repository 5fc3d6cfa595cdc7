//! Fabric's `_lifecycle` system chaincode: chaincode packages, approvals and definitions, stored
//! with Fabric's exact state layout so Go and Weft peers on one channel read each other's
//! approvals and definitions.
//!
//! - [`state`]: the key layout and serializer (Fabric's `serializer.go`).
//! - [`definition`]: the stored records, [`committed_definition`] for the endorser and committer,
//!   and the default policies.
//! - [`package`]: install packages and the peer's package store.
//! - [`resolve`]: what the endorser and validator look up: this org's package for a committed
//!   chaincode, and the validation plugin and policy of a namespace or collection.
//! - [`scc`]: the system chaincode itself, and the [`scc::PeerContext`] the peer provides.
//! - [`validate`]: the checks Fabric applies to a proposed definition.

pub mod definition;
pub mod error;
pub mod package;
pub mod resolve;
pub mod scc;
pub mod state;
pub mod validate;

pub use definition::{
    ChaincodeDefinition, ChaincodeLocalPackage, ChaincodeParameters, committed_definition,
    default_endorsement_policy_bytes, lifecycle_validation_parameter,
};
pub use error::LifecycleError;
pub use package::{ChaincodePackage, InstalledPackage, PackageMetadata, PackageStore};
pub use scc::{ChaincodeReference, ChannelView, LifecycleScc, PeerContext};
pub use state::LIFECYCLE_NAMESPACE;
