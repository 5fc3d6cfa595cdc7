//! Hostile WASM chaincode in a running Weft peer (issue 6): a chaincode that loops forever,
//! allocates without bound, traps or hands the host bad pointers fails the proposal (query or
//! invoke) with an error response naming what happened; nothing is ordered for it, the peer
//! process stays up, and the same chaincode, another one on the same channel and one on another
//! channel keep answering.
//!
//! The engine alone is tested in chaincode/runtime/tests/it/hostile.rs; this is the whole peer
//! (lifecycle, endorser, runtime), reached with the upstream CLI through an upstream orderer, so
//! the module is an `upstream_*` one. The hostile guest is WebAssembly text compiled here and
//! wrapped into a Fabric package of type `wasm` as scripts/build-chaincode writes one
//! (`metadata.json` and `code.tar.gz` holding `chaincode.wasm`), then deployed like any other.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use weft_interop_tests::fabric_config::CHANNEL_PROFILE;
use weft_interop_tests::process::{clean_command, run_bounded};
use weft_interop_tests::{
    CCAAS_VERSION, ChaincodeDefinition, HarnessError, Network, NodeCommand, REFERENCE_VERSION,
    TOOL_TIMEOUT, TlsFiles, Topology, UpstreamToolchain, chaincode_error_message,
};

use crate::upstream_wasm_chaincode::{join, wasm_packages};

const CHANNEL: &str = "hostilechannel";
/// A second channel on the same peer, running `crud` too.
const OTHER_CHANNEL: &str = "otherchannel";
const PEER: &str = "peer0.org1.example.com";
/// Half-second tries to send to the new channel before its orderer has a Raft leader.
const LEADER_WAIT_ATTEMPTS: u32 = 60;

