//! The public face of the block store: [`BlockStore`] for the node, [`Channel`] for one chain.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use fabric_protos::common::{Block, BlockMetadataIndex, BlockchainInfo, Envelope};
use fabric_protos::protos::TxValidationCode;
use prost::Message;
use weft_protoutil::{decode, decode_bounded};

use crate::error::{LedgerError, Result};
use crate::index::{self, IndexRequest, reply_channel};
use crate::keys::{self, ChannelInfo};
use crate::options::{
    APPEND_QUEUE_MAX, BLOCK_SIZE_MAX_BYTES_CEILING, StoreOptions, TXID_MAX_BYTES, check_channel_id,
};
use crate::prepare::{decode_block, prepare};
use crate::segment::read_block;
use crate::watch::{HeightWatch, Watchers};
use crate::writer::{WriteRequest, Writer};

const SEGMENTS_DIR: &str = "segments";
const INDEX_DIR: &str = "index";

/// State shared by the handles and the two store threads.
pub(crate) struct Shared {
    pub segments_dir: PathBuf,
    pub index_dir: PathBuf,
    pub options: StoreOptions,
    pub watchers: Watchers,
    pub stats: Counters,
    failure: Mutex<Option<String>>,
}

/// Running totals the writer keeps, readable through [`BlockStore::stats`].
#[derive(Default)]
pub(crate) struct Counters {
    pub blocks: AtomicU64,
    pub bytes: AtomicU64,
    pub fsyncs: AtomicU64,
    pub reindexed_records: AtomicU64,
    pub truncated_bytes: AtomicU64,
}

/// Totals since the store was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Blocks appended.
    pub blocks: u64,
    /// Segment bytes written.
    pub bytes: u64,
    /// Segment fsyncs (fewer than blocks when appends shared a group commit).
    pub fsyncs: u64,
    /// Records found in the segments beyond the index and indexed while opening.
    pub reindexed_records: u64,
    /// Bytes of incomplete or damaged tail cut from the newest segment while opening.
    pub truncated_bytes: u64,
}

impl Shared {
    /// Why the store stopped accepting writes, if it did.
    pub(crate) fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn fail(&self, reason: &str) {
        tracing::error!(%reason, "block store stops accepting writes");
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(|| reason.to_owned());
    }
}

struct Inner {
    shared: Arc<Shared>,
    writer: SyncSender<WriteRequest>,
    index: SyncSender<IndexRequest>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The writer finishes what is queued, then tells the index thread to close.
        let _ = self.writer.send(WriteRequest::Shutdown);
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// All channels' blocks on one node: shared segment files and one index, served by two
/// threads whatever the number of channels. Cloning is cheap; the store closes when the last
/// clone and the last [`Channel`] handle are dropped.
#[derive(Clone)]
pub struct BlockStore {
    inner: Arc<Inner>,
}

impl BlockStore {
    /// Opens (or creates) the store in `dir`, recovering from an interrupted run: a damaged
    /// tail record is truncated and blocks missing from the index are re-indexed.
    pub fn open(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        options.validate()?;
        let dir = dir.as_ref();
        let segments_dir = dir.join(SEGMENTS_DIR);
        std::fs::create_dir_all(&segments_dir)
            .map_err(|e| LedgerError::io("creating", &segments_dir, e))?;
        let shared = Arc::new(Shared {
            segments_dir,
            index_dir: dir.join(INDEX_DIR),
            options,
            watchers: Watchers::default(),
            stats: Counters::default(),
            failure: Mutex::new(None),
        });
        let (index, index_thread, tail) = index::spawn(shared.clone())?;
        let writer = match Writer::open(shared.clone(), index.clone(), tail) {
            Ok(writer) => writer,
            Err(e) => {
                let _ = index.send(IndexRequest::Shutdown);
                let _ = index_thread.join();
                return Err(e);
            }
        };
        let (writer_requests, writer_receiver) = sync_channel(APPEND_QUEUE_MAX);
        let writer_thread = std::thread::Builder::new()
            .name("weft-ledger-writer".into())
            .spawn(move || writer.run(writer_receiver));
        let writer_thread = match writer_thread {
            Ok(thread) => thread,
            Err(e) => {
                let _ = index.send(IndexRequest::Shutdown);
                let _ = index_thread.join();
                return Err(LedgerError::io("starting the writer thread for", dir, e));
            }
        };
        Ok(BlockStore {
            inner: Arc::new(Inner {
                shared,
                writer: writer_requests,
                index,
                threads: Mutex::new(vec![writer_thread, index_thread]),
            }),
        })
    }

