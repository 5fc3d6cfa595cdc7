//! A running network built from a [`Topology`]: crypto material from upstream
//! cryptogen, a channel genesis block from upstream configtxgen, and one
//! process per node, all under a per-network work directory.
//!
//! Lifecycle: [`Network::start`] generates everything and starts every node
//! (waiting until each reports healthy); [`Network::join_channel`] joins the
//! orderers through the channel participation API (`osnadmin channel join`)
//! and the peers with `peer channel join`. Dropping the network kills every
//! process it started; the work directory (logs, ledgers, crypto) is removed
//! unless the thread is panicking or `WEFT_INTEROP_KEEP_WORK=1`, so a failed
//! test leaves its logs behind.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use prost::Message;

use crate::error::{HarnessError, Result};
use crate::fabric_config::{self, CHANNEL_PROFILE, OrgMspDirs};
use crate::node_env::{self, EnvVars};
use crate::nodes::{OrdererNode, OrgAdmin, PeerNode, TlsFiles};
use crate::process::{CommandOutput, NodeProcess, clean_command, run_bounded};
use crate::readiness::{accepts_connections, free_ports, healthz_ok, wait_until};
use crate::toolchain::{UpstreamToolchain, repo_root};
use crate::topology::{NodeCommand, Topology};

/// Longest a bootstrap tool (cryptogen, configtxgen) may run.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest one `peer` / `osnadmin` CLI invocation may run. The CLI waits up
/// to 30 s for a transaction to commit, so this leaves room for that.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a node may take from spawn to a healthy operations endpoint.
pub const NODE_START_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest to wait for a channel to become active or reach a height.
pub const CHANNEL_TIMEOUT: Duration = Duration::from_secs(60);
/// Set to 1 to keep the work directory of a passing test.
pub const KEEP_WORK_ENV: &str = "WEFT_INTEROP_KEEP_WORK";
/// Loopback ports per node: listen/admin-or-chaincode/operations.
const PORTS_PER_NODE: usize = 3;

/// A started network. See the module docs for its lifecycle.
#[derive(Debug)]
pub struct Network {
    topology: Topology,
    toolchain: UpstreamToolchain,
    orderers: Vec<OrdererNode>,
    peers: Vec<PeerNode>,
    orderer_admin: OrgAdmin,
    peer_admins: Vec<OrgAdmin>,
    genesis_block: PathBuf,
    root: PathBuf,
    /// Node processes by node name, in start order.
    processes: Vec<NodeProcess>,
    work_dir: Option<tempfile::TempDir>,
    /// Keep the work dir on drop even when not panicking.
    keep_work: bool,
}

impl Network {
    /// Generates crypto and the channel genesis block, then starts every
    /// orderer and peer and waits until each is healthy. Nodes have not
    /// joined the channel yet: call [`Network::join_channel`].
    pub fn start(topology: Topology, toolchain: &UpstreamToolchain) -> Result<Self> {
        topology.validate()?;
        let work_parent = repo_root().join("interop-tests").join(".work");
        std::fs::create_dir_all(&work_parent)
            .map_err(HarnessError::io("creating", &work_parent))?;
        let work_dir = tempfile::Builder::new()
            .prefix("net-")
            .tempdir_in(&work_parent)
            .map_err(HarnessError::io("creating a work dir in", &work_parent))?;
        let root = work_dir.path().to_path_buf();
        tracing::info!(work_dir = %root.display(), "building network");
        let mut network = Self::describe(topology, toolchain, root, work_dir)?;
        let started = network
            .generate_crypto()
            .and_then(|()| network.generate_genesis_block())
            .and_then(|()| network.start_nodes());
        if started.is_err() {
            // The caller gets an error that points into the work dir: keep it.
            network.keep_work = true;
        }
        started.map(|()| network)
    }

