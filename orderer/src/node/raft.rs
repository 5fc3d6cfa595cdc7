//! The node's Raft driver: one OS thread owns `weft-orderer-raft`'s [`ConsensusNode`] with its
//! durable [`SharedWal`] (under `Consensus.WALDir`), ticks it, and hands what each channel's
//! group commits back to that channel's sequencer.
//!
//! With a [`Cluster`], raft messages travel to the other consenters over the cluster
//! service and the channel's consenter set gives the voters and this node's raft id; without
//! one, every channel is a one-member group and messages to other nodes are dropped.
//!
//! `weft-orderer-raft`'s `ConsensusNode` has one raft id for all channels: it is taken from the
//! first channel started, and a channel in which this node has another id is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use weft_orderer_raft::{
    Applied, ChainOptions, ChannelLog, ConfChange, ConfChangeType, ConsensusNode, Message,
    RaftError, SharedWal, Transport,
};

use super::cluster::Cluster;

/// Commands waiting for the driver thread.
pub const COMMAND_QUEUE_CAPACITY: usize = 4096;
/// Tick period when no channel says otherwise (configtxgen's sample `TickInterval`).
pub const DEFAULT_TICK: Duration = Duration::from_millis(500);

/// Raft id of this node in the single-consenter channels it serves (etcdraft numbers genesis
/// consenters from 1).
pub const SINGLE_CONSENTER_ID: u64 = 1;

enum Command {
    Start {
        channel: String,
        options: ChainOptions,
        block_raft_index: u64,
        applied: mpsc::UnboundedSender<Applied>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Propose {
        channel: String,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), RaftError>>,
    },
    Stop {
        channel: String,
    },
    /// Snapshot `channel` at `raft_index` with `data` (the last block written), compacting its
    /// log and the WAL behind it.
    TakeSnapshot {
        channel: String,
        raft_index: u64,
        data: Vec<u8>,
    },
    /// Propose adding or removing one consenter, when this node leads `channel`.
    ProposeConfChange {
        channel: String,
        change: ConfChange,
    },
    /// Input for `channel` other than a raft message (a forwarded submit): wakes its group.
    Wake {
        channel: String,
    },
    /// A raft message from another consenter (already authenticated and decoded).
    Step {
        channel: String,
        message: Message,
    },
    /// Ends the driver thread (closing the WAL) after answering.
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// A handle on the driver thread; cheap to clone.
#[derive(Clone)]
pub struct RaftDriver {
    commands: std_mpsc::SyncSender<Command>,
}

/// Why the driver refused or could not serve a request.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("the consensus driver has stopped (see the orderer log)")]
    Stopped,
    #[error("{0}")]
    Raft(#[from] RaftError),
}

impl RaftDriver {
    /// Opens the WAL in `wal_dir` (replaying it) and starts the driver thread.
    pub fn start(wal_dir: &Path, tick: Option<Duration>) -> Result<Self, String> {
        Self::start_with_cluster(wal_dir, tick, None)
    }

    /// Like [`RaftDriver::start`], with raft messages sent through `cluster` and channel
    /// membership read from it.
    pub fn start_with_cluster(
        wal_dir: &Path,
        tick: Option<Duration>,
        cluster: Option<Arc<Cluster>>,
    ) -> Result<Self, String> {
        let (wal, logs, stats) = SharedWal::open(wal_dir)
            .map_err(|e| format!("Consensus.WALDir {}: {e}", wal_dir.display()))?;
        if stats.truncated_bytes > 0 {
            tracing::warn!(
                bytes = stats.truncated_bytes,
                "cut a torn record from the end of the raft WAL"
            );
        }
        let (commands, receiver) = std_mpsc::sync_channel(COMMAND_QUEUE_CAPACITY);
        let state = DriverState {
            node: None,
            wal: Some(wal),
            cluster,
        };
        std::thread::Builder::new()
            .name("raft-driver".into())
            .spawn(move || drive(state, logs, receiver, tick))
            .map_err(|e| format!("cannot start the consensus thread: {e}"))?;
        Ok(Self { commands })
    }

