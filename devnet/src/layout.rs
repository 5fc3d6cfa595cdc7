//! Where the local network keeps its files and which ports it uses. The crypto material follows
//! Fabric's test network (`organizations/peerOrganizations/org1.example.com/...`), so scripts
//! and docs written for the test network find certificates where they expect them.

use std::path::{Path, PathBuf};

/// The channel the network creates.
pub const CHANNEL: &str = "mychannel";
pub const ORDERER_MSP: &str = "OrdererMSP";
pub const ORDERER_DOMAIN: &str = "example.com";
pub const ORDERER_HOST: &str = "orderer.example.com";
pub const ORDERER_PORT: u16 = 7050;
pub const ORDERER_ADMIN_PORT: u16 = 7053;
pub const ORDERER_OPERATIONS_PORT: u16 = 9443;

/// One peer org of the network, as in Fabric's test network.
#[derive(Debug, Clone, Copy)]
pub struct PeerOrg {
    pub name: &'static str,
    pub msp_id: &'static str,
    pub domain: &'static str,
    pub peer_port: u16,
    pub operations_port: u16,
}

pub const PEER_ORGS: [PeerOrg; 2] = [
    PeerOrg {
        name: "Org1",
        msp_id: "Org1MSP",
        domain: "org1.example.com",
        peer_port: 7051,
        operations_port: 9444,
    },
    PeerOrg {
        name: "Org2",
        msp_id: "Org2MSP",
        domain: "org2.example.com",
        peer_port: 9051,
        operations_port: 9445,
    },
];

impl PeerOrg {
    pub fn peer_host(&self) -> String {
        format!("peer0.{}", self.domain)
    }

    pub fn peer_address(&self) -> String {
        format!("localhost:{}", self.peer_port)
    }
}

/// The network's home directory and the paths inside it.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    pub fn organizations(&self) -> PathBuf {
        self.root.join("organizations")
    }

    pub fn genesis_block(&self) -> PathBuf {
        self.root
            .join("channel-artifacts")
            .join(format!("{CHANNEL}.block"))
    }

    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.root.join("nodes").join(node)
    }

    pub fn pid_file(&self, node: &str) -> PathBuf {
        self.node_dir(node).join("pid")
    }

    pub fn log_file(&self, node: &str) -> PathBuf {
        self.root.join("logs").join(format!("{node}.log"))
    }

    pub fn orderer_org_dir(&self) -> PathBuf {
        self.organizations()
            .join("ordererOrganizations")
            .join(ORDERER_DOMAIN)
    }

    pub fn orderer_dir(&self) -> PathBuf {
        self.orderer_org_dir().join("orderers").join(ORDERER_HOST)
    }

    pub fn orderer_tls_ca(&self) -> PathBuf {
        self.orderer_dir().join("tls").join("ca.crt")
    }

    pub fn orderer_admin_dir(&self) -> PathBuf {
        self.orderer_org_dir()
            .join("users")
            .join(format!("Admin@{ORDERER_DOMAIN}"))
    }

    pub fn peer_org_dir(&self, org: &PeerOrg) -> PathBuf {
        self.organizations()
            .join("peerOrganizations")
            .join(org.domain)
    }

    pub fn peer_dir(&self, org: &PeerOrg) -> PathBuf {
        self.peer_org_dir(org).join("peers").join(org.peer_host())
    }

    pub fn peer_tls_ca(&self, org: &PeerOrg) -> PathBuf {
        self.peer_dir(org).join("tls").join("ca.crt")
    }

    pub fn user_dir(&self, org: &PeerOrg, user: &str) -> PathBuf {
        self.peer_org_dir(org)
            .join("users")
            .join(format!("{user}@{}", org.domain))
    }

    /// The chaincode packages the network deploys.
    pub fn packages_dir(repo: &Path) -> PathBuf {
        repo.join("target").join("chaincode")
    }
}
