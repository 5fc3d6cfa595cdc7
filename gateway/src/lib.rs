//! The Fabric Gateway and Discovery services of the peer.
//!
//! - [`GatewayService`] (`gateway.Gateway`): Evaluate on the best peer of an org with the
//!   chaincode, Endorse by an endorsement plan across orgs with retries, Submit to the
//!   orderers with failover, CommitStatus and ChaincodeEvents from the ledger, failures as
//!   Fabric's statuses with `gateway.ErrorDetail`s (Fabric v2.5 `internal/pkg/gateway`).
//! - [`DiscoveryService`] (`discovery.Discovery`): config, membership and endorsers queries
//!   (Fabric `discovery/`), with layouts computed from chaincode endorsement policies.
//!
//! The node supplies what they need through the traits in [`api`].

pub mod acl;
pub mod api;
pub mod channel;
pub mod descriptor;
pub mod discovery;
pub mod error;
pub mod events;
pub mod gateway;
pub mod membership;
pub mod plan;
pub mod principals;
pub mod proposal;
pub mod registry;
pub mod remote;

pub use api::{
    BoxFuture, ChaincodeDefinition, ChannelConfigSource, Connector, Endorser, InstalledChaincode,
    LedgerView, Orderer, PeerInfo, PeerSupport, TxStatus,
};
pub use discovery::DiscoveryService;
pub use error::{GatewayError, error_details, rpc_error};
pub use gateway::{GatewayOptions, GatewayService};
pub use registry::LocalPeer;
pub use remote::TonicConnector;
