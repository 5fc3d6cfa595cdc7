//! Golden check against upstream Fabric v2.5.9: configtxgen embeds each policy of
//! testdata/dsl.txt (and the implicit meta strings) into an organization group; the bytes it
//! produces must equal Weft's, and the expressions Weft rejects must be rejected by Fabric too.
//! Fails (never skips) when the upstream binaries are missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use fabric_protos::common::ConfigGroup;
use prost::Message;
use weft_policy::{from_string, implicit_meta_from_string};

fn bin(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.cache/upstream/fabric-2.5.9/bin")
        .join(name);
    assert!(
        path.is_file(),
        "upstream binary {} is missing; build or fetch Fabric v2.5.9 into .cache/upstream",
        path.display()
    );
    path
}

fn run(command: &mut Command) -> Result<Vec<u8>, String> {
    let out = command.output().expect("cannot start upstream binary");
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// An MSP directory for the organization configtxgen prints (it insists on a valid one).
fn msp_dir(dir: &Path) -> PathBuf {
    let config = dir.join("crypto.yaml");
    std::fs::write(
        &config,
        "PeerOrgs:\n  - Name: Org1\n    Domain: org1.example.com\n    Template:\n      Count: 1\n    Users:\n      Count: 0\n",
    )
    .unwrap();
    run(Command::new(bin("cryptogen"))
        .arg("generate")
        .arg("--config")
        .arg(&config)
        .arg("--output")
        .arg(dir.join("crypto")))
    .unwrap();
    dir.join("crypto/peerOrganizations/org1.example.com/msp")
}

/// Writes configtx.yaml with the given (name, type, rule) policies plus the three configtxgen
/// requires, and returns the organization group configtxgen prints, re-encoded by configtxlator.
fn configtxgen_org(
    dir: &Path,
    msp: &Path,
    policies: &[(String, &str, String)],
) -> Result<ConfigGroup, String> {
    let mut yaml = format!(
        "Organizations:\n  - Name: Org1MSP\n    ID: Org1MSP\n    MSPDir: {}\n    Policies:\n",
        serde_json::to_string(msp.to_str().unwrap()).unwrap()
    );
    let required = [
        (
            "Admins".to_owned(),
            "Signature",
            "OR('Org1MSP.admin')".to_owned(),
        ),
        (
            "Readers".to_owned(),
            "Signature",
            "OR('Org1MSP.member')".to_owned(),
        ),
        (
            "Writers".to_owned(),
            "Signature",
            "OR('Org1MSP.member')".to_owned(),
        ),
    ];
    for (name, kind, rule) in required.iter().chain(policies) {
        yaml.push_str(&format!(
            "      {name}:\n        Type: {kind}\n        Rule: {}\n",
            serde_json::to_string(rule).unwrap()
        ));
    }
    std::fs::write(dir.join("configtx.yaml"), yaml).unwrap();
    let json = run(Command::new(bin("configtxgen"))
        .arg("-printOrg")
        .arg("Org1MSP")
        .arg("-configPath")
        .arg(dir))?;
    // configtxlator cannot re-encode the MSP value outside a channel context; only the
    // policies matter here.
    let mut group: serde_json::Value = serde_json::from_slice(&json).unwrap();
    group.as_object_mut().unwrap().remove("values");
    let json_path = dir.join("org.json");
    let pb_path = dir.join("org.pb");
    std::fs::write(&json_path, serde_json::to_vec(&group).unwrap()).unwrap();
    run(Command::new(bin("configtxlator"))
        .args(["proto_encode", "--type", "common.ConfigGroup", "--input"])
        .arg(&json_path)
        .arg("--output")
        .arg(&pb_path))
    .unwrap();
    Ok(ConfigGroup::decode(std::fs::read(&pb_path).unwrap().as_slice()).unwrap())
}

fn dsl_lines(kind: &str) -> Vec<String> {
    include_str!("../../testdata/dsl.txt")
        .lines()
        .filter_map(|line| line.strip_prefix(kind)?.strip_prefix(' '))
        .map(|rest| rest.split_once(" => ").unwrap().0.to_owned())
        .collect()
}

#[test]
fn upstream_policy_bytes_match_configtxgen() {
    let dir = tempfile::tempdir().unwrap();
    let msp = msp_dir(dir.path());
    let mut policies = Vec::new();
    for (i, expr) in dsl_lines("ok").into_iter().enumerate() {
        policies.push((format!("S{i:03}"), "Signature", expr));
    }
    for (i, expr) in ["ANY Readers", "ALL Writers", "MAJORITY Admins", "ANY "]
        .into_iter()
        .enumerate()
    {
        policies.push((format!("M{i:03}"), "ImplicitMeta", expr.to_owned()));
    }
    assert!(policies.len() > 25);
    let group = configtxgen_org(dir.path(), &msp, &policies).unwrap();
    let mut mismatches = Vec::new();
    for (name, kind, expr) in &policies {
        let upstream = &group.policies[name].policy.as_ref().unwrap().value;
        let ours = if *kind == "Signature" {
            from_string(expr).unwrap().encode_to_vec()
        } else {
            implicit_meta_from_string(expr).unwrap().encode_to_vec()
        };
        if &ours != upstream {
            mismatches.push(format!(
                "{expr}: upstream {} ours {}",
                hex::encode(upstream),
                hex::encode(&ours)
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn upstream_rejects_what_weft_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let msp = msp_dir(dir.path());
    let mut accepted = Vec::new();
    let rejected = dsl_lines("err");
    assert!(rejected.len() > 20);
    for expr in rejected {
        assert!(from_string(&expr).is_err(), "{expr}");
        let policy = [("P".to_owned(), "Signature", expr.clone())];
        if configtxgen_org(dir.path(), &msp, &policy).is_ok() {
            accepted.push(expr);
        }
    }
    for expr in ["any Readers", "ANY  Readers", "ANY", "SOME Readers"] {
        assert!(implicit_meta_from_string(expr).is_err(), "{expr}");
        let policy = [("P".to_owned(), "ImplicitMeta", expr.to_owned())];
        if configtxgen_org(dir.path(), &msp, &policy).is_ok() {
            accepted.push(expr.to_owned());
        }
    }
    assert!(accepted.is_empty(), "Fabric accepts: {accepted:?}");
}
