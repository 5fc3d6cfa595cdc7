//! Signature policies: a `SignaturePolicyEnvelope` compiled into an evaluator.
//!
//! Evaluation reproduces Fabric's `cauthdsl` exactly, including its greedy, order-dependent
//! choices:
//! - every identity may satisfy at most one `SignedBy` leaf; a leaf takes the first identity
//!   (in signature-set order) that is not yet used and satisfies its principal;
//! - an `NOutOf` gate evaluates *all* of its rules left to right (no short-circuit, so
//!   `satisfies_principal` is called the same number of times as in Fabric); each rule starts
//!   from the gate's current "used" marks, and the marks a rule made are kept only if the rule
//!   succeeded;
//! - the gate holds when the number of satisfied rules is at least `n` (a negative or zero `n`
//!   always holds, an `n` above the number of rules never does).
//!
//! Fabric puts no bound on the policy's shape, and Weft must decide every config update and
//! chaincode definition exactly as Fabric does (a policy one side accepts and the other
//! refuses forks the channel). So Weft's bounds below are placed where they can never bind on
//! a policy that reached it as bytes: the decoder and the message size limit refuse such
//! input first. They remain so that a hand-built envelope cannot exhaust the stack, and so
//! that the rule tree is never larger than the input it came from.

use std::sync::Arc;

use fabric_protos::common::{MspPrincipal, SignaturePolicyEnvelope, signature_policy};
use prost::Message;
use weft_msp::{Identity, IdentityDeserializer};

use crate::api::{Policy, PolicyError, SignedData};
use crate::identities::signature_set_to_valid_identities;

/// Largest message a Weft node accepts from the network (Fabric's default gRPC limit, 100
/// MiB); a config update or chaincode definition carrying a policy is never larger.
const LARGEST_MESSAGE_BYTES: usize = 100 * 1024 * 1024;

/// Deepest nesting of `NOutOf` gates accepted (a bare `SignedBy` has depth 0, `OR('A.member')`
/// depth 1). Real policies use 1 to 4 levels. Fabric has no limit (its decoder allows 10,000
/// nested messages). prost refuses messages nested 100 deep, and every gate level costs two
/// (the `SignaturePolicy` and its `NOutOf`), so no envelope decoded from bytes nests more than
/// 49 gates; this bound sits just above that and only stops hand-built trees.
pub const MAX_SIGNATURE_POLICY_DEPTH: usize = 50;
/// Most rule nodes (gates plus `SignedBy` leaves) accepted in one policy. The smallest rule
/// Fabric accepts, `SignedBy(0)` inside a gate's `rules`, takes 4 bytes on the wire (field
/// tag, length, `signed_by` tag, value), so a policy with more rules than this cannot fit in
/// the largest message; Fabric has no limit of its own.
pub const MAX_SIGNATURE_POLICY_RULES: usize = LARGEST_MESSAGE_BYTES / 4;
/// Most principals (`identities` entries) accepted in one envelope. The smallest entry, an
/// empty `MSPPrincipal`, takes 2 bytes (field tag, zero length), so more than this cannot fit
/// in the largest message; Fabric has no limit of its own.
pub const MAX_SIGNATURE_POLICY_PRINCIPALS: usize = LARGEST_MESSAGE_BYTES / 2;

/// The compiled rule tree; `SignedBy` indices are checked against the principal list.
#[derive(Debug, Clone)]
enum Rule {
    SignedBy(usize),
    NOutOf { n: i32, rules: Vec<Rule> },
}

/// An evaluable signature policy (Fabric's `cauthdsl` policy).
#[derive(Clone)]
pub struct SignaturePolicy {
    envelope: SignaturePolicyEnvelope,
    rule: Rule,
    deserializer: Arc<dyn IdentityDeserializer>,
}

impl std::fmt::Debug for SignaturePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignaturePolicy")
            .field("rule", &self.rule)
            .field("principals", &self.envelope.identities.len())
            .finish_non_exhaustive()
    }
}

impl SignaturePolicy {
    /// Decodes and compiles a marshalled envelope as a config `Policy` of type SIGNATURE
    /// carries it (Fabric's `cauthdsl.NewPolicyProvider`): only version 0 is accepted.
    pub fn from_bytes(
        bytes: &[u8],
        deserializer: Arc<dyn IdentityDeserializer>,
    ) -> Result<Self, PolicyError> {
        let envelope = SignaturePolicyEnvelope::decode(bytes).map_err(|e| {
            PolicyError::Invalid(format!("cannot decode SignaturePolicyEnvelope: {e}"))
        })?;
        if envelope.version != 0 {
            return Err(PolicyError::Invalid(format!(
                "signature policy version {} is not supported; only version 0 is",
                envelope.version
            )));
        }
        Self::from_envelope(envelope, deserializer)
    }

