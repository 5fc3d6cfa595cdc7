//! Three Weft `orderer` processes as the Raft consenters of one channel made by upstream
//! 2.5.9 `cryptogen`/`configtxgen`: joined with upstream `osnadmin`, they elect a leader over
//! the mutual-TLS `orderer.Cluster` Step service, followers forward Broadcast submits to the
//! leader (Fabric 2.5's `SubmitRequest`), and every orderer writes the same chain (equal
//! header hashes at every height), as a Fabric etcdraft cluster does.
//! Fails, never skips, when the upstream binaries are missing.

use std::time::{Duration, Instant};

use prost::Message;
use weft_interop_tests::{
    Network, NodeCommand, OrdererNode, REFERENCE_VERSION, TlsFiles, Topology, UpstreamToolchain,
};

const CHANNEL: &str = "clusterchannel";
const PEER: &str = "peer0.org1.example.com";
/// How long a submit may be retried while the cluster elects its first leader.
const SUBMIT_DEADLINE: Duration = Duration::from_secs(60);
/// How long an orderer may take to reach the expected height.
const CATCH_UP_DEADLINE: Duration = Duration::from_secs(60);

/// `peer lifecycle chaincode approveformyorg` sent to `orderer` (a new package id each time,
/// so every approval is a distinct transaction); retried until the cluster has a leader.
fn approve_through(network: &Network, orderer: &OrdererNode, package: usize) {
    let package_id = format!("weftcc_1.0:{package:064x}");
    let address = orderer.listen.to_string();
    let ca = orderer.tls_ca().display().to_string();
    let args = [
        "lifecycle",
        "chaincode",
        "approveformyorg",
        "--channelID",
        CHANNEL,
        "--name",
        "weftcc",
        "--version",
        "1.0",
        "--sequence",
        "1",
        "--package-id",
        &package_id,
        "-o",
        &address,
        "--tls",
        "--cafile",
        &ca,
    ];
    let started = Instant::now();
    loop {
        match network.peer_cli(PEER, &args) {
            Ok(output) if output.stderr.contains("committed with status (VALID)") => return,
            Ok(output) if started.elapsed() > SUBMIT_DEADLINE => {
                panic!(
                    "approval through {} failed:\n{}",
                    orderer.name, output.stderr
                )
            }
            Err(e) if started.elapsed() > SUBMIT_DEADLINE => {
                panic!("approval through {} failed: {e}", orderer.name)
            }
            _ => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// Block `number` as `orderer` serves it over Deliver (`peer channel fetch -o`).
fn fetch_from(
    network: &Network,
    orderer: &OrdererNode,
    number: u64,
) -> Option<fabric_protos::common::Block> {
    let file = network
        .work_dir()
        .join(format!("cluster-{}-{number}.block", orderer.name));
    let _ = std::fs::remove_file(&file);
    let (address, ca, number_arg, file_arg) = (
        orderer.listen.to_string(),
        orderer.tls_ca().display().to_string(),
        number.to_string(),
        file.display().to_string(),
    );
    let args = [
        "channel",
        "fetch",
        &number_arg,
        &file_arg,
        "-c",
        CHANNEL,
        "-o",
        &address,
        "--tls",
        "--cafile",
        &ca,
    ];
    network.peer_cli(PEER, &args).ok()?;
    let bytes = std::fs::read(&file).ok()?;
    fabric_protos::common::Block::decode(bytes.as_slice()).ok()
}

fn fetch_eventually(
    network: &Network,
    orderer: &OrdererNode,
    number: u64,
) -> fabric_protos::common::Block {
    let started = Instant::now();
    loop {
        if let Some(block) = fetch_from(network, orderer, number) {
            return block;
        }
        assert!(
            started.elapsed() < CATCH_UP_DEADLINE,
            "{} never served block {number}",
            orderer.name
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn upstream_three_weft_consenters_order_one_chain() {
    let toolchain = UpstreamToolchain::locate(REFERENCE_VERSION).unwrap_or_else(|e| panic!("{e}"));
    let mut topology = Topology::new(CHANNEL, &toolchain)
        .orderers(3)
        .peer_org("Org1", 1);
    topology.orderer_command = NodeCommand::new(env!("CARGO_BIN_EXE_orderer"), &[]);
    let network = Network::start(topology, &toolchain).unwrap_or_else(|e| panic!("{e}"));
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
    let orderers = network.orderers().to_vec();
    assert_eq!(orderers.len(), 3);

    // One submit through every orderer: whichever leads, the other two are followers and
    // must forward to it.
    for (i, orderer) in orderers.iter().enumerate() {
        approve_through(&network, orderer, i + 1);
    }
    let height = 1 + orderers.len() as u64;
    network
        .wait_for_height(PEER, height)
        .unwrap_or_else(|e| panic!("{e}"));

    let mut chains = Vec::new();
    for orderer in &orderers {
        let blocks: Vec<_> = (0..height)
            .map(|n| fetch_eventually(&network, orderer, n))
            .collect();
        chains.push(blocks);
    }
    let hashes = |blocks: &[fabric_protos::common::Block]| -> Vec<[u8; 32]> {
        blocks
            .iter()
            .map(|b| weft_protoutil::block_header_hash(b.header.as_ref().unwrap()))
            .collect()
    };
    let reference = hashes(&chains[0]);
    for (n, block) in chains[0].iter().enumerate().skip(1) {
        let header = block.header.as_ref().unwrap();
        assert_eq!(header.number, n as u64);
        assert_eq!(header.previous_hash, reference[n - 1].to_vec(), "block {n}");
        assert_eq!(block.data.as_ref().unwrap().data.len(), 1, "block {n}");
    }
    for (orderer, chain) in orderers.iter().zip(&chains).skip(1) {
        assert_eq!(
            hashes(chain),
            reference,
            "{} has another chain",
            orderer.name
        );
        for (mine, theirs) in chain.iter().zip(&chains[0]) {
            assert_eq!(mine.data, theirs.data, "{}", orderer.name);
        }
    }

    // Fabric's etcdraft records in every block the consenter ids of the channel (1..=n for
    // the n genesis consenters, in config order), the next id to hand out, and the raft index
    // of the entry that carried the block; every node writes the same ids.
    for (orderer, chain) in orderers.iter().zip(&chains) {
        let mut last_index = 0;
        for block in chain.iter().skip(1) {
            let number = block.header.as_ref().unwrap().number;
            let metadata = etcdraft_metadata(block);
            assert_eq!(
                metadata.consenter_ids,
                vec![1, 2, 3],
                "{} block {number}",
                orderer.name
            );
            assert_eq!(
                metadata.next_consenter_id, 4,
                "{} block {number}",
                orderer.name
            );
            assert!(
                metadata.raft_index > last_index,
                "{} block {number}: raft index {} after {last_index}",
                orderer.name,
                metadata.raft_index
            );
            last_index = metadata.raft_index;
        }
    }
}

/// The etcdraft `BlockMetadata` in a block's SIGNATURES slot (`OrdererBlockMetadata`'s
/// consenter metadata).
fn etcdraft_metadata(
    block: &fabric_protos::common::Block,
) -> fabric_protos::etcdraft::BlockMetadata {
    use fabric_protos::common::{BlockMetadataIndex, Metadata, OrdererBlockMetadata};
    let slot = &block.metadata.as_ref().unwrap().metadata[BlockMetadataIndex::Signatures as usize];
    let signatures = Metadata::decode(slot.as_slice()).unwrap();
    let orderer = OrdererBlockMetadata::decode(signatures.value.as_slice()).unwrap();
    let consenter = Metadata::decode(orderer.consenter_metadata.as_slice()).unwrap();
    fabric_protos::etcdraft::BlockMetadata::decode(consenter.value.as_slice()).unwrap()
}
