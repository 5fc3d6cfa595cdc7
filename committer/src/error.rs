//! Errors of block verification and commit. A transaction that fails validation is not an
//! error: it gets a `TxValidationCode` in the block. These errors mean a whole block cannot be
//! taken (verification) or committed (the channel stops, as a Fabric peer's would).

use weft_channelconfig::ConfigError;
use weft_ledger::LedgerError;
use weft_ledger::kv::KvError;

/// Why a block from an orderer was refused before validation; fetch it again, from another
/// orderer if it repeats.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("block is {size} bytes, more than the {limit} bytes accepted")]
    TooLarge { size: usize, limit: usize },
    #[error("block could not be decoded: {0}")]
    Malformed(String),
    #[error("block has no {0}")]
    Missing(&'static str),
    #[error("expected block {expected} of channel {channel}, got block {got}")]
    UnexpectedNumber {
        channel: String,
        expected: u64,
        got: u64,
    },
    #[error(
        "block {number} does not chain onto block {previous} (previous_hash differs from its header hash)"
    )]
    PreviousHashMismatch { number: u64, previous: u64 },
    #[error("block {number}'s header data_hash does not match its data")]
    DataHashMismatch { number: u64 },
    #[error("block {number} has {found} metadata entries; Fabric blocks carry {expected}")]
    MetadataSlots {
        number: u64,
        found: usize,
        expected: usize,
    },
    #[error("block {number} has no transactions")]
    Empty { number: u64 },
    #[error("block {number}: the first transaction does not decode far enough to name its channel")]
    NoChannelId { number: u64 },
    #[error("block {number} is for channel {found:?}, not {expected:?}")]
    WrongChannel {
        number: u64,
        expected: String,
        found: String,
    },
    #[error("block {number}: transaction {index} is malformed: {reason}")]
    MalformedTransaction {
        number: u64,
        index: usize,
        reason: String,
    },
    #[error("block {number}: the SIGNATURES metadata is malformed: {reason}")]
    BadSignatureMetadata { number: u64, reason: String },
    #[error(
        "block {number} is not signed as the channel's /Channel/Orderer/BlockValidation policy requires: {reason}"
    )]
    PolicyNotSatisfied { number: u64, reason: String },
}

/// Why a block could not be committed. The ledger is left at the previous block; fix the cause
/// (disk, configuration) and restart, or fetch the block again if it came malformed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error("block store: {0}")]
    Ledger(#[from] LedgerError),
    #[error("state or history database: {0}")]
    Kv(#[from] KvError),
    #[error(
        "block {number} carries a config that cannot be applied to channel {channel}: {reason}; Fabric peers stop on such a block too"
    )]
    InvalidConfig {
        channel: String,
        number: u64,
        reason: String,
    },
    #[error("the genesis block is not a valid config block: {0}")]
    BadGenesis(#[from] ConfigError),
    #[error(
        "looking up the chaincode definition of {namespace:?} failed: {reason}; check the _lifecycle state"
    )]
    DefinitionLookup { namespace: String, reason: String },
    #[error(
        "transaction {tx_index} needs validation plugin {plugin:?} for {namespace:?}; only the builtin \"vscc\" exists in Weft, as in a Fabric peer without custom plugins"
    )]
    UnknownValidationPlugin {
        tx_index: usize,
        namespace: String,
        plugin: String,
    },
    #[error(
        "the VALIDATION_PARAMETER of key {key:?} in {namespace:?} is not a signature policy ({reason}); Fabric peers stop on this block too"
    )]
    BadValidationParameter {
        namespace: String,
        key: String,
        reason: String,
    },
    #[error(
        "channel {channel} is inconsistent: {reason}; the stores on disk do not belong together, rebuild state and history from the block store"
    )]
    Inconsistent { channel: String, reason: String },
    #[error(
        "channel {channel} does not enable the V2_0 application capability, so Fabric validates its transactions with the v1.4 rules, which Weft does not implement; enable V2_0 on the channel"
    )]
    LegacyValidation { channel: String },
    #[error("the commit worker thread could not be started: {0}")]
    Thread(String),
}
