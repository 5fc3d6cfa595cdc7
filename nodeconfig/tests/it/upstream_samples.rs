//! Fabric's own sample core.yaml and orderer.yaml must load unchanged, with the values Fabric
//! would use. The samples are read from the upstream install (never copied into the repository):
//! `${WEFT_UPSTREAM_DIR:-<repo>/.cache/upstream}/fabric-2.5.9/config/`. A missing file fails
//! the test: the install script is expected to have placed it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use weft_nodeconfig::{
    BootstrapMethod, Document, Env, ExternalBuilder, MetricsProvider, NodeKind, OrdererConfig,
    PeerConfig, Source, StateDatabase,
};

fn sample_dir() -> PathBuf {
    let base = std::env::var_os("WEFT_UPSTREAM_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/upstream"),
        PathBuf::from,
    );
    let dir = base.join("fabric-2.5.9/config");
    for file in ["core.yaml", "orderer.yaml"] {
        assert!(
            dir.join(file).is_file(),
            "{} is missing; run the upstream install script or set WEFT_UPSTREAM_DIR",
            dir.join(file).display()
        );
    }
    dir.canonicalize().unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn sample_core_yaml_loads_with_fabric_values() {
    let dir = sample_dir();
    // Found through FABRIC_CFG_PATH, as `peer node start` finds it.
    let env = Env::from_pairs([("FABRIC_CFG_PATH", dir.to_str().unwrap())]);
    let cwd = tempfile::tempdir().unwrap();
    let peer = PeerConfig::load(&env, cwd.path()).unwrap();

    assert_eq!(peer.document.config_file(), dir.join("core.yaml"));
    assert_eq!(peer.id, "jdoe");
    assert_eq!(peer.network_id, "dev");
    assert_eq!(peer.address, "0.0.0.0:7051");
    assert_eq!(peer.listen_address, "0.0.0.0:7051");
    assert!(!peer.address_auto_detect);
    assert_eq!(peer.effective_chaincode_listen_address(), "0.0.0.0:7052");
    assert!(peer.gateway.enabled);
    assert_eq!(peer.gateway.endorsement_timeout, secs(30));
    assert_eq!(peer.gateway.dial_timeout, secs(120));
    assert_eq!(peer.keepalive.server_interval, secs(7200));
    assert_eq!(peer.keepalive.server_min_interval, secs(60));
    assert_eq!(peer.keepalive.delivery_client_timeout, secs(20));
    assert_eq!(peer.gossip.bootstrap, ["127.0.0.1:7051"]);
    assert!(peer.gossip.org_leader && !peer.gossip.use_leader_election);
    assert_eq!(peer.gossip.endpoint, None);
    assert_eq!(peer.gossip.election_startup_grace_period, secs(15));
    // Relative TLS paths are resolved against the config file's directory.
    assert!(!peer.tls.enabled);
    assert_eq!(peer.tls.cert_file, Some(dir.join("tls/server.crt")));
    assert_eq!(peer.tls.root_cert_file, Some(dir.join("tls/ca.crt")));
    assert_eq!(peer.tls.client_root_ca_files, [dir.join("tls/ca.crt")]);
    assert_eq!(peer.tls.client_cert_file, None);
    assert_eq!(peer.authentication_time_window, secs(15 * 60));
    assert_eq!(
        peer.file_system_path,
        Path::new("/var/hyperledger/production")
    );
    assert_eq!(peer.msp_config_path, dir.join("msp"));
    assert_eq!(peer.local_msp_id, "SampleOrg");
    assert_eq!(
        peer.delivery_client.reconnect_total_time_threshold,
        secs(3600)
    );
    assert_eq!(peer.delivery_client.conn_timeout, secs(3));
    assert!(peer.delivery_client.address_overrides.is_empty());
    assert_eq!(peer.concurrency_limits.endorser_service, Some(2500));
    assert_eq!(peer.concurrency_limits.gateway_service, Some(500));
    assert_eq!(peer.max_recv_msg_size_bytes, 104_857_600);
    assert_eq!(peer.validator_pool_size, None);
    assert_eq!(peer.ledger.state_database, StateDatabase::GoLevelDb);
    assert_eq!(peer.ledger.total_query_limit, 100_000);
    assert!(peer.ledger.history_enabled);
    assert_eq!(
        peer.ledger.snapshots_root_dir,
        Path::new("/var/hyperledger/production/snapshots")
    );
    assert_eq!(
        peer.operations.listen_address.as_deref(),
        Some("127.0.0.1:9443")
    );
    assert!(peer.operations.tls_client_root_ca_files.is_empty());
    assert_eq!(peer.metrics.provider, MetricsProvider::Disabled);
    assert_eq!(peer.metrics.statsd_write_interval, Some(secs(10)));
    assert_eq!(peer.chaincode.execute_timeout, secs(30));
    assert_eq!(peer.chaincode.startup_timeout, secs(300));
    assert_eq!(
        peer.chaincode.external_builders,
        [ExternalBuilder {
            name: "ccaas_builder".into(),
            path: "/opt/hyperledger/ccaas_builder".into(),
            propagate_environment: vec!["CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG".into()],
        }]
    );

    let unused: Vec<String> = peer
        .document
        .accepted_but_unused()
        .into_iter()
        .map(|s| s.key)
        .collect();
    for key in [
        "peer.gossip.pullInterval",
        "vm.endpoint",
        "peer.BCCSP.Default",
        "chaincode.system",
    ] {
        assert!(
            unused.iter().any(|k| k == key),
            "{key} not listed as unused: {unused:?}"
        );
    }
    assert!(!unused.iter().any(|k| k == "peer.address"));
}

