//! The client scripts that judge Weft's local network, first run against upstream Fabric 2.5.9
//! (Go orderer and peers, the same `basic` contract as chaincode-as-a-service): the tutorial-style
//! @hyperledger/fabric-gateway application and the fabric-network 2.2 application with discovery.
//! A script that fails here is wrong, not Weft.

use std::process::Command;

use weft_interop_tests::{ContractKind, Network, Topology, UpstreamToolchain, repo_root};

fn run_script(script: &str, network: &Network) -> String {
    let peer = network.peer("peer0.org1.example.com").unwrap();
    let org_dir = peer
        .crypto_dir
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let out = Command::new("node")
        .arg(repo_root().join("interop-tests/node").join(script))
        .env(
            "NODE_PATH",
            crate::support::node_modules(&["@hyperledger/fabric-gateway", "fabric-network"]),
        )
        .env("CRYPTO_PATH", org_dir)
        .env("PEER_ENDPOINT", format!("localhost:{}", peer.listen.port()))
        .env("CHANNEL_NAME", network.channel())
        .output()
        .expect("running node (Node.js 18+ must be on PATH)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("*** all checks passed"),
        "{script} failed against upstream Fabric:\n{text}"
    );
    text
}

#[test]
fn client_scripts_pass_against_upstream_fabric() {
    let toolchain = UpstreamToolchain::locate("2.5.9").unwrap();
    let topology = Topology::new("mychannel", &toolchain)
        .peer_org("Org1", 1)
        .peer_org("Org2", 1);
    let mut network = Network::start(topology, &toolchain).unwrap();
    network.join_channel().unwrap();
    network.deploy_ccaas("basic", ContractKind::Basic).unwrap();
    // Go peers learn the other org's peer through gossip a few seconds after joining; the
    // gateway script's first submit needs both orgs. Retry the whole script a bounded number of times.
    let mut last = String::new();
    for _ in 0..10 {
        match std::panic::catch_unwind(|| run_script("asset-transfer-basic.js", &network)) {
            Ok(_) => {
                last.clear();
                break;
            }
            Err(e) => {
                last = e.downcast_ref::<String>().cloned().unwrap_or_default();
                std::thread::sleep(std::time::Duration::from_secs(3));
            }
        }
    }
    assert!(last.is_empty(), "{last}");
    run_script("fabric-network-basic.js", &network);
}
