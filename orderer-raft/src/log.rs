//! One channel's raft log held in memory: the raft-rs `Storage` every `RawNode` reads.
//!
//! Durability is not this type's job: the shared WAL (`crate::wal`) records every mutation and
//! rebuilds a `ChannelLog` on restart. Memory stays bounded because a snapshot compacts the log,
//! keeping only `SNAPSHOT_CATCHUP_ENTRIES` entries behind it (Fabric's etcdraft keeps the same few
//! entries so a follower that is slightly behind catches up from the log, not from a snapshot).

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, Storage, StorageError};

use crate::RaftError;

/// Entries kept behind a locally taken snapshot (Fabric: `DefaultSnapshotCatchUpEntries`).
pub const SNAPSHOT_CATCHUP_ENTRIES: u64 = 4;

/// The raft log, hard state and latest snapshot of one channel.
#[derive(Debug, Clone, Default)]
pub struct ChannelLog {
    hard_state: HardState,
    /// Membership as of the applied index; copied into snapshots taken locally.
    conf_state: ConfState,
    snapshot: Snapshot,
    /// Index and term of the entry just before `entries[0]`.
    offset_index: u64,
    offset_term: u64,
    entries: Vec<Entry>,
}

impl ChannelLog {
    /// A fresh log for a channel whose first members are `voters`.
    pub fn bootstrap(voters: &[u64]) -> Self {
        let mut log = Self::default();
        log.conf_state.set_voters(voters.to_vec());
        log.snapshot
            .mut_metadata()
            .set_conf_state(log.conf_state.clone());
        log
    }

    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    pub fn conf_state(&self) -> &ConfState {
        &self.conf_state
    }

    /// The latest snapshot (index 0 when none was taken or received).
    pub fn latest_snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    pub fn set_hard_state(&mut self, hard_state: HardState) {
        self.hard_state = hard_state;
    }

    pub fn set_conf_state(&mut self, conf_state: ConfState) {
        self.conf_state = conf_state;
    }

    pub fn first_index(&self) -> u64 {
        self.offset_index + 1
    }

    pub fn last_index(&self) -> u64 {
        self.offset_index + self.entries.len() as u64
    }

    /// The entries held in memory with an index above `index`.
    pub fn entries_after(&self, index: u64) -> &[Entry] {
        let skip = index.saturating_sub(self.offset_index);
        let skip = usize::try_from(skip)
            .unwrap_or(usize::MAX)
            .min(self.entries.len());
        &self.entries[skip..]
    }

    /// Number of entries held in memory.
    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// Appends `entries`, replacing any conflicting suffix. The first new entry must not leave a
    /// gap after the last one and must not reach into the compacted prefix.
    pub fn append(&mut self, entries: &[Entry]) -> Result<(), RaftError> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        if first.index <= self.offset_index || first.index > self.last_index() + 1 {
            return Err(RaftError::LogGap {
                first_new: first.index,
                first: self.first_index(),
                last: self.last_index(),
            });
        }
        if entries.windows(2).any(|w| w[1].index != w[0].index + 1) {
            return Err(RaftError::LogGap {
                first_new: first.index,
                first: self.first_index(),
                last: self.last_index(),
            });
        }
        self.entries
            .truncate((first.index - self.offset_index - 1) as usize);
        self.entries.extend_from_slice(entries);
        Ok(())
    }

    /// Installs a snapshot: received from a leader, or taken locally (then the log after it is
    /// kept, along with `keep_behind` entries before it).
    pub fn install_snapshot(&mut self, snapshot: Snapshot, keep_behind: u64) {
        let index = snapshot.get_metadata().index;
        let term = snapshot.get_metadata().term;
        if index <= self.snapshot.get_metadata().index {
            return;
        }
        if self.local_term(index) == Some(term) {
            let keep_from = index.saturating_sub(keep_behind).max(self.offset_index);
            if keep_from > self.offset_index {
                let drop = (keep_from - self.offset_index) as usize;
                self.offset_term = self.entries[drop - 1].term;
                self.entries.drain(..drop);
                self.offset_index = keep_from;
            }
        } else {
            self.entries.clear();
            self.offset_index = index;
            self.offset_term = term;
        }
        if self.hard_state.commit < index {
            self.hard_state.commit = index;
        }
        self.conf_state = snapshot.get_metadata().get_conf_state().clone();
        self.snapshot = snapshot;
    }

    /// Builds a snapshot at `index` (an applied entry) carrying `data`.
    pub fn make_snapshot(&self, index: u64, data: Vec<u8>) -> Result<Snapshot, RaftError> {
        let term = self.local_term(index).ok_or(RaftError::SnapshotIndex {
            index,
            first: self.first_index(),
            last: self.last_index(),
        })?;
        let mut snapshot = Snapshot::default();
        snapshot.set_data(data.into());
        let meta = snapshot.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(self.conf_state.clone());
        Ok(snapshot)
    }

    fn local_term(&self, index: u64) -> Option<u64> {
        if index == self.offset_index {
            return Some(self.offset_term);
        }
        if index < self.offset_index || index > self.last_index() {
            return None;
        }
        Some(self.entries[(index - self.offset_index - 1) as usize].term)
    }
}

