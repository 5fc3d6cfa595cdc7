//! Runs testdata/dsl.txt and pins encodings: Fabric's policydsl.FromString and configtxgen's
//! implicit meta parser.

use std::sync::Arc;

use fabric_protos::common::{
    MspRole, SignaturePolicy as PbRule, SignaturePolicyEnvelope, implicit_meta_policy, msp_role,
    signature_policy,
};
use prost::Message;
use weft_policy::dsl::MAX_POLICY_STRING_BYTES;
use weft_policy::{
    MAX_SIGNATURE_POLICY_DEPTH, SignaturePolicy, from_string, implicit_meta_from_string,
};

use crate::fake::FakeDeserializer;

fn render_rule(rule: &PbRule) -> String {
    match rule.r#type.as_ref().unwrap() {
        signature_policy::Type::SignedBy(i) => format!("by({i})"),
        signature_policy::Type::NOutOf(gate) => {
            let mut parts = vec![gate.n.to_string()];
            parts.extend(gate.rules.iter().map(render_rule));
            format!("outof({})", parts.join(", "))
        }
    }
}

/// `rule ; principals` in the notation of testdata/dsl.txt.
pub fn render(envelope: &SignaturePolicyEnvelope) -> String {
    assert_eq!(envelope.version, 0);
    let principals: Vec<String> = envelope
        .identities
        .iter()
        .map(|p| {
            assert_eq!(p.principal_classification, 0, "ROLE principals only");
            let role = MspRole::decode(p.principal.as_slice()).unwrap();
            let name = msp_role::MspRoleType::try_from(role.role)
                .unwrap()
                .as_str_name()
                .to_lowercase();
            format!("{}.{name}", role.msp_identifier)
        })
        .collect();
    format!(
        "{} ; {}",
        render_rule(envelope.rule.as_ref().unwrap()),
        principals.join(" ")
    )
}

#[test]
fn dsl_table() {
    let text = include_str!("../../testdata/dsl.txt");
    let mut failures = Vec::new();
    let mut count = 0;
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        count += 1;
        let (kind, rest) = line.split_once(' ').unwrap();
        let (policy, expected) = rest.split_once(" => ").unwrap();
        match (kind, from_string(policy)) {
            ("ok", Ok(envelope)) => {
                let got = render(&envelope);
                if got != expected.trim() {
                    failures.push(format!("{policy}: expected {expected}, got {got}"));
                }
            }
            ("err", Err(e)) => {
                if !e.to_string().contains(expected.trim()) {
                    failures.push(format!(
                        "{policy}: expected error with {expected:?}, got {e}"
                    ));
                }
            }
            (kind, got) => failures.push(format!("{policy}: expected {kind}, got {got:?}")),
        }
    }
    assert!(count >= 50, "the table should not silently shrink");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Bytes derived by hand from the protobuf encoding rules: proto3 zero values (version 0,
/// classification ROLE, role MEMBER) are omitted, SignedBy(0) in a oneof is written.
#[test]
fn or_single_member_encodes_canonically() {
    let envelope = from_string("OR('A.member')").unwrap();
    assert_eq!(
        hex::encode(envelope.encode_to_vec()),
        "120812060801120208001a0512030a0141"
    );
}

#[test]
fn error_names_the_position() {
    let err = from_string("OR('A.member', ?)").unwrap_err().to_string();
    assert!(err.contains("at byte 15"), "{err}");
}

fn nested_ors(levels: usize) -> String {
    format!("{}'A.member'{}", "OR(".repeat(levels), ")".repeat(levels))
}

#[test]
fn nesting_up_to_the_bound_parses_and_compiles() {
    let envelope = from_string(&nested_ors(MAX_SIGNATURE_POLICY_DEPTH)).unwrap();
    let policy = SignaturePolicy::from_envelope(envelope, Arc::new(FakeDeserializer::default()));
    assert!(policy.is_ok(), "{policy:?}");
}

#[test]
fn nesting_beyond_the_bound_is_rejected() {
    let err = from_string(&nested_ors(MAX_SIGNATURE_POLICY_DEPTH + 1)).unwrap_err();
    assert!(err.to_string().contains("deeper than"), "{err}");
    // Far deeper input must fail the same way, without exhausting the stack.
    assert!(from_string(&nested_ors(100_000)).is_err());
}

#[test]
fn oversized_string_is_rejected() {
    let policy = format!("OR('A.member'{})", " ".repeat(MAX_POLICY_STRING_BYTES));
    let err = from_string(&policy).unwrap_err();
    assert!(err.to_string().contains("bytes"), "{err}");
}

/// Fabric's policydsl has no principal limit: thousands of principals parse, one per
/// occurrence; only Weft's string length bound stops wider policies.
#[test]
fn many_principals_parse_up_to_the_string_bound() {
    let principals = vec!["'A.peer'"; 5000].join(",");
    let envelope = from_string(&format!("OR({principals})")).unwrap();
    assert_eq!(envelope.identities.len(), 5000);
    let principals = vec!["'A.peer'"; 8000].join(",");
    let err = from_string(&format!("OR({principals})")).unwrap_err();
    assert!(err.to_string().contains("bytes"), "{err}");
}

/// configtxgen's ImplicitMetaFromString: exactly two space-separated tokens.
#[test]
fn implicit_meta_strings() {
    use implicit_meta_policy::Rule;
    let cases: &[(&str, Option<(Rule, &str)>)] = &[
        ("ANY Readers", Some((Rule::Any, "Readers"))),
        ("ALL Writers", Some((Rule::All, "Writers"))),
        ("MAJORITY Admins", Some((Rule::Majority, "Admins"))),
        // An empty second token is accepted as an empty sub-policy name, as in Fabric.
        ("ANY ", Some((Rule::Any, ""))),
        ("any Readers", None),
        ("ANY  Readers", None),
        ("ANY", None),
        ("ANY Readers Writers", None),
        ("SOME Readers", None),
        (" Readers", None),
    ];
    for (input, expected) in cases {
        let got = implicit_meta_from_string(input);
        match expected {
            Some((rule, sub)) => {
                let got = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
                assert_eq!(got.rule, *rule as i32, "{input:?}");
                assert_eq!(got.sub_policy, *sub, "{input:?}");
            }
            None => assert!(got.is_err(), "{input:?} should fail, got {got:?}"),
        }
    }
}
