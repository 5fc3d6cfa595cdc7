//! Per-node configuration as environment overrides on top of the release's
//! sample `core.yaml` / `orderer.yaml` (found through `FABRIC_CFG_PATH`).
//! Fabric maps `CORE_PEER_TLS_ENABLED` to `peer.tls.enabled` and
//! `ORDERER_GENERAL_LISTENPORT` to `General.ListenPort`; list values are
//! written as `[a, b]` and structured values as inline YAML, as Fabric's
//! config loader accepts. Every path and port the samples default to is
//! overridden so that nodes never touch `/var/hyperledger` or a fixed port.

use std::path::Path;

use crate::nodes::{OrdererNode, OrgAdmin, PeerNode, TlsFiles};

/// Key/value pairs to set on a child process.
pub type EnvVars = Vec<(String, String)>;

/// Default log spec of every node; `WEFT_INTEROP_LOGGING_SPEC` replaces it.
const DEFAULT_LOGGING_SPEC: &str = "info";
/// Environment variable that overrides the nodes' `FABRIC_LOGGING_SPEC`.
pub const LOGGING_SPEC_ENV: &str = "WEFT_INTEROP_LOGGING_SPEC";

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn push(env: &mut EnvVars, key: &str, value: impl Into<String>) {
    env.push((key.to_owned(), value.into()));
}

fn common(env: &mut EnvVars, config_dir: &Path) {
    push(env, "FABRIC_CFG_PATH", path(config_dir));
    let spec = std::env::var(LOGGING_SPEC_ENV).unwrap_or_else(|_| DEFAULT_LOGGING_SPEC.to_owned());
    push(env, "FABRIC_LOGGING_SPEC", spec);
}

/// Environment of one orderer: TLS on its gRPC listener (also used for Raft
/// cluster traffic), channel participation with no system channel, and an
/// admin endpoint that requires client certificates from its org's TLS CA.
pub fn orderer_env(node: &OrdererNode, config_dir: &Path) -> EnvVars {
    let mut env = EnvVars::new();
    common(&mut env, config_dir);
    let (cert, key, ca) = (
        path(&node.tls_cert()),
        path(&node.tls_key()),
        path(&node.tls_ca()),
    );
    let settings = [
        (
            "ORDERER_GENERAL_LISTENADDRESS",
            node.listen.ip().to_string(),
        ),
        ("ORDERER_GENERAL_LISTENPORT", node.listen.port().to_string()),
        ("ORDERER_GENERAL_LOCALMSPID", node.msp_id.clone()),
        ("ORDERER_GENERAL_LOCALMSPDIR", path(&node.msp_dir())),
        ("ORDERER_GENERAL_BOOTSTRAPMETHOD", "none".into()),
        ("ORDERER_GENERAL_TLS_ENABLED", "true".into()),
        ("ORDERER_GENERAL_TLS_CERTIFICATE", cert.clone()),
        ("ORDERER_GENERAL_TLS_PRIVATEKEY", key.clone()),
        ("ORDERER_GENERAL_TLS_ROOTCAS", format!("[{ca}]")),
        ("ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE", cert.clone()),
        ("ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY", key.clone()),
        ("ORDERER_GENERAL_CLUSTER_ROOTCAS", format!("[{ca}]")),
        ("ORDERER_CHANNELPARTICIPATION_ENABLED", "true".into()),
        ("ORDERER_ADMIN_LISTENADDRESS", node.admin.to_string()),
        ("ORDERER_ADMIN_TLS_ENABLED", "true".into()),
        ("ORDERER_ADMIN_TLS_CERTIFICATE", cert),
        ("ORDERER_ADMIN_TLS_PRIVATEKEY", key),
        ("ORDERER_ADMIN_TLS_ROOTCAS", format!("[{ca}]")),
        ("ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED", "true".into()),
        ("ORDERER_ADMIN_TLS_CLIENTROOTCAS", format!("[{ca}]")),
        (
            "ORDERER_OPERATIONS_LISTENADDRESS",
            node.operations.to_string(),
        ),
        ("ORDERER_OPERATIONS_TLS_ENABLED", "false".into()),
        ("ORDERER_METRICS_PROVIDER", "prometheus".into()),
        (
            "ORDERER_FILELEDGER_LOCATION",
            path(&node.data_dir.join("ledger")),
        ),
        (
            "ORDERER_CONSENSUS_WALDIR",
            path(&node.data_dir.join("etcdraft").join("wal")),
        ),
        (
            "ORDERER_CONSENSUS_SNAPDIR",
            path(&node.data_dir.join("etcdraft").join("snapshot")),
        ),
    ];
    env.extend(settings.into_iter().map(|(k, v)| (k.to_owned(), v)));
    env
}

