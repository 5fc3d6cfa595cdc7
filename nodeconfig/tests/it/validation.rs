//! Unknown keys, malformed values, missing files and defaults.

use std::path::Path;
use std::time::Duration;

use weft_nodeconfig::{
    BootstrapMethod, ConfigError, MetricsProvider, NodeKind, OrdererConfig, PeerConfig,
};

use crate::support::{Fixture, MINIMAL_PEER, problems};

#[test]
fn unknown_keys_are_rejected_with_their_full_path_and_a_hint() {
    let f = Fixture::new();
    let got = problems(f.doc(
        NodeKind::Peer,
        "peer:\n  tls:\n    enable: true\n  nosuch: 1\n",
        &[],
    ));
    let keys: Vec<&str> = got.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["peer.nosuch", "peer.tls.enable"]);
    assert!(
        got[1].message.contains("did you mean peer.tls.enabled"),
        "{}",
        got[1].message
    );

    let got = problems(f.doc(NodeKind::Orderer, "General:\n  GenesisProfile: x\n", &[]));
    assert_eq!(got[0].key, "General.GenesisProfile");
}

#[test]
fn free_form_sections_accept_any_keys() {
    let f = Fixture::new();
    let yaml = "General:\n  BCCSP:\n    Default: SW\n    Custom: {a: 1}\nConsensus:\n  WALDir: w\n  Extra: 3\n";
    let doc = f.doc(NodeKind::Orderer, yaml, &[]).unwrap();
    let unused: Vec<String> = doc
        .accepted_but_unused()
        .into_iter()
        .map(|s| s.key)
        .collect();
    assert!(
        unused.contains(&"General.BCCSP.Custom".to_owned()),
        "{unused:?}"
    );
    assert!(unused.contains(&"Consensus.Extra".to_owned()), "{unused:?}");
}

#[test]
fn malformed_values_name_the_key_and_variable() {
    let f = Fixture::new();
    let yaml = "General:\n  ListenPort: 70000\n  Keepalive:\n    ServerInterval: 5x\n  TLS:\n    Enabled: maybe\n";
    let got = problems(f.doc(
        NodeKind::Orderer,
        yaml,
        &[("ORDERER_GENERAL_AUTHENTICATION_TIMEWINDOW", "15")],
    ));
    let keys: Vec<(&str, Option<&str>)> = got
        .iter()
        .map(|p| (p.key.as_str(), p.env_var.as_deref()))
        .collect();
    assert_eq!(
        keys,
        [
            (
                "General.Authentication.TimeWindow",
                Some("ORDERER_GENERAL_AUTHENTICATION_TIMEWINDOW")
            ),
            ("General.Keepalive.ServerInterval", None),
            ("General.ListenPort", None),
            ("General.TLS.Enabled", None),
        ]
    );
    // The rendered error carries everything an operator needs.
    let err = f.doc(NodeKind::Orderer, yaml, &[]).unwrap_err().to_string();
    assert!(
        err.contains("General.Keepalive.ServerInterval: \"5x\" is not a duration"),
        "{err}"
    );
    assert!(err.contains("3 problems"), "{err}");
}

#[test]
fn sections_and_values_cannot_stand_for_each_other() {
    let f = Fixture::new();
    let got = problems(f.doc(NodeKind::Peer, "peer:\n  tls: true\n  id: {a: b}\n", &[]));
    let keys: Vec<&str> = got.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["peer.id", "peer.tls"]);
}

#[test]
fn duplicate_keys_differing_in_case_are_rejected() {
    let f = Fixture::new();
    let got = problems(f.doc(
        NodeKind::Orderer,
        "General:\n  ListenPort: 1\n  listenport: 2\n",
        &[],
    ));
    assert_eq!(got[0].key, "General.listenport");
}

#[test]
fn bad_endpoints_and_byte_sizes_are_rejected() {
    let f = Fixture::new();
    let got = problems(f.doc(
        NodeKind::Orderer,
        "Admin:\n  ListenAddress: localhost\nChannelParticipation:\n  MaxRequestBodySize: 5 TB\n",
        &[],
    ));
    let keys: Vec<&str> = got.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "Admin.ListenAddress",
            "ChannelParticipation.MaxRequestBodySize"
        ]
    );
}

#[test]
fn byte_sizes_accept_fabric_units() {
    let f = Fixture::new();
    let doc = f
        .doc(
            NodeKind::Orderer,
            "ChannelParticipation:\n  Enabled: true\n  MaxRequestBodySize: 98 MB\n",
            &[],
        )
        .unwrap();
    let o = OrdererConfig::build(doc, false).unwrap();
    assert_eq!(
        o.channel_participation_max_request_body_size_bytes,
        98 * 1024 * 1024
    );
}

#[test]
fn peer_requires_its_identity_settings() {
    let f = Fixture::new();
    let doc = f.doc(NodeKind::Peer, "peer:\n  id: p\n", &[]).unwrap();
    let got = problems(PeerConfig::build(doc, false));
    let keys: Vec<&str> = got.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "peer.address",
            "peer.fileSystemPath",
            "peer.listenAddress",
            "peer.localMspId",
            "peer.mspConfigPath"
        ]
    );
}

