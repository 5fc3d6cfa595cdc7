#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests of the consensus core on a simulated network. Time advances only by
//! explicit ticks; no test sleeps.

mod sim;

use sim::{Cluster, channels};
use weft_orderer_raft::wal::SEGMENT_FILE_NAME;
use weft_orderer_raft::{ChainOptions, RaftError};

const CH: &str = "mychannel";

fn one_channel() -> Vec<String> {
    vec![CH.to_string()]
}

fn propose_all(cluster: &mut Cluster, leader: u64, prefix: &str, n: usize) -> Vec<Vec<u8>> {
    let mut sent = Vec::new();
    for i in 0..n {
        let data = format!("{prefix}-{i}").into_bytes();
        cluster.propose(leader, CH, &data).unwrap();
        sent.push(data);
    }
    sent
}

#[test]
fn leader_elected_in_3_and_5_node_clusters() {
    for size in [3, 5] {
        let mut cluster = Cluster::new(size, &one_channel(), None);
        let ids = cluster.ids.clone();
        let leader = cluster.elect(CH, &ids);
        assert!(ids.contains(&leader));
        let term = cluster.node(leader).chain(CH).unwrap().term();
        for id in &ids {
            assert_eq!(cluster.node(*id).chain(CH).unwrap().term(), term);
        }
    }
}

// Fabric etcdraft: followers do not propose; the submit is forwarded to the leader they name.
#[test]
fn follower_refuses_proposal_and_names_the_leader() {
    let mut cluster = Cluster::new(3, &one_channel(), None);
    let leader = cluster.elect(CH, &[1, 2, 3]);
    let follower = cluster
        .ids
        .iter()
        .copied()
        .find(|id| *id != leader)
        .unwrap();
    match cluster.propose(follower, CH, b"tx") {
        Err(RaftError::NotLeader { leader: named, .. }) => assert_eq!(named, Some(leader)),
        other => panic!("expected NotLeader, got {other:?}"),
    }
}

#[test]
fn proposals_commit_in_the_same_order_on_every_node() {
    for size in [3, 5] {
        let mut cluster = Cluster::new(size, &one_channel(), None);
        let ids = cluster.ids.clone();
        let leader = cluster.elect(CH, &ids);
        let sent = propose_all(&mut cluster, leader, "block", 25);
        for id in &ids {
            let ledger = cluster.ledger(*id, CH);
            assert_eq!(ledger.blocks, sent, "node {id}");
            // Fabric: each block records the raft index of its entry (BlockMetadata.raft_index).
            assert_eq!(
                ledger.last_raft_index,
                cluster.node(*id).chain(CH).unwrap().applied_index()
            );
        }
    }
}

#[test]
fn isolated_leader_is_replaced_and_its_uncommitted_proposals_are_dropped() {
    for size in [3, 5] {
        let mut cluster = Cluster::new(size, &one_channel(), None);
        let ids = cluster.ids.clone();
        let old = cluster.elect(CH, &ids);
        let before = propose_all(&mut cluster, old, "before", 3);

        cluster.isolate(old);
        // The isolated leader still believes it leads and accepts these, but cannot commit them.
        for i in 0..3 {
            cluster
                .propose(old, CH, format!("lost-{i}").as_bytes())
                .unwrap();
        }
        let rest: Vec<u64> = ids.iter().copied().filter(|id| *id != old).collect();
        let new = cluster.elect(CH, &rest);
        assert_ne!(new, old);
        // CheckQuorum: the old leader stepped down after losing contact with a quorum.
        assert!(!cluster.node(old).chain(CH).unwrap().is_leader());
        let after = propose_all(&mut cluster, new, "after", 3);

        cluster.recover();
        cluster.ticks(30);
        let expected: Vec<Vec<u8>> = before.iter().chain(after.iter()).cloned().collect();
        for id in &ids {
            assert_eq!(
                cluster.ledger(*id, CH).blocks,
                expected,
                "node {id} of {size}"
            );
        }
        assert_eq!(cluster.leader(CH), Some(new));
    }
}

