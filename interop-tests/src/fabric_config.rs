//! The two input files of Fabric's bootstrap tools, generated from a topology:
//! `crypto-config.yaml` for cryptogen and `configtx.yaml` (one profile) for
//! configtxgen. Values are built as JSON trees and emitted as YAML, which both
//! tools read.

use std::path::Path;

use serde_json::{Value, json};

use crate::error::{HarnessError, Result};
use crate::nodes::{OrdererNode, PeerNode};
use crate::topology::Topology;

/// The configtxgen profile name the harness writes and asks for.
pub const CHANNEL_PROFILE: &str = "WeftInteropChannel";

/// Subject alternative names on every TLS certificate: nodes listen on loopback.
const LOOPBACK_SANS: [&str; 2] = ["127.0.0.1", "localhost"];

/// `crypto-config.yaml`: one orderer org with one spec per orderer, and one peer
/// org per topology org using cryptogen's count template; NodeOUs on so that
/// `admin`, `peer`, `client` and `orderer` roles work in policies.
pub fn crypto_config_yaml(topology: &Topology) -> Result<String> {
    let orderer_org = &topology.orderer_org;
    let specs: Vec<Value> = (0..orderer_org.orderers)
        .map(|i| json!({ "Hostname": format!("orderer{i}"), "SANS": LOOPBACK_SANS }))
        .collect();
    let peer_orgs: Vec<Value> = topology
        .peer_orgs
        .iter()
        .map(|org| {
            json!({
                "Name": org.name,
                "Domain": org.domain,
                "EnableNodeOUs": true,
                "Template": { "Count": org.peers, "SANS": LOOPBACK_SANS },
                "Users": { "Count": 1 },
            })
        })
        .collect();
    to_yaml(
        "crypto-config.yaml",
        &json!({
            "OrdererOrgs": [{
                "Name": orderer_org.name,
                "Domain": orderer_org.domain,
                "EnableNodeOUs": true,
                "Specs": specs,
            }],
            "PeerOrgs": peer_orgs,
        }),
    )
}

/// Where the generated MSPs are, per organisation, for `configtx.yaml`.
pub struct OrgMspDirs {
    pub orderer_org: std::path::PathBuf,
    /// In topology order.
    pub peer_orgs: Vec<std::path::PathBuf>,
}

/// `configtx.yaml` with a single application-channel profile for a network
/// bootstrapped through channel participation (no system channel): Raft
/// consenters are the orderers, the application orgs are the peer orgs, and
/// each peer org's first peer is its anchor peer.
pub fn configtx_yaml(
    topology: &Topology,
    msp_dirs: &OrgMspDirs,
    orderers: &[OrdererNode],
    peers: &[PeerNode],
) -> Result<String> {
    let orderer_msp = topology.orderer_org.msp_id();
    let orderer_org = json!({
        "Name": orderer_msp,
        "ID": orderer_msp,
        "MSPDir": msp_dirs.orderer_org,
        "Policies": org_policies(&orderer_msp, &["member"], &["member"], &["member"]),
        "OrdererEndpoints": orderers.iter().map(|o| o.listen.to_string()).collect::<Vec<_>>(),
    });
    let peer_orgs: Vec<Value> = topology
        .peer_orgs
        .iter()
        .zip(&msp_dirs.peer_orgs)
        .map(|(org, msp_dir)| {
            let msp_id = org.msp_id();
            let anchors: Vec<Value> = peers
                .iter()
                .filter(|p| p.msp_id == msp_id)
                .take(1)
                .map(|p| json!({ "Host": p.listen.ip().to_string(), "Port": p.listen.port() }))
                .collect();
            json!({
                "Name": msp_id,
                "ID": msp_id,
                "MSPDir": msp_dir,
                "Policies": org_policies(
                    &msp_id,
                    &["admin", "peer", "client"],
                    &["admin", "client"],
                    &["peer"],
                ),
                "AnchorPeers": anchors,
            })
        })
        .collect();
    let consenters: Vec<Value> = orderers
        .iter()
        .map(|o| {
            json!({
                "Host": o.listen.ip().to_string(),
                "Port": o.listen.port(),
                "ClientTLSCert": o.tls_cert(),
                "ServerTLSCert": o.tls_cert(),
            })
        })
        .collect();
    let caps = &topology.capabilities;
    let profile = json!({
        "Policies": meta_policies(),
        "Capabilities": { caps.channel.as_str(): true },
        "Orderer": {
            "OrdererType": "etcdraft",
            "BatchTimeout": format!("{}ms", topology.batch_timeout_ms),
            "BatchSize": {
                "MaxMessageCount": 100,
                "AbsoluteMaxBytes": "10 MB",
                "PreferredMaxBytes": "2 MB",
            },
            "EtcdRaft": {
                "Consenters": consenters,
                "Options": {
                    "TickInterval": "250ms",
                    "ElectionTick": 10,
                    "HeartbeatTick": 1,
                    "MaxInflightBlocks": 5,
                    "SnapshotIntervalSize": "16 MB",
                },
            },
            "Organizations": [orderer_org],
            "Policies": with_block_validation(meta_policies()),
            "Capabilities": { caps.orderer.as_str(): true },
        },
        "Application": {
            "Organizations": peer_orgs,
            "Policies": application_policies(),
            "Capabilities": { caps.application.as_str(): true },
        },
    });
    to_yaml(
        "configtx.yaml",
        &json!({ "Profiles": { CHANNEL_PROFILE: profile } }),
    )
}

