//! The one-command local network (`scripts/network`, the README's first command) driven by an
//! unchanged @hyperledger/fabric-gateway client written the way Fabric's asset-transfer tutorial
//! writes one: Weft orderer and peers only, `basic` deployed as WASM chaincode. A third client,
//! written like Fabric's chaincode-events tutorial app, follows the `crud` contract's
//! Created/Updated/Deleted events live, replays them from a start block and resumes from a
//! checkpoint.
//!
//! The network uses the test network's fixed ports (7050, 7051, 7053, 9051), so this test must not
//! run next to another user of those ports; the interop tier runs tests one at a time.

use std::path::PathBuf;
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

#[test]
fn tutorial_gateway_client_runs_against_the_local_network() {
    let bin = crate::support::weft_bin(&["orderer", "peer", "weft-network"]);
    let work = tempfile::tempdir().unwrap();
    let packages = crate::support::wasm_packages(work.path(), &["basic", "crud"]);
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
            .env(
                "NODE_PATH",
                crate::support::node_modules(&["@hyperledger/fabric-gateway", "fabric-network"]),
            )
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