    /// Starts (or, when the WAL knows it, resumes) `channel`'s raft group; committed entries
    /// are sent to `applied`. `block_raft_index` is the raft index of the ledger's last block.
    pub async fn start_channel(
        &self,
        channel: &str,
        options: ChainOptions,
        block_raft_index: u64,
        applied: mpsc::UnboundedSender<Applied>,
    ) -> Result<(), String> {
        let (reply, response) = oneshot::channel();
        self.send(Command::Start {
            channel: channel.to_string(),
            options,
            block_raft_index,
            applied,
            reply,
        })
        .map_err(|e| e.to_string())?;
        response
            .await
            .map_err(|_| DriverError::Stopped.to_string())?
    }

    pub async fn propose(&self, channel: &str, data: Vec<u8>) -> Result<(), DriverError> {
        let (reply, response) = oneshot::channel();
        self.send(Command::Propose {
            channel: channel.to_string(),
            data,
            reply,
        })?;
        Ok(response.await.map_err(|_| DriverError::Stopped)??)
    }

    /// Stops the driver thread and waits until it has released the WAL.
    pub async fn shutdown(&self) {
        let (reply, done) = oneshot::channel();
        if self.send(Command::Shutdown { reply }).is_ok() {
            let _ = done.await;
        }
    }

    pub fn stop_channel(&self, channel: &str) {
        let _ = self.send(Command::Stop {
            channel: channel.to_string(),
        });
    }

    /// Hands a raft message from another consenter to the driver; dropped when the driver is
    /// busy (its command queue is full), as raft retransmits.
    pub fn step(&self, channel: &str, message: Message) {
        let command = Command::Step {
            channel: channel.to_string(),
            message,
        };
        if self.commands.try_send(command).is_err() {
            tracing::debug!(channel, "consensus driver busy: raft message dropped");
        }
    }

    /// Asks for a snapshot of `channel` at `raft_index` (etcdraft: after `SnapshotIntervalSize`
    /// bytes of blocks) holding `block`, the last block written at that index.
    pub fn take_snapshot(&self, channel: &str, raft_index: u64, block: Vec<u8>) {
        let command = Command::TakeSnapshot {
            channel: channel.to_string(),
            raft_index,
            data: block,
        };
        if self.send(command).is_err() {
            tracing::warn!(channel, "consensus driver stopped: snapshot not taken");
        }
    }

    /// Proposes a raft membership change on `channel` if this node leads it; on a follower
    /// nothing happens (the leader proposes the same change).
    pub fn propose_conf_change(&self, channel: &str, change: ConfChange) {
        let command = Command::ProposeConfChange {
            channel: channel.to_string(),
            change,
        };
        if self.send(command).is_err() {
            tracing::warn!(
                channel,
                "consensus driver stopped: membership change not proposed"
            );
        }
    }

    /// Wakes `channel`'s raft group if it hibernates (see `ConsensusNode`); dropped when the
    /// driver is busy, which means it is awake anyway.
    pub fn wake(&self, channel: &str) {
        let _ = self.commands.try_send(Command::Wake {
            channel: channel.to_string(),
        });
    }

    fn send(&self, command: Command) -> Result<(), DriverError> {
        self.commands
            .send(command)
            .map_err(|_| DriverError::Stopped)
    }
}

/// Sends raft messages through the cluster, or drops them when there is none (a
/// single-consenter group sends none that matter).
struct Peers<'a>(Option<&'a Cluster>);

impl Transport for Peers<'_> {
    fn send(&mut self, channel: &str, message: Message) {
        match self.0 {
            Some(cluster) => {
                if let Err(e) = cluster.send_consensus(channel, &message) {
                    tracing::debug!(channel, to = message.to, error = %e, "raft message dropped");
                }
            }
            None => tracing::trace!(
                channel,
                to = message.to,
                "no cluster transport: raft message dropped"
            ),
        }
    }
}

/// The consensus node, created when the first channel names this node's raft id.
struct DriverState {
    node: Option<ConsensusNode<SharedWal>>,
    wal: Option<SharedWal>,
    cluster: Option<Arc<Cluster>>,
}

