//! All channel ledgers of a peer behind one `Send + Sync` handle.
//!
//! The state and history databases are single-threaded, so one committer thread owns them and
//! every [`ChannelLedger`]; an idle channel costs that thread nothing. Callers talk to it over a
//! bounded queue. The expensive, stateless part of a commit (block verification and the
//! signature checks of [`prepare_block`]) runs on the caller's thread, so channels prepare in
//! parallel and only state validation and the writes queue up on the committer thread.
//!
//! Every method blocks; async code calls them from `tokio::task::spawn_blocking`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use fabric_protos::common::Block;
use fabric_protos::queryresult::KeyModification;
use fabric_protos::rwset::TxPvtReadWriteSet;
use weft_channelconfig::ChannelBundle;
use weft_ledger::kv::VersionedStore;
use weft_ledger::{Channel, StoreOptions};

use crate::channel_ledger::{ChannelLedger, CommitOutcome, LedgerStores};
use crate::definitions::DefinitionSource;
use crate::error::CommitError;
use crate::events::CommitEvents;
use crate::parallel;
use crate::validator::{PreparedBlock, prepare_block};
use crate::verify::{ChainTip, verify_block};

/// Requests waiting for the committer thread.
pub const COMMITTER_QUEUE_MAX: usize = 256;

type Reply<T> = SyncSender<Result<T, CommitError>>;
type StateTask = Box<dyn FnOnce(Option<&dyn VersionedStore>) + Send>;

enum Request {
    Join {
        genesis: Box<Block>,
        reply: Reply<ChannelView>,
    },
    Commit {
        channel: String,
        prepared: Box<PreparedBlock>,
        private: BTreeMap<u64, TxPvtReadWriteSet>,
        reply: Reply<CommitOutcome>,
    },
    State {
        channel: String,
        task: StateTask,
    },
    History {
        channel: String,
        namespace: String,
        key: String,
        limit: usize,
        reply: Reply<Vec<KeyModification>>,
    },
}

/// What other threads see of a channel: its chain (for qscc and Deliver), its commit
/// notifications, its current config and tip. Cheap to clone.
#[derive(Clone)]
pub struct ChannelView {
    pub blocks: Channel,
    pub events: CommitEvents,
    status: Arc<RwLock<ViewStatus>>,
}

struct ViewStatus {
    bundle: Arc<ChannelBundle>,
    height: u64,
    tip_hash: Vec<u8>,
}

impl ChannelView {
    fn of(ledger: &ChannelLedger) -> Self {
        Self {
            blocks: ledger.blocks().clone(),
            events: ledger.events().clone(),
            status: Arc::new(RwLock::new(ViewStatus::of(ledger))),
        }
    }

