//! The harness's failures. Every variant says what to do about it, because the
//! person reading it is usually looking at a red interop test.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Everything that can go wrong while building, starting or driving a network.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(
        "upstream Fabric {version} is not installed: {missing} is missing; \
         run interop-tests/upstream/install.sh (it installs into {root})"
    )]
    ToolchainMissing {
        version: String,
        missing: PathBuf,
        root: PathBuf,
    },

    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("could not run {program}: {source} (is it installed and executable?)")]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },

    #[error("`{command}` failed with {status}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")]
    CommandFailed {
        command: String,
        status: ExitStatus,
        stdout: String,
        stderr: String,
    },

    #[error(
        "`{command}` did not finish within {limit:?} and was killed\n--- stderr so far ---\n{stderr}"
    )]
    CommandTimedOut {
        command: String,
        limit: Duration,
        stderr: String,
    },

    #[error("{what} within {limit:?}; see the log at {log}")]
    NotReady {
        what: String,
        limit: Duration,
        log: PathBuf,
    },

    #[error("node {node} exited with {status} before it was ready; see the log at {log}")]
    NodeExited {
        node: String,
        status: ExitStatus,
        log: PathBuf,
    },

    #[error("could not allocate a loopback port: {0}")]
    Ports(std::io::Error),

    #[error("invalid topology: {0}")]
    Topology(String),

    #[error("unknown node {0}: use a name from Network::peers() or Network::orderers()")]
    UnknownNode(String),

    #[error("could not serialise {what}: {detail}")]
    Serialise { what: &'static str, detail: String },

    #[error("unexpected output from `{command}`: {detail}")]
    UnexpectedOutput { command: String, detail: String },

    #[error("could not decode {what}: {source}")]
    Decode {
        what: String,
        source: prost::DecodeError,
    },
}

/// The harness's result type.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

impl HarnessError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
