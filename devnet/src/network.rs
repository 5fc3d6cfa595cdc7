//! Bringing the local network up and down: crypto and genesis block, node processes (detached,
//! pid files, log files), channel joins and chaincode deployment through the admin client.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use prost::Message;
use weft_protoutil::Invocation;

use crate::admin::{Endpoint, OrdererClient, PeerClient, Signer, evaluate};
use crate::error::{DevnetError, Result};
use crate::files;
use crate::layout::{CHANNEL, Layout, ORDERER_ADMIN_PORT, ORDERER_PORT, PEER_ORGS};
use crate::lifecycle::{self, Definition};
use crate::osnadmin::{AdminTls, join_channel};

/// How long a node may take to open its ports.
pub const NODE_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the orderer may take to elect itself and accept the first transaction.
pub const ORDERING_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `down` waits for a node to exit after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// What `up` needs from the build: the node binaries and the chaincode packages to deploy.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub orderer_bin: PathBuf,
    pub peer_bin: PathBuf,
    /// `(chaincode name, package file)`, e.g. `("basic", target/chaincode/basic.tar.gz)`.
    pub packages: Vec<(String, PathBuf)>,
}

/// Node names, also the names of their log and pid files.
fn node_names() -> Vec<String> {
    let mut names = vec!["orderer".to_owned()];
    names.extend(PEER_ORGS.iter().map(|o| o.peer_host()));
    names
}

/// Brings the network up (idempotent: running nodes are left alone, a finished setup is not
/// repeated) and returns the text a client needs.
pub async fn up(layout: &Layout, inputs: &Inputs) -> Result<String> {
    if !layout.genesis_block().exists() {
        generate(layout)?;
    }
    start_node(
        layout,
        "orderer",
        &inputs.orderer_bin,
        &[],
        &layout.node_dir("orderer").join("config"),
    )?;
    for org in &PEER_ORGS {
        let node = org.peer_host();
        start_node(
            layout,
            &node,
            &inputs.peer_bin,
            &["node", "start"],
            &layout.node_dir(&node).join("config"),
        )?;
    }
    wait_for_port(
        &format!("127.0.0.1:{ORDERER_ADMIN_PORT}"),
        &layout.log_file("orderer"),
    )?;
    for org in &PEER_ORGS {
        wait_for_port(
            &format!("127.0.0.1:{}", org.peer_port),
            &layout.log_file(&org.peer_host()),
        )?;
    }
    let marker = layout.root.join("setup-complete");
    if !marker.exists() {
        set_up_channel(layout, inputs).await?;
        files::write(&marker, "")?;
    }
    Ok(client_info(layout, inputs))
}

/// Stops every node: SIGTERM, then SIGKILL after [`STOP_GRACE`].
pub fn down(layout: &Layout) -> Result<Vec<String>> {
    let mut stopped = Vec::new();
    for node in node_names() {
        let pid_file = layout.pid_file(&node);
        let Ok(text) = std::fs::read_to_string(&pid_file) else {
            continue;
        };
        if let Ok(pid) = text.trim().parse::<u32>()
            && is_running(pid)
        {
            signal(pid, "TERM");
            let deadline = Instant::now() + STOP_GRACE;
            while is_running(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if is_running(pid) {
                signal(pid, "KILL");
            }
            stopped.push(node.clone());
        }
        std::fs::remove_file(&pid_file).map_err(DevnetError::io("removing", &pid_file))?;
    }
    Ok(stopped)
}

/// Stops the network and removes all its data.
pub fn clean(layout: &Layout) -> Result<()> {
    down(layout)?;
    if layout.root.exists() {
        std::fs::remove_dir_all(&layout.root).map_err(DevnetError::io("removing", &layout.root))?;
    }
    Ok(())
}

fn generate(layout: &Layout) -> Result<()> {
    let crypto =
        weft_tools::cryptogen::spec::parse(&files::crypto_config()?).map_err(DevnetError::Setup)?;
    weft_tools::cryptogen::generate::generate(&crypto, &layout.organizations(), &mut |_| {})
        .map_err(|e| DevnetError::Setup(format!("generating crypto material: {e}")))?;
    let configtx_dir = layout.root.join("configtx");
    let configtx = configtx_dir.join("configtx.yaml");
    files::write(&configtx, &files::configtx(layout)?)?;
    let block =
        weft_tools::configtxgen::genesis_block_for_profile(&configtx, files::PROFILE, CHANNEL)
            .map_err(|e| DevnetError::Setup(format!("building the genesis block: {e}")))?;
    files::write(
        &layout
            .node_dir("orderer")
            .join("config")
            .join("orderer.yaml"),
        &files::orderer_yaml(layout)?,
    )?;
    for org in &PEER_ORGS {
        let config = layout
            .node_dir(&org.peer_host())
            .join("config")
            .join("core.yaml");
        files::write(&config, &files::core_yaml(layout, org)?)?;
    }
    let path = layout.genesis_block();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(DevnetError::io("creating", parent))?;
    }
    std::fs::write(&path, block.encode_to_vec()).map_err(DevnetError::io("writing", &path))
}

fn start_node(
    layout: &Layout,
    node: &str,
    program: &Path,
    args: &[&str],
    config_dir: &Path,
) -> Result<()> {
    let pid_file = layout.pid_file(node);
    if let Some(pid) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
        && is_running(pid)
    {
        return Ok(());
    }
    let log = layout.log_file(node);
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent).map_err(DevnetError::io("creating", parent))?;
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(DevnetError::io("opening", &log))?;
    let err = out.try_clone().map_err(DevnetError::io("opening", &log))?;
    // setsid: the node keeps running after this command and its terminal are gone.
    let child = Command::new("setsid")
        .arg(program)
        .args(args)
        .env("FABRIC_CFG_PATH", config_dir)
        .env("FABRIC_LOGGING_SPEC", "info")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(DevnetError::io("starting", program))?;
    files::write(&pid_file, &child.id().to_string())
}

