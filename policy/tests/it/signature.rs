//! Compiling SignaturePolicyEnvelopes: what Fabric's cauthdsl accepts and rejects, and Weft's
//! bounds on hostile shapes.

use std::sync::Arc;

use fabric_protos::common::{
    MspPrincipal, MspRole, SignaturePolicy as PbRule, SignaturePolicyEnvelope, signature_policy,
};
use prost::Message;
use weft_msp::Identity;
use weft_policy::{
    MAX_SIGNATURE_POLICY_DEPTH, MAX_SIGNATURE_POLICY_PRINCIPALS, MAX_SIGNATURE_POLICY_RULES,
    Policy, PolicyError, SignaturePolicy,
};

use crate::fake::{FakeDeserializer, signed};

fn by(i: i32) -> PbRule {
    PbRule {
        r#type: Some(signature_policy::Type::SignedBy(i)),
    }
}

fn out_of(n: i32, rules: Vec<PbRule>) -> PbRule {
    PbRule {
        r#type: Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
            n,
            rules,
        })),
    }
}

fn member(msp: &str) -> MspPrincipal {
    MspPrincipal {
        principal_classification: 0,
        principal: MspRole {
            msp_identifier: msp.into(),
            role: 0,
        }
        .encode_to_vec(),
    }
}

fn envelope(rule: PbRule, identities: Vec<MspPrincipal>) -> SignaturePolicyEnvelope {
    SignaturePolicyEnvelope {
        version: 0,
        rule: Some(rule),
        identities,
    }
}

fn deserializer() -> Arc<FakeDeserializer> {
    let mut d = FakeDeserializer::default();
    d.add("a", "A", &["A.member"]);
    d.add("b", "B", &["B.member"]);
    Arc::new(d)
}

fn compile(env: SignaturePolicyEnvelope) -> Result<SignaturePolicy, PolicyError> {
    SignaturePolicy::from_envelope(env, deserializer())
}

/// Fabric's cauthdsl.NewPolicyProvider rejects any version but 0.
#[test]
fn from_bytes_rejects_nonzero_version() {
    let mut env = envelope(out_of(1, vec![by(0)]), vec![member("A")]);
    assert!(SignaturePolicy::from_bytes(&env.encode_to_vec(), deserializer()).is_ok());
    env.version = 1;
    let err = SignaturePolicy::from_bytes(&env.encode_to_vec(), deserializer()).unwrap_err();
    assert!(err.to_string().contains("version 1"), "{err}");
    // The envelope-based provider (chaincode policies) does not look at the version.
    assert!(SignaturePolicy::from_envelope(env, deserializer()).is_ok());
}

#[test]
fn from_bytes_rejects_garbage() {
    assert!(SignaturePolicy::from_bytes(&[0xff, 0xff, 0xff], deserializer()).is_err());
}

