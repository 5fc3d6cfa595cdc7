//! Notifications of committed blocks, for the gateway's CommitStatus and chaincode events and
//! for Deliver: one [`CommittedBlock`] per block, after it is durable in every store.

use std::sync::Arc;

use fabric_protos::common::Block;
use fabric_protos::protos::TxValidationCode;
use tokio::sync::broadcast;

/// Committed blocks a subscriber may fall behind by before it misses some (it then gets
/// `RecvError::Lagged` and should re-read from the block store).
pub const COMMIT_EVENTS_QUEUE_MAX: usize = 64;

/// One transaction of a committed block.
#[derive(Clone, Debug, PartialEq)]
pub struct CommittedTx {
    /// Empty when the envelope did not decode far enough to name one.
    pub txid: String,
    pub code: TxValidationCode,
}

/// A block as committed: its number, the block with TRANSACTIONS_FILTER and COMMIT_HASH set,
/// and each transaction's id and final code.
#[derive(Clone, Debug)]
pub struct CommittedBlock {
    pub number: u64,
    pub block: Arc<Block>,
    pub txs: Vec<CommittedTx>,
}

/// The sending side, one per channel. Cloning is cheap and the handle is `Send + Sync`, so a
/// gateway on another thread can subscribe while the channel's ledger stays on its committer
/// thread.
#[derive(Clone, Debug)]
pub struct CommitEvents {
    sender: broadcast::Sender<Arc<CommittedBlock>>,
}

impl Default for CommitEvents {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(COMMIT_EVENTS_QUEUE_MAX);
        Self { sender }
    }
}

impl CommitEvents {
    /// Receives every block committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CommittedBlock>> {
        self.sender.subscribe()
    }

    pub(crate) fn publish(&self, block: Arc<CommittedBlock>) {
        // No subscriber is not an error: nobody is waiting.
        let _ = self.sender.send(block);
    }
}
