//! The peer's typed configuration from `core.yaml`, with the defaults Fabric's peer code applies
//! when a key is absent (core/peer/config.go, internal/pkg/gateway/config, core/deliverservice,
//! core/chaincode/config.go, internal/pkg/comm).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml_ng::Value as Yaml;

use crate::reader::Reader;
use crate::{ConfigError, Document, Env, NodeKind, load_document};

/// Fabric's default gRPC message size limit in both directions (100 MiB).
pub const DEFAULT_MAX_MSG_SIZE_BYTES: usize = 100 * 1024 * 1024;
/// Default acceptable clock skew of client requests.
pub const DEFAULT_AUTHENTICATION_TIME_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Port the chaincode listener takes on the peer's host when none is configured.
pub const DEFAULT_CHAINCODE_PORT: u16 = 7052;

/// Settings of the peer node.
#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// `peer.id`.
    pub id: String,
    /// `peer.networkId`.
    pub network_id: String,
    /// `peer.listenAddress` (required: Fabric cannot open its gRPC server without it).
    pub listen_address: String,
    /// `peer.address` (required): the endpoint others use to reach this peer.
    pub address: String,
    /// `peer.addressAutoDetect`.
    pub address_auto_detect: bool,
    /// `peer.chaincodeListenAddress`; Fabric falls back to the peer's host and port 7052.
    pub chaincode_listen_address: Option<String>,
    /// `peer.chaincodeAddress`.
    pub chaincode_address: Option<String>,
    /// `peer.gateway.*`.
    pub gateway: GatewayConfig,
    /// `peer.keepalive.*`.
    pub keepalive: PeerKeepalive,
    /// `peer.gossip.*` (the parts Weft uses).
    pub gossip: GossipConfig,
    /// `peer.tls.*`.
    pub tls: PeerTls,
    /// `peer.authentication.timewindow` (15m when unset or zero).
    pub authentication_time_window: Duration,
    /// `peer.fileSystemPath` (required).
    pub file_system_path: PathBuf,
    /// `peer.mspConfigPath` (required).
    pub msp_config_path: PathBuf,
    /// `peer.localMspId` (required).
    pub local_msp_id: String,
    /// `peer.deliveryclient.*`.
    pub delivery_client: DeliveryClientConfig,
    /// `peer.limits.concurrency.*`.
    pub concurrency_limits: ConcurrencyLimits,
    /// `peer.maxRecvMsgSize`.
    pub max_recv_msg_size_bytes: usize,
    /// `peer.maxSendMsgSize`.
    pub max_send_msg_size_bytes: usize,
    /// `peer.validatorPoolSize`; `None` means one per CPU.
    pub validator_pool_size: Option<usize>,
    /// `ledger.*`.
    pub ledger: LedgerConfig,
    /// `operations.*`.
    pub operations: OperationsConfig,
    /// `metrics.*`.
    pub metrics: MetricsConfig,
    /// `chaincode.*` (the parts Weft uses).
    pub chaincode: ChaincodeConfig,
    /// The checked file this was built from (for [`Document::accepted_but_unused`] and
    /// [`Document::ignored_env`]).
    pub document: Document,
}

/// `peer.gateway.*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayConfig {
    /// `enabled` (default true).
    pub enabled: bool,
    /// `endorsementTimeout` (default 10s).
    pub endorsement_timeout: Duration,
    /// `broadcastTimeout` (default 10s).
    pub broadcast_timeout: Duration,
    /// `dialTimeout` (default 30s).
    pub dial_timeout: Duration,
}

/// `peer.keepalive.*`, defaulting to Fabric's `comm.DefaultKeepaliveOptions`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerKeepalive {
    /// `interval` (default 2h).
    pub server_interval: Duration,
    /// `timeout` (default 20s).
    pub server_timeout: Duration,
    /// `minInterval` (default 1m).
    pub server_min_interval: Duration,
    /// `client.interval` (default 1m).
    pub client_interval: Duration,
    /// `client.timeout` (default 20s).
    pub client_timeout: Duration,
    /// `deliveryClient.interval` (default 1m).
    pub delivery_client_interval: Duration,
    /// `deliveryClient.timeout` (default 20s).
    pub delivery_client_timeout: Duration,
}

