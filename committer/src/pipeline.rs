//! Committing a stream of blocks with verification and the stateless checks of block N+1
//! running while block N commits.
//!
//! A preparer thread verifies each block against the chain it has seen so far (number and
//! previous hash from the block before, not from the ledger) and runs [`prepare_block`]. After a
//! config block it verifies and prepares later blocks with that block's config, as Fabric v3's
//! `BlockVerificationAssistant.UpdateConfig` does; if that config then fails to commit, the
//! stream stops with the commit error. The committer (the calling thread, which owns the
//! single-threaded stores) validates against state and commits, in order.

use std::sync::Arc;
use std::sync::mpsc::sync_channel;

use fabric_protos::common::Block;
use weft_channelconfig::{BundleSources, ChannelBundle};
use weft_protoutil::block_header_hash;

use crate::channel_ledger::{ChannelLedger, CommitOutcome};
use crate::error::{CommitError, VerifyError};
use crate::validator::{PreparedBlock, prepare_block};
use crate::verify::{ChainTip, is_config_block, verify_block};

/// Prepared blocks waiting for the committer; bounds memory and how far verification runs
/// ahead.
pub const PIPELINE_DEPTH_BLOCKS: usize = 2;

/// Verifies, validates and commits `blocks` in order, overlapping the preparation of each block
/// with the commit of the one before. `on_commit` sees every committed block. Returns the number
/// of blocks committed; stops at the first block that fails verification or commit.
pub fn commit_stream<I>(
    ledger: &mut ChannelLedger,
    blocks: I,
    mut on_commit: impl FnMut(&CommitOutcome),
) -> Result<u64, CommitError>
where
    I: IntoIterator<Item = Block>,
    I::IntoIter: Send,
{
    let blocks = blocks.into_iter();
    let start = Preparer {
        bundle: Arc::clone(ledger.bundle()),
        next_number: ledger.height(),
        previous_hash: ledger.tip_hash().to_vec(),
        workers: ledger.workers(),
    };
    let (sender, receiver) =
        sync_channel::<Result<PreparedBlock, VerifyError>>(PIPELINE_DEPTH_BLOCKS);
    std::thread::scope(|scope| {
        scope.spawn(move || start.run(blocks, |item| sender.send(item).is_ok()));
        let mut committed = 0;
        for item in receiver {
            let outcome = ledger.commit_prepared(item?)?;
            on_commit(&outcome);
            committed += 1;
        }
        // Dropping the receiver (on return) stops the preparer at its next send.
        Ok(committed)
    })
}

struct Preparer {
    bundle: Arc<ChannelBundle>,
    next_number: u64,
    previous_hash: Vec<u8>,
    workers: usize,
}

impl Preparer {
    fn run(
        mut self,
        blocks: impl Iterator<Item = Block>,
        mut send: impl FnMut(Result<PreparedBlock, VerifyError>) -> bool,
    ) {
        for block in blocks {
            let item = self.step(block);
            let failed = item.is_err();
            if !send(item) || failed {
                return;
            }
        }
    }

    fn step(&mut self, block: Block) -> Result<PreparedBlock, VerifyError> {
        let tip = ChainTip {
            next_number: self.next_number,
            previous_hash: Some(&self.previous_hash),
        };
        verify_block(&self.bundle, tip, &block)?;
        let prepared = prepare_block(block, &self.bundle, self.workers);
        let block = prepared.block();
        if let Some(header) = block.header.as_ref() {
            self.previous_hash = block_header_hash(header).to_vec();
        }
        self.next_number += 1;
        if is_config_block(block)
            && let Ok(next) = ChannelBundle::from_config_block(block, BundleSources::weft())
        {
            self.bundle = Arc::new(next);
        }
        Ok(prepared)
    }
}
