//! Fault tests on three Weft `orderer` processes (channel made by upstream 2.5.9
//! `configtxgen`, joined with upstream `osnadmin`): the Raft leader is SIGKILLed under load and
//! later restarted; a follower is cut off (SIGSTOP) while the others order, then resumed.
//!
//! What Fabric's etcdraft guarantees, and what is checked: survivors elect a new leader once
//! their (randomised) election timeout passes and ordering resumes; a restarted or resumed
//! node catches up; every node holds the same block at every height; no block any node wrote
//! is lost. Broadcast's SUCCESS means "accepted for ordering" in Fabric, not "committed": an
//! envelope the dead leader held in its block cutter, or that a follower forwarded to it, is
//! lost and its client resubmits after its commit wait runs out (the peer CLI and the
//! gateway do). So the leader-kill test checks that envelopes acknowledged outside the
//! window around the crash were ordered as sent, and that resubmitting the few acknowledged
//! inside it gets every acknowledged envelope into the chain.
//! Fails, never skips, when the upstream binaries are missing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fabric_protos::common::{Block, Status};
use weft_interop_tests::OrdererNode;

use crate::cluster_support::{
    Cluster, ELECTION_TIMEOUT_MAX, POLL, broadcast, linked_hashes, signal, tx_ids,
};

/// Envelopes the load client sends in the leader-kill test.
const LOAD_ENVELOPES: usize = 240;
/// Acknowledged envelopes before the leader is killed.
const KILL_AFTER_ACKS: usize = 80;
/// Pause between two envelopes of the load client.
const LOAD_PAUSE: Duration = Duration::from_millis(20);
/// Attempts per envelope (each on the next orderer) before the load client gives up on it.
const ATTEMPTS_PER_ENVELOPE: usize = 40;
/// Wait between two attempts after a failure or a refusal.
const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// The harness channel's BatchTimeout.
const BATCH_TIMEOUT: Duration = Duration::from_millis(250);
/// Slack for process scheduling and metric polling on a loaded two-core machine.
const SLACK: Duration = Duration::from_secs(2);
/// How long nodes may take to converge after a fault is healed.
const CONVERGE_DEADLINE: Duration = Duration::from_secs(90);
/// How long a load run may take at most.
const LOAD_DEADLINE: Duration = Duration::from_secs(120);

/// An envelope some orderer answered SUCCESS to, and when.
#[derive(Debug, Clone)]
struct Ack {
    tx_id: String,
    at: Instant,
}

/// Sends envelopes `prefix-0..count` one after the other, spreading them over `targets`
/// (moving to the next orderer when one fails or refuses); returns the acknowledged ones.
fn run_load(
    cluster: &Cluster,
    targets: &[OrdererNode],
    prefix: &str,
    count: usize,
    acked: &Mutex<Vec<Ack>>,
    progress: &AtomicUsize,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    runtime.block_on(async {
        for seq in 0..count {
            let tx_id = format!("{prefix}-{seq}");
            let envelope = cluster.envelope(&tx_id);
            for attempt in 0..ATTEMPTS_PER_ENVELOPE {
                assert!(started.elapsed() < LOAD_DEADLINE, "load run overran");
                let target = &targets[(seq + attempt) % targets.len()];
                if broadcast(target, envelope.clone()).await == Some(Status::Success) {
                    acked.lock().unwrap().push(Ack {
                        tx_id: tx_id.clone(),
                        at: Instant::now(),
                    });
                    progress.fetch_add(1, Ordering::Release);
                    break;
                }
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            tokio::time::sleep(LOAD_PAUSE).await;
        }
    });
}

/// Waits until every orderer holds the same height, at least `at_least`, and no block came
/// for a second (the load's last batch is cut); returns that height.
fn settled_height(cluster: &Cluster, orderers: &[OrdererNode], at_least: u64) -> u64 {
    let started = Instant::now();
    let mut height = cluster.wait_for_equal_heights(orderers, at_least, CONVERGE_DEADLINE);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let again = cluster.wait_for_equal_heights(orderers, height, CONVERGE_DEADLINE);
        if again == height {
            return height;
        }
        assert!(
            started.elapsed() < CONVERGE_DEADLINE,
            "heights never settled"
        );
        height = again;
    }
}

