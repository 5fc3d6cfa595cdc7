//! The orderer's typed configuration from `orderer.yaml`, with the defaults Fabric's
//! `localconfig` fills in for absent or zero values (its `completeInitialization` loop) and
//! `comm`'s keepalive and message-size defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::peer::{
    DEFAULT_AUTHENTICATION_TIME_WINDOW, DEFAULT_MAX_MSG_SIZE_BYTES, MetricsConfig, read_metrics,
};
use crate::reader::Reader;
use crate::{ConfigError, Document, Env, NodeKind, load_document, translate_path};

/// Settings of the ordering node.
#[derive(Clone, Debug)]
pub struct OrdererConfig {
    /// `General.*`.
    pub general: GeneralConfig,
    /// `FileLedger.Location` (default `/var/hyperledger/production/orderer`).
    pub file_ledger_location: PathBuf,
    /// `Debug.BroadcastTraceDir` (used as given).
    pub debug_broadcast_trace_dir: Option<PathBuf>,
    /// `Debug.DeliverTraceDir` (used as given).
    pub debug_deliver_trace_dir: Option<PathBuf>,
    /// `Operations.*`.
    pub operations: EndpointConfig,
    /// `Metrics.*`.
    pub metrics: MetricsConfig,
    /// `Admin.*`.
    pub admin: EndpointConfig,
    /// `ChannelParticipation.Enabled`.
    pub channel_participation_enabled: bool,
    /// `ChannelParticipation.MaxRequestBodySize`. Fabric applies no default when it is absent,
    /// so it is then 0; loading refuses that combination when channel participation is enabled.
    pub channel_participation_max_request_body_size_bytes: u32,
    /// `Consensus.*` (etcdraft).
    pub consensus: ConsensusConfig,
    /// The checked file this was built from.
    pub document: Document,
}

/// `General.*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneralConfig {
    /// `ListenAddress` (default `127.0.0.1`).
    pub listen_address: String,
    /// `ListenPort` (default 7050).
    pub listen_port: u16,
    /// `TLS.*`.
    pub tls: OrdererTls,
    /// `Cluster.*`.
    pub cluster: ClusterConfig,
    /// `Keepalive.ServerMinInterval` (default 1m).
    pub keepalive_server_min_interval: Duration,
    /// `Keepalive.ServerInterval` (default 2h).
    pub keepalive_server_interval: Duration,
    /// `Keepalive.ServerTimeout` (default 20s).
    pub keepalive_server_timeout: Duration,
    /// `ConnectionTimeout`.
    pub connection_timeout: Option<Duration>,
    /// `BootstrapMethod` (or the older `GenesisMethod`; default `file`).
    pub bootstrap_method: BootstrapMethod,
    /// `BootstrapFile` (or the older `GenesisFile`; default `genesisblock`), resolved.
    pub bootstrap_file: PathBuf,
    /// `LocalMSPDir` (default `msp`), resolved.
    pub local_msp_dir: PathBuf,
    /// `LocalMSPID` (default `SampleOrg`).
    pub local_msp_id: String,
    /// `Authentication.TimeWindow` (default 15m).
    pub authentication_time_window: Duration,
    /// `Authentication.NoExpirationChecks`.
    pub authentication_no_expiration_checks: bool,
    /// `MaxRecvMsgSize` (default 100 MiB).
    pub max_recv_msg_size_bytes: usize,
    /// `MaxSendMsgSize` (default 100 MiB).
    pub max_send_msg_size_bytes: usize,
}

/// How the orderer gets its first channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootstrapMethod {
    /// From a system channel genesis block in `BootstrapFile`.
    File,
    /// No system channel; channels are joined through the channel participation API.
    None,
}

/// A TLS section of `orderer.yaml` (`General.TLS`, `Admin.TLS`, `Operations.TLS`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrdererTls {
    /// `Enabled`.
    pub enabled: bool,
    /// `PrivateKey`.
    pub private_key: Option<PathBuf>,
    /// `Certificate`.
    pub certificate: Option<PathBuf>,
    /// `RootCAs`.
    pub root_cas: Vec<PathBuf>,
    /// `ClientAuthRequired`.
    pub client_auth_required: bool,
    /// `ClientRootCAs`.
    pub client_root_cas: Vec<PathBuf>,
}

