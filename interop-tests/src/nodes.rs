//! Descriptions of the nodes and admins of a generated network: where each
//! listens and where its crypto material and data live. Paths follow the
//! directory layout cryptogen writes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// One orderer.
#[derive(Debug, Clone)]
pub struct OrdererNode {
    /// e.g. `orderer0.example.com`
    pub name: String,
    pub msp_id: String,
    /// gRPC listener (Broadcast, Deliver and Raft cluster traffic).
    pub listen: SocketAddr,
    /// Channel participation admin endpoint (HTTPS, mutual TLS).
    pub admin: SocketAddr,
    /// Operations endpoint (plain HTTP: /healthz, /metrics).
    pub operations: SocketAddr,
    /// cryptogen's directory for this node (contains `msp/` and `tls/`).
    pub crypto_dir: PathBuf,
    /// Ledger, WAL and snapshot storage.
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

/// One peer.
#[derive(Debug, Clone)]
pub struct PeerNode {
    /// e.g. `peer0.org1.example.com`
    pub name: String,
    /// The organisation name as given in the topology, e.g. `Org1`.
    pub org: String,
    pub msp_id: String,
    /// gRPC listener (endorser, deliver, gossip, gateway).
    pub listen: SocketAddr,
    /// Where chaincode connects back to the peer.
    pub chaincode: SocketAddr,
    /// Operations endpoint (plain HTTP: /healthz, /metrics).
    pub operations: SocketAddr,
    pub crypto_dir: PathBuf,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

/// The admin user cryptogen issues for an organisation.
#[derive(Debug, Clone)]
pub struct OrgAdmin {
    pub msp_id: String,
    /// `users/Admin@<domain>` (contains `msp/` and `tls/`).
    pub crypto_dir: PathBuf,
}

/// The TLS files of a node (server) or user (client) directory.
pub trait TlsFiles {
    fn crypto_dir(&self) -> &Path;

    fn msp_dir(&self) -> PathBuf {
        self.crypto_dir().join("msp")
    }

    /// The organisation's TLS CA certificate.
    fn tls_ca(&self) -> PathBuf {
        self.crypto_dir().join("tls").join("ca.crt")
    }
}

impl TlsFiles for OrdererNode {
    fn crypto_dir(&self) -> &Path {
        &self.crypto_dir
    }
}

impl TlsFiles for PeerNode {
    fn crypto_dir(&self) -> &Path {
        &self.crypto_dir
    }
}

impl TlsFiles for OrgAdmin {
    fn crypto_dir(&self) -> &Path {
        &self.crypto_dir
    }
}

impl OrdererNode {
    pub fn tls_cert(&self) -> PathBuf {
        self.crypto_dir.join("tls").join("server.crt")
    }

    pub fn tls_key(&self) -> PathBuf {
        self.crypto_dir.join("tls").join("server.key")
    }
}

impl PeerNode {
    pub fn tls_cert(&self) -> PathBuf {
        self.crypto_dir.join("tls").join("server.crt")
    }

    pub fn tls_key(&self) -> PathBuf {
        self.crypto_dir.join("tls").join("server.key")
    }
}

impl OrgAdmin {
    /// Client certificate for mutual TLS (e.g. the orderer admin endpoint).
    pub fn tls_cert(&self) -> PathBuf {
        self.crypto_dir.join("tls").join("client.crt")
    }

    pub fn tls_key(&self) -> PathBuf {
        self.crypto_dir.join("tls").join("client.key")
    }
}