/// Environment of one peer: TLS on, every peer its org's gossip leader
/// (no election, so each pulls blocks from the orderers itself), and the
/// chaincode-as-a-service external builder as the only builder.
pub fn peer_env(
    node: &PeerNode,
    gossip_bootstrap: &PeerNode,
    config_dir: &Path,
    ccaas_builder: &Path,
) -> EnvVars {
    let mut env = EnvVars::new();
    common(&mut env, config_dir);
    let builders = format!(
        "[{{name: ccaas, path: {}, propagateEnvironment: [CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG]}}]",
        path(ccaas_builder)
    );
    let settings = [
        ("CORE_PEER_ID", node.name.clone()),
        ("CORE_PEER_ADDRESS", node.listen.to_string()),
        ("CORE_PEER_LISTENADDRESS", node.listen.to_string()),
        ("CORE_PEER_CHAINCODEADDRESS", node.chaincode.to_string()),
        (
            "CORE_PEER_CHAINCODELISTENADDRESS",
            node.chaincode.to_string(),
        ),
        ("CORE_PEER_LOCALMSPID", node.msp_id.clone()),
        ("CORE_PEER_MSPCONFIGPATH", path(&node.msp_dir())),
        (
            "CORE_PEER_FILESYSTEMPATH",
            path(&node.data_dir.join("production")),
        ),
        (
            "CORE_LEDGER_SNAPSHOTS_ROOTDIR",
            path(&node.data_dir.join("snapshots")),
        ),
        ("CORE_PEER_TLS_ENABLED", "true".into()),
        ("CORE_PEER_TLS_CERT_FILE", path(&node.tls_cert())),
        ("CORE_PEER_TLS_KEY_FILE", path(&node.tls_key())),
        ("CORE_PEER_TLS_ROOTCERT_FILE", path(&node.tls_ca())),
        (
            "CORE_PEER_GOSSIP_BOOTSTRAP",
            gossip_bootstrap.listen.to_string(),
        ),
        ("CORE_PEER_GOSSIP_ENDPOINT", node.listen.to_string()),
        ("CORE_PEER_GOSSIP_EXTERNALENDPOINT", node.listen.to_string()),
        ("CORE_PEER_GOSSIP_USELEADERELECTION", "false".into()),
        ("CORE_PEER_GOSSIP_ORGLEADER", "true".into()),
        ("CORE_OPERATIONS_LISTENADDRESS", node.operations.to_string()),
        ("CORE_OPERATIONS_TLS_ENABLED", "false".into()),
        ("CORE_METRICS_PROVIDER", "prometheus".into()),
        ("CORE_CHAINCODE_EXTERNALBUILDERS", builders),
    ];
    env.extend(settings.into_iter().map(|(k, v)| (k.to_owned(), v)));
    env
}