impl DriverState {
    /// The voters of `channel` and this node's id in it.
    fn membership(&self, channel: &str) -> (Vec<u64>, u64) {
        match self.cluster.as_ref().and_then(|c| c.channel(channel)) {
            Some(members) => (members.members.keys().copied().collect(), members.self_id),
            None => (vec![SINGLE_CONSENTER_ID], SINGLE_CONSENTER_ID),
        }
    }

    /// The node, created with raft id `id` if there is none yet; refuses another id.
    fn node_as(&mut self, id: u64) -> Result<&mut ConsensusNode<SharedWal>, String> {
        if self.node.is_none()
            && let Some(wal) = self.wal.take()
        {
            self.node = Some(ConsensusNode::new(id, wal));
        }
        match self.node.as_mut() {
            Some(node) if node.id() == id => Ok(node),
            Some(node) => Err(format!(
                "this orderer is consenter {id} of the channel but consenter {} of the channels it already serves; Weft runs one raft id per orderer",
                node.id()
            )),
            None => Err(DriverError::Stopped.to_string()),
        }
    }
}

fn drive(
    mut state: DriverState,
    mut logs: BTreeMap<String, ChannelLog>,
    commands: std_mpsc::Receiver<Command>,
    tick_override: Option<Duration>,
) {
    let mut sinks: BTreeMap<String, mpsc::UnboundedSender<Applied>> = BTreeMap::new();
    let mut tick = tick_override.unwrap_or(DEFAULT_TICK);
    let mut next_tick = Instant::now() + tick;
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        let mut batch = match commands.recv_timeout(wait) {
            Ok(command) => vec![command],
            Err(std_mpsc::RecvTimeoutError::Timeout) => Vec::new(),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        };
        // Take whatever else is queued before the Ready round, so one WAL sync covers it.
        while batch.len() < COMMAND_QUEUE_CAPACITY
            && let Ok(command) = commands.try_recv()
        {
            batch.push(command);
        }
        for command in batch {
            if let Command::Shutdown { reply } = command {
                drop(state);
                let _ = reply.send(());
                return;
            }
            handle(
                &mut state,
                &mut logs,
                &mut sinks,
                &mut tick,
                tick_override,
                command,
            );
        }
        let cluster = state.cluster.clone();
        let Some(node) = state.node.as_mut() else {
            next_tick = Instant::now() + tick;
            continue;
        };
        if Instant::now() >= next_tick {
            node.tick();
            next_tick = Instant::now() + tick;
            if let Some(cluster) = cluster.as_deref() {
                reconcile_membership(node, cluster);
            }
        }
        match node.process(&mut Peers(cluster.as_deref())) {
            Ok(applied) => {
                for (channel, entry) in applied {
                    if let Some(sink) = sinks.get(&channel)
                        && sink.send(entry).is_err()
                    {
                        sinks.remove(&channel);
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "the raft WAL failed; consensus stops");
                return;
            }
        }
        if let Some(cluster) = cluster.as_deref() {
            for channel in node.channels() {
                let chain = node.chain(channel);
                let leader = chain.and_then(|c| c.leader());
                if cluster.leader(channel) != leader {
                    // Fabric logs every leadership change of a channel the same way.
                    tracing::info!(
                        channel,
                        leader = leader.unwrap_or(0),
                        term = chain.map_or(0, |c| c.term()),
                        "raft leader changed"
                    );
                }
                cluster.set_leader(channel, leader);
            }
        }
    }
}

