//! Where the upstream reference binaries live. `interop-tests/upstream/install.sh`
//! puts them there; this module only finds and checks them.

use std::path::{Path, PathBuf};

use crate::error::{HarnessError, Result};

/// The Fabric release the reference tests run against by default.
pub const REFERENCE_VERSION: &str = "2.5.9";

/// Environment variable that moves the toolchain (the installer honours it too).
pub const UPSTREAM_DIR_ENV: &str = "WEFT_UPSTREAM_DIR";

/// The binaries the harness runs from an upstream release.
pub const FABRIC_COMMANDS: [&str; 6] = [
    "peer",
    "orderer",
    "configtxgen",
    "cryptogen",
    "osnadmin",
    "configtxlator",
];

/// The sample configuration files each node process reads before env overrides.
const SAMPLE_CONFIGS: [&str; 3] = ["core.yaml", "orderer.yaml", "configtx.yaml"];

/// One installed upstream Fabric release plus the shared external builder.
#[derive(Debug, Clone)]
pub struct UpstreamToolchain {
    version: String,
    root: PathBuf,
    ccaas_builder: PathBuf,
}

impl UpstreamToolchain {
    /// Finds `fabric-<version>` under `$WEFT_UPSTREAM_DIR` (default `<repo>/.cache/upstream`)
    /// and checks that every binary, sample config and the ccaas builder are present.
    pub fn locate(version: &str) -> Result<Self> {
        Self::locate_in(&upstream_dir(), version)
    }

    /// Like [`UpstreamToolchain::locate`] with an explicit install directory.
    pub fn locate_in(upstream_dir: &Path, version: &str) -> Result<Self> {
        let toolchain = Self {
            version: version.to_owned(),
            root: upstream_dir.join(format!("fabric-{version}")),
            ccaas_builder: upstream_dir.join("ccaas"),
        };
        let mut required: Vec<PathBuf> = FABRIC_COMMANDS
            .iter()
            .map(|cmd| toolchain.bin(cmd))
            .collect();
        required.extend(
            SAMPLE_CONFIGS
                .iter()
                .map(|cfg| toolchain.config_dir().join(cfg)),
        );
        required.extend(
            ["detect", "build", "release"].map(|s| toolchain.ccaas_builder.join("bin").join(s)),
        );
        match required.into_iter().find(|path| !path.is_file()) {
            None => Ok(toolchain),
            Some(missing) => Err(HarnessError::ToolchainMissing {
                version: version.to_owned(),
                missing,
                root: upstream_dir.to_path_buf(),
            }),
        }
    }

    /// The Fabric release, e.g. `2.5.9`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Path of one upstream command, e.g. `bin("peer")`.
    pub fn bin(&self, command: &str) -> PathBuf {
        self.root.join("bin").join(command)
    }

    /// The release's sample config directory, used as `FABRIC_CFG_PATH`.
    pub fn config_dir(&self) -> PathBuf {
        self.root.join("config")
    }

    /// The chaincode-as-a-service external builder directory (contains `bin/detect` ...).
    pub fn ccaas_builder(&self) -> &Path {
        &self.ccaas_builder
    }
}

/// The toolchain install directory: `$WEFT_UPSTREAM_DIR` or `<repo>/.cache/upstream`.
pub fn upstream_dir() -> PathBuf {
    match std::env::var_os(UPSTREAM_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join(".cache").join("upstream"),
    }
}

/// The workspace root (this crate lives one level below it).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_toolchain_names_the_installer_and_the_missing_file() {
        let empty = tempfile::tempdir().unwrap();
        let err = UpstreamToolchain::locate_in(empty.path(), "9.9.9").unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("interop-tests/upstream/install.sh"),
            "{message}"
        );
        assert!(message.contains("fabric-9.9.9/bin/peer"), "{message}");
    }

    #[test]
    fn a_complete_install_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("fabric-1.0.0");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("config")).unwrap();
        std::fs::create_dir_all(dir.path().join("ccaas/bin")).unwrap();
        for cmd in FABRIC_COMMANDS {
            std::fs::write(root.join("bin").join(cmd), "").unwrap();
        }
        for cfg in SAMPLE_CONFIGS {
            std::fs::write(root.join("config").join(cfg), "").unwrap();
        }
        for step in ["detect", "build", "release"] {
            std::fs::write(dir.path().join("ccaas/bin").join(step), "").unwrap();
        }
        let toolchain = UpstreamToolchain::locate_in(dir.path(), "1.0.0").unwrap();
        assert_eq!(toolchain.bin("osnadmin"), root.join("bin/osnadmin"));
        assert_eq!(toolchain.config_dir(), root.join("config"));

        std::fs::remove_file(root.join("config/core.yaml")).unwrap();
        assert!(UpstreamToolchain::locate_in(dir.path(), "1.0.0").is_err());
    }
}