/// `peer.gossip.*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossipConfig {
    /// `bootstrap`.
    pub bootstrap: Vec<String>,
    /// `useLeaderElection`.
    pub use_leader_election: bool,
    /// `orgLeader`.
    pub org_leader: bool,
    /// `endpoint`; Fabric uses `peer.address` when unset.
    pub endpoint: Option<String>,
    /// `externalEndpoint`; without it the peer is not known outside its organization.
    pub external_endpoint: Option<String>,
    /// `election.startupGracePeriod` (default 15s).
    pub election_startup_grace_period: Duration,
    /// `election.membershipSampleInterval` (default 1s).
    pub election_membership_sample_interval: Duration,
    /// `election.leaderAliveThreshold` (default 10s).
    pub election_leader_alive_threshold: Duration,
    /// `election.leaderElectionDuration` (default 5s).
    pub election_leader_election_duration: Duration,
}

/// `peer.tls.*` with paths resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerTls {
    /// `enabled`.
    pub enabled: bool,
    /// `clientAuthRequired`.
    pub client_auth_required: bool,
    /// `cert.file`.
    pub cert_file: Option<PathBuf>,
    /// `key.file`.
    pub key_file: Option<PathBuf>,
    /// `rootcert.file`.
    pub root_cert_file: Option<PathBuf>,
    /// `clientRootCAs.files`.
    pub client_root_ca_files: Vec<PathBuf>,
    /// `clientKey.file`; the server key is used when unset.
    pub client_key_file: Option<PathBuf>,
    /// `clientCert.file`; the server certificate is used when unset.
    pub client_cert_file: Option<PathBuf>,
}

/// `peer.deliveryclient.*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryClientConfig {
    /// `reconnectTotalTimeThreshold` (default 1h).
    pub reconnect_total_time_threshold: Duration,
    /// `connTimeout` (default 3s).
    pub conn_timeout: Duration,
    /// `reConnectBackoffThreshold` (default 1h).
    pub reconnect_backoff_threshold: Duration,
    /// `addressOverrides`.
    pub address_overrides: Vec<AddressOverride>,
}

/// One `peer.deliveryclient.addressOverrides` entry: dial `to` instead of the orderer address
/// `from` found in channel config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressOverride {
    /// `from`.
    pub from: String,
    /// `to`.
    pub to: String,
    /// `caCertsFile` (used as given, like Fabric does).
    pub ca_certs_file: Option<PathBuf>,
}

/// `peer.limits.concurrency.*`; `None` (0 in the file) means unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConcurrencyLimits {
    /// `endorserService`.
    pub endorser_service: Option<usize>,
    /// `deliverService`.
    pub deliver_service: Option<usize>,
    /// `gatewayService`.
    pub gateway_service: Option<usize>,
}

/// The world state database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateDatabase {
    /// `goleveldb` (the default).
    GoLevelDb,
    /// `CouchDB`.
    CouchDb,
}

/// `ledger.*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerConfig {
    /// `state.stateDatabase`.
    pub state_database: StateDatabase,
    /// `state.totalQueryLimit` (default 10000 when unset).
    pub total_query_limit: u32,
    /// `history.enableHistoryDatabase` (false when unset).
    pub history_enabled: bool,
    /// `snapshots.rootDir` (as given); `<fileSystemPath>/snapshots` when unset.
    pub snapshots_root_dir: PathBuf,
}

/// `operations.*`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OperationsConfig {
    /// `listenAddress`.
    pub listen_address: Option<String>,
    /// `tls.enabled`.
    pub tls_enabled: bool,
    /// `tls.cert.file`.
    pub tls_cert_file: Option<PathBuf>,
    /// `tls.key.file`.
    pub tls_key_file: Option<PathBuf>,
    /// `tls.clientAuthRequired`.
    pub tls_client_auth_required: bool,
    /// `tls.clientRootCAs.files`.
    pub tls_client_root_ca_files: Vec<PathBuf>,
}

/// Which metrics provider to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricsProvider {
    /// `disabled` (also the default).
    Disabled,
    /// `prometheus`.
    Prometheus,
    /// `statsd`.
    Statsd,
}

/// `metrics.*` (shared in shape by both nodes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `provider`.
    pub provider: MetricsProvider,
    /// `statsd.network`.
    pub statsd_network: Option<String>,
    /// `statsd.address`.
    pub statsd_address: Option<String>,
    /// `statsd.writeInterval`.
    pub statsd_write_interval: Option<Duration>,
    /// `statsd.prefix`.
    pub statsd_prefix: Option<String>,
}