    /// Compiles an already decoded envelope without looking at its version, as Fabric's
    /// `EnvelopeBasedPolicyProvider` does for chaincode endorsement and collection policies.
    pub fn from_envelope(
        envelope: SignaturePolicyEnvelope,
        deserializer: Arc<dyn IdentityDeserializer>,
    ) -> Result<Self, PolicyError> {
        if envelope.identities.len() > MAX_SIGNATURE_POLICY_PRINCIPALS {
            return Err(PolicyError::Invalid(format!(
                "signature policy names {} principals; at most {MAX_SIGNATURE_POLICY_PRINCIPALS} are accepted",
                envelope.identities.len()
            )));
        }
        let root = envelope
            .rule
            .as_ref()
            .ok_or_else(|| PolicyError::Invalid("signature policy has no rule".into()))?;
        let mut budget = MAX_SIGNATURE_POLICY_RULES;
        let rule = compile(root, envelope.identities.len(), 0, &mut budget)?;
        Ok(Self {
            envelope,
            rule,
            deserializer,
        })
    }

    /// The envelope this policy was compiled from (Fabric's `Convert`).
    pub fn envelope(&self) -> &SignaturePolicyEnvelope {
        &self.envelope
    }

    /// Evaluates already verified, deduplicated identities (Fabric's `EvaluateIdentities`).
    pub fn evaluate_identities(&self, identities: &[Arc<dyn Identity>]) -> Result<(), PolicyError> {
        let mut used = vec![false; identities.len()];
        if self
            .rule
            .satisfied(identities, &self.envelope.identities, &mut used)
        {
            Ok(())
        } else {
            Err(PolicyError::NotSatisfied(
                "signature set did not satisfy policy".into(),
            ))
        }
    }
}

impl Policy for SignaturePolicy {
    fn evaluate_signed_data(&self, signed: &[SignedData]) -> Result<(), PolicyError> {
        let identities = signature_set_to_valid_identities(signed, self.deserializer.as_ref());
        self.evaluate_identities(&identities)
    }
}

fn compile(
    policy: &fabric_protos::common::SignaturePolicy,
    principal_count: usize,
    depth: usize,
    budget: &mut usize,
) -> Result<Rule, PolicyError> {
    *budget = budget.checked_sub(1).ok_or_else(|| {
        PolicyError::Invalid(format!(
            "signature policy has more than {MAX_SIGNATURE_POLICY_RULES} rules"
        ))
    })?;
    match &policy.r#type {
        None => Err(PolicyError::Invalid(
            "signature policy contains an empty rule".into(),
        )),
        Some(signature_policy::Type::SignedBy(index)) => usize::try_from(*index)
            .ok()
            .filter(|i| *i < principal_count)
            .map(Rule::SignedBy)
            .ok_or_else(|| {
                PolicyError::Invalid(format!(
                    "signature policy refers to principal {index}, but only {principal_count} are listed"
                ))
            }),
        Some(signature_policy::Type::NOutOf(gate)) => {
            if depth >= MAX_SIGNATURE_POLICY_DEPTH {
                return Err(PolicyError::Invalid(format!(
                    "signature policy nests gates deeper than {MAX_SIGNATURE_POLICY_DEPTH} levels"
                )));
            }
            let rules = gate
                .rules
                .iter()
                .map(|rule| compile(rule, principal_count, depth + 1, budget))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Rule::NOutOf { n: gate.n, rules })
        }
    }
}

impl Rule {
    /// Fabric's greedy evaluation; `used` has one mark per identity.
    fn satisfied(
        &self,
        identities: &[Arc<dyn Identity>],
        principals: &[MspPrincipal],
        used: &mut [bool],
    ) -> bool {
        match self {
            Rule::SignedBy(index) => {
                let Some(principal) = principals.get(*index) else {
                    return false;
                };
                for (identity, taken) in identities.iter().zip(used.iter_mut()) {
                    if *taken {
                        continue;
                    }
                    if identity.satisfies_principal(principal).is_ok() {
                        *taken = true;
                        return true;
                    }
                }
                false
            }
            Rule::NOutOf { n, rules } => {
                let mut trial = vec![false; used.len()];
                let mut verified: i64 = 0;
                for rule in rules {
                    trial.copy_from_slice(used);
                    if rule.satisfied(identities, principals, &mut trial) {
                        verified += 1;
                        used.copy_from_slice(&trial);
                    }
                }
                verified >= i64::from(*n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::common::SignaturePolicy as PbRule;

    fn gate(rules: usize) -> PbRule {
        PbRule {
            r#type: Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
                n: 1,
                rules: vec![
                    PbRule {
                        r#type: Some(signature_policy::Type::SignedBy(0)),
                    };
                    rules
                ],
            })),
        }
    }

    /// The rule budget counts gates and leaves alike and stops compiling once spent (the real
    /// budget, MAX_SIGNATURE_POLICY_RULES, is too large to reach in a test).
    #[test]
    fn rule_budget_counts_every_node() {
        let mut budget = 10;
        assert!(compile(&gate(9), 1, 0, &mut budget).is_ok());
        assert_eq!(budget, 0);
        let mut budget = 10;
        let err = compile(&gate(10), 1, 0, &mut budget).unwrap_err();
        assert!(err.to_string().contains("rules"), "{err}");
    }
}
