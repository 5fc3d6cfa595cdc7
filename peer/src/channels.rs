//! The channels of one peer (Fabric's `core/peer` channel map and `ledgermgmt`), built for the
//! service-network case of thousands of channels on one node.
//!
//! Every channel's blocks live in one shared [`BlockStore`]; a channel exists once its genesis
//! block is stored, so joined channels resume after a restart without a separate registry.
//! A [`PeerChannel`] is loaded on first use (its config bundle is parsed from the last config
//! block) and costs no thread or timer: readers and the block puller share it through an
//! `Arc`. Joining goes through [`ChannelManager::join`] (cscc `JoinChain`), which stores the
//! genesis block through the commit service and hands the new channel to whoever registered with
//! [`ChannelManager::on_join`] (the node starts pulling its blocks).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use fabric_protos::common::Block;
use weft_channelconfig::{BundleSources, ChannelBundle};
use weft_ledger::BlockStore;

use crate::commit::CommitService;
use crate::error::{PeerError, Result};

/// Called with each newly joined channel.
pub type JoinHook = Box<dyn Fn(Arc<PeerChannel>) + Send + Sync>;

/// All channels of the peer.
pub struct ChannelManager {
    store: BlockStore,
    committer: CommitService,
    loaded: Mutex<HashMap<String, Arc<PeerChannel>>>,
    /// Serializes joins so that two JoinChain calls for one channel cannot both store a genesis
    /// block.
    joining: Mutex<()>,
    join_hook: Mutex<Option<JoinHook>>,
}

impl ChannelManager {
    pub fn new(store: BlockStore, committer: CommitService) -> Self {
        Self {
            store,
            committer,
            loaded: Mutex::new(HashMap::new()),
            joining: Mutex::new(()),
            join_hook: Mutex::new(None),
        }
    }

    /// Registers the hook called after each successful join.
    pub fn on_join(&self, hook: JoinHook) {
        *self
            .join_hook
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(hook);
    }

    /// Ids of the joined channels, in byte order.
    pub fn channel_ids(&self) -> Result<Vec<String>> {
        Ok(self.store.channels()?)
    }

    /// The channel, loading it on first use; `None` when it is not joined.
    pub fn get(&self, id: &str) -> Result<Option<Arc<PeerChannel>>> {
        if let Some(channel) = self.loaded_channel(id) {
            return Ok(Some(channel));
        }
        let Ok(ledger) = self.store.channel(id) else {
            // Not an acceptable channel id, so certainly not a joined channel.
            return Ok(None);
        };
        if ledger.height()? == 0 {
            return Ok(None);
        }
        let channel = Arc::new(PeerChannel::load(ledger)?);
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(Some(loaded.entry(id.to_owned()).or_insert(channel).clone()))
    }

    /// The channel, or [`PeerError::UnknownChannel`].
    pub fn require(&self, id: &str) -> Result<Arc<PeerChannel>> {
        self.get(id)?
            .ok_or_else(|| PeerError::UnknownChannel(id.to_owned()))
    }

    fn loaded_channel(&self, id: &str) -> Option<Arc<PeerChannel>> {
        self.loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// Joins the channel whose genesis block this is (cscc `JoinChain`): the block must be a
    /// valid config block numbered 0 of a channel not joined yet.
    pub fn join(&self, genesis_bytes: &[u8]) -> Result<Arc<PeerChannel>> {
        let block = weft_protoutil::decode::<Block>("Block", genesis_bytes).map_err(|e| {
            PeerError::BadRequest(format!("Failed to reconstruct the genesis block, {e}"))
        })?;
        let number = block.header.as_ref().map(|h| h.number);
        if number != Some(0) {
            return Err(PeerError::BadRequest(format!(
                "the block to join with must be the channel's genesis block (number 0), got {number:?}"
            )));
        }
        let bundle =
            ChannelBundle::from_config_block(&block, BundleSources::weft()).map_err(|e| {
                PeerError::BadRequest(format!(
                    "\"JoinChain\" request failed: invalid config block: {e}"
                ))
            })?;
        let id = bundle.channel_id().to_owned();
        if bundle.application().is_none() {
            return Err(PeerError::BadRequest(format!(
                "channel {id} has no Application section; a peer can only join application channels"
            )));
        }
        let channel = {
            let _guard = self.joining.lock().unwrap_or_else(PoisonError::into_inner);
            let ledger = self.store.channel(&id)?;
            if ledger.height()? > 0 {
                return Err(PeerError::AlreadyJoined(id));
            }
            // The committer stores the block as Fabric's cscc does (every transaction marked
            // VALID) and sets up the channel's state.
            let bundle =
                self.committer
                    .join_blocking(block)
                    .map_err(|reason| PeerError::Channel {
                        channel: id.clone(),
                        reason,
                    })?;
            let channel = Arc::new(PeerChannel {
                ledger,
                bundle: RwLock::new(bundle),
            });
            self.loaded
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id.clone(), channel.clone());
            channel
        };
        tracing::info!(channel = %id, "joined channel");
        if let Some(hook) = self
            .join_hook
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            hook(channel.clone());
        }
        Ok(channel)
    }
}

/// One joined channel: its chain in the shared store and its current config.
pub struct PeerChannel {
    ledger: weft_ledger::Channel,
    bundle: RwLock<Arc<ChannelBundle>>,
}

impl PeerChannel {
    fn with_bundle(ledger: weft_ledger::Channel, bundle: ChannelBundle) -> Self {
        Self {
            ledger,
            bundle: RwLock::new(Arc::new(bundle)),
        }
    }

    /// Reads the channel's config from its last config block, found through the newest
    /// block's metadata as Fabric does.
    fn load(ledger: weft_ledger::Channel) -> Result<Self> {
        let id = ledger.id().to_owned();
        let broken = |reason: String| PeerError::Channel {
            channel: id.clone(),
            reason,
        };
        let newest = ledger
            .block_by_number(u64::MAX)?
            .ok_or_else(|| broken("the store lists the channel but holds no block".into()))?;
        let index = weft_orderer::last_config_index(&newest)
            .map_err(|e| broken(format!("newest block names no last config: {e}")))?;
        let config_block = ledger
            .block_by_number(index)?
            .ok_or_else(|| broken(format!("last config block {index} is missing")))?;
        let bundle = ChannelBundle::from_config_block(&config_block, BundleSources::weft())
            .map_err(|source| PeerError::ChannelConfig {
                channel: id.clone(),
                source,
            })?;
        Ok(Self::with_bundle(ledger, bundle))
    }

    pub fn id(&self) -> &str {
        self.ledger.id()
    }

    pub fn ledger(&self) -> &weft_ledger::Channel {
        &self.ledger
    }

    /// The channel's current config.
    pub fn bundle(&self) -> Arc<ChannelBundle> {
        self.bundle
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn height(&self) -> Result<u64> {
        Ok(self.ledger.height()?)
    }

    /// Makes `bundle` the channel's config (after the committer applied a config block).
    pub fn set_bundle(&self, bundle: Arc<ChannelBundle>) {
        *self.bundle.write().unwrap_or_else(PoisonError::into_inner) = bundle;
    }
}
