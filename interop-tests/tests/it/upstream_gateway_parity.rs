//! Issue 7's error parity: the unchanged Fabric Gateway Go SDK (interop-tests/gateway-go) runs the
//! same happy path and the same failing requests (unknown function, chaincode error at
//! endorsement and evaluation, unknown chaincode, unknown channel, MVCC conflict at commit, an
//! identity no channel MSP trusts) against an upstream Fabric 2.5.9 network running `basic` as
//! chaincode-as-a-service and against the same network made of Weft nodes running `basic` as
//! WASM. The SDK must report the same error types, gRPC codes, messages, per-org error details
//! and commit codes from both.
//!
//! Then, on each network, Org2's peer is stopped and one more submit must fail the same way: the
//! basic contract's endorsement policy needs Org2, so Fabric's gateway reports the endorsement
//! it could not collect (issue 7's "peer down during endorsement").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use weft_interop_tests::{Network, UpstreamToolchain, repo_root};

fn build_go_client(dir: &Path) -> PathBuf {
    let bin = dir.join("weft-gateway-go");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(repo_root().join("interop-tests/gateway-go"))
        .output()
        .expect("running go (Go 1.22+ must be on PATH)");
    assert!(
        out.status.success(),
        "building the Go gateway client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// Runs the client against `network`, retrying while a fresh upstream network's gossip has not yet
/// learned the other org's peer (its first submit fails until then). Bounded to 15 attempts.
fn run_client(client: &Path, network: &Network) -> BTreeMap<String, Value> {
    let peer = network.peer("peer0.org1.example.com").unwrap();
    let org_dir = peer.crypto_dir.parent().unwrap().parent().unwrap();
    let mut last = String::new();
    for _ in 0..15 {
        let out = Command::new(client)
            .arg(format!("-peer=127.0.0.1:{}", peer.listen.port()))
            .arg(format!("-org={}", org_dir.display()))
            .arg(format!("-channel={}", network.channel()))
            .output()
            .unwrap();
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            let results: BTreeMap<String, Value> = serde_json::from_slice(&out.stdout).unwrap();
            if results["create"]["ok"] == Value::Bool(true) {
                return results;
            }
        }
        std::thread::sleep(std::time::Duration::from_secs(3));
    }
    panic!("the Go gateway client never got through:\n{last}");
}

/// Stops Org2's peer and runs the client's single `peerDown` submit once (a retry would meet a
/// gateway that has already dropped the failed peer, a different case).
fn run_peer_down(client: &Path, network: &mut Network) -> Value {
    network.stop_node("peer0.org2.example.com").unwrap();
    let peer = network.peer("peer0.org1.example.com").unwrap();
    let org_dir = peer.crypto_dir.parent().unwrap().parent().unwrap();
    let out = Command::new(client)
        .arg(format!("-peer=127.0.0.1:{}", peer.listen.port()))
        .arg(format!("-org={}", org_dir.display()))
        .arg(format!("-channel={}", network.channel()))
        .arg("-case=peerDown")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the Go gateway client failed to run the peerDown case:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut results: BTreeMap<String, Value> = serde_json::from_slice(&out.stdout).unwrap();
    results.remove("peerDown").unwrap()
}

/// The parts of an outcome that must agree: everything but payloads that name the network
/// (endpoints) or the transaction.
fn comparable(outcome: &Value) -> Value {
    let mut o = outcome.clone();
    if let Some(map) = o.as_object_mut() {
        map.remove("result");
        if let Some(Value::Array(details)) = map.get_mut("details") {
            for d in details.iter_mut() {
                if let Some(text) = d.as_str() {
                    *d = Value::String(strip_addresses(text));
                }
            }
        }
        if let Some(Value::String(message)) = map.get_mut("message") {
            *message = strip_addresses(message);
        }
    }
    o
}

fn strip_addresses(text: &str) -> String {
    text.split_whitespace()
        .map(|w| {
            if w.contains("127.0.0.1:") || w.contains("localhost:") {
                "<address>"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn go_gateway_sdk_sees_the_same_errors_from_weft_and_upstream() {
    let work = tempfile::tempdir().unwrap();
    let client = build_go_client(work.path());
    let toolchain = UpstreamToolchain::locate("2.5.9").unwrap();

    let (upstream, upstream_peer_down) = {
        let mut network =
            crate::support::two_org_network_with_basic(&toolchain, "paritychannel", None);
        let results = run_client(&client, &network);
        (results, run_peer_down(&client, &mut network))
    };
    assert_eq!(
        upstream_peer_down["ok"],
        Value::Bool(false),
        "a submit needing a stopped peer should fail on upstream: {upstream_peer_down}"
    );
    // The client's own checks of the upstream answers: the failing cases do fail.
    for case in [
        "unknownFunction",
        "endorsementFailure",
        "evaluateFailure",
        "unknownChaincode",
        "unknownChannel",
        "unauthorizedEvaluate",
        "unauthorizedSubmit",
    ] {
        assert_eq!(
            upstream[case]["ok"],
            Value::Bool(false),
            "{case} should fail on upstream: {}",
            upstream[case]
        );
    }
    assert_eq!(
        upstream["mvccConflict"]["commitCode"], "MVCC_READ_CONFLICT",
        "{}",
        upstream["mvccConflict"]
    );

    let packages = crate::support::wasm_packages(work.path(), &["basic"]);
    let bin = crate::support::weft_bin(&["orderer", "peer"]);
    let (weft, weft_peer_down) = {
        let mut network = crate::support::two_org_network_with_basic(
            &toolchain,
            "paritychannel",
            Some((&bin, &packages)),
        );
        let results = run_client(&client, &network);
        (results, run_peer_down(&client, &mut network))
    };
    let mut differences = Vec::new();
    for (case, expected) in &upstream {
        let got = weft.get(case).map(comparable).unwrap_or(Value::Null);
        if comparable(expected) != got {
            differences.push(format!(
                "{case}:\n  upstream: {}\n  weft:     {got}",
                comparable(expected)
            ));
        }
    }
    if comparable(&upstream_peer_down) != comparable(&weft_peer_down) {
        differences.push(format!(
            "peerDown:\n  upstream: {}\n  weft:     {}",
            comparable(&upstream_peer_down),
            comparable(&weft_peer_down)
        ));
    }
    assert!(
        differences.is_empty(),
        "the Go SDK saw different outcomes:\n{}",
        differences.join("\n")
    );
}