/// `General.Cluster.*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `ListenAddress`: set with `ListenPort` for a separate cluster listener.
    pub listen_address: Option<String>,
    /// `ListenPort`.
    pub listen_port: Option<u16>,
    /// `ServerCertificate` (used as given; Fabric does not resolve it).
    pub server_certificate: Option<PathBuf>,
    /// `ServerPrivateKey` (used as given).
    pub server_private_key: Option<PathBuf>,
    /// `ClientCertificate`, resolved.
    pub client_certificate: Option<PathBuf>,
    /// `ClientPrivateKey`, resolved.
    pub client_private_key: Option<PathBuf>,
    /// `RootCAs`, resolved.
    pub root_cas: Vec<PathBuf>,
    /// `DialTimeout` (default 5s).
    pub dial_timeout: Duration,
    /// `RPCTimeout` (default 7s).
    pub rpc_timeout: Duration,
    /// `ReplicationBufferSize` (default 20 MiB).
    pub replication_buffer_size_bytes: usize,
    /// `ReplicationPullTimeout` (default 5s).
    pub replication_pull_timeout: Duration,
    /// `ReplicationRetryTimeout` (default 5s).
    pub replication_retry_timeout: Duration,
    /// `ReplicationBackgroundRefreshInterval` (default 5m).
    pub replication_background_refresh_interval: Duration,
    /// `ReplicationMaxRetries` (default 12).
    pub replication_max_retries: usize,
    /// `SendBufferSize` (default 100).
    pub send_buffer_size: usize,
    /// `CertExpirationWarningThreshold` (default 7 days).
    pub cert_expiration_warning_threshold: Duration,
}

/// An HTTP endpoint section (`Operations`, `Admin`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointConfig {
    /// `ListenAddress`.
    pub listen_address: Option<String>,
    /// `TLS.*` (paths used as given; Fabric does not resolve them).
    pub tls: OrdererTls,
}

/// `Consensus.*` as etcdraft reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsensusConfig {
    /// `WALDir` (used as given).
    pub wal_dir: Option<PathBuf>,
    /// `SnapDir` (used as given).
    pub snap_dir: Option<PathBuf>,
    /// `EvictionSuspicion`.
    pub eviction_suspicion: Option<Duration>,
    /// `TickIntervalOverride`.
    pub tick_interval_override: Option<Duration>,
}

const DEFAULT_FILE_LEDGER_LOCATION: &str = "/var/hyperledger/production/orderer";

impl OrdererConfig {
    /// Finds `orderer.yaml`, applies `ORDERER_*` overrides from `env`, and checks that the files
    /// the orderer reads at start (TLS material, MSP directory) exist.
    pub fn load(env: &Env, cwd: &Path) -> Result<OrdererConfig, ConfigError> {
        let doc = load_document(NodeKind::Orderer, env, cwd)?;
        OrdererConfig::build(doc, true)
    }

    /// Builds the typed configuration from a checked document. With `check_files`, files and
    /// directories the orderer reads at start must exist.
    pub fn build(doc: Document, check_files: bool) -> Result<OrdererConfig, ConfigError> {
        let mut r = Reader::new(&doc);
        let general = read_general(&mut r, doc.config_dir());
        let operations = read_endpoint(&r, "Operations");
        let admin = read_endpoint(&r, "Admin");
        let metrics = read_metrics(&mut r, NodeKind::Orderer);
        let channel_participation_enabled = r.bool("ChannelParticipation.Enabled").unwrap_or(false);
        let body_size = r
            .bytes("ChannelParticipation.MaxRequestBodySize")
            .unwrap_or(0);
        if channel_participation_enabled && body_size == 0 {
            r.problem(
                "ChannelParticipation.MaxRequestBodySize",
                "is 0 while channel participation is enabled, so every request would be refused; set it, e.g. to \"1 MB\"",
            );
        }
        // Fabric's localconfig refuses an admin endpoint with TLS but without client authentication.
        if admin.tls.enabled && !admin.tls.client_auth_required {
            r.problem(
                "Admin.TLS.ClientAuthRequired",
                "must be true when Admin.TLS.Enabled is true",
            );
        }
        if check_files {
            check_orderer_files(&mut r, &general, &operations, &admin);
        }
        let config = OrdererConfig {
            general,
            file_ledger_location: r
                .path("FileLedger.Location")
                .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE_LEDGER_LOCATION)),
            debug_broadcast_trace_dir: r.path("Debug.BroadcastTraceDir"),
            debug_deliver_trace_dir: r.path("Debug.DeliverTraceDir"),
            operations,
            metrics,
            admin,
            channel_participation_enabled,
            channel_participation_max_request_body_size_bytes: body_size,
            consensus: ConsensusConfig {
                wal_dir: r.path("Consensus.WALDir"),
                snap_dir: r.path("Consensus.SnapDir"),
                eviction_suspicion: r.duration("Consensus.EvictionSuspicion"),
                tick_interval_override: r.duration("Consensus.TickIntervalOverride"),
            },
            document: doc.clone(),
        };
        r.finish(config)
    }

    /// `ListenAddress:ListenPort` of the main gRPC listener.
    pub fn listen_endpoint(&self) -> String {
        let host = &self.general.listen_address;
        match host.contains(':') {
            true => format!("[{host}]:{}", self.general.listen_port),
            false => format!("{host}:{}", self.general.listen_port),
        }
    }
}

