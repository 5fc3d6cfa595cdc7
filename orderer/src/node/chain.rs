//! One channel served by this node: its ledger, its current config and the consenter that
//! orders its envelopes into blocks.
//!
//! The consenter sits behind [`Consenter`]: a [`Sequencer`] task per channel cuts batches and,
//! with the node's Raft driver, proposes each block on the leader and writes what the raft
//! group commits, as etcdraft does. The same task follows the channel's etcdraft life: it
//! asks for a snapshot (holding the last block) every `SnapshotIntervalSize` bytes, catches
//! up behind a received snapshot by pulling blocks from the other orderers, republishes the
//! consenter set after each config block (the leader then proposes the raft membership
//! change), and stops ordering when a config update removes this node.

use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use fabric_protos::common::{Block, Envelope};
use fabric_protos::etcdraft;
use futures::future::BoxFuture;
use prost::Message;
use tokio::sync::mpsc;
use tokio::time::Instant;
use weft_channelconfig::{BundleSources, ChannelBundle};
use weft_msp::SigningIdentity;

use super::puller::{self, BlockPuller};
use super::raft::{DriverError, RaftDriver, SINGLE_CONSENTER_ID};
use crate::broadcast::{FilterOptions, StandardChannel};
use crate::deliver::{DeliverChain, check_readers};
use crate::{BlockCutter, BlockKind, BlockWriter, is_config_envelope};
use weft_channelconfig::Consensus;
use weft_orderer_raft::membership;
use weft_orderer_raft::{Applied, ChainOptions, ConfChange, ConfChangeType, RaftError};

/// Envelopes waiting for the sequencer of one channel; Broadcast streams wait for room.
pub const ORDER_QUEUE_CAPACITY: usize = 1000;

/// An envelope accepted by Broadcast, handed to consensus.
#[derive(Debug, Clone)]
pub enum Order {
    /// A normal transaction checked against config `config_sequence`.
    Normal {
        envelope: Envelope,
        config_sequence: u64,
    },
    /// A CONFIG envelope (signed by this orderer) checked against `config_sequence`.
    Config {
        envelope: Envelope,
        config_sequence: u64,
    },
}

/// Why consensus did not take an envelope.
#[derive(Debug, thiserror::Error)]
#[error("channel {0} has halted: its consenter is no longer running (see the orderer log)")]
pub struct ChainHalted(pub String);

/// What Broadcast needs from a channel's consensus: take an envelope for ordering. Returning
/// `Ok` means accepted (not yet committed), as Fabric's `Order`/`Configure` do.
pub trait Consenter: Send + Sync {
    fn submit(&self, order: Order) -> BoxFuture<'_, Result<(), ChainHalted>>;
}