fn wait_for_port(address: &str, log: &Path) -> Result<()> {
    let deadline = Instant::now() + NODE_START_TIMEOUT;
    while Instant::now() < deadline {
        if TcpStream::connect(address).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(DevnetError::Setup(format!(
        "nothing listens on {address} after {}s; see {}",
        NODE_START_TIMEOUT.as_secs(),
        log.display()
    )))
}

async fn set_up_channel(layout: &Layout, inputs: &Inputs) -> Result<()> {
    let block = std::fs::read(layout.genesis_block())
        .map_err(DevnetError::io("reading", layout.genesis_block()))?;
    let orderer_admin = layout.orderer_admin_dir();
    let tls = AdminTls {
        ca: &layout.orderer_tls_ca(),
        cert: &orderer_admin.join("tls").join("client.crt"),
        key: &orderer_admin.join("tls").join("client.key"),
    };
    let (status, body) = join_channel(&format!("127.0.0.1:{ORDERER_ADMIN_PORT}"), &tls, &block)?;
    // 405 means already joined (an earlier, interrupted setup).
    if status != 201 && status != 405 {
        return Err(DevnetError::Setup(format!(
            "the orderer refused to join {CHANNEL}: HTTP {status}: {body}"
        )));
    }
    let orderer = OrdererClient::connect(&Endpoint {
        address: format!("localhost:{ORDERER_PORT}"),
        tls_ca: layout.orderer_tls_ca(),
        client_cert: None,
    })
    .await?;
    let mut peers = Vec::new();
    for org in &PEER_ORGS {
        let admin_dir = layout.user_dir(org, "Admin");
        let admin = Signer::load(&admin_dir.join("msp"), org.msp_id)?;
        let peer = PeerClient::connect(&Endpoint {
            address: org.peer_address(),
            tls_ca: layout.peer_tls_ca(org),
            client_cert: Some((
                admin_dir.join("tls").join("client.crt"),
                admin_dir.join("tls").join("client.key"),
            )),
        })
        .await?;
        if !joined(&peer, &admin).await? {
            lifecycle::join_peer(&peer, &admin, &block).await?;
        }
        peers.push((peer, admin));
    }
    for (name, package_file) in &inputs.packages {
        let package =
            std::fs::read(package_file).map_err(DevnetError::io("reading", package_file))?;
        deploy(name, &package, &peers, &orderer).await?;
    }
    Ok(())
}

async fn joined(peer: &PeerClient, admin: &Signer) -> Result<bool> {
    let invocation = Invocation {
        chaincode: "cscc".into(),
        args: vec![b"GetChannels".to_vec()],
        ..Default::default()
    };
    let payload = evaluate(peer, admin, &invocation, "cscc GetChannels").await?;
    let channels = fabric_protos::peer::ChannelQueryResponse::decode(payload.as_slice())?;
    Ok(channels.channels.iter().any(|c| c.channel_id == CHANNEL))
}

async fn deploy(
    name: &str,
    package: &[u8],
    peers: &[(PeerClient, Signer)],
    orderer: &OrdererClient,
) -> Result<()> {
    let mut package_id = String::new();
    for (peer, admin) in peers {
        package_id = lifecycle::install(peer, admin, package).await?;
    }
    let definition = Definition {
        name: name.to_owned(),
        version: "1.0".into(),
        sequence: 1,
        validation_parameter: Vec::new(),
    };
    let deadline = Instant::now() + ORDERING_READY_TIMEOUT;
    for (peer, admin) in peers {
        // The first transaction may meet an orderer that is still electing its Raft leader.
        loop {
            match lifecycle::approve(CHANNEL, &definition, &package_id, admin, peer, orderer).await
            {
                Ok(_) => break,
                Err(e) if Instant::now() < deadline && is_retryable(&e) => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
    let endorsers: Vec<&PeerClient> = peers.iter().map(|(p, _)| p).collect();
    lifecycle::commit(CHANNEL, &definition, &peers[0].1, &endorsers, orderer)
        .await
        .map(drop)
}

fn is_retryable(error: &DevnetError) -> bool {
    matches!(
        error,
        DevnetError::Refused { status: 503, .. } | DevnetError::Rpc { .. }
    )
}

fn is_running(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status();
}

fn client_info(layout: &Layout, inputs: &Inputs) -> String {
    let mut text = format!("Weft local network is up. Channel: {CHANNEL}\n");
    text.push_str(&format!("  orderer        localhost:{ORDERER_PORT} (admin localhost:{ORDERER_ADMIN_PORT}), TLS CA {}\n", layout.orderer_tls_ca().display()));
    for org in &PEER_ORGS {
        let user = layout.user_dir(org, "User1").join("msp");
        text.push_str(&format!(
            "  {:<14} {} MSP ID {}\n                 TLS CA   {}\n                 user     {}/signcerts/User1@{}-cert.pem\n                 user key {}/keystore/priv_sk\n",
            org.peer_host(),
            org.peer_address(),
            org.msp_id,
            layout.peer_tls_ca(org).display(),
            user.display(),
            org.domain,
            user.display(),
        ));
    }
    let names: Vec<&str> = inputs.packages.iter().map(|(n, _)| n.as_str()).collect();
    text.push_str(&format!("  chaincode      {}\n", names.join(", ")));
    text.push_str(&format!(
        "  logs           {}\n",
        layout.root.join("logs").display()
    ));
    text
}