    /// Allocates ports and names every path, without touching the disk.
    fn describe(
        topology: Topology,
        toolchain: &UpstreamToolchain,
        root: PathBuf,
        work_dir: tempfile::TempDir,
    ) -> Result<Self> {
        let orderer_names = topology.orderer_org.node_names();
        let peer_names: Vec<(String, &crate::topology::PeerOrgSpec)> = topology
            .peer_orgs
            .iter()
            .flat_map(|org| org.node_names().into_iter().map(move |name| (name, org)))
            .collect();
        let mut ports =
            free_ports(PORTS_PER_NODE * (orderer_names.len() + peer_names.len()))?.into_iter();
        let mut next_port = || {
            ports
                .next()
                .ok_or_else(|| HarnessError::Ports(std::io::ErrorKind::AddrNotAvailable.into()))
        };
        let crypto = root.join("crypto");
        let orderer_org_dir = crypto
            .join("ordererOrganizations")
            .join(&topology.orderer_org.domain);
        let mut orderers = Vec::new();
        for name in orderer_names {
            orderers.push(OrdererNode {
                msp_id: topology.orderer_org.msp_id(),
                listen: next_port()?,
                admin: next_port()?,
                operations: next_port()?,
                crypto_dir: orderer_org_dir.join("orderers").join(&name),
                data_dir: root.join("nodes").join(&name),
                log: root.join("logs").join(format!("{name}.log")),
                name,
            });
        }
        let mut peers = Vec::new();
        for (name, org) in peer_names {
            peers.push(PeerNode {
                org: org.name.clone(),
                msp_id: org.msp_id(),
                listen: next_port()?,
                chaincode: next_port()?,
                operations: next_port()?,
                crypto_dir: peer_org_dir(&crypto, &org.domain).join("peers").join(&name),
                data_dir: root.join("nodes").join(&name),
                log: root.join("logs").join(format!("{name}.log")),
                name,
            });
        }
        let admin = |org_dir: PathBuf, domain: &str, msp_id: String| OrgAdmin {
            msp_id,
            crypto_dir: org_dir.join("users").join(format!("Admin@{domain}")),
        };
        let orderer_admin = admin(
            orderer_org_dir,
            &topology.orderer_org.domain,
            topology.orderer_org.msp_id(),
        );
        let peer_admins = topology
            .peer_orgs
            .iter()
            .map(|org| {
                admin(
                    peer_org_dir(&crypto, &org.domain),
                    &org.domain,
                    org.msp_id(),
                )
            })
            .collect();
        Ok(Self {
            genesis_block: root.join(format!("{}.genesis.block", topology.channel)),
            topology,
            toolchain: toolchain.clone(),
            orderers,
            peers,
            orderer_admin,
            peer_admins,
            root,
            processes: Vec::new(),
            work_dir: Some(work_dir),
            keep_work: std::env::var(KEEP_WORK_ENV).is_ok_and(|v| v == "1"),
        })
    }

    fn generate_crypto(&self) -> Result<()> {
        let config = self.root.join("crypto-config.yaml");
        write(&config, &fabric_config::crypto_config_yaml(&self.topology)?)?;
        let mut cryptogen = clean_command(&self.toolchain.bin("cryptogen"));
        cryptogen
            .arg("generate")
            .arg("--config")
            .arg(&config)
            .arg("--output")
            .arg(self.root.join("crypto"));
        run_bounded(cryptogen, TOOL_TIMEOUT)?;
        Ok(())
    }

    fn generate_genesis_block(&self) -> Result<()> {
        let crypto = self.root.join("crypto");
        let msp_dirs = OrgMspDirs {
            orderer_org: crypto
                .join("ordererOrganizations")
                .join(&self.topology.orderer_org.domain)
                .join("msp"),
            peer_orgs: self
                .topology
                .peer_orgs
                .iter()
                .map(|o| peer_org_dir(&crypto, &o.domain).join("msp"))
                .collect(),
        };
        let configtx =
            fabric_config::configtx_yaml(&self.topology, &msp_dirs, &self.orderers, &self.peers)?;
        let config_dir = self.root.join("configtx");
        std::fs::create_dir_all(&config_dir).map_err(HarnessError::io("creating", &config_dir))?;
        write(&config_dir.join("configtx.yaml"), &configtx)?;
        let mut configtxgen = clean_command(&self.toolchain.bin("configtxgen"));
        configtxgen
            .arg("-configPath")
            .arg(&config_dir)
            .args([
                "-profile",
                CHANNEL_PROFILE,
                "-channelID",
                &self.topology.channel,
                "-outputBlock",
            ])
            .arg(&self.genesis_block);
        run_bounded(configtxgen, TOOL_TIMEOUT)?;
        Ok(())
    }