/// Writes the node configuration directory every process of a network uses as
/// `FABRIC_CFG_PATH`: the release's `orderer.yaml` as is, and its `core.yaml`
/// with `vm.endpoint` emptied. An empty endpoint is the only way to turn the
/// peer's Docker chaincode support off (an empty environment variable counts
/// as unset), and with it on the peer's `/healthz` reports Docker as down.
pub fn write_node_config_dir(release_config: &Path, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest).map_err(HarnessError::io("creating", dest))?;
    let orderer_yaml = release_config.join("orderer.yaml");
    std::fs::copy(&orderer_yaml, dest.join("orderer.yaml"))
        .map_err(HarnessError::io("copying", &orderer_yaml))?;
    let core_yaml = release_config.join("core.yaml");
    let text =
        std::fs::read_to_string(&core_yaml).map_err(HarnessError::io("reading", &core_yaml))?;
    let mut core: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).map_err(|e| HarnessError::Serialise {
            what: "core.yaml",
            detail: e.to_string(),
        })?;
    let endpoint = core
        .get_mut("vm")
        .and_then(|vm| vm.get_mut("endpoint"))
        .ok_or_else(|| HarnessError::Serialise {
            what: "core.yaml",
            detail: "no vm.endpoint setting".into(),
        })?;
    *endpoint = serde_yaml_ng::Value::String(String::new());
    let patched = serde_yaml_ng::to_string(&core).map_err(|e| HarnessError::Serialise {
        what: "core.yaml",
        detail: e.to_string(),
    })?;
    let out = dest.join("core.yaml");
    std::fs::write(&out, patched).map_err(HarnessError::io("writing", &out))
}

fn signature(rule: String) -> Value {
    json!({ "Type": "Signature", "Rule": rule })
}

fn implicit(rule: &str) -> Value {
    json!({ "Type": "ImplicitMeta", "Rule": rule })
}

/// Org-level signature policies, each satisfied by any one of the listed roles.
fn org_policies(msp_id: &str, readers: &[&str], writers: &[&str], endorsement: &[&str]) -> Value {
    let any_of = |roles: &[&str]| {
        let principals: Vec<String> = roles
            .iter()
            .map(|role| format!("'{msp_id}.{role}'"))
            .collect();
        signature(format!("OR({})", principals.join(", ")))
    };
    json!({
        "Readers": any_of(readers),
        "Writers": any_of(writers),
        "Admins": any_of(&["admin"]),
        "Endorsement": any_of(endorsement),
    })
}

fn meta_policies() -> Value {
    json!({
        "Readers": implicit("ANY Readers"),
        "Writers": implicit("ANY Writers"),
        "Admins": implicit("MAJORITY Admins"),
    })
}

fn with_block_validation(mut policies: Value) -> Value {
    if let Some(map) = policies.as_object_mut() {
        map.insert("BlockValidation".into(), implicit("ANY Writers"));
    }
    policies
}

fn application_policies() -> Value {
    let mut policies = meta_policies();
    if let Some(map) = policies.as_object_mut() {
        map.insert(
            "LifecycleEndorsement".into(),
            implicit("MAJORITY Endorsement"),
        );
        map.insert("Endorsement".into(), implicit("MAJORITY Endorsement"));
    }
    policies
}

