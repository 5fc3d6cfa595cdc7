//! Operating errors of the Raft consensus core.

use std::path::PathBuf;

/// Why a consensus operation failed, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum RaftError {
    #[error(
        "raft log gap: new entries start at {first_new} but the log holds {first}..={last}; the WAL or the leader sent an inconsistent log, restore this node from a snapshot"
    )]
    LogGap {
        first_new: u64,
        first: u64,
        last: u64,
    },
    #[error(
        "cannot snapshot at index {index}: the log holds {first}..={last}; snapshot only at the applied index"
    )]
    SnapshotIndex { index: u64, first: u64, last: u64 },
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    #[error("channel {0:?} is not served by this consensus node; join the channel first")]
    UnknownChannel(String),
    #[error("channel {0:?} already exists on this consensus node")]
    ChannelExists(String),
    #[error("channel name of {0} bytes exceeds the {max} byte limit", max = crate::wal::CHANNEL_NAME_BYTES_MAX)]
    ChannelNameTooLong(usize),
    #[error("raft message of {0} bytes exceeds the {max} byte limit", max = crate::chain::RAFT_MESSAGE_BYTES_MAX)]
    MessageTooLarge(usize),
    #[error("malformed raft message from a consenter: {0}")]
    MalformedMessage(String),
    #[error(
        "message claims to come from consenter {claimed} but the cluster session belongs to {sender}"
    )]
    SenderMismatch { claimed: u64, sender: u64 },
    #[error(
        "WAL I/O on {path}: {source}; check the disk and the orderer's WAL directory permissions"
    )]
    WalIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "WAL record in {path} at offset {offset} is corrupt: {reason}; the WAL cannot be replayed, restore this node"
    )]
    WalCorrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("invalid etcdraft option {option}: {reason}")]
    InvalidOption {
        option: &'static str,
        reason: String,
    },
    #[error("membership change not supported: {0}")]
    Membership(String),
    #[error(
        "consensus node is not the leader of channel {channel:?} (leader: {leader:?}); forward the request to the leader"
    )]
    NotLeader {
        channel: String,
        leader: Option<u64>,
    },
}