/// `chaincode.*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChaincodeConfig {
    /// `executetimeout` (30s when unset or under a second).
    pub execute_timeout: Duration,
    /// `installTimeout`.
    pub install_timeout: Option<Duration>,
    /// `startuptimeout` (at least 5s).
    pub startup_timeout: Duration,
    /// `externalBuilders`, in the order they are tried.
    pub external_builders: Vec<ExternalBuilder>,
}

/// One `chaincode.externalBuilders` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalBuilder {
    /// `name`.
    pub name: String,
    /// `path` (the builder's directory, holding `bin/`).
    pub path: PathBuf,
    /// `propagateEnvironment` (or the older `environmentWhitelist`).
    pub propagate_environment: Vec<String>,
}

const DEFAULT_CHAINCODE_EXECUTE_TIMEOUT: Duration = Duration::from_secs(30);
const MIN_CHAINCODE_STARTUP_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_TOTAL_QUERY_LIMIT: u32 = 10_000;
/// Bound on list-valued free-form settings (builders, overrides).
const MAX_LIST_ENTRIES: usize = 1024;

impl PeerConfig {
    /// Finds `core.yaml`, applies `CORE_*` overrides from `env`, and checks that the files the
    /// peer reads at start (TLS material, MSP directory) exist.
    pub fn load(env: &Env, cwd: &Path) -> Result<PeerConfig, ConfigError> {
        let doc = load_document(NodeKind::Peer, env, cwd)?;
        PeerConfig::build(doc, true)
    }

    /// Builds the typed configuration from a checked document. With `check_files`, files and
    /// directories the peer reads at start must exist.
    pub fn build(doc: Document, check_files: bool) -> Result<PeerConfig, ConfigError> {
        let mut r = Reader::new(&doc);
        let address = r.str("peer.address").unwrap_or_else(|| {
            r.problem(
                "peer.address",
                "is not set; set it to the host:port other nodes use to reach this peer",
            );
            String::new()
        });
        let listen_address = r.str("peer.listenAddress").unwrap_or_else(|| {
            r.problem(
                "peer.listenAddress",
                "is not set; set it to the host:port the peer listens on, e.g. 0.0.0.0:7051",
            );
            String::new()
        });
        let file_system_path = required_path(&mut r, "peer.fileSystemPath");
        let msp_config_path = required_path(&mut r, "peer.mspConfigPath");
        let local_msp_id = r.str("peer.localMspId").unwrap_or_else(|| {
            r.problem(
                "peer.localMspId",
                "is not set; set it to this peer's MSP ID",
            );
            String::new()
        });
        let tls = read_tls(&r);
        let ledger = read_ledger(&mut r, &file_system_path);
        let metrics = read_metrics(&mut r, NodeKind::Peer);
        let chaincode = read_chaincode(&mut r);
        let delivery_client = read_delivery_client(&mut r);
        let msg = |r: &mut Reader<'_>, key| {
            r.int::<usize>(key, 1, i64::from(i32::MAX))
                .unwrap_or(DEFAULT_MAX_MSG_SIZE_BYTES)
        };
        let max_recv_msg_size_bytes = msg(&mut r, "peer.maxRecvMsgSize");
        let max_send_msg_size_bytes = msg(&mut r, "peer.maxSendMsgSize");
        let limit = |r: &mut Reader<'_>, key| {
            r.int::<usize>(key, 0, i64::from(i32::MAX))
                .filter(|n| *n > 0)
        };
        let concurrency_limits = ConcurrencyLimits {
            endorser_service: limit(&mut r, "peer.limits.concurrency.endorserService"),
            deliver_service: limit(&mut r, "peer.limits.concurrency.deliverService"),
            gateway_service: limit(&mut r, "peer.limits.concurrency.gatewayService"),
        };
        // Fabric treats zero and negative pool sizes as "one per CPU".
        let validator_pool_size = r
            .int::<i64>("peer.validatorPoolSize", i64::MIN, i64::from(i32::MAX))
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0);
        let operations = OperationsConfig {
            listen_address: r.str("operations.listenAddress"),
            tls_enabled: r.bool("operations.tls.enabled").unwrap_or(false),
            tls_cert_file: r.path("operations.tls.cert.file"),
            tls_key_file: r.path("operations.tls.key.file"),
            tls_client_auth_required: r.bool("operations.tls.clientAuthRequired").unwrap_or(false),
            tls_client_root_ca_files: r.paths("operations.tls.clientRootCAs.files"),
        };
        if check_files {
            check_peer_files(&mut r, &tls, &operations, &msp_config_path);
        }
        let config = PeerConfig {
            id: r.str("peer.id").unwrap_or_default(),
            network_id: r.str("peer.networkId").unwrap_or_default(),
            listen_address,
            address,
            address_auto_detect: r.bool("peer.addressAutoDetect").unwrap_or(false),
            chaincode_listen_address: r.str("peer.chaincodeListenAddress"),
            chaincode_address: r.str("peer.chaincodeAddress"),
            gateway: GatewayConfig {
                enabled: r.bool("peer.gateway.enabled").unwrap_or(true),
                endorsement_timeout: r
                    .duration("peer.gateway.endorsementTimeout")
                    .unwrap_or(Duration::from_secs(10)),
                broadcast_timeout: r
                    .duration("peer.gateway.broadcastTimeout")
                    .unwrap_or(Duration::from_secs(10)),
                dial_timeout: r
                    .duration("peer.gateway.dialTimeout")
                    .unwrap_or(Duration::from_secs(30)),
            },
            keepalive: read_keepalive(&r),
            gossip: read_gossip(&r),
            tls,
            authentication_time_window: r
                .nonzero_duration("peer.authentication.timewindow")
                .unwrap_or(DEFAULT_AUTHENTICATION_TIME_WINDOW),
            file_system_path,
            msp_config_path,
            local_msp_id,
            delivery_client,
            concurrency_limits,
            max_recv_msg_size_bytes,
            max_send_msg_size_bytes,
            validator_pool_size,
            ledger,
            operations,
            metrics,
            chaincode,
            document: doc.clone(),
        };
        r.finish(config)
    }

    /// The endpoint the chaincode listener binds: `peer.chaincodeListenAddress`, else the host of
    /// `peer.address` with port 7052 (Fabric's `createChaincodeServer`).
    pub fn effective_chaincode_listen_address(&self) -> String {
        if let Some(a) = &self.chaincode_listen_address {
            return a.clone();
        }
        let host = self
            .address
            .rsplit_once(':')
            .map_or(self.address.as_str(), |(h, _)| h);
        format!("{host}:{DEFAULT_CHAINCODE_PORT}")
    }
}

