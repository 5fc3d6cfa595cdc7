//! `ChainCore`: one channel's raft group as a pure state machine.
//!
//! Inputs are proposals, messages from other consenters, ticks and snapshots; outputs are drained
//! from raft-rs `Ready`s into a `ChainOutput`: messages to send (each names its consenter id in
//! `to`) and `Applied` events for the block writer. Persistence goes to a `WalSink`, and the
//! raft-rs contract is kept with its asynchronous Ready API so many channels can share one fsync:
//!
//! 1. `drain_ready` writes snapshot, entries and hard state to the WAL (unsynced), hands out the
//!    messages that may leave before persistence (a leader's appends), applies committed entries
//!    and parks the messages that must wait for persistence (votes, append responses);
//! 2. the driver syncs the WAL once for every channel;
//! 3. `on_persisted` releases the parked messages.
//!
//! Fabric etcdraft semantics kept here: PreVote and CheckQuorum on, followers never propose (the
//! driver forwards a submit to `leader()` instead), each committed entry carries its raft index
//! for the block's `BlockMetadata.raft_index`, entries at or below the raft index of the last
//! written block are not handed out again after a restart, and a snapshot is requested when the
//! applied block bytes since the last one reach `snapshot_interval_bytes`.

use std::collections::VecDeque;

use protobuf::Message as _;
use raft::eraftpb::{ConfChange, ConfState, Entry, EntryType, Message};
use raft::{Config, RawNode, StateRole};

use crate::RaftError;
use crate::log::{ChannelLog, SNAPSHOT_CATCHUP_ENTRIES};
use crate::options::ChainOptions;
use crate::wal::{WalRecord, WalSink};

/// Largest encoded raft message accepted from the network (a few maximal blocks per append).
pub const RAFT_MESSAGE_BYTES_MAX: usize = 128 * 1024 * 1024;

/// What a chain hands to the block writer, in raft log order.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// A committed proposal: write it as the next block with `BlockMetadata.raft_index`.
    Block { raft_index: u64, data: Vec<u8> },
    /// A committed membership change, now in effect.
    ConfChange {
        raft_index: u64,
        change: ConfChange,
        conf_state: ConfState,
    },
    /// The leader sent a snapshot: the chain is now at `raft_index`; restore the state in
    /// `data` (Fabric: pull the blocks up to the one in the snapshot from other orderers).
    SnapshotInstalled { raft_index: u64, data: Vec<u8> },
    /// Enough data was applied since the last snapshot: call `take_snapshot` for this index.
    SnapshotDue { raft_index: u64 },
}

/// Everything one drain produced.
#[derive(Debug, Default)]
pub struct ChainOutput {
    pub messages: Vec<Message>,
    pub applied: Vec<Applied>,
}

/// One channel's raft group.
pub struct ChainCore {
    id: u64,
    node: RawNode<ChannelLog>,
    options: ChainOptions,
    applied_index: u64,
    /// Raft index of the last block written (Fabric's `appliedIndex` replay guard).
    block_raft_index: u64,
    /// Index of the entry that produced the current membership.
    conf_index: u64,
    bytes_since_snapshot: u64,
    snapshot_requested: bool,
    /// Ready numbers with the messages that may only leave once that Ready is durable.
    awaiting_sync: VecDeque<(u64, Vec<Message>)>,
}

impl std::fmt::Debug for ChainCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainCore")
            .field("id", &self.id)
            .field("applied_index", &self.applied_index)
            .field("leader", &self.leader())
            .finish_non_exhaustive()
    }
}

impl ChainCore {
    /// Starts a new channel whose first consenters are `voters`; records it in the WAL.
    pub fn bootstrap(
        channel: &str,
        id: u64,
        voters: &[u64],
        options: ChainOptions,
        wal: &mut dyn WalSink,
    ) -> Result<Self, RaftError> {
        let log = ChannelLog::bootstrap(voters);
        wal.write(channel, &WalRecord::Bootstrap(log.conf_state().clone()))?;
        Self::restart(id, log, options, 0)
    }