/// One module, its behaviour chosen by the first byte of the function name (the first
/// argument): `loop` spins forever, `grow` grows memory until refused, `trap` executes
/// `unreachable`, `pointer` passes `get_state` a key buffer outside memory, `ok` writes
/// `key` = `"v"` and answers "ok".
const HOSTILE_WAT: &str = r#"
(module
  (import "weft" "args" (func $args (result i64)))
  (import "weft" "take_result" (func $take_result (param i32 i32) (result i32)))
  (import "weft" "get_state" (func $get_state (param i32 i32) (result i64)))
  (import "weft" "put_state" (func $put_state (param i32 i32 i32 i32) (result i64)))
  (import "weft" "set_response" (func $set_response (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "key")
  (data (i32.const 8) "\"v\"")
  (data (i32.const 16) "ok")
  (data (i32.const 24) "unknown function")
  (func (export "weft_abi_version") (result i32) (i32.const 1))
  (func (export "weft_invoke") (result i32)
    (local $len i32)
    (local $op i32)
    ;; The encoded args (u32 count, u32 length, name...) go to offset 1024.
    (local.set $len (i32.wrap_i64 (call $args)))
    (if (i32.gt_u (local.get $len) (i32.const 4096)) (then unreachable))
    (drop (call $take_result (i32.const 1024) (local.get $len)))
    (local.set $op (i32.load8_u (i32.const 1032)))
    ;; 'l'
    (if (i32.eq (local.get $op) (i32.const 108)) (then (loop $spin (br $spin))))
    ;; 'g'
    (if (i32.eq (local.get $op) (i32.const 103))
      (then (loop $more (drop (memory.grow (i32.const 16))) (br $more))))
    ;; 't'
    (if (i32.eq (local.get $op) (i32.const 116)) (then unreachable))
    ;; 'p'
    (if (i32.eq (local.get $op) (i32.const 112))
      (then (drop (call $get_state (i32.const 0xfffffff0) (i32.const 100)))))
    ;; 'o'
    (if (i32.eq (local.get $op) (i32.const 111))
      (then
        (drop (call $put_state (i32.const 0) (i32.const 3) (i32.const 8) (i32.const 3)))
        (drop (call $set_response (i32.const 200) (i32.const 0) (i32.const 0) (i32.const 16) (i32.const 2)))
        (return (i32.const 0))))
    (drop (call $set_response (i32.const 500) (i32.const 24) (i32.const 16) (i32.const 0) (i32.const 0)))
    (i32.const 0)))
"#;

/// Runs a command that must succeed.
fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Writes `dir/<label>.tar.gz`: a Fabric chaincode package of type `wasm` holding `module`.
fn wasm_package(dir: &Path, label: &str, module: &[u8]) -> PathBuf {
    let code = dir.join("code");
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(code.join("chaincode.wasm"), module).unwrap();
    std::fs::write(
        pkg.join("metadata.json"),
        format!(r#"{{"type":"wasm","label":"{label}"}}"#),
    )
    .unwrap();
    run(Command::new("tar")
        .arg("-czf")
        .arg(pkg.join("code.tar.gz"))
        .arg("-C")
        .arg(&code)
        .arg("chaincode.wasm"));
    let package = dir.join(format!("{label}.tar.gz"));
    run(Command::new("tar")
        .arg("-czf")
        .arg(&package)
        .arg("-C")
        .arg(&pkg)
        .args(["metadata.json", "code.tar.gz"]));
    package
}

/// Installs, approves and commits `package` as chaincode `name` with the upstream CLI.
fn deploy(network: &Network, name: &str, package: &Path) -> String {
    let package_id = network
        .install_chaincode_package(PEER, package)
        .unwrap_or_else(|e| panic!("{e}"));
    let definition = ChaincodeDefinition {
        name: name.to_owned(),
        version: CCAAS_VERSION.to_owned(),
        sequence: 1,
    };
    network
        .approve_chaincode(PEER, &definition, &package_id)
        .unwrap_or_else(|e| panic!("{e}"));
    network
        .commit_chaincode(&definition)
        .unwrap_or_else(|e| panic!("{e}"));
    network
        .wait_for_committed_chaincode(&definition)
        .unwrap_or_else(|e| panic!("{e}"));
    package_id
}

fn chaincode_error(result: Result<impl std::fmt::Debug, HarnessError>) -> String {
    let error = result.expect_err("the call should fail");
    chaincode_error_message(&error).unwrap_or_else(|| panic!("no chaincode message in {error}"))
}

/// The Weft peer's process is alive (not exited, not a zombie).
fn assert_peer_running(network: &Network) {
    let (_, pid) = network
        .node_pids()
        .into_iter()
        .find(|(name, _)| name == PEER)
        .expect("the peer has a process");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("the peer (pid {pid}) is gone: {e}"));
    let state = stat.rsplit(')').next().unwrap().split_whitespace().next();
    assert_ne!(state, Some("Z"), "the peer (pid {pid}) exited");
}

/// The well-behaved chaincode still answers, on the same channel.
fn assert_crud_answers(network: &Network, expected: &str) {
    let record = network
        .chaincode_query(PEER, "crud", &["Read", "ledger-ok"])
        .unwrap_or_else(|e| panic!("crud after a hostile call: {e}"));
    assert_eq!(record, expected);
}

/// Makes [`OTHER_CHANNEL`] (upstream configtxgen, joined by the orderer and the peer) and
/// commits `crud` there from the package the peer already holds.
fn crud_on_other_channel(network: &Network, crud_id: &str) {
    let block = network.work_dir().join(format!("{OTHER_CHANNEL}.block"));
    let mut configtxgen = clean_command(&network.toolchain().bin("configtxgen"));
    configtxgen
        .arg("-configPath")
        .arg(network.work_dir().join("configtx"))
        .args([
            "-profile",
            CHANNEL_PROFILE,
            "-channelID",
            OTHER_CHANNEL,
            "-outputBlock",
        ])
        .arg(&block);
    run_bounded(configtxgen, TOOL_TIMEOUT).unwrap();
    let block = block.display().to_string();
    let orderer = network.orderers()[0].name.clone();
    let (status, body) = network
        .osnadmin(
            &orderer,
            &[
                "channel",
                "join",
                "--channelID",
                OTHER_CHANNEL,
                "--config-block",
                &block,
            ],
        )
        .unwrap();
    assert_eq!(status, 201, "{body}");
    network
        .peer_cli(PEER, &["channel", "join", "-b", &block])
        .unwrap_or_else(|e| panic!("{e}"));
    let definition = [
        "--channelID",
        OTHER_CHANNEL,
        "--name",
        "crud",
        "--version",
        CCAAS_VERSION,
        "--sequence",
        "1",
    ];
    for step in [
        vec!["approveformyorg", "--package-id", crud_id],
        vec!["commit"],
    ] {
        let mut args: Vec<String> = ["lifecycle", "chaincode"]
            .iter()
            .chain(&step[..1])
            .chain(&definition)
            .chain(&step[1..])
            .map(|a| (*a).to_owned())
            .collect();
        args.extend(network.orderer_args());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // The orderer's new channel elects its Raft leader within a few seconds.
        let mut attempts = 0;
        let out = loop {
            match network.peer_cli(PEER, &args) {
                Err(HarnessError::CommandFailed { stderr, .. })
                    if stderr.contains("no Raft leader") && attempts < LEADER_WAIT_ATTEMPTS =>
                {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(500));
                }
                other => {
                    break other.unwrap_or_else(|e| panic!("{step:?} on {OTHER_CHANNEL}: {e}"));
                }
            }
        };
        assert!(
            out.stderr.contains("committed with status (VALID)"),
            "{}",
            out.stderr
        );
    }
}

/// `peer chaincode invoke` of `crud` on [`OTHER_CHANNEL`], waiting for the commit.
fn invoke_on_other_channel(network: &Network, args: &[&str]) {
    let peer = network.peer(PEER).unwrap();
    let json = serde_json::json!({ "Args": args }).to_string();
    let mut cli: Vec<String> = [
        "chaincode",
        "invoke",
        "-C",
        OTHER_CHANNEL,
        "-n",
        "crud",
        "-c",
        &json,
        "--waitForEvent",
        "--peerAddresses",
        &peer.listen.to_string(),
        "--tlsRootCertFiles",
        &peer.tls_ca().display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    cli.extend(network.orderer_args());
    let cli: Vec<&str> = cli.iter().map(String::as_str).collect();
    let out = network
        .peer_cli(PEER, &cli)
        .unwrap_or_else(|e| panic!("invoke {args:?} on {OTHER_CHANNEL}: {e}"));
    assert!(
        out.stderr.contains("committed with status (VALID)"),
        "{}",
        out.stderr
    );
}

fn read_on_other_channel(network: &Network, key: &str) -> String {
    let json = serde_json::json!({ "Args": ["Read", key] }).to_string();
    let out = network
        .peer_cli(
            PEER,
            &[
                "chaincode",
                "query",
                "-C",
                OTHER_CHANNEL,
                "-n",
                "crud",
                "-c",
                &json,
            ],
        )
        .unwrap_or_else(|e| panic!("crud on {OTHER_CHANNEL}: {e}"));
    out.stdout.trim_end().to_owned()
}

#[test]
fn upstream_hostile_wasm_chaincode_fails_its_proposals_and_the_peer_keeps_serving() {
    let toolchain = UpstreamToolchain::locate(REFERENCE_VERSION).unwrap_or_else(|e| panic!("{e}"));
    let mut topology = Topology::new(CHANNEL, &toolchain).peer_org("Org1", 1);
    topology.peer_command = NodeCommand::new(env!("CARGO_BIN_EXE_peer"), &["node", "start"]);
    let network = Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"));
    join(&network);

    let module = wat::parse_str(HOSTILE_WAT).unwrap();
    let dir = network.work_dir().join("hostile-package");
    let package = wasm_package(&dir, "hostile_1.0", &module);
    let hostile_id = deploy(&network, "hostile", &package);
    let crud_id = deploy(&network, "crud", &wasm_packages().join("crud.tar.gz"));
    crud_on_other_channel(&network, &crud_id);
    invoke_on_other_channel(&network, &["Create", "elsewhere", r#"{"m":1}"#]);
    network
        .chaincode_invoke("crud", &["Create", "ledger-ok", r#"{"n":1}"#])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_crud_answers(&network, r#"{"n":1}"#);
    let height = network.channel_height(PEER).unwrap();

    // The runtime's messages (docs/chaincode-abi.md, "Failures"), prefixed with the package id.
    let cases = [
        ("loop", "ran out of fuel"),
        ("grow", "max_memory_bytes"),
        ("trap", "unreachable"),
        (
            "pointer",
            "out-of-bounds buffer (offset 4294967280, length 100) to weft.get_state",
        ),
    ];
    for (function, expected) in cases {
        for (how, message) in [
            (
                "query",
                chaincode_error(network.chaincode_query(PEER, "hostile", &[function])),
            ),
            (
                "invoke",
                chaincode_error(network.chaincode_invoke("hostile", &[function])),
            ),
        ] {
            assert!(
                message.starts_with(&format!("chaincode {hostile_id}: "))
                    && message.contains(expected),
                "{how} {function}: {message:?} does not say {expected:?}"
            );
            assert_peer_running(&network);
            assert_crud_answers(&network, r#"{"n":1}"#);
            assert_eq!(read_on_other_channel(&network, "elsewhere"), r#"{"m":1}"#);
        }
    }
    // A failed endorsement orders nothing.
    assert_eq!(network.channel_height(PEER).unwrap(), height);

    // The hostile chaincode itself still runs a well-behaved call, and the channel commits.
    let ok = network
        .chaincode_invoke("hostile", &["ok"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        weft_interop_tests::invoke_payload(&ok).as_deref(),
        Some(&b"ok"[..])
    );
    network
        .chaincode_invoke("crud", &["Update", "ledger-ok", r#"{"n":2}"#])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_crud_answers(&network, r#"{"n":2}"#);
    assert_eq!(network.channel_height(PEER).unwrap(), height + 2);
    invoke_on_other_channel(&network, &["Update", "elsewhere", r#"{"m":2}"#]);
    assert_eq!(read_on_other_channel(&network, "elsewhere"), r#"{"m":2}"#);
    assert_peer_running(&network);
}
