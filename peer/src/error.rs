//! Operating errors of the peer node, each telling the operator what to do.

use weft_ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("block store: {0}")]
    Ledger(#[from] LedgerError),

    #[error("channel {channel}: {reason}")]
    Channel { channel: String, reason: String },

    #[error("channel {0} is not joined on this peer; join it with `peer channel join -b <block>`")]
    UnknownChannel(String),

    #[error(
        "cannot create ledger from genesis block: ledger [{0}] already exists with state [ACTIVE]"
    )]
    AlreadyJoined(String),

    #[error("{0}")]
    BadRequest(String),
}

pub type Result<T, E = PeerError> = std::result::Result<T, E>;