/// Fabric: "Empty policy element" for a missing rule, "Unknown type" for an empty oneof, and
/// "identity index out of range" for SignedBy outside the identities list.
#[test]
fn malformed_rules_are_rejected() {
    let no_rule = SignaturePolicyEnvelope {
        version: 0,
        rule: None,
        identities: vec![],
    };
    assert!(compile(no_rule).is_err());
    let empty_oneof = envelope(out_of(1, vec![PbRule { r#type: None }]), vec![member("A")]);
    assert!(compile(empty_oneof).is_err());
    let out_of_range = envelope(out_of(1, vec![by(1)]), vec![member("A")]);
    assert!(compile(out_of_range).is_err());
    let negative = envelope(out_of(1, vec![by(-1)]), vec![member("A")]);
    assert!(compile(negative).is_err());
}

/// An index error deep in an unused branch still rejects the whole policy, as Fabric compiles
/// every rule up front.
#[test]
fn unused_branch_is_still_checked() {
    let env = envelope(
        out_of(1, vec![by(0), out_of(1, vec![by(5)])]),
        vec![member("A")],
    );
    assert!(compile(env).is_err());
}

/// Fabric compares verified >= N, so N <= 0 always holds, even with no signatures and no rules.
#[test]
fn non_positive_threshold_always_holds() {
    for n in [0, -1, i32::MIN] {
        let policy = compile(envelope(out_of(n, vec![]), vec![])).unwrap();
        assert!(policy.evaluate_signed_data(&[]).is_ok(), "n = {n}");
    }
    let reject_all = compile(envelope(out_of(1, vec![]), vec![])).unwrap();
    assert!(
        reject_all
            .evaluate_signed_data(&[signed("a", b"x")])
            .is_err()
    );
}

/// A bare SignedBy root (no gate) is valid in Fabric.
#[test]
fn bare_signed_by_root() {
    let policy = compile(envelope(by(0), vec![member("B")])).unwrap();
    assert!(policy.evaluate_signed_data(&[signed("b", b"x")]).is_ok());
    assert!(policy.evaluate_signed_data(&[signed("a", b"x")]).is_err());
}

fn nested(levels: usize) -> PbRule {
    let mut rule = by(0);
    for _ in 0..levels {
        rule = out_of(1, vec![rule]);
    }
    rule
}

#[test]
fn depth_bound() {
    let ok = compile(envelope(
        nested(MAX_SIGNATURE_POLICY_DEPTH),
        vec![member("A")],
    ))
    .unwrap();
    assert!(ok.evaluate_signed_data(&[signed("a", b"x")]).is_ok());
    let err = compile(envelope(
        nested(MAX_SIGNATURE_POLICY_DEPTH + 1),
        vec![member("A")],
    ))
    .unwrap_err();
    assert!(err.to_string().contains("deeper"), "{err}");
}

/// Fabric has no depth limit, so Weft's must never bind on bytes: every nesting the decoder
/// can read compiles and evaluates, and the first it cannot read is refused by the decoder.
#[test]
fn depth_bound_sits_above_what_decodes() {
    let decodes = |levels: usize| {
        SignaturePolicyEnvelope::decode(
            envelope(nested(levels), vec![member("A")])
                .encode_to_vec()
                .as_slice(),
        )
        .is_ok()
    };
    let deepest = (0..=MAX_SIGNATURE_POLICY_DEPTH + 1)
        .take_while(|levels| decodes(*levels))
        .last()
        .unwrap();
    assert!(deepest < MAX_SIGNATURE_POLICY_DEPTH, "{deepest}");
    assert!(deepest + 1 >= MAX_SIGNATURE_POLICY_DEPTH - 1, "{deepest}");
    let bytes = envelope(nested(deepest), vec![member("A")]).encode_to_vec();
    let policy = SignaturePolicy::from_bytes(&bytes, deserializer()).unwrap();
    assert!(policy.evaluate_signed_data(&[signed("a", b"x")]).is_ok());
    let bytes = envelope(nested(deepest + 1), vec![member("A")]).encode_to_vec();
    let err = SignaturePolicy::from_bytes(&bytes, deserializer()).unwrap_err();
    assert!(err.to_string().contains("decode"), "{err}");
}

/// Deeply nested bytes from the wire are refused while decoding, without stack exhaustion.
#[test]
fn deep_wire_policy_is_rejected() {
    let env = envelope(nested(2_000), vec![member("A")]);
    let bytes = env.encode_to_vec();
    assert!(SignaturePolicy::from_bytes(&bytes, deserializer()).is_err());
}

/// The largest message a node accepts (Fabric's default gRPC limit).
const LARGEST_MESSAGE_BYTES: usize = 100 * 1024 * 1024;

/// Fabric has no rule limit; Weft's is one more rule than the largest message can carry.
#[test]
fn rule_count_bound_is_beyond_the_largest_message() {
    let wire = |rules: usize| envelope(out_of(1, vec![by(0); rules]), vec![member("A")]);
    let per_rule = wire(2).encoded_len() - wire(1).encoded_len();
    assert_eq!(per_rule, 4, "the smallest rule Fabric accepts");
    assert!(MAX_SIGNATURE_POLICY_RULES * per_rule >= LARGEST_MESSAGE_BYTES);
    // Wide policies far beyond any real one compile and evaluate, as in Fabric.
    let wide = compile(wire(20_000)).unwrap();
    assert!(wide.evaluate_signed_data(&[signed("a", b"x")]).is_ok());
    assert!(wide.evaluate_signed_data(&[signed("b", b"x")]).is_err());
}

/// Fabric has no principal limit; Weft's is one more than the largest message can carry.
#[test]
fn principal_count_bound_is_beyond_the_largest_message() {
    let wire = |principals: usize| {
        envelope(
            out_of(1, vec![by(0)]),
            vec![MspPrincipal::default(); principals],
        )
    };
    let per_principal = wire(2).encoded_len() - wire(1).encoded_len();
    assert_eq!(per_principal, 2, "the smallest principal entry");
    assert!(MAX_SIGNATURE_POLICY_PRINCIPALS * per_principal >= LARGEST_MESSAGE_BYTES);
    let many = compile(envelope(out_of(1, vec![by(0)]), vec![member("A"); 20_000])).unwrap();
    assert!(many.evaluate_signed_data(&[signed("a", b"x")]).is_ok());
}

/// EvaluateIdentities skips deserialization and signature checks but keeps the greedy rule.
#[test]
fn evaluate_identities_directly() {
    let d = deserializer();
    let policy = SignaturePolicy::from_envelope(
        envelope(
            out_of(2, vec![by(0), by(1)]),
            vec![member("A"), member("B")],
        ),
        d.clone(),
    )
    .unwrap();
    let a: Arc<dyn Identity> = d.identity("a");
    let b: Arc<dyn Identity> = d.identity("b");
    assert!(policy.evaluate_identities(&[a.clone(), b]).is_ok());
    assert!(policy.evaluate_identities(&[a]).is_err());
    assert_eq!(policy.envelope().identities.len(), 2);
}
