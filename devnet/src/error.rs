use std::path::PathBuf;

/// What can go wrong while setting up or talking to the local network. Each message says what
/// was being done so that the user knows where to look (usually a node's log file).
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("loading the MSP at {path}: {detail}")]
    Msp { path: PathBuf, detail: String },
    #[error("connecting to {address}: {detail}")]
    Connect { address: String, detail: String },
    #[error("{what} failed: {detail}")]
    Rpc { what: String, detail: String },
    #[error("{what} was refused with status {status}: {message}")]
    Refused {
        what: String,
        status: i32,
        message: String,
    },
    #[error("transaction {tx_id} was committed as invalid ({code}) in block {block}")]
    Invalid {
        tx_id: String,
        code: String,
        block: u64,
    },
    #[error("timed out after {seconds}s waiting for {what}")]
    Timeout { what: String, seconds: u64 },
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Assembly(#[from] weft_protoutil::AssemblyError),
    #[error(transparent)]
    Decode(#[from] weft_protoutil::DecodeError),
}

impl DevnetError {
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| DevnetError::Io {
            action,
            path,
            source,
        }
    }

    pub fn rpc(what: impl Into<String>) -> impl FnOnce(tonic::Status) -> Self {
        let what = what.into();
        move |status| DevnetError::Rpc {
            what,
            detail: format!("{}: {}", status.code(), status.message()),
        }
    }
}

pub type Result<T, E = DevnetError> = std::result::Result<T, E>;

impl From<prost::DecodeError> for DevnetError {
    fn from(e: prost::DecodeError) -> Self {
        DevnetError::Setup(format!("a node answered with an undecodable message: {e}"))
    }
}
