//! WASM chaincode on Weft peers driven by the upstream `peer` CLI (issue 6): the shipped
//! `basic` and `crud` packages are installed, approved by two orgs, committed and called with
//! `peer lifecycle chaincode ...` and `peer chaincode invoke/query`, as Fabric's tutorials do with
//! Go chaincode; and on a channel with a Go peer and a Weft peer, lifecycle transactions sent
//! through either peer are accepted by both.
//!
//! The packages come from scripts/build-chaincode: upstream `peer lifecycle chaincode package`
//! only knows golang, java and node (it builds a package from source with its own platform
//! code), so it cannot make a package of type `wasm`. Everything after packaging is upstream's.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};
use weft_interop_tests::readiness::{accepts_connections, wait_until};
use weft_interop_tests::{
    ContractKind, HarnessError, NODE_START_TIMEOUT, Network, NodeCommand, REFERENCE_VERSION,
    TlsFiles, Topology, UpstreamToolchain, chaincode_error_message, invoke_payload,
};

use crate::support::header_hash;

const CHANNEL: &str = "wasmchannel";
const ORG1_PEER: &str = "peer0.org1.example.com";
const ORG2_PEER: &str = "peer0.org2.example.com";

/// The directory holding `<contract>.tar.gz` from scripts/build-chaincode, built once per run
/// (the script needs Debian's wasm32 toolchain; without it the tests fail).
pub fn wasm_packages() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = root.join("target/chaincode");
        let output = Command::new(root.join("scripts/build-chaincode"))
            .env("WEFT_CHAINCODE_OUT", &out)
            .output()
            .expect("run scripts/build-chaincode");
        assert!(
            output.status.success(),
            "scripts/build-chaincode failed (is Debian's rustc/cargo/libstd-rust-dev-wasm32/lld-14 \
             installed?):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        out
    })
}

/// Joins the nodes to the channel once the orderer's admin endpoint listens: the harness waits
/// for its gRPC and operations listeners only, and Weft peers start fast enough for `osnadmin`
/// to arrive before the admin listener is up.
pub fn join(network: &Network) {
    let admin = network.orderers()[0].admin;
    assert!(
        wait_until(NODE_START_TIMEOUT, || accepts_connections(admin), || Ok(())).unwrap(),
        "the orderer's admin endpoint {admin} did not listen"
    );
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
}

