//! `ConsensusNode`: the thin driver that runs every channel's `ChainCore` of one orderer.
//!
//! It owns the shared WAL, feeds inputs to chains, runs Ready rounds with one WAL sync for all
//! channels that had work, and hands messages to a `Transport`. Time is a single `tick()` call
//! (the orderer calls it from one timer); only awake groups are ticked.
//!
//! Idle channels hibernate (after TiKV's hibernate regions): a group whose log is committed and
//! applied everywhere it can see (`ChainCore::is_quiescent`) for `HIBERNATE_AFTER_TICKS`
//! consecutive ticks stops being ticked, so an idle channel costs no CPU. Any input — a message
//! from another consenter, a proposal — wakes it. A leader only hibernates once every follower
//! has matched its log, so followers see the same quiet and hibernate too. The cost: if a leader
//! dies while its channel sleeps, a new leader is elected only when the next request wakes a
//! follower (`wake`, one election timeout later); a sleeping channel has nothing to order
//! meanwhile.

use std::collections::{BTreeMap, BTreeSet};

use raft::eraftpb::{ConfChange, Message, MessageType};

use crate::RaftError;
use crate::chain::{Applied, ChainCore, ChainOutput};
use crate::log::ChannelLog;
use crate::options::ChainOptions;
use crate::wal::WalSink;

/// Consecutive quiet ticks before a group stops being ticked.
pub const HIBERNATE_AFTER_TICKS: u32 = 20;
/// Ready rounds per `process` call; raft settles in a few, more means a livelock.
pub const READY_ROUNDS_MAX: usize = 64;

/// Carries raft messages to other consenters (in Weft: `orderer.ConsensusRequest` on the
/// cluster service, with `encode_message` output as payload). `message.to` names the consenter.
pub trait Transport {
    fn send(&mut self, channel: &str, message: Message);
}

struct Group {
    chain: ChainCore,
    quiet_ticks: u32,
}

/// All raft groups of one consensus node.
pub struct ConsensusNode<W: WalSink> {
    id: u64,
    wal: W,
    groups: BTreeMap<String, Group>,
    awake: BTreeSet<String>,
    /// Groups that received input since the last `process`.
    dirty: BTreeSet<String>,
}

