//! Errors from finding, reading and checking a node configuration file.

use std::fmt;
use std::path::PathBuf;

/// Why a node configuration could not be loaded. Each variant says what the operator should do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `FABRIC_CFG_PATH` names something that is not a directory (the peer refuses to start).
    #[error(
        "FABRIC_CFG_PATH is {path:?}, which is not an existing directory; \
         set it to the directory that holds {file_name}"
    )]
    CfgPathNotADirectory {
        /// The value of `FABRIC_CFG_PATH`.
        path: PathBuf,
        /// The file the node looks for there.
        file_name: &'static str,
    },
    /// No configuration file in any of the directories searched.
    #[error(
        "could not find {stem}.yaml (searched {}); set FABRIC_CFG_PATH to the directory that holds it",
        display_paths(searched)
    )]
    NotFound {
        /// The file name without extension (`core` or `orderer`).
        stem: &'static str,
        /// Directories searched, in order.
        searched: Vec<PathBuf>,
    },
    /// Fabric's peer would read this file, but it is not YAML.
    #[error(
        "{path:?} is the file Fabric would read, but Weft reads configuration only as YAML; \
         convert it to {stem}.yaml or remove it"
    )]
    UnsupportedFormat {
        /// The file found.
        path: PathBuf,
        /// `core` or `orderer`.
        stem: &'static str,
    },
    /// The file could not be read.
    #[error("cannot read {path:?}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The file is larger than any real configuration file.
    #[error(
        "{path:?} is {size_bytes} bytes; a node configuration file may be at most {max_bytes} bytes"
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size_bytes: u64,
        /// The limit.
        max_bytes: u64,
    },
    /// The file is not well-formed YAML.
    #[error("{path:?} is not valid YAML: {message}; fix the syntax at the position given")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The file parsed, but settings in it or in the environment are wrong.
    #[error("{} in {path:?}:\n{}", count(problems), display_problems(problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found, in key order.
        problems: Vec<Problem>,
    },
}

/// One wrong setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The full dotted key path.
    pub key: String,
    /// The environment variable the value came from, if it did.
    pub env_var: Option<String>,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.env_var {
            Some(var) => write!(f, "{} (set by {var}): {}", self.key, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

fn count(problems: &[Problem]) -> String {
    match problems.len() {
        1 => "1 problem".to_owned(),
        n => format!("{n} problems"),
    }
}

fn display_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("{p:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
