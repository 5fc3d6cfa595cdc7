//! Start-up of the orderer process: load orderer.yaml with Fabric's overrides, open the local
//! MSP, ledger and Raft WAL, and serve AtomicBroadcast, the cluster service, the channel
//! participation API and the operations endpoint until a shutdown signal. The `orderer`
//! binary only calls [`init_logging`] and [`run`].

use std::sync::Arc;

use crate::broadcast::FilterOptions;
use crate::deliver::DeliverOptions;
use crate::node::admin::{AdminTls, build_acceptor, serve_admin};
use crate::node::chain::SequencerContext;
use crate::node::cluster::{Cluster, ClusterService};
use crate::node::operations::{
    ChannelGauges, LogSpec, Metrics, Operations, filter_from_spec, serve_operations,
};
use crate::node::puller::BlockPuller;
use crate::node::raft::RaftDriver;
use crate::node::registrar::Registrar;
use crate::node::service::AtomicBroadcastService;
use fabric_protos::orderer::atomic_broadcast_server::AtomicBroadcastServer;
use fabric_protos::orderer::cluster_server::ClusterServer;
use weft_comm::{MessageLimits, ServerConfig, ServerKeepalive, ServerTlsConfig};
use weft_msp::{SigningIdentity, X509Msp};
use weft_nodeconfig::MetricsProvider;
use weft_nodeconfig::{BootstrapMethod, Env, OrdererConfig};

/// Installs the tracing subscriber with a reloadable filter set from `FABRIC_LOGGING_SPEC`
/// (Fabric's spec syntax; "info" when unset or invalid). The returned handle lets `/logspec`
/// change the filter at runtime.
pub fn init_logging() -> LogSpec {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let requested = std::env::var("FABRIC_LOGGING_SPEC").unwrap_or_default();
    let (spec, filter, refused) = match filter_from_spec(&requested) {
        Ok(filter) if !requested.is_empty() => (requested, filter, None),
        Ok(filter) => ("info".to_string(), filter, None),
        Err(e) => (
            "info".to_string(),
            tracing_subscriber::EnvFilter::new("info"),
            Some(e),
        ),
    };
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .init();
    if let Some(e) = refused {
        tracing::warn!(error = %e, "FABRIC_LOGGING_SPEC ignored; logging at info");
    }
    LogSpec::new(
        spec,
        Box::new(move |filter| handle.reload(filter).map_err(|e| e.to_string())),
    )
}