    /// Resumes a channel from its recovered log; `block_raft_index` is the raft index recorded
    /// in the last block the ledger holds.
    pub fn restart(
        id: u64,
        log: ChannelLog,
        options: ChainOptions,
        block_raft_index: u64,
    ) -> Result<Self, RaftError> {
        let applied_index = log.first_index() - 1;
        let config = Config {
            id,
            election_tick: options.election_tick,
            heartbeat_tick: options.heartbeat_tick,
            max_size_per_msg: options.max_size_per_msg_bytes,
            max_inflight_msgs: options.max_inflight_blocks,
            pre_vote: true,
            check_quorum: true,
            ..Config::default()
        };
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let node = RawNode::new(&config, log, &logger)?;
        Ok(Self {
            id,
            node,
            options,
            applied_index,
            block_raft_index,
            conf_index: applied_index,
            bytes_since_snapshot: 0,
            snapshot_requested: false,
            awaiting_sync: VecDeque::new(),
        })
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn options(&self) -> &ChainOptions {
        &self.options
    }

    /// The consenter id of the current leader, if known.
    pub fn leader(&self) -> Option<u64> {
        match self.node.raft.leader_id {
            raft::INVALID_ID => None,
            id => Some(id),
        }
    }

    pub fn is_leader(&self) -> bool {
        self.node.raft.state == StateRole::Leader
    }

    pub fn term(&self) -> u64 {
        self.node.raft.term
    }

    pub fn applied_index(&self) -> u64 {
        self.applied_index
    }

    pub fn commit_index(&self) -> u64 {
        self.node.raft.raft_log.committed
    }

    pub fn last_index(&self) -> u64 {
        self.node.raft.raft_log.last_index()
    }

    pub fn log(&self) -> &ChannelLog {
        self.node.store()
    }

    pub fn voters(&self) -> Vec<u64> {
        self.node.raft.prs().conf().voters().ids().iter().collect()
    }

    /// Raft index of the entry that produced the current membership (the restart or
    /// snapshot index when none was applied since).
    pub fn conf_index(&self) -> u64 {
        self.conf_index
    }

    /// True while a membership change is in the log but not yet applied (raft-rs takes one
    /// at a time and turns a second proposal into an empty entry).
    pub fn membership_change_pending(&self) -> bool {
        self.node.raft.pending_conf_index > self.node.raft.raft_log.applied
    }

    /// True when this node is the group's only voter, so it needs no one else's vote.
    pub fn is_sole_voter(&self) -> bool {
        let voters = self.node.raft.prs().conf().voters().ids();
        voters.len() == 1 && voters.contains(self.id)
    }

    /// Starts an election now instead of waiting for the election timeout. A sole voter wins
    /// it on the spot (Fabric's single-node etcdraft chains lead as soon as they start); in a
    /// larger group it only begins a (pre-)vote round. A leader ignores it.
    pub fn campaign(&mut self) -> Result<(), RaftError> {
        self.node.campaign()?;
        Ok(())
    }

    /// Proposes `data` (an envelope batch). Only the leader proposes, as in Fabric.
    pub fn propose(&mut self, channel: &str, data: Vec<u8>) -> Result<(), RaftError> {
        self.require_leader(channel)?;
        self.node.propose(Vec::new(), data)?;
        Ok(())
    }

    /// Proposes adding or removing one consenter.
    pub fn propose_conf_change(
        &mut self,
        channel: &str,
        change: ConfChange,
    ) -> Result<(), RaftError> {
        self.require_leader(channel)?;
        self.node.propose_conf_change(Vec::new(), change)?;
        Ok(())
    }

    fn require_leader(&self, channel: &str) -> Result<(), RaftError> {
        if self.is_leader() {
            return Ok(());
        }
        Err(RaftError::NotLeader {
            channel: channel.to_string(),
            leader: self.leader(),
        })
    }

    /// Feeds a message from another consenter.
    pub fn step(&mut self, message: Message) -> Result<(), RaftError> {
        self.node.step(message)?;
        Ok(())
    }

    /// Advances logical time by one tick; true when there may be work in `drain_ready`.
    pub fn tick(&mut self) -> bool {
        self.node.tick()
    }

    /// True when the group has nothing in flight: the log is committed and applied everywhere
    /// this node can see, so it can stop ticking until a message or proposal wakes it.
    pub fn is_quiescent(&self) -> bool {
        let raft = &self.node.raft;
        let last = raft.raft_log.last_index();
        // Pending heartbeats do not count: they are what a quiet group still sends.
        let settled = self.awaiting_sync.is_empty()
            && raft.raft_log.committed == last
            && self.applied_index == last;
        settled
            && match raft.state {
                StateRole::Leader => raft.prs().iter().all(|(_, pr)| pr.matched == last),
                StateRole::Follower => raft.leader_id != raft::INVALID_ID,
                _ => false,
            }
    }

    pub fn has_ready(&self) -> bool {
        self.node.has_ready()
    }

    /// Step 1 of a Ready round (see the module docs). Returns false when there was nothing.
    pub fn drain_ready(
        &mut self,
        channel: &str,
        wal: &mut dyn WalSink,
        out: &mut ChainOutput,
    ) -> Result<bool, RaftError> {
        if !self.node.has_ready() {
            return Ok(false);
        }
        let mut rd = self.node.ready();
        out.messages.extend(rd.take_messages());
        if !rd.snapshot().is_empty() {
            let snapshot = rd.snapshot().clone();
            wal.write(channel, &WalRecord::Snapshot(snapshot.clone()))?;
            let index = snapshot.get_metadata().index;
            out.applied.push(Applied::SnapshotInstalled {
                raft_index: index,
                data: snapshot.get_data().to_vec(),
            });
            self.node.mut_store().install_snapshot(snapshot, 0);
            self.applied_index = index;
            self.conf_index = index;
            self.block_raft_index = self.block_raft_index.max(index);
            self.bytes_since_snapshot = 0;
        }
        let entries = rd.take_entries();
        if !entries.is_empty() {
            wal.write(channel, &WalRecord::Entries(entries.clone()))?;
            self.node.mut_store().append(&entries)?;
        }
        if let Some(hs) = rd.hs() {
            wal.write(channel, &WalRecord::HardState(hs.clone()))?;
            self.node.mut_store().set_hard_state(hs.clone());
        }
        self.awaiting_sync
            .push_back((rd.number(), rd.take_persisted_messages()));
        let committed = rd.take_committed_entries();
        self.apply(committed, out)?;
        self.node.advance_append_async(rd);
        self.catch_up_applied();
        Ok(true)
    }

    /// Step 3 of a Ready round: the WAL is synced, release what waited for it.
    pub fn on_persisted(&mut self, out: &mut ChainOutput) {
        while let Some((number, messages)) = self.awaiting_sync.pop_front() {
            self.node.on_persist_ready(number);
            out.messages.extend(messages);
        }
        self.catch_up_applied();
    }

    /// Tells raft-rs how far the application is, within what it may accept right now.
    fn catch_up_applied(&mut self) {
        let log = &self.node.raft.raft_log;
        let target = self.applied_index.min(log.committed).min(log.persisted);
        if target > log.applied {
            self.node.advance_apply_to(target);
        }
    }

    fn apply(&mut self, entries: Vec<Entry>, out: &mut ChainOutput) -> Result<(), RaftError> {
        for entry in entries {
            let raft_index = entry.index;
            if raft_index <= self.applied_index {
                continue;
            }
            self.applied_index = raft_index;
            match entry.get_entry_type() {
                EntryType::EntryNormal if entry.data.is_empty() => {} // a new leader's no-op
                EntryType::EntryNormal => {
                    self.bytes_since_snapshot += entry.data.len() as u64;
                    if raft_index > self.block_raft_index {
                        self.block_raft_index = raft_index;
                        out.applied.push(Applied::Block {
                            raft_index,
                            data: entry.data.to_vec(),
                        });
                    }
                }
                EntryType::EntryConfChange => {
                    let change = ConfChange::parse_from_bytes(&entry.data)
                        .map_err(|e| RaftError::MalformedMessage(e.to_string()))?;
                    let conf_state = self.node.apply_conf_change(&change)?;
                    self.node.mut_store().set_conf_state(conf_state.clone());
                    self.conf_index = raft_index;
                    out.applied.push(Applied::ConfChange {
                        raft_index,
                        change,
                        conf_state,
                    });
                }
                // This crate only proposes v1 changes; a v2 entry can only come from a foreign
                // cluster and is refused rather than half-applied.
                EntryType::EntryConfChangeV2 => {
                    return Err(RaftError::Membership(format!(
                        "raft entry {raft_index} holds a joint-consensus change, which etcdraft never proposes"
                    )));
                }
            }
        }
        if !self.snapshot_requested
            && self.bytes_since_snapshot >= self.options.snapshot_interval_bytes
        {
            self.snapshot_requested = true;
            out.applied.push(Applied::SnapshotDue {
                raft_index: self.applied_index,
            });
        }
        Ok(())
    }

    /// Records a snapshot of the application state at applied index `raft_index` and compacts
    /// the log behind it. Returns false (and keeps the log) when the membership changed after
    /// `raft_index`, since the snapshot would carry the wrong membership; the next
    /// `SnapshotDue` retries.
    pub fn take_snapshot(
        &mut self,
        channel: &str,
        raft_index: u64,
        data: Vec<u8>,
        wal: &mut dyn WalSink,
    ) -> Result<bool, RaftError> {
        self.snapshot_requested = false;
        if raft_index > self.applied_index || raft_index < self.conf_index {
            return Ok(false);
        }
        let snapshot = self.node.store().make_snapshot(raft_index, data)?;
        wal.write(channel, &WalRecord::Snapshot(snapshot.clone()))?;
        self.node
            .mut_store()
            .install_snapshot(snapshot, SNAPSHOT_CATCHUP_ENTRIES);
        self.bytes_since_snapshot = 0;
        Ok(true)
    }

    /// Tells raft that a consenter could not be reached (the driver's transport failed).
    pub fn report_unreachable(&mut self, id: u64) {
        self.node.report_unreachable(id);
    }
}

/// Encodes a raft message for `ConsensusRequest.payload`.
pub fn encode_message(message: &Message) -> Result<Vec<u8>, RaftError> {
    message
        .write_to_bytes()
        .map_err(|e| RaftError::MalformedMessage(e.to_string()))
}

/// Decodes a raft message received from consenter `sender` (already authenticated by the
/// cluster service); the size is bounded and the claimed sender must match.
pub fn decode_message(bytes: &[u8], sender: u64) -> Result<Message, RaftError> {
    if bytes.len() > RAFT_MESSAGE_BYTES_MAX {
        return Err(RaftError::MessageTooLarge(bytes.len()));
    }
    let message =
        Message::parse_from_bytes(bytes).map_err(|e| RaftError::MalformedMessage(e.to_string()))?;
    if message.from != sender {
        return Err(RaftError::SenderMismatch {
            claimed: message.from,
            sender,
        });
    }
    // Proposals never travel between consenters: followers forward submits to the leader at
    // the Fabric level, so a remote MsgPropose could only inject entries behind policy checks.
    if raft::raw_node::is_local_msg(message.get_msg_type())
        || message.get_msg_type() == raft::eraftpb::MessageType::MsgPropose
    {
        return Err(RaftError::MalformedMessage(format!(
            "{:?} is local to a node and never travels",
            message.get_msg_type()
        )));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::MemoryWal;

    const CHANNEL: &str = "mychannel";

    /// Runs Ready rounds (with an instant sync) until the chain is idle.
    fn settle(chain: &mut ChainCore, wal: &mut MemoryWal) -> Vec<Applied> {
        let mut applied = Vec::new();
        for _ in 0..16 {
            let mut out = ChainOutput::default();
            let drained = chain.drain_ready(CHANNEL, wal, &mut out).unwrap();
            chain.on_persisted(&mut out);
            applied.extend(out.applied);
            if !drained && !chain.has_ready() {
                break;
            }
        }
        applied
    }

    #[test]
    fn sole_voter_leads_right_after_campaign_without_ticks() {
        let mut wal = MemoryWal::default();
        let mut chain =
            ChainCore::bootstrap(CHANNEL, 1, &[1], ChainOptions::default(), &mut wal).unwrap();
        assert!(chain.is_sole_voter());
        assert!(!chain.is_leader());
        chain.campaign().unwrap();
        assert!(chain.is_leader());
        assert_eq!(chain.leader(), Some(1));
        assert_eq!(chain.term(), 1);
        settle(&mut chain, &mut wal);

        chain.propose(CHANNEL, b"block 1".to_vec()).unwrap();
        let applied = settle(&mut chain, &mut wal);
        let blocks: Vec<_> = applied
            .iter()
            .filter_map(|a| match a {
                Applied::Block { data, .. } => Some(data.as_slice()),
                _ => None,
            })
            .collect();
        assert_eq!(blocks, [b"block 1".as_slice()]);

        // Campaigning again as leader changes nothing.
        chain.campaign().unwrap();
        assert!(chain.is_leader());
        assert_eq!(chain.term(), 1);
    }

    #[test]
    fn campaign_in_a_larger_group_only_starts_a_vote() {
        let mut wal = MemoryWal::default();
        let mut chain =
            ChainCore::bootstrap(CHANNEL, 1, &[1, 2, 3], ChainOptions::default(), &mut wal)
                .unwrap();
        assert!(!chain.is_sole_voter());
        chain.campaign().unwrap();
        assert!(!chain.is_leader());
        let mut out = ChainOutput::default();
        chain.drain_ready(CHANNEL, &mut wal, &mut out).unwrap();
        chain.on_persisted(&mut out);
        let mut asked: Vec<u64> = out
            .messages
            .iter()
            .filter(|m| m.get_msg_type() == raft::eraftpb::MessageType::MsgRequestPreVote)
            .map(|m| m.to)
            .collect();
        asked.sort_unstable();
        assert_eq!(asked, [2, 3]);
    }
}
