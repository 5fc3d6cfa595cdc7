//! The `orderer` binary's start-up checks: configuration errors name the key and the process
//! exits non-zero (Fabric's orderer logs the failing key and exits 1 as well).

use std::process::Command;

fn run_with_config(yaml: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("orderer.yaml"), yaml).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_orderer"))
        .env_clear()
        .env("FABRIC_CFG_PATH", dir.path())
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn malformed_listen_port_is_reported_by_key_and_exits_non_zero() {
    let (ok, stderr) = run_with_config("General:\n  ListenPort: notaport\n");
    assert!(!ok, "the orderer must not start: {stderr}");
    assert!(stderr.contains("ListenPort"), "{stderr}");
}

#[test]
fn missing_local_msp_is_reported_by_key_and_exits_non_zero() {
    let (ok, stderr) = run_with_config("General:\n  ListenPort: 7050\n  LocalMSPDir: nowhere\n");
    assert!(!ok, "the orderer must not start: {stderr}");
    assert!(stderr.contains("General.LocalMSPDir"), "{stderr}");
}