impl Storage for ChannelLog {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(RaftState::new(
            self.hard_state.clone(),
            self.conf_state.clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low <= self.offset_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last_index() + 1 || low > high {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let lo = (low - self.offset_index - 1) as usize;
        let hi = (high - self.offset_index - 1) as usize;
        let mut out = self.entries[lo..hi].to_vec();
        raft::util::limit_size(&mut out, max_size.into());
        Ok(out)
    }

    fn term(&self, index: u64) -> raft::Result<u64> {
        if index < self.offset_index {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        self.local_term(index)
            .ok_or(raft::Error::Store(StorageError::Unavailable))
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(ChannelLog::first_index(self))
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(ChannelLog::last_index(self))
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        if self.snapshot.get_metadata().index < request_index || self.snapshot.is_empty() {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(self.snapshot.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        let mut e = Entry::default();
        e.set_index(index);
        e.set_term(term);
        e
    }

    #[test]
    fn append_replaces_conflicting_suffix_and_rejects_gaps() {
        let mut log = ChannelLog::bootstrap(&[1, 2, 3]);
        log.append(&[entry(1, 1), entry(2, 1), entry(3, 1)])
            .unwrap();
        log.append(&[entry(2, 2)]).unwrap();
        assert_eq!(log.last_index(), 2);
        assert_eq!(Storage::term(&log, 2).unwrap(), 2);
        assert!(log.append(&[entry(4, 2)]).is_err());
        assert!(log.append(&[entry(3, 2), entry(5, 2)]).is_err());
    }

    #[test]
    fn local_snapshot_keeps_catchup_entries_and_later_log() {
        let mut log = ChannelLog::bootstrap(&[1]);
        let entries: Vec<Entry> = (1..=10).map(|i| entry(i, 1)).collect();
        log.append(&entries).unwrap();
        let snap = log.make_snapshot(8, b"state".to_vec()).unwrap();
        log.install_snapshot(snap, SNAPSHOT_CATCHUP_ENTRIES);
        assert_eq!(log.first_index(), 5);
        assert_eq!(log.last_index(), 10);
        assert_eq!(Storage::snapshot(&log, 0, 2).unwrap().get_data(), b"state");
        let ctx = GetEntriesContext::empty(false);
        assert!(Storage::entries(&log, 4, 6, None, ctx).is_err());
    }

    #[test]
    fn received_snapshot_with_unknown_term_discards_log() {
        let mut log = ChannelLog::bootstrap(&[1, 2, 3]);
        log.append(&[entry(1, 1), entry(2, 1)]).unwrap();
        let mut snap = Snapshot::default();
        snap.mut_metadata().index = 20;
        snap.mut_metadata().term = 3;
        log.install_snapshot(snap, 0);
        assert_eq!(log.first_index(), 21);
        assert_eq!(log.last_index(), 20);
        assert_eq!(Storage::term(&log, 20).unwrap(), 3);
        assert_eq!(log.hard_state().commit, 20);
    }
}