/// On a leader, proposes the raft membership change that makes the voters match the
/// consenters of the channel's latest config block (as published to `cluster`), one node at a
/// time. As etcdraft does when a node becomes leader, this also covers a change the previous
/// leader never proposed because it lost leadership right after writing the config block.
fn reconcile_membership(node: &mut ConsensusNode<SharedWal>, cluster: &Cluster) {
    let mut changes = Vec::new();
    for channel in node.channels() {
        let Some(chain) = node.chain(channel) else {
            continue;
        };
        let Some(members) = cluster.channel(channel) else {
            continue;
        };
        // Only a config written after the last applied change can ask for another one; an
        // older published set would be this node's sequencer lagging behind raft.
        if !chain.is_leader()
            || chain.membership_change_pending()
            || chain.conf_index() >= members.config_raft_index
        {
            continue;
        }
        let voters: BTreeSet<u64> = chain.voters().into_iter().collect();
        let wanted: BTreeSet<u64> = members.members.keys().copied().collect();
        let change = match (
            wanted.difference(&voters).next(),
            voters.difference(&wanted).next(),
        ) {
            (Some(added), _) => (*added, ConfChangeType::AddNode),
            (None, Some(removed)) => (*removed, ConfChangeType::RemoveNode),
            (None, None) => continue,
        };
        changes.push((channel.to_string(), change));
    }
    for (channel, (id, kind)) in changes {
        let mut change = ConfChange::default();
        change.set_node_id(id);
        change.set_change_type(kind);
        match node.propose_conf_change(&channel, change) {
            Ok(()) => tracing::info!(
                channel,
                id,
                ?kind,
                "raft membership change proposed to match the channel config"
            ),
            Err(e) => tracing::debug!(channel, error = %e, "raft membership change not proposed"),
        }
    }
}

