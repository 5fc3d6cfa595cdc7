//! Start-up of the peer process (Fabric's `peer node start`): load core.yaml with `CORE_*`
//! overrides, open the local MSP and the block store under `peer.fileSystemPath`, resume every
//! joined channel's block puller, and serve `protos.Endorser` and `protos.Deliver` (and, with
//! `peer.gateway.enabled`, `gateway.Gateway` and `discovery.Discovery`) on `peer.listenAddress`
//! plus the operations endpoint until SIGINT/SIGTERM. The `peer` binary only calls
//! [`init_logging`], [`runtime`] and [`run`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fabric_protos::discovery::discovery_server::DiscoveryServer;
use fabric_protos::gateway::gateway_server::GatewayServer;
use fabric_protos::protos::deliver_server::DeliverServer;
use fabric_protos::protos::endorser_server::EndorserServer;
use weft_comm::{MessageLimits, ServerConfig, ServerKeepalive, ServerTlsConfig};
use weft_msp::{IdentityDeserializer, SigningIdentity, X509Msp};
use weft_nodeconfig::{Env, MetricsProvider, PeerConfig};
use weft_orderer::deliver::DeliverOptions;
use weft_orderer::node::operations::{LogSpec, Metrics, Operations, serve_operations};

use crate::blocks::endpoints::EndpointOverride;
use crate::blocks::pacing::{ATTEMPT_BURST, ATTEMPTS_PER_SECOND_MAX};
use crate::blocks::puller::{BACKOFF_INITIAL, BACKOFF_MAX_DEFAULT};
use crate::blocks::{BlockPuller, PullerSettings};
use crate::chaincodes::{ApplicationChaincodes, chaincode_limits};
use crate::channels::ChannelManager;
use crate::definitions::LifecycleDefinitions;
use crate::gateway_support::{GatewaySupport, LocalEndorser, LocalPeerInfo, MembershipProbe};
use crate::node::deliver::DeliverService;
use crate::node::endorser::EndorserService;
use crate::scc::lifecycle::{LifecycleContext, LifecycleScc};
use crate::scc::{Cscc, Qscc};
use crate::support::{Chaincodes, EndorserChannels};
use weft_committer::Committer;
use weft_endorser::{Endorser, EndorserConfig};
use weft_gateway::{DiscoveryService, GatewayOptions, GatewayService, LocalPeer, TonicConnector};

/// Where under `peer.fileSystemPath` Weft keeps its ledger (apart from Fabric's
/// `ledgersData`, whose format differs).
pub const LEDGER_DIR: &str = "weft-ledger";

/// Installs the tracing subscriber (the orderer's: `FABRIC_LOGGING_SPEC`, reloadable through
/// `/logspec`).
pub fn init_logging() -> LogSpec {
    weft_orderer::node::start::init_logging()
}

/// The async runtime the node runs on. Its threads (the endorser's blocking threads among
/// them) have the stack WASM chaincode invocations need.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(crate::chaincodes::thread_stack_bytes())
        .build()
}