impl<W: WalSink> ConsensusNode<W> {
    pub fn new(id: u64, wal: W) -> Self {
        Self {
            id,
            wal,
            groups: BTreeMap::new(),
            awake: BTreeSet::new(),
            dirty: BTreeSet::new(),
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn wal(&self) -> &W {
        &self.wal
    }

    /// Starts a channel from its genesis consenter ids.
    pub fn bootstrap_channel(
        &mut self,
        channel: &str,
        voters: &[u64],
        options: ChainOptions,
    ) -> Result<(), RaftError> {
        if self.groups.contains_key(channel) {
            return Err(RaftError::ChannelExists(channel.to_string()));
        }
        let chain = ChainCore::bootstrap(channel, self.id, voters, options, &mut self.wal)?;
        self.insert(channel, chain);
        Ok(())
    }

    /// Resumes a channel recovered from the WAL.
    pub fn restore_channel(
        &mut self,
        channel: &str,
        log: ChannelLog,
        options: ChainOptions,
        block_raft_index: u64,
    ) -> Result<(), RaftError> {
        if self.groups.contains_key(channel) {
            return Err(RaftError::ChannelExists(channel.to_string()));
        }
        let chain = ChainCore::restart(self.id, log, options, block_raft_index)?;
        self.insert(channel, chain);
        Ok(())
    }

    fn insert(&mut self, channel: &str, chain: ChainCore) {
        self.groups.insert(
            channel.to_string(),
            Group {
                chain,
                quiet_ticks: 0,
            },
        );
        self.wake(channel);
    }

    pub fn chain(&self, channel: &str) -> Option<&ChainCore> {
        self.groups.get(channel).map(|g| &g.chain)
    }

    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }

    /// Groups currently being ticked.
    pub fn awake_count(&self) -> usize {
        self.awake.len()
    }

    pub fn is_awake(&self, channel: &str) -> bool {
        self.awake.contains(channel)
    }

    /// Marks `channel` as having input other than heartbeats: a sleeping group starts
    /// ticking again and the quiet count restarts, so a follower that keeps receiving appends
    /// never falls asleep (asleep, it would not notice its leader die). Heartbeats do not
    /// come here: they are what a quiet group still exchanges.
    pub fn wake(&mut self, channel: &str) {
        if let Some(group) = self.groups.get_mut(channel) {
            self.awake.insert(channel.to_string());
            group.quiet_ticks = 0;
            self.dirty.insert(channel.to_string());
        }
    }

    fn group_mut(&mut self, channel: &str) -> Result<&mut Group, RaftError> {
        self.groups
            .get_mut(channel)
            .ok_or_else(|| RaftError::UnknownChannel(channel.to_string()))
    }

    /// Proposes `data` on `channel`; fails with `NotLeader` (naming the leader) on a follower.
    pub fn propose(&mut self, channel: &str, data: Vec<u8>) -> Result<(), RaftError> {
        self.wake(channel);
        self.group_mut(channel)?.chain.propose(channel, data)
    }

    pub fn propose_conf_change(
        &mut self,
        channel: &str,
        change: ConfChange,
    ) -> Result<(), RaftError> {
        self.wake(channel);
        self.group_mut(channel)?
            .chain
            .propose_conf_change(channel, change)
    }

    /// Elects this node at once when it is `channel`'s only voter (no election timeout to
    /// wait out); returns whether it now leads. Larger groups are left to their timers.
    pub fn campaign_if_sole_voter(&mut self, channel: &str) -> Result<bool, RaftError> {
        let chain = &mut self.group_mut(channel)?.chain;
        if !chain.is_sole_voter() {
            return Ok(false);
        }
        chain.campaign()?;
        let leads = chain.is_leader();
        self.wake(channel);
        Ok(leads)
    }

    /// Feeds a message from another consenter. Heartbeats are answered but do not wake a
    /// sleeping group: the peer that sent them is about to fall asleep too.
    pub fn step(&mut self, channel: &str, message: Message) -> Result<(), RaftError> {
        match message.get_msg_type() {
            MessageType::MsgHeartbeat | MessageType::MsgHeartbeatResponse => {
                self.dirty.insert(channel.to_string());
            }
            _ => self.wake(channel),
        }
        self.group_mut(channel)?.chain.step(message)
    }

    /// One tick for every awake group; quiet groups fall asleep. Returns how many were ticked.
    pub fn tick(&mut self) -> usize {
        let mut asleep = Vec::new();
        for channel in &self.awake {
            let Some(group) = self.groups.get_mut(channel) else {
                continue;
            };
            if group.chain.tick() || group.chain.has_ready() {
                self.dirty.insert(channel.clone());
            }
            if group.chain.is_quiescent() {
                group.quiet_ticks += 1;
                if group.quiet_ticks >= HIBERNATE_AFTER_TICKS {
                    asleep.push(channel.clone());
                }
            } else {
                group.quiet_ticks = 0;
            }
        }
        let ticked = self.awake.len();
        for channel in asleep {
            self.awake.remove(&channel);
        }
        ticked
    }

    /// Runs Ready rounds until no group has work: persists, syncs the WAL once per round, then
    /// sends. Returns what each channel applied, in log order per channel.
    pub fn process(
        &mut self,
        transport: &mut dyn Transport,
    ) -> Result<Vec<(String, Applied)>, RaftError> {
        let mut applied = Vec::new();
        for _ in 0..READY_ROUNDS_MAX {
            let dirty = std::mem::take(&mut self.dirty);
            let mut drained = Vec::new();
            for channel in dirty {
                let Some(group) = self.groups.get_mut(&channel) else {
                    continue;
                };
                let mut out = ChainOutput::default();
                if group.chain.drain_ready(&channel, &mut self.wal, &mut out)? {
                    drained.push((channel, out));
                }
            }
            if drained.is_empty() {
                return Ok(applied);
            }
            self.wal.sync()?;
            for (channel, mut out) in drained {
                let Some(group) = self.groups.get_mut(&channel) else {
                    continue;
                };
                group.chain.on_persisted(&mut out);
                if group.chain.has_ready() {
                    self.dirty.insert(channel.clone());
                }
                for message in out.messages {
                    transport.send(&channel, message);
                }
                applied.extend(out.applied.into_iter().map(|a| (channel.clone(), a)));
            }
        }
        Ok(applied)
    }

    /// Snapshots `channel` at `raft_index` with the application state `data`.
    pub fn take_snapshot(
        &mut self,
        channel: &str,
        raft_index: u64,
        data: Vec<u8>,
    ) -> Result<bool, RaftError> {
        let group = self
            .groups
            .get_mut(channel)
            .ok_or_else(|| RaftError::UnknownChannel(channel.to_string()))?;
        let taken = group
            .chain
            .take_snapshot(channel, raft_index, data, &mut self.wal)?;
        self.wal.sync()?;
        if taken {
            let logs: Vec<(&str, &ChannelLog)> = self
                .groups
                .iter()
                .map(|(name, group)| (name.as_str(), group.chain.log()))
                .collect();
            self.wal.compact(&logs)?;
        }
        Ok(taken)
    }

    pub fn report_unreachable(&mut self, channel: &str, id: u64) {
        if let Some(group) = self.groups.get_mut(channel) {
            group.chain.report_unreachable(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::MemoryWal;

    struct Collect(Vec<Message>);

    impl Transport for Collect {
        fn send(&mut self, _channel: &str, message: Message) {
            self.0.push(message);
        }
    }

    #[test]
    fn sole_voter_channel_orders_without_waiting_for_an_election_tick() {
        let mut node = ConsensusNode::new(1, MemoryWal::default());
        node.bootstrap_channel("solo", &[1], ChainOptions::default())
            .unwrap();
        node.bootstrap_channel("trio", &[1, 2, 3], ChainOptions::default())
            .unwrap();
        assert!(node.campaign_if_sole_voter("solo").unwrap());
        assert!(!node.campaign_if_sole_voter("trio").unwrap());
        assert!(matches!(
            node.campaign_if_sole_voter("absent"),
            Err(RaftError::UnknownChannel(_))
        ));

        // No tick at all: the proposal commits in the same processing pass.
        node.propose("solo", b"tx".to_vec()).unwrap();
        let mut transport = Collect(Vec::new());
        let applied = node.process(&mut transport).unwrap();
        assert!(
            applied.iter().any(|(channel, a)| channel == "solo"
                && matches!(a, Applied::Block { data, .. } if data == b"tx")),
            "{applied:?}"
        );
        assert!(transport.0.iter().all(|m| m.to != 1));
        assert!(!node.chain("trio").unwrap().is_leader());
    }

    #[test]
    fn a_group_with_steady_input_stays_awake_and_sleeps_once_idle() {
        let mut node = ConsensusNode::new(1, MemoryWal::default());
        node.bootstrap_channel("solo", &[1], ChainOptions::default())
            .unwrap();
        node.campaign_if_sole_voter("solo").unwrap();
        let mut transport = Collect(Vec::new());
        // A proposal per tick: the group is settled at every tick, yet it is in use.
        for i in 0..3 * HIBERNATE_AFTER_TICKS {
            node.propose("solo", i.to_be_bytes().to_vec()).unwrap();
            node.process(&mut transport).unwrap();
            node.tick();
            assert!(node.is_awake("solo"), "asleep after {i} busy ticks");
        }
        for _ in 0..=HIBERNATE_AFTER_TICKS {
            node.tick();
            node.process(&mut transport).unwrap();
        }
        assert!(!node.is_awake("solo"));
        node.wake("solo");
        assert!(node.is_awake("solo"));
    }
}
