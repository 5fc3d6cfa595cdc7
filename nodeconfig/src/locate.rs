//! Finding `core.yaml` / `orderer.yaml` the way each Fabric node does.
//!
//! The peer (core/config `InitViper` with viper's file search): if `FABRIC_CFG_PATH` is set it is
//! the only directory searched and must exist; otherwise the working directory, then
//! `/etc/hyperledger/fabric` if it exists. In each directory viper tries its extensions in order
//! (`json`, `toml`, `yaml`, `yml`, ...), so a `core.json` would win over `core.yaml`.
//!
//! The orderer (viperutil `ConfigPaths`): `FABRIC_CFG_PATH` if set, then always the working
//! directory and `/etc/hyperledger/fabric`, trying `orderer.yaml` then `orderer.yml` in each.

use std::path::{Path, PathBuf};

use crate::{ConfigError, Env, NodeKind};

/// The directory Fabric falls back to when `FABRIC_CFG_PATH` is unset.
pub const OFFICIAL_CONFIG_DIR: &str = "/etc/hyperledger/fabric";

/// The extensions viper (peer) tries, in its order.
const PEER_EXTENSIONS: &[&str] = &[
    "json",
    "toml",
    "yaml",
    "yml",
    "properties",
    "props",
    "prop",
    "hcl",
    "dotenv",
    "env",
    "ini",
];
/// The extensions viperutil (orderer) tries, in its order.
const ORDERER_EXTENSIONS: &[&str] = &["yaml", "yml"];

/// The file name without extension that a node looks for.
pub fn config_stem(node: NodeKind) -> &'static str {
    match node {
        NodeKind::Peer => "core",
        NodeKind::Orderer => "orderer",
    }
}

/// Finds the configuration file for `node`, resolving relative directories against `cwd`.
pub fn find_config_file(node: NodeKind, env: &Env, cwd: &Path) -> Result<PathBuf, ConfigError> {
    find_in(node, env, cwd, Path::new(OFFICIAL_CONFIG_DIR))
}

pub(crate) fn find_in(
    node: NodeKind,
    env: &Env,
    cwd: &Path,
    official: &Path,
) -> Result<PathBuf, ConfigError> {
    let stem = config_stem(node);
    let cfg_path = env.get("FABRIC_CFG_PATH").map(|p| cwd.join(p));
    let dirs: Vec<PathBuf> = match (node, cfg_path) {
        (NodeKind::Peer, Some(dir)) if !dir.is_dir() => {
            return Err(ConfigError::CfgPathNotADirectory {
                path: dir,
                file_name: "core.yaml",
            });
        }
        (NodeKind::Peer, Some(dir)) => vec![dir],
        (NodeKind::Peer, None) => std::iter::once(cwd.to_path_buf())
            .chain(official.is_dir().then(|| official.to_path_buf()))
            .collect(),
        (NodeKind::Orderer, dir) => dir
            .into_iter()
            .chain([cwd.to_path_buf(), official.to_path_buf()])
            .collect(),
    };
    let extensions = match node {
        NodeKind::Peer => PEER_EXTENSIONS,
        NodeKind::Orderer => ORDERER_EXTENSIONS,
    };
    for dir in &dirs {
        for ext in extensions {
            let candidate = dir.join(format!("{stem}.{ext}"));
            if candidate.is_file() {
                // JSON is read as the YAML subset it is; viper's other formats are not supported.
                return match *ext {
                    "yaml" | "yml" | "json" => Ok(candidate),
                    _ => Err(ConfigError::UnsupportedFormat {
                        path: candidate,
                        stem,
                    }),
                };
            }
        }
    }
    Err(ConfigError::NotFound {
        stem,
        searched: dirs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn touch(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, "").unwrap();
        p
    }

    #[test]
    fn peer_uses_only_fabric_cfg_path_when_set() {
        let cwd = tempfile::tempdir().unwrap();
        let cfg = tempfile::tempdir().unwrap();
        touch(cwd.path(), "core.yaml");
        let env = Env::from_pairs([("FABRIC_CFG_PATH", cfg.path().to_str().unwrap())]);
        let err = find_in(NodeKind::Peer, &env, cwd.path(), Path::new("/nonexistent")).unwrap_err();
        assert!(
            matches!(err, ConfigError::NotFound { ref searched, .. } if searched == &[cfg.path().to_path_buf()])
        );
        let want = touch(cfg.path(), "core.yaml");
        assert_eq!(
            find_in(NodeKind::Peer, &env, cwd.path(), Path::new("/nonexistent")).unwrap(),
            want
        );
    }

    #[test]
    fn peer_rejects_missing_fabric_cfg_path_but_orderer_falls_back() {
        // Mirrors InitViper's "FABRIC_CFG_PATH %s does not exist" versus viperutil.ConfigPaths.
        let cwd = tempfile::tempdir().unwrap();
        let env = Env::from_pairs([("FABRIC_CFG_PATH", "/no/such/dir")]);
        let official = Path::new("/nonexistent");
        assert!(matches!(
            find_in(NodeKind::Peer, &env, cwd.path(), official),
            Err(ConfigError::CfgPathNotADirectory { .. })
        ));
        let want = touch(cwd.path(), "orderer.yml");
        assert_eq!(
            find_in(NodeKind::Orderer, &env, cwd.path(), official).unwrap(),
            want
        );
    }

    #[test]
    fn unset_path_searches_cwd_then_official_dir() {
        let cwd = tempfile::tempdir().unwrap();
        let official = tempfile::tempdir().unwrap();
        let env = Env::default();
        let want = touch(official.path(), "orderer.yaml");
        assert_eq!(
            find_in(NodeKind::Orderer, &env, cwd.path(), official.path()).unwrap(),
            want
        );
        touch(official.path(), "core.yaml");
        let local = touch(cwd.path(), "core.yaml");
        assert_eq!(
            find_in(NodeKind::Peer, &env, cwd.path(), official.path()).unwrap(),
            local
        );
    }

    #[test]
    fn peer_reports_a_file_viper_would_prefer_over_yaml() {
        let cwd = tempfile::tempdir().unwrap();
        touch(cwd.path(), "core.yaml");
        touch(cwd.path(), "core.toml");
        let err =
            find_in(NodeKind::Peer, &Env::default(), cwd.path(), Path::new("/x")).unwrap_err();
        assert!(
            matches!(err, ConfigError::UnsupportedFormat { .. }),
            "{err}"
        );
    }
}