fn handle(
    state: &mut DriverState,
    logs: &mut BTreeMap<String, ChannelLog>,
    sinks: &mut BTreeMap<String, mpsc::UnboundedSender<Applied>>,
    tick: &mut Duration,
    tick_override: Option<Duration>,
    command: Command,
) {
    match command {
        Command::Start {
            channel,
            options,
            block_raft_index,
            applied,
            reply,
        } => {
            if tick_override.is_none() && options.tick_interval_ms > 0 {
                *tick = (*tick).min(Duration::from_millis(options.tick_interval_ms));
            }
            let (voters, self_id) = state.membership(&channel);
            let node = match state.node_as(self_id) {
                Ok(node) => node,
                Err(e) => {
                    let _ = reply.send(Err(e));
                    return;
                }
            };
            let mut snapshot = None;
            let result = if node.chain(&channel).is_some() {
                Ok(())
            } else {
                match logs.remove(&channel) {
                    // Entries already in blocks are skipped by the chain; the sequencer also
                    // discards any block the ledger already holds.
                    Some(log) => {
                        let latest = log.latest_snapshot();
                        if !latest.is_empty() {
                            snapshot = Some(Applied::SnapshotInstalled {
                                raft_index: latest.get_metadata().index,
                                data: latest.get_data().to_vec(),
                            });
                        }
                        node.restore_channel(&channel, log, options, block_raft_index)
                    }
                    None => node.bootstrap_channel(&channel, &voters, options),
                }
            };
            // As etcdraft on start: a ledger behind the WAL's snapshot (a crash while catching
            // up) pulls the missing blocks first; the sequencer skips this when it has them.
            if let Some(snapshot) = snapshot {
                let _ = applied.send(snapshot);
            }
            // A sole consenter leads at once, as Fabric's single-node etcdraft chains do.
            let result = result.and_then(|()| node.campaign_if_sole_voter(&channel).map(drop));
            if result.is_ok() {
                sinks.insert(channel, applied);
            }
            let _ = reply.send(result.map_err(|e| e.to_string()));
        }
        Command::Propose {
            channel,
            data,
            reply,
        } => {
            let result = match state.node.as_mut() {
                Some(node) => node.propose(&channel, data),
                None => Err(RaftError::UnknownChannel(channel)),
            };
            let _ = reply.send(result);
        }
        Command::Step { channel, message } => {
            if let Some(node) = state.node.as_mut()
                && let Err(e) = node.step(&channel, message)
            {
                tracing::debug!(channel, error = %e, "raft message not taken");
            }
        }
        Command::TakeSnapshot {
            channel,
            raft_index,
            data,
        } => {
            if let Some(node) = state.node.as_mut() {
                match node.take_snapshot(&channel, raft_index, data) {
                    Ok(true) => tracing::info!(
                        channel,
                        raft_index,
                        "raft snapshot taken; log and WAL compacted"
                    ),
                    Ok(false) => tracing::debug!(
                        channel,
                        raft_index,
                        "raft snapshot skipped: membership changed after it"
                    ),
                    Err(e) => {
                        tracing::error!(channel, raft_index, error = %e, "raft snapshot failed")
                    }
                }
            }
        }
        Command::ProposeConfChange { channel, change } => {
            if let Some(node) = state.node.as_mut() {
                let leads = node.chain(&channel).is_some_and(|c| c.is_leader());
                if leads {
                    match node.propose_conf_change(&channel, change.clone()) {
                        Ok(()) => {
                            tracing::info!(channel, id = change.node_id, kind = ?change.get_change_type(), "raft membership change proposed")
                        }
                        Err(e) => {
                            tracing::warn!(channel, error = %e, "raft membership change not proposed")
                        }
                    }
                }
            }
        }
        Command::Wake { channel } => {
            if let Some(node) = state.node.as_mut() {
                node.wake(&channel);
            }
        }
        Command::Stop { channel } => {
            sinks.remove(&channel);
        }
        Command::Shutdown { reply } => {
            // Handled by the loop before it gets here; answering keeps the caller from waiting.
            let _ = reply.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::cluster::{ChannelMembers, Member};

    struct Nowhere;

    impl Transport for Nowhere {
        fn send(&mut self, _channel: &str, _message: Message) {}
    }

    fn members(ids: &[u64], config_raft_index: u64) -> ChannelMembers {
        let member = Member {
            endpoint: "127.0.0.1:1".into(),
            server_tls_cert_pem: Vec::new(),
            client_tls_cert_der: Vec::new(),
        };
        ChannelMembers {
            self_id: 1,
            members: ids.iter().map(|id| (*id, member.clone())).collect(),
            config_raft_index,
        }
    }

    fn voters(node: &ConsensusNode<SharedWal>) -> Vec<u64> {
        let mut voters = node.chain("ch").unwrap().voters();
        voters.sort_unstable();
        voters
    }

    // Mirrors etcdraft: the leader makes the raft voters follow the consenters of the latest
    // config block, but never on a consenter set older than the last applied change.
    #[test]
    fn leader_reconciles_voters_with_the_latest_config_only() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let _guard = runtime.enter();
        let dir = tempfile::tempdir().unwrap();
        let (wal, _, _) = SharedWal::open(dir.path()).unwrap();
        let mut node = ConsensusNode::new(1, wal);
        node.bootstrap_channel("ch", &[1], ChainOptions::default())
            .unwrap();
        assert!(node.campaign_if_sole_voter("ch").unwrap());
        node.process(&mut Nowhere).unwrap();
        let cluster = Cluster::new(weft_comm::ClientConfig::default()).unwrap();

        // A config block at raft index 5 names consenters 1 and 2.
        cluster.set_channel("ch", members(&[1, 2], 5));
        reconcile_membership(&mut node, &cluster);
        node.process(&mut Nowhere).unwrap();
        assert_eq!(voters(&node), [1, 2]);
        assert!(node.chain("ch").unwrap().conf_index() > 0);

        // Nothing more to do while voters and config agree.
        reconcile_membership(&mut node, &cluster);
        node.process(&mut Nowhere).unwrap();
        assert_eq!(voters(&node), [1, 2]);

        // A set published from an older block (a sequencer behind raft) changes nothing.
        cluster.set_channel("ch", members(&[1], 1));
        reconcile_membership(&mut node, &cluster);
        node.process(&mut Nowhere).unwrap();
        assert!(!node.chain("ch").unwrap().membership_change_pending());
        assert_eq!(voters(&node), [1, 2]);

        // The same set from a block after the last change asks for the removal (which needs
        // consenter 2's vote to commit, so it stays pending here).
        cluster.set_channel("ch", members(&[1], 50));
        reconcile_membership(&mut node, &cluster);
        node.process(&mut Nowhere).unwrap();
        assert!(node.chain("ch").unwrap().membership_change_pending());
    }
}
