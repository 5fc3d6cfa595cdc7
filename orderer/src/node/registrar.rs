//! The channels this node serves (Fabric's `multichannel.Registrar` without a system channel):
//! join, list, inspect, remove, and restore on restart from the ledger.
//!
//! Joining with a genesis block starts the channel at once. Joining with a later config block
//! (a channel that already has blocks) is Fabric's onboarding: the channel reports status
//! "onboarding" while the blocks below the join block are pulled from the channel's other
//! orderers (hash-linked to the join block, which the administrator vouches for), then
//! "active" once they and the join block are written and consensus starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use fabric_protos::common::Block;
use prost::Message;
use weft_channelconfig::{BundleSources, ChannelBundle, Consensus};
use weft_ledger::BlockStore;

use super::chain::{Chain, SequencerContext, start_chain};
use super::cluster::{ChannelMembers, Cluster};
use super::puller::{self, BlockPuller};

/// How this node relates to a channel, as osnadmin reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    pub name: String,
    pub consensus_relation: &'static str,
    pub status: &'static str,
    pub height: u64,
}

/// Why a channel participation request failed; each maps to Fabric's HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum RegistrarError {
    #[error("channel already exists")]
    ChannelAlreadyExists,
    #[error("channel does not exist")]
    ChannelNotExist,
    #[error("{0}")]
    BadJoinBlock(String),
    #[error(
        "this node is not a consenter of the channel; joining as a follower is not supported by Weft yet"
    )]
    FollowerUnsupported,
    #[error("{0}")]
    Internal(String),
}

pub struct Registrar {
    store: BlockStore,
    context: SequencerContext,
    /// DER of this node's TLS certificate (`General.TLS.Certificate`), which identifies it
    /// among a channel's etcdraft consenters.
    tls_cert_der: Option<Vec<u8>>,
    chains: Arc<RwLock<BTreeMap<String, Arc<Chain>>>>,
    /// Channels joined with a later config block, while their earlier blocks are pulled.
    onboarding: Arc<Mutex<BTreeMap<String, Onboarding>>>,
    /// Where channel consenter sets are published for the cluster transport, if any.
    cluster: Option<Arc<Cluster>>,
    /// Where join blocks of unfinished onboardings are kept, so a restart resumes them
    /// (Fabric: `<FileLedger.Location>/pendingops/join/<channel>.join`).
    pending_joins: Option<PathBuf>,
}

/// File name suffix of a pending join block.
const PENDING_JOIN_SUFFIX: &str = ".join";

/// The state of a channel being onboarded.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Onboarding {
    Pulling,
    /// Pulling or checking the blocks failed; the reason is in the log. Remove the channel
    /// and join again.
    Failed,
}

impl Registrar {
    pub fn new(
        store: BlockStore,
        context: SequencerContext,
        tls_cert_pem: Option<&[u8]>,
    ) -> Result<Self, String> {
        let tls_cert_der = match tls_cert_pem {
            Some(pem) => {
                Some(pem_to_der(pem).ok_or("General.TLS.Certificate is not a PEM certificate")?)
            }
            None => None,
        };
        Ok(Self {
            store,
            context,
            tls_cert_der,
            chains: Arc::new(RwLock::new(BTreeMap::new())),
            onboarding: Arc::new(Mutex::new(BTreeMap::new())),
            cluster: None,
            pending_joins: None,
        })
    }

    /// Publishes the consenter set of every channel served to `cluster` (before its
    /// consensus starts), so raft traffic and forwarded submits reach the other consenters.
    pub fn with_cluster(mut self, cluster: Arc<Cluster>) -> Self {
        if let Some(ours) = self.tls_cert_der.clone() {
            let publish_to = cluster.clone();
            self.context.membership = Some(Arc::new(move |bundle, metadata| {
                let members = ChannelMembers::from_metadata(bundle, metadata, &ours)?;
                let id = members.self_id;
                publish_to.set_channel(bundle.channel_id(), members);
                Some(id)
            }));
        }
        self.cluster = Some(cluster);
        self
    }

