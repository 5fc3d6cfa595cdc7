//! Interop with upstream Fabric v2.5.9 binaries (run interop-tests/upstream/install.sh first;
//! these tests fail, never skip, when a binary is missing).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fabric_protos::common::{Block, ConfigEnvelope, ConfigGroup, Envelope, Payload};
use prost::Message;

/// How long the orderer gets to join the channel and report it active.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);

fn upstream_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/upstream/fabric-2.5.9")
}

fn upstream_bin(name: &str) -> PathBuf {
    let path = upstream_dir().join("bin").join(name);
    assert!(
        path.is_file(),
        "upstream binary {} is missing; run interop-tests/upstream/install.sh",
        path.display()
    );
    path
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const CRYPTO_CONFIG: &str = r#"
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
        SANS: ["localhost", "127.0.0.1"]
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    Template: { Count: 1 }
    Users: { Count: 1 }
"#;

/// An application channel profile exercising anchors, merge keys, byte sizes, nested
/// signature rules, ACLs, capabilities, anchor peers and orderer endpoints.
fn configtx_yaml(orderer_port: u16) -> String {
    let tls = "crypto/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt";
    format!(
        r#"
Organizations:
  - &OrdererOrg
    Name: OrdererOrg
    ID: OrdererMSP
    MSPDir: crypto/ordererOrganizations/example.com/msp
    Policies:
      Readers: {{ Type: Signature, Rule: "OR('OrdererMSP.member')" }}
      Writers: {{ Type: Signature, Rule: "OR('OrdererMSP.member')" }}
      Admins: {{ Type: Signature, Rule: "OR('OrdererMSP.admin')" }}
    OrdererEndpoints: ["127.0.0.1:{orderer_port}"]
  - &Org1
    Name: Org1MSP
    ID: Org1MSP
    MSPDir: crypto/peerOrganizations/org1.example.com/msp
    Policies:
      Readers: {{ Type: Signature, Rule: "OR('Org1MSP.admin', 'Org1MSP.peer', 'Org1MSP.client')" }}
      Writers: {{ Type: Signature, Rule: "AND('Org1MSP.admin', OutOf(1, 'Org1MSP.peer', 'Org1MSP.client'), 'Org1MSP.member')" }}
      Admins: {{ Type: Signature, Rule: "OR('Org1MSP.admin')" }}
      Endorsement: {{ Type: Signature, Rule: "OR('Org1MSP.peer')" }}
    AnchorPeers:
      - Host: peer0.org1.example.com
        Port: 7051
Capabilities:
  Channel: &ChannelCapabilities
    V2_0: true
  Orderer: &OrdererCapabilities
    V2_0: true
  Application: &ApplicationCapabilities
    V2_5: true
    V2_0: false
Application: &ApplicationDefaults
  Organizations:
  Policies:
    Readers: {{ Type: ImplicitMeta, Rule: "ANY Readers" }}
    Writers: {{ Type: ImplicitMeta, Rule: "ANY Writers" }}
    Admins: {{ Type: ImplicitMeta, Rule: "MAJORITY Admins" }}
    LifecycleEndorsement: {{ Type: ImplicitMeta, Rule: "MAJORITY Endorsement" }}
    Endorsement: {{ Type: ImplicitMeta, Rule: "MAJORITY Endorsement" }}
  ACLs:
    _lifecycle/CheckCommitReadiness: /Channel/Application/Writers
    peer/Propose: /Channel/Application/Writers
  Capabilities:
    <<: *ApplicationCapabilities
Orderer: &OrdererDefaults
  OrdererType: etcdraft
  BatchTimeout: 1500ms
  BatchSize:
    MaxMessageCount: 10
    AbsoluteMaxBytes: 99 MB
    PreferredMaxBytes: 512 KB
  EtcdRaft:
    Consenters:
      - Host: 127.0.0.1
        Port: {orderer_port}
        ClientTLSCert: {tls}
        ServerTLSCert: {tls}
    Options:
      SnapshotIntervalSize: 8 MB
  Organizations:
  Policies:
    Readers: {{ Type: ImplicitMeta, Rule: "ANY Readers" }}
    Writers: {{ Type: ImplicitMeta, Rule: "ANY Writers" }}
    Admins: {{ Type: ImplicitMeta, Rule: "MAJORITY Admins" }}
    BlockValidation: {{ Type: ImplicitMeta, Rule: "ANY Writers" }}
  Capabilities:
    <<: *OrdererCapabilities
Channel: &ChannelDefaults
  Policies:
    Readers: {{ Type: ImplicitMeta, Rule: "ANY Readers" }}
    Writers: {{ Type: ImplicitMeta, Rule: "ANY Writers" }}
    Admins: {{ Type: ImplicitMeta, Rule: "MAJORITY Admins" }}
  Capabilities:
    <<: *ChannelCapabilities
Profiles:
  AppChannel:
    <<: *ChannelDefaults
    Orderer:
      <<: *OrdererDefaults
      Organizations:
        - *OrdererOrg
    Application:
      <<: *ApplicationDefaults
      Organizations:
        - *Org1
"#
    )
}

/// A network directory with Weft crypto material and configtx.yaml.
fn prepare(dir: &Path, orderer_port: u16) {
    std::fs::write(dir.join("crypto-config.yaml"), CRYPTO_CONFIG).unwrap();
    run(Command::new(env!("CARGO_BIN_EXE_cryptogen"))
        .current_dir(dir)
        .args(["generate", "--config=crypto-config.yaml", "--output=crypto"]));
    std::fs::write(dir.join("configtx.yaml"), configtx_yaml(orderer_port)).unwrap();
}

fn weft_block(dir: &Path, channel: &str) -> PathBuf {
    let out = dir.join("weft.block");
    run(Command::new(env!("CARGO_BIN_EXE_configtxgen"))
        .env("FABRIC_CFG_PATH", dir)
        .args([
            "-profile",
            "AppChannel",
            "-channelID",
            channel,
            "-outputBlock",
        ])
        .arg(&out));
    out
}

fn upstream_block(dir: &Path, channel: &str) -> PathBuf {
    let out = dir.join("upstream.block");
    run(Command::new(upstream_bin("configtxgen"))
        .arg("-configPath")
        .arg(dir)
        .args([
            "-profile",
            "AppChannel",
            "-channelID",
            channel,
            "-outputBlock",
        ])
        .arg(&out));
    out
}

fn config_of(path: &Path) -> (Block, Payload, ConfigEnvelope) {
    let block = Block::decode(std::fs::read(path).unwrap().as_slice()).unwrap();
    let envelope = Envelope::decode(block.data.as_ref().unwrap().data[0].as_slice()).unwrap();
    let payload = Payload::decode(envelope.payload.as_slice()).unwrap();
    let config = ConfigEnvelope::decode(payload.data.as_slice()).unwrap();
    (block, payload, config)
}

#[test]
fn upstream_configtxgen_and_configtxlator_accept_weft_output() {
    let tmp = tempfile::tempdir().unwrap();
    prepare(tmp.path(), 7050);
    // Upstream configtxgen loads Weft-generated MSP folders and TLS certificates.
    let upstream = upstream_block(tmp.path(), "ch1");
    assert!(std::fs::metadata(&upstream).unwrap().len() > 0);
    // Upstream configtxlator decodes Weft's block.
    let weft = weft_block(tmp.path(), "ch1");
    let json = run(Command::new(upstream_bin("configtxlator"))
        .args(["proto_decode", "--type", "common.Block", "--input"])
        .arg(&weft));
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let channel = &value["data"]["data"][0]["payload"]["header"]["channel_header"]["channel_id"];
    assert_eq!(channel, "ch1");
    let msp_name = &value["data"]["data"][0]["payload"]["data"]["config"]["channel_group"]["groups"]
        ["Application"]["groups"]["Org1MSP"]["values"]["MSP"]["value"]["config"]["name"];
    assert_eq!(msp_name, "Org1MSP");
}

#[test]
fn upstream_and_weft_genesis_blocks_carry_the_same_config() {
    // Same configtx.yaml and crypto material: the config trees must be equal; only the
    // timestamp, nonce and txid (and so the data hash) may differ.
    let tmp = tempfile::tempdir().unwrap();
    prepare(tmp.path(), 7050);
    let (up_block, up_payload, up_config) = config_of(&upstream_block(tmp.path(), "ch1"));
    let (weft_block, weft_payload, weft_config) = config_of(&weft_block(tmp.path(), "ch1"));
    let up_group = up_config
        .config
        .as_ref()
        .unwrap()
        .channel_group
        .as_ref()
        .unwrap();
    let weft_group = weft_config
        .config
        .as_ref()
        .unwrap()
        .channel_group
        .as_ref()
        .unwrap();
    let mut differences = Vec::new();
    diff_groups("/Channel", weft_group, up_group, &mut differences);
    assert!(
        differences.is_empty(),
        "config trees differ at {differences:?}"
    );
    assert_eq!(weft_block.metadata, up_block.metadata);
    let (up_header, weft_header) = (up_block.header.unwrap(), weft_block.header.unwrap());
    assert_eq!(weft_header.number, up_header.number);
    assert_eq!(weft_header.previous_hash, up_header.previous_hash);

    use fabric_protos::common::{ChannelHeader, SignatureHeader};
    let ch = |p: &Payload| {
        let mut h =
            ChannelHeader::decode(p.header.as_ref().unwrap().channel_header.as_slice()).unwrap();
        h.timestamp = None;
        h.tx_id.clear();
        h
    };
    assert_eq!(ch(&weft_payload), ch(&up_payload));
    let sh = |p: &Payload| {
        SignatureHeader::decode(p.header.as_ref().unwrap().signature_header.as_slice()).unwrap()
    };
    let (w, u) = (sh(&weft_payload), sh(&up_payload));
    assert_eq!(w.creator, u.creator);
    assert_eq!(w.nonce.len(), u.nonce.len());
}

/// Paths where two config groups differ (values compared after decoding, see `same_value`).
fn diff_groups(path: &str, a: &ConfigGroup, b: &ConfigGroup, out: &mut Vec<String>) {
    if a.version != b.version || a.mod_policy != b.mod_policy {
        out.push(format!("{path} (version/mod_policy)"));
    }
    let keys = |x: &ConfigGroup| x.groups.keys().cloned().collect::<Vec<_>>();
    if keys(a) != keys(b) {
        out.push(format!("{path} groups {:?} vs {:?}", keys(a), keys(b)));
    }
    for (name, child) in &a.groups {
        if let Some(other) = b.groups.get(name) {
            diff_groups(&format!("{path}/{name}"), child, other, out);
        }
    }
    let vkeys = |x: &ConfigGroup| x.values.keys().cloned().collect::<Vec<_>>();
    if vkeys(a) != vkeys(b) {
        out.push(format!("{path} values {:?} vs {:?}", vkeys(a), vkeys(b)));
    }
    for (name, value) in &a.values {
        if let Some(other) = b.values.get(name) {
            let same = value.version == other.version
                && value.mod_policy == other.mod_policy
                && same_value(name, &value.value, &other.value);
            if !same {
                out.push(format!("{path}/values/{name}"));
            }
        }
    }
    if a.policies != b.policies {
        out.push(format!("{path} policies"));
    }
}

/// Values holding protobuf maps are compared decoded: Go does not write map entries in a
/// fixed order, so equal values need not be byte-identical.
fn same_value(key: &str, a: &[u8], b: &[u8]) -> bool {
    use fabric_protos::common::Capabilities;
    use fabric_protos::protos::AcLs;
    match key {
        "Capabilities" => Capabilities::decode(a).ok() == Capabilities::decode(b).ok(),
        "ACLs" => AcLs::decode(a).ok() == AcLs::decode(b).ok(),
        _ => a == b,
    }
}

/// Kills the orderer when the test ends, however it ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn upstream_orderer_with_weft_crypto_joins_weft_channel_block() {
    let config_dir = upstream_dir().join("config");
    assert!(
        config_dir.join("orderer.yaml").is_file(),
        "{} is missing; run interop-tests/upstream/install.sh",
        config_dir.join("orderer.yaml").display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (port, admin_port, ops_port) = (free_port(), free_port(), free_port());
    prepare(dir, port);
    let block = weft_block(dir, "weftchannel");

    let org = dir.join("crypto/ordererOrganizations/example.com");
    let node = org.join("orderers/orderer.example.com");
    let tls = node.join("tls");
    let p = |path: PathBuf| path.to_string_lossy().into_owned();
    let log = std::fs::File::create(dir.join("orderer.log")).unwrap();
    let child = Command::new(upstream_bin("orderer"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("FABRIC_CFG_PATH", &config_dir)
        .env("FABRIC_LOGGING_SPEC", "INFO")
        .env("ORDERER_GENERAL_LISTENADDRESS", "127.0.0.1")
        .env("ORDERER_GENERAL_LISTENPORT", port.to_string())
        .env("ORDERER_GENERAL_LOCALMSPID", "OrdererMSP")
        .env("ORDERER_GENERAL_LOCALMSPDIR", p(node.join("msp")))
        .env("ORDERER_GENERAL_TLS_ENABLED", "true")
        .env("ORDERER_GENERAL_TLS_PRIVATEKEY", p(tls.join("server.key")))
        .env("ORDERER_GENERAL_TLS_CERTIFICATE", p(tls.join("server.crt")))
        .env(
            "ORDERER_GENERAL_TLS_ROOTCAS",
            format!("[{}]", p(tls.join("ca.crt"))),
        )
        .env(
            "ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE",
            p(tls.join("server.crt")),
        )
        .env(
            "ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY",
            p(tls.join("server.key")),
        )
        .env(
            "ORDERER_GENERAL_CLUSTER_ROOTCAS",
            format!("[{}]", p(tls.join("ca.crt"))),
        )
        .env("ORDERER_GENERAL_BOOTSTRAPMETHOD", "none")
        .env("ORDERER_CHANNELPARTICIPATION_ENABLED", "true")
        .env("ORDERER_FILELEDGER_LOCATION", p(dir.join("ledger")))
        .env("ORDERER_CONSENSUS_WALDIR", p(dir.join("etcdraft/wal")))
        .env("ORDERER_CONSENSUS_SNAPDIR", p(dir.join("etcdraft/snap")))
        .env(
            "ORDERER_ADMIN_LISTENADDRESS",
            format!("127.0.0.1:{admin_port}"),
        )
        .env("ORDERER_ADMIN_TLS_ENABLED", "true")
        .env("ORDERER_ADMIN_TLS_PRIVATEKEY", p(tls.join("server.key")))
        .env("ORDERER_ADMIN_TLS_CERTIFICATE", p(tls.join("server.crt")))
        .env(
            "ORDERER_ADMIN_TLS_ROOTCAS",
            format!("[{}]", p(tls.join("ca.crt"))),
        )
        .env("ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED", "true")
        .env(
            "ORDERER_ADMIN_TLS_CLIENTROOTCAS",
            format!("[{}]", p(tls.join("ca.crt"))),
        )
        .env(
            "ORDERER_OPERATIONS_LISTENADDRESS",
            format!("127.0.0.1:{ops_port}"),
        )
        .env("ORDERER_METRICS_PROVIDER", "disabled")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);

    let admin_tls = org.join("users/Admin@example.com/tls");
    let osnadmin = |args: &[&str]| {
        let mut cmd = Command::new(upstream_bin("osnadmin"));
        cmd.arg("channel")
            .args(args)
            .args(["-o", &format!("127.0.0.1:{admin_port}"), "--ca-file"])
            .arg(tls.join("ca.crt"))
            .arg("--client-cert")
            .arg(admin_tls.join("client.crt"))
            .arg("--client-key")
            .arg(admin_tls.join("client.key"));
        cmd.output().unwrap()
    };
    let orderer_log = || std::fs::read_to_string(dir.join("orderer.log")).unwrap_or_default();

    let deadline = Instant::now() + JOIN_TIMEOUT;
    let block_arg = block.to_string_lossy().into_owned();
    // The admin endpoint needs a moment to come up; retry the join until it answers.
    let joined = loop {
        if let Ok(Some(status)) = guard.0.try_wait() {
            panic!("orderer exited with {status}:\n{}", orderer_log());
        }
        let out = osnadmin(&[
            "join",
            "--channelID",
            "weftchannel",
            "--config-block",
            &block_arg,
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if stdout.contains("Status: 201") {
            break stdout;
        }
        assert!(
            Instant::now() < deadline,
            "join did not succeed: {stdout}\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            orderer_log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(joined.contains("\"name\": \"weftchannel\""), "{joined}");

    loop {
        let out = osnadmin(&["list", "--channelID", "weftchannel"]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if stdout.contains("\"status\": \"active\"") {
            assert!(
                stdout.contains("\"consensusRelation\": \"consenter\""),
                "{stdout}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "channel never became active: {stdout}\n{}",
            orderer_log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
