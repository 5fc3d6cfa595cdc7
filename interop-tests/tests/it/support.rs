//! Helpers shared by the interop modules that run Weft nodes or Node clients next to upstream
//! Fabric: where the built Weft binaries are, building the WASM packages, the Node modules, and
//! the two-org network with `basic` deployed on Weft or upstream nodes.

use std::path::{Path, PathBuf};
use std::process::Command;

use weft_interop_tests::{
    ContractKind, Network, NodeCommand, Topology, UpstreamToolchain, repo_root,
};

/// The debug build directory holding `bins` (the workspace build makes them before tests run).
pub fn weft_bin(bins: &[&str]) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let dir = target.join("debug");
    for bin in bins {
        assert!(
            dir.join(bin).is_file(),
            "{} is missing: build the workspace first",
            dir.join(bin).display()
        );
    }
    dir
}

/// Builds the named contracts with `scripts/build-chaincode` into `dir/chaincode` and returns it.
pub fn wasm_packages(dir: &Path, contracts: &[&str]) -> PathBuf {
    let out = dir.join("chaincode");
    let status = Command::new(repo_root().join("scripts/build-chaincode"))
        .args(contracts)
        .env("WEFT_CHAINCODE_OUT", &out)
        .status()
        .expect("running scripts/build-chaincode");
    assert!(status.success(), "scripts/build-chaincode failed");
    out
}

/// The pinned Node clients (`interop-tests/node`, or `$WEFT_NODE_MODULES`), checked to hold
/// every package in `packages`.
pub fn node_modules(packages: &[&str]) -> PathBuf {
    let dir = std::env::var_os("WEFT_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("interop-tests/node/node_modules"));
    for package in packages {
        assert!(
            dir.join(package).join("package.json").is_file(),
            "{package} is not installed in {}: run interop-tests/upstream/install.sh",
            dir.display()
        );
    }
    dir
}

/// Org1 and Org2 with one peer each and one Raft orderer on `channel`, joined, with `basic`
/// deployed: as chaincode-as-a-service on upstream nodes, or with `weft = (binaries, packages)`
/// as Weft nodes running the WASM package.
pub fn two_org_network_with_basic(
    toolchain: &UpstreamToolchain,
    channel: &str,
    weft: Option<(&Path, &Path)>,
) -> Network {
    let mut topology = Topology::new(channel, toolchain)
        .peer_org("Org1", 1)
        .peer_org("Org2", 1);
    if let Some((bin, _)) = weft {
        topology.orderer_command = NodeCommand::new(bin.join("orderer"), &[]);
        topology.peer_command = NodeCommand::new(bin.join("peer"), &["node", "start"]);
    }
    let mut network = Network::start(topology, toolchain).unwrap();
    network.join_channel().unwrap();
    let own: Vec<(String, PathBuf)> = match weft {
        Some((_, packages)) => network
            .peers()
            .iter()
            .map(|p| (p.name.clone(), packages.join("basic.tar.gz")))
            .collect(),
        None => Vec::new(),
    };
    let refs: Vec<(&str, &Path)> = own.iter().map(|(n, p)| (n.as_str(), p.as_path())).collect();
    network
        .deploy_ccaas_with("basic", ContractKind::Basic, &refs)
        .unwrap();
    network
}
