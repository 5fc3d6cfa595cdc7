//! A Weft peer in a channel ordered by an upstream Fabric 2.5.9 orderer, beside a Go peer of
//! the same org: upstream `peer channel join`, `list`, `getinfo` and `fetch` against the Weft
//! peer, and the Weft peer pulls the very blocks the Go peer commits.

use fabric_protos::common::{Block, BlockMetadataIndex};
use prost::Message;
use weft_interop_tests::Network;

use crate::support::{CHANNEL, GO_PEER, WEFT_PEER, approve, header_hash, start_network};

fn getinfo_json(network: &Network, peer: &str) -> serde_json::Value {
    let output = network
        .peer_cli(peer, &["channel", "getinfo", "-c", CHANNEL])
        .unwrap_or_else(|e| panic!("{e}"));
    let json = &output.stdout[output.stdout.find('{').unwrap()..];
    serde_json::from_str(json.trim()).unwrap()
}

fn fetch(network: &Network, peer: &str, position: &str) -> Block {
    let file = network
        .work_dir()
        .join(format!("fetch-{peer}-{position}.block"));
    let file_arg = file.display().to_string();
    network
        .peer_cli(
            peer,
            &["channel", "fetch", position, &file_arg, "-c", CHANNEL],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    Block::decode(std::fs::read(&file).unwrap().as_slice()).unwrap()
}

// Fabric: `peer channel join -b` runs cscc JoinChain, `peer channel list` cscc GetChannels,
// `peer channel getinfo` qscc GetChainInfo, `peer channel fetch` the peer's Deliver service.
#[test]
fn upstream_cli_joins_lists_queries_and_fetches_from_a_weft_peer() {
    let network = start_network();
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));

    let list = network
        .peer_cli(WEFT_PEER, &["channel", "list"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        list.stdout.lines().any(|l| l.trim() == CHANNEL),
        "{}",
        list.stdout
    );

    // Joining again fails as on a Go peer.
    let genesis = network.genesis_block().display().to_string();
    let again = network
        .peer_cli_command(WEFT_PEER, &["channel", "join", "-b", &genesis])
        .unwrap()
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // Blocks ordered after the join reach the Weft peer through its own deliver client.
    approve(&network, GO_PEER, "weftcc", 1);
    approve(&network, GO_PEER, "othercc", 1);
    network.wait_for_height(GO_PEER, 3).unwrap();
    network.wait_for_height(WEFT_PEER, 3).unwrap();

    let go_info = getinfo_json(&network, GO_PEER);
    let weft_info = getinfo_json(&network, WEFT_PEER);
    assert_eq!(weft_info["height"], go_info["height"]);
    assert_eq!(weft_info["currentBlockHash"], go_info["currentBlockHash"]);
    assert_eq!(weft_info["previousBlockHash"], go_info["previousBlockHash"]);

    // The same blocks, metadata included: orderer signatures, the TRANSACTIONS_FILTER the
    // Weft committer wrote and its COMMIT_HASH (from block 1 on) equal the Go peer's.
    for number in 0..3u64 {
        let go = network.fetch_block(GO_PEER, number).unwrap();
        let weft = network.fetch_block(WEFT_PEER, number).unwrap();
        assert_eq!(header_hash(&weft), header_hash(&go), "block {number}");
        let (go_metadata, weft_metadata) =
            (go.metadata.clone().unwrap(), weft.metadata.clone().unwrap());
        assert_eq!(
            weft_metadata.metadata[BlockMetadataIndex::TransactionsFilter as usize],
            go_metadata.metadata[BlockMetadataIndex::TransactionsFilter as usize],
            "TRANSACTIONS_FILTER of block {number}"
        );
        assert_eq!(
            weft_metadata
                .metadata
                .get(BlockMetadataIndex::CommitHash as usize),
            go_metadata
                .metadata
                .get(BlockMetadataIndex::CommitHash as usize),
            "COMMIT_HASH of block {number}"
        );
        assert_eq!(weft, go, "block {number}");
    }

    let newest = fetch(&network, WEFT_PEER, "newest");
    assert_eq!(newest.header.as_ref().unwrap().number, 2);
    let oldest = fetch(&network, WEFT_PEER, "oldest");
    assert_eq!(oldest.header.as_ref().unwrap().number, 0);
    let config = fetch(&network, WEFT_PEER, "config");
    assert_eq!(config.header.as_ref().unwrap().number, 0);
    assert_eq!(header_hash(&config), header_hash(&oldest));
}