    fn start_nodes(&mut self) -> Result<()> {
        let logs = self.root.join("logs");
        std::fs::create_dir_all(&logs).map_err(HarnessError::io("creating", &logs))?;
        let config_dir = self.node_config_dir();
        fabric_config::write_node_config_dir(&self.toolchain.config_dir(), &config_dir)?;
        for node in self.orderers.clone() {
            let env = node_env::orderer_env(&node, &config_dir);
            let command = self.topology.command_for_orderer(&node.name).clone();
            self.spawn(&node.name, &command, env, &node.data_dir, &node.log)?;
        }
        for node in self.peers.clone() {
            let bootstrap = self
                .peers
                .iter()
                .find(|p| p.msp_id == node.msp_id)
                .unwrap_or(&node);
            let env = node_env::peer_env(
                &node,
                bootstrap,
                &config_dir,
                self.toolchain.ccaas_builder(),
            );
            let command = self.topology.command_for_peer(&node.name).clone();
            self.spawn(&node.name, &command, env, &node.data_dir, &node.log)?;
        }
        // An orderer is ready once its admin endpoint listens too: channel joins go there first.
        let endpoints: Vec<(String, SocketAddr, SocketAddr, Option<SocketAddr>)> = self
            .orderers
            .iter()
            .map(|o| (o.name.clone(), o.listen, o.operations, Some(o.admin)))
            .chain(
                self.peers
                    .iter()
                    .map(|p| (p.name.clone(), p.listen, p.operations, None)),
            )
            .collect();
        for (name, listen, operations, admin) in endpoints {
            self.wait_for_node(
                &name,
                || {
                    accepts_connections(listen)
                        && healthz_ok(operations)
                        && admin.is_none_or(accepts_connections)
                },
                "healthy",
            )?;
        }
        Ok(())
    }

    fn spawn(
        &mut self,
        name: &str,
        command: &NodeCommand,
        env: EnvVars,
        data_dir: &Path,
        log: &Path,
    ) -> Result<()> {
        std::fs::create_dir_all(data_dir).map_err(HarnessError::io("creating", data_dir))?;
        let mut process = clean_command(&command.program);
        process.args(&command.args).envs(env).current_dir(data_dir);
        self.processes.push(NodeProcess::spawn(name, process, log)?);
        Ok(())
    }

    /// Polls `ready` for up to [`NODE_START_TIMEOUT`], failing fast if the node exits.
    fn wait_for_node(
        &mut self,
        name: &str,
        ready: impl FnMut() -> bool,
        state: &str,
    ) -> Result<()> {
        let process = self
            .processes
            .iter_mut()
            .find(|p| p.name() == name)
            .ok_or_else(|| HarnessError::UnknownNode(name.to_owned()))?;
        let log = process.log().to_path_buf();
        let alive = || match process.exit_status() {
            Some(status) => Err(HarnessError::NodeExited {
                node: name.to_owned(),
                status,
                log: log.clone(),
            }),
            None => Ok(()),
        };
        if wait_until(NODE_START_TIMEOUT, ready, alive)? {
            return Ok(());
        }
        Err(HarnessError::NotReady {
            what: format!("{name} was not {state}"),
            limit: NODE_START_TIMEOUT,
            log,
        })
    }

    /// Joins every orderer to the channel with `osnadmin channel join` and
    /// waits until each reports the channel active, then joins every peer with
    /// `peer channel join` (as its org admin) and waits until each has the
    /// genesis block.
    pub fn join_channel(&self) -> Result<()> {
        let channel = &self.topology.channel;
        for orderer in &self.orderers {
            let mut args = vec!["channel", "join", "--channelID", channel, "--config-block"];
            let block = self.genesis_block.display().to_string();
            args.push(&block);
            let (status, body) = self.osnadmin(&orderer.name, &args)?;
            if status != 201 {
                return Err(HarnessError::UnexpectedOutput {
                    command: format!("osnadmin channel join on {}", orderer.name),
                    detail: format!("HTTP {status}: {body}"),
                });
            }
        }
        for orderer in &self.orderers {
            self.wait_for(
                CHANNEL_TIMEOUT,
                &orderer.log,
                &format!("{} did not activate {channel}", orderer.name),
                || {
                    let (status, body) =
                        self.osnadmin(&orderer.name, &["channel", "list", "--channelID", channel])?;
                    let info: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    Ok(status == 200 && info["status"] == "active")
                },
            )?;
        }
        let block = self.genesis_block.display().to_string();
        for peer in &self.peers {
            self.peer_cli(&peer.name, &["channel", "join", "-b", &block])?;
        }
        for peer in &self.peers {
            self.wait_for_height(&peer.name, 1)?;
        }
        Ok(())
    }

    /// Runs the upstream `peer` CLI as the admin of `peer_name`'s org, connected to that peer.
    pub fn peer_cli(&self, peer_name: &str, args: &[&str]) -> Result<CommandOutput> {
        run_bounded(self.peer_cli_command(peer_name, args)?, CLI_TIMEOUT)
    }