    /// Keeps the join blocks of unfinished onboardings in `dir`, and resumes them in `restore`.
    pub fn with_pending_joins(mut self, dir: PathBuf) -> Self {
        self.pending_joins = Some(dir);
        self
    }

    fn pending_join_path(&self, channel: &str) -> Option<PathBuf> {
        let dir = self.pending_joins.as_ref()?;
        Some(dir.join(format!("{channel}{PENDING_JOIN_SUFFIX}")))
    }

    /// Resumes the onboardings a restart interrupted; returns their channels.
    fn resume_onboardings(&self) -> Result<Vec<String>, String> {
        let Some(dir) = &self.pending_joins else {
            return Ok(Vec::new());
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        };
        let mut resumed = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.to_string_lossy().ends_with(PENDING_JOIN_SUFFIX) {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let block = weft_protoutil::decode::<Block>("Block", &bytes)
                .map_err(|e| format!("pending join block {}: {e}", path.display()))?;
            let bundle = validate_join_block(&block).map_err(|e| e.to_string())?;
            let id = bundle.channel_id().to_string();
            let ledger = self.store.channel(&id).map_err(|e| e.to_string())?;
            let height = ledger.height().map_err(|e| e.to_string())?;
            let join_number = block.header.as_ref().map_or(0, |h| h.number);
            if height > join_number {
                // Onboarding finished before the file was removed: a normal restore.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            tracing::info!(channel = %id, height, join = join_number, "resuming an interrupted onboarding");
            self.spawn_onboarding(ledger, block, bundle)
                .map_err(|e| e.to_string())?;
            resumed.push(id);
        }
        Ok(resumed)
    }

    fn publish_members(&self, bundle: &ChannelBundle) {
        publish_members(
            self.cluster.as_deref(),
            self.tls_cert_der.as_deref(),
            bundle,
        );
    }

    /// Serves again every channel found in the ledger (at node start).
    pub fn restore(&self) -> Result<(), String> {
        let onboarding = self.resume_onboardings()?;
        let ids = self.store.channels().map_err(|e| e.to_string())?;
        for id in ids {
            if onboarding.contains(&id) {
                continue;
            }
            let ledger = self.store.channel(&id).map_err(|e| e.to_string())?;
            let height = ledger.height().map_err(|e| e.to_string())?;
            if height == 0 {
                continue;
            }
            let read = |n: u64| -> Result<Block, String> {
                ledger
                    .block_by_number(n)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("channel {id}: block {n} is missing from the ledger"))
            };
            let tip = read(height - 1)?;
            let config_index = if height == 1 {
                0
            } else {
                crate::last_config_index(&tip).map_err(|e| e.to_string())?
            };
            let config_block = read(config_index)?;
            let bundle = ChannelBundle::from_config_block(&config_block, BundleSources::weft())
                .map_err(|e| format!("channel {id}: last config block {config_index}: {e}"))?;
            self.publish_members(&bundle);
            let chain = start_chain(ledger, &tip, bundle, self.context.clone())?;
            self.write_chains().insert(id, chain);
        }
        Ok(())
    }