    /// A handle on one channel. This does no I/O; a channel comes into being with its genesis
    /// block.
    pub fn channel(&self, id: &str) -> Result<Channel> {
        check_channel_id(id)?;
        Ok(Channel {
            inner: self.inner.clone(),
            id: Arc::from(id),
        })
    }

    /// Ids of every channel holding at least one block, in byte order.
    pub fn channels(&self) -> Result<Vec<String>> {
        self.inner.ask(|reply| IndexRequest::Channels { reply })
    }

    /// Forgets a channel: its blocks are no longer served and a new genesis block may be
    /// appended (as when an orderer leaves and later rejoins a channel). Segment space is not
    /// reclaimed.
    pub fn remove_channel(&self, id: &str) -> Result<()> {
        check_channel_id(id)?;
        let (reply, receiver) = reply_channel();
        let channel = Arc::from(id);
        self.inner
            .write(WriteRequest::RemoveChannel { channel, reply }, receiver)
    }

    /// Totals since the store was opened.
    pub fn stats(&self) -> StoreStats {
        let counters = &self.inner.shared.stats;
        StoreStats {
            blocks: counters.blocks.load(Ordering::Relaxed),
            bytes: counters.bytes.load(Ordering::Relaxed),
            fsyncs: counters.fsyncs.load(Ordering::Relaxed),
            reindexed_records: counters.reindexed_records.load(Ordering::Relaxed),
            truncated_bytes: counters.truncated_bytes.load(Ordering::Relaxed),
        }
    }

    /// Channels with a live height subscription (diagnostics).
    pub fn watched_channels(&self) -> usize {
        self.inner.shared.watchers.len()
    }
}

impl Inner {
    fn ask<T>(&self, request: impl FnOnce(index::Reply<T>) -> IndexRequest) -> Result<T> {
        let (reply, receiver) = reply_channel();
        self.index
            .send(request(reply))
            .map_err(|_| LedgerError::Closed)?;
        receiver.recv().map_err(|_| LedgerError::Closed)?
    }

    fn get(&self, key: Vec<u8>) -> Result<Option<Vec<u8>>> {
        self.ask(|reply| IndexRequest::Get { key, reply })
    }

    fn write(&self, request: WriteRequest, receiver: Receiver<Result<()>>) -> Result<()> {
        if let Some(reason) = self.shared.failure() {
            return Err(LedgerError::Failed { reason });
        }
        self.writer.send(request).map_err(|_| LedgerError::Closed)?;
        receiver.recv().map_err(|_| LedgerError::Closed)?
    }

    fn index_error(&self, reason: String) -> LedgerError {
        LedgerError::Index {
            path: self.shared.index_dir.clone(),
            reason,
        }
    }
}

/// Where a transaction sits in its channel's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    pub block_number: u64,
    pub tx_index: u32,
}

/// A transaction read back by its id.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTransaction {
    pub envelope: Envelope,
    pub location: TxLocation,
    /// The transaction's byte in the block's TRANSACTIONS_FILTER metadata, when the block has
    /// one (blocks a peer has validated do; blocks as an orderer cuts them do not).
    pub validation_code: Option<u8>,
}