/// Runs the node until SIGINT/SIGTERM; errors name the setting or resource at fault.
pub async fn run(log_spec: LogSpec) -> Result<(), String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let config = OrdererConfig::load(&Env::from_process(), &cwd).map_err(|e| e.to_string())?;
    if config.general.bootstrap_method == BootstrapMethod::File {
        return Err("General.BootstrapMethod \"file\" (a system channel) is not supported by Weft; set it to \"none\" and join channels with osnadmin".into());
    }
    let msp = X509Msp::load_local(&config.general.local_msp_dir, &config.general.local_msp_id)
        .map_err(|e| {
            format!(
                "General.LocalMSPDir {}: {e}",
                config.general.local_msp_dir.display()
            )
        })?;
    let signer: Arc<dyn SigningIdentity> = msp
        .signing_identity()
        .ok_or("General.LocalMSPDir has no signing identity (signcerts and keystore)")?;

    let store_dir = config.file_ledger_location.clone();
    let store = tokio::task::spawn_blocking(move || {
        weft_ledger::BlockStore::open(&store_dir, weft_ledger::StoreOptions::default())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| {
        format!(
            "FileLedger.Location {}: {e}",
            config.file_ledger_location.display()
        )
    })?;

    let tls = &config.general.tls;
    let tls_cert_pem = match (&tls.certificate, tls.enabled) {
        (Some(path), true) => Some(
            std::fs::read(path)
                .map_err(|e| format!("General.TLS.Certificate {}: {e}", path.display()))?,
        ),
        _ => None,
    };
    let filters = FilterOptions {
        no_expiration_checks: config.general.authentication_no_expiration_checks,
    };
    let wal_dir = config
        .consensus
        .wal_dir
        .clone()
        .unwrap_or_else(|| config.file_ledger_location.join("etcdraft").join("wal"));
    let cluster_client = cluster_client_config(&config)?;
    let cluster = Cluster::new(cluster_client.clone())?;
    let raft = RaftDriver::start_with_cluster(
        &wal_dir,
        config.consensus.tick_interval_override,
        Some(cluster.clone()),
    )?;
    let context = SequencerContext {
        signer: signer.clone(),
        filters,
        raft: Some(raft.clone()),
        puller: Some(Arc::new(BlockPuller::new(cluster_client, signer.clone()))),
        membership: None,
    };
    let registrar = Arc::new(
        Registrar::new(store, context, tls_cert_pem.as_deref())
            .map_err(|e| e.to_string())?
            .with_cluster(cluster.clone())
            .with_pending_joins(config.file_ledger_location.join("pendingops").join("join")),
    );
    {
        let registrar = registrar.clone();
        tokio::task::spawn_blocking(move || registrar.restore())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot restore channels from FileLedger.Location: {e}"))?;
    }

    let grpc = grpc_server(&config).await?;
    let deliver_options = DeliverOptions {
        time_window: config.general.authentication_time_window,
        mutual_tls: tls.enabled && tls.client_auth_required,
        no_expiration_checks: config.general.authentication_no_expiration_checks,
    };
    let metrics = Metrics::new();
    let service = AtomicBroadcastServer::new(
        AtomicBroadcastService::new(registrar.clone(), signer, filters, deliver_options)
            .with_cluster(cluster.clone())
            .with_raft(raft.clone())
            .with_metrics(metrics.clone()),
    )
    .with_fabric_message_limits();
    let cluster_service = ClusterServer::new(ClusterService::new(
        cluster.clone(),
        registrar.clone(),
        raft,
    ))
    .with_fabric_message_limits();
    let mut router = grpc.tonic_builder().add_service(service);
    tracing::info!(address = %grpc.local_addr(), "serving orderer.AtomicBroadcast");
    match separate_cluster_server(&config).await? {
        Some(cluster_grpc) => {
            tracing::info!(address = %cluster_grpc.local_addr(), "serving orderer.Cluster");
            let cluster_router = cluster_grpc.tonic_builder().add_service(cluster_service);
            tokio::spawn(async move {
                if let Err(e) = cluster_grpc.serve(cluster_router, shutdown_signal()).await {
                    tracing::error!(error = %e, "the cluster gRPC server stopped");
                }
            });
        }
        None => {
            tracing::info!("serving orderer.Cluster on the general listener");
            router = router.add_service(cluster_service);
        }
    }

    if let Some(address) = &config.admin.listen_address {
        if !config.channel_participation_enabled {
            tracing::warn!(
                "ChannelParticipation.Enabled is false: the admin endpoint serves no channel API"
            );
        }
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| format!("Admin.ListenAddress {address}: {e}"))?;
        let acceptor = if config.admin.tls.enabled {
            let admin_tls = &config.admin.tls;
            let cert = admin_tls
                .certificate
                .clone()
                .ok_or("Admin.TLS.Certificate is required when Admin.TLS.Enabled is true")?;
            let key = admin_tls
                .private_key
                .clone()
                .ok_or("Admin.TLS.PrivateKey is required when Admin.TLS.Enabled is true")?;
            Some(Arc::new(build_acceptor(&AdminTls {
                cert,
                key,
                client_auth_required: admin_tls.client_auth_required,
                client_root_cas: admin_tls.client_root_cas.clone(),
            })?))
        } else {
            None
        };
        let max_body = config.channel_participation_max_request_body_size_bytes as usize;
        tracing::info!(%address, "serving the channel participation API");
        tokio::spawn(serve_admin(listener, acceptor, registrar.clone(), max_body));
    }
    if let Some(address) = &config.operations.listen_address {
        if config.operations.tls.enabled {
            return Err("Operations.TLS.Enabled: TLS on the operations endpoint is not supported by Weft yet; set it to false".into());
        }
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| format!("Operations.ListenAddress {address}: {e}"))?;
        let prometheus = config.metrics.provider == MetricsProvider::Prometheus;
        let heights = {
            let (registrar, cluster) = (registrar.clone(), cluster.clone());
            Box::new(move || {
                registrar
                    .channel_ids()
                    .into_iter()
                    .filter_map(|id| {
                        let height = registrar.info(&id).ok()?.height;
                        let is_leader = cluster
                            .channel(&id)
                            .map(|members| cluster.leader(&id) == Some(members.self_id));
                        Some(ChannelGauges {
                            channel: id,
                            height,
                            is_leader,
                        })
                    })
                    .collect()
            })
        };
        let operations = Operations {
            log_spec,
            metrics: prometheus.then_some(metrics),
            heights,
        };
        tracing::info!(%address, prometheus, "serving the operations endpoint");
        tokio::spawn(serve_operations(listener, Arc::new(operations)));
    }

    grpc.serve(router, shutdown_signal())
        .await
        .map_err(|e| format!("gRPC server stopped: {e}"))
}

