//! What network to build: organisations, how many nodes each, the channel, and
//! which program implements each node. Everything else (ports, crypto, paths)
//! the [`Network`](crate::Network) derives.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{HarnessError, Result};
use crate::toolchain::UpstreamToolchain;

/// Bounds that keep a topology a test fixture rather than a deployment.
const MAX_ORDERERS: usize = 9;
const MAX_PEER_ORGS: usize = 8;
const MAX_PEERS_PER_ORG: usize = 8;
/// Fabric's channel name limit (`configtx.ValidateChannelID`).
const MAX_CHANNEL_NAME_LEN: usize = 249;

/// The program (and leading arguments) that runs one node. The node is
/// configured entirely through `FABRIC_CFG_PATH` plus `CORE_*` / `ORDERER_*`
/// environment variables, so any implementation that reads Fabric's
/// configuration the same way can be dropped in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl NodeCommand {
    pub fn new(program: impl Into<PathBuf>, args: &[&str]) -> Self {
        Self {
            program: program.into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    /// Upstream `peer node start`.
    pub fn upstream_peer(toolchain: &UpstreamToolchain) -> Self {
        Self::new(toolchain.bin("peer"), &["node", "start"])
    }

    /// Upstream `orderer` (it takes no arguments to start).
    pub fn upstream_orderer(toolchain: &UpstreamToolchain) -> Self {
        Self::new(toolchain.bin("orderer"), &[])
    }
}

/// The ordering organisation and its Raft consenters.
#[derive(Debug, Clone)]
pub struct OrdererOrgSpec {
    /// Organisation name; the MSP ID is `<name>MSP`.
    pub name: String,
    pub domain: String,
    pub orderers: usize,
}

/// One application organisation and its peers.
#[derive(Debug, Clone)]
pub struct PeerOrgSpec {
    /// Organisation name; the MSP ID is `<name>MSP`.
    pub name: String,
    pub domain: String,
    pub peers: usize,
}

impl OrdererOrgSpec {
    pub fn msp_id(&self) -> String {
        format!("{}MSP", self.name)
    }

    /// Node names as cryptogen issues them: `orderer0.<domain>`, ...
    pub fn node_names(&self) -> Vec<String> {
        (0..self.orderers)
            .map(|i| format!("orderer{i}.{}", self.domain))
            .collect()
    }
}

impl PeerOrgSpec {
    pub fn msp_id(&self) -> String {
        format!("{}MSP", self.name)
    }

    /// Node names as cryptogen's template issues them: `peer0.<domain>`, ...
    pub fn node_names(&self) -> Vec<String> {
        (0..self.peers)
            .map(|i| format!("peer{i}.{}", self.domain))
            .collect()
    }
}

/// Capability levels written into the channel genesis block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub channel: String,
    pub orderer: String,
    pub application: String,
}

impl Default for Capabilities {
    /// The v2.5 levels, which both 2.5.x and 3.x nodes accept with Raft.
    fn default() -> Self {
        Self {
            channel: "V2_0".into(),
            orderer: "V2_0".into(),
            application: "V2_5".into(),
        }
    }
}

/// A whole network: one Raft ordering org, some peer orgs, one application channel.
/// TLS is always on (server TLS everywhere, mutual TLS on the orderer admin endpoint).
#[derive(Debug, Clone)]
pub struct Topology {
    pub channel: String,
    pub orderer_org: OrdererOrgSpec,
    pub peer_orgs: Vec<PeerOrgSpec>,
    pub capabilities: Capabilities,
    /// The channel's `BatchTimeout`; short so tests do not wait for blocks.
    pub batch_timeout_ms: u64,
    /// Runs every orderer unless overridden.
    pub orderer_command: NodeCommand,
    /// Runs every peer unless overridden.
    pub peer_command: NodeCommand,
    /// Per-node replacement commands, keyed by node name (e.g. `peer0.org1.example.com`).
    pub node_commands: BTreeMap<String, NodeCommand>,
}

impl Topology {
    /// One orderer, no peer orgs yet, all nodes upstream binaries from `toolchain`.
    pub fn new(channel: &str, toolchain: &UpstreamToolchain) -> Self {
        Self {
            channel: channel.to_owned(),
            orderer_org: OrdererOrgSpec {
                name: "Orderer".into(),
                domain: "example.com".into(),
                orderers: 1,
            },
            peer_orgs: Vec::new(),
            capabilities: Capabilities::default(),
            batch_timeout_ms: 250,
            orderer_command: NodeCommand::upstream_orderer(toolchain),
            peer_command: NodeCommand::upstream_peer(toolchain),
            node_commands: BTreeMap::new(),
        }
    }

    /// Sets the number of Raft orderers.
    pub fn orderers(mut self, count: usize) -> Self {
        self.orderer_org.orderers = count;
        self
    }

