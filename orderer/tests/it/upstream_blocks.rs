//! Blocks written by Weft's BlockWriter, checked the way a Go peer checks them (`mcs.go
//! VerifyBlock`: the SIGNATURES slot against `/Channel/Orderer/BlockValidation` of the channel
//! config) and parsed by upstream `configtxlator`.

use std::process::Command;
use std::sync::Arc;

use fabric_protos::common::{
    Block, BlockMetadataIndex, HeaderType, LastConfig, Metadata, OrdererBlockMetadata,
    SignatureHeader,
};
use fabric_protos::etcdraft::BlockMetadata as RaftBlockMetadata;
use prost::Message;
use weft_msp::{Identity, SigningIdentity};
use weft_orderer::{BlockKind, BlockWriter, block_signed_data, last_config_index};

use crate::network::{CHANNEL, Network, bin, run, signed_envelope};

const BLOCK_VALIDATION: &str = "/Channel/Orderer/BlockValidation";

fn verify(network: &Network, block: &Block) -> Result<(), String> {
    let signed = block_signed_data(block).map_err(|e| e.to_string())?;
    let policy = network
        .bundle
        .policy_manager()
        .get_policy(BLOCK_VALIDATION)
        .expect("BlockValidation policy");
    policy
        .evaluate_signed_data(&signed)
        .map_err(|e| e.to_string())
}

fn raft_metadata(index: u64) -> Vec<u8> {
    RaftBlockMetadata {
        consenter_ids: vec![1],
        next_consenter_id: 2,
        raft_index: index,
    }
    .encode_to_vec()
}

fn slot(block: &Block, index: BlockMetadataIndex) -> Vec<u8> {
    block.metadata.as_ref().unwrap().metadata[index as usize].clone()
}

#[test]
fn weft_block_passes_upstream_block_validation_policy() {
    let network = Network::shared();
    let orderer = network.orderer();
    let mut writer = BlockWriter::new(&network.genesis, orderer.clone()).unwrap();
    let tx = signed_envelope(
        network.org1_user().as_ref(),
        HeaderType::EndorserTransaction,
        CHANNEL,
        b"tx".to_vec(),
    );
    let block = writer
        .write(
            std::slice::from_ref(&tx),
            BlockKind::Normal,
            &raft_metadata(7),
        )
        .unwrap();

    // Chaining, as the peer checks at append.
    let header = block.header.as_ref().unwrap();
    let genesis_header = network.genesis.header.as_ref().unwrap();
    assert_eq!(header.number, 1);
    assert_eq!(
        header.previous_hash,
        weft_protoutil::block_header_hash(genesis_header).to_vec()
    );
    assert_eq!(
        header.data_hash,
        weft_protoutil::block_data_hash(block.data.as_ref().unwrap()).to_vec()
    );
    assert_eq!(block.data.as_ref().unwrap().data, vec![tx.encode_to_vec()]);

    // Fabric's slot layout: five slots, LAST_CONFIG unsigned, filter empty.
    assert_eq!(block.metadata.as_ref().unwrap().metadata.len(), 5);
    let last = Metadata::decode(slot(&block, BlockMetadataIndex::LastConfig).as_slice()).unwrap();
    assert_eq!(LastConfig::decode(last.value.as_slice()).unwrap().index, 0);
    assert!(last.signatures.is_empty());
    assert!(slot(&block, BlockMetadataIndex::TransactionsFilter).is_empty());
    let sigs = Metadata::decode(slot(&block, BlockMetadataIndex::Signatures).as_slice()).unwrap();
    let obm = OrdererBlockMetadata::decode(sigs.value.as_slice()).unwrap();
    assert_eq!(obm.last_config.unwrap().index, 0);
    let consenter = Metadata::decode(obm.consenter_metadata.as_slice()).unwrap();
    assert_eq!(consenter.value, raft_metadata(7));
    assert_eq!(sigs.signatures.len(), 1);
    let sig_header =
        SignatureHeader::decode(sigs.signatures[0].signature_header.as_slice()).unwrap();
    assert_eq!(sig_header.creator, orderer.serialize());
    assert_eq!(sig_header.nonce.len(), 24);

    // The orderer's signature satisfies BlockValidation and verifies with weft-msp.
    verify(network, &block).unwrap();
    let signed = block_signed_data(&block).unwrap();
    let identity = network
        .bundle
        .msp_manager()
        .deserialize_identity(&signed[0].identity)
        .unwrap();
    identity
        .verify(&signed[0].data, &signed[0].signature)
        .unwrap();

    // A changed header or value no longer verifies.
    let mut tampered = block.clone();
    tampered.header.as_mut().unwrap().data_hash[0] ^= 1;
    assert!(verify(network, &tampered).is_err());
    let mut tampered = block.clone();
    let mut md = sigs.clone();
    md.value = OrdererBlockMetadata {
        last_config: Some(LastConfig { index: 5 }),
        consenter_metadata: obm.consenter_metadata.clone(),
    }
    .encode_to_vec();
    tampered.metadata.as_mut().unwrap().metadata[0] = md.encode_to_vec();
    assert!(verify(network, &tampered).is_err());
}

