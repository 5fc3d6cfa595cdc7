//! Versioned state stores: the trait the validator reads from and two backends.
//!
//! [`MemoryStateStore`] is for tests. [`LevelDbStateDb`] keeps the state of every channel of a
//! node in one leveldb database; [`LevelDbStateDb::channel`] gives a channel's view.
//!
//! ## LevelDB layout
//!
//! All lengths are 4-byte big-endian.
//!
//! - Entry: key `'d' | len(channel) | channel | len(namespace) | namespace | key`, value
//!   `Height::to_bytes() | len(metadata) | metadata | value`. A zero metadata length means no
//!   metadata (Fabric's serialized metadata is never empty). Within one channel and namespace the
//!   prefix is fixed, so leveldb's byte order is key order and range scans are one seek.
//! - Savepoint: key `'s' | len(channel) | channel`, value `Height::to_bytes()` of the last
//!   transaction whose block was applied.
//!
//! Hashed private-collection state lives in the namespace `ns$$h<collection>` (see
//! [`super::hashed_namespace`]).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::RwLock;

use rusty_leveldb::{DB, DBIterator, LdbIterator, Options, WriteBatch};

use super::{Height, KvError, UpdateBatch, VersionedValue};

/// A key and its value, as a range scan yields them.
pub type ScanItem = Result<(Vec<u8>, VersionedValue), KvError>;

/// Committed state of one channel, versioned by [`Height`].
pub trait VersionedStore {
    /// The committed value of `key` in namespace `ns`.
    fn get(&self, ns: &str, key: &[u8]) -> Result<Option<VersionedValue>, KvError>;

    /// Entries of `ns` with `start <= key < end` in byte order of keys; an empty `end` means
    /// the end of the namespace (Fabric's convention for range queries).
    fn scan<'a>(
        &'a self,
        ns: &str,
        start: &[u8],
        end: &[u8],
    ) -> Result<Box<dyn Iterator<Item = ScanItem> + 'a>, KvError>;

    /// Applies every change of `batch` and records `savepoint`, all or nothing.
    fn apply(&self, batch: &UpdateBatch, savepoint: Height) -> Result<(), KvError>;

    /// Height of the last applied batch, `None` for a fresh store.
    fn savepoint(&self) -> Result<Option<Height>, KvError>;
}

/// In-memory state of one channel, for tests.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    inner: RwLock<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    entries: BTreeMap<String, BTreeMap<Vec<u8>, VersionedValue>>,
    savepoint: Option<Height>,
}

impl MemoryStateStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, MemoryInner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters to tests, so a poisoned lock is used as is.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl VersionedStore for MemoryStateStore {
    fn get(&self, ns: &str, key: &[u8]) -> Result<Option<VersionedValue>, KvError> {
        Ok(self
            .read()
            .entries
            .get(ns)
            .and_then(|m| m.get(key))
            .cloned())
    }

    fn scan<'a>(
        &'a self,
        ns: &str,
        start: &[u8],
        end: &[u8],
    ) -> Result<Box<dyn Iterator<Item = ScanItem> + 'a>, KvError> {
        let inner = self.read();
        let mut out = Vec::new();
        if let Some(keys) = inner.entries.get(ns)
            && (end.is_empty() || start < end)
        {
            let upper = if end.is_empty() {
                Bound::Unbounded
            } else {
                Bound::Excluded(end.to_vec())
            };
            out = keys
                .range((Bound::Included(start.to_vec()), upper))
                .map(|(k, v)| Ok((k.clone(), v.clone())))
                .collect();
        }
        Ok(Box::new(out.into_iter()))
    }

    fn apply(&self, batch: &UpdateBatch, savepoint: Height) -> Result<(), KvError> {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        for (ns, key, entry) in batch.state_changes() {
            match entry.to_versioned() {
                Some(value) => {
                    inner
                        .entries
                        .entry(ns)
                        .or_default()
                        .insert(key.clone(), value);
                }
                None => {
                    if let Some(keys) = inner.entries.get_mut(&ns) {
                        keys.remove(key);
                    }
                }
            }
        }
        inner.savepoint = Some(savepoint);
        Ok(())
    }

    fn savepoint(&self) -> Result<Option<Height>, KvError> {
        Ok(self.read().savepoint)
    }
}

/// One leveldb database holding the state of every channel of a node.
///
/// The handle and its channel views are single-threaded (leveldb's Rust port is not `Send`);
/// keep them on the committer's thread.
pub struct LevelDbStateDb {
    db: Rc<RefCell<DB>>,
    path: PathBuf,
}

/// The state of one channel inside a [`LevelDbStateDb`].
pub struct LevelDbChannelState {
    db: Rc<RefCell<DB>>,
    path: PathBuf,
    channel: Vec<u8>,
}

const ENTRY_TAG: u8 = b'd';
const SAVEPOINT_TAG: u8 = b's';

fn push_len_prefixed(out: &mut Vec<u8>, part: &[u8]) {
    // Channel ids and namespaces are far below 4 GiB; saturate rather than wrap if not.
    let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(part);
}

