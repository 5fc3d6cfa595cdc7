//! The peer's endorser: `protos.Endorser/ProcessProposal` as Fabric's Go peer answers it.
//!
//! [`Endorser::process`] unpacks and checks a signed proposal ([`proposal`]), simulates it by
//! running the chaincode on a [`stub::InvocationStub`] over a [`simulator::TxSimulator`], builds
//! the read-write set byte for byte as Go does ([`rwset`]) and signs the proposal response with
//! the peer's identity. The node supplies channels and chaincodes through the traits in
//! [`support`].
//!
//! # Wiring it into a node
//!
//! - Implement [`ChannelSource`] (channel by ID) and [`ChannelSupport`] per channel: the
//!   channel's identity deserializer, [`ChannelSupport::check_acl`] (use [`check_policy_acl`]
//!   with the ACL's policy path, [`default_acl_policy`] when the channel config has none),
//!   duplicate-txid lookup, a state view for simulations, chaincode definitions and collection
//!   access read *through the given [`StateQuery`]* (so `_lifecycle` reads land in the read set
//!   as in Go), history and private-data distribution. `_lifecycle`'s collections (its implicit
//!   org collections) never reach [`ChannelSupport::collection_access`]: the endorser resolves
//!   them itself, reading nothing, as Go does.
//! - Implement [`ChaincodeRegistry`]: which names are system chaincodes (they alone may read
//!   other namespaces through `ChaincodeStub::get_state_of_namespace`), and the
//!   `Arc<dyn Chaincode>` to run for a definition (WASM package or system chaincode).
//! - Build one [`Endorser`] with the local MSP (for channel-less proposals) and the peer's
//!   signing identity. In the gRPC service call [`Endorser::process`] and map
//!   `Err(ProposalRejected)` to `tonic::Status::unknown(message)` (Go returns a plain error
//!   there); [`Endorser::process_proposal`] instead always yields a response.

pub mod endorser;
pub mod error;
pub mod interest;
pub mod invoke;
pub mod proposal;
pub mod rwset;
pub mod simulator;
pub mod stub;
pub mod support;

pub use endorser::{
    CALL_DEPTH_MAX, EXECUTE_TIMEOUT_DEFAULT, Endorser, EndorserConfig, INSTALL_TIMEOUT_DEFAULT,
    proposal_binding,
};
pub use error::{ProposalRejected, error_response};
pub use invoke::INITIALIZED_KEY;
pub use rwset::{RwSetBuilder, SimulationResults};
pub use simulator::{SimulationOutput, TxSimulator};
pub use stub::{IMPLICIT_COLLECTION_PREFIX, LEGACY_LSCC_NAMESPACE, LIFECYCLE_NAMESPACE};
pub use support::{
    ChaincodeDefinition, ChaincodeRegistry, ChannelSource, ChannelSupport, CollectionAccess,
    DEFAULT_ENDORSEMENT_PLUGIN, PEER_CHAINCODE_TO_CHAINCODE, PEER_PROPOSE,
    SYSTEM_CHAINCODE_VERSION, SimulationState, StateQuery, StateView, check_policy_acl,
    default_acl_policy,
};
