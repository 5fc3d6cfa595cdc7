//! The node's channel registry and single-node sequencer on a channel made by upstream
//! `configtxgen`: joining as a consenter (Fabric's channel participation `Join`), cutting
//! blocks by `BatchSize.MaxMessageCount` and by `BatchTimeout` (Fabric's blockcutter and
//! the batch timer of its consenters), and serving the channel again after a restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fabric_protos::common::HeaderType;
use weft_ledger::{BlockStore, StoreOptions};
use weft_msp::SigningIdentity;
use weft_orderer::broadcast::FilterOptions;
use weft_orderer::node::chain::{Order, SequencerContext};
use weft_orderer::node::raft::RaftDriver;
use weft_orderer::node::registrar::{Registrar, RegistrarError};

use crate::network::{CHANNEL, Network, signed_envelope};

const ORDERER_TLS: &str =
    "crypto/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt";
const OTHER_TLS: &str =
    "crypto/peerOrganizations/org1.example.com/peers/peer0.org1.example.com/tls/server.crt";

fn registrar(network: &Network, store: BlockStore, tls: &str) -> Registrar {
    registrar_with(network, store, tls, None)
}

fn registrar_with(
    network: &Network,
    store: BlockStore,
    tls: &str,
    raft: Option<RaftDriver>,
) -> Registrar {
    let signer: Arc<dyn SigningIdentity> = network.orderer();
    let pem = std::fs::read(network.dir.path().join(tls)).unwrap();
    let context = SequencerContext {
        signer,
        filters: FilterOptions::default(),
        raft,
        puller: None,
        membership: None,
    };
    Registrar::new(store, context, Some(&pem)).unwrap()
}

async fn wait_for_height(registrar: &Registrar, height: u64) {
    let chain = registrar.chain(CHANNEL).unwrap();
    tokio::time::timeout(
        Duration::from_secs(30),
        chain.ledger().wait_for_block(height - 1),
    )
    .await
    .expect("the block was not written in time")
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joined_channel_cuts_blocks_by_count_and_timeout_and_survives_a_restart() {
    let network = Network::shared();
    let dir = tempfile::tempdir().unwrap();
    let store = BlockStore::open(dir.path(), StoreOptions::default()).unwrap();

    // A node whose TLS certificate is not among the consenters cannot join (followers are
    // not supported yet), and nothing is written.
    let outsider = registrar(network, store.clone(), OTHER_TLS);
    assert!(matches!(
        outsider.join(&network.genesis),
        Err(RegistrarError::FollowerUnsupported)
    ));
    assert!(outsider.channel_ids().is_empty());

    let node = registrar(network, store.clone(), ORDERER_TLS);
    let info = tokio::task::block_in_place(|| node.join(&network.genesis)).unwrap();
    assert_eq!(info.name, CHANNEL);
    assert_eq!(info.consensus_relation, "consenter");
    assert_eq!(info.status, "active");
    assert_eq!(info.height, 1);
    assert!(matches!(
        tokio::task::block_in_place(|| node.join(&network.genesis)),
        Err(RegistrarError::ChannelAlreadyExists)
    ));

    // MaxMessageCount is 10: ten envelopes make block 1 at once.
    let user = network.org1_user();
    let chain = node.chain(CHANNEL).unwrap();
    for i in 0..10u8 {
        let envelope = signed_envelope(
            user.as_ref(),
            HeaderType::EndorserTransaction,
            CHANNEL,
            vec![i; 8],
        );
        chain
            .submit(Order::Normal {
                envelope,
                config_sequence: 0,
            })
            .await
            .unwrap();
    }
    wait_for_height(&node, 2).await;
    let block1 = chain.ledger().block_by_number(1).unwrap().unwrap();
    assert_eq!(block1.data.as_ref().unwrap().data.len(), 10);
    let signatures = weft_orderer::block_signed_data(&block1).unwrap();
    assert_eq!(signatures.len(), 1, "one orderer signature");

    // A single envelope waits for BatchTimeout (2s) and is then cut alone.
    let started = Instant::now();
    let envelope = signed_envelope(
        user.as_ref(),
        HeaderType::EndorserTransaction,
        CHANNEL,
        vec![42; 8],
    );
    chain
        .submit(Order::Normal {
            envelope,
            config_sequence: 0,
        })
        .await
        .unwrap();
    wait_for_height(&node, 3).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1900),
        "cut after {waited:?}"
    );
    let block2 = chain.ledger().block_by_number(2).unwrap().unwrap();
    assert_eq!(block2.data.as_ref().unwrap().data.len(), 1);

    // Restart: a new registry over the same store serves the channel from its tip.
    drop(chain);
    node.chain(CHANNEL).unwrap().halt();
    drop(node);
    let restarted = registrar(network, store.clone(), ORDERER_TLS);
    tokio::task::block_in_place(|| restarted.restore()).unwrap();
    assert_eq!(restarted.info(CHANNEL).unwrap().height, 3);
    let chain = restarted.chain(CHANNEL).unwrap();
    for i in 0..10u8 {
        let envelope = signed_envelope(
            user.as_ref(),
            HeaderType::EndorserTransaction,
            CHANNEL,
            vec![i; 4],
        );
        chain
            .submit(Order::Normal {
                envelope,
                config_sequence: 0,
            })
            .await
            .unwrap();
    }
    wait_for_height(&restarted, 4).await;
    let block3 = chain.ledger().block_by_number(3).unwrap().unwrap();
    assert_eq!(
        block3.header.as_ref().unwrap().previous_hash,
        weft_protoutil::block_header_hash(block2.header.as_ref().unwrap()).to_vec()
    );

    // Removal forgets the channel and its ledger.
    tokio::task::block_in_place(|| restarted.remove(CHANNEL)).unwrap();
    assert!(matches!(
        restarted.info(CHANNEL),
        Err(RegistrarError::ChannelNotExist)
    ));
    assert_eq!(store.channels().unwrap(), Vec::<String>::new());
}

