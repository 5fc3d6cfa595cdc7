//! Validation of a block's transactions, giving each its `TxValidationCode` exactly as a
//! Fabric v2.5 peer's v20 validator and ledger do (core/committer/txvalidator/v20/validator.go,
//! plugindispatcher, builtin v20 plugin, kvledger MVCC).
//!
//! The work is split so that only cheap steps touch the (single-threaded) state database:
//!
//! 1. [`prepare_block`], in parallel and without state: envelope structure, creator signature,
//!    txid, the dispatcher's structural checks ([`crate::txcheck`]). It can run for block N+1
//!    while block N commits, as long as N does not change the config.
//! 2. On the committer's thread: duplicate txids already in the ledger, chaincode definitions,
//!    key VALIDATION_PARAMETERs and collection policies read from committed state and compiled;
//!    a config transaction is checked against the current config and its bundle built.
//! 3. In parallel: endorsement policies of every written namespace ([`crate::endorsement`]).
//! 4. In block order: a key whose VALIDATION_PARAMETER an earlier transaction of the block
//!    changed (and that passed its endorsement check for that namespace) fails the endorsement
//!    policy; repeated txids within the block; then MVCC and phantom reads through
//!    [`weft_ledger::kv::validate_block`].
//!
//! Namespaces of a transaction are checked in name order and the first failure gives its code.
//! (Fabric walks a Go map, so its choice between INVALID_CHAINCODE and
//! ENDORSEMENT_POLICY_FAILURE for a transaction failing both in different namespaces varies;
//! Fabric also hangs when an earlier transaction with a metadata write never reaches the
//! endorsement check, which Weft treats as "not changed".)

use std::collections::{BTreeMap, HashMap};

use fabric_protos::common::{Block, ConfigEnvelope};
use fabric_protos::kvrwset::{KvMetadataWrite, KvWrite, KvrwSet};
use fabric_protos::protos::{MetaDataKeys, TxValidationCode};
use fabric_protos::rwset::TxPvtReadWriteSet;
use prost::Message;
use weft_channelconfig::{BundleSources, ChannelBundle};
use weft_ledger::Channel;
use weft_ledger::kv::{
    BlockTx, NsRwSet, TxRwSet, UpdateBatch, VersionedStore, hashed_namespace,
    prepare_private_writes, validate_block,
};

use crate::definitions::{
    BUILTIN_VALIDATION_PLUGIN, CollectionPolicy, DefinitionSource, NamespaceDefinition,
};
use crate::endorsement::{
    BlockPolicies, CollectionEp, Compiled, compile_application_policy, compile_signature_policy,
    metadata_keys, namespace_endorsed, policy_keys,
};
use crate::error::CommitError;
use crate::parallel;
use crate::txcheck::{CheckedTx, EndorserTx, TxBody, check_transaction};

/// Namespace under which a peer keeps the latest config envelope in state (Fabric's
/// `configtxProcessor`: namespace "", key CHANNEL_CONFIG_ENV_BYTES).
pub const CONFIG_NAMESPACE: &str = "";
pub const CHANNEL_CONFIG_KEY: &str = "CHANNEL_CONFIG_ENV_BYTES";

/// A block after the stateless checks, ready for [`validate_prepared`].
pub struct PreparedBlock {
    pub(crate) block: Block,
    pub(crate) config_sequence: u64,
    pub(crate) txs: Vec<CheckedTx>,
}

impl PreparedBlock {
    pub fn block(&self) -> &Block {
        &self.block
    }

    pub fn number(&self) -> u64 {
        self.block.header.as_ref().map_or(0, |h| h.number)
    }

    /// The config sequence the checks used; the block must be validated under the same one.
    pub fn config_sequence(&self) -> u64 {
        self.config_sequence
    }
}

/// Runs the stateless checks of every transaction of `block` on up to `workers` threads.
pub fn prepare_block(block: Block, bundle: &ChannelBundle, workers: usize) -> PreparedBlock {
    let empty = Vec::new();
    let envelopes = block.data.as_ref().map_or(&empty, |d| &d.data);
    let msps = bundle.msp_manager().as_ref();
    let channel = bundle.channel_id();
    let txs = parallel::map(envelopes, workers, |_, raw| {
        check_transaction(raw, channel, msps)
    });
    PreparedBlock {
        config_sequence: bundle.sequence(),
        block,
        txs,
    }
}

/// What validation decided for a block.
pub struct ValidatedTxs {
    pub codes: Vec<TxValidationCode>,
    pub batch: UpdateBatch,
    /// The config the block's valid config transaction establishes.
    pub new_bundle: Option<ChannelBundle>,
    /// Transaction ids, timestamps and decoded contents, by index.
    pub txs: Vec<CheckedTx>,
}