/// Every orderer's chain, checked to be linked and identical (same header hash at every
/// height, same data); returns the chain.
fn identical_chains(cluster: &Cluster, orderers: &[OrdererNode]) -> Vec<Block> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let chains: Vec<Vec<Block>> = orderers
        .iter()
        .map(|o| runtime.block_on(cluster.chain_of(o)))
        .collect();
    let reference = linked_hashes(&chains[0]);
    for (orderer, chain) in orderers.iter().zip(&chains).skip(1) {
        let hashes = linked_hashes(chain);
        assert_eq!(hashes.len(), reference.len(), "{} height", orderer.name);
        for (n, (mine, theirs)) in hashes.iter().zip(&reference).enumerate() {
            assert_eq!(mine, theirs, "{} differs at block {n}", orderer.name);
        }
        for (mine, theirs) in chain.iter().zip(&chains[0]) {
            assert_eq!(mine.data, theirs.data, "{}", orderer.name);
        }
    }
    chains.into_iter().next().unwrap()
}

/// How often each transaction id occurs in `chain`.
fn occurrences(chain: &[Block]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for block in chain {
        for id in tx_ids(block) {
            *seen.entry(id).or_insert(0) += 1;
        }
    }
    seen
}

// Mirrors Fabric's etcdraft under a leader crash: a new leader after the election timeout,
// ordering resumes, the crashed node catches up on restart, one chain everywhere.
#[test]
fn upstream_leader_killed_under_load_is_replaced_and_catches_up() {
    let cluster = Cluster::start("leaderkill", 3, None);
    cluster.join_all();
    let orderers = cluster.orderers();
    let leader = cluster
        .wait_for_leader(&orderers, Duration::from_secs(60))
        .expect("the cluster elected no leader");
    let victim = orderers[leader].clone();
    let survivors: Vec<OrdererNode> = orderers
        .iter()
        .filter(|o| o.name != victim.name)
        .cloned()
        .collect();

    let acked = Arc::new(Mutex::new(Vec::new()));
    let progress = Arc::new(AtomicUsize::new(0));
    let load_done = Arc::new(AtomicBool::new(false));
    std::thread::scope(|scope| {
        let (acked_l, progress_l, done_l, cluster_l, targets) = (
            acked.clone(),
            progress.clone(),
            load_done.clone(),
            &cluster,
            orderers.clone(),
        );
        let load = scope.spawn(move || {
            run_load(
                cluster_l,
                &targets,
                "load",
                LOAD_ENVELOPES,
                &acked_l,
                &progress_l,
            );
            done_l.store(true, Ordering::Release);
        });

        let started = Instant::now();
        while progress.load(Ordering::Acquire) < KILL_AFTER_ACKS {
            assert!(
                started.elapsed() < LOAD_DEADLINE,
                "the load never got going"
            );
            assert!(!load_done.load(Ordering::Acquire), "the load ended early");
            std::thread::sleep(POLL);
        }
        // The blocks the leader has written so far: none of them may ever be lost.
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let written_before_kill = runtime.block_on(cluster.chain_of(&victim));
        let height_at_kill = survivors
            .iter()
            .filter_map(|o| cluster.height(o))
            .max()
            .unwrap();
        signal(cluster.pid(&victim), "KILL");
        let killed_at = Instant::now();

        let new_leader = cluster
            .wait_for_leader(&survivors, ELECTION_TIMEOUT_MAX + SLACK)
            .unwrap_or_else(|| {
                panic!(
                    "no survivor leads {:?} after the leader died",
                    ELECTION_TIMEOUT_MAX + SLACK
                )
            });
        let elected_after = killed_at.elapsed();
        let new_leader = survivors[new_leader].clone();
        let resume_limit = ELECTION_TIMEOUT_MAX + BATCH_TIMEOUT + SLACK;
        let started = Instant::now();
        while cluster.height(&new_leader).unwrap_or(0) <= height_at_kill {
            assert!(
                started.elapsed() < resume_limit,
                "ordering did not resume within {resume_limit:?} of the election"
            );
            std::thread::sleep(POLL);
        }
        let resumed_after = killed_at.elapsed();
        eprintln!(
            "leader {} killed at height {height_at_kill}: {} elected after {elected_after:?}, first new block after {resumed_after:?}",
            victim.name, new_leader.name
        );
        load.join().unwrap();

        // The crashed node comes back on its WAL and ledger and catches up.
        let _restarted = cluster.restart(&victim);
        let survivors_height = settled_height(&cluster, &survivors, 0);
        settled_height(&cluster, &orderers, survivors_height);
        let chain = identical_chains(&cluster, &orderers);
        for (n, block) in written_before_kill.iter().enumerate() {
            assert_eq!(
                block.header, chain[n].header,
                "block {n} written before the crash was lost or replaced"
            );
        }

        // Acknowledged envelopes outside the crash window were ordered without any help.
        let acks = acked.lock().unwrap().clone();
        let window_start = killed_at - BATCH_TIMEOUT - SLACK;
        let window_end = killed_at + elected_after + SLACK;
        let seen = occurrences(&chain);
        let missing: Vec<&Ack> = acks
            .iter()
            .filter(|a| !seen.contains_key(&a.tx_id))
            .collect();
        for ack in &missing {
            assert!(
                ack.at >= window_start && ack.at <= window_end,
                "{} was acknowledged {:?} from the crash, outside the window, and never ordered",
                ack.tx_id,
                if ack.at < killed_at {
                    killed_at - ack.at
                } else {
                    ack.at - killed_at
                }
            );
        }
        eprintln!(
            "{} envelopes acknowledged, {} lost in the crash window and resubmitted",
            acks.len(),
            missing.len()
        );
        assert!(
            acks.len() >= LOAD_ENVELOPES * 9 / 10,
            "too few acknowledged"
        );

        // As a Fabric client whose commit wait ran out: resubmit, then everything is there.
        runtime.block_on(async {
            for ack in &missing {
                let status = broadcast(&new_leader, cluster.envelope(&ack.tx_id)).await;
                assert_eq!(status, Some(Status::Success), "resubmit of {}", ack.tx_id);
            }
        });
        let height = cluster.height(&new_leader).unwrap();
        let expected = if missing.is_empty() {
            height
        } else {
            height + 1
        };
        settled_height(&cluster, &orderers, expected);
        let chain = identical_chains(&cluster, &orderers);
        let seen = occurrences(&chain);
        for ack in &acks {
            assert!(seen.contains_key(&ack.tx_id), "{} never ordered", ack.tx_id);
        }
    });
}

