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
//! Fabric puts no bound on the policy's shape. Weft does, so that a hostile policy in a config
//! block or chaincode definition cannot exhaust the stack or memory; the bounds are far above
//! any policy seen in practice (which nest a handful of levels and name tens of principals).

use std::sync::Arc;

use fabric_protos::common::{MspPrincipal, SignaturePolicyEnvelope, signature_policy};
use prost::Message;
use weft_msp::{Identity, IdentityDeserializer};

use crate::api::{Policy, PolicyError, SignedData};
use crate::identities::signature_set_to_valid_identities;

/// Deepest nesting of `NOutOf` gates accepted (a bare `SignedBy` has depth 0, `OR('A.member')`
/// depth 1). Real policies use 1 to 4 levels.
pub const MAX_SIGNATURE_POLICY_DEPTH: usize = 32;
/// Most rule nodes (gates plus `SignedBy` leaves) accepted in one policy.
pub const MAX_SIGNATURE_POLICY_RULES: usize = 4096;
/// Most principals (`identities` entries) accepted in one envelope.
pub const MAX_SIGNATURE_POLICY_PRINCIPALS: usize = 4096;

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