/// What validation reads besides the block.
pub struct ValidationContext<'a> {
    pub state: &'a dyn VersionedStore,
    pub blocks: &'a Channel,
    pub definitions: &'a dyn DefinitionSource,
    pub bundle: &'a ChannelBundle,
    pub workers: usize,
}

/// Per namespace of a transaction: its chaincode policy, or the code it fails with.
type NsPolicies = Vec<(String, Result<Compiled, TxValidationCode>)>;

/// Validates a prepared block (steps 2 to 4 of the module docs).
///
/// `private` holds the private write sets the peer has for the block's transactions, by
/// transaction index; those of valid transactions are checked against the hashes in the block
/// and committed with it (Fabric's validateAndPreparePvtBatch).
pub fn validate_prepared(
    prepared: PreparedBlock,
    ctx: &ValidationContext<'_>,
    private: &BTreeMap<u64, TxPvtReadWriteSet>,
) -> Result<(Block, ValidatedTxs), CommitError> {
    let number = prepared.number();
    let PreparedBlock { block, txs, .. } = prepared;
    let mut codes: Vec<TxValidationCode> = txs.iter().map(|t| t.code).collect();
    let v20 = ctx
        .bundle
        .application()
        .is_some_and(|a| a.capabilities.v2_0_validation());
    let endorser = txs.iter().any(|t| matches!(t.body, TxBody::Endorser(_)));
    if endorser && !v20 {
        return Err(CommitError::LegacyValidation {
            channel: ctx.bundle.channel_id().to_owned(),
        });
    }
    check_ledger_duplicates(&txs, &mut codes, ctx.blocks)?;
    let mut new_bundle = None;
    let mut ns_policies: Vec<Option<NsPolicies>> = Vec::with_capacity(txs.len());
    let mut policies = BlockPolicies::default();
    let mut definitions = DefinitionCache::default();
    for (index, tx) in txs.iter().enumerate() {
        let mut entry = None;
        if codes[index] == TxValidationCode::Valid {
            match &tx.body {
                TxBody::Endorser(Err(code)) => codes[index] = *code,
                TxBody::Endorser(Ok(etx)) => {
                    let resolved = definitions.resolve(etx, index, ctx)?;
                    prefetch_key_policies(etx, &resolved, &mut policies, ctx)?;
                    entry = Some(resolved);
                }
                TxBody::Config { config_envelope } => {
                    new_bundle = Some(apply_config(config_envelope, number, ctx.bundle)?);
                }
                TxBody::None => {}
            }
        }
        ns_policies.push(entry);
    }
    let endorsed = parallel::map(&txs, ctx.workers, |index, tx| {
        match (&tx.body, &ns_policies[index]) {
            (TxBody::Endorser(Ok(etx)), Some(nss)) => Some(endorse_namespaces(etx, nss, &policies)),
            _ => None,
        }
    });
    resolve_key_dependencies(&txs, &endorsed, &mut codes);
    mark_block_duplicates(&txs, &mut codes);
    let config_rwsets: Vec<Option<TxRwSet>> = txs
        .iter()
        .map(|tx| match &tx.body {
            TxBody::Config { config_envelope } => Some(config_rwset(config_envelope)),
            _ => None,
        })
        .collect();
    let block_txs: Vec<BlockTx<'_>> = txs
        .iter()
        .zip(&codes)
        .zip(&config_rwsets)
        .map(|((tx, code), config)| BlockTx {
            code: *code,
            rwset: if *code == TxValidationCode::Valid {
                match &tx.body {
                    TxBody::Endorser(Ok(etx)) => Some(&etx.rwset),
                    _ => config.as_ref(),
                }
            } else {
                None
            },
        })
        .collect();
    let mut validated = validate_block(ctx.state, number, &block_txs)?;
    if !private.is_empty() {
        prepare_private_writes(ctx.state, number, &block_txs, &mut validated, private)?;
    }
    Ok((
        block,
        ValidatedTxs {
            codes: validated.codes,
            batch: validated.batch,
            new_bundle,
            txs,
        },
    ))
}

fn check_ledger_duplicates(
    txs: &[CheckedTx],
    codes: &mut [TxValidationCode],
    blocks: &Channel,
) -> Result<(), CommitError> {
    for (tx, code) in txs.iter().zip(codes.iter_mut()) {
        if *code == TxValidationCode::Valid
            && matches!(tx.body, TxBody::Endorser(_))
            && blocks.tx_location(&tx.txid)?.is_some()
        {
            *code = TxValidationCode::DuplicateTxid;
        }
    }
    Ok(())
}