impl StoredTransaction {
    /// The validation code as Fabric's enum, when present and known.
    pub fn validation(&self) -> Option<TxValidationCode> {
        self.validation_code
            .and_then(|code| TxValidationCode::try_from(i32::from(code)).ok())
    }
}

/// One channel's chain in a [`BlockStore`]. Holding a handle costs a reference count and the
/// channel id; it keeps no thread, timer or file open.
#[derive(Clone)]
pub struct Channel {
    inner: Arc<Inner>,
    id: Arc<str>,
}

impl Channel {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Appends `block` as encoded by prost. Prefer [`Channel::append_bytes`] with the bytes as
    /// received when they came from elsewhere, so they are kept exactly.
    pub fn append(&self, block: &Block) -> Result<()> {
        let bytes = block.encode_to_vec();
        self.check_size(&bytes)?;
        let prepared = prepare(&self.id, block)?;
        self.submit(prepared, bytes)
    }

    /// Appends a block given as its encoded bytes, which are stored unchanged. Returns once the
    /// block is on disk (fsynced) and visible to readers. Fails without storing anything when
    /// the block is not the channel's next one, does not chain onto its tip, or is malformed.
    pub fn append_bytes(&self, bytes: Vec<u8>) -> Result<()> {
        let block = decode_block(&bytes, self.inner.shared.options.block_size_max_bytes)?;
        let prepared = prepare(&self.id, &block)?;
        self.submit(prepared, bytes)
    }

    fn check_size(&self, bytes: &[u8]) -> Result<()> {
        let limit = self.inner.shared.options.block_size_max_bytes;
        if bytes.len() > limit {
            return Err(LedgerError::BlockTooLarge {
                size: bytes.len(),
                limit,
            });
        }
        Ok(())
    }

    fn submit(&self, block: crate::prepare::PreparedBlock, bytes: Vec<u8>) -> Result<()> {
        let (reply, receiver) = reply_channel();
        let request = WriteRequest::Append {
            channel: self.id.clone(),
            block,
            bytes,
            reply,
        };
        self.inner.write(request, receiver)
    }

    fn stored_info(&self) -> Result<ChannelInfo> {
        match self.inner.get(keys::info_key(&self.id))? {
            Some(bytes) => ChannelInfo::decode(&bytes).ok_or_else(|| {
                self.inner
                    .index_error(format!("channel {} info is malformed", self.id))
            }),
            None => Ok(ChannelInfo::default()),
        }
    }

    /// Height and tip hashes, read from the index without touching any block.
    pub fn info(&self) -> Result<BlockchainInfo> {
        let info = self.stored_info()?;
        Ok(BlockchainInfo {
            height: info.height,
            current_block_hash: info.current_hash,
            previous_block_hash: info.previous_hash,
            bootstrapping_snapshot_info: None,
        })
    }

    /// Number of blocks in the channel (0 before its genesis block).
    pub fn height(&self) -> Result<u64> {
        Ok(self.stored_info()?.height)
    }

    /// The block's bytes as they were appended. `u64::MAX` means the newest block, as in
    /// Fabric's block store.
    pub fn block_bytes_by_number(&self, number: u64) -> Result<Option<Vec<u8>>> {
        let number = if number == u64::MAX {
            match self.height()?.checked_sub(1) {
                Some(last) => last,
                None => return Ok(None),
            }
        } else {
            number
        };
        let Some(value) = self.inner.get(keys::block_key(&self.id, number))? else {
            return Ok(None);
        };
        let location = keys::decode_location(&value).ok_or_else(|| {
            self.inner
                .index_error(format!("location of block {number} is malformed"))
        })?;
        read_block(&self.inner.shared.segments_dir, location, &self.id, number).map(Some)
    }

    /// The block with this number (`u64::MAX`: the newest).
    pub fn block_by_number(&self, number: u64) -> Result<Option<Block>> {
        self.block_bytes_by_number(number)?
            .map(|bytes| self.decode_stored(&bytes))
            .transpose()
    }

