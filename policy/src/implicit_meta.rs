//! Implicit meta policies: ANY, ALL or MAJORITY of the same-named policy in every child group
//! (Fabric's `policies.ImplicitMetaPolicy`).
//!
//! The threshold is computed as Fabric does, over the number of child groups (a child that
//! lacks the sub-policy contributes a policy that always fails):
//! ANY = 1, ALL = children, MAJORITY = children / 2 + 1, and 0 when there are no children (so
//! the policy holds trivially). A rule value outside the enum leaves the threshold at 0, and
//! Fabric's countdown then only succeeds when *no* sub-policy is satisfied; that quirk is kept.

use std::sync::Arc;

use fabric_protos::common::{self as pb, implicit_meta_policy};
use prost::Message;

use crate::api::{Policy, PolicyError, SignedData};

/// Evaluates a sub-policy in each child group and counts the successes.
#[derive(Debug, Clone)]
pub struct ImplicitMetaPolicy {
    sub_policy_name: String,
    threshold: usize,
    sub_policies: Vec<Arc<dyn Policy>>,
}

impl ImplicitMetaPolicy {
    /// Builds the policy from its definition and the sub-policy of each child group, in a
    /// fixed order (the result does not depend on the order).
    pub fn new(definition: &pb::ImplicitMetaPolicy, sub_policies: Vec<Arc<dyn Policy>>) -> Self {
        let count = sub_policies.len();
        let threshold = if count == 0 {
            0
        } else {
            match implicit_meta_policy::Rule::try_from(definition.rule) {
                Ok(implicit_meta_policy::Rule::Any) => 1,
                Ok(implicit_meta_policy::Rule::All) => count,
                Ok(implicit_meta_policy::Rule::Majority) => count / 2 + 1,
                Err(_) => 0,
            }
        };
        Self {
            sub_policy_name: definition.sub_policy.clone(),
            threshold,
            sub_policies,
        }
    }

    /// Decodes a marshalled `common.ImplicitMetaPolicy` (a config policy of type IMPLICIT_META).
    pub fn decode_definition(bytes: &[u8]) -> Result<pb::ImplicitMetaPolicy, PolicyError> {
        pb::ImplicitMetaPolicy::decode(bytes)
            .map_err(|e| PolicyError::Invalid(format!("cannot decode ImplicitMetaPolicy: {e}")))
    }

    /// How many sub-policies must hold.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The name looked up in each child group.
    pub fn sub_policy_name(&self) -> &str {
        &self.sub_policy_name
    }
}

impl Policy for ImplicitMetaPolicy {
    fn evaluate_signed_data(&self, signed: &[SignedData]) -> Result<(), PolicyError> {
        // Fabric counts down from the threshold and stops as soon as it reaches zero.
        let mut remaining = i64::try_from(self.threshold).unwrap_or(i64::MAX);
        for policy in &self.sub_policies {
            if policy.evaluate_signed_data(signed).is_ok() {
                remaining -= 1;
                if remaining == 0 {
                    return Ok(());
                }
            }
        }
        if remaining == 0 {
            return Ok(());
        }
        let threshold = self.threshold;
        let satisfied = i64::try_from(threshold).unwrap_or(i64::MAX) - remaining;
        Err(PolicyError::NotSatisfied(format!(
            "implicit policy evaluation failed: {satisfied} sub-policies were satisfied, but \
             {threshold} of the '{}' sub-policies must be",
            self.sub_policy_name
        )))
    }
}

/// The policy a lookup of a missing name yields: it never holds (Fabric's `rejectPolicy`).
#[derive(Debug, Clone)]
pub struct RejectPolicy {
    name: String,
}

impl RejectPolicy {
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

impl Policy for RejectPolicy {
    fn evaluate_signed_data(&self, _signed: &[SignedData]) -> Result<(), PolicyError> {
        Err(PolicyError::NotFound(format!("'{}'", self.name)))
    }
}