fn apply_config(
    config_envelope: &[u8],
    number: u64,
    bundle: &ChannelBundle,
) -> Result<ChannelBundle, CommitError> {
    let invalid = |reason: String| CommitError::InvalidConfig {
        channel: bundle.channel_id().to_owned(),
        number,
        reason,
    };
    let envelope = ConfigEnvelope::decode(config_envelope)
        .map_err(|e| invalid(format!("the ConfigEnvelope does not decode: {e}")))?;
    bundle
        .apply_config_envelope(&envelope, BundleSources::weft())
        .map_err(|e| invalid(e.to_string()))
}

/// Chaincode definitions read once per block and namespace.
#[derive(Default)]
struct DefinitionCache {
    namespaces: HashMap<String, Result<Compiled, TxValidationCode>>,
}

impl DefinitionCache {
    fn resolve(
        &mut self,
        tx: &EndorserTx,
        index: usize,
        ctx: &ValidationContext<'_>,
    ) -> Result<NsPolicies, CommitError> {
        let mut out = Vec::with_capacity(tx.written_namespaces.len());
        for ns in &tx.written_namespaces {
            if !self.namespaces.contains_key(ns) {
                let lookup = ctx
                    .definitions
                    .namespace(ns, ctx.state, ctx.bundle)
                    .map_err(|reason| CommitError::DefinitionLookup {
                        namespace: ns.clone(),
                        reason,
                    })?;
                let resolved = match lookup {
                    NamespaceDefinition::Defined(info)
                        if !info.plugin.is_empty() && !info.parameter.is_empty() =>
                    {
                        if info.plugin != BUILTIN_VALIDATION_PLUGIN {
                            return Err(CommitError::UnknownValidationPlugin {
                                tx_index: index,
                                namespace: ns.clone(),
                                plugin: info.plugin,
                            });
                        }
                        Ok(compile_application_policy(&info.parameter, ctx.bundle))
                    }
                    _ => Err(TxValidationCode::InvalidChaincode),
                };
                self.namespaces.insert(ns.clone(), resolved);
            }
            if let Some(resolved) = self.namespaces.get(ns) {
                out.push((ns.clone(), resolved.clone()));
            }
        }
        Ok(out)
    }
}

fn ns_rwset<'a>(tx: &'a EndorserTx, ns: &str) -> Option<&'a NsRwSet> {
    tx.rwset.ns_rwsets.iter().find(|n| n.namespace == ns)
}

fn prefetch_key_policies(
    tx: &EndorserTx,
    namespaces: &NsPolicies,
    policies: &mut BlockPolicies,
    ctx: &ValidationContext<'_>,
) -> Result<(), CommitError> {
    for (ns, definition) in namespaces {
        if definition.is_err() {
            continue;
        }
        let Some(rwset_ns) = ns_rwset(tx, ns) else {
            continue;
        };
        for (collection, key) in policy_keys(rwset_ns) {
            let lookup = (ns.clone(), (collection.clone(), key.clone()));
            if policies.key_params.contains_key(&lookup) {
                continue;
            }
            let state_ns = if collection.is_empty() {
                ns.clone()
            } else {
                if collection_policy(ns, &collection, policies, ctx)? == CollectionState::Undefined
                {
                    continue;
                }
                hashed_namespace(ns, &collection)
            };
            if let Some(param) = validation_parameter(ctx, &state_ns, &key)? {
                policies.key_params.insert(lookup, param);
            }
        }
    }
    Ok(())
}

#[derive(PartialEq, Eq)]
enum CollectionState {
    Defined,
    Undefined,
}

fn collection_policy(
    ns: &str,
    collection: &str,
    policies: &mut BlockPolicies,
    ctx: &ValidationContext<'_>,
) -> Result<CollectionState, CommitError> {
    let id = (ns.to_owned(), collection.to_owned());
    if !policies.collections.contains_key(&id) {
        let looked_up = ctx
            .definitions
            .collection(ns, collection, ctx.state, ctx.bundle)
            .map_err(|reason| CommitError::DefinitionLookup {
                namespace: format!("{ns}/{collection}"),
                reason,
            })?;
        let compiled = match looked_up {
            CollectionPolicy::Policy(bytes) => {
                CollectionEp::Policy(compile_application_policy(&bytes, ctx.bundle))
            }
            CollectionPolicy::ChaincodePolicy => CollectionEp::ChaincodePolicy,
            CollectionPolicy::Undefined => CollectionEp::Undefined,
        };
        policies.collections.insert(id.clone(), compiled);
    }
    Ok(match policies.collections.get(&id) {
        Some(CollectionEp::Undefined) => CollectionState::Undefined,
        _ => CollectionState::Defined,
    })
}

