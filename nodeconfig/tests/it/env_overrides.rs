//! Environment overrides: naming, case-insensitivity, nested keys, lists, free-form values.

use std::path::Path;
use std::time::Duration;

use weft_nodeconfig::{NodeKind, OrdererConfig, PeerConfig, Source, Value};

use crate::support::{Fixture, MINIMAL_PEER};

#[test]
fn env_replaces_file_values_and_adds_absent_keys() {
    // Mirrors viper's AutomaticEnv with the "." -> "_" replacer and the CORE prefix.
    let f = Fixture::new();
    let doc = f
        .doc(
            NodeKind::Peer,
            MINIMAL_PEER,
            &[
                ("CORE_PEER_ADDRESS", "peer1.org1:8051"),
                ("CORE_PEER_TLS_ENABLED", "true"),
                ("CORE_PEER_KEEPALIVE_DELIVERYCLIENT_INTERVAL", "90s"),
            ],
        )
        .unwrap();
    let address = doc.get("peer.address").unwrap();
    assert_eq!(address.value, Value::Str("peer1.org1:8051".into()));
    assert_eq!(address.source, Source::Env("CORE_PEER_ADDRESS".into()));
    assert_eq!(
        doc.get("PEER.TLS.ENABLED").unwrap().value,
        Value::Bool(true)
    );
    let p = PeerConfig::build(doc, false).unwrap();
    assert_eq!(
        p.keepalive.delivery_client_interval,
        Duration::from_secs(90)
    );
}

#[test]
fn file_keys_match_schema_without_regard_to_case() {
    // Orderer keys are CamelCase in Fabric's samples; mapstructure folds case, so these match.
    let f = Fixture::new();
    let doc = f
        .doc(
            NodeKind::Orderer,
            "general:\n  listenport: 7150\n  tls: {ENABLED: false}\nfileledger:\n  location: /data\n",
            &[("ORDERER_GENERAL_LISTENADDRESS", "0.0.0.0")],
        )
        .unwrap();
    let o = OrdererConfig::build(doc, false).unwrap();
    assert_eq!(o.listen_endpoint(), "0.0.0.0:7150");
    assert_eq!(o.file_ledger_location, Path::new("/data"));
}

#[test]
fn list_values_from_env_follow_each_nodes_decoder() {
    let f = Fixture::new();
    // Orderer (viperutil): "[a, b]" is split at commas; a bare value is a one-item list.
    let doc = f
        .doc(
            NodeKind::Orderer,
            "General:\n  Cluster:\n    RootCAs: [x.pem]\n",
            &[
                ("ORDERER_GENERAL_TLS_ROOTCAS", "[ /a/ca.pem , b/ca.pem ]"),
                ("ORDERER_GENERAL_CLUSTER_ROOTCAS", "/c/ca.pem"),
            ],
        )
        .unwrap();
    let dir = doc.config_dir().to_path_buf();
    let o = OrdererConfig::build(doc, false).unwrap();
    assert_eq!(
        o.general.tls.root_cas,
        [Path::new("/a/ca.pem").to_path_buf(), dir.join("b/ca.pem")]
    );
    assert_eq!(o.general.cluster.root_cas, [Path::new("/c/ca.pem")]);

    // Peer (viper GetStringSlice): whitespace separates items.
    let doc = f
        .doc(
            NodeKind::Peer,
            MINIMAL_PEER,
            &[("CORE_PEER_GOSSIP_BOOTSTRAP", "p0.org1:7051 p1.org1:7051")],
        )
        .unwrap();
    let p = PeerConfig::build(doc, false).unwrap();
    assert_eq!(p.gossip.bootstrap, ["p0.org1:7051", "p1.org1:7051"]);
}

#[test]
fn free_form_values_from_env_are_yaml() {
    // Fabric decodes chaincode.externalBuilders from the environment as a YAML document.
    let f = Fixture::new();
    let doc = f
        .doc(
            NodeKind::Peer,
            MINIMAL_PEER,
            &[(
                "CORE_CHAINCODE_EXTERNALBUILDERS",
                "[{name: ccaas, path: /opt/ccaas, propagateEnvironment: [A, B]}]",
            )],
        )
        .unwrap();
    let p = PeerConfig::build(doc, false).unwrap();
    let b = &p.chaincode.external_builders[0];
    assert_eq!(
        (b.name.as_str(), b.path.as_path()),
        ("ccaas", Path::new("/opt/ccaas"))
    );
    assert_eq!(b.propagate_environment, ["A", "B"]);
}

#[test]
fn empty_env_values_count_as_unset() {
    let f = Fixture::new();
    let doc = f
        .doc(
            NodeKind::Peer,
            MINIMAL_PEER,
            &[
                ("CORE_PEER_ADDRESS", ""),
                ("CORE_PEER_KEEPALIVE_INTERVAL", ""),
            ],
        )
        .unwrap();
    assert_eq!(doc.get("peer.address").unwrap().source, Source::File);
    assert!(doc.get("peer.keepalive.interval").is_none());
}

#[test]
fn env_names_for_no_setting_are_reported_not_fatal() {
    let f = Fixture::new();
    let doc = f
        .doc(
            NodeKind::Peer,
            MINIMAL_PEER,
            &[
                ("CORE_PEER_TLS_ENABLE", "true"),
                ("CORE_CHAINCODE_SYSTEM_CSCC", "enable"),
                ("OTHER", "x"),
            ],
        )
        .unwrap();
    assert_eq!(doc.ignored_env(), ["CORE_PEER_TLS_ENABLE"]);
    let unused = doc.accepted_but_unused();
    assert!(
        unused.iter().any(|s| s.key == "CORE_CHAINCODE_SYSTEM_CSCC"),
        "{unused:?}"
    );
}

#[test]
fn relative_paths_from_env_resolve_against_the_config_dir() {
    // Fabric's GetPath reads the (possibly env-provided) value, then translates it.
    let f = Fixture::new();
    let doc = f
        .doc(
            NodeKind::Peer,
            MINIMAL_PEER,
            &[("CORE_PEER_TLS_CERT_FILE", "tls/../certs/server.crt")],
        )
        .unwrap();
    let p = PeerConfig::build(doc, false).unwrap();
    assert_eq!(p.tls.cert_file, Some(f.path("certs/server.crt")));
    assert_eq!(p.msp_config_path, f.path("msp"));
}
