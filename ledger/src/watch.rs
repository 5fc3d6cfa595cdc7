//! Height notifications for Deliver: a waiter subscribes to a channel and is woken when its
//! height grows. A watcher exists only while someone holds a subscription, so idle channels
//! cost nothing here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::error::{LedgerError, Result};
use crate::options::WATCHERS_SWEEP_THRESHOLD;

#[derive(Default)]
pub(crate) struct Watchers {
    senders: Mutex<HashMap<Arc<str>, watch::Sender<u64>>>,
}

impl Watchers {
    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, watch::Sender<u64>>> {
        self.senders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Raises the channel's watched height to `height` (heights only grow, so a late or repeated
    /// notification is harmless) and drops the watcher if nobody listens any more.
    pub(crate) fn notify(&self, channel: &str, height: u64) {
        let mut senders = self.lock();
        if let Some(sender) = senders.get(channel) {
            raise(sender, height);
            if sender.receiver_count() == 0 {
                senders.remove(channel);
            }
        }
    }

    /// The channel was removed: its height starts again from zero.
    pub(crate) fn reset(&self, channel: &str) {
        if let Some(sender) = self.lock().get(channel) {
            sender.send_replace(0);
        }
    }

    /// A receiver for the channel's height. The caller must then raise it to the height it reads
    /// from the index, so an append that lands in between is not missed.
    pub(crate) fn subscribe(&self, channel: &Arc<str>) -> watch::Receiver<u64> {
        let mut senders = self.lock();
        if senders.len() >= WATCHERS_SWEEP_THRESHOLD {
            senders.retain(|_, sender| sender.receiver_count() > 0);
        }
        senders
            .entry(channel.clone())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Number of channels with a live watcher entry (for tests and diagnostics).
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

fn raise(sender: &watch::Sender<u64>, height: u64) {
    sender.send_if_modified(|current| {
        let grew = height > *current;
        if grew {
            *current = height;
        }
        grew
    });
}

/// A subscription to one channel's height, for waiting on new blocks without polling.
pub struct HeightWatch {
    receiver: watch::Receiver<u64>,
}

impl HeightWatch {
    pub(crate) fn new(
        watchers: &Watchers,
        channel: &Arc<str>,
        current_height: impl FnOnce() -> Result<u64>,
    ) -> Result<Self> {
        let receiver = watchers.subscribe(channel);
        let height = current_height()?;
        watchers.notify(channel, height);
        Ok(HeightWatch { receiver })
    }

    /// The channel's height as last notified.
    pub fn height(&self) -> u64 {
        *self.receiver.borrow()
    }

    /// Waits until the channel's height exceeds `height`, that is until block `height` exists,
    /// and returns the new height. Fails with [`LedgerError::Closed`] when the store closes.
    pub async fn wait_for_block(&mut self, number: u64) -> Result<u64> {
        let reached = self
            .receiver
            .wait_for(|height| *height > number)
            .await
            .map_err(|_| LedgerError::Closed)?;
        Ok(*reached)
    }
}
