//! Errors of the block store, each telling the operator or the caller what to do next.

use std::path::PathBuf;

use weft_protoutil::DecodeError;

/// Result of every block-store operation.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "I/O error while {action} {path}: {source}; check that the disk is not full, is writable and is mounted"
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "segment {path} is corrupt at byte offset {offset}: {reason}; the blocks stored there cannot be \
         served. Restore this file from a backup or from another node of the channel, then restart"
    )]
    CorruptSegment {
        path: PathBuf,
        offset: u64,
        reason: String,
    },

    #[error(
        "the block index in {path} failed: {reason}; stop the node and delete that directory, it is rebuilt \
         from the segment files on the next start"
    )]
    Index { path: PathBuf, reason: String },

    #[error("channel id {channel:?} is not acceptable: {reason}")]
    InvalidChannelId {
        channel: String,
        reason: &'static str,
    },

    #[error(
        "block is {size} bytes, more than the {limit} bytes this store accepts; raise block_size_max_bytes if the channel really needs such blocks"
    )]
    BlockTooLarge { size: usize, limit: usize },

    #[error("block could not be decoded: {0}")]
    MalformedBlock(#[from] DecodeError),

    #[error("block has no {0}")]
    IncompleteBlock(&'static str),

    #[error(
        "channel {channel}: expected block {expected} next, got block {got}; fetch the missing blocks first"
    )]
    UnexpectedBlockNumber {
        channel: String,
        expected: u64,
        got: u64,
    },

    #[error(
        "channel {channel}: block {number} does not chain onto the current tip (previous_hash differs from the tip's header hash); the block comes from a different chain or the source is faulty"
    )]
    PreviousHashMismatch { channel: String, number: u64 },

    #[error(
        "channel {channel}: block {number}'s header data_hash does not match its data; the block was altered or built wrongly"
    )]
    DataHashMismatch { channel: String, number: u64 },

    #[error(
        "the block store stopped accepting writes after an earlier failure ({reason}); restart the node so it recovers from the segment files"
    )]
    Failed { reason: String },

    #[error("the block store has been closed")]
    Closed,

    #[error("store option {option} is {value}, outside the allowed range {min}..={max}")]
    InvalidOption {
        option: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
}

impl LedgerError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        LedgerError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(
        path: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        LedgerError::CorruptSegment {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }
}
