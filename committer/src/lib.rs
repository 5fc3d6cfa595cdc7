//! The peer's committer: verification of blocks received from orderers, validation of their
//! transactions with Fabric v2.5's codes, and commit into the channel's ledger with
//! TRANSACTIONS_FILTER and COMMIT_HASH computed as Fabric computes them.
//!
//! - [`verify`]: what a block must satisfy before it is even validated (sequence, previous hash,
//!   metadata, well-formed envelopes, data hash, orderer signatures under BlockValidation).
//! - [`validator`]: the per-transaction pipeline (structure, creator signature, duplicate txids,
//!   endorsement policies from chaincode definitions and key-level parameters, config
//!   transactions, MVCC and phantom reads); signature checks run on all cores.
//! - [`ChannelLedger`]: a channel's block store chain, state, history and config; commit and
//!   crash recovery; queries; commit notifications ([`CommitEvents`]).
//! - [`Committer`]: every channel ledger of a peer behind one `Send + Sync` handle, with a
//!   committer thread owning the single-threaded stores; the peer node's entry point.
//! - [`commit_stream`]: verification and stateless checks of block N+1 overlapping the commit
//!   of block N.
//! - [`DefinitionSource`]: how validation reads chaincode definitions (implemented over
//!   `_lifecycle` by the peer).
//!
//! ## Use from the peer node
//!
//! ```text
//! let committer = Committer::start(root, StoreOptions::default(), definitions)?; // recovers all channels
//! let view = committer.join(genesis_block)?;              // cscc JoinChain
//! let block = decode_block(&bytes, size_max_bytes)?;      // bytes from the orderer's Deliver
//! let outcome = committer.commit_block(channel, block)?;  // verify + validate + commit
//! view.blocks.info() / block_by_number / block_by_hash / tx_by_id / block_by_txid  // qscc
//! view.events.subscribe()                                  // CommitStatus, events, Deliver
//! committer.with_state(channel, |state| ...)               // simulation and _lifecycle reads
//! committer.history_for_key(channel, ns, key, limit)       // GetHistoryForKey
//! ```
//!
//! Every call blocks; async code goes through `tokio::task::spawn_blocking`. A block that fails
//! [`VerifyError`] should be fetched again (from another orderer); any other [`CommitError`]
//! stops the channel as it stops a Fabric peer.

mod channel_ledger;
pub mod definitions;
pub mod endorsement;
mod error;
mod events;
pub mod parallel;
mod pipeline;
mod service;
pub mod txcheck;
pub mod validator;
pub mod verify;

pub use channel_ledger::{ChannelLedger, CommitOutcome, LedgerStores};
pub use definitions::{
    CollectionPolicy, DefinitionSource, NamespaceDefinition, ValidationInfo,
    lifecycle_validation_info,
};
pub use error::{CommitError, VerifyError};
pub use events::{COMMIT_EVENTS_QUEUE_MAX, CommitEvents, CommittedBlock, CommittedTx};
pub use pipeline::{PIPELINE_DEPTH_BLOCKS, commit_stream};
pub use service::{COMMITTER_QUEUE_MAX, ChannelView, Committer};
pub use validator::{PreparedBlock, prepare_block};
pub use verify::{ChainTip, decode_block, verify_block};