    fn read_chains(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Chain>>> {
        self.chains.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_chains(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Chain>>> {
        self.chains.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn chain(&self, id: &str) -> Option<Arc<Chain>> {
        self.read_chains().get(id).cloned()
    }

    pub fn channel_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.read_chains().keys().cloned().collect();
        ids.extend(self.lock_onboarding().keys().cloned());
        ids.sort();
        ids.dedup();
        ids
    }

    fn lock_onboarding(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Onboarding>> {
        self.onboarding.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn info(&self, id: &str) -> Result<ChannelInfo, RegistrarError> {
        let Some(chain) = self.chain(id) else {
            let state = self
                .lock_onboarding()
                .get(id)
                .cloned()
                .ok_or(RegistrarError::ChannelNotExist)?;
            let height = self
                .store
                .channel(id)
                .and_then(|ledger| ledger.height())
                .map_err(|e| RegistrarError::Internal(e.to_string()))?;
            return Ok(ChannelInfo {
                name: id.to_string(),
                consensus_relation: "consenter",
                status: match state {
                    Onboarding::Pulling => "onboarding",
                    Onboarding::Failed => "failed",
                },
                height,
            });
        };
        let height = chain
            .ledger()
            .height()
            .map_err(|e| RegistrarError::Internal(e.to_string()))?;
        // Fabric reports a node that only keeps a channel's config and blocks as a
        // config-tracker, inactive.
        let (consensus_relation, status) = if chain.is_removed() {
            ("config-tracker", "inactive")
        } else if chain.is_errored() {
            ("consenter", "failed")
        } else {
            ("consenter", "active")
        };
        Ok(ChannelInfo {
            name: id.to_string(),
            consensus_relation,
            status,
            height,
        })
    }

    /// Joins a channel with its genesis block (blocking: writes the ledger).
    pub fn join(&self, block: &Block) -> Result<ChannelInfo, RegistrarError> {
        let bundle = validate_join_block(block)?;
        let id = bundle.channel_id().to_string();
        if self.chain(&id).is_some() || self.lock_onboarding().contains_key(&id) {
            return Err(RegistrarError::ChannelAlreadyExists);
        }
        let number = block.header.as_ref().map_or(0, |h| h.number);
        if !self.is_consenter(&bundle) {
            return Err(RegistrarError::FollowerUnsupported);
        }
        let ledger = self
            .store
            .channel(&id)
            .map_err(|e| RegistrarError::BadJoinBlock(e.to_string()))?;
        let height = ledger
            .height()
            .map_err(|e| RegistrarError::Internal(e.to_string()))?;
        if height > 0 {
            return Err(RegistrarError::ChannelAlreadyExists);
        }
        if number > 0 {
            return self.start_onboarding(ledger, block.clone(), bundle);
        }
        ledger
            .append(block)
            .map_err(|e| RegistrarError::BadJoinBlock(e.to_string()))?;
        self.publish_members(&bundle);
        let chain = start_chain(ledger, block, bundle, self.context.clone())
            .map_err(RegistrarError::Internal)?;
        self.write_chains().insert(id.clone(), chain);
        self.info(&id)
    }

    /// Answers the join at once with status "onboarding" and pulls the blocks below the join
    /// block in the background.
    fn start_onboarding(
        &self,
        ledger: weft_ledger::Channel,
        join_block: Block,
        bundle: ChannelBundle,
    ) -> Result<ChannelInfo, RegistrarError> {
        if self.context.puller.is_none() {
            return Err(RegistrarError::BadJoinBlock(
                "joining with a config block above 0 needs a block puller; this node has none"
                    .into(),
            ));
        }
        if let Some(path) = self.pending_join_path(bundle.channel_id()) {
            write_atomically(&path, &join_block.encode_to_vec())
                .map_err(|e| RegistrarError::Internal(format!("{}: {e}", path.display())))?;
        }
        self.spawn_onboarding(ledger, join_block, bundle)
    }

    /// Starts (or resumes) pulling the blocks below `join_block` in the background.
    fn spawn_onboarding(
        &self,
        ledger: weft_ledger::Channel,
        join_block: Block,
        bundle: ChannelBundle,
    ) -> Result<ChannelInfo, RegistrarError> {
        let Some(puller) = self.context.puller.clone() else {
            return Err(RegistrarError::Internal("no block puller".into()));
        };
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| RegistrarError::Internal(format!("no runtime to onboard in: {e}")))?;
        let id = bundle.channel_id().to_string();
        self.lock_onboarding()
            .insert(id.clone(), Onboarding::Pulling);
        let task = OnboardingTask {
            id: id.clone(),
            ledger,
            join_block,
            bundle,
            puller,
            context: self.context.clone(),
            cluster: self.cluster.clone(),
            tls_cert_der: self.tls_cert_der.clone(),
            chains: self.chains.clone(),
            onboarding: self.onboarding.clone(),
            pending_join: self.pending_join_path(&id),
        };
        // Answered before the task can finish, so the caller sees the onboarding state.
        let info = self.info(&id);
        runtime.spawn(task.run());
        info
    }

    /// Stops serving a channel and deletes its ledger (blocking).
    pub fn remove(&self, id: &str) -> Result<(), RegistrarError> {
        if self.chain(id).is_none() && self.lock_onboarding().get(id) == Some(&Onboarding::Failed) {
            self.lock_onboarding().remove(id);
            return self
                .store
                .remove_channel(id)
                .map_err(|e| RegistrarError::Internal(e.to_string()));
        }
        let chain = self
            .write_chains()
            .remove(id)
            .ok_or(RegistrarError::ChannelNotExist)?;
        chain.halt();
        if let Some(cluster) = &self.cluster {
            cluster.remove_channel(id);
        }
        self.store
            .remove_channel(id)
            .map_err(|e| RegistrarError::Internal(e.to_string()))
    }

    fn is_consenter(&self, bundle: &ChannelBundle) -> bool {
        let Some(ours) = self.tls_cert_der.as_deref() else {
            return false;
        };
        let Some(Consensus::EtcdRaft(metadata)) = bundle.orderer().map(|o| &o.consensus) else {
            return false;
        };
        metadata.consenters.iter().any(|c| {
            pem_to_der(&c.server_tls_cert).as_deref() == Some(ours)
                || pem_to_der(&c.client_tls_cert).as_deref() == Some(ours)
        })
    }
}

/// Writes `bytes` to `path` through a synced temporary file renamed over it.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let staged = path.with_extension("tmp");
    let mut file = std::fs::File::create(&staged)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&staged, path)
}

/// Publishes the consenters of `bundle` to `cluster` when this node (`ours`) is one of them.
fn publish_members(cluster: Option<&Cluster>, ours: Option<&[u8]>, bundle: &ChannelBundle) {
    if let (Some(cluster), Some(ours)) = (cluster, ours)
        && let Some(members) = ChannelMembers::from_bundle(bundle, ours)
    {
        cluster.set_channel(bundle.channel_id(), members);
    }
}

/// Everything the background onboarding of one channel needs.
struct OnboardingTask {
    id: String,
    ledger: weft_ledger::Channel,
    join_block: Block,
    bundle: ChannelBundle,
    puller: Arc<BlockPuller>,
    context: SequencerContext,
    cluster: Option<Arc<Cluster>>,
    tls_cert_der: Option<Vec<u8>>,
    chains: Arc<RwLock<BTreeMap<String, Arc<Chain>>>>,
    onboarding: Arc<Mutex<BTreeMap<String, Onboarding>>>,
    /// The join block's file, removed once the channel is active.
    pending_join: Option<PathBuf>,
}

impl OnboardingTask {
    async fn run(self) {
        let state = match self.onboard().await {
            Ok(chain) => {
                self.chains
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(self.id.clone(), chain);
                if let Some(path) = &self.pending_join {
                    let _ = std::fs::remove_file(path);
                }
                tracing::info!(channel = %self.id, "onboarding done: the channel is active");
                None
            }
            Err(e) => {
                tracing::error!(channel = %self.id, error = %e, "onboarding failed; remove the channel and join again");
                Some(Onboarding::Failed)
            }
        };
        let mut onboarding = self.onboarding.lock().unwrap_or_else(|p| p.into_inner());
        match state {
            None => onboarding.remove(&self.id),
            Some(failed) => onboarding.insert(self.id.clone(), failed),
        };
    }

    /// Pulls blocks `0..join` into the ledger, checks they lead to the join block, writes it
    /// and starts the channel.
    async fn onboard(&self) -> Result<Arc<Chain>, String> {
        let join_number = self.join_block.header.as_ref().map_or(0, |h| h.number);
        let sources = puller::sources(&self.bundle);
        tracing::info!(channel = %self.id, blocks = join_number, "onboarding: pulling blocks from other orderers");
        // A resumed onboarding continues after the blocks already written.
        let mut next = self.ledger.height().map_err(|e| e.to_string())?;
        let mut previous = match next {
            0 => None,
            n => self
                .ledger
                .block_by_number(n - 1)
                .map_err(|e| e.to_string())?,
        };
        while next < join_number {
            let blocks = self
                .puller
                .pull_window(&self.id, &sources, next, join_number - 1)
                .await
                .map_err(|e| e.to_string())?;
            for block in blocks {
                self.check_link(previous.as_ref(), &block)?;
                self.append(&block).await?;
                previous = Some(block);
                next += 1;
            }
        }
        // The join block vouches for everything below it through its previous hash.
        self.check_link(previous.as_ref(), &self.join_block)?;
        self.append(&self.join_block).await?;
        publish_members(
            self.cluster.as_deref(),
            self.tls_cert_der.as_deref(),
            &self.bundle,
        );
        start_chain(
            self.ledger.clone(),
            &self.join_block,
            self.bundle.clone(),
            self.context.clone(),
        )
    }

    /// `block` follows `previous` (number, previous hash) and its data matches its header.
    fn check_link(&self, previous: Option<&Block>, block: &Block) -> Result<(), String> {
        let header = block
            .header
            .as_ref()
            .ok_or("a pulled block has no header")?;
        let (number, hash) = match previous.and_then(|p| p.header.as_ref()) {
            Some(p) => (p.number + 1, weft_protoutil::block_header_hash(p).to_vec()),
            None => (0, Vec::new()),
        };
        if header.number != number {
            return Err(format!("expected block {number}, got {}", header.number));
        }
        if number > 0 && header.previous_hash != hash {
            return Err(format!(
                "block {number} does not link to block {}: the orderers served another chain than the join block's",
                number - 1
            ));
        }
        let data = block.data.as_ref().ok_or("a pulled block has no data")?;
        if header.data_hash != weft_protoutil::block_data_hash(data) {
            return Err(format!("block {number}: data hash does not match its data"));
        }
        Ok(())
    }

    async fn append(&self, block: &Block) -> Result<(), String> {
        let ledger = self.ledger.clone();
        let block = block.clone();
        tokio::task::spawn_blocking(move || ledger.append(&block))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }
}

/// Checks a join block the way Fabric's `ValidateJoinBlock` does: a config block of an
/// application channel whose config forms a valid bundle.
fn validate_join_block(block: &Block) -> Result<ChannelBundle, RegistrarError> {
    if block.data.as_ref().is_none_or(|d| d.data.is_empty()) {
        return Err(RegistrarError::BadJoinBlock(
            "block is not a config block: it has no data".into(),
        ));
    }
    let bundle = ChannelBundle::from_config_block(block, BundleSources::weft())
        .map_err(|e| RegistrarError::BadJoinBlock(format!("invalid join block: {e}")))?;
    if bundle.application().is_none() {
        return Err(RegistrarError::BadJoinBlock(
            "invalid join block: the system channel is not supported".into(),
        ));
    }
    if bundle.orderer().is_none() {
        return Err(RegistrarError::BadJoinBlock(
            "invalid join block: the config has no Orderer group".into(),
        ));
    }
    Ok(bundle)
}

fn pem_to_der(pem: &[u8]) -> Option<Vec<u8>> {
    openssl::x509::X509::from_pem(pem)
        .ok()
        .and_then(|c| c.to_der().ok())
}