    fn refresh(&self, ledger: &ChannelLedger) {
        *self.status.write().unwrap_or_else(|p| p.into_inner()) = ViewStatus::of(ledger);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, ViewStatus> {
        self.status.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The config in force.
    pub fn bundle(&self) -> Arc<ChannelBundle> {
        Arc::clone(&self.read().bundle)
    }

    /// Committed blocks.
    pub fn height(&self) -> u64 {
        self.read().height
    }

    /// Header hash of the newest committed block.
    pub fn tip_hash(&self) -> Vec<u8> {
        self.read().tip_hash.clone()
    }
}

impl ViewStatus {
    fn of(ledger: &ChannelLedger) -> Self {
        Self {
            bundle: Arc::clone(ledger.bundle()),
            height: ledger.height(),
            tip_hash: ledger.tip_hash().to_vec(),
        }
    }
}

struct Shared {
    sender: Mutex<Option<SyncSender<Request>>>,
    views: RwLock<BTreeMap<String, ChannelView>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    workers: usize,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has served what is queued.
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

/// The peer's committer: every channel ledger under one root directory.
#[derive(Clone)]
pub struct Committer {
    shared: Arc<Shared>,
}

impl Committer {
    /// Opens the stores under `root` (recovering every channel they hold) and starts the
    /// committer thread.
    pub fn start(
        root: PathBuf,
        options: StoreOptions,
        definitions: Arc<dyn DefinitionSource>,
    ) -> Result<Self, CommitError> {
        let (sender, receiver) = sync_channel(COMMITTER_QUEUE_MAX);
        let (ready, opened) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("weft-committer".into())
            .spawn(move || run(root, options, definitions, receiver, ready))
            .map_err(|e| CommitError::Thread(e.to_string()))?;
        let views = match opened.recv() {
            Ok(result) => result?,
            Err(_) => return Err(CommitError::Thread("the committer thread exited".into())),
        };
        Ok(Self {
            shared: Arc::new(Shared {
                sender: Mutex::new(Some(sender)),
                views: RwLock::new(views),
                thread: Mutex::new(Some(thread)),
                workers: parallel::default_workers(),
            }),
        })
    }

    fn send(&self, request: Request) -> Result<(), CommitError> {
        let sender = self
            .shared
            .sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        sender
            .ok_or_else(|| CommitError::Thread("the committer is shut down".into()))?
            .send(request)
            .map_err(|_| CommitError::Thread("the committer thread exited".into()))
    }

    fn ask<T>(&self, request: impl FnOnce(Reply<T>) -> Request) -> Result<T, CommitError> {
        let (reply, receiver) = sync_channel(1);
        self.send(request(reply))?;
        receiver
            .recv()
            .map_err(|_| CommitError::Thread("the committer thread exited".into()))?
    }

    /// Joins a channel from its genesis block (idempotent for the same block).
    pub fn join(&self, genesis: Block) -> Result<ChannelView, CommitError> {
        let view = self.ask(|reply| Request::Join {
            genesis: Box::new(genesis),
            reply,
        })?;
        let id = view.blocks.id().to_owned();
        self.shared
            .views
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, view.clone());
        Ok(view)
    }

    /// Ids of the joined channels, in byte order.
    pub fn channels(&self) -> Vec<String> {
        let views = self.shared.views.read().unwrap_or_else(|p| p.into_inner());
        views.keys().cloned().collect()
    }

    pub fn channel(&self, id: &str) -> Option<ChannelView> {
        let views = self.shared.views.read().unwrap_or_else(|p| p.into_inner());
        views.get(id).cloned()
    }

    fn view(&self, id: &str) -> Result<ChannelView, CommitError> {
        self.channel(id).ok_or_else(|| CommitError::Inconsistent {
            channel: id.to_owned(),
            reason: "this peer has not joined it".into(),
        })
    }

    /// Verifies `block` as the next block of `channel`, runs the signature checks on this
    /// thread, then validates and commits it on the committer thread.
    pub fn commit_block(&self, channel: &str, block: Block) -> Result<CommitOutcome, CommitError> {
        self.commit_block_with_private(channel, block, BTreeMap::new())
    }

    /// [`Self::commit_block`] with the private write sets the peer holds for the block's
    /// transactions, by transaction index.
    pub fn commit_block_with_private(
        &self,
        channel: &str,
        block: Block,
        private: BTreeMap<u64, TxPvtReadWriteSet>,
    ) -> Result<CommitOutcome, CommitError> {
        let view = self.view(channel)?;
        let (bundle, tip) = {
            let status = view.read();
            (
                Arc::clone(&status.bundle),
                (status.height, status.tip_hash.clone()),
            )
        };
        let chain = ChainTip {
            next_number: tip.0,
            previous_hash: Some(&tip.1),
        };
        verify_block(&bundle, chain, &block)?;
        let prepared = prepare_block(block, &bundle, self.shared.workers);
        self.ask(|reply| Request::Commit {
            channel: channel.to_owned(),
            prepared: Box::new(prepared),
            private,
            reply,
        })
    }

    /// Validates and commits a block already verified and prepared by the caller (who may
    /// prepare block N+1 while this commits block N; see [`crate::commit_stream`]).
    pub fn commit_prepared(
        &self,
        channel: &str,
        prepared: PreparedBlock,
    ) -> Result<CommitOutcome, CommitError> {
        self.ask(|reply| Request::Commit {
            channel: channel.to_owned(),
            prepared: Box::new(prepared),
            private: BTreeMap::new(),
            reply,
        })
    }

    /// Runs `read` against the committed state of `channel` on the committer thread (for
    /// chaincode simulation and `_lifecycle` queries). Keep it short: commits wait meanwhile.
    pub fn with_state<R: Send + 'static>(
        &self,
        channel: &str,
        read: impl FnOnce(&dyn VersionedStore) -> R + Send + 'static,
    ) -> Result<R, CommitError> {
        let (reply, receiver) = sync_channel(1);
        let unknown = channel.to_owned();
        let task: StateTask = Box::new(move |state| {
            let _ = reply.send(state.map(read));
        });
        self.send(Request::State {
            channel: channel.to_owned(),
            task,
        })?;
        receiver
            .recv()
            .map_err(|_| CommitError::Thread("the committer thread exited".into()))?
            .ok_or(CommitError::Inconsistent {
                channel: unknown,
                reason: "this peer has not joined it".into(),
            })
    }

    /// Fabric's GetHistoryForKey, newest first, at most `limit` entries.
    pub fn history_for_key(
        &self,
        channel: &str,
        namespace: &str,
        key: &str,
        limit: usize,
    ) -> Result<Vec<KeyModification>, CommitError> {
        self.ask(|reply| Request::History {
            channel: channel.to_owned(),
            namespace: namespace.to_owned(),
            key: key.to_owned(),
            limit,
            reply,
        })
    }
}

type Opened = Result<BTreeMap<String, ChannelView>, CommitError>;

fn run(
    root: PathBuf,
    options: StoreOptions,
    definitions: Arc<dyn DefinitionSource>,
    requests: Receiver<Request>,
    ready: SyncSender<Opened>,
) {
    let opened = open_all(&root, options, &definitions);
    let (stores, mut ledgers) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let views: BTreeMap<String, ChannelView> = ledgers
        .iter()
        .map(|(id, (_, view))| (id.clone(), view.clone()))
        .collect();
    if ready.send(Ok(views)).is_err() {
        return;
    }
    for request in requests {
        serve(request, &stores, &mut ledgers, &definitions);
    }
}

type Ledgers = BTreeMap<String, (ChannelLedger, ChannelView)>;

fn open_all(
    root: &std::path::Path,
    options: StoreOptions,
    definitions: &Arc<dyn DefinitionSource>,
) -> Result<(LedgerStores, Ledgers), CommitError> {
    let stores = LedgerStores::open(root, options)?;
    let mut ledgers = BTreeMap::new();
    for id in stores.blocks.channels()? {
        let ledger = ChannelLedger::open(&stores, &id, Arc::clone(definitions))?;
        let view = ChannelView::of(&ledger);
        ledgers.insert(id, (ledger, view));
    }
    Ok((stores, ledgers))
}

fn not_joined(channel: &str) -> CommitError {
    CommitError::Inconsistent {
        channel: channel.to_owned(),
        reason: "this peer has not joined it".into(),
    }
}

fn serve(
    request: Request,
    stores: &LedgerStores,
    ledgers: &mut Ledgers,
    definitions: &Arc<dyn DefinitionSource>,
) {
    match request {
        Request::Join { genesis, reply } => {
            let joined =
                ChannelLedger::create(stores, *genesis, Arc::clone(definitions)).map(|ledger| {
                    let id = ledger.channel_id().to_owned();
                    let entry = ledgers.entry(id).or_insert_with(|| {
                        let view = ChannelView::of(&ledger);
                        (ledger, view)
                    });
                    entry.1.clone()
                });
            let _ = reply.send(joined);
        }
        Request::Commit {
            channel,
            prepared,
            private,
            reply,
        } => {
            let result = match ledgers.get_mut(&channel) {
                Some((ledger, view)) => {
                    let result = ledger.commit_prepared_with_private(*prepared, &private);
                    view.refresh(ledger);
                    result
                }
                None => Err(not_joined(&channel)),
            };
            let _ = reply.send(result);
        }
        Request::State { channel, task } => {
            let state = ledgers
                .get(&channel)
                .map(|(ledger, _)| ledger.state() as &dyn VersionedStore);
            task(state);
        }
        Request::History {
            channel,
            namespace,
            key,
            limit,
            reply,
        } => {
            let result = match ledgers.get(&channel) {
                Some((ledger, _)) => ledger.history_for_key(&namespace, &key, limit),
                None => Err(not_joined(&channel)),
            };
            let _ = reply.send(result);
        }
    }
}
