//! Committed state as the endorser reads it: a [`VersionedStore`] whose reads run on the
//! committer thread (which owns the single-threaded state database) through
//! [`Committer::with_state`]. Each read sees the state after some committed block; unlike
//! Fabric, commits are not held off for the whole simulation, so a simulation that straddles a
//! commit may read across it (the transaction then fails MVCC validation, as a stale read
//! would).

use weft_committer::Committer;
use weft_ledger::kv::{Height, KvError, ScanItem, UpdateBatch, VersionedStore, VersionedValue};

/// Most entries one range read returns to a simulation (Fabric's `ledger.state.totalQueryLimit`
/// default); a longer range fails rather than being cut silently.
pub const SCAN_ENTRIES_MAX: usize = 100_000;

/// A channel's committed state, read through the committer.
pub struct CommitterState {
    committer: Committer,
    channel: String,
}

impl CommitterState {
    pub fn new(committer: Committer, channel: &str) -> Self {
        Self {
            committer,
            channel: channel.to_owned(),
        }
    }

    fn read<R: Send + 'static>(
        &self,
        what: &str,
        read: impl FnOnce(&dyn VersionedStore) -> Result<R, KvError> + Send + 'static,
    ) -> Result<R, KvError> {
        self.committer
            .with_state(&self.channel, read)
            .map_err(|e| KvError::Db {
                path: format!("channel {}", self.channel),
                reason: format!("{what}: {e}"),
            })?
    }
}

impl VersionedStore for CommitterState {
    fn get(&self, ns: &str, key: &[u8]) -> Result<Option<VersionedValue>, KvError> {
        let (ns, key) = (ns.to_owned(), key.to_vec());
        self.read("reading state", move |state| state.get(&ns, &key))
    }

    fn scan<'a>(
        &'a self,
        ns: &str,
        start: &[u8],
        end: &[u8],
    ) -> Result<Box<dyn Iterator<Item = ScanItem> + 'a>, KvError> {
        let (ns, start, end) = (ns.to_owned(), start.to_vec(), end.to_vec());
        let channel = self.channel.clone();
        let entries = self.read("scanning state", move |state| {
            let mut entries = Vec::new();
            for item in state.scan(&ns, &start, &end)? {
                if entries.len() == SCAN_ENTRIES_MAX {
                    return Err(KvError::Db {
                        path: format!("channel {channel}"),
                        reason: format!(
                            "range query over {ns} returns more than {SCAN_ENTRIES_MAX} entries"
                        ),
                    });
                }
                entries.push(item?);
            }
            Ok(entries)
        })?;
        Ok(Box::new(entries.into_iter().map(Ok)))
    }

    fn apply(&self, _batch: &UpdateBatch, _savepoint: Height) -> Result<(), KvError> {
        Err(KvError::Db {
            path: format!("channel {}", self.channel),
            reason: "the endorser's view of state is read-only".into(),
        })
    }

    fn savepoint(&self) -> Result<Option<Height>, KvError> {
        self.read("reading the savepoint", |state| state.savepoint())
    }
}
