//! Node configuration files (`core.yaml`, `orderer.yaml`) read the way Fabric reads them, so that
//! Weft's `peer node start` and `orderer` accept an operator's existing files and environment.
//!
//! Loading goes: find the file ([`find_config_file`], Fabric's `FABRIC_CFG_PATH` rules), parse
//! and check it against Fabric's key schema ([`Document`]: unknown keys and malformed values are
//! errors naming the key and, if any, the environment variable), apply `CORE_*` / `ORDERER_*`
//! overrides, resolve relative paths against the file's directory, and build the typed
//! [`PeerConfig`] or [`OrdererConfig`] with Fabric's defaults filled in.
//!
//! ```no_run
//! let env = weft_nodeconfig::Env::from_process();
//! let cwd = std::env::current_dir()?;
//! let peer = weft_nodeconfig::PeerConfig::load(&env, &cwd)?;
//! for s in peer.document.accepted_but_unused() {
//!     eprintln!("{} is set but has no effect in Weft", s.key);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod document;
mod env;
mod error;
mod locate;
mod orderer;
mod paths;
mod peer;
mod reader;
pub mod schema;
mod values;

pub use document::{AcceptedSetting, Document, MAX_CONFIG_FILE_BYTES, Setting, Source};
pub use env::{Env, prefix as env_prefix, var_name as env_var_name};
pub use error::{ConfigError, Problem};
pub use locate::{OFFICIAL_CONFIG_DIR, config_stem, find_config_file};
pub use orderer::*;
pub use paths::translate_path;
pub use peer::*;
pub use values::{Value, parse_byte_size, parse_go_duration};

/// Which node's configuration file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// The peer, configured by `core.yaml` and `CORE_*` variables.
    Peer,
    /// The orderer, configured by `orderer.yaml` and `ORDERER_*` variables.
    Orderer,
}

/// Finds, reads and checks the node's configuration file.
pub fn load_document(
    node: NodeKind,
    env: &Env,
    cwd: &std::path::Path,
) -> Result<Document, ConfigError> {
    let path = find_config_file(node, env, cwd)?;
    Document::load(node, &path, env)
}
