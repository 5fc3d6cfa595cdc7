//! Fabric policies: signature policies (`SignaturePolicyEnvelope`), implicit meta policies,
//! the policy manager over config paths, and Fabric's policy language.
//!
//! The evaluation rules reproduce Fabric v2.5 (`common/cauthdsl`, `common/policies`,
//! `common/policydsl`) decision for decision; where Weft adds a limit that Fabric lacks
//! (nesting depth, rule and principal counts, policy-string size) it is a named constant
//! documented next to the code that enforces it.

pub mod api;
pub mod dsl;
pub mod identities;
pub mod implicit_meta;
pub mod manager;
pub mod signature;

pub use api::{Policy, PolicyError, PolicyManager, SignedData};
pub use dsl::{from_string, implicit_meta_from_string};
pub use identities::signature_set_to_valid_identities;
pub use implicit_meta::{ImplicitMetaPolicy, RejectPolicy};
pub use manager::{GroupPolicyManager, MAX_GROUP_DEPTH};
pub use signature::{
    MAX_SIGNATURE_POLICY_DEPTH, MAX_SIGNATURE_POLICY_PRINCIPALS, MAX_SIGNATURE_POLICY_RULES,
    SignaturePolicy,
};
