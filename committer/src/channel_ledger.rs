//! One channel's ledger on a peer: its chain in the node's block store, its state and key
//! history, its current config, and the commit of validated blocks (Fabric's kvledger, F25
//! core/ledger/kvledger/kv_ledger.go).
//!
//! A block commits in this order, each step durable before the next: block (with
//! TRANSACTIONS_FILTER and COMMIT_HASH) appended to the block store; state updates applied
//! together with the state savepoint; history recorded together with its savepoint. A crash
//! between steps leaves state or history behind the block store; [`ChannelLedger::open`]
//! replays the missing blocks from the block store using the codes stored in them, so a crash
//! at any point recovers to the same state, and replaying twice changes nothing.
//!
//! The state and history databases are single-threaded (see [`weft_ledger::kv`]), so a
//! `ChannelLedger` lives on one committer thread; [`ChannelLedger::events`] and the block
//! store [`Channel`] are the handles other threads use.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use fabric_protos::common::{
    Block, BlockMetadata, BlockMetadataIndex, ChannelHeader, ConfigEnvelope, Envelope, HeaderType,
    Metadata, Payload,
};
use fabric_protos::protos::TxValidationCode;
use fabric_protos::queryresult::KeyModification;
use fabric_protos::rwset::TxPvtReadWriteSet;
use prost::Message;
use weft_channelconfig::{BundleSources, ChannelBundle};
use weft_ledger::kv::{
    BlockTx, ChannelHistory, Height, HistoryWrite, LevelDbChannelState, LevelDbHistoryDb,
    LevelDbStateDb, TxRwSet, VersionedStore, commit_hash, commit_hash_metadata, update_bytes,
    validate_block,
};
use weft_ledger::{BlockStore, Channel, StoreOptions};

use crate::definitions::DefinitionSource;
use crate::error::{CommitError, VerifyError};
use crate::events::{CommitEvents, CommittedBlock, CommittedTx};
use crate::parallel;
use crate::txcheck::committed_writes;
use crate::validator::{
    CHANNEL_CONFIG_KEY, CONFIG_NAMESPACE, PreparedBlock, ValidatedTxs, ValidationContext,
    prepare_block, validate_prepared,
};
use crate::verify::{BLOCK_METADATA_SLOTS, ChainTip, verify_block};

/// The node-wide stores every channel ledger lives in: one block store, one state database and
/// one history database under a root directory (`chains/`, `statedb/`, `historydb/`).
pub struct LedgerStores {
    pub blocks: BlockStore,
    pub state: LevelDbStateDb,
    pub history: LevelDbHistoryDb,
}

impl LedgerStores {
    pub fn open(root: &Path, options: StoreOptions) -> Result<Self, CommitError> {
        Ok(Self {
            blocks: BlockStore::open(root.join("chains"), options)?,
            state: LevelDbStateDb::open(&root.join("statedb"))?,
            history: LevelDbHistoryDb::open(&root.join("historydb"))?,
        })
    }
}

/// A channel's ledger and committer.
pub struct ChannelLedger {
    blocks: Channel,
    state: LevelDbChannelState,
    history: ChannelHistory,
    bundle: Arc<ChannelBundle>,
    /// Commit hash of the last block, empty before block 1.
    commit_hash: Vec<u8>,
    /// Header hash of the last block.
    tip_hash: Vec<u8>,
    height: u64,
    definitions: Arc<dyn DefinitionSource>,
    events: CommitEvents,
    workers: usize,
    /// Set when state or history could not follow the block store; commits stop until reopen.
    broken: Option<String>,
}

/// What committing one block produced.
pub type CommitOutcome = Arc<CommittedBlock>;

