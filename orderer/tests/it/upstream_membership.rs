//! Consenter add and remove by config update on Weft orderers, end to end as Fabric operators
//! do it: the update is made with upstream `configtxlator` and submitted with upstream `peer
//! channel update`; the added orderer is joined with upstream `osnadmin` and the config block
//! that added it (onboarding), then votes in the raft group; a removed consenter stops
//! receiving blocks while the others go on. Mirrors etcdraft: one consenter per update, ids
//! from `next_consenter_id`, the leader proposes the raft membership change once the config
//! block is written.
//! Fails, never skips, when the upstream binaries are missing.

use std::time::{Duration, Instant};

use fabric_protos::common::Status;
use weft_interop_tests::OrdererNode;

use crate::cluster_support::{
    Cluster, JOIN_DEADLINE, POLL, base64, broadcast, linked_hashes, signal, tx_ids,
};

/// Envelopes per ordering round of the test.
const ENVELOPES: usize = 8;
/// How long nodes may take to converge.
const CONVERGE_DEADLINE: Duration = Duration::from_secs(90);

fn send(cluster: &Cluster, to: &OrdererNode, prefix: &str, count: usize) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut acked = Vec::new();
    for seq in 0..count {
        let tx_id = format!("{prefix}-{seq}");
        let started = Instant::now();
        loop {
            let status = runtime.block_on(broadcast(to, cluster.envelope(&tx_id)));
            if status == Some(Status::Success) {
                acked.push(tx_id);
                break;
            }
            assert!(
                started.elapsed() < JOIN_DEADLINE,
                "{} never accepted {tx_id}: {status:?}",
                to.name
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    acked
}

fn settled(cluster: &Cluster, orderers: &[OrdererNode], at_least: u64) -> u64 {
    let mut height = cluster.wait_for_equal_heights(orderers, at_least, CONVERGE_DEADLINE);
    for _ in 0..30 {
        std::thread::sleep(Duration::from_secs(1));
        let again = cluster.wait_for_equal_heights(orderers, height, CONVERGE_DEADLINE);
        if again == height {
            return height;
        }
        height = again;
    }
    panic!("heights never settled");
}

fn consenters(config: &mut serde_json::Value) -> &mut Vec<serde_json::Value> {
    config["channel_group"]["groups"]["Orderer"]["values"]["ConsensusType"]["value"]["metadata"]
        ["consenters"]
        .as_array_mut()
        .expect("etcdraft consenters in the config")
}

fn same_endpoint(consenter: &serde_json::Value, orderer: &OrdererNode) -> bool {
    consenter["host"] == orderer.listen.ip().to_string()
        && consenter["port"] == u64::from(orderer.listen.port())
}

#[test]
fn upstream_consenter_added_by_config_update_orders_and_removed_one_stops() {
    let cluster = Cluster::start_with("membership", 4, Some(3), None);
    let orderers = cluster.orderers();
    let (genesis, added) = (orderers[..3].to_vec(), orderers[3].clone());
    for orderer in &genesis {
        let (status, body) = cluster.join(orderer, cluster.network.genesis_block());
        assert_eq!(status, 201, "{body}");
    }
    let leader = cluster
        .wait_for_leader(&genesis, Duration::from_secs(60))
        .expect("no leader");
    let leader = genesis[leader].clone();
    let mut acked = send(&cluster, &leader, "three", ENVELOPES);
    let height = settled(&cluster, &genesis, 2);

    // Add the fourth orderer as a consenter.
    let cert = std::fs::read(added.tls_cert()).unwrap();
    cluster.update_config(&leader, |config| {
        let list = consenters(config);
        let mut entry = list[0].clone();
        entry["host"] = added.listen.ip().to_string().into();
        entry["port"] = added.listen.port().into();
        entry["client_tls_cert"] = base64(&cert).into();
        entry["server_tls_cert"] = base64(&cert).into();
        list.push(entry);
    });
    let with_four = settled(&cluster, &genesis, height + 1);
    let join_block = cluster.fetch_config_block(&leader, "add-consenter");
    let (status, body) = cluster.join(&added, &join_block);
    assert_eq!(status, 201, "{body}");
    let started = Instant::now();
    while cluster
        .channel_info(&added)
        .is_none_or(|info| info["status"] != "active")
    {
        assert!(
            started.elapsed() < JOIN_DEADLINE,
            "the added node never became active"
        );
        std::thread::sleep(POLL);
    }
    acked.extend(send(&cluster, &added, "four", ENVELOPES));
    let height = settled(&cluster, &orderers, with_four + 1);

    // With four voters a quorum is three: with one original follower stopped, blocks commit
    // only because the added node acknowledges them.
    let follower = genesis
        .iter()
        .find(|o| o.name != leader.name)
        .unwrap()
        .clone();
    let rest: Vec<OrdererNode> = orderers
        .iter()
        .filter(|o| o.name != follower.name)
        .cloned()
        .collect();
    signal(cluster.pid(&follower), "STOP");
    acked.extend(send(&cluster, &leader, "quorum", ENVELOPES));
    let with_quorum = settled(&cluster, &rest, height + 1);
    signal(cluster.pid(&follower), "CONT");
    let height = settled(&cluster, &orderers, with_quorum);

    // Remove that follower: it stops receiving blocks, the other three go on.
    cluster.update_config(&leader, |config| {
        consenters(config).retain(|c| !same_endpoint(c, &follower));
    });
    let removed_at = settled(&cluster, &rest, height + 1);
    acked.extend(send(&cluster, &leader, "after", ENVELOPES));
    let last = settled(&cluster, &rest, removed_at + 1);
    std::thread::sleep(Duration::from_secs(2));
    let stale = cluster.height(&follower).unwrap();
    assert!(
        stale <= removed_at,
        "the removed consenter still receives blocks: {stale} > {removed_at}"
    );
    let log = std::fs::read_to_string(&follower.log).unwrap();
    assert!(
        log.contains("removed from the channel's consenters"),
        "the removed node did not notice"
    );
    let info = cluster.channel_info(&follower).unwrap();
    assert_eq!(info["consensusRelation"], "config-tracker", "{info}");
    assert_eq!(info["status"], "inactive", "{info}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let refused = runtime.block_on(broadcast(&follower, cluster.envelope("to-removed")));
    assert_ne!(
        refused,
        Some(Status::Success),
        "a removed consenter took an envelope"
    );

    // Restarted, it stays out: no raft group of its own, no new blocks.
    signal(cluster.pid(&follower), "KILL");
    let _restarted = cluster.restart(&follower);
    let info = cluster.channel_info(&follower).unwrap();
    assert_eq!(info["status"], "inactive", "{info}");
    acked.extend(send(&cluster, &leader, "restarted", ENVELOPES));
    let last = settled(&cluster, &rest, last + 1);
    assert_eq!(cluster.height(&follower), Some(stale));

    let chains: Vec<_> = rest
        .iter()
        .map(|o| runtime.block_on(cluster.chain_of(o)))
        .collect();
    let reference = linked_hashes(&chains[0]);
    assert_eq!(reference.len() as u64, last);
    for (orderer, chain) in rest.iter().zip(&chains) {
        assert_eq!(linked_hashes(chain), reference, "{}", orderer.name);
    }
    let removed_chain = linked_hashes(&runtime.block_on(cluster.chain_of(&follower)));
    assert_eq!(removed_chain[..], reference[..removed_chain.len()]);
    let ordered: Vec<String> = chains[0].iter().flat_map(tx_ids).collect();
    for id in &acked {
        assert_eq!(
            ordered.iter().filter(|o| *o == id).count(),
            1,
            "{id} ordered once"
        );
    }
    eprintln!(
        "added {} at height {with_four}; removed {} at {removed_at}; others at {last}",
        added.name, follower.name
    );
}