fn to_yaml(what: &'static str, value: &Value) -> Result<String> {
    serde_yaml_ng::to_string(value).map_err(|e| HarnessError::Serialise {
        what,
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::NodeCommand;
    use std::path::PathBuf;

    fn topology() -> Topology {
        let mut t = crate::topology::Topology {
            channel: "mychannel".into(),
            orderer_org: crate::topology::OrdererOrgSpec {
                name: "Orderer".into(),
                domain: "example.com".into(),
                orderers: 2,
            },
            peer_orgs: Vec::new(),
            capabilities: Default::default(),
            batch_timeout_ms: 250,
            orderer_command: NodeCommand::new("/bin/false", &[]),
            peer_command: NodeCommand::new("/bin/false", &[]),
            node_commands: Default::default(),
        };
        t = t.peer_org("Org1", 2).peer_org("Org2", 1);
        t
    }

    fn orderer(i: u16) -> OrdererNode {
        OrdererNode {
            name: format!("orderer{i}.example.com"),
            msp_id: "OrdererMSP".into(),
            listen: ([127, 0, 0, 1], 7050 + i).into(),
            admin: ([127, 0, 0, 1], 9000 + i).into(),
            operations: ([127, 0, 0, 1], 9100 + i).into(),
            crypto_dir: PathBuf::from(format!("/c/orderer{i}")),
            data_dir: PathBuf::from("/d"),
            log: PathBuf::from("/l"),
        }
    }

    fn peer(name: &str, msp_id: &str, port: u16) -> PeerNode {
        PeerNode {
            name: name.into(),
            org: msp_id.trim_end_matches("MSP").into(),
            msp_id: msp_id.into(),
            listen: ([127, 0, 0, 1], port).into(),
            chaincode: ([127, 0, 0, 1], port + 1).into(),
            operations: ([127, 0, 0, 1], port + 2).into(),
            crypto_dir: PathBuf::from("/c/p"),
            data_dir: PathBuf::from("/d"),
            log: PathBuf::from("/l"),
        }
    }

    #[test]
    fn node_config_dir_turns_docker_off_and_keeps_everything_else() {
        let release = tempfile::tempdir().unwrap();
        std::fs::write(
            release.path().join("orderer.yaml"),
            "General:\n  ListenPort: 7050\n",
        )
        .unwrap();
        std::fs::write(
            release.path().join("core.yaml"),
            "peer:\n  id: jdoe\nvm:\n  endpoint: unix:///var/run/docker.sock\n  docker:\n    tls:\n      enabled: false\n",
        )
        .unwrap();
        let dest = release.path().join("node-config");
        write_node_config_dir(release.path(), &dest).unwrap();
        let core: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(dest.join("core.yaml")).unwrap())
                .unwrap();
        assert_eq!(core["vm"]["endpoint"].as_str(), Some(""));
        assert_eq!(core["peer"]["id"].as_str(), Some("jdoe"));
        assert_eq!(
            core["vm"]["docker"]["tls"]["enabled"].as_bool(),
            Some(false)
        );
        assert_eq!(
            std::fs::read_to_string(dest.join("orderer.yaml")).unwrap(),
            "General:\n  ListenPort: 7050\n"
        );

        std::fs::write(release.path().join("core.yaml"), "peer: {}\n").unwrap();
        assert!(
            write_node_config_dir(release.path(), &dest).is_err(),
            "a core.yaml without vm.endpoint"
        );
    }

    #[test]
    fn crypto_config_lists_every_node_with_loopback_sans() {
        let yaml: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&crypto_config_yaml(&topology()).unwrap()).unwrap();
        let orderer_org = &yaml["OrdererOrgs"][0];
        assert_eq!(orderer_org["Domain"].as_str(), Some("example.com"));
        assert_eq!(orderer_org["Specs"].as_sequence().unwrap().len(), 2);
        assert_eq!(
            orderer_org["Specs"][1]["Hostname"].as_str(),
            Some("orderer1")
        );
        assert_eq!(yaml["PeerOrgs"][0]["Template"]["Count"].as_u64(), Some(2));
        assert_eq!(
            yaml["PeerOrgs"][1]["Domain"].as_str(),
            Some("org2.example.com")
        );
        assert_eq!(
            yaml["PeerOrgs"][1]["Template"]["SANS"][0].as_str(),
            Some("127.0.0.1")
        );
    }

    #[test]
    fn configtx_profile_wires_consenters_endpoints_and_anchor_peers() {
        let t = topology();
        let dirs = OrgMspDirs {
            orderer_org: "/msp/o".into(),
            peer_orgs: vec!["/msp/1".into(), "/msp/2".into()],
        };
        let peers = [
            peer("peer0.org1", "Org1MSP", 7051),
            peer("peer1.org1", "Org1MSP", 8051),
            peer("peer0.org2", "Org2MSP", 9051),
        ];
        let text = configtx_yaml(&t, &dirs, &[orderer(0), orderer(1)], &peers).unwrap();
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        let profile = &yaml["Profiles"][CHANNEL_PROFILE];
        let consenters = &profile["Orderer"]["EtcdRaft"]["Consenters"];
        assert_eq!(consenters[1]["Port"].as_u64(), Some(7051));
        assert_eq!(
            consenters[0]["ServerTLSCert"].as_str(),
            Some("/c/orderer0/tls/server.crt")
        );
        assert_eq!(
            profile["Orderer"]["Organizations"][0]["OrdererEndpoints"][1].as_str(),
            Some("127.0.0.1:7051")
        );
        let org1 = &profile["Application"]["Organizations"][0];
        assert_eq!(org1["ID"].as_str(), Some("Org1MSP"));
        assert_eq!(org1["AnchorPeers"].as_sequence().unwrap().len(), 1);
        assert_eq!(org1["AnchorPeers"][0]["Port"].as_u64(), Some(7051));
        assert_eq!(
            org1["Policies"]["Readers"]["Rule"].as_str(),
            Some("OR('Org1MSP.admin', 'Org1MSP.peer', 'Org1MSP.client')")
        );
        assert_eq!(
            org1["Policies"]["Endorsement"]["Rule"].as_str(),
            Some("OR('Org1MSP.peer')")
        );
        assert_eq!(
            profile["Application"]["Capabilities"]["V2_5"].as_bool(),
            Some(true)
        );
        assert_eq!(profile["Orderer"]["BatchTimeout"].as_str(), Some("250ms"));
        assert_eq!(
            profile["Orderer"]["Policies"]["BlockValidation"]["Rule"].as_str(),
            Some("ANY Writers")
        );
    }
}