/// The same channel with blocks going through a one-member Raft group (Fabric's etcdraft with a
/// single consenter): the group elects itself, blocks carry the raft index of their entry, and
/// the batch timer still cuts a lone envelope; after a restart on the same WAL and ledger the
/// group continues the chain with higher raft indexes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_go_through_a_single_member_raft_group() {
    use fabric_protos::common::{BlockMetadataIndex, Metadata, OrdererBlockMetadata};
    use prost::Message;

    let network = Network::shared();
    let dir = tempfile::tempdir().unwrap();
    let store = BlockStore::open(dir.path().join("ledger"), StoreOptions::default()).unwrap();
    let driver =
        RaftDriver::start(&dir.path().join("wal"), Some(Duration::from_millis(50))).unwrap();
    let node = registrar_with(network, store.clone(), ORDERER_TLS, Some(driver.clone()));
    tokio::task::block_in_place(|| node.join(&network.genesis)).unwrap();
    let chain = node.chain(CHANNEL).unwrap();
    let user = network.org1_user();
    let raft_index = |number: u64| {
        let block = chain.ledger().block_by_number(number).unwrap().unwrap();
        let slot =
            &block.metadata.as_ref().unwrap().metadata[BlockMetadataIndex::Signatures as usize];
        let value = Metadata::decode(slot.as_slice()).unwrap().value;
        let consenter = OrdererBlockMetadata::decode(value.as_slice())
            .unwrap()
            .consenter_metadata;
        let raw = Metadata::decode(consenter.as_slice()).unwrap().value;
        fabric_protos::etcdraft::BlockMetadata::decode(raw.as_slice()).unwrap()
    };
    for i in 0..10u8 {
        let envelope = signed_envelope(
            user.as_ref(),
            HeaderType::EndorserTransaction,
            CHANNEL,
            vec![i; 8],
        );
        chain
            .submit(Order::Normal {
                envelope,
                config_sequence: 0,
            })
            .await
            .unwrap();
    }
    wait_for_height(&node, 2).await;
    let first = raft_index(1);
    assert_eq!(first.consenter_ids, vec![1]);
    assert_eq!(first.next_consenter_id, 2);
    assert!(first.raft_index > 0, "{first:?}");
    let envelope = signed_envelope(
        user.as_ref(),
        HeaderType::EndorserTransaction,
        CHANNEL,
        vec![7; 3],
    );
    chain
        .submit(Order::Normal {
            envelope,
            config_sequence: 0,
        })
        .await
        .unwrap();
    wait_for_height(&node, 3).await;
    let second = raft_index(2);
    assert!(second.raft_index > first.raft_index);
    let block2 = chain.ledger().block_by_number(2).unwrap().unwrap();
    assert_eq!(block2.data.as_ref().unwrap().data.len(), 1);

    // Restart on the same WAL and ledger: the group resumes past the entries already in blocks.
    drop(chain);
    node.chain(CHANNEL).unwrap().halt();
    drop(node);
    driver.shutdown().await;
    let driver =
        RaftDriver::start(&dir.path().join("wal"), Some(Duration::from_millis(50))).unwrap();
    let node = registrar_with(network, store, ORDERER_TLS, Some(driver.clone()));
    tokio::task::block_in_place(|| node.restore()).unwrap();
    assert_eq!(node.info(CHANNEL).unwrap().height, 3);
    let chain = node.chain(CHANNEL).unwrap();
    let envelope = signed_envelope(
        user.as_ref(),
        HeaderType::EndorserTransaction,
        CHANNEL,
        vec![9; 5],
    );
    chain
        .submit(Order::Normal {
            envelope,
            config_sequence: 0,
        })
        .await
        .unwrap();
    wait_for_height(&node, 4).await;
    let block3 = chain.ledger().block_by_number(3).unwrap().unwrap();
    assert_eq!(
        block3.header.as_ref().unwrap().previous_hash,
        weft_protoutil::block_header_hash(block2.header.as_ref().unwrap()).to_vec()
    );
    let third = {
        let slot =
            &block3.metadata.as_ref().unwrap().metadata[BlockMetadataIndex::Signatures as usize];
        let value = Metadata::decode(slot.as_slice()).unwrap().value;
        let consenter = OrdererBlockMetadata::decode(value.as_slice())
            .unwrap()
            .consenter_metadata;
        let raw = Metadata::decode(consenter.as_slice()).unwrap().value;
        fabric_protos::etcdraft::BlockMetadata::decode(raw.as_slice()).unwrap()
    };
    assert!(
        third.raft_index > second.raft_index,
        "{third:?} after {second:?}"
    );
    driver.shutdown().await;
}