// Mirrors Fabric's etcdraft with a partitioned follower: the majority keeps ordering, the
// follower (PreVote on) does not depose the leader when it comes back, and catches up.
#[test]
fn upstream_partitioned_follower_catches_up_after_restore() {
    let cluster = Cluster::start("partition", 3, None);
    cluster.join_all();
    let orderers = cluster.orderers();
    let leader = cluster
        .wait_for_leader(&orderers, Duration::from_secs(60))
        .expect("the cluster elected no leader");
    let leader = orderers[leader].clone();
    let follower = orderers
        .iter()
        .find(|o| o.name != leader.name)
        .unwrap()
        .clone();
    let majority: Vec<OrdererNode> = orderers
        .iter()
        .filter(|o| o.name != follower.name)
        .cloned()
        .collect();

    let acked = Mutex::new(Vec::new());
    let progress = AtomicUsize::new(0);
    run_load(&cluster, &orderers, "before", 10, &acked, &progress);
    let before = settled_height(&cluster, &orderers, 2);

    let pid = cluster.pid(&follower);
    signal(pid, "STOP");
    let cut_at = Instant::now();
    run_load(&cluster, &majority, "during", 60, &acked, &progress);
    let during = cluster.wait_for_equal_heights(&majority, before + 1, CONVERGE_DEADLINE);
    assert_eq!(
        cluster.height(&follower),
        None,
        "a stopped process answered"
    );
    // Stay cut off for longer than any election timeout of the follower.
    if let Some(rest) = (ELECTION_TIMEOUT_MAX + SLACK).checked_sub(cut_at.elapsed()) {
        std::thread::sleep(rest);
    }
    signal(pid, "CONT");

    let after = settled_height(&cluster, &orderers, during);
    assert!(
        cluster.leads(&leader),
        "the restored follower deposed the leader"
    );
    let acks = acked.lock().unwrap().clone();
    assert_eq!(acks.len(), 70, "every envelope was acknowledged");
    let chain = identical_chains(&cluster, &orderers);
    assert_eq!(chain.len() as u64, after);
    let seen = occurrences(&chain);
    let ordered: BTreeSet<&String> = acks.iter().map(|a| &a.tx_id).collect();
    for id in &ordered {
        assert_eq!(seen.get(*id), Some(&1), "{id} ordered once");
    }
    eprintln!(
        "follower {} cut off at height {before}, majority reached {during}, all at {after}",
        follower.name
    );
}

/// The harness's raft WAL segment of `orderer` (Consensus.WALDir, one shared segment).
fn wal_segment(orderer: &OrdererNode) -> std::path::PathBuf {
    orderer
        .data_dir
        .join("etcdraft")
        .join("wal")
        .join(weft_orderer_raft::wal::SEGMENT_FILE_NAME)
}