#[test]
fn partitioned_follower_catches_up_from_the_log() {
    let mut cluster = Cluster::new(5, &one_channel(), None);
    let ids = cluster.ids.clone();
    let leader = cluster.elect(CH, &ids);
    let follower = ids.iter().copied().find(|id| *id != leader).unwrap();
    let others: Vec<u64> = ids.iter().copied().filter(|id| *id != follower).collect();
    cluster.partition(&[follower], &others);
    let sent = propose_all(&mut cluster, leader, "block", 10);
    assert!(cluster.ledger(follower, CH).blocks.is_empty());
    cluster.recover();
    cluster.ticks(5);
    assert_eq!(cluster.ledger(follower, CH).blocks, sent);
    assert_eq!(cluster.ledger(follower, CH).snapshots_installed, 0);
}

// Fabric etcdraft: once the leader compacted past a lagging follower, it ships a snapshot.
#[test]
fn partitioned_follower_catches_up_from_a_snapshot() {
    let options = ChainOptions {
        snapshot_interval_bytes: 64,
        ..ChainOptions::default()
    };
    let mut cluster = Cluster::with_options(3, &one_channel(), None, options);
    let leader = cluster.elect(CH, &[1, 2, 3]);
    let follower = cluster
        .ids
        .iter()
        .copied()
        .find(|id| *id != leader)
        .unwrap();
    cluster.isolate(follower);
    let sent = propose_all(&mut cluster, leader, "a-block-of-some-size", 40);
    let leader_log = cluster.node(leader).chain(CH).unwrap().log().clone();
    assert!(leader_log.first_index() > 10, "leader compacted its log");
    assert!(leader_log.entry_count() < 40);
    cluster.recover();
    cluster.ticks(10);
    let ledger = cluster.ledger(follower, CH);
    assert!(ledger.snapshots_installed >= 1);
    assert_eq!(ledger.blocks, sent);
    // It keeps following: new blocks arrive through the log again.
    let more = propose_all(&mut cluster, leader, "later", 2);
    assert_eq!(cluster.ledger(follower, CH).blocks[sent.len()..], more[..]);
}

#[test]
fn restarted_node_recovers_its_log_from_the_wal_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::new(3, &one_channel(), Some(dir.path()));
    let leader = cluster.elect(CH, &[1, 2, 3]);
    let victim = cluster
        .ids
        .iter()
        .copied()
        .find(|id| *id != leader)
        .unwrap();
    let first = propose_all(&mut cluster, leader, "first", 10);
    let chain = cluster.node(victim).chain(CH).unwrap();
    let (last_index, term) = (chain.last_index(), chain.term());

    cluster.crash(victim);
    let second = propose_all(&mut cluster, leader, "second", 5);
    let stats = cluster.restart(victim);
    assert_eq!(stats.truncated_bytes, 0);
    let chain = cluster.node(victim).chain(CH).unwrap();
    assert_eq!(chain.last_index(), last_index);
    assert_eq!(chain.term(), term);
    assert!(chain.log().hard_state().commit >= last_index - 1);

    cluster.ticks(10);
    let expected: Vec<Vec<u8>> = first.iter().chain(second.iter()).cloned().collect();
    // No block written twice (the sim asserts raft indexes only grow) and none missing.
    assert_eq!(cluster.ledger(victim, CH).blocks, expected);
}

#[test]
fn whole_cluster_restart_resumes_from_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::new(3, &one_channel(), Some(dir.path()));
    let leader = cluster.elect(CH, &[1, 2, 3]);
    let first = propose_all(&mut cluster, leader, "first", 5);
    for id in [1, 2, 3] {
        cluster.crash(id);
    }
    for id in [1, 2, 3] {
        cluster.restart(id);
    }
    let leader = cluster.elect(CH, &[1, 2, 3]);
    let second = propose_all(&mut cluster, leader, "second", 5);
    let expected: Vec<Vec<u8>> = first.iter().chain(second.iter()).cloned().collect();
    for id in [1, 2, 3] {
        assert_eq!(cluster.ledger(id, CH).blocks, expected);
    }
}

