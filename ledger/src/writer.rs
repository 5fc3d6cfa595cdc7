//! The writer thread: sole appender to the newest segment. It takes whatever appends are queued
//! (from any channels, up to a bound), chains each onto its channel's tip, writes them with one
//! `write` and one fsync, and hands the index entries and acknowledgements to the index thread.
//! A caller's append returns only after its block is both durable and visible in the index.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender};

use crate::error::{LedgerError, Result};
use crate::index::{IndexEntry, IndexRequest, Reply, reply_channel};
use crate::keys::{self, ChannelInfo, Checkpoint};
use crate::options::{GROUP_COMMIT_BLOCKS_MAX, GROUP_COMMIT_BYTES_MAX, TIP_CACHE_CHANNELS_MAX};
use crate::prepare::PreparedBlock;
use crate::segment::{
    RecordKind, RecordLocation, SEGMENT_HEADER_BYTES, create_segment, encode_record, record_size,
    segment_path,
};
use crate::store::Shared;

pub(crate) enum WriteRequest {
    Append {
        channel: Arc<str>,
        block: PreparedBlock,
        bytes: Vec<u8>,
        reply: Reply<()>,
    },
    RemoveChannel {
        channel: Arc<str>,
        reply: Reply<()>,
    },
    Shutdown,
}

pub(crate) struct Writer {
    shared: Arc<Shared>,
    index: SyncSender<IndexRequest>,
    file: File,
    segment: u64,
    len: u64,
    /// Chain tips of recently written channels, ahead of the index by the batches in flight.
    tips: HashMap<Arc<str>, ChannelInfo>,
}

/// A batch being assembled: the bytes not yet written, and what to index and acknowledge.
struct Batch {
    buffer: Vec<u8>,
    entries: Vec<IndexEntry>,
    acks: Vec<Reply<()>>,
}

