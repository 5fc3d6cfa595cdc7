//! The peer's commit service: one thread owns the node's ledger stores (block store, state and
//! history databases, which are single-threaded) and every channel's [`ChannelLedger`], opened
//! on first use. Joins and blocks arrive as requests on a bounded queue; each channel's puller
//! waits for its block to commit before sending the next, so the queue holds at most one block
//! per channel and channels take turns (a busy channel cannot starve the others).
//!
//! A block that fails verification is refused without touching the ledger (the puller fetches
//! it again, from another orderer). Any other failure closes the channel's ledger; the next
//! request reopens it, which replays into state and history what the block store holds, as
//! after a crash.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use fabric_protos::common::Block;
use tokio::sync::{mpsc, oneshot};
use weft_channelconfig::ChannelBundle;
use weft_committer::{ChannelLedger, CommitError, LedgerStores};
use weft_ledger::{BlockStore, StoreOptions};

use crate::definitions::LifecycleDefinitions;

/// Requests waiting for the commit thread.
pub const COMMIT_QUEUE_MAX: usize = 1024;

/// What the commit thread did with a block.
#[derive(Debug)]
pub enum CommitReply {
    /// Committed; the channel's config after the block.
    Committed {
        bundle: Arc<ChannelBundle>,
        transactions: usize,
    },
    /// Refused by verification; fetch it again, from another orderer if it repeats.
    Refused(String),
    /// The ledger could not take it; retry later.
    Failed(String),
}

enum Request {
    Join {
        genesis: Block,
        reply: oneshot::Sender<Result<Arc<ChannelBundle>, String>>,
    },
    Commit {
        channel: String,
        block: Block,
        reply: oneshot::Sender<CommitReply>,
    },
}

/// Handle on the commit thread; cheap to clone.
#[derive(Clone)]
pub struct CommitService {
    requests: mpsc::Sender<Request>,
}

impl CommitService {
    /// Opens the ledger stores under `root` on a new commit thread; returns the service and the
    /// block store for readers.
    pub fn start(root: &Path, options: StoreOptions) -> Result<(Self, BlockStore), String> {
        let (requests, receiver) = mpsc::channel(COMMIT_QUEUE_MAX);
        let (opened, opened_receiver) = std::sync::mpsc::sync_channel(1);
        let root = root.to_path_buf();
        std::thread::Builder::new()
            .name("weft-peer-commit".into())
            .spawn(move || {
                let stores = match LedgerStores::open(&root, options) {
                    Ok(stores) => stores,
                    Err(e) => {
                        let _ = opened.send(Err(format!("{}: {e}", root.display())));
                        return;
                    }
                };
                let _ = opened.send(Ok(stores.blocks.clone()));
                CommitThread {
                    stores,
                    ledgers: HashMap::new(),
                }
                .run(receiver);
            })
            .map_err(|e| format!("cannot start the commit thread: {e}"))?;
        let blocks = opened_receiver
            .recv()
            .map_err(|_| "the commit thread stopped while opening the ledger".to_owned())??;
        Ok((Self { requests }, blocks))
    }

    /// Creates a channel from its genesis block; returns its config.
    pub fn join_blocking(&self, genesis: Block) -> Result<Arc<ChannelBundle>, String> {
        let (reply, receiver) = oneshot::channel();
        self.requests
            .blocking_send(Request::Join { genesis, reply })
            .map_err(|_| CLOSED.to_owned())?;
        receiver.blocking_recv().map_err(|_| CLOSED.to_owned())?
    }

    /// Verifies, validates and commits the next block of `channel`.
    pub async fn commit(&self, channel: &str, block: Block) -> CommitReply {
        let (reply, receiver) = oneshot::channel();
        let request = Request::Commit {
            channel: channel.to_owned(),
            block,
            reply,
        };
        if self.requests.send(request).await.is_err() {
            return CommitReply::Failed(CLOSED.into());
        }
        receiver
            .await
            .unwrap_or_else(|_| CommitReply::Failed(CLOSED.into()))
    }
}

const CLOSED: &str = "the commit thread has stopped";

/// A channel's ledger with the definitions source that follows its config.
struct OpenLedger {
    ledger: ChannelLedger,
    definitions: Arc<LifecycleDefinitions>,
}

impl OpenLedger {
    fn new(ledger: ChannelLedger, definitions: Arc<LifecycleDefinitions>) -> Self {
        definitions.set_bundle(ledger.bundle().clone());
        Self {
            ledger,
            definitions,
        }
    }
}

struct CommitThread {
    stores: LedgerStores,
    ledgers: HashMap<String, OpenLedger>,
}

impl CommitThread {
    fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        while let Some(request) = requests.blocking_recv() {
            match request {
                Request::Join { genesis, reply } => {
                    let _ = reply.send(self.join(genesis));
                }
                Request::Commit {
                    channel,
                    block,
                    reply,
                } => {
                    let _ = reply.send(self.commit(&channel, block));
                }
            }
        }
    }

    fn join(&mut self, genesis: Block) -> Result<Arc<ChannelBundle>, String> {
        let definitions = Arc::new(LifecycleDefinitions::default());
        let ledger = ChannelLedger::create(&self.stores, genesis, definitions.clone())
            .map_err(|e| e.to_string())?;
        let bundle = ledger.bundle().clone();
        let id = ledger.channel_id().to_owned();
        self.ledgers
            .insert(id, OpenLedger::new(ledger, definitions));
        Ok(bundle)
    }

    fn ledger(&mut self, channel: &str) -> Result<&mut OpenLedger, CommitError> {
        if !self.ledgers.contains_key(channel) {
            let definitions = Arc::new(LifecycleDefinitions::default());
            let ledger = ChannelLedger::open(&self.stores, channel, definitions.clone())?;
            self.ledgers
                .insert(channel.to_owned(), OpenLedger::new(ledger, definitions));
        }
        self.ledgers
            .get_mut(channel)
            .ok_or_else(|| CommitError::Inconsistent {
                channel: channel.to_owned(),
                reason: "ledger vanished while opening".into(),
            })
    }

    fn commit(&mut self, channel: &str, block: Block) -> CommitReply {
        let result = self.ledger(channel).and_then(|open| {
            let committed = open.ledger.commit_block(block)?;
            let bundle = open.ledger.bundle().clone();
            open.definitions.set_bundle(bundle.clone());
            Ok((bundle, committed.txs.len()))
        });
        match result {
            Ok((bundle, transactions)) => CommitReply::Committed {
                bundle,
                transactions,
            },
            Err(CommitError::Verify(e)) => CommitReply::Refused(e.to_string()),
            Err(e) => {
                tracing::error!(%channel, error = %e, "commit failed; the channel's ledger will be reopened");
                self.ledgers.remove(channel);
                CommitReply::Failed(e.to_string())
            }
        }
    }
}
