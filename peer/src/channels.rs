//! The channels of one peer (Fabric's `core/peer` channel map and `ledgermgmt`), built for the
//! service-network case of thousands of channels on one node.
//!
//! Every channel's ledger lives in the node's `weft-committer` [`Committer`]: one block store,
//! state and history database for all channels and one committer thread, so joined channels
//! resume after a restart without a separate registry and an idle channel costs no thread or
//! timer. A [`PeerChannel`] is a cheap view on one channel (its chain for queries and Deliver,
//! its current config). Joining goes through [`ChannelManager::join`] (cscc `JoinChain`), which
//! hands the new channel to whoever registered with [`ChannelManager::on_join`] (the node
//! starts pulling its blocks).

use std::sync::{Arc, Mutex, PoisonError};

use fabric_protos::common::Block;
use weft_channelconfig::{BundleSources, ChannelBundle};
use weft_committer::{ChannelView, Committer};

use crate::error::{PeerError, Result};

/// Called with each newly joined channel.
pub type JoinHook = Box<dyn Fn(Arc<PeerChannel>) + Send + Sync>;

/// All channels of the peer.
pub struct ChannelManager {
    committer: Committer,
    /// Serializes joins so that a second JoinChain for a channel is refused as Fabric refuses
    /// it (the committer itself treats a repeated genesis block as a no-op).
    joining: Mutex<()>,
    join_hooks: Mutex<Vec<JoinHook>>,
}

impl ChannelManager {
    pub fn new(committer: Committer) -> Self {
        Self {
            committer,
            joining: Mutex::new(()),
            join_hooks: Mutex::new(Vec::new()),
        }
    }

    /// The committer holding every channel's ledger.
    pub fn committer(&self) -> &Committer {
        &self.committer
    }

    /// Adds a hook called after each successful join (hooks run in registration order).
    pub fn on_join(&self, hook: JoinHook) {
        self.join_hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(hook);
    }

    /// Ids of the joined channels, in byte order.
    pub fn channel_ids(&self) -> Result<Vec<String>> {
        Ok(self.committer.channels())
    }

    /// The channel; `None` when it is not joined.
    pub fn get(&self, id: &str) -> Result<Option<Arc<PeerChannel>>> {
        Ok(self
            .committer
            .channel(id)
            .map(|view| Arc::new(PeerChannel { view })))
    }

    /// The channel, or [`PeerError::UnknownChannel`].
    pub fn require(&self, id: &str) -> Result<Arc<PeerChannel>> {
        self.get(id)?
            .ok_or_else(|| PeerError::UnknownChannel(id.to_owned()))
    }

    /// Joins the channel whose genesis block this is (cscc `JoinChain`): the block must be a
    /// valid config block numbered 0 of an application channel not joined yet. Blocks until
    /// the block is stored.
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
            if self.committer.channel(&id).is_some() {
                return Err(PeerError::AlreadyJoined(id));
            }
            // The committer stores the block as Fabric's cscc does (every transaction marked
            // VALID) and sets up the channel's state.
            let view = self.committer.join(block).map_err(|e| PeerError::Channel {
                channel: id.clone(),
                reason: e.to_string(),
            })?;
            Arc::new(PeerChannel { view })
        };
        tracing::info!(channel = %id, "joined channel");
        for hook in self
            .join_hooks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            hook(channel.clone());
        }
        Ok(channel)
    }
}

/// One joined channel: its chain in the shared store and its current config.
pub struct PeerChannel {
    view: ChannelView,
}

impl PeerChannel {
    pub fn id(&self) -> &str {
        self.view.blocks.id()
    }

    /// The channel's chain, for queries and Deliver.
    pub fn ledger(&self) -> &weft_ledger::Channel {
        &self.view.blocks
    }

    /// The channel's current config.
    pub fn bundle(&self) -> Arc<ChannelBundle> {
        self.view.bundle()
    }

    pub fn height(&self) -> Result<u64> {
        Ok(self.view.height())
    }
}