    fn decode_stored(&self, bytes: &[u8]) -> Result<Block> {
        // Stored blocks passed the size check when appended; the ceiling covers a limit
        // lowered since.
        Ok(decode_bounded::<Block>(
            "stored block",
            bytes,
            BLOCK_SIZE_MAX_BYTES_CEILING,
        )?)
    }

    /// Number of the block whose header hashes to `hash`.
    pub fn block_number_by_hash(&self, hash: &[u8]) -> Result<Option<u64>> {
        if hash.len() != 32 {
            return Ok(None);
        }
        match self.inner.get(keys::hash_key(&self.id, hash))? {
            Some(value) => keys::decode_number(&value).map(Some).ok_or_else(|| {
                self.inner
                    .index_error("block hash entry is malformed".into())
            }),
            None => Ok(None),
        }
    }

    /// The block whose header hashes to `hash`.
    pub fn block_by_hash(&self, hash: &[u8]) -> Result<Option<Block>> {
        match self.block_number_by_hash(hash)? {
            Some(number) => self.block_by_number(number),
            None => Ok(None),
        }
    }

    /// Where the first transaction with this id is (Fabric's lookups also answer with the
    /// first occurrence when a txid was reused).
    pub fn tx_location(&self, txid: &str) -> Result<Option<TxLocation>> {
        if txid.is_empty() || txid.len() > TXID_MAX_BYTES {
            return Ok(None);
        }
        let prefix = keys::txid_prefix(&self.id, txid);
        let first = self.inner.ask(|reply| IndexRequest::FirstKeyWithPrefix {
            prefix: prefix.clone(),
            reply,
        })?;
        let Some(key) = first else { return Ok(None) };
        let (block_number, tx_index) =
            keys::parse_txid_key(prefix.len(), &key).ok_or_else(|| {
                self.inner
                    .index_error(format!("txid entry for {txid} is malformed"))
            })?;
        Ok(Some(TxLocation {
            block_number,
            tx_index,
        }))
    }

    /// The block holding the transaction with this id.
    pub fn block_by_txid(&self, txid: &str) -> Result<Option<Block>> {
        match self.tx_location(txid)? {
            Some(location) => self.block_by_number(location.block_number),
            None => Ok(None),
        }
    }

    /// The transaction with this id, with its validation code when the block carries one.
    pub fn tx_by_id(&self, txid: &str) -> Result<Option<StoredTransaction>> {
        let Some(location) = self.tx_location(txid)? else {
            return Ok(None);
        };
        let Some(block) = self.block_by_number(location.block_number)? else {
            return Err(self.inner.index_error(format!(
                "txid {txid} points at missing block {}",
                location.block_number
            )));
        };
        let index = location.tx_index as usize;
        let envelope_bytes = block
            .data
            .as_ref()
            .and_then(|data| data.data.get(index))
            .ok_or_else(|| {
                self.inner.index_error(format!(
                    "txid {txid} points past the transactions of its block"
                ))
            })?;
        let envelope = decode::<Envelope>("stored envelope", envelope_bytes)?;
        let validation_code = block
            .metadata
            .as_ref()
            .and_then(|m| {
                m.metadata
                    .get(BlockMetadataIndex::TransactionsFilter as usize)
            })
            .and_then(|filter| filter.get(index).copied());
        Ok(Some(StoredTransaction {
            envelope,
            location,
            validation_code,
        }))
    }

    /// A subscription that wakes when the channel grows, for Deliver. The watcher is created on
    /// demand and dropped once nobody holds a subscription.
    pub fn subscribe(&self) -> Result<HeightWatch> {
        HeightWatch::new(&self.inner.shared.watchers, &self.id, || self.height())
    }

    /// Waits (without polling) until block `number` exists, and returns the channel's height.
    pub async fn wait_for_block(&self, number: u64) -> Result<u64> {
        self.subscribe()?.wait_for_block(number).await
    }
}