impl ChannelLedger {
    /// Creates the channel from its genesis (config) block, as `peer channel join` does, or
    /// opens it if it already exists with that genesis block.
    pub fn create(
        stores: &LedgerStores,
        genesis: Block,
        definitions: Arc<dyn DefinitionSource>,
    ) -> Result<Self, CommitError> {
        let bundle = ChannelBundle::from_config_block(&genesis, BundleSources::weft())?;
        let number = genesis.header.as_ref().map(|h| h.number);
        if number != Some(0) {
            return Err(VerifyError::UnexpectedNumber {
                channel: bundle.channel_id().to_owned(),
                expected: 0,
                got: number.unwrap_or(u64::MAX),
            }
            .into());
        }
        let blocks = stores.blocks.channel(bundle.channel_id())?;
        if let Some(stored) = blocks.block_by_number(0)? {
            if stored.header != genesis.header {
                return Err(CommitError::Inconsistent {
                    channel: bundle.channel_id().to_owned(),
                    reason: "the peer already holds this channel with another genesis block".into(),
                });
            }
        } else {
            let mut genesis = genesis;
            let count = genesis.data.as_ref().map_or(0, |d| d.data.len());
            let codes = vec![TxValidationCode::Valid; count];
            set_metadata(
                &mut genesis,
                BlockMetadataIndex::TransactionsFilter,
                filter_bytes(&codes),
            );
            blocks.append(&genesis)?;
        }
        Self::open(stores, bundle.channel_id(), definitions)
    }

    /// Opens an existing channel, replaying into state and history any blocks they miss.
    pub fn open(
        stores: &LedgerStores,
        channel_id: &str,
        definitions: Arc<dyn DefinitionSource>,
    ) -> Result<Self, CommitError> {
        let blocks = stores.blocks.channel(channel_id)?;
        let info = blocks.info()?;
        let inconsistent = |reason: String| CommitError::Inconsistent {
            channel: channel_id.to_owned(),
            reason,
        };
        if info.height == 0 {
            return Err(inconsistent(
                "the block store holds no block of it; join it first".into(),
            ));
        }
        let state = stores.state.channel(channel_id);
        let history = stores.history.channel(channel_id);
        let bundle = current_bundle(&blocks, &state)?;
        let last = blocks
            .block_by_number(info.height - 1)?
            .ok_or_else(|| inconsistent(format!("block {} is missing", info.height - 1)))?;
        let mut ledger = Self {
            commit_hash: stored_commit_hash(&last),
            tip_hash: info.current_block_hash,
            height: info.height,
            blocks,
            state,
            history,
            bundle: Arc::new(bundle),
            definitions,
            events: CommitEvents::default(),
            workers: parallel::default_workers(),
            broken: None,
        };
        ledger.recover()?;
        Ok(ledger)
    }

    /// Replays blocks the state or history database has not seen.
    fn recover(&mut self) -> Result<(), CommitError> {
        let state_next = self.state.savepoint()?.map_or(0, |h| h.block_num + 1);
        let history_next = self.history.savepoint()?.map_or(0, |n| n + 1);
        for number in history_next.min(state_next)..self.height {
            let block =
                self.blocks
                    .block_by_number(number)?
                    .ok_or_else(|| CommitError::Inconsistent {
                        channel: self.channel_id().to_owned(),
                        reason: format!("block {number} is missing from the block store"),
                    })?;
            tracing::info!(
                channel = self.channel_id(),
                number,
                "replaying committed block"
            );
            self.replay(&block, number >= state_next, number >= history_next)?;
        }
        Ok(())
    }

    fn replay(&mut self, block: &Block, state: bool, history: bool) -> Result<(), CommitError> {
        let number = block.header.as_ref().map_or(0, |h| h.number);
        let stored = stored_codes(block);
        let envelopes = block
            .data
            .as_ref()
            .map(|d| d.data.as_slice())
            .unwrap_or_default();
        let mut rwsets = Vec::with_capacity(envelopes.len());
        let mut kinds = Vec::with_capacity(envelopes.len());
        for (index, raw) in envelopes.iter().enumerate() {
            let valid = stored.get(index) == Some(&TxValidationCode::Valid);
            let writes = if valid { committed_writes(raw) } else { None };
            kinds.push(writes.as_ref().map(|w| w.0));
            rwsets.push(writes.map(|w| w.1));
        }
        if state {
            let codes: Vec<TxValidationCode> = (0..envelopes.len())
                .map(|i| {
                    stored
                        .get(i)
                        .copied()
                        .unwrap_or(TxValidationCode::NotValidated)
                })
                .collect();
            let txs: Vec<BlockTx<'_>> = codes
                .iter()
                .zip(&rwsets)
                .map(|(code, rwset)| BlockTx {
                    code: *code,
                    rwset: rwset.as_ref(),
                })
                .collect();
            let validated = validate_block(&self.state, number, &txs)?;
            if validated.codes != codes {
                return Err(CommitError::Inconsistent {
                    channel: self.channel_id().to_owned(),
                    reason: format!(
                        "replaying block {number} against state gives other codes than the block records"
                    ),
                });
            }
            self.state
                .apply(&validated.batch, savepoint(number, envelopes.len()))?;
            if kinds.contains(&Some(HeaderType::Config)) {
                self.bundle = Arc::new(current_bundle(&self.blocks, &self.state)?);
            }
        }
        if history {
            let refs: Vec<Option<&TxRwSet>> = rwsets.iter().map(Option::as_ref).collect();
            self.record_history(number, &kinds, &refs)?;
        }
        Ok(())
    }