/// The VALIDATION_PARAMETER of a committed key, compiled; `None` when it has none.
fn validation_parameter(
    ctx: &ValidationContext<'_>,
    state_ns: &str,
    key: &[u8],
) -> Result<Option<Compiled>, CommitError> {
    let Some(metadata) = ctx.state.get(state_ns, key)?.and_then(|v| v.metadata) else {
        return Ok(None);
    };
    let bad = |reason: String| CommitError::BadValidationParameter {
        namespace: state_ns.to_owned(),
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    };
    let entries = KvMetadataWrite::decode(metadata.as_slice())
        .map_err(|e| bad(format!("stored metadata does not decode: {e}")))?;
    let name = MetaDataKeys::ValidationParameter.as_str_name();
    let Some(entry) = entries.entries.iter().find(|e| e.name == name) else {
        return Ok(None);
    };
    if entry.value.is_empty() {
        return Ok(None);
    }
    let envelope = fabric_protos::common::SignaturePolicyEnvelope::decode(entry.value.as_slice())
        .map_err(|e| bad(e.to_string()))?;
    Ok(Some(compile_signature_policy(envelope, ctx.bundle)))
}

/// Outcome of the endorsement checks of one transaction: each checked namespace with whether
/// it passed, in order; checking stops at the first failure, whose code is `failure`.
struct Endorsed {
    namespaces: Vec<(String, bool)>,
    failure: Option<TxValidationCode>,
}

fn endorse_namespaces(tx: &EndorserTx, nss: &NsPolicies, policies: &BlockPolicies) -> Endorsed {
    let mut out = Endorsed {
        namespaces: Vec::with_capacity(nss.len()),
        failure: None,
    };
    for (ns, definition) in nss {
        let chaincode_ep = match definition {
            Ok(ep) => ep,
            Err(code) => {
                out.failure = Some(*code);
                break;
            }
        };
        let ok = namespace_endorsed(
            ns,
            ns_rwset(tx, ns),
            chaincode_ep,
            policies,
            &tx.endorsements,
        );
        out.namespaces.push((ns.clone(), ok));
        if !ok {
            out.failure = Some(TxValidationCode::EndorsementPolicyFailure);
            break;
        }
    }
    out
}

/// Step 4a: applies earlier transactions' VALIDATION_PARAMETER changes (Fabric's
/// `ValidationParameterUpdatedError`) and sets the endorsement codes.
fn resolve_key_dependencies(
    txs: &[CheckedTx],
    endorsed: &[Option<Endorsed>],
    codes: &mut [TxValidationCode],
) {
    // (namespace, collection, key) -> indexes of earlier transactions that passed the
    // namespace's check and write the key's metadata.
    let mut changed: BTreeMap<(String, String, Vec<u8>), usize> = BTreeMap::new();
    for (index, (tx, outcome)) in txs.iter().zip(endorsed).enumerate() {
        let (TxBody::Endorser(Ok(etx)), Some(outcome)) = (&tx.body, outcome) else {
            continue;
        };
        let mut passed = Vec::new();
        let mut failure = None;
        for (ns, ok) in &outcome.namespaces {
            let rwset_ns = ns_rwset(etx, ns);
            let updated = rwset_ns.is_some_and(|r| {
                policy_keys(r)
                    .into_iter()
                    .any(|(c, k)| changed.contains_key(&(ns.clone(), c, k)))
            });
            if updated || !ok {
                failure = Some(TxValidationCode::EndorsementPolicyFailure);
                break;
            }
            passed.push(ns.as_str());
        }
        let failure = failure.or(outcome.failure);
        if let Some(code) = failure {
            codes[index] = code;
        }
        for ns in passed {
            if let Some(rwset_ns) = ns_rwset(etx, ns) {
                for (c, k) in metadata_keys(rwset_ns) {
                    changed.entry((ns.to_owned(), c, k)).or_insert(index);
                }
            }
        }
    }
}

/// Step 4b: a txid repeated within the block invalidates every valid occurrence after the
/// first (Fabric's `markTXIdDuplicates`).
fn mark_block_duplicates(txs: &[CheckedTx], codes: &mut [TxValidationCode]) {
    let mut seen = std::collections::HashSet::new();
    for (tx, code) in txs.iter().zip(codes.iter_mut()) {
        if *code != TxValidationCode::Valid || !matches!(tx.body, TxBody::Endorser(_)) {
            continue;
        }
        if !seen.insert(tx.txid.as_str()) {
            *code = TxValidationCode::DuplicateTxid;
        }
    }
}

/// The read-write set of a config transaction: one write of the config envelope.
pub fn config_rwset(config_envelope: &[u8]) -> TxRwSet {
    TxRwSet {
        ns_rwsets: vec![NsRwSet {
            namespace: CONFIG_NAMESPACE.to_owned(),
            kv: KvrwSet {
                writes: vec![KvWrite {
                    key: CHANNEL_CONFIG_KEY.to_owned(),
                    is_delete: false,
                    value: config_envelope.to_vec(),
                }],
                ..KvrwSet::default()
            },
            collections: Vec::new(),
        }],
    }
}
