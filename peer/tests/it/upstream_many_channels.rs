//! Many channels on one Weft peer: channels made by upstream configtxgen, joined by the
//! upstream orderer (osnadmin) and by the Weft peer (`peer channel join`). An idle channel
//! must cost no thread: the peer's thread count stays flat as channels are added, every
//! channel is listed, and a block ordered on any of them is pulled and committed.

use std::time::Duration;

use weft_interop_tests::fabric_config::CHANNEL_PROFILE;
use weft_interop_tests::process::{clean_command, run_bounded};
use weft_interop_tests::{Network, TOOL_TIMEOUT};

use crate::support::{CHANNEL, GO_PEER, WEFT_PEER, approve_on, start_network};

/// Channels added on top of the harness's channel.
const EXTRA_CHANNELS: usize = 40;
/// Threads the peer may add while serving that many more channels (blocking-pool threads
/// that serve the joins linger for a few seconds).
const THREAD_GROWTH_MAX: usize = 16;

fn threads_of(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .map(|n| n.trim().parse().unwrap())
        .unwrap()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn weft_pid(network: &Network) -> u32 {
    network
        .node_pids()
        .into_iter()
        .find(|(name, _)| name == WEFT_PEER)
        .unwrap()
        .1
}

fn create_channel(network: &Network, channel: &str) {
    let block = network.work_dir().join(format!("{channel}.block"));
    let mut configtxgen = clean_command(&network.toolchain().bin("configtxgen"));
    configtxgen
        .arg("-configPath")
        .arg(network.work_dir().join("configtx"))
        .args([
            "-profile",
            CHANNEL_PROFILE,
            "-channelID",
            channel,
            "-outputBlock",
        ])
        .arg(&block);
    run_bounded(configtxgen, TOOL_TIMEOUT).unwrap();
    let block_arg = block.display().to_string();
    let orderer = network.orderers()[0].name.clone();
    let (status, body) = network
        .osnadmin(
            &orderer,
            &[
                "channel",
                "join",
                "--channelID",
                channel,
                "--config-block",
                &block_arg,
            ],
        )
        .unwrap();
    assert_eq!(status, 201, "{body}");
    network
        .peer_cli(WEFT_PEER, &["channel", "join", "-b", &block_arg])
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn upstream_idle_channels_cost_no_thread() {
    let network = start_network();
    network.join_channel().unwrap_or_else(|e| panic!("{e}"));
    let pid = weft_pid(&network);
    std::thread::sleep(Duration::from_secs(1));
    let (threads_before, rss_before) = (threads_of(pid), rss_kib(pid));

    let channels: Vec<String> = (0..EXTRA_CHANNELS).map(|i| format!("extra{i}")).collect();
    for channel in &channels {
        create_channel(&network, channel);
    }
    let list = network.peer_cli(WEFT_PEER, &["channel", "list"]).unwrap();
    for channel in channels.iter().map(String::as_str).chain([CHANNEL]) {
        assert!(
            list.stdout.lines().any(|l| l.trim() == channel),
            "{channel} missing from {}",
            list.stdout
        );
    }

    // A transaction on the last channel (which the Go peer joins to endorse it) reaches the
    // Weft peer through that channel's own puller.
    let last = channels.last().unwrap();
    let block = network
        .work_dir()
        .join(format!("{last}.block"))
        .display()
        .to_string();
    network
        .peer_cli(GO_PEER, &["channel", "join", "-b", &block])
        .unwrap_or_else(|e| panic!("{e}"));
    approve_on(&network, GO_PEER, last, "manycc");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let output = network
            .peer_cli(WEFT_PEER, &["channel", "getinfo", "-c", last])
            .unwrap();
        if output.stdout.contains("\"height\":2") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{last} stayed at {}",
            output.stdout
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for channel in channels.iter().take(EXTRA_CHANNELS - 1).step_by(8) {
        let output = network
            .peer_cli(WEFT_PEER, &["channel", "getinfo", "-c", channel])
            .unwrap();
        assert!(
            output.stdout.contains("\"height\":1"),
            "{channel}: {}",
            output.stdout
        );
    }

    std::thread::sleep(Duration::from_secs(1));
    let (threads_after, rss_after) = (threads_of(pid), rss_kib(pid));
    eprintln!(
        "Weft peer with {} channels: {threads_after} threads (was {threads_before} with 1), RSS {rss_after} KiB (was {rss_before} KiB, {:.1} KiB per added channel)",
        EXTRA_CHANNELS + 1,
        (rss_after.saturating_sub(rss_before)) as f64 / EXTRA_CHANNELS as f64
    );
    assert!(
        threads_after <= threads_before + THREAD_GROWTH_MAX,
        "threads grew from {threads_before} to {threads_after} with {EXTRA_CHANNELS} more channels"
    );
}
