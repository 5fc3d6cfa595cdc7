//! A simulated cluster: N consensus nodes in one process, a message router that can cut links,
//! isolate and recover nodes, and per-node "block writers" recording what each node applied.
//! Messages go through the real codec (`encode_message`/`decode_message`). Time only moves when
//! a test calls `tick`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

use weft_orderer_raft::{
    Applied, ChainOptions, ConsensusNode, MemoryWal, Message, RaftError, SharedWal, Transport,
    WalRecord, WalSink, decode_message, encode_message,
};

/// Either WAL, so one cluster type covers memory-only and durable nodes.
pub enum SimWal {
    Memory(MemoryWal),
    Durable(SharedWal),
}

impl WalSink for SimWal {
    fn write(&mut self, channel: &str, record: &WalRecord) -> Result<(), RaftError> {
        match self {
            SimWal::Memory(w) => w.write(channel, record),
            SimWal::Durable(w) => w.write(channel, record),
        }
    }

    fn sync(&mut self) -> Result<(), RaftError> {
        match self {
            SimWal::Memory(w) => w.sync(),
            SimWal::Durable(w) => w.sync(),
        }
    }
}

#[derive(Default)]
struct Outbox(Vec<(String, Message)>);

impl Transport for Outbox {
    fn send(&mut self, channel: &str, message: Message) {
        self.0.push((channel.to_string(), message));
    }
}

/// What one node's block writer holds for one channel.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Ledger {
    pub blocks: Vec<Vec<u8>>,
    pub last_raft_index: u64,
    pub snapshots_installed: usize,
}

/// Snapshot data: the whole ledger, length-prefixed (Fabric ships the last block instead and
/// the follower pulls the rest; the test app keeps it self-contained).
fn encode_ledger(blocks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for b in blocks {
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b);
    }
    out
}

fn decode_ledger(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut blocks = Vec::new();
    while data.len() >= 4 {
        let len = u32::from_le_bytes(data[..4].try_into().unwrap()) as usize;
        blocks.push(data[4..4 + len].to_vec());
        data = &data[4 + len..];
    }
    blocks
}

pub struct Cluster {
    pub ids: Vec<u64>,
    pub nodes: BTreeMap<u64, Option<ConsensusNode<SimWal>>>,
    pub ledgers: BTreeMap<u64, BTreeMap<String, Ledger>>,
    pub options: ChainOptions,
    wal_dirs: BTreeMap<u64, PathBuf>,
    cut: BTreeSet<(u64, u64)>,
    queue: VecDeque<(String, u64, u64, Vec<u8>)>,
    pub delivered: u64,
}

/// Bound on routing rounds in one `settle`; a healthy cluster settles in a handful.
const SETTLE_ROUNDS_MAX: usize = 10_000;
/// Bound on ticks while waiting for a leader.
const ELECTION_TICKS_MAX: usize = 200;

impl Cluster {
    /// `size` nodes, each serving `channels`; durable WALs under `wal_root` when given.
    pub fn new(size: u64, channels: &[String], wal_root: Option<&std::path::Path>) -> Self {
        let options = ChainOptions {
            snapshot_interval_bytes: u64::MAX,
            ..ChainOptions::default()
        };
        Self::with_options(size, channels, wal_root, options)
    }

    pub fn with_options(
        size: u64,
        channels: &[String],
        wal_root: Option<&std::path::Path>,
        options: ChainOptions,
    ) -> Self {
        let ids: Vec<u64> = (1..=size).collect();
        let mut cluster = Cluster {
            ids: ids.clone(),
            nodes: BTreeMap::new(),
            ledgers: BTreeMap::new(),
            options: options.clone(),
            wal_dirs: BTreeMap::new(),
            cut: BTreeSet::new(),
            queue: VecDeque::new(),
            delivered: 0,
        };
        for &id in &ids {
            let wal = match wal_root {
                Some(root) => {
                    let dir = root.join(format!("node{id}"));
                    let (wal, logs, _) = SharedWal::open(&dir).unwrap();
                    assert!(logs.is_empty());
                    cluster.wal_dirs.insert(id, dir);
                    SimWal::Durable(wal)
                }
                None => SimWal::Memory(MemoryWal::default()),
            };
            let mut node = ConsensusNode::new(id, wal);
            for ch in channels {
                node.bootstrap_channel(ch, &ids, options.clone()).unwrap();
            }
            cluster.nodes.insert(id, Some(node));
            cluster.ledgers.insert(id, BTreeMap::new());
        }
        cluster
    }

    pub fn node(&self, id: u64) -> &ConsensusNode<SimWal> {
        self.nodes[&id].as_ref().unwrap()
    }

    pub fn node_mut(&mut self, id: u64) -> &mut ConsensusNode<SimWal> {
        self.nodes.get_mut(&id).unwrap().as_mut().unwrap()
    }

    pub fn ledger(&self, id: u64, channel: &str) -> Ledger {
        self.ledgers[&id].get(channel).cloned().unwrap_or_default()
    }

    pub fn isolate(&mut self, id: u64) {
        for &other in &self.ids {
            if other != id {
                self.cut.insert((id, other));
                self.cut.insert((other, id));
            }
        }
    }