fn cli(network: &Network, peer: &str, args: &[&str]) -> String {
    let output = network
        .peer_cli(peer, args)
        .unwrap_or_else(|e| panic!("{peer}: {e}"));
    format!("{}{}", output.stdout, output.stderr)
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `--channelID --name --version --sequence` of a definition at version 1.0.
fn definition(name: &str, sequence: u64) -> Vec<String> {
    owned(&[
        "--channelID",
        CHANNEL,
        "--name",
        name,
        "--version",
        "1.0",
        "--sequence",
        &sequence.to_string(),
    ])
}

fn peer_addresses(network: &Network, peers: &[&str]) -> Vec<String> {
    let mut args = Vec::new();
    for name in peers {
        let peer = network.peer(name).unwrap();
        args.extend([
            "--peerAddresses".to_owned(),
            peer.listen.to_string(),
            "--tlsRootCertFiles".to_owned(),
            peer.tls_ca().display().to_string(),
        ]);
    }
    args
}

/// `peer lifecycle chaincode install` on `peer`; returns the package id it reports.
fn install(network: &Network, peer: &str, package: &Path) -> String {
    let out = cli(
        network,
        peer,
        &[
            "lifecycle",
            "chaincode",
            "install",
            &package.display().to_string(),
        ],
    );
    let marker = "Chaincode code package identifier: ";
    let at = out.find(marker).unwrap_or_else(|| panic!("{peer}: {out}"));
    out[at + marker.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn approve(network: &Network, peer: &str, name: &str, sequence: u64, package_id: &str) {
    let mut args = owned(&["lifecycle", "chaincode", "approveformyorg"]);
    args.extend(definition(name, sequence));
    args.extend(owned(&["--package-id", package_id]));
    args.extend(network.orderer_args());
    let out = cli(network, peer, &strs(&args));
    assert!(out.contains("committed with status (VALID)"), "{out}");
}

fn commit(network: &Network, through: &str, endorsers: &[&str], name: &str, sequence: u64) {
    let mut args = owned(&["lifecycle", "chaincode", "commit"]);
    args.extend(definition(name, sequence));
    args.extend(network.orderer_args());
    args.extend(peer_addresses(network, endorsers));
    let out = cli(network, through, &strs(&args));
    assert!(out.contains("committed with status (VALID)"), "{out}");
}

fn readiness(network: &Network, peer: &str, name: &str, sequence: u64) -> Value {
    let mut args = owned(&["lifecycle", "chaincode", "checkcommitreadiness"]);
    args.extend(definition(name, sequence));
    args.extend(owned(&["--output", "json"]));
    let output = network.peer_cli(peer, &strs(&args)).unwrap();
    serde_json::from_str(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", output.stdout))
}

fn querycommitted(network: &Network, peer: &str, name: &str) -> Value {
    let args = [
        "lifecycle",
        "chaincode",
        "querycommitted",
        "--channelID",
        CHANNEL,
        "--name",
        name,
        "--output",
        "json",
    ];
    let output = network.peer_cli(peer, &args).unwrap();
    serde_json::from_str(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", output.stdout))
}

fn query(network: &Network, peer: &str, chaincode: &str, args: &[&str]) -> String {
    network
        .chaincode_query(peer, chaincode, args)
        .unwrap_or_else(|e| panic!("query {args:?} on {peer}: {e}"))
}

fn query_json(network: &Network, peer: &str, chaincode: &str, args: &[&str]) -> Value {
    let text = query(network, peer, chaincode, args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
}

fn invoke(network: &Network, chaincode: &str, args: &[&str]) -> Vec<u8> {
    let output = network
        .chaincode_invoke(chaincode, args)
        .unwrap_or_else(|e| panic!("invoke {args:?}: {e}"));
    assert!(
        output.stderr.contains("committed with status (VALID)"),
        "{}",
        output.stderr
    );
    invoke_payload(&output).unwrap_or_else(|| panic!("no result in {}", output.stderr))
}

/// The chaincode's error message of a failing call (status 500 in the proposal response).
fn refused(result: Result<impl std::fmt::Debug, HarnessError>) -> String {
    let error = result.expect_err("the call should fail");
    chaincode_error_message(&error).unwrap_or_else(|| panic!("no chaincode message in {error}"))
}

fn query_refused(network: &Network, peer: &str, chaincode: &str, args: &[&str]) -> String {
    refused(network.chaincode_query(peer, chaincode, args))
}

fn invoke_refused(network: &Network, chaincode: &str, args: &[&str]) -> String {
    refused(network.chaincode_invoke(chaincode, args))
}

fn asset(id: &str, color: &str, size: i64, owner: &str, value: i64) -> Value {
    json!({"AppraisedValue": value, "Color": color, "ID": id, "Owner": owner, "Size": size})
}

/// Deploys `name` from the WASM package on both Weft peers with the upstream CLI only, checking
/// what each lifecycle command reports on the way.
fn deploy_with_upstream_cli(network: &Network, name: &str) {
    let package = wasm_packages().join(format!("{name}.tar.gz"));
    let expected_id = std::fs::read_to_string(wasm_packages().join(format!("{name}.package-id")))
        .unwrap()
        .trim()
        .to_owned();
    for peer in [ORG1_PEER, ORG2_PEER] {
        assert_eq!(install(network, peer, &package), expected_id, "{peer}");
        let installed = network
            .peer_cli(
                peer,
                &[
                    "lifecycle",
                    "chaincode",
                    "queryinstalled",
                    "--output",
                    "json",
                ],
            )
            .unwrap();
        let installed: Value = serde_json::from_str(&installed.stdout).unwrap();
        let labels: Vec<(&str, &str)> = installed["installed_chaincodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["package_id"].as_str().unwrap(),
                    p["label"].as_str().unwrap(),
                )
            })
            .collect();
        assert!(
            labels.contains(&(expected_id.as_str(), format!("{name}_1.0").as_str())),
            "{peer}: {installed}"
        );
    }

    approve(network, ORG1_PEER, name, 1, &expected_id);
    // One approval of two: MAJORITY is not met yet, and both peers say so alike.
    let half = json!({"approvals": {"Org1MSP": true, "Org2MSP": false}});
    for peer in [ORG1_PEER, ORG2_PEER] {
        assert_eq!(readiness(network, peer, name, 1), half, "{peer}");
    }
    approve(network, ORG2_PEER, name, 1, &expected_id);
    let all = json!({"approvals": {"Org1MSP": true, "Org2MSP": true}});
    for peer in [ORG1_PEER, ORG2_PEER] {
        assert_eq!(readiness(network, peer, name, 1), all, "{peer}");
    }

    commit(network, ORG1_PEER, &[ORG1_PEER, ORG2_PEER], name, 1);
    for peer in [ORG1_PEER, ORG2_PEER] {
        let committed = querycommitted(network, peer, name);
        assert_eq!(committed["sequence"], 1, "{peer}: {committed}");
        assert_eq!(committed["version"], "1.0", "{peer}: {committed}");
        assert_eq!(
            committed["approvals"], all["approvals"],
            "{peer}: {committed}"
        );
    }
}

#[test]
fn upstream_cli_deploys_and_calls_wasm_chaincode_on_weft_peers_of_two_orgs() {
    let toolchain = UpstreamToolchain::locate(REFERENCE_VERSION).unwrap_or_else(|e| panic!("{e}"));
    let mut topology = Topology::new(CHANNEL, &toolchain)
        .peer_org("Org1", 1)
        .peer_org("Org2", 1);
    topology.peer_command = NodeCommand::new(env!("CARGO_BIN_EXE_peer"), &["node", "start"]);
    let network = Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"));
    join(&network);

    // Upstream's `package` knows no `wasm` language: the packages come from scripts/build-chaincode.
    let source = wasm_packages().join("basic.wasm").display().to_string();
    let unpackaged = network.work_dir().join("upstream-wasm.tar.gz");
    let package = network.peer_cli(
        ORG1_PEER,
        &[
            "lifecycle",
            "chaincode",
            "package",
            &unpackaged.display().to_string(),
            "--path",
            &source,
            "--lang",
            "wasm",
            "--label",
            "basic_1.0",
        ],
    );
    let Err(HarnessError::CommandFailed { stderr, .. }) = package else {
        panic!("upstream packaged a wasm chaincode: {package:?}");
    };
    assert!(stderr.contains("unknown chaincodeType: WASM"), "{stderr}");

    deploy_with_upstream_cli(&network, "basic");
    deploy_with_upstream_cli(&network, "crud");

    // asset-transfer-basic, as Fabric's tutorial calls it.
    assert_eq!(invoke(&network, "basic", &["InitLedger"]), b"");
    for peer in [ORG1_PEER, ORG2_PEER] {
        assert_eq!(
            query_json(&network, peer, "basic", &["ReadAsset", "asset1"]),
            asset("asset1", "blue", 5, "Tomoko", 300),
            "{peer}"
        );
    }
    invoke(
        &network,
        "basic",
        &["CreateAsset", "asset7", "purple", "20", "Ana", "900"],
    );
    assert_eq!(
        invoke(&network, "basic", &["TransferAsset", "asset7", "Bo"]),
        b"Ana"
    );
    for peer in [ORG1_PEER, ORG2_PEER] {
        assert_eq!(
            query_json(&network, peer, "basic", &["ReadAsset", "asset7"]),
            asset("asset7", "purple", 20, "Bo", 900),
            "{peer}"
        );
        let all = query_json(&network, peer, "basic", &["GetAllAssets"]);
        let ids: Vec<&str> = all
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["ID"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                "asset1", "asset2", "asset3", "asset4", "asset5", "asset6", "asset7"
            ],
            "{peer}"
        );
        assert_eq!(
            query(&network, peer, "basic", &["AssetExists", "asset9"]),
            "false"
        );
    }
    assert_eq!(
        query_refused(&network, ORG2_PEER, "basic", &["ReadAsset", "asset9"]),
        "the asset asset9 does not exist"
    );
    assert_eq!(
        invoke_refused(
            &network,
            "basic",
            &["CreateAsset", "asset1", "red", "1", "X", "1"]
        ),
        "the asset asset1 already exists"
    );
    assert_eq!(
        invoke_refused(&network, "basic", &["TransferAsset", "asset9", "Bo"]),
        "the asset asset9 does not exist"
    );

    // The generic CRUD contract.
    invoke(&network, "crud", &["Create", "order-1", r#"{"qty":1}"#]);
    invoke(&network, "crud", &["Create", "order-2", r#"{"qty":2}"#]);
    invoke(&network, "crud", &["Update", "order-1", r#"{"qty":3}"#]);
    for peer in [ORG1_PEER, ORG2_PEER] {
        assert_eq!(
            query_json(&network, peer, "crud", &["Read", "order-1"]),
            json!({"qty": 3}),
            "{peer}"
        );
    }
    assert_eq!(
        invoke_refused(&network, "crud", &["Create", "order-1", "{}"]),
        "the record order-1 already exists"
    );
    assert_eq!(
        invoke_refused(&network, "crud", &["Update", "order-9", "{}"]),
        "the record order-9 does not exist"
    );
    invoke(&network, "crud", &["Delete", "order-2"]);
    assert_eq!(
        query_refused(&network, ORG1_PEER, "crud", &["Read", "order-2"]),
        "the record order-2 does not exist"
    );
    assert_eq!(
        invoke_refused(&network, "crud", &["Delete", "order-2"]),
        "the record order-2 does not exist"
    );
    let listed = query_json(&network, ORG2_PEER, "crud", &["List", "", "", "10", ""]);
    assert_eq!(
        listed,
        json!({"records": [{"key": "order-1", "value": {"qty": 3}}], "fetchedRecordsCount": 1, "bookmark": ""})
    );

    // Both orgs' peers committed the same chain.
    let height = network.channel_height(ORG1_PEER).unwrap();
    network.wait_for_height(ORG2_PEER, height).unwrap();
    for number in 0..height {
        let one = network.fetch_block(ORG1_PEER, number).unwrap();
        let two = network.fetch_block(ORG2_PEER, number).unwrap();
        assert_eq!(header_hash(&one), header_hash(&two), "block {number}");
        assert_eq!(one, two, "block {number}");
    }

    // Last, as it needs the peer's history database (GetHistoryForKey).
    let history = query_json(&network, ORG1_PEER, "crud", &["History", "order-2"]);
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(
        history
            .iter()
            .map(|change| (change["isDelete"].clone(), change["value"].clone()))
            .collect::<Vec<_>>(),
        // Fabric's history is newest first.
        [
            (json!(true), Value::Null),
            (json!(false), json!({"qty": 2}))
        ]
    );
}

/// Issue 6: on a channel with a Go peer (Org1) and a Weft peer (Org2), approvals and commits
/// sent through either peer are accepted by both. The Go peer runs `basic` as a ccaas server of
/// the same contract, the Weft peer its WASM package; a transaction endorsed by both commits only
/// if both produced the same proposal response payload.
#[test]
fn upstream_go_and_weft_peers_accept_each_others_lifecycle_transactions() {
    let toolchain = UpstreamToolchain::locate(REFERENCE_VERSION).unwrap_or_else(|e| panic!("{e}"));
    let topology = Topology::new(CHANNEL, &toolchain)
        .peer_org("Org1", 1)
        .peer_org("Org2", 1)
        .node_command(
            ORG2_PEER,
            NodeCommand::new(env!("CARGO_BIN_EXE_peer"), &["node", "start"]),
        );
    let mut network = Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"));
    join(&network);
    let weft_package = wasm_packages().join("basic.tar.gz");

    // Sequence 1: Org1 approves through the Go peer, Org2 through the Weft peer, the Go peer's
    // admin commits (endorsed by both).
    let basic = network
        .deploy_ccaas_with("basic", ContractKind::Basic, &[(ORG2_PEER, &weft_package)])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(basic.package_ids["Org1MSP"], basic.package_ids["Org2MSP"]);
    let seq1 = querycommitted(&network, ORG1_PEER, "basic");
    assert_eq!(seq1["sequence"], 1, "{seq1}");
    assert_eq!(querycommitted(&network, ORG2_PEER, "basic"), seq1);

    // Sequence 2, the other way round: the commit goes through the Weft peer.
    approve(
        &network,
        ORG1_PEER,
        "basic",
        2,
        &basic.package_ids["Org1MSP"],
    );
    approve(
        &network,
        ORG2_PEER,
        "basic",
        2,
        &basic.package_ids["Org2MSP"],
    );
    for peer in [ORG1_PEER, ORG2_PEER] {
        assert_eq!(
            readiness(&network, peer, "basic", 2),
            json!({"approvals": {"Org1MSP": true, "Org2MSP": true}}),
            "{peer}"
        );
    }
    commit(&network, ORG2_PEER, &[ORG2_PEER, ORG1_PEER], "basic", 2);
    let seq2 = querycommitted(&network, ORG2_PEER, "basic");
    assert_eq!(seq2["sequence"], 2, "{seq2}");
    assert_eq!(querycommitted(&network, ORG1_PEER, "basic"), seq2);

    // The chaincode runs on both (Go: ccaas, Weft: WASM) with equal results.
    invoke(&network, "basic", &["InitLedger"]);
    assert_eq!(
        invoke(&network, "basic", &["TransferAsset", "asset2", "Eve"]),
        b"Brad"
    );
    for peer in [ORG1_PEER, ORG2_PEER] {
        assert_eq!(
            query_json(&network, peer, "basic", &["ReadAsset", "asset2"]),
            asset("asset2", "red", 5, "Eve", 400),
            "{peer}"
        );
    }

    let height = network.channel_height(ORG1_PEER).unwrap();
    network.wait_for_height(ORG2_PEER, height).unwrap();
    for number in 0..height {
        let go = network.fetch_block(ORG1_PEER, number).unwrap();
        let weft = network.fetch_block(ORG2_PEER, number).unwrap();
        assert_eq!(header_hash(&weft), header_hash(&go), "block {number}");
        assert_eq!(weft, go, "block {number}");
    }
}
