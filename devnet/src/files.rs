//! The input files of network setup, written for this network's fixed layout: cryptogen's
//! `crypto-config.yaml`, configtxgen's `configtx.yaml` (one application channel profile with a
//! single Raft consenter) and each node's `orderer.yaml` / `core.yaml`. Values are built as JSON
//! trees and emitted as YAML.

use std::path::Path;

use serde_json::{Value, json};

use crate::error::{DevnetError, Result};
use crate::layout::{
    Layout, ORDERER_ADMIN_PORT, ORDERER_DOMAIN, ORDERER_MSP, ORDERER_OPERATIONS_PORT, ORDERER_PORT,
    PEER_ORGS, PeerOrg,
};

/// The configtxgen profile name written into configtx.yaml.
pub const PROFILE: &str = "WeftLocalNetwork";
const SANS: [&str; 2] = ["localhost", "127.0.0.1"];

pub fn crypto_config() -> Result<String> {
    let peer_orgs: Vec<Value> = PEER_ORGS
        .iter()
        .map(|org| {
            json!({
                "Name": org.name, "Domain": org.domain, "EnableNodeOUs": true,
                "Template": { "Count": 1, "SANS": SANS }, "Users": { "Count": 1 },
            })
        })
        .collect();
    to_yaml(&json!({
        "OrdererOrgs": [{
            "Name": "Orderer", "Domain": ORDERER_DOMAIN, "EnableNodeOUs": true,
            "Specs": [{ "Hostname": "orderer", "SANS": SANS }],
        }],
        "PeerOrgs": peer_orgs,
    }))
}

pub fn configtx(layout: &Layout) -> Result<String> {
    let orderer_tls = layout.orderer_dir().join("tls").join("server.crt");
    let orderer_org = json!({
        "Name": ORDERER_MSP, "ID": ORDERER_MSP, "MSPDir": layout.orderer_org_dir().join("msp"),
        "Policies": org_policies(ORDERER_MSP, &["member"], &["member"], &["member"]),
        "OrdererEndpoints": [format!("localhost:{ORDERER_PORT}")],
    });
    let peer_orgs: Vec<Value> = PEER_ORGS
        .iter()
        .map(|org| {
            json!({
                "Name": org.msp_id, "ID": org.msp_id, "MSPDir": layout.peer_org_dir(org).join("msp"),
                "Policies": org_policies(org.msp_id, &["admin", "peer", "client"], &["admin", "client"], &["peer"]),
                "AnchorPeers": [{ "Host": "localhost", "Port": org.peer_port }],
            })
        })
        .collect();
    let profile = json!({
        "Policies": meta_policies(),
        "Capabilities": { "V2_0": true },
        "Orderer": {
            "OrdererType": "etcdraft",
            "BatchTimeout": "2s",
            "BatchSize": { "MaxMessageCount": 10, "AbsoluteMaxBytes": "99 MB", "PreferredMaxBytes": "512 KB" },
            "EtcdRaft": {
                "Consenters": [{ "Host": "localhost", "Port": ORDERER_PORT, "ClientTLSCert": orderer_tls, "ServerTLSCert": orderer_tls }],
                "Options": { "TickInterval": "500ms", "ElectionTick": 10, "HeartbeatTick": 1, "MaxInflightBlocks": 5, "SnapshotIntervalSize": "16 MB" },
            },
            "Organizations": [orderer_org],
            "Policies": with(meta_policies(), "BlockValidation", implicit("ANY Writers")),
            "Capabilities": { "V2_0": true },
        },
        "Application": {
            "Organizations": peer_orgs,
            "Policies": with(with(meta_policies(), "LifecycleEndorsement", implicit("MAJORITY Endorsement")), "Endorsement", implicit("MAJORITY Endorsement")),
            "Capabilities": { "V2_5": true },
        },
    });
    to_yaml(&json!({ "Profiles": { PROFILE: profile } }))
}

