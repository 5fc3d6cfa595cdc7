//! The chaincode lifecycle driven by the upstream CLI through the Weft peer: the Weft peer
//! endorses `approveformyorg` and `commit` (its `_lifecycle` simulation over committed state),
//! the upstream orderer orders them, the CLI waits for the commit on the Weft peer's
//! DeliverFiltered, and both peers commit the same blocks. The queries answer as on the Go
//! peer.

use crate::support::{CHANNEL, GO_PEER, WEFT_PEER, header_hash, start_network_with_go_env};

/// The Go peer waits this long for private data it is eligible for before committing without
/// it (Fabric's default is 60 s). The Weft peer endorses approvals whose private writes it does
/// not disseminate (Weft runs no gossip), so the Go peer always waits.
const GO_PVTDATA_PULL_RETRY: &str = "CORE_PEER_GOSSIP_PVTDATA_PULLRETRYTHRESHOLD=3s";

const PACKAGE_ID: &str =
    "lifecc_1.0:0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000";

fn lifecycle(network: &weft_interop_tests::Network, peer: &str, args: &[&str]) -> String {
    let mut all: Vec<String> = ["lifecycle", "chaincode"].map(String::from).to_vec();
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let output = network
        .peer_cli(peer, &all)
        .unwrap_or_else(|e| panic!("{peer}: {e}"));
    format!("{}{}", output.stdout, output.stderr)
}

fn definition_args(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--channelID",
        CHANNEL,
        "--name",
        "lifecc",
        "--version",
        "1.0",
        "--sequence",
        "1",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

#[test]
fn upstream_cli_runs_the_chaincode_lifecycle_through_a_weft_peer() {
    let network = start_network_with_go_env(&[GO_PVTDATA_PULL_RETRY]);
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
    let orderer = network.orderer_args();

    let mut approve = vec!["approveformyorg".to_owned()];
    approve.extend(definition_args(&["--package-id", PACKAGE_ID]));
    approve.extend(orderer.iter().cloned());
    let approve: Vec<&str> = approve.iter().map(String::as_str).collect();
    let out = lifecycle(&network, WEFT_PEER, &approve);
    assert!(out.contains("committed with status (VALID)"), "{out}");

    network.wait_for_height(GO_PEER, 2).unwrap();
    network.wait_for_height(WEFT_PEER, 2).unwrap();

    let mut readiness = vec!["checkcommitreadiness".to_owned()];
    readiness.extend(definition_args(&["--output", "json"]));
    let readiness: Vec<&str> = readiness.iter().map(String::as_str).collect();
    let go = lifecycle(&network, GO_PEER, &readiness);
    let weft = lifecycle(&network, WEFT_PEER, &readiness);
    assert!(go.contains("\"Org1MSP\": true"), "{go}");
    assert_eq!(weft, go);

    // `queryapproved` reads the org's private approval, which neither peer holds here: the
    // Weft peer keeps no transient store for the private data it endorsed, and the Go peer
    // gets none without gossip; both refuse alike.
    let queryapproved = ["queryapproved", "--channelID", CHANNEL, "--name", "lifecc"];
    for peer in [GO_PEER, WEFT_PEER] {
        let refused = network
            .peer_cli_command(
                peer,
                &["lifecycle", "chaincode"]
                    .iter()
                    .chain(&queryapproved)
                    .copied()
                    .collect::<Vec<_>>(),
            )
            .unwrap()
            .output()
            .unwrap();
        assert!(!refused.status.success(), "{peer}");
        assert!(
            String::from_utf8_lossy(&refused.stderr)
                .contains("private data matching public hash version is not available"),
            "{peer}: {}",
            String::from_utf8_lossy(&refused.stderr)
        );
    }

    let mut commit = vec!["commit".to_owned()];
    commit.extend(definition_args(&[]));
    commit.extend(orderer.iter().cloned());
    let commit: Vec<&str> = commit.iter().map(String::as_str).collect();
    let out = lifecycle(&network, WEFT_PEER, &commit);
    assert!(out.contains("committed with status (VALID)"), "{out}");
    network.wait_for_height(GO_PEER, 3).unwrap();
    network.wait_for_height(WEFT_PEER, 3).unwrap();

    let querycommitted = [
        "querycommitted",
        "--channelID",
        CHANNEL,
        "--name",
        "lifecc",
        "--output",
        "json",
    ];
    let go = lifecycle(&network, GO_PEER, &querycommitted);
    assert!(go.contains("\"sequence\": 1"), "{go}");
    assert_eq!(lifecycle(&network, WEFT_PEER, &querycommitted), go);

    for number in 0..3 {
        let go = network.fetch_block(GO_PEER, number).unwrap();
        let weft = network.fetch_block(WEFT_PEER, number).unwrap();
        assert_eq!(header_hash(&weft), header_hash(&go), "block {number}");
        assert_eq!(weft, go, "block {number}");
    }
}
