//! Channel participation onboarding on Weft orderers (Fabric's behaviour): an orderer joined
//! with upstream `osnadmin` and a config block above 0 (fetched with upstream `peer channel
//! fetch config` after an upstream-`configtxlator` config update) reports status
//! "onboarding" while it pulls the earlier blocks from the other orderers, then "active", and
//! takes part in ordering with the same chain as the others.
//! Fails, never skips, when the upstream binaries are missing.

use std::time::{Duration, Instant};

use fabric_protos::common::Status;
use weft_interop_tests::OrdererNode;

use crate::cluster_support::{
    Cluster, JOIN_DEADLINE, POLL, broadcast, linked_hashes, signal, tx_ids,
};

/// Envelopes ordered before and after the config update the late node joins with.
const ENVELOPES: usize = 12;
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

// Mirrors Fabric's channel participation onboarding: join block number > 0, status
// "onboarding" while replicating, then "active".
#[test]
fn upstream_late_consenter_onboards_from_a_later_config_block() {
    let cluster = Cluster::start("onboarding", 3, None);
    let orderers = cluster.orderers();
    let (early, late) = (&orderers[..2], orderers[2].clone());
    // Two of the three genesis consenters are a quorum: the channel orders without the third.
    for orderer in early {
        let (status, body) = cluster.join(orderer, cluster.network.genesis_block());
        assert_eq!(status, 201, "{body}");
    }
    let mut acked = send(&cluster, &early[0], "early", ENVELOPES);
    cluster.update_config(&early[0], |config| {
        config["channel_group"]["groups"]["Orderer"]["values"]["BatchSize"]["value"]
            ["max_message_count"] = 7.into();
    });
    acked.extend(send(&cluster, &early[1], "between", ENVELOPES));
    let before_join = settled(&cluster, early, 3);
    let join_block = cluster.fetch_config_block(&early[0], "join");
    let join = block_number(&join_block);
    assert!(join > 0, "the join block is the genesis block");

    let (status, body) = cluster.join(&late, &join_block);
    assert_eq!(status, 201, "{body}");
    let joined: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(joined["status"], "onboarding", "{body}");
    assert_eq!(joined["consensusRelation"], "consenter", "{body}");
    let started = Instant::now();
    loop {
        let info = cluster.channel_info(&late);
        if info.as_ref().is_some_and(|i| i["status"] == "active") {
            break;
        }
        assert!(
            info.as_ref().is_none_or(|i| i["status"] == "onboarding"),
            "unexpected state {info:?}"
        );
        assert!(started.elapsed() < JOIN_DEADLINE, "never became active");
        std::thread::sleep(POLL);
    }

    // The late node holds the whole chain and orders with the others.
    let height = settled(&cluster, &orderers, before_join);
    acked.extend(send(&cluster, &late, "late", ENVELOPES));
    let last = settled(&cluster, &orderers, height + 1);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let chains: Vec<_> = orderers
        .iter()
        .map(|o| runtime.block_on(cluster.chain_of(o)))
        .collect();
    let reference = linked_hashes(&chains[0]);
    assert_eq!(reference.len() as u64, last);
    for (orderer, chain) in orderers.iter().zip(&chains) {
        assert_eq!(linked_hashes(chain), reference, "{}", orderer.name);
    }
    let ordered: Vec<String> = chains[0].iter().flat_map(tx_ids).collect();
    for id in &acked {
        assert_eq!(
            ordered.iter().filter(|o| *o == id).count(),
            1,
            "{id} ordered once"
        );
    }
    eprintln!(
        "late consenter joined with config block {join} at height {before_join}; all at {last}"
    );
}

/// The number of the block stored in the file at `path`.
fn block_number(path: &std::path::Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let block = <fabric_protos::common::Block as prost::Message>::decode(bytes.as_slice()).unwrap();
    block.header.unwrap().number
}

// Mirrors Fabric's pending join blocks (`pendingops/join`): an onboarding interrupted by a
// crash resumes when the orderer starts again, and the channel becomes active.
#[test]
fn upstream_onboarding_interrupted_by_a_crash_resumes_after_restart() {
    let cluster = Cluster::start("onboardcrash", 3, None);
    let orderers = cluster.orderers();
    let (early, late) = (&orderers[..2], orderers[2].clone());
    for orderer in early {
        let (status, body) = cluster.join(orderer, cluster.network.genesis_block());
        assert_eq!(status, 201, "{body}");
    }
    let mut acked = send(&cluster, &early[0], "early", ENVELOPES);
    cluster.update_config(&early[0], |config| {
        config["channel_group"]["groups"]["Orderer"]["values"]["BatchSize"]["value"]
            ["max_message_count"] = 5.into();
    });
    let before_join = settled(&cluster, early, 3);
    let join_block = cluster.fetch_config_block(&early[0], "join");
    assert!(block_number(&join_block) > 0);

    // With the channel's orderers frozen the pull cannot finish; the node crashes meanwhile.
    let frozen: Vec<u32> = early.iter().map(|o| cluster.pid(o)).collect();
    for pid in &frozen {
        signal(*pid, "STOP");
    }
    let (status, body) = cluster.join(&late, &join_block);
    let joined: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    std::thread::sleep(Duration::from_secs(1));
    let during = cluster.channel_info(&late);
    signal(cluster.pid(&late), "KILL");
    for pid in &frozen {
        signal(*pid, "CONT");
    }
    assert_eq!(status, 201, "{body}");
    assert_eq!(joined["status"], "onboarding", "{body}");
    assert!(
        during.as_ref().is_some_and(|i| i["status"] == "onboarding"),
        "{during:?}"
    );

    let _restarted = cluster.restart(&late);
    let started = Instant::now();
    while cluster
        .channel_info(&late)
        .is_none_or(|info| info["status"] != "active")
    {
        assert!(
            started.elapsed() < JOIN_DEADLINE,
            "the resumed onboarding never finished: {:?}",
            cluster.channel_info(&late)
        );
        std::thread::sleep(POLL);
    }
    acked.extend(send(&cluster, &late, "late", ENVELOPES));
    let last = settled(&cluster, &orderers, before_join + 1);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let chains: Vec<_> = orderers
        .iter()
        .map(|o| runtime.block_on(cluster.chain_of(o)))
        .collect();
    let reference = linked_hashes(&chains[0]);
    assert_eq!(reference.len() as u64, last);
    for (orderer, chain) in orderers.iter().zip(&chains) {
        assert_eq!(linked_hashes(chain), reference, "{}", orderer.name);
    }
    let ordered: Vec<String> = chains[0].iter().flat_map(tx_ids).collect();
    for id in &acked {
        assert!(ordered.contains(id), "{id} never ordered");
    }
}
