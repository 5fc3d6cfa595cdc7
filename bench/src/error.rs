#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{call} failed: {code}: {message}")]
    Call {
        call: &'static str,
        code: tonic::Code,
        message: String,
    },
    #[error("{0}")]
    Protocol(String),
    #[error(transparent)]
    Devnet(#[from] weft_devnet::DevnetError),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl BenchError {
    pub fn call(call: &'static str) -> impl FnOnce(tonic::Status) -> Self {
        move |status| BenchError::Call {
            call,
            code: status.code(),
            message: status.message().to_owned(),
        }
    }
}

pub type Result<T, E = BenchError> = std::result::Result<T, E>;
