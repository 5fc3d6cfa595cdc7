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
//!
//! # Mounting in the peer
//!
//! ```ignore
//! use fabric_protos::{discovery::discovery_server::DiscoveryServer,
//!                     gateway::gateway_server::GatewayServer};
//! use weft_comm::MessageLimits;
//!
//! let support: Arc<dyn PeerSupport> = /* the node's channels, ledgers, peers */;
//! let gateway = GatewayService::new(
//!     LocalPeer { msp_id, endpoint /* peer.gossip.externalEndpoint */, identity, endorser },
//!     support.clone(),
//!     Arc::new(TonicConnector { base: client_config /* the peer's client TLS cert */ }),
//!     GatewayOptions::default(),
//! );
//! let discovery = DiscoveryService::new(support, tls_enabled);
//! let router = server
//!     .tonic_builder()
//!     .add_service(GatewayServer::new(gateway).with_fabric_message_limits())
//!     .add_service(DiscoveryServer::new(discovery).with_fabric_message_limits());
//! ```
//!
//! `ChannelBundle` already implements [`ChannelConfigSource`], so `PeerSupport::channel_config`
//! can return the channel's current `Arc<ChannelBundle>`.

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
pub use remote::{OrdererOverride, TonicConnector};