    fn record_history(
        &self,
        number: u64,
        kinds: &[Option<HeaderType>],
        rwsets: &[Option<&TxRwSet>],
    ) -> Result<(), CommitError> {
        let mut writes = Vec::new();
        for (index, (kind, rwset)) in kinds.iter().zip(rwsets).enumerate() {
            let (Some(HeaderType::EndorserTransaction), Some(rwset)) = (kind, rwset) else {
                continue;
            };
            for ns in &rwset.ns_rwsets {
                for write in &ns.kv.writes {
                    writes.push(HistoryWrite {
                        namespace: &ns.namespace,
                        key: write.key.as_bytes(),
                        tx_num: index as u64,
                    });
                }
            }
        }
        Ok(self.history.record_block(number, &writes)?)
    }

    pub fn channel_id(&self) -> &str {
        self.blocks.id()
    }

    /// Number of committed blocks.
    pub fn height(&self) -> u64 {
        self.height
    }

    /// Header hash of the newest block (what the next block must name as previous).
    pub fn tip_hash(&self) -> &[u8] {
        &self.tip_hash
    }

    /// Threads used for signature checks.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The config in force (replaced when a config block commits).
    pub fn bundle(&self) -> &Arc<ChannelBundle> {
        &self.bundle
    }

    /// The channel's chain, for queries (qscc, Deliver) from any thread.
    pub fn blocks(&self) -> &Channel {
        &self.blocks
    }

    /// Committed state (single-threaded).
    pub fn state(&self) -> &LevelDbChannelState {
        &self.state
    }

    /// Subscription handle for commit notifications; clone it to other threads.
    pub fn events(&self) -> &CommitEvents {
        &self.events
    }

    /// Sets how many threads check signatures (default: one per core).
    pub fn set_workers(&mut self, workers: usize) {
        self.workers = workers.clamp(1, parallel::VALIDATION_WORKERS_MAX);
    }

    /// Verifies a block from an orderer as the next block of this channel.
    pub fn verify(&self, block: &Block) -> Result<(), VerifyError> {
        let tip = ChainTip {
            next_number: self.height,
            previous_hash: Some(&self.tip_hash),
        };
        verify_block(&self.bundle, tip, block)
    }

    /// The stateless, parallel part of validation; may run on another thread (with a clone of
    /// [`Self::bundle`], see [`prepare_block`]) while the previous block commits.
    pub fn prepare(&self, block: Block) -> PreparedBlock {
        prepare_block(block, &self.bundle, self.workers)
    }

    /// Verifies, validates and commits the next block from the orderer.
    pub fn commit_block(&mut self, block: Block) -> Result<CommitOutcome, CommitError> {
        self.verify(&block)?;
        let prepared = self.prepare(block);
        self.commit_prepared(prepared)
    }

    /// Validates and commits a verified, prepared block. A block prepared under an older config
    /// is prepared again.
    pub fn commit_prepared(
        &mut self,
        prepared: PreparedBlock,
    ) -> Result<CommitOutcome, CommitError> {
        self.commit_prepared_with_private(prepared, &BTreeMap::new())
    }

