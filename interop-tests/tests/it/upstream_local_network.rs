//! The one-command local network (`scripts/network`, the README's first command) driven by an
//! unchanged @hyperledger/fabric-gateway client written the way Fabric's asset-transfer tutorial
//! writes one: Weft orderer and peers only, `basic` deployed as WASM chaincode. A third client,
//! written like Fabric's chaincode-events tutorial app, follows the `crud` contract's
//! Created/Updated/Deleted events live, replays them from a start block and resumes from a
//! checkpoint.
//!
//! The network uses the test network's fixed ports (7050, 7051, 7053, 9051), so this test must not
//! run next to another user of those ports; the interop tier runs tests one at a time.

use std::path::{Path, PathBuf};
use std::process::Command;

use weft_interop_tests::repo_root;

/// Stops the network and removes its data however the test ends.
struct NetworkGuard {
    weft_network: PathBuf,
    home: PathBuf,
}

impl Drop for NetworkGuard {
    fn drop(&mut self) {
        let _ = Command::new(&self.weft_network)
            .arg("--home")
            .arg(&self.home)
            .arg("clean")
            .status();
    }
}

fn built_binaries() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let dir = target.join("debug");
    for bin in ["orderer", "peer", "weft-network"] {
        assert!(
            dir.join(bin).is_file(),
            "{} is missing: build the workspace first (cargo build --workspace)",
            dir.join(bin).display()
        );
    }
    dir
}

fn node_modules() -> PathBuf {
    let dir = std::env::var_os("WEFT_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("interop-tests/node/node_modules"));
    assert!(
        dir.join("@hyperledger/fabric-gateway/package.json")
            .is_file(),
        "@hyperledger/fabric-gateway is not installed in {}: run interop-tests/upstream/install.sh",
        dir.display()
    );
    dir
}

fn build_chaincode(out: &Path) {
    let status = Command::new(repo_root().join("scripts/build-chaincode"))
        .args(["basic", "crud"])
        .env("WEFT_CHAINCODE_OUT", out)
        .status()
        .expect("running scripts/build-chaincode");
    assert!(status.success(), "scripts/build-chaincode failed");
}

#[test]
fn tutorial_gateway_client_runs_against_the_local_network() {
    let bin = built_binaries();
    let work = tempfile::tempdir().unwrap();
    let packages = work.path().join("chaincode");
    build_chaincode(&packages);
    let home = work.path().join("network");
    let guard = NetworkGuard {
        weft_network: bin.join("weft-network"),
        home: home.clone(),
    };
    let up = Command::new(&guard.weft_network)
        .arg("--home")
        .arg(&home)
        .arg("up")
        .arg("--bin-dir")
        .arg(&bin)
        .arg(format!(
            "--chaincode=basic={}",
            packages.join("basic.tar.gz").display()
        ))
        .arg(format!(
            "--chaincode=crud={}",
            packages.join("crud.tar.gz").display()
        ))
        .output()
        .unwrap();
    let logs = || {
        std::fs::read_dir(home.join("logs"))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        format!(
                            "== {}\n{}",
                            e.path().display(),
                            tail(&std::fs::read_to_string(e.path()).unwrap_or_default())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    };
    assert!(
        up.status.success(),
        "weft-network up failed:\n{}\n{}\n{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr),
        logs()
    );
    let info = String::from_utf8_lossy(&up.stdout);
    assert!(
        info.contains("localhost:7051") && info.contains("Org2MSP"),
        "{info}"
    );

    for script in [
        "asset-transfer-basic.js",
        "fabric-network-basic.js",
        "chaincode-events.js",
    ] {
        let app = Command::new("node")
            .arg(repo_root().join("interop-tests/node").join(script))
            .env("NODE_PATH", node_modules())
            .env(
                "CRYPTO_PATH",
                home.join("organizations/peerOrganizations/org1.example.com"),
            )
            .output()
            .expect("running node (Node.js 18+ must be on PATH)");
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&app.stdout),
            String::from_utf8_lossy(&app.stderr)
        );
        assert!(
            app.status.success() && out.contains("*** all checks passed"),
            "{script} failed:\n{out}\n{}",
            logs()
        );
    }
    drop(guard);
    assert!(!home.exists(), "clean removes the network's data");
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
