//! The channels this node serves (Fabric's `multichannel.Registrar` without a system channel):
//! join with a genesis block, list, inspect, remove, and restore on restart from the ledger.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use fabric_protos::common::Block;
use weft_channelconfig::{BundleSources, ChannelBundle, Consensus};
use weft_ledger::BlockStore;

use super::chain::{Chain, SequencerContext, start_chain};
use super::cluster::{ChannelMembers, Cluster};

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
    chains: RwLock<BTreeMap<String, Arc<Chain>>>,
    /// Where channel consenter sets are published for the cluster transport, if any.
    cluster: Option<Arc<Cluster>>,
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
            chains: RwLock::new(BTreeMap::new()),
            cluster: None,
        })
    }

    /// Publishes the consenter set of every channel served to `cluster` (before its
    /// consensus starts), so raft traffic and forwarded submits reach the other consenters.
    pub fn with_cluster(mut self, cluster: Arc<Cluster>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    fn publish_members(&self, bundle: &ChannelBundle) {
        if let (Some(cluster), Some(ours)) = (&self.cluster, self.tls_cert_der.as_deref())
            && let Some(members) = ChannelMembers::from_bundle(bundle, ours)
        {
            cluster.set_channel(bundle.channel_id(), members);
        }
    }

    /// Serves again every channel found in the ledger (at node start).
    pub fn restore(&self) -> Result<(), String> {
        let ids = self.store.channels().map_err(|e| e.to_string())?;
        for id in ids {
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
        self.read_chains().keys().cloned().collect()
    }

    pub fn info(&self, id: &str) -> Result<ChannelInfo, RegistrarError> {
        let chain = self.chain(id).ok_or(RegistrarError::ChannelNotExist)?;
        let height = chain
            .ledger()
            .height()
            .map_err(|e| RegistrarError::Internal(e.to_string()))?;
        Ok(ChannelInfo {
            name: id.to_string(),
            consensus_relation: "consenter",
            status: if chain.is_errored() {
                "failed"
            } else {
                "active"
            },
            height,
        })
    }

    /// Joins a channel with its genesis block (blocking: writes the ledger).
    pub fn join(&self, block: &Block) -> Result<ChannelInfo, RegistrarError> {
        let bundle = validate_join_block(block)?;
        let id = bundle.channel_id().to_string();
        if self.chain(&id).is_some() {
            return Err(RegistrarError::ChannelAlreadyExists);
        }
        let number = block.header.as_ref().map_or(0, |h| h.number);
        if number != 0 {
            return Err(RegistrarError::FollowerUnsupported);
        }
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
        ledger
            .append(block)
            .map_err(|e| RegistrarError::BadJoinBlock(e.to_string()))?;
        self.publish_members(&bundle);
        let chain = start_chain(ledger, block, bundle, self.context.clone())
            .map_err(RegistrarError::Internal)?;
        self.write_chains().insert(id.clone(), chain);
        self.info(&id)
    }

    /// Stops serving a channel and deletes its ledger (blocking).
    pub fn remove(&self, id: &str) -> Result<(), RegistrarError> {
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
