//! One channel served by this node: its ledger, its current config and the consenter that
//! orders its envelopes into blocks.
//!
//! The consenter sits behind [`Consenter`]. This milestone runs [`Sequencer`], an in-process
//! single-node orderer (blocks are cut and written as soon as envelopes arrive, with the
//! etcdraft block metadata of a one-member Raft group). The Raft driver of
//! `weft-orderer-raft` is meant to replace it behind the same trait.

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

use crate::broadcast::{FilterOptions, StandardChannel};
use crate::deliver::{DeliverChain, check_readers};
use crate::{BlockCutter, BlockKind, BlockWriter};

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
}

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
    let chain = Arc::new(Chain {
        id: bundle.channel_id().to_string(),
        ledger,
        bundle: RwLock::new(Arc::new(bundle)),
        errored: AtomicBool::new(false),
        consenter: RwLock::new(None),
    });
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
        writer,
        cutter,
        context,
    };
    tokio::spawn(task.run(receiver));
    Ok(chain)
}

struct SequencerTask {
    chain: Arc<Chain>,
    writer: BlockWriter,
    cutter: BlockCutter,
    context: SequencerContext,
}

impl SequencerTask {
    async fn run(mut self, mut receiver: mpsc::Receiver<Order>) {
        let mut deadline: Option<Instant> = None;
        loop {
            let order = tokio::select! {
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
        let block = self.write(config_batch, BlockKind::Config).await?;
        match ChannelBundle::from_config_block(&block, BundleSources::weft()) {
            Ok(new_bundle) => {
                if let Some(orderer) = new_bundle.orderer() {
                    self.cutter.set_batch_size(orderer.batch_size);
                }
                self.chain.set_bundle(new_bundle);
                Ok(())
            }
            Err(e) => {
                tracing::error!(channel = %self.chain.id, error = %e, "committed config block does not form a valid config; halting the channel");
                self.chain.errored.store(true, AtomicOrdering::Relaxed);
                Err(())
            }
        }
    }

    fn batch_timeout(&self) -> Duration {
        self.chain
            .bundle()
            .orderer()
            .map_or(Duration::from_secs(2), |o| o.batch_timeout)
    }

    async fn write(&mut self, batch: Vec<Envelope>, kind: BlockKind) -> Result<Block, ()> {
        let next = self.writer.last_number() + 1;
        let metadata = etcdraft::BlockMetadata {
            consenter_ids: vec![1],
            next_consenter_id: 2,
            raft_index: next,
        }
        .encode_to_vec();
        let block = match self.writer.write(&batch, kind, &metadata) {
            Ok(block) => block,
            Err(e) => return self.fail(format!("cannot create block {next}: {e}")),
        };
        let ledger = self.chain.ledger.clone();
        let to_append = block.clone();
        match tokio::task::spawn_blocking(move || ledger.append(&to_append)).await {
            Ok(Ok(())) => Ok(block),
            Ok(Err(e)) => self.fail(format!("cannot append block {next}: {e}")),
            Err(e) => self.fail(format!("block append task failed: {e}")),
        }
    }

    fn fail<T>(&self, reason: String) -> Result<T, ()> {
        tracing::error!(channel = %self.chain.id, %reason, "halting the channel");
        self.chain.errored.store(true, AtomicOrdering::Relaxed);
        self.chain.halt();
        Err(())
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => futures::future::pending().await,
    }
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
