#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crash;
mod fixture;
mod recovery;
mod service;
mod validation;
mod verification;

use std::sync::Arc;

use fabric_protos::common::Block;
use fabric_protos::kvrwset::{KvRead, KvWrite, KvrwSet, Version};
use fabric_protos::protos::TxValidationCode;
use weft_committer::{ChannelLedger, CommittedBlock, LedgerStores};
use weft_ledger::StoreOptions;

use fixture::{Network, Signer, TestDefinitions, header_hash, signed_block};

/// A channel ledger on fresh stores, created from the shared network's genesis block.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub stores: LedgerStores,
    pub ledger: ChannelLedger,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stores = LedgerStores::open(dir.path(), StoreOptions::default()).unwrap();
        let net = Network::shared();
        let ledger = ChannelLedger::create(&stores, net.genesis.clone(), definitions()).unwrap();
        Self {
            dir,
            stores,
            ledger,
        }
    }

    /// The next block holding `envelopes`, signed by the orderer.
    pub fn next_block(&self, envelopes: Vec<Vec<u8>>) -> Block {
        let tip = self
            .ledger
            .blocks()
            .block_by_number(self.ledger.height() - 1)
            .unwrap()
            .unwrap();
        signed_block(
            self.ledger.height(),
            &header_hash(&tip),
            envelopes,
            &Network::shared().orderer(),
        )
    }

    pub fn commit(&mut self, envelopes: Vec<Vec<u8>>) -> Arc<CommittedBlock> {
        let block = self.next_block(envelopes);
        self.ledger.commit_block(block).unwrap()
    }

    pub fn codes(&mut self, envelopes: Vec<Vec<u8>>) -> Vec<TxValidationCode> {
        self.commit(envelopes).txs.iter().map(|t| t.code).collect()
    }
}

pub fn definitions() -> Arc<TestDefinitions> {
    Arc::new(TestDefinitions::default())
}

pub fn writes(pairs: &[(&str, &str)]) -> KvrwSet {
    KvrwSet {
        writes: pairs
            .iter()
            .map(|(k, v)| KvWrite {
                key: (*k).into(),
                is_delete: false,
                value: v.as_bytes().to_vec(),
            })
            .collect(),
        ..Default::default()
    }
}

pub fn read(key: &str, version: Option<(u64, u64)>) -> KvRead {
    KvRead {
        key: key.into(),
        version: version.map(|(block_num, tx_num)| Version { block_num, tx_num }),
    }
}

pub fn net() -> &'static Network {
    Network::shared()
}

pub fn org(n: u8) -> Signer {
    net().peer(n)
}
