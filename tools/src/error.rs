//! Errors of both tools; each message says what to fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("cannot read {path}: {source}; check the path and permissions")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}; check that the output directory is writable")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid YAML for this tool: {message}")]
    Yaml { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("template {template:?}: {message}")]
    Template { template: String, message: String },
    #[error("cryptographic operation failed: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    #[error("{0}")]
    Usage(String),
    #[error("cannot decode {what}: {message}")]
    Decode { what: String, message: String },
}

impl ToolError {
    pub fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ToolError::Read {
            path: path.into(),
            source,
        }
    }

    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ToolError::Write {
            path: path.into(),
            source,
        }
    }
}
