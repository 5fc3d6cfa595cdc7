//! Against upstream Fabric 2.5.9 tools: a genesis block made by `cryptogen` + `configtxgen`
//! is parsed with Weft's real MSP and policy crates, updates are signed with real admin
//! keys, and our computed updates are compared with `configtxlator compute_update`.
//! These tests fail (never skip) when the upstream binaries are missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use fabric_protos::common::{Block, Config, ConfigGroup, ConfigUpdate};
use fabric_protos::orderer::BatchSize;
use prost::Message;
use weft_channelconfig::{BundleSources, ChannelBundle, Consensus, UpdateError, compute_update};
use weft_msp::{Identity, SigningIdentity, X509Msp};

use crate::fixture::{org_group, update_envelope_signed, value};
use crate::table::apply_edit;

const CHANNEL: &str = "upchannel";

fn bin(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.cache/upstream/fabric-2.5.9/bin")
        .join(name);
    assert!(
        path.exists(),
        "upstream binary {} is missing; install the upstream toolchain first",
        path.display()
    );
    path
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const CRYPTO_CONFIG: &str = "
OrdererOrgs:
  - Name: Orderer
    Domain: example.com
    EnableNodeOUs: true
    Specs:
      - Hostname: orderer
PeerOrgs:
  - Name: Org1
    Domain: org1.example.com
    EnableNodeOUs: true
    Template: { Count: 1 }
    Users: { Count: 1 }
  - Name: Org2
    Domain: org2.example.com
    EnableNodeOUs: true
    Template: { Count: 1 }
    Users: { Count: 1 }
  - Name: Org3
    Domain: org3.example.com
    EnableNodeOUs: true
    Template: { Count: 1 }
";

fn org_yaml(name: &str, msp_id: &str, msp_dir: &str, extra: &str) -> String {
    let id = msp_id;
    format!(
        "  - &{name}
    Name: {name}
    ID: {id}
    MSPDir: {msp_dir}
    Policies:
      Readers: {{ Type: Signature, Rule: \"OR('{id}.member')\" }}
      Writers: {{ Type: Signature, Rule: \"OR('{id}.member')\" }}
      Admins: {{ Type: Signature, Rule: \"OR('{id}.admin')\" }}
      Endorsement: {{ Type: Signature, Rule: \"OR('{id}.member')\" }}
{extra}"
    )
}

fn configtx_yaml(crypto: &Path) -> String {
    let c = crypto.display();
    let orderer_tls =
        format!("{c}/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt");
    let mut orgs = String::from("Organizations:\n");
    orgs += &org_yaml(
        "OrdererOrg",
        "OrdererMSP",
        &format!("{c}/ordererOrganizations/example.com/msp"),
        "    OrdererEndpoints: [ \"orderer.example.com:7050\" ]\n",
    );
    for (org, port) in [("Org1", 7051), ("Org2", 9051)] {
        let lower = org.to_lowercase();
        orgs += &org_yaml(
            org,
            &format!("{org}MSP"),
            &format!("{c}/peerOrganizations/{lower}.example.com/msp"),
            &format!("    AnchorPeers: [ {{ Host: peer0.{lower}.example.com, Port: {port} }} ]\n"),
        );
    }
    let implicit = |indent: usize| {
        let pad = " ".repeat(indent);
        format!(
            "\n{pad}Readers: {{ Type: ImplicitMeta, Rule: \"ANY Readers\" }}\n{pad}Writers: {{ Type: ImplicitMeta, Rule: \"ANY Writers\" }}\n{pad}Admins: {{ Type: ImplicitMeta, Rule: \"MAJORITY Admins\" }}"
        )
    };
    let (top, section) = (implicit(6), implicit(8));
    format!(
        "{orgs}
Profiles:
  Weft:
    Capabilities: {{ V2_0: true }}
    Policies:{top}
    Orderer:
      OrdererType: etcdraft
      BatchTimeout: 2s
      BatchSize: {{ MaxMessageCount: 10, AbsoluteMaxBytes: 99 MB, PreferredMaxBytes: 512 KB }}
      EtcdRaft:
        Consenters:
          - {{ Host: orderer.example.com, Port: 7050, ClientTLSCert: {orderer_tls}, ServerTLSCert: {orderer_tls} }}
      Organizations: [ *OrdererOrg ]
      Capabilities: {{ V2_0: true }}
      Policies:{section}
        BlockValidation: {{ Type: ImplicitMeta, Rule: \"ANY Writers\" }}
    Application:
      Organizations: [ *Org1, *Org2 ]
      Capabilities: {{ V2_5: true }}
      Policies:{section}
        Endorsement: {{ Type: ImplicitMeta, Rule: \"MAJORITY Endorsement\" }}
        LifecycleEndorsement: {{ Type: ImplicitMeta, Rule: \"MAJORITY Endorsement\" }}
      ACLs: {{ peer/Propose: Writers, event/Block: /Channel/Application/Readers }}
"
    )
}

struct Network {
    dir: tempfile::TempDir,
    genesis: Block,
}

impl Network {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let crypto = dir.path().join("crypto");
        std::fs::write(dir.path().join("crypto-config.yaml"), CRYPTO_CONFIG).unwrap();
        run(Command::new(bin("cryptogen"))
            .arg("generate")
            .arg("--config")
            .arg(dir.path().join("crypto-config.yaml"))
            .arg("--output")
            .arg(&crypto));
        std::fs::write(dir.path().join("configtx.yaml"), configtx_yaml(&crypto)).unwrap();
        let block_path = dir.path().join("genesis.block");
        run(Command::new(bin("configtxgen"))
            .arg("-configPath")
            .arg(dir.path())
            .args(["-profile", "Weft", "-channelID", CHANNEL, "-outputBlock"])
            .arg(&block_path));
        let genesis = Block::decode(std::fs::read(block_path).unwrap().as_slice()).unwrap();
        Self { dir, genesis }
    }

    fn signer(&self, org: &str, user: &str) -> std::sync::Arc<weft_msp::X509SigningIdentity> {
        let (dir, msp_id) = if org == "OrdererOrg" {
            let dir =
                format!("crypto/ordererOrganizations/example.com/users/{user}@example.com/msp");
            (dir, "OrdererMSP".to_string())
        } else {
            let lower = org.to_lowercase();
            let dir = format!(
                "crypto/peerOrganizations/{lower}.example.com/users/{user}@{lower}.example.com/msp"
            );
            (dir, format!("{org}MSP"))
        };
        X509Msp::load_local(&self.dir.path().join(dir), &msp_id)
            .unwrap()
            .signing_identity()
            .unwrap()
    }

    /// A new application org group named `org` with the cryptogen MSP of Org3 (the only
    /// org generated outside the channel).
    fn new_org(&self, org: &str) -> ConfigGroup {
        let dir = self
            .dir
            .path()
            .join("crypto/peerOrganizations/org3.example.com/msp");
        let msp_id = format!("{org}MSP");
        let mut group = org_group(&msp_id);
        let config = weft_msp::msp_config_from_dir(&dir, &msp_id).unwrap();
        group.values.insert("MSP".into(), value(&config));
        group
    }

    /// `configtxlator compute_update` for two configs.
    fn upstream_compute_update(&self, original: &Config, updated: &Config) -> ConfigUpdate {
        let (a, b, out) = (
            self.dir.path().join("a.pb"),
            self.dir.path().join("b.pb"),
            self.dir.path().join("u.pb"),
        );
        std::fs::write(&a, original.encode_to_vec()).unwrap();
        std::fs::write(&b, updated.encode_to_vec()).unwrap();
        run(Command::new(bin("configtxlator"))
            .args(["compute_update", "--channel_id", CHANNEL, "--original"])
            .arg(&a)
            .arg("--updated")
            .arg(&b)
            .arg("--output")
            .arg(&out));
        ConfigUpdate::decode(std::fs::read(out).unwrap().as_slice()).unwrap()
    }
}

fn sign_with(
    update: &ConfigUpdate,
    signers: &[&dyn SigningIdentity],
) -> fabric_protos::common::Envelope {
    update_envelope_signed(
        update,
        &|i, header_and_update| {
            let s = signers[i];
            (s.serialize(), s.sign(header_and_update).unwrap())
        },
        signers.len(),
    )
}

#[test]
fn upstream_genesis_block_parses_with_weft_msps_and_policies() {
    let net = Network::new();
    let bundle = ChannelBundle::from_config_block(&net.genesis, BundleSources::weft()).unwrap();
    assert_eq!(bundle.channel_id(), CHANNEL);
    assert_eq!(bundle.sequence(), 0);
    let orderer = bundle.orderer().unwrap();
    assert_eq!(orderer.organizations["OrdererOrg"].org.msp_id, "OrdererMSP");
    assert_eq!(
        orderer.organizations["OrdererOrg"].endpoints,
        ["orderer.example.com:7050"]
    );
    let Consensus::EtcdRaft(raft) = &orderer.consensus else {
        panic!("{:?}", orderer.consensus)
    };
    assert_eq!(
        (raft.consenters[0].host.as_str(), raft.consenters[0].port),
        ("orderer.example.com", 7050)
    );
    assert!(
        raft.consenters[0]
            .server_tls_cert
            .starts_with(b"-----BEGIN CERTIFICATE-----")
    );
    assert_eq!(
        orderer.batch_size,
        BatchSize {
            max_message_count: 10,
            absolute_max_bytes: 99 * 1024 * 1024,
            preferred_max_bytes: 512 * 1024
        }
    );
    assert_eq!(orderer.batch_timeout, std::time::Duration::from_secs(2));
    let app = bundle.application().unwrap();
    assert_eq!(app.organizations["Org1"].org.msp_id, "Org1MSP");
    assert_eq!(
        app.organizations["Org2"].anchor_peers[0].host,
        "peer0.org2.example.com"
    );
    assert!(
        app.capabilities.purge_pvt_data(),
        "V2_5 application capability"
    );
    assert_eq!(
        app.policy_ref_for_api("peer/Propose"),
        Some("/Channel/Application/Writers")
    );
    assert_eq!(
        app.policy_ref_for_api("event/Block"),
        Some("/Channel/Application/Readers")
    );
}

// Fabric configtxlator compute_update and configtx ProposeConfigUpdate with real signatures.
#[test]
fn upstream_updates_match_and_authorize_with_real_signatures() {
    let net = Network::new();
    let bundle = ChannelBundle::from_config_block(&net.genesis, BundleSources::weft()).unwrap();
    let original = bundle.config().clone();
    let org1_admin = net.signer("Org1", "Admin");
    let org2_admin = net.signer("Org2", "Admin");
    let org1_user = net.signer("Org1", "User1");

    for edit in [
        "anchor_peer:Org1:peer1.org1.example.com:7061",
        "app_policy:Writers:ALL:Writers",
        "remove_app_org:Org2",
        "batch_max_messages:20",
    ] {
        let edit: Vec<String> = edit.split(':').map(String::from).collect();
        let mut updated = original.clone();
        apply_edit(updated.channel_group.as_mut().unwrap(), &edit, &|o| {
            net.new_org(o)
        });
        let ours = compute_update(CHANNEL, &original, &updated).unwrap();
        let theirs = net.upstream_compute_update(&original, &updated);
        assert_eq!(
            ours, theirs,
            "compute_update differs from configtxlator for {edit:?}"
        );
    }

    // Org1 may change its own anchor peers; an Org1 client may not; an app policy needs both admins.
    let anchor = |edit: &str| {
        let edit: Vec<String> = edit.split(':').map(String::from).collect();
        let mut updated = original.clone();
        apply_edit(updated.channel_group.as_mut().unwrap(), &edit, &|o| {
            net.new_org(o)
        });
        compute_update(CHANNEL, &original, &updated).unwrap()
    };
    let update = anchor("anchor_peer:Org1:peer1.org1.example.com:7061");
    let next = bundle
        .propose_config_update(&sign_with(&update, &[org1_admin.as_ref()]))
        .unwrap();
    bundle
        .apply_config_envelope(&next, BundleSources::weft())
        .unwrap();
    let refused = bundle.propose_config_update(&sign_with(&update, &[org1_user.as_ref()]));
    assert!(
        matches!(refused, Err(UpdateError::PolicyNotSatisfied { .. })),
        "{refused:?}"
    );

    let update = anchor("app_policy:Writers:ALL:Writers");
    let refused = bundle.propose_config_update(&sign_with(&update, &[org1_admin.as_ref()]));
    assert!(
        matches!(refused, Err(UpdateError::PolicyNotSatisfied { .. })),
        "{refused:?}"
    );
    let next = bundle
        .propose_config_update(&sign_with(
            &update,
            &[org1_admin.as_ref(), org2_admin.as_ref()],
        ))
        .unwrap();
    let next_bundle = bundle
        .apply_config_envelope(&next, BundleSources::weft())
        .unwrap();
    assert_eq!(next_bundle.sequence(), 1);
}

// configtxlator compute_update on every edit of testdata/config_updates.txt.
#[test]
fn upstream_compute_update_matches_for_table_edits() {
    let net = Network::new();
    let original = crate::fixture::base_config();
    for case in crate::table::cases() {
        let mut updated = original.clone();
        apply_edit(updated.channel_group.as_mut().unwrap(), &case.edit, &|o| {
            org_group(&format!("{o}MSP"))
        });
        let ours = compute_update(CHANNEL, &original, &updated).unwrap();
        let theirs = net.upstream_compute_update(&original, &updated);
        assert_eq!(
            ours, theirs,
            "compute_update differs from configtxlator for row {}",
            case.name
        );
    }
}

// Every row of testdata/config_updates.txt replayed on the configtxgen channel with real
// X.509 MSPs, Weft's policy crate and ECDSA signatures by the orgs' cryptogen admins: the
// decisions must be those of the table (as an upstream orderer's must be).
#[test]
fn upstream_table_decisions_with_real_crypto() {
    let net = Network::new();
    let bundle = ChannelBundle::from_config_block(&net.genesis, BundleSources::weft()).unwrap();
    let admins: std::collections::BTreeMap<&str, _> = ["OrdererOrg", "Org1", "Org2"]
        .into_iter()
        .map(|org| (org, net.signer(org, "Admin")))
        .collect();
    let sign_as = |org: &str, bytes: &[u8]| {
        let admin = &admins[org];
        (admin.serialize(), admin.sign(bytes).unwrap())
    };
    let new_org = |org: &str| net.new_org(org);
    let world = crate::table::World {
        channel_id: CHANNEL,
        base: bundle.config().clone(),
        sources: BundleSources::weft(),
        new_org: &new_org,
        sign_as: &sign_as,
    };
    let failures = crate::table::run_table(&world);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
