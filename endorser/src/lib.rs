//! The peer's endorser: `protos.Endorser/ProcessProposal` as Fabric's Go peer answers it.
//!
//! [`Endorser::process`] unpacks and checks a signed proposal ([`proposal`]), simulates it by
//! running the chaincode on a [`stub::InvocationStub`] over a [`simulator::TxSimulator`], builds
//! the read-write set byte for byte as Go does ([`rwset`]) and signs the proposal response with
//! the peer's identity. The node supplies channels and chaincodes through the traits in
//! [`support`].

pub mod endorser;
pub mod error;
pub mod interest;
pub mod invoke;
pub mod proposal;
pub mod rwset;
pub mod simulator;
pub mod stub;
pub mod support;

pub use endorser::{CALL_DEPTH_MAX, Endorser, EndorserConfig, proposal_binding};
pub use error::{ProposalRejected, error_response};
pub use invoke::INITIALIZED_KEY;
pub use rwset::{RwSetBuilder, SimulationResults};
pub use simulator::{SimulationOutput, TxSimulator};
pub use support::{
    ChaincodeDefinition, ChaincodeRegistry, ChannelSource, ChannelSupport, CollectionAccess,
    PEER_CHAINCODE_TO_CHAINCODE, PEER_PROPOSE, SimulationState, StateQuery, check_policy_acl,
    default_acl_policy,
};
