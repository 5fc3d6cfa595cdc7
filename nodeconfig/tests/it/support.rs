//! Helpers: write a small config into a temporary directory and load it.

use std::path::PathBuf;

use weft_nodeconfig::{ConfigError, Document, Env, NodeKind, Problem};

pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    pub fn doc(
        &self,
        node: NodeKind,
        yaml: &str,
        env: &[(&str, &str)],
    ) -> Result<Document, ConfigError> {
        let name = match node {
            NodeKind::Peer => "core.yaml",
            NodeKind::Orderer => "orderer.yaml",
        };
        let file = self.write(name, yaml);
        Document::load(node, &file, &Env::from_pairs(env.iter().copied()))
    }
}

/// The problems of an `Invalid` error (panics on any other outcome).
pub fn problems(result: Result<impl std::fmt::Debug, ConfigError>) -> Vec<Problem> {
    match result {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// A minimal peer file that builds (the required keys set, MSP directory relative).
pub const MINIMAL_PEER: &str = "
peer:
  address: peer0.org1:7051
  listenAddress: 0.0.0.0:7051
  fileSystemPath: /var/weft
  mspConfigPath: msp
  localMspId: Org1MSP
";