/// Runs the node until SIGINT/SIGTERM; errors name the setting or resource at fault.
pub async fn run(log_spec: LogSpec) -> Result<(), String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let config = PeerConfig::load(&Env::from_process(), &cwd).map_err(|e| e.to_string())?;
    if !config.gossip.org_leader && !config.gossip.use_leader_election {
        tracing::warn!(
            "peer.gossip.orgLeader is false and leader election is off: a Go peer would wait for blocks over gossip, which Weft does not run; this peer pulls blocks from the orderers itself"
        );
    }
    for setting in config.document.accepted_but_unused() {
        tracing::debug!(key = %setting.key, "setting accepted but has no effect in Weft");
    }
    let msp = X509Msp::load_local(&config.msp_config_path, &config.local_msp_id).map_err(|e| {
        format!(
            "peer.mspConfigPath {}: {e}",
            config.msp_config_path.display()
        )
    })?;
    let signer: Arc<dyn SigningIdentity> = msp
        .signing_identity()
        .ok_or("peer.mspConfigPath has no signing identity (signcerts and keystore)")?;
    let local_msp: Arc<dyn IdentityDeserializer> = Arc::new(msp);

    let ledger_dir = config.file_system_path.join(LEDGER_DIR);
    let committer = {
        let dir = ledger_dir.clone();
        tokio::task::spawn_blocking(move || {
            Committer::start(
                dir,
                weft_ledger::StoreOptions::default(),
                Arc::new(LifecycleDefinitions),
            )
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("peer.fileSystemPath {}: {e}", ledger_dir.display()))?
    };
    let channels = Arc::new(ChannelManager::new(committer.clone()));

    let puller = Arc::new(BlockPuller::new(
        puller_settings(&config, signer.clone())?,
        committer,
        tokio::runtime::Handle::current(),
    ));
    resume_channels(&channels, &puller).await?;
    {
        let puller = puller.clone();
        channels.on_join(Box::new(move |channel| puller.start(channel)));
    }

    let packages = weft_lifecycle::PackageStore::for_peer(&config.file_system_path)
        .map_err(|e| format!("peer.fileSystemPath: chaincode package store: {e}"))?;
    let applications = Arc::new(ApplicationChaincodes::new(
        weft_chaincode_runtime::Engine::new(chaincode_limits())
            .map_err(|e| format!("chaincode runtime: {e}"))?,
        weft_lifecycle::PackageStore::for_peer(&config.file_system_path)
            .map_err(|e| format!("peer.fileSystemPath: chaincode package store: {e}"))?,
        config.local_msp_id.clone(),
    ));
    let registry = Chaincodes::default()
        .with_applications(applications.clone())
        .with_system(
            crate::scc::cscc::NAME,
            Arc::new(Cscc::new(
                channels.clone(),
                local_msp.clone(),
                config.local_msp_id.clone(),
            )),
        )
        .with_system(
            crate::scc::qscc::NAME,
            Arc::new(Qscc::new(channels.clone())),
        )
        .with_system(
            crate::scc::lifecycle::NAME,
            Arc::new(LifecycleScc::new(Arc::new(LifecycleContext::new(
                channels.clone(),
                local_msp.clone(),
                config.local_msp_id.clone(),
                packages,
            )))),
        );
    let endorser = Endorser::new(
        Arc::new(EndorserChannels::new(channels.clone()).with_applications(applications.clone())),
        Arc::new(registry),
        local_msp.clone(),
        signer.clone(),
        EndorserConfig {
            execute_timeout: config.chaincode.execute_timeout,
            ..EndorserConfig::default()
        },
    );
    let endorser = Arc::new(endorser);
    let gateway = gateway_services(
        &config,
        &channels,
        &applications,
        &endorser,
        &signer,
        &local_msp,
    )?;
    let (gateway, discovery) = gateway.unzip();
    let endorser = EndorserServer::new(EndorserService::new(endorser)).with_fabric_message_limits();
    let deliver_options = DeliverOptions {
        time_window: config.authentication_time_window,
        mutual_tls: config.tls.enabled && config.tls.client_auth_required,
        no_expiration_checks: false,
    };
    let deliver = DeliverServer::new(DeliverService::new(channels.clone(), deliver_options))
        .with_fabric_message_limits();

    let grpc = grpc_server(&config).await?;
    let router = grpc
        .tonic_builder()
        .add_service(endorser)
        .add_service(deliver)
        .add_optional_service(gateway)
        .add_optional_service(discovery);
    if config.gateway.enabled {
        tracing::info!("serving gateway.Gateway and discovery.Discovery");
    }
    tracing::info!(address = %grpc.local_addr(), peer_id = %config.id, msp_id = %config.local_msp_id, "serving protos.Endorser and protos.Deliver");

    if let Some(address) = &config.operations.listen_address {
        if config.operations.tls_enabled {
            return Err("operations.tls.enabled: TLS on the operations endpoint is not supported by Weft yet; set it to false".into());
        }
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| format!("operations.listenAddress {address}: {e}"))?;
        // Per-channel gauges wait for the orderer's operations endpoint to settle its gauge
        // type (see the report); the endpoint serves /healthz, /version and /logspec.
        let heights = Box::new(Vec::new);
        let prometheus = config.metrics.provider == MetricsProvider::Prometheus;
        let operations = Operations {
            log_spec,
            metrics: prometheus.then(Metrics::new),
            heights,
        };
        tracing::info!(%address, "serving the operations endpoint");
        tokio::spawn(serve_operations(listener, Arc::new(operations)));
    }

    grpc.serve(router, shutdown_signal())
        .await
        .map_err(|e| format!("gRPC server stopped: {e}"))
}

