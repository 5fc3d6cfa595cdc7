//! What the gateway and discovery services need from the node, as small traits.
//!
//! The peer implements [`PeerSupport`] (channels, chaincode definitions, peer membership,
//! ledgers) and hands over its own endorser as an [`Endorser`]. Remote peers and orderers
//! are reached through a [`Connector`]; [`crate::remote::TonicConnector`] is the real one,
//! tests substitute fakes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use fabric_protos::common::{Block, Config, Envelope, MspPrincipal};
use fabric_protos::orderer::BroadcastResponse;
use fabric_protos::protos::{CollectionConfigPackage, ProposalResponse, SignedProposal};
use tokio::sync::broadcast;
use weft_policy::SignedData;

use crate::error::GatewayError;

/// A boxed, sendable future (the traits here are used as trait objects).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that endorses proposals: the local endorser or a remote peer's
/// `/protos.Endorser/ProcessProposal`.
pub trait Endorser: Send + Sync {
    /// Returns the peer's response, or the gRPC status the call failed with. A status
    /// means the peer could not be reached or refused the proposal outright.
    fn process_proposal(
        &self,
        proposal: SignedProposal,
    ) -> BoxFuture<'static, Result<ProposalResponse, tonic::Status>>;
}

/// An orderer's `/orderer.AtomicBroadcast/Broadcast`, used for one envelope at a time.
pub trait Orderer: Send + Sync {
    fn broadcast(
        &self,
        envelope: Envelope,
    ) -> BoxFuture<'static, Result<BroadcastResponse, tonic::Status>>;
}

/// Makes clients for remote endpoints. `tls_root_certs` are PEM CA certificates of the
/// endpoint's organization (empty: plain-text connection).
pub trait Connector: Send + Sync {
    fn endorser(
        &self,
        address: &str,
        tls_root_certs: &[Vec<u8>],
    ) -> Result<Arc<dyn Endorser>, GatewayError>;
    fn orderer(
        &self,
        address: &str,
        tls_root_certs: &[Vec<u8>],
    ) -> Result<Arc<dyn Orderer>, GatewayError>;
}

/// The current config of one channel, with its MSPs and policies.
/// Implemented for [`weft_channelconfig::ChannelBundle`] in [`crate::channel`].
pub trait ChannelConfigSource: Send + Sync {
    /// The channel config tree (orderer endpoints, MSPs, policy definitions).
    fn config(&self) -> &Config;
    /// Evaluates the policy at an absolute path (`/Channel/Application/Readers`).
    fn evaluate_policy(&self, path: &str, signed: &[SignedData]) -> Result<(), String>;
    /// Whether the marshalled `SerializedIdentity` satisfies `principal` under this
    /// channel's MSPs.
    fn satisfies_principal(&self, identity: &[u8], principal: &MspPrincipal) -> Result<(), String>;
}

/// A chaincode as defined on a channel (by `_lifecycle`).
#[derive(Debug, Clone, PartialEq)]
pub struct ChaincodeDefinition {
    pub name: String,
    /// The definition's sequence; discovery reports it as the chaincode version.
    pub sequence: i64,
    /// The marshalled `protos.ApplicationPolicy` (the definition's validation parameter):
    /// a signature policy or a reference to a channel config policy.
    pub endorsement_policy: Vec<u8>,
    pub collections: Option<CollectionConfigPackage>,
}

/// A chaincode installed on (and approved for) a peer: name and version as gossip
/// advertises them (`_lifecycle` chaincodes advertise their sequence as the version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledChaincode {
    pub name: String,
    pub version: String,
}

/// A peer that is a member of a channel, as the node knows it (from the channel config
/// and configured endpoints until Weft speaks gossip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub msp_id: String,
    /// The external endpoint (`host:port`) other organizations and clients dial.
    pub endpoint: String,
    /// The peer's marshalled `msp.SerializedIdentity`.
    pub identity: Vec<u8>,
    pub ledger_height: u64,
    pub chaincodes: Vec<InstalledChaincode>,
}

/// How a transaction was validated when committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxStatus {
    /// A `protos.TxValidationCode` value.
    pub code: i32,
    pub block_number: u64,
}

/// Read access to one channel's committed blocks.
pub trait LedgerView: Send + Sync {
    /// Number of committed blocks.
    fn height(&self) -> Result<u64, String>;
    /// Committed block `number` with its TRANSACTIONS_FILTER metadata filled in, or
    /// `None` beyond the height.
    fn block(&self, number: u64) -> Result<Option<Block>, String>;
    /// The validation result of a committed transaction, `None` if it is not committed.
    fn tx_status(&self, tx_id: &str) -> Result<Option<TxStatus>, String>;
    /// Notifications carrying the number of each block once it is committed. Receivers
    /// that lag re-read the ledger, so a bounded channel is fine.
    fn subscribe(&self) -> broadcast::Receiver<u64>;
}

/// What the node provides to the gateway and discovery services.
pub trait PeerSupport: Send + Sync {
    /// The channel's current config, `None` if this peer has not joined it.
    fn channel_config(&self, channel: &str) -> Option<Arc<dyn ChannelConfigSource>>;
    /// The chaincode's committed definition on the channel.
    fn chaincode(&self, channel: &str, name: &str) -> Option<ChaincodeDefinition>;
    /// The peers of the channel, this peer included.
    fn channel_peers(&self, channel: &str) -> Vec<PeerInfo>;
    /// Every peer this peer knows (discovery's local membership query).
    fn local_peers(&self) -> Vec<PeerInfo>;
    /// The channel's ledger, `None` if this peer has not joined it.
    fn ledger(&self, channel: &str) -> Option<Arc<dyn LedgerView>>;
    /// Evaluates a policy of the peer's local MSP (`Admins`, `Members`) for requests
    /// outside any channel; used by discovery's local peers query.
    fn evaluate_local_policy(&self, name: &str, signed: &[SignedData]) -> Result<(), String>;
    /// Whether `name` is a system chaincode (always available on every peer).
    fn is_system_chaincode(&self, name: &str) -> bool {
        matches!(name, "_lifecycle" | "cscc" | "qscc" | "lscc")
    }
}
