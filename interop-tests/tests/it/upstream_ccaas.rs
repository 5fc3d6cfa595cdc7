//! Weft's sample contracts as chaincode-as-a-service on an all-upstream
//! Fabric 2.5.9 network (two orgs): deployed with Fabric's ccaas flow
//! (package, install on every peer, approve per org, commit), invoked with
//! `peer chaincode invoke` (endorsed by both orgs' peers, ordered, committed)
//! and read with `peer chaincode query`. The expected answers are those of
//! the Rust contracts in chaincode/contracts; the Go servers must match them
//! so that Weft and Go peers can be compared on the same chaincode.

use std::path::Path;
use std::time::Instant;

use weft_interop_tests::{
    CcaasChaincode, ContractKind, HarnessError, Network, REFERENCE_VERSION, Topology,
    UpstreamToolchain, chaincode_error_message, invoke_payload,
};

const CHANNEL: &str = "ccaaschannel";
const ORG1_PEER: &str = "peer0.org1.example.com";
const ORG2_PEER: &str = "peer0.org2.example.com";

fn start_network() -> Network {
    let toolchain = UpstreamToolchain::locate(REFERENCE_VERSION).unwrap_or_else(|e| panic!("{e}"));
    let topology = Topology::new(CHANNEL, &toolchain)
        .peer_org("Org1", 1)
        .peer_org("Org2", 1);
    let network = Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"));
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
    network
}

/// Submits a transaction endorsed by both orgs; returns the chaincode's payload.
fn invoke(network: &Network, chaincode: &CcaasChaincode, args: &[&str]) -> String {
    let output = network
        .chaincode_invoke(&chaincode.name, args)
        .unwrap_or_else(|e| panic!("invoke {args:?}: {e}"));
    let payload = invoke_payload(&output)
        .unwrap_or_else(|| panic!("invoke {args:?} reported no result: {}", output.stderr));
    String::from_utf8(payload).unwrap()
}

fn query(network: &Network, peer: &str, chaincode: &CcaasChaincode, args: &[&str]) -> String {
    network
        .chaincode_query(peer, &chaincode.name, args)
        .unwrap_or_else(|e| panic!("query {args:?} on {peer}: {e}"))
}

/// The chaincode's error text for a call that must fail.
fn failure(result: Result<impl std::fmt::Debug, HarnessError>) -> String {
    let error = result.expect_err("the call should have failed");
    chaincode_error_message(&error).unwrap_or_else(|| panic!("no chaincode message in: {error}"))
}

fn asset(id: &str, color: &str, size: i64, owner: &str, value: i64) -> serde_json::Value {
    // Compared as JSON values; the byte-exact ReadAsset of asset1 checks the field order.
    serde_json::json!({"AppraisedValue": value, "Color": color, "ID": id, "Owner": owner, "Size": size})
}