#[test]
fn sample_orderer_yaml_loads_with_fabric_values() {
    let dir = sample_dir();
    let env = Env::from_pairs([("FABRIC_CFG_PATH", dir.to_str().unwrap())]);
    let cwd = tempfile::tempdir().unwrap();
    let o = OrdererConfig::load(&env, cwd.path()).unwrap();
    let g = &o.general;

    assert_eq!(o.listen_endpoint(), "127.0.0.1:7050");
    assert!(!g.tls.enabled);
    assert_eq!(g.tls.private_key, Some(dir.join("tls/server.key")));
    assert_eq!(g.tls.root_cas, [dir.join("tls/ca.crt")]);
    assert!(g.tls.client_root_cas.is_empty());
    assert_eq!(g.keepalive_server_interval, secs(7200));
    assert_eq!(g.max_send_msg_size_bytes, 104_857_600);
    assert_eq!(g.cluster.send_buffer_size, 100);
    // Absent from the sample: Fabric's localconfig defaults.
    assert_eq!(g.cluster.rpc_timeout, secs(7));
    assert_eq!(g.cluster.replication_max_retries, 12);
    assert_eq!(g.cluster.replication_buffer_size_bytes, 20_971_520);
    assert_eq!(
        g.cluster.cert_expiration_warning_threshold,
        secs(7 * 24 * 3600)
    );
    assert_eq!(g.cluster.listen_port, None);
    assert_eq!(g.bootstrap_method, BootstrapMethod::File);
    // BootstrapFile is empty in the sample, so the default name is resolved like Fabric does.
    assert_eq!(g.bootstrap_file, dir.join("genesisblock"));
    assert_eq!(g.local_msp_dir, dir.join("msp"));
    assert_eq!(g.local_msp_id, "SampleOrg");
    assert_eq!(g.authentication_time_window, secs(15 * 60));
    assert_eq!(
        o.file_ledger_location,
        Path::new("/var/hyperledger/production/orderer")
    );
    assert_eq!(
        o.operations.listen_address.as_deref(),
        Some("127.0.0.1:8443")
    );
    assert_eq!(o.admin.listen_address.as_deref(), Some("127.0.0.1:9443"));
    assert!(o.admin.tls.client_auth_required);
    assert_eq!(o.metrics.statsd_write_interval, Some(secs(30)));
    assert!(!o.channel_participation_enabled);
    assert_eq!(
        o.channel_participation_max_request_body_size_bytes,
        1024 * 1024
    );
    assert_eq!(
        o.consensus.wal_dir.as_deref(),
        Some(Path::new(
            "/var/hyperledger/production/orderer/etcdraft/wal"
        ))
    );

    let unused: Vec<String> = o
        .document
        .accepted_but_unused()
        .into_iter()
        .map(|s| s.key)
        .collect();
    assert!(
        unused.iter().any(|k| k == "Kafka.Retry.ShortInterval"),
        "{unused:?}"
    );
    assert!(!unused.iter().any(|k| k == "General.ListenPort"));
}

#[test]
fn sample_files_take_environment_overrides() {
    // The overrides fabric-samples' test network sets on its containers.
    let dir = sample_dir();
    let env = Env::from_pairs([
        ("ORDERER_GENERAL_LISTENPORT", "7050"),
        ("ORDERER_GENERAL_BOOTSTRAPMETHOD", "none"),
        ("ORDERER_CHANNELPARTICIPATION_ENABLED", "true"),
        (
            "ORDERER_GENERAL_TLS_ROOTCAS",
            "[/var/hyperledger/orderer/tls/ca.crt]",
        ),
        ("ORDERER_ADMIN_LISTENADDRESS", "0.0.0.0:7053"),
        ("ORDERER_CA", "/some/shell/variable.pem"),
    ]);
    let doc = Document::load(NodeKind::Orderer, &dir.join("orderer.yaml"), &env).unwrap();
    let o = OrdererConfig::build(doc, false).unwrap();
    assert_eq!(o.general.bootstrap_method, BootstrapMethod::None);
    assert!(o.channel_participation_enabled);
    assert_eq!(
        o.general.tls.root_cas,
        [Path::new("/var/hyperledger/orderer/tls/ca.crt")]
    );
    assert_eq!(o.admin.listen_address.as_deref(), Some("0.0.0.0:7053"));
    assert_eq!(o.document.ignored_env(), ["ORDERER_CA"]);
    assert_eq!(
        o.document.get("general.bootstrapmethod").unwrap().source,
        Source::Env("ORDERER_GENERAL_BOOTSTRAPMETHOD".into())
    );

    let env = Env::from_pairs([
        ("CORE_PEER_ADDRESS", "peer0.org1.example.com:7051"),
        ("CORE_PEER_TLS_ENABLED", "false"),
        (
            "CORE_PEER_GOSSIP_EXTERNALENDPOINT",
            "peer0.org1.example.com:7051",
        ),
        ("CORE_PEER_MSPCONFIGPATH", "/etc/hyperledger/fabric/msp"),
        ("CORE_VM_DOCKER_HOSTCONFIG_NETWORKMODE", "fabric_test"),
    ]);
    let doc = Document::load(NodeKind::Peer, &dir.join("core.yaml"), &env).unwrap();
    let p = PeerConfig::build(doc, false).unwrap();
    assert_eq!(p.address, "peer0.org1.example.com:7051");
    assert_eq!(
        p.gossip.external_endpoint.as_deref(),
        Some("peer0.org1.example.com:7051")
    );
    assert_eq!(p.msp_config_path, Path::new("/etc/hyperledger/fabric/msp"));
    assert!(p.document.ignored_env().is_empty());
    assert!(
        p.document
            .accepted_but_unused()
            .iter()
            .any(|s| s.key == "CORE_VM_DOCKER_HOSTCONFIG_NETWORKMODE")
    );
}