fn required_path(r: &mut Reader<'_>, key: &str) -> PathBuf {
    r.path(key).unwrap_or_else(|| {
        r.problem(key, "is not set; set it to a path (relative paths are resolved against the config file's directory)");
        PathBuf::new()
    })
}

fn read_keepalive(r: &Reader<'_>) -> PeerKeepalive {
    let d = |key, default_secs| r.duration(key).unwrap_or(Duration::from_secs(default_secs));
    PeerKeepalive {
        server_interval: d("peer.keepalive.interval", 2 * 60 * 60),
        server_timeout: d("peer.keepalive.timeout", 20),
        server_min_interval: d("peer.keepalive.minInterval", 60),
        client_interval: d("peer.keepalive.client.interval", 60),
        client_timeout: d("peer.keepalive.client.timeout", 20),
        delivery_client_interval: d("peer.keepalive.deliveryClient.interval", 60),
        delivery_client_timeout: d("peer.keepalive.deliveryClient.timeout", 20),
    }
}

fn read_gossip(r: &Reader<'_>) -> GossipConfig {
    // Election defaults as in gossip/election when the keys are absent.
    let d = |key, default_secs| {
        r.nonzero_duration(key)
            .unwrap_or(Duration::from_secs(default_secs))
    };
    GossipConfig {
        bootstrap: r.list("peer.gossip.bootstrap"),
        use_leader_election: r.bool("peer.gossip.useLeaderElection").unwrap_or(false),
        org_leader: r.bool("peer.gossip.orgLeader").unwrap_or(false),
        endpoint: r.str("peer.gossip.endpoint"),
        external_endpoint: r.str("peer.gossip.externalEndpoint"),
        election_startup_grace_period: d("peer.gossip.election.startupGracePeriod", 15),
        election_membership_sample_interval: d("peer.gossip.election.membershipSampleInterval", 1),
        election_leader_alive_threshold: d("peer.gossip.election.leaderAliveThreshold", 10),
        election_leader_election_duration: d("peer.gossip.election.leaderElectionDuration", 5),
    }
}

fn read_tls(r: &Reader<'_>) -> PeerTls {
    PeerTls {
        enabled: r.bool("peer.tls.enabled").unwrap_or(false),
        client_auth_required: r.bool("peer.tls.clientAuthRequired").unwrap_or(false),
        cert_file: r.path("peer.tls.cert.file"),
        key_file: r.path("peer.tls.key.file"),
        root_cert_file: r.path("peer.tls.rootcert.file"),
        client_root_ca_files: r.paths("peer.tls.clientRootCAs.files"),
        client_key_file: r.path("peer.tls.clientKey.file"),
        client_cert_file: r.path("peer.tls.clientCert.file"),
    }
}

