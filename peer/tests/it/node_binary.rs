//! The `peer` binary's command line and start-up failures, without a network.

use std::process::Command;

#[test]
fn version_prints_the_weft_version() {
    let output = Command::new(env!("CARGO_BIN_EXE_peer"))
        .arg("version")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")), "{stdout}");
}

#[test]
fn unknown_command_fails_with_usage() {
    let output = Command::new(env!("CARGO_BIN_EXE_peer"))
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage"));
}

// As Fabric's viper-based loader: a core.yaml key Fabric does not know is an error naming it.
#[test]
fn unknown_config_key_fails_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("core.yaml"),
        "peer:\n  id: p0\n  noSuchSetting: 1\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_peer"))
        .args(["node", "start"])
        .env_clear()
        .env("FABRIC_CFG_PATH", dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("peer.noSuchSetting"), "{stderr}");
}