fn read_general(r: &mut Reader<'_>, dir: &Path) -> GeneralConfig {
    let bootstrap_method = match r
        .str("General.BootstrapMethod")
        .or_else(|| r.str("General.GenesisMethod"))
        .as_deref()
    {
        None | Some("file") => BootstrapMethod::File,
        Some("none") => BootstrapMethod::None,
        Some(other) => {
            let key = match r.str("General.BootstrapMethod") {
                Some(_) => "General.BootstrapMethod",
                None => "General.GenesisMethod",
            };
            r.problem(
                key,
                format!("{other:?} is not a bootstrap method; use file or none"),
            );
            BootstrapMethod::File
        }
    };
    // GenesisFile is copied into BootstrapFile before Fabric resolves it, so it is resolved too.
    let bootstrap_file = r
        .path("General.BootstrapFile")
        .or_else(|| {
            r.str("General.GenesisFile")
                .map(|f| translate_path(dir, &f))
        })
        .unwrap_or_else(|| translate_path(dir, "genesisblock"));
    let msg = |r: &mut Reader<'_>, key| {
        r.int::<usize>(key, 0, i64::from(i32::MAX))
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MAX_MSG_SIZE_BYTES)
    };
    let max_recv_msg_size_bytes = msg(r, "General.MaxRecvMsgSize");
    let max_send_msg_size_bytes = msg(r, "General.MaxSendMsgSize");
    let keepalive = |key, default_secs| {
        r.nonzero_duration(key)
            .unwrap_or(Duration::from_secs(default_secs))
    };
    GeneralConfig {
        listen_address: r
            .str("General.ListenAddress")
            .unwrap_or_else(|| "127.0.0.1".to_owned()),
        listen_port: r
            .port("General.ListenPort")
            .filter(|p| *p != 0)
            .unwrap_or(7050),
        tls: read_tls(r, "General"),
        keepalive_server_min_interval: keepalive("General.Keepalive.ServerMinInterval", 60),
        keepalive_server_interval: keepalive("General.Keepalive.ServerInterval", 2 * 60 * 60),
        keepalive_server_timeout: keepalive("General.Keepalive.ServerTimeout", 20),
        connection_timeout: r.nonzero_duration("General.ConnectionTimeout"),
        bootstrap_method,
        bootstrap_file,
        local_msp_dir: r
            .path("General.LocalMSPDir")
            .unwrap_or_else(|| translate_path(dir, "msp")),
        local_msp_id: r
            .str("General.LocalMSPID")
            .unwrap_or_else(|| "SampleOrg".to_owned()),
        authentication_time_window: r
            .nonzero_duration("General.Authentication.TimeWindow")
            .unwrap_or(DEFAULT_AUTHENTICATION_TIME_WINDOW),
        authentication_no_expiration_checks: r
            .bool("General.Authentication.NoExpirationChecks")
            .unwrap_or(false),
        max_recv_msg_size_bytes,
        max_send_msg_size_bytes,
        cluster: read_cluster(r),
    }
}

