//! X.509 membership service providers (MSPs), as Fabric's `msp` package defines them.
//!
//! The traits in [`api`] are the contract the policy and channel-config crates program
//! against; the X.509 implementation lives beside them.

pub mod api;

pub use api::{Identity, IdentityDeserializer, IdentityIdentifier, MspError, SigningIdentity};