/// Fabric's asset-transfer-basic flow (fabric-samples test-network tutorial):
/// InitLedger, CreateAsset, TransferAsset (returns the previous owner),
/// ReadAsset / GetAllAssets as JSON, and the contract's errors. Then the crud
/// contract's create/read/exists/delete and missing-key errors, on the same
/// network, each contract with its own server process.
#[test]
fn ccaas_basic_and_crud_contracts_serve_upstream_peers() {
    let started = Instant::now();
    let mut network = start_network();
    let network_up = started.elapsed();
    let basic = network
        .deploy_ccaas("basic", ContractKind::Basic)
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "network up in {network_up:?}, basic deployed as ccaas in {:?}",
        started.elapsed() - network_up
    );
    assert_eq!(basic.sequence, 1);
    assert!(
        basic.package_id.starts_with("basic_1.0:"),
        "{}",
        basic.package_id
    );
    let running: Vec<String> = network.node_pids().into_iter().map(|(n, _)| n).collect();
    assert!(running.contains(&basic.process_name), "{running:?}");

    let invoked = Instant::now();
    assert_eq!(invoke(&network, &basic, &["InitLedger"]), "");
    eprintln!(
        "InitLedger invoke (endorse both orgs, order, commit) took {:?}",
        invoked.elapsed()
    );
    let queried = Instant::now();
    let read = query(&network, ORG2_PEER, &basic, &["ReadAsset", "asset1"]);
    eprintln!("ReadAsset query took {:?}", queried.elapsed());
    // Byte-exact: the Go sample's JSON, as the WASM contract writes it.
    assert_eq!(
        read,
        r#"{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}"#
    );

    invoke(
        &network,
        &basic,
        &["CreateAsset", "asset7", "purple", "20", "Ana", "900"],
    );
    assert_eq!(
        invoke(&network, &basic, &["TransferAsset", "asset7", "Bo"]),
        "Ana",
        "TransferAsset returns the previous owner"
    );
    for peer in [ORG1_PEER, ORG2_PEER] {
        let read = query(&network, peer, &basic, &["ReadAsset", "asset7"]);
        let read: serde_json::Value = serde_json::from_str(&read).unwrap();
        assert_eq!(read, asset("asset7", "purple", 20, "Bo", 900), "{peer}");
    }
    let all: serde_json::Value =
        serde_json::from_str(&query(&network, ORG1_PEER, &basic, &["GetAllAssets"])).unwrap();
    let all = all.as_array().unwrap();
    let ids: Vec<&str> = all.iter().map(|a| a["ID"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "asset1", "asset2", "asset3", "asset4", "asset5", "asset6", "asset7"
        ]
    );
    assert_eq!(all[2], asset("asset3", "green", 10, "Jin Soo", 500));
    assert_eq!(
        query(&network, ORG1_PEER, &basic, &["AssetExists", "asset7"]),
        "true"
    );

    assert_eq!(
        failure(network.chaincode_invoke(
            &basic.name,
            &["UpdateAsset", "missing", "red", "1", "Al", "2"]
        )),
        "the asset missing does not exist"
    );
    assert_eq!(
        failure(network.chaincode_invoke(
            &basic.name,
            &["CreateAsset", "asset1", "red", "1", "Al", "2"]
        )),
        "the asset asset1 already exists"
    );
    assert_eq!(
        failure(network.chaincode_query(ORG1_PEER, &basic.name, &["ReadAsset", "missing"])),
        "the asset missing does not exist"
    );
    assert_eq!(
        failure(network.chaincode_invoke(
            &basic.name,
            &["CreateAsset", "asset8", "red", "big", "Al", "2"]
        )),
        "error managing parameter param2. conversion error. cannot convert passed value big to int"
    );

    let crud = network
        .deploy_ccaas("crud", ContractKind::Crud)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(crud.address, basic.address);
    invoke(
        &network,
        &crud,
        &["Create", "order-1", r#"{"qty":3,"item":"tea"}"#],
    );
    assert_eq!(
        query(&network, ORG2_PEER, &crud, &["Read", "order-1"]),
        r#"{"qty":3,"item":"tea"}"#,
        "the document is stored as written"
    );
    assert_eq!(
        query(&network, ORG1_PEER, &crud, &["Exists", "order-1"]),
        "true"
    );
    assert_eq!(
        failure(network.chaincode_invoke(&crud.name, &["Create", "order-1", "{}"])),
        "the record order-1 already exists"
    );
    assert_eq!(
        failure(network.chaincode_invoke(&crud.name, &["Create", "order-2", "{"])),
        "the value of record order-2 is not valid JSON: invalid JSON at offset 1: expected a member name"
    );
    invoke(&network, &crud, &["Delete", "order-1"]);
    for peer in [ORG1_PEER, ORG2_PEER] {
        assert_eq!(
            query(&network, peer, &crud, &["Exists", "order-1"]),
            "false",
            "{peer}"
        );
    }
    assert_eq!(
        failure(network.chaincode_query(ORG1_PEER, &crud.name, &["Read", "order-1"])),
        "the record order-1 does not exist"
    );
    assert_eq!(
        failure(network.chaincode_invoke(&crud.name, &["Delete", "order-1"])),
        "the record order-1 does not exist"
    );
    assert_eq!(
        failure(network.chaincode_invoke(&crud.name, &["Update", "order-9", "1"])),
        "the record order-9 does not exist"
    );
    assert_eq!(
        failure(network.chaincode_query(ORG1_PEER, &crud.name, &["Read"])),
        "Read takes 1 arguments, got 0"
    );
    assert!(matches!(
        network.deploy_ccaas_with("other", ContractKind::Crud, &[("peer9.nowhere", Path::new("x"))]),
        Err(HarnessError::UnknownNode(peer)) if peer == "peer9.nowhere"
    ));

    // The basic contract is untouched by crud's writes (separate namespaces).
    assert_eq!(
        query(&network, ORG2_PEER, &basic, &["AssetExists", "order-1"]),
        "false"
    );
    // A second definition (sequence 2) where Org2 runs a package of its own,
    // as a Weft org would with its WASM package: each org approves the
    // package id its peer installed, and each peer runs its org's package.
    let org2_address = weft_interop_tests::readiness::free_ports(1).unwrap()[0];
    let org2_package = network
        .write_ccaas_package("basic-org2_1.0", org2_address)
        .unwrap();
    let upgraded = network
        .deploy_ccaas_with("basic", ContractKind::Basic, &[(ORG2_PEER, &org2_package)])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(upgraded.sequence, 2);
    assert_ne!(upgraded.package_id, basic.package_id);
    assert_eq!(upgraded.package_ids["Org1MSP"], upgraded.package_id);
    let org2_package_id = &upgraded.package_ids["Org2MSP"];
    assert!(
        org2_package_id.starts_with("basic-org2_1.0:"),
        "{org2_package_id}"
    );
    // Installing a package again answers with the id it already has.
    assert_eq!(
        &network
            .install_chaincode_package(ORG2_PEER, &org2_package)
            .unwrap(),
        org2_package_id
    );
    network
        .start_ccaas_server(ContractKind::Basic, org2_package_id, org2_address)
        .unwrap_or_else(|e| panic!("{e}"));
    // The world state outlives the upgrade; both orgs' servers endorse.
    let endorsers = [ORG1_PEER, ORG2_PEER];
    let output = network
        .chaincode_invoke_on(
            &endorsers,
            &upgraded.name,
            &["TransferAsset", "asset7", "Cy"],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(invoke_payload(&output).unwrap(), b"Bo");
    for peer in [ORG1_PEER, ORG2_PEER] {
        let read = query(&network, peer, &upgraded, &["ReadAsset", "asset7"]);
        let read: serde_json::Value = serde_json::from_str(&read).unwrap();
        assert_eq!(read, asset("asset7", "purple", 20, "Cy", 900), "{peer}");
    }
    let org2_log = network
        .work_dir()
        .join("logs")
        .join(format!("ccaas-basic-{}.log", org2_address.port()));
    assert!(
        std::fs::read_to_string(&org2_log)
            .unwrap()
            .contains(org2_package_id.as_str()),
        "Org2's own server serves its package"
    );

    let pids = network.node_pids();
    drop(network);
    for (name, pid) in pids {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains("weft-ccaas"),
            "{name} (pid {pid}) outlived the network"
        );
    }
}