type GatewayServers = (
    GatewayServer<GatewayService>,
    DiscoveryServer<DiscoveryService>,
);

/// The Gateway and Discovery services (Fabric mounts both when `peer.gateway.enabled`).
fn gateway_services(
    config: &PeerConfig,
    channels: &Arc<ChannelManager>,
    applications: &Arc<ApplicationChaincodes>,
    endorser: &Arc<Endorser>,
    signer: &Arc<dyn SigningIdentity>,
    local_msp: &Arc<dyn IdentityDeserializer>,
) -> Result<Option<GatewayServers>, String> {
    if !config.gateway.enabled {
        return Ok(None);
    }
    let endpoint = config
        .gossip
        .external_endpoint
        .clone()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| config.address.clone());
    let local = LocalPeerInfo {
        msp_id: config.local_msp_id.clone(),
        endpoint: endpoint.clone(),
        identity: signer.serialize(),
    };
    let support = Arc::new(GatewaySupport::new(
        channels.clone(),
        applications.clone(),
        local.clone(),
        local_msp.clone(),
        tokio::runtime::Handle::current(),
    ));
    let tls = &config.tls;
    let mut client = weft_comm::ClientConfig {
        tls: None,
        keepalive: weft_comm::ClientKeepalive {
            interval: config.keepalive.client_interval,
            timeout: config.keepalive.client_timeout,
        },
        limits: weft_comm::MessageSizeLimits {
            max_recv_msg_size_bytes: config.max_recv_msg_size_bytes,
            max_send_msg_size_bytes: config.max_send_msg_size_bytes,
        },
        dial_timeout: None,
    };
    if tls.enabled {
        let pick =
            |client: &Option<PathBuf>, server: &Option<PathBuf>| client.clone().or(server.clone());
        let mut client_tls = weft_comm::ClientTlsConfig::default();
        if let (Some(cert), Some(key)) = (
            pick(&tls.client_cert_file, &tls.cert_file),
            pick(&tls.client_key_file, &tls.key_file),
        ) {
            client_tls.client_cert_pem = Some(read_file("peer.tls.clientCert.file", &cert)?);
            client_tls.client_key_pem = Some(read_file("peer.tls.clientKey.file", &key)?);
        }
        client.tls = Some(client_tls);
    }
    for channel in channels.channel_ids().unwrap_or_default() {
        support.probe_soon(&channel);
    }
    let joined = Arc::downgrade(&support);
    channels.on_join(Box::new(move |channel| {
        if let Some(support) = joined.upgrade() {
            support.probe_soon(channel.id());
        }
    }));
    support.spawn_membership_refresh(MembershipProbe::new(signer.clone(), client.clone()));
    let support: Arc<dyn weft_gateway::PeerSupport> = support;
    let gateway = GatewayService::new(
        LocalPeer {
            msp_id: local.msp_id,
            endpoint,
            identity: local.identity,
            endorser: Arc::new(LocalEndorser(endorser.clone())),
        },
        support.clone(),
        Arc::new(TonicConnector {
            base: client,
            orderer_overrides: Default::default(),
        }),
        GatewayOptions {
            endorsement_timeout: config.gateway.endorsement_timeout,
            broadcast_timeout: config.gateway.broadcast_timeout,
        },
    );
    let discovery = DiscoveryService::new(support, tls.enabled);
    Ok(Some((
        GatewayServer::new(gateway).with_fabric_message_limits(),
        DiscoveryServer::new(discovery).with_fabric_message_limits(),
    )))
}

/// Starts a puller for every channel already in the ledger.
async fn resume_channels(
    channels: &Arc<ChannelManager>,
    puller: &Arc<BlockPuller>,
) -> Result<(), String> {
    let channels = channels.clone();
    let loaded = tokio::task::spawn_blocking(move || -> Result<Vec<_>, String> {
        let ids = channels.channel_ids().map_err(|e| e.to_string())?;
        let mut loaded = Vec::with_capacity(ids.len());
        for id in ids {
            match channels.get(&id) {
                Ok(Some(channel)) => loaded.push(channel),
                Ok(None) => {}
                Err(e) => return Err(format!("cannot resume channel {id}: {e}")),
            }
        }
        Ok(loaded)
    })
    .await
    .map_err(|e| e.to_string())??;
    for channel in loaded {
        tracing::debug!(channel = %channel.id(), "resuming channel");
        puller.resume(channel);
    }
    Ok(())
}