fn read_cluster(r: &mut Reader<'_>) -> ClusterConfig {
    let d = |r: &Reader<'_>, key, default: Duration| r.nonzero_duration(key).unwrap_or(default);
    let count = |r: &mut Reader<'_>, key, default: usize| {
        r.int::<usize>(key, 0, i64::from(i32::MAX))
            .filter(|n| *n > 0)
            .unwrap_or(default)
    };
    let secs = Duration::from_secs;
    ClusterConfig {
        listen_address: r.str("General.Cluster.ListenAddress"),
        listen_port: r.port("General.Cluster.ListenPort").filter(|p| *p != 0),
        server_certificate: r.path("General.Cluster.ServerCertificate"),
        server_private_key: r.path("General.Cluster.ServerPrivateKey"),
        client_certificate: r.path("General.Cluster.ClientCertificate"),
        client_private_key: r.path("General.Cluster.ClientPrivateKey"),
        root_cas: r.paths("General.Cluster.RootCAs"),
        dial_timeout: d(r, "General.Cluster.DialTimeout", secs(5)),
        rpc_timeout: d(r, "General.Cluster.RPCTimeout", secs(7)),
        replication_buffer_size_bytes: count(
            r,
            "General.Cluster.ReplicationBufferSize",
            20 * 1024 * 1024,
        ),
        replication_pull_timeout: d(r, "General.Cluster.ReplicationPullTimeout", secs(5)),
        replication_retry_timeout: d(r, "General.Cluster.ReplicationRetryTimeout", secs(5)),
        replication_background_refresh_interval: d(
            r,
            "General.Cluster.ReplicationBackgroundRefreshInterval",
            secs(5 * 60),
        ),
        replication_max_retries: count(r, "General.Cluster.ReplicationMaxRetries", 12),
        send_buffer_size: count(r, "General.Cluster.SendBufferSize", 100),
        cert_expiration_warning_threshold: d(
            r,
            "General.Cluster.CertExpirationWarningThreshold",
            secs(7 * 24 * 60 * 60),
        ),
    }
}

fn read_tls(r: &Reader<'_>, section: &str) -> OrdererTls {
    let key = |field: &str| format!("{section}.TLS.{field}");
    OrdererTls {
        enabled: r.bool(&key("Enabled")).unwrap_or(false),
        private_key: r.path(&key("PrivateKey")),
        certificate: r.path(&key("Certificate")),
        root_cas: r.paths(&key("RootCAs")),
        client_auth_required: r.bool(&key("ClientAuthRequired")).unwrap_or(false),
        client_root_cas: r.paths(&key("ClientRootCAs")),
    }
}

fn read_endpoint(r: &Reader<'_>, section: &str) -> EndpointConfig {
    EndpointConfig {
        listen_address: r.str(&format!("{section}.ListenAddress")),
        tls: read_tls(r, section),
    }
}

fn check_tls_files(r: &mut Reader<'_>, section: &str, tls: &OrdererTls) {
    if !tls.enabled {
        return;
    }
    let why = format!("{section}.TLS.Enabled is true");
    r.require_file(
        &format!("{section}.TLS.PrivateKey"),
        tls.private_key.as_ref(),
        &why,
    );
    r.require_file(
        &format!("{section}.TLS.Certificate"),
        tls.certificate.as_ref(),
        &why,
    );
    for f in &tls.root_cas {
        r.check_exists(&format!("{section}.TLS.RootCAs"), f, false);
    }
    if tls.client_auth_required {
        for f in &tls.client_root_cas {
            r.check_exists(&format!("{section}.TLS.ClientRootCAs"), f, false);
        }
    }
}

fn check_orderer_files(
    r: &mut Reader<'_>,
    general: &GeneralConfig,
    ops: &EndpointConfig,
    admin: &EndpointConfig,
) {
    r.check_exists("General.LocalMSPDir", &general.local_msp_dir, true);
    check_tls_files(r, "General", &general.tls);
    check_tls_files(r, "Operations", &ops.tls);
    check_tls_files(r, "Admin", &admin.tls);
    let cluster = &general.cluster;
    for (key, f) in [
        (
            "General.Cluster.ClientCertificate",
            &cluster.client_certificate,
        ),
        (
            "General.Cluster.ClientPrivateKey",
            &cluster.client_private_key,
        ),
        (
            "General.Cluster.ServerCertificate",
            &cluster.server_certificate,
        ),
        (
            "General.Cluster.ServerPrivateKey",
            &cluster.server_private_key,
        ),
    ] {
        if let Some(f) = f {
            r.check_exists(key, f, false);
        }
    }
    for f in &cluster.root_cas {
        r.check_exists("General.Cluster.RootCAs", f, false);
    }
    // A separate cluster listener needs its own server pair (Fabric's cluster setup).
    if cluster.listen_port.is_some() {
        let why = "General.Cluster.ListenPort is set";
        r.require_file(
            "General.Cluster.ServerCertificate",
            cluster.server_certificate.as_ref(),
            why,
        );
        r.require_file(
            "General.Cluster.ServerPrivateKey",
            cluster.server_private_key.as_ref(),
            why,
        );
    }
}