/// crud's listings and history go through the Go peer's range-query
/// pagination (Fabric's bookmark is the next key) and history index
/// (Fabric 2.x returns a key's changes newest first).
#[test]
fn ccaas_crud_lists_pages_and_history_on_upstream_peers() {
    let mut network = start_network();
    let crud = network
        .deploy_ccaas("records", ContractKind::Crud)
        .unwrap_or_else(|e| panic!("{e}"));
    for (key, doc) in [
        ("rec1", "1"),
        ("rec2", r#"{"b":2}"#),
        ("rec3", "[3]"),
        ("zed", "4"),
    ] {
        invoke(&network, &crud, &["Create", key, doc]);
    }
    invoke(&network, &crud, &["Update", "rec2", r#"{"b":20}"#]);

    let page: serde_json::Value = serde_json::from_str(&query(
        &network,
        ORG1_PEER,
        &crud,
        &["ListByPrefix", "rec", "2", ""],
    ))
    .unwrap();
    assert_eq!(
        page,
        serde_json::json!({
            "records": [{"key": "rec1", "value": 1}, {"key": "rec2", "value": {"b": 20}}],
            "fetchedRecordsCount": 2,
            "bookmark": "rec3",
        })
    );
    let rest: serde_json::Value = serde_json::from_str(&query(
        &network,
        ORG2_PEER,
        &crud,
        &["ListByPrefix", "rec", "2", "rec3"],
    ))
    .unwrap();
    assert_eq!(
        rest["records"],
        serde_json::json!([{"key": "rec3", "value": [3]}])
    );
    assert_eq!(rest["fetchedRecordsCount"], 1);
    let all: serde_json::Value = serde_json::from_str(&query(
        &network,
        ORG1_PEER,
        &crud,
        &["List", "", "", "10", ""],
    ))
    .unwrap();
    assert_eq!(all["fetchedRecordsCount"], 4);
    assert_eq!(
        all["records"][3],
        serde_json::json!({"key": "zed", "value": 4})
    );
    assert_eq!(
        failure(network.chaincode_query(ORG1_PEER, &crud.name, &["List", "", "", "0", ""])),
        r#"pageSize must be a number from 1 to 1000, got "0""#
    );

    invoke(&network, &crud, &["Delete", "rec2"]);
    let history: serde_json::Value =
        serde_json::from_str(&query(&network, ORG2_PEER, &crud, &["History", "rec2"])).unwrap();
    let changes = history.as_array().unwrap();
    assert_eq!(changes.len(), 3, "{history}");
    let summary: Vec<(bool, serde_json::Value)> = changes
        .iter()
        .map(|c| (c["isDelete"].as_bool().unwrap(), c["value"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (true, serde_json::Value::Null),
            (false, serde_json::json!({"b": 20})),
            (false, serde_json::json!({"b": 2})),
        ]
    );
    for change in changes {
        assert_eq!(change["txId"].as_str().unwrap().len(), 64, "{change}");
        assert!(
            change["timestamp"]["seconds"].as_i64().unwrap() > 0,
            "{change}"
        );
    }
}