    /// The `peer` CLI command [`Network::peer_cli`] runs, for callers that need more control.
    pub fn peer_cli_command(&self, peer_name: &str, args: &[&str]) -> Result<Command> {
        let peer = self.peer(peer_name)?;
        let admin = self.admin_of(&peer.msp_id)?;
        let mut command = clean_command(&self.toolchain.bin("peer"));
        command
            .args(args)
            .envs(node_env::peer_cli_env(
                admin,
                peer,
                &self.toolchain.config_dir(),
            ))
            .current_dir(&self.root);
        Ok(command)
    }

    /// `-o <orderer0> --tls --cafile <orderer TLS CA>`: the arguments `peer`
    /// CLI commands that submit transactions need.
    pub fn orderer_args(&self) -> Vec<String> {
        let Some(orderer) = self.orderers.first() else {
            return Vec::new();
        };
        vec![
            "-o".into(),
            orderer.listen.to_string(),
            "--tls".into(),
            "--cafile".into(),
            orderer.tls_ca().display().to_string(),
        ]
    }

    /// Runs `osnadmin` with mutual TLS as the orderer org admin against
    /// `orderer_name`'s admin endpoint; returns the HTTP status and body.
    pub fn osnadmin(&self, orderer_name: &str, args: &[&str]) -> Result<(u16, String)> {
        let orderer = self.orderer(orderer_name)?;
        let admin = &self.orderer_admin;
        let mut command = clean_command(&self.toolchain.bin("osnadmin"));
        command
            .args(args)
            .arg("-o")
            .arg(orderer.admin.to_string())
            .arg("--ca-file")
            .arg(orderer.tls_ca())
            .arg("--client-cert")
            .arg(admin.tls_cert())
            .arg("--client-key")
            .arg(admin.tls_key());
        let shown = crate::process::describe(&command);
        let output = run_bounded(command, CLI_TIMEOUT)?;
        parse_osnadmin_output(&output.stdout).ok_or_else(|| HarnessError::UnexpectedOutput {
            command: shown,
            detail: output.stdout.clone(),
        })
    }

    /// The peer's ledger height on the channel (`peer channel getinfo`).
    pub fn channel_height(&self, peer_name: &str) -> Result<u64> {
        let channel = &self.topology.channel;
        let output = self.peer_cli(peer_name, &["channel", "getinfo", "-c", channel])?;
        parse_getinfo_height(&output.stdout).ok_or_else(|| HarnessError::UnexpectedOutput {
            command: format!("peer channel getinfo on {peer_name}"),
            detail: output.stdout,
        })
    }

    /// Waits up to [`CHANNEL_TIMEOUT`] until the peer's height is at least `height`.
    pub fn wait_for_height(&self, peer_name: &str, height: u64) -> Result<()> {
        let log = self.peer(peer_name)?.log.clone();
        self.wait_for(
            CHANNEL_TIMEOUT,
            &log,
            &format!("{peer_name} did not reach height {height}"),
            || Ok(self.channel_height(peer_name).is_ok_and(|h| h >= height)),
        )
    }

    /// Fetches block `number` of the channel from the peer's Deliver service
    /// (`peer channel fetch` without `-o`) and decodes it.
    pub fn fetch_block(
        &self,
        peer_name: &str,
        number: u64,
    ) -> Result<fabric_protos::common::Block> {
        let file = self
            .root
            .join(format!("fetched-{peer_name}-{number}.block"));
        let (channel, number_arg, file_arg) = (
            &self.topology.channel,
            number.to_string(),
            file.display().to_string(),
        );
        self.peer_cli(
            peer_name,
            &["channel", "fetch", &number_arg, &file_arg, "-c", channel],
        )?;
        let bytes = std::fs::read(&file).map_err(HarnessError::io("reading", &file))?;
        fabric_protos::common::Block::decode(bytes.as_slice()).map_err(|source| {
            HarnessError::Decode {
                what: format!("block {number} from {peer_name}"),
                source,
            }
        })
    }

    /// Process ids of the nodes still managed, by node name.
    pub fn node_pids(&self) -> Vec<(String, u32)> {
        self.processes
            .iter()
            .filter_map(|p| Some((p.name().to_owned(), p.pid()?)))
            .collect()
    }

    /// Hands a helper process (such as a chaincode server) to the network: it
    /// is listed by [`Network::node_pids`], stoppable with [`Network::stop_node`]
    /// and killed, before the nodes, when the network drops.
    pub fn adopt_process(&mut self, process: NodeProcess) {
        self.processes.push(process);
    }

    /// Stops one node gracefully (SIGTERM, then SIGKILL after a grace period).
    pub fn stop_node(&mut self, name: &str) -> Result<()> {
        let process = self
            .processes
            .iter_mut()
            .find(|p| p.name() == name)
            .ok_or_else(|| HarnessError::UnknownNode(name.to_owned()))?;
        process.stop();
        Ok(())
    }