fn read_file(key: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{key} {}: {e}", path.display()))
}

/// The orderer-client side: the peer presents `peer.tls.clientCert.file` (else its server
/// certificate) to orderers, as Fabric's peer does.
fn puller_settings(
    config: &PeerConfig,
    signer: Arc<dyn SigningIdentity>,
) -> Result<PullerSettings, String> {
    let tls = &config.tls;
    let pick =
        |client: &Option<PathBuf>, server: &Option<PathBuf>| client.clone().or(server.clone());
    let (client_cert_pem, client_key_pem) = if tls.enabled {
        match (
            pick(&tls.client_cert_file, &tls.cert_file),
            pick(&tls.client_key_file, &tls.key_file),
        ) {
            (Some(cert), Some(key)) => (
                Some(read_file("peer.tls.clientCert.file", &cert)?),
                Some(read_file("peer.tls.clientKey.file", &key)?),
            ),
            _ => (None, None),
        }
    } else {
        (None, None)
    };
    let mut address_overrides = Vec::new();
    for o in &config.delivery_client.address_overrides {
        let tls_roots_pem = match &o.ca_certs_file {
            Some(path) => Some(read_file(
                "peer.deliveryclient.addressOverrides caCertsFile",
                path,
            )?),
            None => None,
        };
        address_overrides.push(EndpointOverride {
            from: o.from.clone(),
            to: o.to.clone(),
            tls_roots_pem,
        });
    }
    let backoff_threshold = config
        .delivery_client
        .reconnect_backoff_threshold
        .max(BACKOFF_INITIAL);
    let backoff_max = backoff_threshold.min(BACKOFF_MAX_DEFAULT);
    Ok(PullerSettings {
        signer,
        client: weft_comm::ClientConfig {
            tls: None,
            keepalive: weft_comm::ClientKeepalive {
                interval: config.keepalive.delivery_client_interval,
                timeout: config.keepalive.delivery_client_timeout,
            },
            limits: weft_comm::MessageSizeLimits {
                max_recv_msg_size_bytes: config.max_recv_msg_size_bytes,
                max_send_msg_size_bytes: config.max_send_msg_size_bytes,
            },
            dial_timeout: Some(config.delivery_client.conn_timeout).filter(|d| !d.is_zero()),
        },
        tls: tls.enabled,
        client_cert_pem,
        client_key_pem,
        backoff_max,
        backoff_threshold,
        attempts_per_second_max: ATTEMPTS_PER_SECOND_MAX,
        attempt_burst: ATTEMPT_BURST,
        address_overrides,
    })
}

async fn grpc_server(config: &PeerConfig) -> Result<weft_comm::GrpcServer, String> {
    let tls = &config.tls;
    let server_tls = if tls.enabled {
        let cert = tls
            .cert_file
            .as_deref()
            .ok_or("peer.tls.cert.file is required when peer.tls.enabled is true")?;
        let key = tls
            .key_file
            .as_deref()
            .ok_or("peer.tls.key.file is required when peer.tls.enabled is true")?;
        let mut server =
            ServerTlsConfig::from_files(cert, key).map_err(|e| format!("peer.tls: {e}"))?;
        if tls.client_auth_required {
            let roots: Vec<&Path> = tls
                .client_root_ca_files
                .iter()
                .map(PathBuf::as_path)
                .collect();
            server = server
                .require_client_auth(&roots)
                .map_err(|e| format!("peer.tls.clientRootCAs.files: {e}"))?;
        }
        Some(server)
    } else {
        None
    };
    let server_config = ServerConfig {
        tls: server_tls,
        keepalive: ServerKeepalive {
            min_client_ping_interval: config.keepalive.server_min_interval,
            interval: config.keepalive.server_interval,
            timeout: config.keepalive.server_timeout,
        },
        limits: weft_comm::MessageSizeLimits {
            max_recv_msg_size_bytes: config.max_recv_msg_size_bytes,
            max_send_msg_size_bytes: config.max_send_msg_size_bytes,
        },
        connection_timeout: None,
    };
    weft_comm::GrpcServer::bind(&config.listen_address, server_config)
        .await
        .map_err(|e| format!("peer.listenAddress {}: {e}", config.listen_address))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
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