impl Writer {
    pub(crate) fn open(
        shared: Arc<Shared>,
        index: SyncSender<IndexRequest>,
        tail: Checkpoint,
    ) -> Result<Self> {
        let path = segment_path(&shared.segments_dir, tail.segment);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| LedgerError::io("opening", &path, e))?;
        Ok(Writer {
            shared,
            index,
            file,
            segment: tail.segment,
            len: tail.offset,
            tips: HashMap::new(),
        })
    }

    pub(crate) fn run(mut self, requests: Receiver<WriteRequest>) {
        while let Ok(first) = requests.recv() {
            let mut batch = Vec::new();
            let mut shutdown = false;
            let mut bytes = 0;
            let mut next = Some(first);
            while let Some(request) = next.take() {
                match request {
                    WriteRequest::Shutdown => shutdown = true,
                    request => {
                        if let WriteRequest::Append { bytes: b, .. } = &request {
                            bytes += b.len();
                        }
                        batch.push(request);
                    }
                }
                if shutdown
                    || batch.len() >= GROUP_COMMIT_BLOCKS_MAX
                    || bytes >= GROUP_COMMIT_BYTES_MAX
                {
                    break;
                }
                next = requests.try_recv().ok();
            }
            self.commit(batch);
            if shutdown {
                break;
            }
        }
        let _ = self.index.send(IndexRequest::Shutdown);
    }

    fn commit(&mut self, requests: Vec<WriteRequest>) {
        if let Some(reason) = self.shared.failure() {
            for request in requests {
                reply_to(
                    request,
                    Err(LedgerError::Failed {
                        reason: reason.clone(),
                    }),
                );
            }
            return;
        }
        if self.tips.len() > TIP_CACHE_CHANNELS_MAX {
            self.tips.clear();
        }
        let mut batch = Batch {
            buffer: Vec::new(),
            entries: Vec::new(),
            acks: Vec::new(),
        };
        let mut requests = requests.into_iter();
        while let Some(request) = requests.next() {
            if let Err(e) = self.add(&mut batch, request) {
                // Only I/O failures get here; the store stops accepting writes.
                self.fail_batch(batch, &e);
                for request in requests.by_ref() {
                    reply_to(
                        request,
                        Err(LedgerError::Failed {
                            reason: e.to_string(),
                        }),
                    );
                }
                return;
            }
        }
        if let Err(e) = self.flush(&mut batch.buffer) {
            self.fail_batch(batch, &e);
            return;
        }
        if batch.acks.is_empty() {
            return;
        }
        let checkpoint = Checkpoint {
            segment: self.segment,
            offset: self.len,
        };
        let apply = IndexRequest::Apply {
            entries: batch.entries,
            checkpoint,
            acks: batch.acks,
        };
        if let Err(std::sync::mpsc::SendError(IndexRequest::Apply { acks, .. })) =
            self.index.send(apply)
        {
            for ack in acks {
                let _ = ack.send(Err(LedgerError::Closed));
            }
        }
    }

    fn fail_batch(&mut self, batch: Batch, error: &LedgerError) {
        let reason = error.to_string();
        self.shared.fail(&reason);
        self.tips.clear();
        for ack in batch.acks {
            let _ = ack.send(Err(LedgerError::Failed {
                reason: reason.clone(),
            }));
        }
    }

    /// Adds one request to the batch. Requests refused for their content are answered here;
    /// an `Err` means the segment could not be written.
    fn add(&mut self, batch: &mut Batch, request: WriteRequest) -> Result<()> {
        match request {
            WriteRequest::Append {
                channel,
                block,
                bytes,
                reply,
            } => {
                let tip = match self.tip(&channel) {
                    Ok(tip) => tip,
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        return Ok(());
                    }
                };
                if let Err(e) = check_chain(&channel, &tip, &block) {
                    let _ = reply.send(Err(e));
                    return Ok(());
                }
                let location = match self.place(batch, &channel, bytes.len()) {
                    Ok(location) => location,
                    Err(e) => {
                        let _ = reply.send(Err(LedgerError::Failed {
                            reason: e.to_string(),
                        }));
                        return Err(e);
                    }
                };
                encode_record(
                    RecordKind::Block,
                    &channel,
                    block.number,
                    &bytes,
                    &mut batch.buffer,
                );
                let info = ChannelInfo {
                    height: tip.height + 1,
                    current_hash: block.header_hash.to_vec(),
                    previous_hash: tip.current_hash,
                };
                self.tips.insert(channel.clone(), info.clone());
                batch.entries.push(IndexEntry::Block {
                    channel,
                    location,
                    header_hash: block.header_hash,
                    txids: block.txids,
                    info,
                });
                batch.acks.push(reply);
                self.shared.stats.blocks.fetch_add(1, Ordering::Relaxed);
            }
            WriteRequest::RemoveChannel { channel, reply } => {
                if let Err(e) = self.place(batch, &channel, 0) {
                    let _ = reply.send(Err(LedgerError::Failed {
                        reason: e.to_string(),
                    }));
                    return Err(e);
                }
                encode_record(
                    RecordKind::ChannelRemoved,
                    &channel,
                    0,
                    &[],
                    &mut batch.buffer,
                );
                self.tips.insert(channel.clone(), ChannelInfo::default());
                batch.entries.push(IndexEntry::ChannelRemoved { channel });
                batch.acks.push(reply);
            }
            WriteRequest::Shutdown => {}
        }
        Ok(())
    }

    /// Where the next record goes, rolling to a new segment first if it would overflow this one
    /// (a record larger than a whole segment gets a segment of its own).
    fn place(
        &mut self,
        batch: &mut Batch,
        channel: &str,
        body_len: usize,
    ) -> Result<RecordLocation> {
        let size = record_size(channel, body_len) as u64;
        let end = self.len + batch.buffer.len() as u64;
        if end > SEGMENT_HEADER_BYTES && end + size > self.shared.options.segment_size_max_bytes {
            self.flush(&mut batch.buffer)?;
            self.roll()?;
        }
        Ok(RecordLocation {
            segment: self.segment,
            offset: self.len + batch.buffer.len() as u64,
            length: size as u32,
        })
    }

    /// Writes and fsyncs the buffered records.
    fn flush(&mut self, buffer: &mut Vec<u8>) -> Result<()> {
        if buffer.is_empty() {
            return Ok(());
        }
        let path = || segment_path(&self.shared.segments_dir, self.segment);
        self.file
            .write_all_at(buffer, self.len)
            .map_err(|e| LedgerError::io("writing", path(), e))?;
        if self.shared.options.fsync {
            self.file
                .sync_data()
                .map_err(|e| LedgerError::io("syncing", path(), e))?;
            self.shared.stats.fsyncs.fetch_add(1, Ordering::Relaxed);
        }
        self.shared
            .stats
            .bytes
            .fetch_add(buffer.len() as u64, Ordering::Relaxed);
        self.len += buffer.len() as u64;
        buffer.clear();
        Ok(())
    }

    fn roll(&mut self) -> Result<()> {
        let next = self.segment + 1;
        self.file = create_segment(&self.shared.segments_dir, next)?;
        self.segment = next;
        self.len = SEGMENT_HEADER_BYTES;
        Ok(())
    }

    fn tip(&mut self, channel: &Arc<str>) -> Result<ChannelInfo> {
        if let Some(tip) = self.tips.get(channel) {
            return Ok(tip.clone());
        }
        let (reply, receiver) = reply_channel();
        self.index
            .send(IndexRequest::Get {
                key: keys::info_key(channel),
                reply,
            })
            .map_err(|_| LedgerError::Closed)?;
        let info = match receiver.recv().map_err(|_| LedgerError::Closed)?? {
            Some(bytes) => ChannelInfo::decode(&bytes).ok_or_else(|| LedgerError::Index {
                path: self.shared.index_dir.clone(),
                reason: format!("channel {channel} info is malformed"),
            })?,
            None => ChannelInfo::default(),
        };
        self.tips.insert(channel.clone(), info.clone());
        Ok(info)
    }
}

/// The block must be the channel's next one and name the current tip as its predecessor.
/// Genesis blocks (number 0) are not checked against a predecessor.
fn check_chain(channel: &str, tip: &ChannelInfo, block: &PreparedBlock) -> Result<()> {
    if block.number != tip.height {
        return Err(LedgerError::UnexpectedBlockNumber {
            channel: channel.to_owned(),
            expected: tip.height,
            got: block.number,
        });
    }
    if tip.height > 0 && block.previous_hash != tip.current_hash {
        return Err(LedgerError::PreviousHashMismatch {
            channel: channel.to_owned(),
            number: block.number,
        });
    }
    Ok(())
}

fn reply_to(request: WriteRequest, result: Result<()>) {
    match request {
        WriteRequest::Append { reply, .. } | WriteRequest::RemoveChannel { reply, .. } => {
            let _ = reply.send(result);
        }
        WriteRequest::Shutdown => {}
    }
}