/// TLS client settings for dialing other consenters (Fabric: `General.Cluster.ClientCertificate`
/// and `ClientPrivateKey`, else the general TLS pair; `General.Cluster.RootCAs` and
/// `General.TLS.RootCAs` as server roots).
fn cluster_client_config(config: &OrdererConfig) -> Result<weft_comm::ClientConfig, String> {
    let tls = &config.general.tls;
    let cluster = &config.general.cluster;
    let mut client = weft_comm::ClientConfig {
        dial_timeout: Some(cluster.dial_timeout).filter(|d| !d.is_zero()),
        ..weft_comm::ClientConfig::default()
    };
    if !tls.enabled {
        return Ok(client);
    }
    let read = |what: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("{what} {}: {e}", path.display()))
    };
    let (cert, key) = match (&cluster.client_certificate, &cluster.client_private_key) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        _ => match (&tls.certificate, &tls.private_key) {
            (Some(cert), Some(key)) => (cert.clone(), key.clone()),
            _ => return Ok(client),
        },
    };
    let mut roots = Vec::new();
    for path in cluster.root_cas.iter().chain(&tls.root_cas) {
        roots.push(read("General.Cluster.RootCAs", path)?);
    }
    client.tls = Some(weft_comm::ClientTlsConfig {
        server_root_cas_pem: roots,
        client_cert_pem: Some(read("General.Cluster.ClientCertificate", &cert)?),
        client_key_pem: Some(read("General.Cluster.ClientPrivateKey", &key)?),
        server_name_override: None,
    });
    Ok(client)
}

/// The cluster's own listener when `General.Cluster.ListenPort` is set (with its own
/// certificate); `None` to serve the cluster on the general listener.
async fn separate_cluster_server(
    config: &OrdererConfig,
) -> Result<Option<weft_comm::GrpcServer>, String> {
    let cluster = &config.general.cluster;
    let Some(port) = cluster.listen_port else {
        return Ok(None);
    };
    let address = cluster.listen_address.as_deref().unwrap_or("0.0.0.0");
    let endpoint = format!("{address}:{port}");
    if endpoint == config.listen_endpoint() {
        return Ok(None);
    }
    let (Some(cert), Some(key)) = (&cluster.server_certificate, &cluster.server_private_key) else {
        return Err("General.Cluster.ServerCertificate and ServerPrivateKey are required when General.Cluster.ListenPort is set".into());
    };
    let tls = ServerTlsConfig::from_files(cert, key)
        .map_err(|e| format!("General.Cluster.ServerCertificate: {e}"))?;
    let server_config = server_config(config, Some(tls));
    weft_comm::GrpcServer::bind(&endpoint, server_config)
        .await
        .map(Some)
        .map_err(|e| format!("General.Cluster.ListenAddress/ListenPort {endpoint}: {e}"))
}

/// The General.* keepalive, message size and handshake settings every gRPC listener shares.
fn server_config(config: &OrdererConfig, tls: Option<ServerTlsConfig>) -> ServerConfig {
    ServerConfig {
        tls,
        keepalive: ServerKeepalive {
            min_client_ping_interval: config.general.keepalive_server_min_interval,
            interval: config.general.keepalive_server_interval,
            timeout: config.general.keepalive_server_timeout,
        },
        limits: weft_comm::MessageSizeLimits {
            max_recv_msg_size_bytes: config.general.max_recv_msg_size_bytes,
            max_send_msg_size_bytes: config.general.max_send_msg_size_bytes,
        },
        connection_timeout: config.general.connection_timeout,
    }
}

async fn grpc_server(config: &OrdererConfig) -> Result<weft_comm::GrpcServer, String> {
    let tls = &config.general.tls;
    let server_tls = if tls.enabled {
        let cert = tls
            .certificate
            .as_deref()
            .ok_or("General.TLS.Certificate is required when General.TLS.Enabled is true")?;
        let key = tls
            .private_key
            .as_deref()
            .ok_or("General.TLS.PrivateKey is required when General.TLS.Enabled is true")?;
        let mut server =
            ServerTlsConfig::from_files(cert, key).map_err(|e| format!("General.TLS: {e}"))?;
        if tls.client_auth_required {
            let roots: Vec<&std::path::Path> =
                tls.client_root_cas.iter().map(|p| p.as_path()).collect();
            server = server
                .require_client_auth(&roots)
                .map_err(|e| format!("General.TLS.ClientRootCAs: {e}"))?;
        }
        Some(server)
    } else {
        None
    };
    let server_config = server_config(config, server_tls);
    let endpoint = config.listen_endpoint();
    weft_comm::GrpcServer::bind(&endpoint, server_config)
        .await
        .map_err(|e| format!("General.ListenAddress/ListenPort {endpoint}: {e}"))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => futures::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