    /// [`Self::commit_prepared`] with the private write sets the peer holds for the block's
    /// transactions (by transaction index); see [`crate::validator::validate_prepared`].
    pub fn commit_prepared_with_private(
        &mut self,
        prepared: PreparedBlock,
        private: &BTreeMap<u64, TxPvtReadWriteSet>,
    ) -> Result<CommitOutcome, CommitError> {
        if let Some(reason) = &self.broken {
            return Err(CommitError::Inconsistent {
                channel: self.channel_id().to_owned(),
                reason: format!(
                    "an earlier commit failed after its block was stored ({reason}); reopen the channel to replay it"
                ),
            });
        }
        let prepared = if prepared.config_sequence() == self.bundle.sequence() {
            prepared
        } else {
            self.prepare(prepared.block)
        };
        let number = prepared.number();
        if number != self.height {
            return Err(VerifyError::UnexpectedNumber {
                channel: self.channel_id().to_owned(),
                expected: self.height,
                got: number,
            }
            .into());
        }
        let ctx = ValidationContext {
            state: &self.state,
            blocks: &self.blocks,
            definitions: self.definitions.as_ref(),
            bundle: &self.bundle,
            workers: self.workers,
        };
        let (mut block, validated) = validate_prepared(prepared, &ctx, private)?;
        let header = block
            .header
            .as_ref()
            .ok_or(VerifyError::Missing("header"))?;
        let tip_hash = weft_protoutil::block_header_hash(header).to_vec();
        let filter = filter_bytes(&validated.codes);
        set_metadata(
            &mut block,
            BlockMetadataIndex::TransactionsFilter,
            filter.clone(),
        );
        let mut next_commit_hash = Vec::new();
        if number == 1 || !self.commit_hash.is_empty() {
            let hash = commit_hash(&filter, &update_bytes(&validated.batch), &self.commit_hash);
            set_metadata(
                &mut block,
                BlockMetadataIndex::CommitHash,
                commit_hash_metadata(&hash),
            );
            next_commit_hash = hash.to_vec();
        }
        self.blocks.append(&block)?;
        // The block store now holds the block: from here on the ledger moves forward, and a
        // failure to update state or history leaves them to be replayed on the next open.
        self.height = number + 1;
        self.tip_hash = tip_hash;
        self.commit_hash = next_commit_hash;
        if let Err(e) = self.update_databases(number, &validated) {
            self.broken = Some(e.to_string());
            return Err(e);
        }
        if let Some(bundle) = validated.new_bundle {
            tracing::info!(
                channel = self.channel_id(),
                number,
                sequence = bundle.sequence(),
                "channel config updated"
            );
            self.bundle = Arc::new(bundle);
        }
        let committed = Arc::new(CommittedBlock {
            number,
            txs: validated
                .txs
                .iter()
                .zip(&validated.codes)
                .map(|(tx, code)| CommittedTx {
                    txid: tx.txid.clone(),
                    code: *code,
                })
                .collect(),
            block: Arc::new(block),
        });
        self.events.publish(Arc::clone(&committed));
        Ok(committed)
    }

    fn update_databases(&self, number: u64, validated: &ValidatedTxs) -> Result<(), CommitError> {
        let count = validated.codes.len();
        self.state
            .apply(&validated.batch, savepoint(number, count))?;
        let mut kinds = Vec::with_capacity(count);
        let mut rwsets = Vec::with_capacity(count);
        for (tx, code) in validated.txs.iter().zip(&validated.codes) {
            match &tx.body {
                crate::txcheck::TxBody::Endorser(Ok(etx)) if *code == TxValidationCode::Valid => {
                    kinds.push(Some(HeaderType::EndorserTransaction));
                    rwsets.push(Some(&etx.rwset));
                }
                _ => {
                    kinds.push(None);
                    rwsets.push(None);
                }
            }
        }
        self.record_history(number, &kinds, &rwsets)
    }

    /// Fabric's GetHistoryForKey: the values `key` of `ns` took in valid transactions, newest
    /// first, at most `limit` of them.
    pub fn history_for_key(
        &self,
        ns: &str,
        key: &str,
        limit: usize,
    ) -> Result<Vec<KeyModification>, CommitError> {
        let heights = self.history.key_history(ns, key.as_bytes(), limit)?;
        let mut out = Vec::with_capacity(heights.len());
        let mut cached: Option<(u64, Block)> = None;
        for height in heights {
            if cached.as_ref().map(|c| c.0) != Some(height.block_num) {
                let block = self
                    .blocks
                    .block_by_number(height.block_num)?
                    .ok_or_else(|| CommitError::Inconsistent {
                        channel: self.channel_id().to_owned(),
                        reason: format!("history names missing block {}", height.block_num),
                    })?;
                cached = Some((height.block_num, block));
            }
            let Some((_, block)) = cached.as_ref() else {
                continue;
            };
            if let Some(modification) = key_modification(block, height, ns, key) {
                out.push(modification);
            }
        }
        Ok(out)
    }
}

