//! Runs testdata/evaluate.txt: signature-policy decisions as Fabric's cauthdsl makes them.

use std::sync::Arc;

use weft_policy::{Policy, SignaturePolicy, from_string};

use crate::fake::{FakeDeserializer, signed};

struct Case {
    name: String,
    policy: String,
    signers: Vec<String>,
    ok: bool,
    calls: Option<usize>,
}

fn load() -> (FakeDeserializer, Vec<Case>) {
    let text = include_str!("../../testdata/evaluate.txt");
    let mut deserializer = FakeDeserializer::default();
    let mut cases = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("identity ") {
            let fields: Vec<&str> = rest.split_whitespace().collect();
            assert!(
                fields.len() >= 3,
                "line {}: identity needs name, msp, id",
                number + 1
            );
            deserializer.add_with_id(fields[0], fields[1], fields[2], &fields[3..]);
        } else if let Some(rest) = line.strip_prefix("case ") {
            let fields: Vec<&str> = rest.split('|').map(str::trim).collect();
            assert_eq!(fields.len(), 5, "line {}: case needs 5 fields", number + 1);
            let signers = match fields[2] {
                "-" => Vec::new(),
                list => list.split_whitespace().map(str::to_owned).collect(),
            };
            cases.push(Case {
                name: fields[0].to_owned(),
                policy: fields[1].to_owned(),
                signers,
                ok: match fields[3] {
                    "ok" => true,
                    "fail" => false,
                    other => panic!("line {}: expected ok or fail, got {other}", number + 1),
                },
                calls: match fields[4] {
                    "-" => None,
                    n => Some(n.parse().unwrap()),
                },
            });
        } else {
            panic!("line {}: cannot parse {line:?}", number + 1);
        }
    }
    (deserializer, cases)
}

#[test]
fn evaluation_table() {
    let (deserializer, cases) = load();
    assert!(cases.len() >= 20, "the table should not silently shrink");
    let deserializer = Arc::new(deserializer);
    let mut failures = Vec::new();
    for case in &cases {
        let envelope = from_string(&case.policy).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let policy = SignaturePolicy::from_envelope(envelope, deserializer.clone()).unwrap();
        let signed: Vec<_> = case
            .signers
            .iter()
            .map(|s| signed(s, b"the signed payload"))
            .collect();
        deserializer.reset_calls();
        let result = policy.evaluate_signed_data(&signed);
        let calls = deserializer.calls();
        if result.is_ok() != case.ok {
            failures.push(format!(
                "{}: expected ok={}, got {result:?}",
                case.name, case.ok
            ));
        }
        if let Some(expected) = case.calls
            && expected != calls
        {
            failures.push(format!(
                "{}: expected {expected} satisfies_principal calls, got {calls}",
                case.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A signature over other data than the identity signed is a bad signature.
#[test]
fn signature_over_other_data_is_ignored() {
    let mut deserializer = FakeDeserializer::default();
    deserializer.add("a", "A", &["A.member"]);
    let policy = SignaturePolicy::from_envelope(
        from_string("OR('A.member')").unwrap(),
        Arc::new(deserializer),
    )
    .unwrap();
    let mut item = signed("a", b"original");
    assert!(
        policy
            .evaluate_signed_data(std::slice::from_ref(&item))
            .is_ok()
    );
    item.data = b"tampered".to_vec();
    assert!(policy.evaluate_signed_data(&[item]).is_err());
}