#[test]
fn block_signed_by_a_non_orderer_fails_block_validation() {
    // BlockValidation is ANY Writers of the orderer orgs: an application client's
    // signature does not satisfy it, as on a Go peer.
    let network = Network::shared();
    let mut writer = BlockWriter::new(&network.genesis, network.org1_user()).unwrap();
    let block = writer.write(&[], BlockKind::Normal, &[]).unwrap();
    let err = verify(network, &block).unwrap_err();
    assert!(!err.is_empty());
}

#[test]
fn config_blocks_move_the_last_config_index() {
    let network = Network::shared();
    let orderer: Arc<dyn SigningIdentity> = network.orderer();
    let mut writer = BlockWriter::new(&network.genesis, orderer.clone()).unwrap();
    let tx = |d: &[u8]| {
        signed_envelope(
            network.org1_user().as_ref(),
            HeaderType::EndorserTransaction,
            CHANNEL,
            d.to_vec(),
        )
    };
    let b1 = writer.write(&[tx(b"a")], BlockKind::Normal, &[]).unwrap();
    let b2 = writer
        .write(&[tx(b"config")], BlockKind::Config, &[])
        .unwrap();
    let b3 = writer
        .write(&[tx(b"c"), tx(b"d")], BlockKind::Normal, &[])
        .unwrap();
    assert_eq!(last_config_index(&b1).unwrap(), 0);
    assert_eq!(last_config_index(&b2).unwrap(), 2);
    assert_eq!(last_config_index(&b3).unwrap(), 2);
    let mut previous = network.genesis.header.clone().unwrap();
    for block in [&b1, &b2, &b3] {
        let header = block.header.clone().unwrap();
        assert_eq!(header.number, previous.number + 1);
        assert_eq!(
            header.previous_hash,
            weft_protoutil::block_header_hash(&previous).to_vec()
        );
        verify(network, block).unwrap();
        previous = header;
    }
    // A writer restarted on the tip recovers the index and continues the chain.
    let mut restarted = BlockWriter::new(&b3, orderer).unwrap();
    assert_eq!(restarted.last_config_index(), 2);
    let b4 = restarted
        .write(&[tx(b"e")], BlockKind::Normal, &[])
        .unwrap();
    assert_eq!(b4.header.as_ref().unwrap().number, 4);
    assert_eq!(last_config_index(&b4).unwrap(), 2);
    // Nonces are fresh per block.
    let nonce = |b: &Block| {
        let md = Metadata::decode(slot(b, BlockMetadataIndex::Signatures).as_slice()).unwrap();
        SignatureHeader::decode(md.signatures[0].signature_header.as_slice())
            .unwrap()
            .nonce
    };
    assert_ne!(nonce(&b1), nonce(&b3));
}

#[test]
fn upstream_configtxlator_decodes_weft_block() {
    let network = Network::shared();
    let mut writer = BlockWriter::new(&network.genesis, network.orderer()).unwrap();
    let tx = signed_envelope(
        network.org1_user().as_ref(),
        HeaderType::EndorserTransaction,
        CHANNEL,
        Vec::new(), // an empty Transaction, so configtxlator can decode the payload
    );
    let block = writer
        .write(&[tx], BlockKind::Normal, &raft_metadata(3))
        .unwrap();
    let path = network.dir.path().join("weft-block-1.pb");
    std::fs::write(&path, block.encode_to_vec()).unwrap();
    let json = run(Command::new(bin("configtxlator"))
        .args(["proto_decode", "--type", "common.Block", "--input"])
        .arg(&path));
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["header"]["number"], "1");
    let md = &json["metadata"]["metadata"];
    assert_eq!(md.as_array().unwrap().len(), 5);
    // configtxlator keeps metadata slots as opaque bytes: SIGNATURES set; LAST_CONFIG is
    // Metadata{value: LastConfig{index: 0}}, which marshals to nothing (in Go too); the
    // other three are empty.
    let slots: Vec<&str> = md
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!slots[0].is_empty(), "{slots:?}");
    assert_eq!(slots[1..], ["", "", "", ""]);
    assert_eq!(
        json["data"]["data"][0]["payload"]["header"]["channel_header"]["channel_id"],
        CHANNEL
    );
}
