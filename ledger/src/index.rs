//! The index thread: sole owner of the leveldb index (whose handle cannot leave the thread that
//! opened it). It recovers the index from the segments on open, then answers lookups and applies
//! the writer's batches in the order they arrive, acknowledging appends once they are visible.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use rusty_leveldb::{DB, LdbIterator, Options, WriteBatch};

use crate::error::{LedgerError, Result};
use crate::keys::{self, ChannelInfo, Checkpoint};
use crate::options::{BLOCK_SIZE_MAX_BYTES_CEILING, INDEX_QUEUE_MAX};
use crate::prepare::{decode_block, prepare};
use crate::segment::{
    RecordKind, RecordLocation, SEGMENT_HEADER_BYTES, SegmentScanner, create_segment,
    list_segments, payload_size_max, segment_path,
};
use crate::store::Shared;

/// Entries written per leveldb batch while re-indexing, and keys deleted per batch when
/// removing a channel, so neither holds a whole ledger in memory.
const RECOVERY_BATCH_RECORDS: usize = 1024;
const REMOVE_BATCH_KEYS: usize = 10_000;

pub(crate) type Reply<T> = SyncSender<Result<T>>;

/// A one-shot reply channel.
pub(crate) fn reply_channel<T>() -> (Reply<T>, Receiver<Result<T>>) {
    sync_channel(1)
}

pub(crate) enum IndexRequest {
    Get {
        key: Vec<u8>,
        reply: Reply<Option<Vec<u8>>>,
    },
    FirstKeyWithPrefix {
        prefix: Vec<u8>,
        reply: Reply<Option<Vec<u8>>>,
    },
    Channels {
        reply: Reply<Vec<String>>,
    },
    Apply {
        entries: Vec<IndexEntry>,
        checkpoint: Checkpoint,
        acks: Vec<Reply<()>>,
    },
    Shutdown,
}

/// One record's contribution to the index.
pub(crate) enum IndexEntry {
    Block {
        channel: Arc<str>,
        location: RecordLocation,
        header_hash: [u8; 32],
        txids: Vec<Option<String>>,
        /// The channel's info after this block.
        info: ChannelInfo,
    },
    ChannelRemoved {
        channel: Arc<str>,
    },
}

