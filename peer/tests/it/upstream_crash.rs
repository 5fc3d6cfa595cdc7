//! Crash recovery: the Weft peer is killed with SIGKILL at random points while it pulls and
//! stores blocks that a Go peer of the same org commits at the same time (approvals keep
//! arriving in the background). After every restart the peer must come back healthy without
//! losing a block it had reported, and at the end it must hold exactly the Go peer's chain.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use weft_interop_tests::process::{NodeProcess, clean_command};
use weft_interop_tests::readiness::healthz_ok;
use weft_interop_tests::{Network, node_env};

use crate::support::{CHANNEL, GO_PEER, WEFT_PEER, approve, header_hash, start_network};

/// How many times the Weft peer is killed.
const KILLS: usize = 24;
/// Blocks ordered before the first restart, so the first lives have a backlog to pull.
const BACKLOG_BLOCKS: u64 = 12;
/// Longest a restarted peer may take to report healthy.
const RESTART_TIMEOUT: Duration = Duration::from_secs(30);
/// Downtime after some kills, during which blocks accumulate.
const BACKLOG_PAUSE: Duration = Duration::from_millis(1500);
/// A kill lands this long (at most) after the peer started or reported healthy.
const KILL_DELAY_MAX_MS: u64 = 400;

fn random_below(bound: u64) -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(bound);
    hasher.finish() % bound.max(1)
}

fn spawn_weft_peer(network: &Network) -> NodeProcess {
    let node = network.peer(WEFT_PEER).unwrap();
    let bootstrap = network.peer(GO_PEER).unwrap();
    let env = node_env::peer_env(
        node,
        bootstrap,
        &network.node_config_dir(),
        network.toolchain().ccaas_builder(),
    );
    let mut command = clean_command(std::path::Path::new(env!("CARGO_BIN_EXE_peer")));
    command
        .args(["node", "start"])
        .envs(env)
        .current_dir(&node.data_dir);
    NodeProcess::spawn(WEFT_PEER, command, &node.log).unwrap()
}

fn wait_healthy(network: &Network, process: &mut NodeProcess) {
    let operations = network.peer(WEFT_PEER).unwrap().operations;
    let started = Instant::now();
    while !healthz_ok(operations) {
        assert!(
            process.exit_status().is_none(),
            "the Weft peer exited after a restart; see {}",
            process.log().display()
        );
        assert!(
            started.elapsed() < RESTART_TIMEOUT,
            "the Weft peer did not recover within {RESTART_TIMEOUT:?}; see {}",
            process.log().display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn upstream_weft_peer_survives_repeated_sigkill_while_pulling() {
    let mut network = start_network();
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
    network.stop_node(WEFT_PEER).unwrap();
    for i in 0..BACKLOG_BLOCKS {
        approve(&network, GO_PEER, &format!("backlog{i}"), 1);
    }

    let stop = AtomicBool::new(false);
    let approvals = AtomicU64::new(0);
    std::thread::scope(|scope| {
        // Blocks keep coming while the Weft peer is being killed.
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let n = approvals.fetch_add(1, Ordering::Relaxed);
                approve(&network, GO_PEER, &format!("live{n}"), 1);
            }
        });
        let mut reported = 1u64;
        for round in 0..KILLS {
            let mut process = spawn_weft_peer(&network);
            // Odd rounds kill during start-up and ledger recovery, even ones once serving.
            if round % 2 == 0 {
                wait_healthy(&network, &mut process);
            }
            if round % 4 == 0 {
                // Nothing the peer reported before a crash may be lost after it.
                let height = network.channel_height(WEFT_PEER).unwrap();
                assert!(
                    height >= reported,
                    "round {round}: height {height} after restart, {reported} before"
                );
                reported = height;
            }
            std::thread::sleep(Duration::from_millis(random_below(KILL_DELAY_MAX_MS)));
            drop(process); // SIGKILL and reap
            if round % 4 == 1 {
                // Let a backlog build up so the next lives commit several blocks in a row.
                std::thread::sleep(BACKLOG_PAUSE);
            }
        }
        stop.store(true, Ordering::Relaxed);
    });

    let mut process = spawn_weft_peer(&network);
    wait_healthy(&network, &mut process);
    let go_height = network.channel_height(GO_PEER).unwrap();
    assert!(
        go_height > 1 + BACKLOG_BLOCKS,
        "blocks were ordered during the kills"
    );
    network.wait_for_height(WEFT_PEER, go_height).unwrap();
    assert_eq!(network.channel_height(WEFT_PEER).unwrap(), go_height);
    for number in 0..go_height {
        let go = network.fetch_block(GO_PEER, number).unwrap();
        let weft = network.fetch_block(WEFT_PEER, number).unwrap();
        assert_eq!(header_hash(&weft), header_hash(&go), "block {number}");
        // Metadata included: TRANSACTIONS_FILTER and the COMMIT_HASH chain.
        assert_eq!(weft, go, "block {number} of {CHANNEL}");
    }
    drop(process);
}