/// The orderer's `orderer.yaml`: TLS everywhere, channel participation on, admin endpoint with
/// mutual TLS, data under the node's directory.
pub fn orderer_yaml(layout: &Layout) -> Result<String> {
    let dir = layout.orderer_dir();
    let data = layout.node_dir("orderer");
    let tls = |f: &str| dir.join("tls").join(f);
    to_yaml(&json!({
        "General": {
            "ListenAddress": "127.0.0.1", "ListenPort": ORDERER_PORT,
            "TLS": { "Enabled": true, "Certificate": tls("server.crt"), "PrivateKey": tls("server.key"), "RootCAs": [tls("ca.crt")] },
            "Cluster": { "ClientCertificate": tls("server.crt"), "ClientPrivateKey": tls("server.key"), "RootCAs": [tls("ca.crt")] },
            "BootstrapMethod": "none",
            "LocalMSPDir": dir.join("msp"), "LocalMSPID": ORDERER_MSP,
        },
        "FileLedger": { "Location": data.join("ledger") },
        "Consensus": { "WALDir": data.join("etcdraft").join("wal"), "SnapDir": data.join("etcdraft").join("snapshot") },
        "Operations": { "ListenAddress": format!("127.0.0.1:{ORDERER_OPERATIONS_PORT}"), "TLS": { "Enabled": false } },
        "Metrics": { "Provider": "prometheus" },
        "Admin": {
            "ListenAddress": format!("127.0.0.1:{ORDERER_ADMIN_PORT}"),
            "TLS": { "Enabled": true, "Certificate": tls("server.crt"), "PrivateKey": tls("server.key"), "RootCAs": [tls("ca.crt")], "ClientAuthRequired": true, "ClientRootCAs": [tls("ca.crt")] },
        },
        "ChannelParticipation": { "Enabled": true, "MaxRequestBodySize": "1 MB" },
    }))
}

/// A peer's `core.yaml`: TLS on, its org's gossip leader (it pulls blocks from the orderer
/// itself), gateway on, data under the node's directory.
pub fn core_yaml(layout: &Layout, org: &PeerOrg) -> Result<String> {
    let dir = layout.peer_dir(org);
    let tls = |f: &str| dir.join("tls").join(f);
    let address = org.peer_address();
    to_yaml(&json!({
        "peer": {
            "id": org.peer_host(),
            "address": address,
            "listenAddress": format!("127.0.0.1:{}", org.peer_port),
            "fileSystemPath": layout.node_dir(&org.peer_host()).join("data"),
            "mspConfigPath": dir.join("msp"),
            "localMspId": org.msp_id,
            "tls": { "enabled": true, "cert": { "file": tls("server.crt") }, "key": { "file": tls("server.key") }, "rootcert": { "file": tls("ca.crt") } },
            "gossip": { "useLeaderElection": false, "orgLeader": true, "endpoint": address, "externalEndpoint": address },
            "gateway": { "enabled": true },
        },
        "operations": { "listenAddress": format!("127.0.0.1:{}", org.operations_port), "tls": { "enabled": false } },
        "metrics": { "provider": "prometheus" },
    }))
}

/// Writes `text` to `path`, creating parent directories.
pub fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(DevnetError::io("creating", parent))?;
    }
    std::fs::write(path, text).map_err(DevnetError::io("writing", path))
}

fn signature(rule: String) -> Value {
    json!({ "Type": "Signature", "Rule": rule })
}

fn implicit(rule: &str) -> Value {
    json!({ "Type": "ImplicitMeta", "Rule": rule })
}

fn org_policies(msp_id: &str, readers: &[&str], writers: &[&str], endorsement: &[&str]) -> Value {
    let any_of = |roles: &[&str]| {
        let principals: Vec<String> = roles
            .iter()
            .map(|role| format!("'{msp_id}.{role}'"))
            .collect();
        signature(format!("OR({})", principals.join(", ")))
    };
    json!({ "Readers": any_of(readers), "Writers": any_of(writers), "Admins": any_of(&["admin"]), "Endorsement": any_of(endorsement) })
}

fn meta_policies() -> Value {
    json!({ "Readers": implicit("ANY Readers"), "Writers": implicit("ANY Writers"), "Admins": implicit("MAJORITY Admins") })
}

fn with(mut policies: Value, name: &str, policy: Value) -> Value {
    if let Some(map) = policies.as_object_mut() {
        map.insert(name.to_owned(), policy);
    }
    policies
}

fn to_yaml(value: &Value) -> Result<String> {
    serde_yaml_ng::to_string(value).map_err(|e| DevnetError::Setup(format!("writing YAML: {e}")))
}