fn key_modification(block: &Block, height: Height, ns: &str, key: &str) -> Option<KeyModification> {
    let raw = block
        .data
        .as_ref()?
        .data
        .get(usize::try_from(height.tx_num).ok()?)?;
    let (_, rwset) = committed_writes(raw)?;
    let write = rwset
        .ns_rwsets
        .iter()
        .filter(|n| n.namespace == ns)
        .flat_map(|n| &n.kv.writes)
        .find(|w| w.key == key)?;
    let envelope = Envelope::decode(raw.as_slice()).ok()?;
    let payload = Payload::decode(envelope.payload.as_slice()).ok()?;
    let chdr = ChannelHeader::decode(payload.header?.channel_header.as_slice()).ok()?;
    Some(KeyModification {
        tx_id: chdr.tx_id,
        value: write.value.clone(),
        timestamp: chdr.timestamp,
        is_delete: write.is_delete,
    })
}

fn savepoint(number: u64, tx_count: usize) -> Height {
    Height::new(number, (tx_count as u64).saturating_sub(1))
}

fn filter_bytes(codes: &[TxValidationCode]) -> Vec<u8> {
    // Every TxValidationCode fits a byte (the largest, 255, is INVALID_OTHER_REASON).
    codes.iter().map(|c| *c as i32 as u8).collect()
}

fn set_metadata(block: &mut Block, index: BlockMetadataIndex, value: Vec<u8>) {
    let metadata = block.metadata.get_or_insert_with(BlockMetadata::default);
    if metadata.metadata.len() < BLOCK_METADATA_SLOTS {
        metadata.metadata.resize(BLOCK_METADATA_SLOTS, Vec::new());
    }
    metadata.metadata[index as usize] = value;
}

fn stored_codes(block: &Block) -> Vec<TxValidationCode> {
    block
        .metadata
        .as_ref()
        .and_then(|m| {
            m.metadata
                .get(BlockMetadataIndex::TransactionsFilter as usize)
        })
        .map(|filter| {
            filter
                .iter()
                .map(|b| {
                    TxValidationCode::try_from(i32::from(*b))
                        .unwrap_or(TxValidationCode::InvalidOtherReason)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn stored_commit_hash(block: &Block) -> Vec<u8> {
    block
        .metadata
        .as_ref()
        .and_then(|m| m.metadata.get(BlockMetadataIndex::CommitHash as usize))
        .filter(|bytes| !bytes.is_empty())
        .and_then(|bytes| Metadata::decode(bytes.as_slice()).ok())
        .map(|m| m.value)
        .unwrap_or_default()
}

/// The config in force: the one in state (written by the last committed config block), or the
/// genesis block's before state has any.
fn current_bundle(
    blocks: &Channel,
    state: &LevelDbChannelState,
) -> Result<ChannelBundle, CommitError> {
    let channel = blocks.id().to_owned();
    let inconsistent = |reason: String| CommitError::Inconsistent {
        channel: channel.clone(),
        reason,
    };
    match state.get(CONFIG_NAMESPACE, CHANNEL_CONFIG_KEY.as_bytes())? {
        Some(value) => {
            let envelope = ConfigEnvelope::decode(value.value.as_slice())
                .map_err(|e| inconsistent(format!("stored channel config does not decode: {e}")))?;
            let config = envelope
                .config
                .ok_or_else(|| inconsistent("stored channel config is empty".into()))?;
            Ok(ChannelBundle::new(
                blocks.id(),
                &config,
                BundleSources::weft(),
            )?)
        }
        None => {
            let genesis = blocks
                .block_by_number(0)?
                .ok_or_else(|| inconsistent("genesis block is missing".into()))?;
            Ok(ChannelBundle::from_config_block(
                &genesis,
                BundleSources::weft(),
            )?)
        }
    }
}