    fn wait_for(
        &self,
        limit: Duration,
        log: &Path,
        failure: &str,
        mut ready: impl FnMut() -> Result<bool>,
    ) -> Result<()> {
        let mut last_error = None;
        let done = wait_until(
            limit,
            || match ready() {
                Ok(ok) => ok,
                Err(e) => {
                    last_error = Some(e.to_string());
                    false
                }
            },
            || Ok(()),
        )?;
        if done {
            return Ok(());
        }
        let what = match last_error {
            Some(e) => format!("{failure} (last error: {e})"),
            None => failure.to_owned(),
        };
        Err(HarnessError::NotReady {
            what,
            limit,
            log: log.to_path_buf(),
        })
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    pub fn channel(&self) -> &str {
        &self.topology.channel
    }

    pub fn orderers(&self) -> &[OrdererNode] {
        &self.orderers
    }

    pub fn peers(&self) -> &[PeerNode] {
        &self.peers
    }

    pub fn orderer(&self, name: &str) -> Result<&OrdererNode> {
        self.orderers
            .iter()
            .find(|o| o.name == name)
            .ok_or_else(|| HarnessError::UnknownNode(name.to_owned()))
    }

    pub fn peer(&self, name: &str) -> Result<&PeerNode> {
        self.peers
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| HarnessError::UnknownNode(name.to_owned()))
    }

    /// The admin of the organisation with this MSP ID.
    pub fn admin_of(&self, msp_id: &str) -> Result<&OrgAdmin> {
        std::iter::once(&self.orderer_admin)
            .chain(&self.peer_admins)
            .find(|a| a.msp_id == msp_id)
            .ok_or_else(|| HarnessError::UnknownNode(msp_id.to_owned()))
    }

    /// The `FABRIC_CFG_PATH` of every node and CLI of this network.
    pub fn node_config_dir(&self) -> PathBuf {
        self.root.join("node-config")
    }

    /// The channel genesis block configtxgen wrote.
    pub fn genesis_block(&self) -> &Path {
        &self.genesis_block
    }

    /// The per-network work directory (crypto, configs, logs, ledgers).
    pub fn work_dir(&self) -> &Path {
        &self.root
    }

    pub fn toolchain(&self) -> &UpstreamToolchain {
        &self.toolchain
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // Peers first, then orderers: the reverse of start order.
        while let Some(process) = self.processes.pop() {
            drop(process);
        }
        let keep = self.keep_work || std::thread::panicking();
        if let Some(dir) = self.work_dir.take()
            && keep
        {
            let kept = dir.keep();
            eprintln!(
                "interop network work dir (logs, crypto, ledgers) kept at {}",
                kept.display()
            );
        }
    }
}

fn peer_org_dir(crypto: &Path, domain: &str) -> PathBuf {
    crypto.join("peerOrganizations").join(domain)
}

fn write(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).map_err(HarnessError::io("writing", path))
}

/// osnadmin prints `Status: <code>` and then the response body.
fn parse_osnadmin_output(stdout: &str) -> Option<(u16, String)> {
    let mut lines = stdout.splitn(2, '\n');
    let status = lines
        .next()?
        .trim()
        .strip_prefix("Status:")?
        .trim()
        .parse()
        .ok()?;
    Some((status, lines.next().unwrap_or_default().trim().to_owned()))
}

/// `peer channel getinfo` prints `Blockchain info: {"height":N,...}`.
fn parse_getinfo_height(stdout: &str) -> Option<u64> {
    let json = &stdout[stdout.find('{')?..];
    let info: serde_json::Value = serde_json::from_str(json.trim()).ok()?;
    info["height"].as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osnadmin_output_is_split_into_status_and_body() {
        let (status, body) =
            parse_osnadmin_output("Status: 201\n{\n\t\"name\": \"ch\"\n}\n").unwrap();
        assert_eq!(status, 201);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["name"],
            "ch"
        );
        assert_eq!(
            parse_osnadmin_output("Status: 204\n"),
            Some((204, String::new()))
        );
        assert_eq!(parse_osnadmin_output("Error: connection refused"), None);
    }

    #[test]
    fn getinfo_height_is_read_from_the_json_part() {
        let out = "Blockchain info: {\"height\":7,\"currentBlockHash\":\"qg==\"}\n";
        assert_eq!(parse_getinfo_height(out), Some(7));
        assert_eq!(parse_getinfo_height("Blockchain info: {}"), None);
        assert_eq!(parse_getinfo_height("Error: channel not found"), None);
    }
}