/// `channel`'s raft log as `orderer`'s WAL holds it now, replayed from a copy (the orderer may
/// be writing to it).
fn wal_log(orderer: &OrdererNode, channel: &str) -> weft_orderer_raft::ChannelLog {
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(
        wal_segment(orderer),
        copy.path().join(weft_orderer_raft::wal::SEGMENT_FILE_NAME),
    )
    .unwrap();
    let (_wal, mut logs, _) = weft_orderer_raft::SharedWal::open(copy.path()).unwrap();
    logs.remove(channel)
        .unwrap_or_else(|| panic!("{} has no raft log of {channel}", orderer.name))
}

// Mirrors Fabric's etcdraft snapshots: with a small SnapshotIntervalSize the leader snapshots
// (the snapshot holds the last block) and compacts its log and WAL; a follower that was down
// meanwhile gets the snapshot, pulls the missing blocks from the other orderers over Deliver,
// verifies them, and continues from the raft log after it.
#[test]
fn upstream_node_restarted_behind_a_snapshot_pulls_the_blocks_it_missed() {
    let cluster = Cluster::start("snapcatchup", 3, Some("4 KB"));
    cluster.join_all();
    let orderers = cluster.orderers();
    let leader = cluster
        .wait_for_leader(&orderers, Duration::from_secs(60))
        .expect("the cluster elected no leader");
    let leader = orderers[leader].clone();
    let follower = orderers
        .iter()
        .find(|o| o.name != leader.name)
        .unwrap()
        .clone();
    let majority: Vec<OrdererNode> = orderers
        .iter()
        .filter(|o| o.name != follower.name)
        .cloned()
        .collect();

    let acked = Mutex::new(Vec::new());
    let progress = AtomicUsize::new(0);
    run_load(&cluster, &orderers, "before", 5, &acked, &progress);
    let before = settled_height(&cluster, &orderers, 2);

    signal(cluster.pid(&follower), "KILL");
    run_load(&cluster, &majority, "missed", 80, &acked, &progress);
    let moved_on = settled_height(&cluster, &majority, before + 4);
    let leader_log = std::fs::read_to_string(&leader.log).unwrap();
    assert!(
        leader_log.contains("raft snapshot taken"),
        "the leader never took a snapshot"
    );
    // Without compaction the WAL would hold every block as a raft entry.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let written: usize = runtime
        .block_on(cluster.chain_of(&leader))
        .iter()
        .map(prost::Message::encoded_len)
        .sum();
    let wal_bytes = std::fs::metadata(wal_segment(&leader)).unwrap().len() as usize;
    assert!(
        wal_bytes < written / 2,
        "the leader's WAL holds {wal_bytes} bytes for {written} bytes of blocks"
    );

    // What the test is about: the follower's log ends before the first entry the leader still
    // keeps (the snapshot index less the catch-up entries), so raft can only catch it up with
    // the snapshot. Had the follower received more before it died, this says so rather than
    // the catch-up check below.
    let follower_last = wal_log(&follower, &cluster.channel).last_index();
    let leader_snapshot = wal_log(&leader, &cluster.channel)
        .latest_snapshot()
        .get_metadata()
        .index;
    assert!(
        follower_last + weft_orderer_raft::log::SNAPSHOT_CATCHUP_ENTRIES < leader_snapshot,
        "the follower's log reaches raft index {follower_last}, within what the leader keeps behind its snapshot at {leader_snapshot}"
    );

    let _restarted = cluster.restart(&follower);
    let after = cluster.wait_for_equal_heights(&orderers, moved_on, CONVERGE_DEADLINE);
    let follower_log = std::fs::read_to_string(&follower.log).unwrap();
    assert!(
        follower_log.contains("caught up with the raft snapshot"),
        "the follower did not catch up through a snapshot"
    );
    // Ordering goes on with the caught-up node in the group.
    run_load(&cluster, &orderers, "after", 6, &acked, &progress);
    let last = settled_height(&cluster, &orderers, after + 1);
    let chain = identical_chains(&cluster, &orderers);
    assert_eq!(chain.len() as u64, last);
    let seen = occurrences(&chain);
    let acks = acked.lock().unwrap().clone();
    assert_eq!(acks.len(), 91, "every envelope was acknowledged");
    for ack in &acks {
        assert_eq!(seen.get(&ack.tx_id), Some(&1), "{} ordered once", ack.tx_id);
    }
    eprintln!(
        "follower {} down from height {before} (raft index {follower_last}); cluster moved to {moved_on} (leader snapshot at raft index {leader_snapshot}, WAL {wal_bytes} bytes for {written} bytes of blocks); all at {last}",
        follower.name
    );
}
