//! Key history: for each key, the heights of the valid transactions that wrote it, so that
//! `GetHistoryForKey` can read the values back from the blocks (F25
//! core/ledger/kvledger/history/db.go keeps the same facts: one empty-valued entry per
//! namespace, key, block and transaction, and a savepoint).
//!
//! Only public writes of valid endorser transactions are recorded, as Fabric does; private and
//! hashed writes are not. Like the state database, one leveldb database holds every channel of
//! a node and the handles are single-threaded.
//!
//! ## LevelDB layout
//!
//! All lengths are 4-byte big-endian, numbers 8-byte big-endian (so byte order is height order).
//!
//! - Entry: key `'h' | len(channel) | channel | len(namespace) | namespace | len(key) | key |
//!   block | tx`, empty value.
//! - Savepoint: key `'s' | len(channel) | channel`, value `block` of the last recorded block.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rusty_leveldb::{DB, LdbIterator, Options, WriteBatch};

use super::{Height, KvError};

/// One leveldb database holding the key history of every channel of a node.
pub struct LevelDbHistoryDb {
    db: Rc<RefCell<DB>>,
    path: PathBuf,
}

/// The history of one channel in a [`LevelDbHistoryDb`].
#[derive(Clone)]
pub struct ChannelHistory {
    db: Rc<RefCell<DB>>,
    path: PathBuf,
    channel: Vec<u8>,
}

/// One write to remember: the key `key` of namespace `namespace` written by transaction
/// `tx_num` of the block being recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryWrite<'a> {
    pub namespace: &'a str,
    pub key: &'a [u8],
    pub tx_num: u64,
}

fn push_len_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    // Channel ids, namespaces and keys come from decoded protobuf strings, far below 4 GiB.
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn key_prefix(channel: &[u8], ns: &str, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(13 + channel.len() + ns.len() + key.len() + 16);
    out.push(b'h');
    push_len_prefixed(&mut out, channel);
    push_len_prefixed(&mut out, ns.as_bytes());
    push_len_prefixed(&mut out, key);
    out
}

fn savepoint_key(channel: &[u8]) -> Vec<u8> {
    let mut out = vec![b's'];
    push_len_prefixed(&mut out, channel);
    out
}

impl LevelDbHistoryDb {
    /// Opens (or creates) the history database at `path`.
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

    /// The history of `channel`; costs no I/O.
    pub fn channel(&self, channel: &str) -> ChannelHistory {
        ChannelHistory {
            db: Rc::clone(&self.db),
            path: self.path.clone(),
            channel: channel.as_bytes().to_vec(),
        }
    }
}

impl ChannelHistory {
    fn db_error(&self, e: impl std::fmt::Display) -> KvError {
        KvError::Db {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }

    /// Records the writes of block `block_num` and moves the savepoint to it, all or nothing.
    /// Recording a block again (replay after a crash) writes the same entries.
    pub fn record_block(&self, block_num: u64, writes: &[HistoryWrite<'_>]) -> Result<(), KvError> {
        let mut batch = WriteBatch::default();
        for write in writes {
            let mut key = key_prefix(&self.channel, write.namespace, write.key);
            key.extend_from_slice(&block_num.to_be_bytes());
            key.extend_from_slice(&write.tx_num.to_be_bytes());
            batch.put(&key, &[]);
        }
        batch.put(&savepoint_key(&self.channel), &block_num.to_be_bytes());
        self.db
            .borrow_mut()
            .write(batch, true)
            .map_err(|e| self.db_error(e))
    }

    /// Number of the last recorded block, `None` before the first.
    pub fn savepoint(&self) -> Result<Option<u64>, KvError> {
        let found = self.db.borrow_mut().get(&savepoint_key(&self.channel));
        match found {
            None => Ok(None),
            Some(bytes) => {
                let array: [u8; 8] = bytes[..].try_into().map_err(|_| KvError::CorruptEntry {
                    namespace: String::new(),
                    reason: format!("history savepoint is {} bytes, not 8", bytes.len()),
                })?;
                Ok(Some(u64::from_be_bytes(array)))
            }
        }
    }

    /// Heights of the transactions that wrote `key` of `ns`, newest first, at most `limit` of
    /// them (Fabric's history iterator also starts at the newest write).
    pub fn key_history(&self, ns: &str, key: &[u8], limit: usize) -> Result<Vec<Height>, KvError> {
        let prefix = key_prefix(&self.channel, ns, key);
        let mut iter = self
            .db
            .borrow_mut()
            .new_iter()
            .map_err(|e| self.db_error(e))?;
        iter.seek(&prefix);
        let mut newest: VecDeque<Height> = VecDeque::with_capacity(limit.min(1024));
        while iter.valid() {
            let Some((db_key, _)) = iter.current() else {
                break;
            };
            let Some(suffix) = db_key.strip_prefix(prefix.as_slice()) else {
                break;
            };
            let height = decode_height(suffix).ok_or_else(|| KvError::CorruptEntry {
                namespace: ns.to_owned(),
                reason: format!("history entry suffix is {} bytes, not 16", suffix.len()),
            })?;
            if limit > 0 {
                if newest.len() == limit {
                    newest.pop_front();
                }
                newest.push_back(height);
            }
            if !iter.advance() {
                break;
            }
        }
        Ok(newest.into_iter().rev().collect())
    }
}

fn decode_height(suffix: &[u8]) -> Option<Height> {
    let block: [u8; 8] = suffix.get(..8)?.try_into().ok()?;
    let tx: [u8; 8] = suffix.get(8..16)?.try_into().ok()?;
    (suffix.len() == 16).then(|| Height::new(u64::from_be_bytes(block), u64::from_be_bytes(tx)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write<'a>(namespace: &'a str, key: &'a [u8], tx_num: u64) -> HistoryWrite<'a> {
        HistoryWrite {
            namespace,
            key,
            tx_num,
        }
    }

    #[test]
    fn history_is_newest_first_per_key_and_channel() {
        let dir = tempfile::tempdir().unwrap();
        let db = LevelDbHistoryDb::open(&dir.path().join("history")).unwrap();
        let a = db.channel("a");
        let b = db.channel("b");
        assert_eq!(a.savepoint().unwrap(), None);
        a.record_block(1, &[write("cc", b"k", 0), write("cc", b"k2", 1)])
            .unwrap();
        a.record_block(2, &[write("cc", b"k", 3)]).unwrap();
        // A key that is a prefix of another key must not see the other's entries.
        a.record_block(3, &[write("cc", b"k\0", 0), write("cc2", b"k", 0)])
            .unwrap();
        b.record_block(7, &[write("cc", b"k", 0)]).unwrap();
        assert_eq!(
            a.key_history("cc", b"k", 10).unwrap(),
            vec![Height::new(2, 3), Height::new(1, 0)]
        );
        assert_eq!(
            a.key_history("cc", b"k", 1).unwrap(),
            vec![Height::new(2, 3)]
        );
        assert_eq!(
            b.key_history("cc", b"k", 10).unwrap(),
            vec![Height::new(7, 0)]
        );
        assert_eq!(a.savepoint().unwrap(), Some(3));
        // Recording a block again changes nothing.
        a.record_block(2, &[write("cc", b"k", 3)]).unwrap();
        assert_eq!(a.key_history("cc", b"k", 10).unwrap().len(), 2);
        assert!(a.key_history("none", b"k", 10).unwrap().is_empty());
    }
}
