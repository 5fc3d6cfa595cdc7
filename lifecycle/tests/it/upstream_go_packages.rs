//! Chaincode packages across Go and Weft: a package made by upstream `peer lifecycle chaincode
//! package` parses here with the package ID Go's `calculatepackageid` prints, and a Weft WASM
//! package is accepted by Go's parser with the same ID (Fabric's core/chaincode/persistence).

use std::path::Path;

use weft_interop_tests::process::{clean_command, run_bounded};
use weft_interop_tests::{CLI_TIMEOUT, REFERENCE_VERSION, UpstreamToolchain};
use weft_lifecycle::package::{self, PackageStore};

use crate::packages::wasm_package;

fn go_peer(toolchain: &UpstreamToolchain, dir: &Path, args: &[&str]) -> String {
    let mut command = clean_command(&toolchain.bin("peer"));
    command
        .args(args)
        .env("FABRIC_CFG_PATH", toolchain.config_dir())
        .current_dir(dir);
    run_bounded(command, CLI_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"))
        .stdout
        .trim()
        .to_owned()
}

fn packages_agree(version: &str) {
    let toolchain = UpstreamToolchain::locate(version).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("package.json"), br#"{"name":"refcc"}"#).unwrap();
    std::fs::write(src.join("index.js"), b"module.exports = {};\n").unwrap();

    go_peer(
        &toolchain,
        dir.path(),
        &[
            "lifecycle",
            "chaincode",
            "package",
            "go.tar.gz",
            "--path",
            "src",
            "--lang",
            "node",
            "--label",
            "refcc_1.0",
        ],
    );
    let go_id = go_peer(
        &toolchain,
        dir.path(),
        &["lifecycle", "chaincode", "calculatepackageid", "go.tar.gz"],
    );
    let go_bytes = std::fs::read(dir.path().join("go.tar.gz")).unwrap();
    assert_eq!(package::package_id("refcc_1.0", &go_bytes), go_id);
    let parsed = package::parse_package(&go_bytes).unwrap();
    assert_eq!(parsed.metadata.label, "refcc_1.0");
    assert_eq!(parsed.metadata.package_type, "node");
    let store = PackageStore::open(dir.path().join("store")).unwrap();
    let (installed, _, _) = store.install(&go_bytes).unwrap();
    assert_eq!(installed.package_id, go_id);

    let weft_bytes = wasm_package("basic_1.0", b"\0asm\x01\0\0\0");
    std::fs::write(dir.path().join("weft.tar.gz"), &weft_bytes).unwrap();
    let go_id = go_peer(
        &toolchain,
        dir.path(),
        &[
            "lifecycle",
            "chaincode",
            "calculatepackageid",
            "weft.tar.gz",
        ],
    );
    assert_eq!(package::package_id("basic_1.0", &weft_bytes), go_id);
}

#[test]
fn upstream_go_and_weft_packages_have_the_same_ids() {
    packages_agree(REFERENCE_VERSION);
}

#[test]
fn upstream_go_v3_and_weft_packages_have_the_same_ids() {
    packages_agree("3.1.1");
}