fn read_ledger(r: &mut Reader<'_>, file_system_path: &Path) -> LedgerConfig {
    let state_database = match r.str("ledger.state.stateDatabase") {
        None => StateDatabase::GoLevelDb,
        Some(s) if s == "goleveldb" => StateDatabase::GoLevelDb,
        Some(s) if s == "CouchDB" => StateDatabase::CouchDb,
        Some(other) => {
            r.problem(
                "ledger.state.stateDatabase",
                format!("{other:?} is not a state database; use goleveldb or CouchDB"),
            );
            StateDatabase::GoLevelDb
        }
    };
    LedgerConfig {
        state_database,
        total_query_limit: r
            .int::<u32>("ledger.state.totalQueryLimit", 0, i64::from(i32::MAX))
            .unwrap_or(DEFAULT_TOTAL_QUERY_LIMIT),
        history_enabled: r
            .bool("ledger.history.enableHistoryDatabase")
            .unwrap_or(false),
        snapshots_root_dir: r
            .path("ledger.snapshots.rootDir")
            .unwrap_or_else(|| file_system_path.join("snapshots")),
    }
}

pub(crate) fn read_metrics(r: &mut Reader<'_>, node: NodeKind) -> MetricsConfig {
    let key = |peer: &'static str, orderer: &'static str| match node {
        NodeKind::Peer => peer,
        NodeKind::Orderer => orderer,
    };
    let provider_key = key("metrics.provider", "Metrics.Provider");
    let provider = match r.str(provider_key).as_deref() {
        None | Some("disabled") => MetricsProvider::Disabled,
        Some("prometheus") => MetricsProvider::Prometheus,
        Some("statsd") => MetricsProvider::Statsd,
        Some(other) => {
            r.problem(
                provider_key,
                format!("{other:?} is not a metrics provider; use prometheus, statsd or disabled"),
            );
            MetricsProvider::Disabled
        }
    };
    MetricsConfig {
        provider,
        statsd_network: r.str(key("metrics.statsd.network", "Metrics.Statsd.Network")),
        statsd_address: r.str(key("metrics.statsd.address", "Metrics.Statsd.Address")),
        statsd_write_interval: r.duration(key(
            "metrics.statsd.writeInterval",
            "Metrics.Statsd.WriteInterval",
        )),
        statsd_prefix: r.str(key("metrics.statsd.prefix", "Metrics.Statsd.Prefix")),
    }
}

fn read_chaincode(r: &mut Reader<'_>) -> ChaincodeConfig {
    let execute_timeout = r
        .duration("chaincode.executetimeout")
        .filter(|d| *d >= Duration::from_secs(1))
        .unwrap_or(DEFAULT_CHAINCODE_EXECUTE_TIMEOUT);
    let startup_timeout = r
        .duration("chaincode.startuptimeout")
        .unwrap_or_default()
        .max(MIN_CHAINCODE_STARTUP_TIMEOUT);
    ChaincodeConfig {
        execute_timeout,
        install_timeout: r.duration("chaincode.installTimeout"),
        startup_timeout,
        external_builders: read_external_builders(r),
    }
}

fn read_external_builders(r: &mut Reader<'_>) -> Vec<ExternalBuilder> {
    const KEY: &str = "chaincode.externalBuilders";
    let Some(entries) = list_of_maps(r, KEY) else {
        return Vec::new();
    };
    let mut builders = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let text = |field: &str| field_text(entry, field);
        let list = |field: &str| field_list(entry, field);
        let (Some(name), Some(path)) = (text("name"), text("path")) else {
            // Fabric: "path attribute missing" / "has no name attribute".
            r.problem(KEY, format!("entry {i} needs both `name` and `path`"));
            continue;
        };
        // The older environmentWhitelist is used only when propagateEnvironment is absent.
        let propagate_environment = list("propagateEnvironment")
            .or_else(|| list("environmentWhitelist"))
            .unwrap_or_default();
        builders.push(ExternalBuilder {
            name,
            path: PathBuf::from(path),
            propagate_environment,
        });
    }
    builders
}