    pub fn partition(&mut self, side_a: &[u64], side_b: &[u64]) {
        for &a in side_a {
            for &b in side_b {
                self.cut.insert((a, b));
                self.cut.insert((b, a));
            }
        }
    }

    pub fn recover(&mut self) {
        self.cut.clear();
    }

    /// One tick on every live node, then deliver everything that follows from it.
    pub fn tick(&mut self) {
        for node in self.nodes.values_mut().flatten() {
            node.tick();
        }
        self.settle();
    }

    pub fn ticks(&mut self, n: usize) {
        for _ in 0..n {
            self.tick();
        }
    }

    /// Processes Ready rounds and routes messages until the network is quiet.
    pub fn settle(&mut self) {
        for _ in 0..SETTLE_ROUNDS_MAX {
            let ids: Vec<u64> = self.ids.clone();
            for id in ids {
                self.process(id);
            }
            if self.queue.is_empty() {
                return;
            }
            while let Some((channel, from, to, bytes)) = self.queue.pop_front() {
                if self.cut.contains(&(from, to)) {
                    continue;
                }
                let Some(Some(node)) = self.nodes.get_mut(&to) else {
                    continue;
                };
                let message = decode_message(&bytes, from).unwrap();
                node.step(&channel, message).unwrap();
                self.delivered += 1;
            }
        }
        panic!("cluster did not settle");
    }

    fn process(&mut self, id: u64) {
        let Some(Some(node)) = self.nodes.get_mut(&id) else {
            return;
        };
        let mut outbox = Outbox::default();
        let applied = node.process(&mut outbox).unwrap();
        for (channel, message) in outbox.0 {
            let bytes = encode_message(&message).unwrap();
            self.queue.push_back((channel, id, message.to, bytes));
        }
        for (channel, event) in applied {
            self.apply(id, &channel, event);
        }
    }

    fn apply(&mut self, id: u64, channel: &str, event: Applied) {
        let ledger = self
            .ledgers
            .get_mut(&id)
            .unwrap()
            .entry(channel.to_string())
            .or_default();
        match event {
            Applied::Block { raft_index, data } => {
                assert!(
                    raft_index > ledger.last_raft_index,
                    "block replayed at {raft_index}"
                );
                ledger.blocks.push(data);
                ledger.last_raft_index = raft_index;
            }
            Applied::ConfChange { raft_index, .. } => ledger.last_raft_index = raft_index,
            Applied::SnapshotInstalled { raft_index, data } => {
                ledger.blocks = decode_ledger(&data);
                ledger.last_raft_index = raft_index;
                ledger.snapshots_installed += 1;
            }
            Applied::SnapshotDue { raft_index } => {
                assert_eq!(raft_index, ledger.last_raft_index.max(raft_index));
                let data = encode_ledger(&ledger.blocks);
                let node = self.nodes.get_mut(&id).unwrap().as_mut().unwrap();
                node.take_snapshot(channel, raft_index, data).unwrap();
            }
        }
    }

    /// The leader every live, connected node agrees on, once there is one.
    pub fn leader(&self, channel: &str) -> Option<u64> {
        let leaders: Vec<u64> = self
            .nodes
            .values()
            .flatten()
            .filter_map(|n| n.chain(channel).filter(|c| c.is_leader()).map(|_| n.id()))
            .collect();
        match leaders.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// Ticks until `channel` has exactly one leader that `voters` all follow.
    pub fn elect(&mut self, channel: &str, voters: &[u64]) -> u64 {
        for _ in 0..ELECTION_TICKS_MAX {
            self.tick();
            if let Some(leader) = self.leader(channel) {
                let agreed = voters
                    .iter()
                    .all(|id| self.node(*id).chain(channel).unwrap().leader() == Some(leader));
                if agreed && voters.contains(&leader) {
                    return leader;
                }
            }
        }
        panic!("no leader elected for {channel}");
    }

    pub fn propose(&mut self, id: u64, channel: &str, data: &[u8]) -> Result<(), RaftError> {
        let result = self.node_mut(id).propose(channel, data.to_vec());
        self.settle();
        result
    }

    /// Drops node `id` as a crash would: nothing unsynced survives.
    pub fn crash(&mut self, id: u64) {
        self.nodes.insert(id, None);
    }

    /// Restarts a crashed durable node from its WAL; its block writer keeps its ledger.
    pub fn restart(&mut self, id: u64) -> weft_orderer_raft::wal::RecoveryStats {
        let dir = self.wal_dirs[&id].clone();
        let (wal, logs, stats) = SharedWal::open(&dir).unwrap();
        let mut node = ConsensusNode::new(id, SimWal::Durable(wal));
        for (channel, log) in logs {
            let block_index = self.ledger(id, &channel).last_raft_index;
            node.restore_channel(&channel, log, self.options.clone(), block_index)
                .unwrap();
        }
        self.nodes.insert(id, Some(node));
        stats
    }

    pub fn wal_dir(&self, id: u64) -> PathBuf {
        self.wal_dirs[&id].clone()
    }
}

pub fn channels(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("channel{i:04}")).collect()
}
