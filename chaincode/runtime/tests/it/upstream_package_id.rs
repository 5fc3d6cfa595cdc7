//! Interop tier: upstream Fabric's `peer lifecycle chaincode calculatepackageid` gives the same
//! package ids for Weft's WASM packages as scripts/build-chaincode records, so the ids users
//! see from upstream tooling match the ones `_lifecycle` stores. Needs the upstream binaries
//! (`interop-tests/upstream/install.sh`); fails without them.

use std::path::PathBuf;
use std::process::Command;

use crate::contracts::{built_dir, package, repo_root};

fn upstream_peer() -> PathBuf {
    let dir = std::env::var_os("WEFT_UPSTREAM_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| repo_root().join(".cache/upstream"), PathBuf::from);
    let peer = dir.join("fabric-2.5.9/bin/peer");
    assert!(
        peer.is_file(),
        "upstream peer binary missing at {} (run interop-tests/upstream/install.sh)",
        peer.display()
    );
    peer
}

#[test]
fn upstream_peer_computes_the_same_package_ids() {
    let peer = upstream_peer();
    // The CLI insists on reading a core.yaml; calculatepackageid needs nothing from it.
    let config = tempfile::tempdir().unwrap();
    std::fs::write(config.path().join("core.yaml"), "").unwrap();
    for name in ["crud", "basic"] {
        let (expected, _) = package(name);
        let output = Command::new(&peer)
            .args(["lifecycle", "chaincode", "calculatepackageid"])
            .arg(built_dir().join(format!("{name}.tar.gz")))
            .env("FABRIC_CFG_PATH", config.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), expected);
    }
}
