//! Golden bytes: messages written by unchanged upstream tools must decode into Weft's prost types
//! and re-encode to the same bytes.
//!
//! - `genesis_block`: a channel genesis block from upstream `cryptogen` + `configtxgen`, checked
//!   at every level of its config tree, and cross-checked against `configtxlator`'s JSON.
//! - `gateway_proposal`: a signed proposal built offline by the Node `@hyperledger/fabric-gateway`
//!   client.
//! - `wire`: the byte comparison used by both (map entry order is the one thing allowed to differ).
//!
//! Tools are looked up in `$WEFT_UPSTREAM_DIR` (default `<repo>/.cache/upstream`, filled by
//! `interop-tests/upstream/install.sh`) and Node packages in `$WEFT_NODE_MODULES` (default
//! `<repo>/interop-tests/node/node_modules`). A missing tool fails the test, saying what to install.

mod gateway_proposal;
mod genesis_block;
mod wire;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use prost::Message;

/// The upstream Fabric release whose tools write the golden inputs.
const FABRIC_RELEASE: &str = "fabric-2.5.9";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

/// Path of an upstream Fabric binary; fails with install instructions when it is not there.
pub fn upstream_tool(name: &str) -> PathBuf {
    let base = std::env::var_os("WEFT_UPSTREAM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache/upstream"));
    let path = base.join(FABRIC_RELEASE).join("bin").join(name);
    assert!(
        path.is_file(),
        "upstream `{name}` not found at {}: run interop-tests/upstream/install.sh, or point \
         WEFT_UPSTREAM_DIR at a directory holding {FABRIC_RELEASE}/bin",
        path.display()
    );
    path
}

/// Runs `command` and returns its output, failing the test with its stderr if it does not succeed.
pub fn run(command: &mut Command) -> Output {
    let shown = format!("{command:?}");
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    assert!(
        output.status.success(),
        "{shown} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Generates the identities of `golden/crypto-config.yaml` with upstream `cryptogen` into
/// `<dir>/crypto`.
pub fn cryptogen(dir: &Path) -> PathBuf {
    let out = dir.join("crypto");
    run(Command::new(upstream_tool("cryptogen"))
        .arg("generate")
        .arg(format!(
            "--config={}",
            golden_dir().join("crypto-config.yaml").display()
        ))
        .arg(format!("--output={}", out.display())));
    out
}

/// Records which message types were checked, so a test can assert it really walked as far as it
/// meant to.
#[derive(Default)]
pub struct Checked(Mutex<CheckedState>);

#[derive(Default)]
pub struct CheckedState {
    types: BTreeSet<String>,
    identical: usize,
    canonicalised: usize,
}

impl Checked {
    /// Decodes `upstream` as `M` (protobuf type `full_name`) and asserts that our re-encoding is
    /// the upstream encoding up to map entry order (see `wire`). `path` says where in the
    /// structure the bytes came from, for the failure message.
    pub fn roundtrip<M: Message + Default>(
        &self,
        full_name: &str,
        path: &str,
        upstream: &[u8],
    ) -> M {
        let message = M::decode(upstream)
            .unwrap_or_else(|e| panic!("{path}: upstream bytes do not decode as {full_name}: {e}"));
        let ours = message.encode_to_vec();
        let expected = wire::canonical(upstream, &wire::descriptor(full_name))
            .unwrap_or_else(|e| panic!("{path}: cannot read upstream {full_name} encoding: {e}"));
        assert!(
            ours == expected,
            "{path}: {full_name} re-encodes differently\nupstream (canonical): {}\nours:                 {}",
            hex::encode(&expected),
            hex::encode(&ours)
        );
        let mut state = self.0.lock().unwrap();
        state.types.insert(full_name.to_string());
        if ours == upstream {
            state.identical += 1;
        } else {
            state.canonicalised += 1;
        }
        message
    }

    pub fn types(&self) -> BTreeSet<String> {
        self.0.lock().unwrap().types.clone()
    }

    /// How many checks matched the upstream bytes as written, and how many only after map
    /// entries were put in key order.
    pub fn counts(&self) -> (usize, usize) {
        let state = self.0.lock().unwrap();
        (state.identical, state.canonicalised)
    }
}
