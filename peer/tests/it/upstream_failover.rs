//! Orderer failover: with three upstream Raft orderers, stopping the orderer the Weft peer
//! pulls from makes it move to another endpoint from the channel config and keep up with the
//! Go peer (Fabric's blocks provider reconnects to another orderer the same way).

use weft_interop_tests::NodeCommand;
use weft_interop_tests::{Network, REFERENCE_VERSION, TlsFiles, Topology, UpstreamToolchain};

use crate::support::{CHANNEL, GO_PEER, WEFT_PEER, header_hash};

/// The orderer addresses the Weft peer reported pulling from, in log order.
fn pulled_from(network: &Network) -> Vec<String> {
    let log = std::fs::read_to_string(&network.peer(WEFT_PEER).unwrap().log).unwrap();
    log.lines()
        .filter(|l| l.contains("pulling blocks"))
        .filter_map(|l| l.split("orderer=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn approve_via(network: &Network, orderer: &str, name: &str) {
    let orderer = network.orderer(orderer).unwrap();
    let listen = orderer.listen.to_string();
    let ca = orderer.tls_ca().display().to_string();
    let package_id =
        format!("{name}_1.0:0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000");
    let args = [
        "lifecycle",
        "chaincode",
        "approveformyorg",
        "--channelID",
        CHANNEL,
        "--name",
        name,
        "--version",
        "1.0",
        "--sequence",
        "1",
        "--package-id",
        &package_id,
        "-o",
        &listen,
        "--tls",
        "--cafile",
        &ca,
    ];
    // Right after an orderer stops, the Raft cluster may still be electing a leader and refuse
    // the broadcast; retry a bounded number of times.
    let mut last_error = String::new();
    for _ in 0..BROADCAST_ATTEMPTS {
        match network.peer_cli(GO_PEER, &args) {
            Ok(output) if output.stderr.contains("committed with status (VALID)") => return,
            Ok(output) => last_error = output.stderr,
            Err(e) => last_error = e.to_string(),
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    panic!("approval of {name} never committed: {last_error}");
}

/// Attempts at ordering an approval while the orderers elect a new leader.
const BROADCAST_ATTEMPTS: usize = 15;

#[test]
fn upstream_weft_peer_fails_over_to_another_orderer() {
    let toolchain = UpstreamToolchain::locate(REFERENCE_VERSION).unwrap_or_else(|e| panic!("{e}"));
    let topology = Topology::new(CHANNEL, &toolchain)
        .orderers(3)
        .peer_org("Org1", 2)
        .node_command(
            WEFT_PEER,
            NodeCommand::new(env!("CARGO_BIN_EXE_peer"), &["node", "start"]),
        );
    let mut network = Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"));
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = network.orderers().iter().map(|o| o.name.clone()).collect();
    approve_via(&network, &names[0], "before");
    network.wait_for_height(WEFT_PEER, 2).unwrap();

    let current = pulled_from(&network).last().cloned().unwrap();
    let victim = network
        .orderers()
        .iter()
        .find(|o| o.listen.to_string() == current)
        .unwrap_or_else(|| panic!("{current} is not an orderer of the network"))
        .name
        .clone();
    network.stop_node(&victim).unwrap();
    let survivor = names.iter().find(|n| **n != victim).unwrap().clone();
    approve_via(&network, &survivor, "after1");
    approve_via(&network, &survivor, "after2");
    network.wait_for_height(GO_PEER, 4).unwrap();
    network.wait_for_height(WEFT_PEER, 4).unwrap();

    let addresses = pulled_from(&network);
    assert!(
        addresses
            .iter()
            .skip_while(|a| **a != current)
            .any(|a| *a != current),
        "the Weft peer never moved away from {current}: {addresses:?}"
    );
    for number in 0..4 {
        assert_eq!(
            header_hash(&network.fetch_block(WEFT_PEER, number).unwrap()),
            header_hash(&network.fetch_block(GO_PEER, number).unwrap()),
            "block {number}"
        );
    }
}