fn read_delivery_client(r: &mut Reader<'_>) -> DeliveryClientConfig {
    const KEY: &str = "peer.deliveryclient.addressOverrides";
    let mut address_overrides = Vec::new();
    for (i, entry) in list_of_maps(r, KEY).unwrap_or_default().iter().enumerate() {
        match (field_text(entry, "from"), field_text(entry, "to")) {
            (Some(from), Some(to)) => address_overrides.push(AddressOverride {
                from,
                to,
                ca_certs_file: field_text(entry, "caCertsFile").map(PathBuf::from),
            }),
            _ => r.problem(KEY, format!("entry {i} needs both `from` and `to`")),
        }
    }
    let hour = Duration::from_secs(60 * 60);
    DeliveryClientConfig {
        reconnect_total_time_threshold: r
            .nonzero_duration("peer.deliveryclient.reconnectTotalTimeThreshold")
            .unwrap_or(hour),
        conn_timeout: r
            .nonzero_duration("peer.deliveryclient.connTimeout")
            .unwrap_or(Duration::from_secs(3)),
        reconnect_backoff_threshold: r
            .nonzero_duration("peer.deliveryclient.reConnectBackoffThreshold")
            .unwrap_or(hour),
        address_overrides,
    }
}

/// A free-form setting that must be a list of maps, bounded in length.
fn list_of_maps(r: &mut Reader<'_>, key: &str) -> Option<Vec<Yaml>> {
    let items = match r.any(key)? {
        Yaml::Sequence(items) => items.clone(),
        Yaml::Null => return None,
        _ => {
            r.problem(key, "expected a list of entries (`- name: ...`)");
            return None;
        }
    };
    if items.len() > MAX_LIST_ENTRIES {
        r.problem(
            key,
            format!(
                "has {} entries; at most {MAX_LIST_ENTRIES} are accepted",
                items.len()
            ),
        );
        return None;
    }
    if let Some(i) = items.iter().position(|e| !e.is_mapping()) {
        r.problem(
            key,
            format!("entry {i} is not a set of `field: value` pairs"),
        );
        return None;
    }
    Some(items)
}

/// A text field of a free-form map entry, matched without regard to case as Fabric's decoder does.
fn field_text(entry: &Yaml, field: &str) -> Option<String> {
    field_value(entry, field).and_then(|v| match v {
        Yaml::String(s) if !s.is_empty() => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

fn field_list(entry: &Yaml, field: &str) -> Option<Vec<String>> {
    match field_value(entry, field)? {
        Yaml::Sequence(items) => Some(
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        Yaml::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

fn field_value<'a>(entry: &'a Yaml, field: &str) -> Option<&'a Yaml> {
    entry.as_mapping()?.iter().find_map(|(k, v)| {
        k.as_str()
            .is_some_and(|k| k.eq_ignore_ascii_case(field))
            .then_some(v)
    })
}

fn check_peer_files(r: &mut Reader<'_>, tls: &PeerTls, ops: &OperationsConfig, msp: &PathBuf) {
    if !msp.as_os_str().is_empty() {
        r.check_exists("peer.mspConfigPath", msp, true);
    }
    if tls.enabled {
        let why = "peer.tls.enabled is true";
        r.require_file("peer.tls.cert.file", tls.cert_file.as_ref(), why);
        r.require_file("peer.tls.key.file", tls.key_file.as_ref(), why);
        if let Some(root) = &tls.root_cert_file {
            r.check_exists("peer.tls.rootcert.file", root, false);
        }
        if tls.client_auth_required {
            for f in &tls.client_root_ca_files {
                r.check_exists("peer.tls.clientRootCAs.files", f, false);
            }
        }
        // Fabric requires the client pair to be given together.
        if tls.client_cert_file.is_some() != tls.client_key_file.is_some() {
            r.problem(
                "peer.tls.clientCert.file",
                "peer.tls.clientKey.file and peer.tls.clientCert.file must both be set or both be empty",
            );
        }
        for (key, f) in [
            ("peer.tls.clientCert.file", &tls.client_cert_file),
            ("peer.tls.clientKey.file", &tls.client_key_file),
        ] {
            if let Some(f) = f {
                r.check_exists(key, f, false);
            }
        }
    }
    if ops.tls_enabled {
        let why = "operations.tls.enabled is true";
        r.require_file("operations.tls.cert.file", ops.tls_cert_file.as_ref(), why);
        r.require_file("operations.tls.key.file", ops.tls_key_file.as_ref(), why);
        for f in &ops.tls_client_root_ca_files {
            r.check_exists("operations.tls.clientRootCAs.files", f, false);
        }
    }
}