/// Opens the index, brings it up to date with the segments and starts the thread serving it.
/// Returns the request queue, the thread, and where the writer continues (end of the newest
/// segment).
pub(crate) fn spawn(
    shared: Arc<Shared>,
) -> Result<(SyncSender<IndexRequest>, JoinHandle<()>, Checkpoint)> {
    let (requests, receiver) = sync_channel(INDEX_QUEUE_MAX);
    let (ready, ready_receiver) = reply_channel();
    let index_dir = shared.index_dir.clone();
    let thread = std::thread::Builder::new()
        .name("weft-ledger-index".into())
        .spawn(move || {
            let mut index = match Index::open(shared).and_then(|mut index| {
                let tail = index.recover()?;
                Ok((index, tail))
            }) {
                Ok((index, tail)) => {
                    let _ = ready.send(Ok(tail));
                    index
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            index.serve(receiver);
        })
        .map_err(|e| LedgerError::io("starting the index thread for", &index_dir, e))?;
    match ready_receiver.recv() {
        Ok(Ok(tail)) => Ok((requests, thread, tail)),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(LedgerError::Index {
                path: index_dir,
                reason: "the index thread stopped while opening".into(),
            })
        }
    }
}

struct Index {
    db: DB,
    shared: Arc<Shared>,
}

fn open_db(path: &Path) -> std::result::Result<DB, String> {
    let options = Options {
        create_if_missing: true,
        ..Options::default()
    };
    DB::open(path, options).map_err(|e| e.to_string())
}

impl Index {
    /// Opens the leveldb index. An index that cannot be opened is moved aside and rebuilt from
    /// the segments: it holds nothing the segments do not.
    fn open(shared: Arc<Shared>) -> Result<Self> {
        let path = shared.index_dir.clone();
        let db = match open_db(&path) {
            Ok(db) => db,
            Err(reason) => {
                let aside = aside_path(&path);
                tracing::warn!(index = %path.display(), %reason, moved_to = %aside.display(),
                    "block index cannot be opened; rebuilding it from the segment files");
                std::fs::rename(&path, &aside)
                    .map_err(|e| LedgerError::io("moving aside", &path, e))?;
                open_db(&path).map_err(|reason| LedgerError::Index { path, reason })?
            }
        };
        Ok(Index { db, shared })
    }

    fn index_error(&self, reason: impl ToString) -> LedgerError {
        LedgerError::Index {
            path: self.shared.index_dir.clone(),
            reason: reason.to_string(),
        }
    }

    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        self.db.get(key).map(|v| v.to_vec())
    }

    /// Keys starting with `prefix`, at most `limit` of them, in order.
    fn keys_with_prefix(&mut self, prefix: &[u8], limit: usize) -> Result<Vec<Vec<u8>>> {
        let mut iter = self.db.new_iter().map_err(|e| self.index_error(e))?;
        iter.seek(prefix);
        let mut keys = Vec::new();
        while keys.len() < limit && iter.valid() {
            let Some((key, _)) = iter.current() else {
                break;
            };
            if !key.starts_with(prefix) {
                break;
            }
            keys.push(key.to_vec());
            if !iter.advance() {
                break;
            }
        }
        Ok(keys)
    }

    fn channels(&mut self) -> Result<Vec<String>> {
        let keys = self.keys_with_prefix(keys::REGISTRY_PREFIX, usize::MAX)?;
        Ok(keys
            .iter()
            .filter_map(|k| std::str::from_utf8(&k[keys::REGISTRY_PREFIX.len()..]).ok())
            .map(str::to_owned)
            .collect())
    }

    fn serve(&mut self, receiver: Receiver<IndexRequest>) {
        while let Ok(request) = receiver.recv() {
            match request {
                IndexRequest::Get { key, reply } => {
                    let _ = reply.send(Ok(self.get(&key)));
                }
                IndexRequest::FirstKeyWithPrefix { prefix, reply } => {
                    let first = self.keys_with_prefix(&prefix, 1).map(|mut keys| keys.pop());
                    let _ = reply.send(first);
                }
                IndexRequest::Channels { reply } => {
                    let _ = reply.send(self.channels());
                }
                IndexRequest::Apply {
                    entries,
                    checkpoint,
                    acks,
                } => self.apply(entries, checkpoint, acks),
                IndexRequest::Shutdown => break,
            }
        }
        if let Err(e) = self.db.close() {
            tracing::warn!(error = %e, "closing the block index failed; it is rebuilt on the next start");
        }
    }

    fn apply(&mut self, entries: Vec<IndexEntry>, checkpoint: Checkpoint, acks: Vec<Reply<()>>) {
        let result = match self.shared.failure() {
            Some(reason) => Err(LedgerError::Failed { reason }),
            None => self.write_entries(&entries, checkpoint),
        };
        match &result {
            Ok(()) => {
                // Waiters first, so that when an append returns its waiters are already woken.
                for entry in &entries {
                    match entry {
                        IndexEntry::Block { channel, info, .. } => {
                            self.shared.watchers.notify(channel, info.height)
                        }
                        IndexEntry::ChannelRemoved { channel } => {
                            self.shared.watchers.reset(channel)
                        }
                    }
                }
                for ack in acks {
                    let _ = ack.send(Ok(()));
                }
            }
            Err(e) => {
                // The blocks are in the segments but the index missed them; only a restart,
                // which re-indexes from the checkpoint, can make them visible again.
                let reason = e.to_string();
                self.shared.fail(&reason);
                for ack in acks {
                    let _ = ack.send(Err(LedgerError::Failed {
                        reason: reason.clone(),
                    }));
                }
            }
        }
    }

    /// Writes index entries followed by the checkpoint that covers them.
    fn write_entries(&mut self, entries: &[IndexEntry], checkpoint: Checkpoint) -> Result<()> {
        let mut batch = WriteBatch::default();
        for entry in entries {
            match entry {
                IndexEntry::Block {
                    channel,
                    location,
                    header_hash,
                    txids,
                    info,
                } => {
                    let number = info.height - 1;
                    batch.put(
                        &keys::block_key(channel, number),
                        &keys::encode_location(location),
                    );
                    batch.put(
                        &keys::hash_key(channel, header_hash),
                        &keys::encode_number(number),
                    );
                    for (tx_index, txid) in txids.iter().enumerate() {
                        if let Some(txid) = txid {
                            batch.put(&keys::txid_key(channel, txid, number, tx_index as u32), &[]);
                        }
                    }
                    batch.put(&keys::info_key(channel), &info.encode());
                    if number == 0 {
                        batch.put(&keys::registry_key(channel), &[]);
                    }
                }
                IndexEntry::ChannelRemoved { channel } => {
                    let pending = std::mem::take(&mut batch);
                    self.db
                        .write(pending, false)
                        .map_err(|e| self.index_error(e))?;
                    self.remove_channel(channel)?;
                }
            }
        }
        batch.put(keys::CHECKPOINT_KEY, &checkpoint.encode());
        // "sync" here hands the log to the OS (it survives a killed process); the index is never
        // fsynced because it is rebuilt from the fsynced segments after a machine crash.
        self.db.write(batch, true).map_err(|e| self.index_error(e))
    }

    fn remove_channel(&mut self, channel: &str) -> Result<()> {
        let prefix = keys::channel_prefix(channel);
        loop {
            let doomed = self.keys_with_prefix(&prefix, REMOVE_BATCH_KEYS)?;
            if doomed.is_empty() {
                break;
            }
            let mut batch = WriteBatch::default();
            for key in &doomed {
                batch.delete(key);
            }
            self.db
                .write(batch, false)
                .map_err(|e| self.index_error(e))?;
        }
        let mut batch = WriteBatch::default();
        batch.delete(&keys::registry_key(channel));
        self.db.write(batch, false).map_err(|e| self.index_error(e))
    }

    /// Re-indexes every record after the checkpoint, truncating a damaged tail of the newest
    /// segment, and returns the end of the newest segment.
    fn recover(&mut self) -> Result<Checkpoint> {
        let dir = self.shared.segments_dir.clone();
        let checkpoint = match self.get(keys::CHECKPOINT_KEY) {
            Some(bytes) => Some(
                Checkpoint::decode(&bytes)
                    .ok_or_else(|| self.index_error("the checkpoint record is malformed"))?,
            ),
            None => None,
        };
        let segments = list_segments(&dir)?;
        let Some(&last) = segments.last() else {
            if let Some(checkpoint) = checkpoint {
                return Err(missing_segment(&dir, checkpoint.segment));
            }
            create_segment(&dir, 1)?;
            let tail = Checkpoint {
                segment: 1,
                offset: SEGMENT_HEADER_BYTES,
            };
            self.write_entries(&[], tail)?;
            return Ok(tail);
        };
        let start = checkpoint.unwrap_or(Checkpoint {
            segment: segments[0],
            offset: SEGMENT_HEADER_BYTES,
        });
        if !segments.contains(&start.segment) {
            return Err(missing_segment(&dir, start.segment));
        }
        let mut recovery = Recovery::default();
        let mut tail = start;
        for &segment in segments.iter().filter(|&&s| s >= start.segment) {
            let from = if segment == start.segment {
                start.offset
            } else {
                SEGMENT_HEADER_BYTES
            };
            tail = self.recover_segment(&mut recovery, segment, from, segment == last)?;
        }
        let entries = std::mem::take(&mut recovery.entries);
        self.write_entries(&entries, tail)?;
        self.shared
            .stats
            .reindexed_records
            .store(recovery.reindexed, std::sync::atomic::Ordering::Relaxed);
        if recovery.reindexed > 0 {
            tracing::info!(
                records = recovery.reindexed,
                "re-indexed blocks found in segments beyond the index"
            );
        }
        Ok(tail)
    }

    fn recover_segment(
        &mut self,
        recovery: &mut Recovery,
        segment: u64,
        from: u64,
        is_last: bool,
    ) -> Result<Checkpoint> {
        let dir = self.shared.segments_dir.clone();
        let path = segment_path(&dir, segment);
        let len = std::fs::metadata(&path)
            .map_err(|e| LedgerError::io("inspecting", &path, e))?
            .len();
        if len < SEGMENT_HEADER_BYTES && is_last {
            // Created but never written: a crash right after rolling over.
            std::fs::remove_file(&path).map_err(|e| LedgerError::io("removing", &path, e))?;
            create_segment(&dir, segment)?;
            return Ok(Checkpoint {
                segment,
                offset: SEGMENT_HEADER_BYTES,
            });
        }
        let mut scanner = SegmentScanner::open(
            &dir,
            segment,
            from,
            payload_size_max(BLOCK_SIZE_MAX_BYTES_CEILING),
        )?;
        loop {
            match scanner.next_record()? {
                Ok(None) => break,
                Ok(Some((location, record))) => {
                    if let Some(entry) = self.reindex_record(recovery, &path, location, record)? {
                        recovery.entries.push(entry);
                        recovery.reindexed += 1;
                    }
                    if recovery.entries.len() >= RECOVERY_BATCH_RECORDS {
                        let entries = std::mem::take(&mut recovery.entries);
                        let done = Checkpoint {
                            segment,
                            offset: scanner.offset(),
                        };
                        self.write_entries(&entries, done)?;
                        recovery.tips.clear();
                    }
                }
                Err(stop) if is_last => {
                    tracing::warn!(segment = %path.display(), offset = stop.offset, reason = %stop.reason,
                        "truncating an incomplete record left by an interrupted append");
                    truncate(&path, stop.offset)?;
                    self.shared
                        .stats
                        .truncated_bytes
                        .store(len - stop.offset, std::sync::atomic::Ordering::Relaxed);
                    return Ok(Checkpoint {
                        segment,
                        offset: stop.offset,
                    });
                }
                Err(stop) => return Err(LedgerError::corrupt(&path, stop.offset, stop.reason)),
            }
        }
        Ok(Checkpoint {
            segment,
            offset: scanner.offset(),
        })
    }

    /// Checks a record found beyond the checkpoint against its channel's chain and turns it into
    /// an index entry. Records already indexed (a block number below the height) are skipped.
    fn reindex_record(
        &mut self,
        recovery: &mut Recovery,
        path: &Path,
        location: RecordLocation,
        record: crate::segment::Record,
    ) -> Result<Option<IndexEntry>> {
        let channel: Arc<str> = Arc::from(record.channel.as_str());
        let corrupt = |reason: String| LedgerError::corrupt(path, location.offset, reason);
        if record.kind == RecordKind::ChannelRemoved {
            recovery
                .tips
                .insert(channel.clone(), ChannelInfo::default());
            return Ok(Some(IndexEntry::ChannelRemoved { channel }));
        }
        let tip = match recovery.tips.get(&channel) {
            Some(tip) => tip.clone(),
            None => {
                let stored = self.get(&keys::info_key(&channel));
                match stored {
                    Some(bytes) => ChannelInfo::decode(&bytes).ok_or_else(|| {
                        self.index_error(format!("channel {channel} info is malformed"))
                    })?,
                    None => ChannelInfo::default(),
                }
            }
        };
        let block = decode_block(&record.body, BLOCK_SIZE_MAX_BYTES_CEILING)
            .map_err(|e| corrupt(e.to_string()))?;
        let prepared = prepare(&channel, &block).map_err(|e| corrupt(e.to_string()))?;
        if prepared.number != record.number {
            return Err(corrupt(
                "record and block disagree on the block number".into(),
            ));
        }
        if prepared.number < tip.height {
            tracing::warn!(%channel, number = prepared.number, "skipping a second copy of an indexed block");
            return Ok(None);
        }
        if prepared.number > tip.height {
            return Err(corrupt(format!(
                "channel {channel} jumps from height {} to block {}",
                tip.height, prepared.number
            )));
        }
        if tip.height > 0 && prepared.previous_hash != tip.current_hash {
            return Err(corrupt(format!(
                "channel {channel} block {} does not chain onto block {}",
                prepared.number,
                tip.height - 1
            )));
        }
        let info = ChannelInfo {
            height: tip.height + 1,
            current_hash: prepared.header_hash.to_vec(),
            previous_hash: tip.current_hash,
        };
        recovery.tips.insert(channel.clone(), info.clone());
        Ok(Some(IndexEntry::Block {
            channel,
            location,
            header_hash: prepared.header_hash,
            txids: prepared.txids,
            info,
        }))
    }
}

#[derive(Default)]
struct Recovery {
    entries: Vec<IndexEntry>,
    tips: HashMap<Arc<str>, ChannelInfo>,
    reindexed: u64,
}

fn missing_segment(dir: &Path, segment: u64) -> LedgerError {
    LedgerError::corrupt(
        segment_path(dir, segment),
        0,
        "the index refers to this segment but it does not exist; restore it, or delete the index directory to rebuild from the segments that remain",
    )
}

fn truncate(path: &Path, len: u64) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| LedgerError::io("opening", path, e))?;
    file.set_len(len)
        .map_err(|e| LedgerError::io("truncating", path, e))?;
    file.sync_all()
        .map_err(|e| LedgerError::io("syncing", path, e))
}

fn aside_path(path: &Path) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".broken-{stamp}"));
    path.with_file_name(name)
}