/// Environment for the upstream `peer` CLI acting as `admin` against `target`.
pub fn peer_cli_env(admin: &OrgAdmin, target: &PeerNode, config_dir: &Path) -> EnvVars {
    let mut env = EnvVars::new();
    common(&mut env, config_dir);
    let settings = [
        ("CORE_PEER_LOCALMSPID", admin.msp_id.clone()),
        ("CORE_PEER_MSPCONFIGPATH", path(&admin.msp_dir())),
        ("CORE_PEER_ADDRESS", target.listen.to_string()),
        ("CORE_PEER_TLS_ENABLED", "true".into()),
        ("CORE_PEER_TLS_ROOTCERT_FILE", path(&target.tls_ca())),
        ("CORE_PEER_TLS_CLIENTCERT_FILE", path(&admin.tls_cert())),
        ("CORE_PEER_TLS_CLIENTKEY_FILE", path(&admin.tls_key())),
    ];
    env.extend(settings.into_iter().map(|(k, v)| (k.to_owned(), v)));
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn lookup<'a>(env: &'a EnvVars, key: &str) -> &'a str {
        env.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{key} not set"))
    }

    #[test]
    fn orderer_env_points_every_path_and_port_at_the_node() {
        let node = OrdererNode {
            name: "orderer0.example.com".into(),
            msp_id: "OrdererMSP".into(),
            listen: ([127, 0, 0, 1], 7050).into(),
            admin: ([127, 0, 0, 1], 7053).into(),
            operations: ([127, 0, 0, 1], 9443).into(),
            crypto_dir: PathBuf::from("/c/o0"),
            data_dir: PathBuf::from("/d/o0"),
            log: PathBuf::from("/l"),
        };
        let env = orderer_env(&node, Path::new("/cfg"));
        assert_eq!(lookup(&env, "FABRIC_CFG_PATH"), "/cfg");
        assert_eq!(lookup(&env, "ORDERER_GENERAL_LISTENPORT"), "7050");
        assert_eq!(
            lookup(&env, "ORDERER_ADMIN_LISTENADDRESS"),
            "127.0.0.1:7053"
        );
        assert_eq!(
            lookup(&env, "ORDERER_ADMIN_TLS_CLIENTROOTCAS"),
            "[/c/o0/tls/ca.crt]"
        );
        assert_eq!(lookup(&env, "ORDERER_GENERAL_BOOTSTRAPMETHOD"), "none");
        for (key, value) in &env {
            assert!(
                !value.contains("/var/hyperledger"),
                "{key} points at the default location"
            );
        }
    }

    #[test]
    fn peer_env_configures_gossip_leadership_and_the_ccaas_builder() {
        let peer = |name: &str, port: u16| PeerNode {
            name: name.into(),
            org: "Org1".into(),
            msp_id: "Org1MSP".into(),
            listen: ([127, 0, 0, 1], port).into(),
            chaincode: ([127, 0, 0, 1], port + 1).into(),
            operations: ([127, 0, 0, 1], port + 2).into(),
            crypto_dir: PathBuf::from(format!("/c/{name}")),
            data_dir: PathBuf::from(format!("/d/{name}")),
            log: PathBuf::from("/l"),
        };
        let (p0, p1) = (peer("p0", 7051), peer("p1", 8051));
        let env = peer_env(&p1, &p0, Path::new("/cfg"), Path::new("/up/ccaas"));
        assert_eq!(lookup(&env, "CORE_PEER_GOSSIP_BOOTSTRAP"), "127.0.0.1:7051");
        assert_eq!(lookup(&env, "CORE_PEER_GOSSIP_ORGLEADER"), "true");
        assert_eq!(lookup(&env, "CORE_PEER_GOSSIP_USELEADERELECTION"), "false");
        assert_eq!(
            lookup(&env, "CORE_PEER_CHAINCODELISTENADDRESS"),
            "127.0.0.1:8052"
        );
        assert!(lookup(&env, "CORE_CHAINCODE_EXTERNALBUILDERS").contains("path: /up/ccaas"));
        assert_eq!(lookup(&env, "CORE_PEER_FILESYSTEMPATH"), "/d/p1/production");

        let admin = OrgAdmin {
            msp_id: "Org1MSP".into(),
            crypto_dir: PathBuf::from("/c/admin"),
        };
        let cli = peer_cli_env(&admin, &p1, Path::new("/cfg"));
        assert_eq!(lookup(&cli, "CORE_PEER_MSPCONFIGPATH"), "/c/admin/msp");
        assert_eq!(lookup(&cli, "CORE_PEER_ADDRESS"), "127.0.0.1:8051");
        assert_eq!(
            lookup(&cli, "CORE_PEER_TLS_ROOTCERT_FILE"),
            "/c/p1/tls/ca.crt"
        );
    }
}