/// The state a channel's readers share with its consenter.
pub struct Chain {
    id: String,
    ledger: weft_ledger::Channel,
    bundle: RwLock<Arc<ChannelBundle>>,
    errored: AtomicBool,
    /// This node is no consenter of the channel (removed by a config update): it keeps and
    /// serves its ledger but orders nothing.
    removed: AtomicBool,
    consenter: RwLock<Option<Arc<dyn Consenter>>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Chain {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn ledger(&self) -> &weft_ledger::Channel {
        &self.ledger
    }

    /// The channel's current config.
    pub fn bundle(&self) -> Arc<ChannelBundle> {
        match self.bundle.read() {
            Ok(b) => b.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_bundle(&self, bundle: ChannelBundle) {
        match self.bundle.write() {
            Ok(mut b) => *b = Arc::new(bundle),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(bundle),
        }
    }

    /// True when a config update removed this node from the channel's consenters.
    pub fn is_removed(&self) -> bool {
        self.removed.load(AtomicOrdering::Relaxed)
    }

    pub fn is_errored(&self) -> bool {
        self.errored.load(AtomicOrdering::Relaxed)
    }

    /// Hands an accepted envelope to consensus.
    pub async fn submit(&self, order: Order) -> Result<(), ChainHalted> {
        let consenter = match self.consenter.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        match consenter {
            Some(c) => c.submit(order).await,
            None => Err(ChainHalted(self.id.clone())),
        }
    }

    /// Stops consensus for this channel (on removal).
    pub fn halt(&self) {
        match self.consenter.write() {
            Ok(mut c) => *c = None,
            Err(poisoned) => *poisoned.into_inner() = None,
        }
    }
}

impl DeliverChain for Chain {
    fn height(&self) -> u64 {
        self.ledger.height().unwrap_or(0)
    }

    fn errored(&self) -> bool {
        self.is_errored()
    }

    fn config_sequence(&self) -> u64 {
        self.bundle().sequence()
    }

    fn check_readers(&self, envelope: &Envelope) -> Result<(), String> {
        check_readers(&self.bundle(), envelope)
    }
}

/// Per-node settings a sequencer needs.
#[derive(Clone)]
pub struct SequencerContext {
    pub signer: Arc<dyn SigningIdentity>,
    pub filters: FilterOptions,
    /// Blocks go through this node's Raft driver when set (the orderer binary always sets
    /// it); without it they are written directly (an in-process sequencer, for tests).
    pub raft: Option<RaftDriver>,
    /// Pulls blocks from other orderers when a snapshot puts this node behind (the orderer
    /// binary sets it).
    pub puller: Option<Arc<BlockPuller>>,
    /// Publishes a channel's consenter set (config, etcdraft ids, and in `raft_index` the raft
    /// index of the block that carried that config) to the cluster transport at start and
    /// after every config block; returns this node's id in it, if any.
    pub membership: Option<MembershipSink>,
}

/// See [`SequencerContext::membership`].
pub type MembershipSink =
    Arc<dyn Fn(&ChannelBundle, &etcdraft::BlockMetadata) -> Option<u64> + Send + Sync>;

/// Time between two proposals while the channel's raft group has no leader yet.
pub const LEADER_WAIT_RETRY: Duration = Duration::from_millis(100);

/// Time a leader waits for its proposed block to commit before proposing it again.
pub const PROPOSAL_RESEND: Duration = Duration::from_secs(5);

/// The single-node consenter: a task per channel that cuts batches with [`BlockCutter`]
/// (by `BatchSize`, and by `BatchTimeout` while a batch is pending) and writes blocks.
pub struct Sequencer {
    sender: mpsc::Sender<Order>,
    channel_id: String,
}

impl Consenter for Sequencer {
    fn submit(&self, order: Order) -> BoxFuture<'_, Result<(), ChainHalted>> {
        Box::pin(async move {
            self.sender
                .send(order)
                .await
                .map_err(|_| ChainHalted(self.channel_id.clone()))
        })
    }
}

/// Starts serving a channel whose ledger holds at least the genesis block: builds the chain
/// from the ledger tip and its last config block and spawns the sequencer task.
pub fn start_chain(
    ledger: weft_ledger::Channel,
    tip: &Block,
    bundle: ChannelBundle,
    context: SequencerContext,
) -> Result<Arc<Chain>, String> {
    let writer = BlockWriter::new(tip, context.signer.clone()).map_err(|e| e.to_string())?;
    let orderer = bundle
        .orderer()
        .ok_or("the channel config has no Orderer group")?;
    let cutter = BlockCutter::new(orderer.batch_size);
    let raft_metadata = block_raft_metadata(tip)
        .unwrap_or_else(|| membership::genesis_block_metadata(consenter_count(&bundle)));
    let raft_options = match &orderer.consensus {
        Consensus::EtcdRaft(metadata) => {
            ChainOptions::from_etcdraft(&metadata.options.clone().unwrap_or_default())
                .map_err(|e| format!("the channel's etcdraft options: {e}"))?
        }
        _ => ChainOptions::default(),
    };
    let self_id = context.membership.as_ref().and_then(|publish| {
        let metadata = etcdraft::BlockMetadata {
            raft_index: block_raft_index(tip),
            ..raft_metadata.clone()
        };
        publish(&bundle, &metadata)
    });
    let chain = Arc::new(Chain {
        id: bundle.channel_id().to_string(),
        ledger,
        bundle: RwLock::new(Arc::new(bundle)),
        errored: AtomicBool::new(false),
        removed: AtomicBool::new(false),
        consenter: RwLock::new(None),
    });
    if self_id.is_none() && context.membership.is_some() && is_etcdraft(&chain.bundle()) {
        // A node restarted after its removal from the consenters: it must not start a raft
        // group of its own.
        tracing::info!(channel = %chain.id, "this node is no consenter of the channel; it serves its ledger but does not order");
        chain.removed.store(true, AtomicOrdering::Relaxed);
        return Ok(chain);
    }
    let (sender, receiver) = mpsc::channel(ORDER_QUEUE_CAPACITY);
    let sequencer = Sequencer {
        sender,
        channel_id: chain.id.clone(),
    };
    match chain.consenter.write() {
        Ok(mut c) => *c = Some(Arc::new(sequencer)),
        Err(poisoned) => *poisoned.into_inner() = Some(Arc::new(sequencer)),
    }
    let task = SequencerTask {
        chain: chain.clone(),
        tip: tip.clone(),
        writer,
        cutter,
        context,
        applied: None,
        raft_metadata,
        self_id,
    };
    let tip_raft_index = block_raft_index(tip);
    tokio::spawn(task.run(receiver, raft_options, tip_raft_index));
    Ok(chain)
}

struct SequencerTask {
    chain: Arc<Chain>,
    /// The last block in the ledger (a snapshot records it).
    tip: Block,
    writer: BlockWriter,
    cutter: BlockCutter,
    context: SequencerContext,
    /// What the channel's raft group committed, when blocks go through Raft.
    applied: Option<mpsc::UnboundedReceiver<Applied>>,
    /// The consenter ids recorded in every block (etcdraft `BlockMetadata`, without the raft
    /// index): carried from the ledger tip, or numbered 1..=n from the genesis consenters.
    raft_metadata: etcdraft::BlockMetadata,
    /// This node's consenter id in the channel, when it is one.
    self_id: Option<u64>,
}

async fn next_applied(applied: &mut Option<mpsc::UnboundedReceiver<Applied>>) -> Option<Applied> {
    match applied {
        Some(receiver) => receiver.recv().await,
        None => futures::future::pending().await,
    }
}

impl SequencerTask {
    async fn run(
        mut self,
        mut receiver: mpsc::Receiver<Order>,
        raft_options: ChainOptions,
        tip_raft_index: u64,
    ) {
        if let Some(driver) = self.context.raft.clone() {
            let (sink, applied) = mpsc::unbounded_channel();
            if let Err(e) = driver
                .start_channel(&self.chain.id, raft_options, tip_raft_index, sink)
                .await
            {
                let _ = self.fail::<()>(format!("cannot start the raft group: {e}"));
                return;
            }
            self.applied = Some(applied);
        }
        let mut deadline: Option<Instant> = None;
        loop {
            let order = tokio::select! {
                entry = next_applied(&mut self.applied) => {
                    // Committed before this run (WAL replay after a restart).
                    let Some(entry) = entry else {
                        let _ = self.fail::<()>("the consensus driver stopped".into());
                        return;
                    };
                    if self.apply(entry).await.is_err() {
                        return;
                    }
                    continue;
                }
                order = receiver.recv() => order,
                () = sleep_until(deadline), if deadline.is_some() => {
                    deadline = None;
                    let batch = self.cutter.cut();
                    if !batch.is_empty() && self.write(batch, BlockKind::Normal).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            let Some(order) = order else { return };
            let result = match order {
                Order::Normal {
                    envelope,
                    config_sequence,
                } => {
                    self.order_normal(envelope, config_sequence, &mut deadline)
                        .await
                }
                Order::Config {
                    envelope,
                    config_sequence,
                } => {
                    deadline = None;
                    self.order_config(envelope, config_sequence).await
                }
            };
            if result.is_err() {
                return;
            }
        }
    }

    async fn order_normal(
        &mut self,
        envelope: Envelope,
        config_sequence: u64,
        deadline: &mut Option<Instant>,
    ) -> Result<(), ()> {
        let bundle = self.chain.bundle();
        if config_sequence < bundle.sequence() {
            // The config changed after the envelope was checked: check it again, as Fabric's
            // consenters do.
            let processor =
                StandardChannel::new(&bundle, self.context.signer.as_ref(), self.context.filters);
            if let Err(rejection) = processor.process_normal(&envelope, SystemTime::now()) {
                tracing::warn!(channel = %self.chain.id, %rejection, "discarding envelope invalidated by a config update");
                return Ok(());
            }
        }
        let ordered = self.cutter.ordered(envelope);
        for batch in ordered.batches {
            self.write(batch, BlockKind::Normal).await?;
        }
        if ordered.pending {
            if deadline.is_none() {
                *deadline = Some(Instant::now() + self.batch_timeout());
            }
        } else {
            *deadline = None;
        }
        Ok(())
    }

    async fn order_config(&mut self, envelope: Envelope, config_sequence: u64) -> Result<(), ()> {
        let bundle = self.chain.bundle();
        let envelope = if config_sequence < bundle.sequence() {
            // Re-validate the original CONFIG_UPDATE carried in the CONFIG envelope.
            let Some(update) = original_config_update(&envelope) else {
                tracing::warn!(channel = %self.chain.id, "discarding stale config envelope without its update");
                return Ok(());
            };
            let processor =
                StandardChannel::new(&bundle, self.context.signer.as_ref(), self.context.filters);
            match processor.process_config_update(&update, SystemTime::now()) {
                Ok((config, _)) => config,
                Err(rejection) => {
                    tracing::warn!(channel = %self.chain.id, %rejection, "discarding config update invalidated by an earlier one");
                    return Ok(());
                }
            }
        } else {
            envelope
        };
        let mut batches = self.cutter.isolate(envelope);
        let config_batch = batches.pop().unwrap_or_default();
        for batch in batches {
            self.write(batch, BlockKind::Normal).await?;
        }
        self.write(config_batch, BlockKind::Config).await?;
        Ok(())
    }

    /// Makes a just-written config block the channel's config.
    fn adopt_config(&mut self, new_bundle: ChannelBundle) {
        if let Some(orderer) = new_bundle.orderer() {
            self.cutter.set_batch_size(orderer.batch_size);
        }
        self.chain.set_bundle(new_bundle);
    }

    /// The consenter ids after `new_bundle` replaces the current config. As etcdraft, a
    /// config that adds, removes or rotates a consenter changes the ids recorded from its own
    /// config block on; the ids of the remaining consenters are kept.
    fn consenter_ids_after(
        &self,
        new_bundle: &ChannelBundle,
    ) -> Result<(etcdraft::BlockMetadata, Option<ConfChange>), String> {
        let unchanged = || Ok((self.raft_metadata.clone(), None));
        let old_bundle = self.chain.bundle();
        let (Some(old), Some(new)) = (
            etcdraft_consenters(&old_bundle),
            etcdraft_consenters(new_bundle),
        ) else {
            return unchanged();
        };
        if old == new {
            return unchanged();
        }
        let by_id = membership::consenters_by_id(&self.raft_metadata, old).ok_or_else(|| {
            format!(
                "the recorded consenter ids {:?} do not match the {} consenters of the config",
                self.raft_metadata.consenter_ids,
                old.len()
            )
        })?;
        membership::compute_membership_change(&self.raft_metadata, &by_id, new)
            .map(|change| (change.new_metadata, change.conf_change))
            .map_err(|e| e.to_string())
    }

    fn batch_timeout(&self) -> Duration {
        self.chain
            .bundle()
            .orderer()
            .map_or(Duration::from_secs(2), |o| o.batch_timeout)
    }

    /// Orders `batch` as the next block; returns once the ledger holds a block at its height
    /// (with Raft, that block is another leader's when leadership moved while it was pending).
    async fn write(&mut self, batch: Vec<Envelope>, kind: BlockKind) -> Result<(), ()> {
        let Some(driver) = self.context.raft.clone() else {
            let block = self.writer.create_next_block(&batch);
            let number = self.writer.last_number();
            return self.commit_and_append(block, kind, number).await.map(drop);
        };
        // As etcdraft: the leader proposes the unsigned block; it is signed, with the raft
        // index in its metadata, when the entry is committed.
        let block = self.writer.create_next_block(&batch);
        let number = self.writer.last_number();
        let data = block.encode_to_vec();
        // Committed entries keep being applied while the proposal is pending, so a block that
        // another leader orders at this height ends the wait. The proposal is made again
        // after a while in case it was lost with a leadership change; a second copy of a
        // committed block is skipped when applied.
        let mut propose_at = Some(Instant::now());
        loop {
            tokio::select! {
                entry = next_applied(&mut self.applied) => {
                    let Some(entry) = entry else {
                        return self.fail("the consensus driver stopped".into());
                    };
                    if let Some(written) = self.apply(entry).await?
                        && written.header.as_ref().is_some_and(|h| h.number >= number)
                    {
                        return Ok(());
                    }
                }
                () = sleep_until(propose_at), if propose_at.is_some() => {
                    let result = driver.propose(&self.chain.id, data.clone()).await;
                    match after_proposal(result) {
                        ProposalNext::ProposeAgainAfter(wait) => {
                            propose_at = Some(Instant::now() + wait);
                        }
                        ProposalNext::Drop { leader } => {
                            // As etcdraft when it becomes a follower: the batch is dropped
                            // (its clients resubmit) and so is whatever the cutter holds.
                            tracing::warn!(channel = %self.chain.id, leader, block = number, "leadership moved: dropping the pending block");
                            let _ = self.cutter.cut();
                            return Ok(());
                        }
                        ProposalNext::Fail(e) => {
                            return self.fail(format!("cannot propose block {number}: {e}"));
                        }
                    }
                }
            }
        }
    }

    /// Acts on what Raft applied; returns the last block this wrote, or `None` when it wrote
    /// none (a block already in the ledger, a membership change, a snapshot taken).
    async fn apply(&mut self, entry: Applied) -> Result<Option<Block>, ()> {
        match entry {
            Applied::Block { raft_index, data } => self.apply_block(raft_index, data).await,
            Applied::SnapshotDue { raft_index } => {
                if let Some(driver) = &self.context.raft {
                    driver.take_snapshot(&self.chain.id, raft_index, self.tip.encode_to_vec());
                }
                Ok(None)
            }
            Applied::SnapshotInstalled { data, .. } => self.catch_up(&data).await,
            Applied::ConfChange { change, .. } => {
                let removed = change.get_change_type() == ConfChangeType::RemoveNode;
                if removed && Some(change.node_id) == self.self_id {
                    return self.leave();
                }
                Ok(None)
            }
        }
    }

    /// etcdraft's `catchUp`: a snapshot holds the last block its taker wrote; when the ledger
    /// is behind it, pull the missing blocks from the other orderers, verify and write them.
    async fn catch_up(&mut self, snapshot_block: &[u8]) -> Result<Option<Block>, ()> {
        let target = match weft_protoutil::decode::<Block>("Block", snapshot_block) {
            Ok(block) => block,
            Err(e) => return self.fail(format!("the raft snapshot holds no block: {e}")),
        };
        let target_number = target.header.as_ref().map_or(0, |h| h.number);
        let height = self.chain.ledger.height().unwrap_or(0);
        if target_number < height {
            return Ok(None);
        }
        let Some(puller) = self.context.puller.clone() else {
            return self.fail(format!(
                "behind the raft snapshot (block {target_number}, height {height}) and no block puller to catch up"
            ));
        };
        tracing::info!(channel = %self.chain.id, height, target = target_number, "catching up: pulling blocks from other orderers");
        let mut last = None;
        let mut next = height;
        while next <= target_number {
            let sources = puller::sources(&self.chain.bundle());
            let blocks = match puller
                .pull_window(&self.chain.id, &sources, next, target_number)
                .await
            {
                Ok(blocks) => blocks,
                Err(e) => return self.fail(e.to_string()),
            };
            for block in blocks {
                last = Some(self.append_pulled(block).await?);
                next += 1;
            }
        }
        let caught_up = last.as_ref().and_then(|b| b.header.as_ref());
        if caught_up != target.header.as_ref() {
            return self.fail(format!(
                "pulled block {target_number} differs from the one in the raft snapshot"
            ));
        }
        tracing::info!(channel = %self.chain.id, height = target_number + 1, "caught up with the raft snapshot");
        Ok(last)
    }

    /// Verifies a pulled block against the chain and the current config, then writes it as
    /// its orderers signed it.
    async fn append_pulled(&mut self, block: Block) -> Result<Block, ()> {
        let number = block.header.as_ref().map_or(0, |h| h.number);
        if let Err(e) = puller::verify_next(&self.chain.bundle(), &self.tip, &block) {
            return self.fail(format!("pulled block {number} is not valid: {e}"));
        }
        let new_config = match block.data.as_ref().map(|d| d.data.as_slice()) {
            Some([only]) if is_config_bytes(only) => {
                match ChannelBundle::from_config_block(&block, BundleSources::weft()) {
                    Ok(bundle) => Some(bundle),
                    Err(e) => return self.fail(format!("pulled config block {number}: {e}")),
                }
            }
            _ => None,
        };
        let ledger = self.chain.ledger.clone();
        let to_append = block.clone();
        match tokio::task::spawn_blocking(move || ledger.append(&to_append)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return self.fail(format!("cannot append pulled block {number}: {e}")),
            Err(e) => return self.fail(format!("block append task failed: {e}")),
        }
        if let Some(metadata) = block_raft_metadata(&block) {
            self.raft_metadata = etcdraft::BlockMetadata {
                raft_index: 0,
                ..metadata
            };
        }
        if let Some(bundle) = new_config {
            let member = self.publish_membership(&bundle, block_raft_index(&block));
            self.adopt_config(bundle);
            if !member {
                return self.leave();
            }
        }
        self.writer = match BlockWriter::new(&block, self.context.signer.clone()) {
            Ok(writer) => writer,
            Err(e) => return self.fail(format!("cannot continue after block {number}: {e}")),
        };
        self.tip = block.clone();
        Ok(block)
    }

    /// Writes a block committed by Raft; returns it, or `None` when the ledger has it.
    async fn apply_block(&mut self, raft_index: u64, data: Vec<u8>) -> Result<Option<Block>, ()> {
        let block = match weft_protoutil::decode::<Block>("Block", &data) {
            Ok(block) => block,
            Err(e) => return self.fail(format!("raft entry {raft_index} is not a block: {e}")),
        };
        let number = block.header.as_ref().map_or(0, |h| h.number);
        let height = self.chain.ledger.height().unwrap_or(0);
        if number < height {
            return Ok(None);
        }
        if number != height {
            return self.fail(format!(
                "raft entry {raft_index} holds block {number} but the ledger expects {height}"
            ));
        }
        let kind = match block.data.as_ref().map(|d| d.data.as_slice()) {
            Some([only]) if is_config_bytes(only) => BlockKind::Config,
            _ => BlockKind::Normal,
        };
        let written = self.commit_and_append(block, kind, raft_index).await?;
        // Continue the chain from what is now in the ledger.
        self.writer = match BlockWriter::new(&written, self.context.signer.clone()) {
            Ok(writer) => writer,
            Err(e) => return self.fail(format!("cannot continue after block {number}: {e}")),
        };
        Ok(Some(written))
    }

    async fn commit_and_append(
        &mut self,
        mut block: Block,
        kind: BlockKind,
        raft_index: u64,
    ) -> Result<Block, ()> {
        let number = block.header.as_ref().map_or(0, |h| h.number);
        let new_config = match kind {
            BlockKind::Config => {
                match ChannelBundle::from_config_block(&block, BundleSources::weft()) {
                    Ok(bundle) => Some(bundle),
                    Err(e) => {
                        return self.fail(format!(
                            "committed config block does not form a valid config: {e}"
                        ));
                    }
                }
            }
            BlockKind::Normal => None,
        };
        let mut conf_change = None;
        if let Some(bundle) = &new_config {
            match self.consenter_ids_after(bundle) {
                Ok((metadata, change)) => {
                    self.raft_metadata = metadata;
                    conf_change = change;
                }
                Err(e) => {
                    return self.fail(format!("config block {number} changes consenters: {e}"));
                }
            }
        }
        let metadata = etcdraft::BlockMetadata {
            raft_index,
            ..self.raft_metadata.clone()
        }
        .encode_to_vec();
        if let Err(e) = self.writer.commit(&mut block, kind, &metadata) {
            return self.fail(format!("cannot sign block {number}: {e}"));
        }
        let ledger = self.chain.ledger.clone();
        let to_append = block.clone();
        match tokio::task::spawn_blocking(move || ledger.append(&to_append)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return self.fail(format!("cannot append block {number}: {e}")),
            Err(e) => return self.fail(format!("block append task failed: {e}")),
        }
        if let Some(bundle) = new_config {
            let member = self.publish_membership(&bundle, raft_index);
            self.adopt_config(bundle);
            if !member {
                return self.leave();
            }
        }
        // As etcdraft: once the config block that adds or removes a consenter is written,
        // the leader proposes the raft membership change (followers' attempts are refused).
        if let (Some(change), Some(driver)) = (conf_change, &self.context.raft) {
            driver.propose_conf_change(&self.chain.id, change);
        }
        self.tip = block.clone();
        Ok(block)
    }

    /// Hands the consenter set of `bundle` with the current ids to the cluster transport;
    /// false when this node was a consenter and `bundle` no longer names it.
    fn publish_membership(&mut self, bundle: &ChannelBundle, raft_index: u64) -> bool {
        let Some(publish) = &self.context.membership else {
            return true;
        };
        let metadata = etcdraft::BlockMetadata {
            raft_index,
            ..self.raft_metadata.clone()
        };
        match publish(bundle, &metadata) {
            Some(id) => {
                self.self_id = Some(id);
                true
            }
            None => self.self_id.is_none(),
        }
    }

    /// This node is no consenter of the channel any more (as etcdraft: it stops writing
    /// blocks; its raft group answers until the leader stops talking to it). Ends the task.
    fn leave<T>(&self) -> Result<T, ()> {
        tracing::info!(channel = %self.chain.id, id = self.self_id, "this node was removed from the channel's consenters; it stops ordering");
        self.chain.removed.store(true, AtomicOrdering::Relaxed);
        self.chain.halt();
        Err(())
    }

    fn fail<T>(&self, reason: String) -> Result<T, ()> {
        tracing::error!(channel = %self.chain.id, %reason, "halting the channel");
        self.chain.errored.store(true, AtomicOrdering::Relaxed);
        self.chain.halt();
        Err(())
    }
}

/// What a sequencer does after proposing its pending block.
#[derive(Debug, PartialEq)]
enum ProposalNext {
    /// Wait for the block to commit (or for a leader to appear), then propose it again.
    ProposeAgainAfter(Duration),
    /// Another node leads the channel: drop the pending block and the cutter's batch.
    Drop { leader: u64 },
    /// Consensus failed; the channel halts.
    Fail(String),
}

fn after_proposal(result: Result<(), DriverError>) -> ProposalNext {
    match result {
        Ok(()) => ProposalNext::ProposeAgainAfter(PROPOSAL_RESEND),
        Err(DriverError::Raft(RaftError::NotLeader {
            leader: Some(leader),
            ..
        })) => ProposalNext::Drop { leader },
        Err(DriverError::Raft(RaftError::NotLeader { leader: None, .. })) => {
            ProposalNext::ProposeAgainAfter(LEADER_WAIT_RETRY)
        }
        Err(e) => ProposalNext::Fail(e.to_string()),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => futures::future::pending().await,
    }
}

fn is_config_bytes(envelope: &[u8]) -> bool {
    weft_protoutil::decode::<Envelope>("Envelope", envelope).is_ok_and(|e| is_config_envelope(&e))
}

/// The raft index an orderer recorded in `block` (etcdraft `BlockMetadata.raft_index` inside
/// the SIGNATURES slot); 0 for the genesis block or anything unreadable.
fn block_raft_index(block: &Block) -> u64 {
    block_raft_metadata(block).map_or(0, |b| b.raft_index)
}

fn is_etcdraft(bundle: &ChannelBundle) -> bool {
    etcdraft_consenters(bundle).is_some()
}

/// The consenters of an etcdraft channel config.
fn etcdraft_consenters(bundle: &ChannelBundle) -> Option<&[etcdraft::Consenter]> {
    match &bundle.orderer()?.consensus {
        Consensus::EtcdRaft(metadata) => Some(&metadata.consenters),
        _ => None,
    }
}

/// How many consenters the genesis ids are numbered for: the etcdraft consenter list, or the
/// one node of any other consensus type.
fn consenter_count(bundle: &ChannelBundle) -> usize {
    etcdraft_consenters(bundle).map_or(SINGLE_CONSENTER_ID as usize, <[_]>::len)
}

/// The etcdraft `BlockMetadata` an orderer recorded in `block` (in the consenter metadata of
/// the SIGNATURES slot); `None` for the genesis block or anything unreadable.
fn block_raft_metadata(block: &Block) -> Option<etcdraft::BlockMetadata> {
    use fabric_protos::common::{BlockMetadataIndex, Metadata, OrdererBlockMetadata};
    let slot = block
        .metadata
        .as_ref()
        .and_then(|m| m.metadata.get(BlockMetadataIndex::Signatures as usize));
    weft_protoutil::decode::<Metadata>("Metadata", slot?)
        .ok()
        .and_then(|m| {
            weft_protoutil::decode::<OrdererBlockMetadata>("OrdererBlockMetadata", &m.value).ok()
        })
        .and_then(|o| weft_protoutil::decode::<Metadata>("Metadata", &o.consenter_metadata).ok())
        .and_then(|m| {
            weft_protoutil::decode::<etcdraft::BlockMetadata>("BlockMetadata", &m.value).ok()
        })
        // An empty slot (the genesis block) decodes to a metadata without consenters.
        .filter(|b| !b.consenter_ids.is_empty())
}

/// The CONFIG_UPDATE envelope a CONFIG envelope was made from (`ConfigEnvelope.last_update`).
fn original_config_update(config: &Envelope) -> Option<Envelope> {
    let payload =
        weft_protoutil::decode::<fabric_protos::common::Payload>("Payload", &config.payload)
            .ok()?;
    let config_envelope = weft_protoutil::decode::<fabric_protos::common::ConfigEnvelope>(
        "ConfigEnvelope",
        &payload.data,
    )
    .ok()?;
    config_envelope.last_update
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_leader(leader: Option<u64>) -> Result<(), DriverError> {
        Err(DriverError::Raft(RaftError::NotLeader {
            channel: "mychannel".into(),
            leader,
        }))
    }

    // Mirrors etcdraft: a node that finds another leader while a block is pending drops it
    // (and does not keep proposing); without any leader it waits for the election.
    #[test]
    fn pending_block_is_dropped_when_another_node_leads() {
        assert_eq!(
            after_proposal(not_leader(Some(2))),
            ProposalNext::Drop { leader: 2 }
        );
        assert_eq!(
            after_proposal(not_leader(None)),
            ProposalNext::ProposeAgainAfter(LEADER_WAIT_RETRY)
        );
        assert_eq!(
            after_proposal(Ok(())),
            ProposalNext::ProposeAgainAfter(PROPOSAL_RESEND)
        );
        assert!(matches!(
            after_proposal(Err(DriverError::Stopped)),
            ProposalNext::Fail(_)
        ));
    }
}