fn entry_prefix(channel: &[u8], ns: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + channel.len() + ns.len());
    out.push(ENTRY_TAG);
    push_len_prefixed(&mut out, channel);
    push_len_prefixed(&mut out, ns.as_bytes());
    out
}

fn savepoint_key(channel: &[u8]) -> Vec<u8> {
    let mut out = vec![SAVEPOINT_TAG];
    push_len_prefixed(&mut out, channel);
    out
}

fn encode_value(value: &VersionedValue) -> Vec<u8> {
    let metadata = value.metadata.as_deref().unwrap_or_default();
    let mut out = value.version.to_bytes();
    push_len_prefixed(&mut out, metadata);
    out.extend_from_slice(&value.value);
    out
}

fn decode_value(ns: &str, bytes: &[u8]) -> Result<VersionedValue, KvError> {
    let corrupt = |reason: &str| KvError::CorruptEntry {
        namespace: ns.to_owned(),
        reason: reason.to_owned(),
    };
    let (version, used) = Height::from_bytes(bytes)?;
    let rest = &bytes[used..];
    let (len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt("metadata length missing"))?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err(corrupt("metadata cut short"));
    }
    let (metadata, value) = rest.split_at(len);
    Ok(VersionedValue {
        value: value.to_vec(),
        metadata: (!metadata.is_empty()).then(|| metadata.to_vec()),
        version,
    })
}

impl LevelDbStateDb {
    /// Opens (creating if needed) the state database in directory `path`.
    pub fn open(path: &Path) -> Result<Self, KvError> {
        let options = Options {
            create_if_missing: true,
            ..Options::default()
        };
        let db = DB::open(path, options).map_err(|e| KvError::Db {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            db: Rc::new(RefCell::new(db)),
            path: path.to_owned(),
        })
    }

    /// The view of `channel`; costs no I/O.
    pub fn channel(&self, channel: &str) -> LevelDbChannelState {
        LevelDbChannelState {
            db: Rc::clone(&self.db),
            path: self.path.clone(),
            channel: channel.as_bytes().to_vec(),
        }
    }
}

impl LevelDbChannelState {
    fn db_error(&self, e: impl std::fmt::Display) -> KvError {
        KvError::Db {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

impl VersionedStore for LevelDbChannelState {
    fn get(&self, ns: &str, key: &[u8]) -> Result<Option<VersionedValue>, KvError> {
        let mut db_key = entry_prefix(&self.channel, ns);
        db_key.extend_from_slice(key);
        let found = self.db.borrow_mut().get(&db_key);
        found.map(|bytes| decode_value(ns, &bytes)).transpose()
    }

    fn scan<'a>(
        &'a self,
        ns: &str,
        start: &[u8],
        end: &[u8],
    ) -> Result<Box<dyn Iterator<Item = ScanItem> + 'a>, KvError> {
        let prefix = entry_prefix(&self.channel, ns);
        let mut iter = self
            .db
            .borrow_mut()
            .new_iter()
            .map_err(|e| self.db_error(e))?;
        let mut first = prefix.clone();
        first.extend_from_slice(start);
        iter.seek(&first);
        Ok(Box::new(LevelDbScan {
            iter,
            prefix,
            end: end.to_vec(),
            ns: ns.to_owned(),
            done: !(end.is_empty() || start < end),
        }))
    }

    fn apply(&self, batch: &UpdateBatch, savepoint: Height) -> Result<(), KvError> {
        let mut writes = WriteBatch::default();
        for (ns, key, entry) in batch.state_changes() {
            let mut db_key = entry_prefix(&self.channel, &ns);
            db_key.extend_from_slice(key);
            match entry.to_versioned() {
                Some(value) => writes.put(&db_key, &encode_value(&value)),
                None => writes.delete(&db_key),
            }
        }
        writes.put(&savepoint_key(&self.channel), &savepoint.to_bytes());
        self.db
            .borrow_mut()
            .write(writes, true)
            .map_err(|e| self.db_error(e))
    }

    fn savepoint(&self) -> Result<Option<Height>, KvError> {
        let found = self.db.borrow_mut().get(&savepoint_key(&self.channel));
        found
            .map(|bytes| Height::from_bytes(&bytes).map(|(h, _)| h))
            .transpose()
    }
}

struct LevelDbScan {
    iter: DBIterator,
    prefix: Vec<u8>,
    end: Vec<u8>,
    ns: String,
    done: bool,
}

impl Iterator for LevelDbScan {
    type Item = ScanItem;

    fn next(&mut self) -> Option<ScanItem> {
        if self.done || !self.iter.valid() {
            return None;
        }
        let (db_key, value) = self.iter.current()?;
        let Some(key) = db_key.strip_prefix(self.prefix.as_slice()) else {
            self.done = true;
            return None;
        };
        if !self.end.is_empty() && key >= self.end.as_slice() {
            self.done = true;
            return None;
        }
        let item = decode_value(&self.ns, &value).map(|v| (key.to_vec(), v));
        if !self.iter.advance() {
            self.done = true;
        }
        Some(item)
    }
}