    /// Adds a peer organisation `name` (domain `<name lowercased>.example.com`) with `peers` peers.
    pub fn peer_org(mut self, name: &str, peers: usize) -> Self {
        let domain = format!("{}.example.com", name.to_ascii_lowercase());
        self.peer_orgs.push(PeerOrgSpec {
            name: name.to_owned(),
            domain,
            peers,
        });
        self
    }

    /// Runs node `node_name` with `command` instead of the default.
    pub fn node_command(mut self, node_name: &str, command: NodeCommand) -> Self {
        self.node_commands.insert(node_name.to_owned(), command);
        self
    }

    /// The command that runs the named orderer.
    pub fn command_for_orderer(&self, node_name: &str) -> &NodeCommand {
        self.node_commands
            .get(node_name)
            .unwrap_or(&self.orderer_command)
    }

    /// The command that runs the named peer.
    pub fn command_for_peer(&self, node_name: &str) -> &NodeCommand {
        self.node_commands
            .get(node_name)
            .unwrap_or(&self.peer_command)
    }

    /// Checks the limits and the naming rules cryptogen and Fabric impose.
    pub fn validate(&self) -> Result<()> {
        let fail = |why: String| Err(HarnessError::Topology(why));
        if !valid_channel_name(&self.channel) {
            return fail(format!(
                "channel name {:?} must be 1-{MAX_CHANNEL_NAME_LEN} characters of [a-z0-9.-], starting with a letter",
                self.channel
            ));
        }
        if !(1..=MAX_ORDERERS).contains(&self.orderer_org.orderers) {
            return fail(format!("orderer count must be 1..={MAX_ORDERERS}"));
        }
        if !(1..=MAX_PEER_ORGS).contains(&self.peer_orgs.len()) {
            return fail(format!(
                "peer org count must be 1..={MAX_PEER_ORGS}; add one with peer_org()"
            ));
        }
        let mut domains = vec![self.orderer_org.domain.as_str()];
        let mut names = vec![self.orderer_org.name.as_str()];
        for org in &self.peer_orgs {
            if !(1..=MAX_PEERS_PER_ORG).contains(&org.peers) {
                return fail(format!(
                    "org {} must have 1..={MAX_PEERS_PER_ORG} peers",
                    org.name
                ));
            }
            domains.push(&org.domain);
            names.push(&org.name);
        }
        for name in &names {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                return fail(format!(
                    "org name {name:?} must be non-empty ASCII letters and digits"
                ));
            }
        }
        let mut unique = domains.clone();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() != domains.len() {
            return fail("org domains must be distinct".into());
        }
        Ok(())
    }
}

fn valid_channel_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && name.len() <= MAX_CHANNEL_NAME_LEN
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bare(channel: &str) -> Topology {
        let cmd = NodeCommand::new("/bin/false", &[]);
        Topology {
            channel: channel.into(),
            orderer_org: OrdererOrgSpec {
                name: "Orderer".into(),
                domain: "example.com".into(),
                orderers: 1,
            },
            peer_orgs: Vec::new(),
            capabilities: Capabilities::default(),
            batch_timeout_ms: 250,
            orderer_command: cmd.clone(),
            peer_command: cmd,
            node_commands: BTreeMap::new(),
        }
    }

    #[test]
    fn names_follow_cryptogen_conventions() {
        let topology = bare("mychannel").orderers(2).peer_org("Org1", 2);
        assert_eq!(
            topology.orderer_org.node_names(),
            ["orderer0.example.com", "orderer1.example.com"]
        );
        assert_eq!(
            topology.peer_orgs[0].node_names(),
            ["peer0.org1.example.com", "peer1.org1.example.com"]
        );
        assert_eq!(topology.peer_orgs[0].msp_id(), "Org1MSP");
        topology.validate().unwrap();
    }

    #[test]
    fn per_node_commands_override_the_default() {
        let weft = NodeCommand::new("/opt/weft/peer", &["start"]);
        let topology = bare("ch")
            .peer_org("Org1", 2)
            .node_command("peer1.org1.example.com", weft.clone());
        assert_eq!(topology.command_for_peer("peer1.org1.example.com"), &weft);
        assert_eq!(
            topology.command_for_peer("peer0.org1.example.com"),
            &topology.peer_command
        );
    }

    #[test]
    fn invalid_topologies_are_rejected() {
        assert!(bare("mychannel").validate().is_err(), "no peer orgs");
        assert!(
            bare("MyChannel").peer_org("Org1", 1).validate().is_err(),
            "upper case channel"
        );
        assert!(
            bare("1ch").peer_org("Org1", 1).validate().is_err(),
            "leading digit"
        );
        assert!(
            bare("ch")
                .orderers(0)
                .peer_org("Org1", 1)
                .validate()
                .is_err()
        );
        assert!(bare("ch").peer_org("Org1", 0).validate().is_err());
        assert!(
            bare("ch")
                .peer_org("Org1", 1)
                .peer_org("org1", 1)
                .validate()
                .is_err(),
            "same domain"
        );
        assert!(bare("ch").peer_org("Org 1", 1).validate().is_err());
    }
}