#[test]
fn missing_files_are_reported_when_tls_is_on() {
    let f = Fixture::new();
    f.mkdir("msp");
    f.write("tls/server.crt", "cert");
    let doc = f
        .doc(
            NodeKind::Peer,
            MINIMAL_PEER,
            &[
                ("CORE_PEER_TLS_ENABLED", "true"),
                ("CORE_PEER_TLS_KEY_FILE", "tls/server.key"),
            ],
        )
        .unwrap();
    let got = problems(PeerConfig::build(doc.clone(), true));
    let keys: Vec<&str> = got.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["peer.tls.cert.file", "peer.tls.key.file"]);
    assert!(got[0].message.contains("is not set"), "{}", got[0].message);
    assert!(
        got[1].message.contains("does not exist"),
        "{}",
        got[1].message
    );
    assert_eq!(got[1].env_var.as_deref(), Some("CORE_PEER_TLS_KEY_FILE"));

    f.write("tls/server.key", "key");
    let doc = f
        .doc(
            NodeKind::Peer,
            &format!("{MINIMAL_PEER}  tls:\n    cert:\n      file: tls/server.crt\n"),
            &[
                ("CORE_PEER_TLS_ENABLED", "true"),
                ("CORE_PEER_TLS_KEY_FILE", "tls/server.key"),
            ],
        )
        .unwrap();
    PeerConfig::build(doc, true).unwrap();
}

#[test]
fn orderer_admin_tls_requires_client_auth() {
    // Mirrors localconfig's panic "Admin.TLS.ClientAuthRequired must be set to true...".
    let f = Fixture::new();
    let doc = f
        .doc(
            NodeKind::Orderer,
            "Admin:\n  TLS:\n    Enabled: true\n",
            &[],
        )
        .unwrap();
    let got = problems(OrdererConfig::build(doc, false));
    assert_eq!(got[0].key, "Admin.TLS.ClientAuthRequired");
}

#[test]
fn orderer_defaults_follow_localconfig() {
    let f = Fixture::new();
    let doc = f
        .doc(
            NodeKind::Orderer,
            "General:\n  GenesisMethod: none\n  GenesisFile: blocks/genesis.block\n",
            &[],
        )
        .unwrap();
    let o = OrdererConfig::build(doc, false).unwrap();
    let g = &o.general;
    assert_eq!(o.listen_endpoint(), "127.0.0.1:7050");
    // The deprecated Genesis* keys stand in for Bootstrap*, and the file is resolved.
    assert_eq!(g.bootstrap_method, BootstrapMethod::None);
    assert_eq!(g.bootstrap_file, f.path("blocks/genesis.block"));
    assert_eq!(g.local_msp_dir, f.path("msp"));
    assert_eq!(g.local_msp_id, "SampleOrg");
    assert_eq!(g.cluster.dial_timeout, Duration::from_secs(5));
    assert_eq!(
        g.cluster.replication_background_refresh_interval,
        Duration::from_secs(300)
    );
    assert_eq!(g.keepalive_server_min_interval, Duration::from_secs(60));
    assert_eq!(g.max_recv_msg_size_bytes, 100 * 1024 * 1024);
    assert_eq!(
        o.file_ledger_location,
        Path::new("/var/hyperledger/production/orderer")
    );
    assert_eq!(o.metrics.provider, MetricsProvider::Disabled);
    assert_eq!(o.channel_participation_max_request_body_size_bytes, 0);
}

#[test]
fn peer_defaults_follow_fabric() {
    let f = Fixture::new();
    let doc = f
        .doc(
            NodeKind::Peer,
            MINIMAL_PEER,
            &[("CORE_CHAINCODE_STARTUPTIMEOUT", "1s")],
        )
        .unwrap();
    let p = PeerConfig::build(doc, false).unwrap();
    assert!(p.gateway.enabled);
    assert_eq!(p.gateway.endorsement_timeout, Duration::from_secs(10));
    assert_eq!(p.keepalive.server_interval, Duration::from_secs(7200));
    assert_eq!(p.authentication_time_window, Duration::from_secs(900));
    assert_eq!(p.concurrency_limits.endorser_service, None);
    assert_eq!(p.ledger.total_query_limit, 10_000);
    assert_eq!(
        p.ledger.snapshots_root_dir,
        Path::new("/var/weft/snapshots")
    );
    assert_eq!(p.chaincode.execute_timeout, Duration::from_secs(30));
    // core/chaincode raises start-up timeouts below 5s to 5s.
    assert_eq!(p.chaincode.startup_timeout, Duration::from_secs(5));
    assert_eq!(p.effective_chaincode_listen_address(), "peer0.org1:7052");
}

#[test]
fn peer_durations_take_bare_nanoseconds_but_orderer_durations_need_units() {
    // viper's cast reads "5" as 5ns; mapstructure hands "5" to time.ParseDuration, which refuses it.
    let f = Fixture::new();
    let doc = f
        .doc(
            NodeKind::Peer,
            MINIMAL_PEER,
            &[("CORE_PEER_KEEPALIVE_TIMEOUT", "5")],
        )
        .unwrap();
    let p = PeerConfig::build(doc, false).unwrap();
    assert_eq!(p.keepalive.server_timeout, Duration::from_nanos(5));
    let got = problems(f.doc(
        NodeKind::Orderer,
        "",
        &[("ORDERER_GENERAL_KEEPALIVE_SERVERTIMEOUT", "5")],
    ));
    assert_eq!(got[0].key, "General.Keepalive.ServerTimeout");
}

#[test]
fn non_yaml_and_oversized_files_are_refused() {
    let f = Fixture::new();
    assert!(matches!(
        f.doc(NodeKind::Peer, "peer: [unclosed", &[]),
        Err(ConfigError::Yaml { .. })
    ));
    let big = "#".repeat(usize::try_from(weft_nodeconfig::MAX_CONFIG_FILE_BYTES).unwrap() + 1);
    assert!(matches!(
        f.doc(NodeKind::Peer, &big, &[]),
        Err(ConfigError::TooLarge { .. })
    ));
}