#[test]
fn torn_wal_tail_is_truncated_and_the_node_rejoins() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::new(3, &one_channel(), Some(dir.path()));
    let leader = cluster.elect(CH, &[1, 2, 3]);
    let victim = cluster
        .ids
        .iter()
        .copied()
        .find(|id| *id != leader)
        .unwrap();
    let sent = propose_all(&mut cluster, leader, "block", 6);
    cluster.crash(victim);
    let path = cluster.wal_dir(victim).join(SEGMENT_FILE_NAME);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
    let stats = cluster.restart(victim);
    assert!(stats.truncated_bytes > 0);
    assert!(stats.truncated_bytes < bytes.len() as u64);
    assert!(cluster.node(victim).chain(CH).unwrap().last_index() > 0);
    cluster.ticks(10);
    assert_eq!(cluster.ledger(victim, CH).blocks, sent);
    let more = propose_all(&mut cluster, leader, "more", 2);
    assert_eq!(cluster.ledger(victim, CH).blocks[sent.len()..], more[..]);
}

#[test]
fn many_channels_share_one_wal_and_idle_ones_stop_ticking() {
    let dir = tempfile::tempdir().unwrap();
    let names = channels(1000);
    let options = ChainOptions {
        snapshot_interval_bytes: u64::MAX,
        ..ChainOptions::default()
    };
    let mut cluster = Cluster::with_options(3, &names, Some(dir.path()), options);
    // Every group elects a leader, then goes quiet and hibernates (split votes can delay a few).
    for _ in 0..300 {
        cluster.tick();
        if [1, 2, 3]
            .iter()
            .all(|id| cluster.node(*id).awake_count() == 0)
        {
            break;
        }
    }
    for name in &names {
        assert!(cluster.leader(name).is_some(), "{name} has no leader");
    }
    for id in [1, 2, 3] {
        assert_eq!(cluster.node(id).awake_count(), 0, "node {id}");
        let files = std::fs::read_dir(cluster.wal_dir(id)).unwrap().count();
        assert_eq!(files, 1, "one WAL for all channels");
    }

    // A few active channels: only they are ticked.
    let active = &names[..3];
    for name in active {
        let leader = cluster.leader(name).unwrap();
        cluster
            .node_mut(leader)
            .propose(name, b"tx".to_vec())
            .unwrap();
    }
    cluster.settle();
    for id in [1, 2, 3] {
        let node = cluster.node(id);
        assert_eq!(node.awake_count(), active.len());
        assert!(active.iter().all(|name| node.is_awake(name)));
        for name in active {
            assert_eq!(cluster.ledger(id, name).blocks, vec![b"tx".to_vec()]);
        }
    }
    let delivered = cluster.delivered;
    cluster.ticks(40);
    // Quiet again: the idle channels cost no messages and no ticks.
    for id in [1, 2, 3] {
        assert_eq!(cluster.node(id).awake_count(), 0);
    }
    cluster.ticks(100);
    assert!(cluster.delivered - delivered < 40 * 3 * 2 * active.len() as u64);
    let settled = cluster.delivered;
    cluster.ticks(100);
    assert_eq!(
        cluster.delivered, settled,
        "hibernated channels exchange no messages"
    );
}

// A hibernated channel whose leader died elects a new one as soon as a request wakes it.
#[test]
fn hibernated_channel_elects_a_new_leader_when_woken() {
    let mut cluster = Cluster::new(3, &one_channel(), None);
    let leader = cluster.elect(CH, &[1, 2, 3]);
    propose_all(&mut cluster, leader, "block", 2);
    cluster.ticks(40);
    assert_eq!(cluster.node(1).awake_count(), 0);
    cluster.crash(leader);
    let follower = cluster
        .ids
        .iter()
        .copied()
        .find(|id| *id != leader)
        .unwrap();
    // The submit reaches a follower, which still names the dead leader but wakes up.
    assert!(matches!(
        cluster.propose(follower, CH, b"x"),
        Err(RaftError::NotLeader { .. })
    ));
    let rest: Vec<u64> = cluster
        .ids
        .iter()
        .copied()
        .filter(|id| *id != leader)
        .collect();
    let new = cluster.elect(CH, &rest);
    assert_ne!(new, leader);
}
