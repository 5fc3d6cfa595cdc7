//! Forged blocks are refused before validation, as Fabric v2.5's gossip VerifyBlock and v3's
//! BlockVerificationAssistant refuse them.

use fabric_protos::common::{Block, Envelope};
use prost::Message;
use weft_committer::{ChainTip, VerifyError, verify_block};
use weft_protoutil::block_data_hash;

use crate::fixture::{Network, TxSpec, sign_block};
use crate::{Harness, net, org, writes};

fn tx() -> Vec<u8> {
    TxSpec::new(&net().user(1), &[&org(1)], "any", writes(&[("k", "v")])).build()
}

/// Re-hashes the data and re-signs as the orderer, so only the intended forgery remains.
fn reseal(block: &mut Block) {
    let hash = block_data_hash(block.data.as_ref().unwrap()).to_vec();
    block.header.as_mut().unwrap().data_hash = hash;
    sign_block(block, &Network::shared().orderer());
}

fn verify(h: &Harness, block: &Block) -> Result<(), VerifyError> {
    h.ledger.verify(block)
}

#[test]
fn well_formed_signed_block_verifies() {
    let h = Harness::new();
    let block = h.next_block(vec![tx(), tx()]);
    verify(&h, &block).unwrap();
}

#[test]
fn wrong_number_or_previous_hash_is_refused() {
    let h = Harness::new();
    let mut block = h.next_block(vec![tx()]);
    block.header.as_mut().unwrap().previous_hash = vec![9; 32];
    reseal(&mut block);
    assert!(matches!(
        verify(&h, &block),
        Err(VerifyError::PreviousHashMismatch { number: 1, .. })
    ));
    let mut block = h.next_block(vec![tx()]);
    block.header.as_mut().unwrap().number = 2;
    reseal(&mut block);
    assert!(matches!(
        verify(&h, &block),
        Err(VerifyError::UnexpectedNumber {
            expected: 1,
            got: 2,
            ..
        })
    ));
}

#[test]
fn trailing_bytes_and_crosslinked_envelopes_are_refused() {
    let h = Harness::new();
    let mut block = h.next_block(vec![tx(), tx()]);
    block.data.as_mut().unwrap().data[1].extend_from_slice(&[0x0a, 0x00]);
    reseal(&mut block);
    let err = verify(&h, &block).unwrap_err();
    assert!(
        matches!(err, VerifyError::MalformedTransaction { index: 1, .. }),
        "{err}"
    );
    // Fabric v2.5 takes the channel id from the first envelope; one that does not decode that
    // far fails the block.
    let mut block = h.next_block(vec![tx()]);
    block.data.as_mut().unwrap().data[0].extend_from_slice(&[0x0a, 0x00]);
    reseal(&mut block);
    assert!(matches!(
        verify(&h, &block),
        Err(VerifyError::NoChannelId { number: 1 })
    ));

    // A crosslinked transaction: one envelope's bytes followed by another's payload field, so
    // that it decodes as a mix of the two (protobuf keeps the last field).
    let first = tx();
    let second = Envelope::decode(tx().as_slice()).unwrap();
    let mut crosslinked = first.clone();
    crosslinked.extend_from_slice(
        &Envelope {
            payload: second.payload,
            signature: vec![],
        }
        .encode_to_vec(),
    );
    let mut block = h.next_block(vec![tx(), crosslinked]);
    reseal(&mut block);
    let err = verify(&h, &block).unwrap_err();
    assert!(
        matches!(err, VerifyError::MalformedTransaction { index: 1, .. }),
        "{err}"
    );
}

#[test]
fn data_changed_after_signing_is_refused() {
    let h = Harness::new();
    let mut block = h.next_block(vec![tx()]);
    block.data.as_mut().unwrap().data[0] = tx();
    assert!(matches!(
        verify(&h, &block),
        Err(VerifyError::DataHashMismatch { number: 1 })
    ));
}

#[test]
fn blocks_not_signed_by_the_orderer_are_refused() {
    let h = Harness::new();
    let mut block = h.next_block(vec![tx()]);
    // A channel member that is not an orderer signs instead.
    sign_block(&mut block, &net().user(1));
    assert!(matches!(
        verify(&h, &block),
        Err(VerifyError::PolicyNotSatisfied { number: 1, .. })
    ));
    // The orderer's signature over another header does not count for this one.
    let mut block = h.next_block(vec![tx()]);
    let mut other = block.clone();
    other.header.as_mut().unwrap().number = 7;
    sign_block(&mut other, &Network::shared().orderer());
    block.metadata = other.metadata;
    assert!(matches!(
        verify(&h, &block),
        Err(VerifyError::PolicyNotSatisfied { number: 1, .. })
    ));
}

#[test]
fn missing_metadata_slots_and_foreign_channel_are_refused() {
    let h = Harness::new();
    let mut block = h.next_block(vec![tx()]);
    block.metadata.as_mut().unwrap().metadata.truncate(3);
    assert!(matches!(
        verify(&h, &block),
        Err(VerifyError::MetadataSlots { found: 3, .. })
    ));
    let bundle = h.ledger.bundle();
    let block = h.next_block(vec![]);
    let tip = ChainTip {
        next_number: 1,
        previous_hash: None,
    };
    assert!(matches!(
        verify_block(bundle, tip, &block),
        Err(VerifyError::Empty { number: 1 })
    ));
}

#[test]
fn oversized_or_garbage_bytes_do_not_decode() {
    let block = Harness::new().next_block(vec![tx()]);
    let bytes = block.encode_to_vec();
    assert!(matches!(
        weft_committer::decode_block(&bytes, 16),
        Err(VerifyError::TooLarge { .. })
    ));
    assert!(weft_committer::decode_block(&[0xff; 8], 1 << 20).is_err());
    assert_eq!(
        weft_committer::decode_block(&bytes, 1 << 20).unwrap(),
        block
    );
}

/// The shared channel's config switched to BFT with the orderer as consenter 1.
fn bft_bundle() -> weft_channelconfig::ChannelBundle {
    use fabric_protos::common::{ConfigValue, Consenter, Orderers};
    use fabric_protos::msp::SerializedIdentity;
    use fabric_protos::orderer::ConsensusType;
    use fabric_protos::orderer::smartbft::Options;
    use weft_msp::Identity;

    let net = Network::shared();
    let orderer = SerializedIdentity::decode(net.orderer().serialize().as_slice()).unwrap();
    let mut config = net.bundle.config().clone();
    let group = config
        .channel_group
        .as_mut()
        .unwrap()
        .groups
        .get_mut("Orderer")
        .unwrap();
    let consensus = ConsensusType {
        r#type: "BFT".into(),
        metadata: Options::default().encode_to_vec(),
        state: 0,
    };
    group.values.get_mut("ConsensusType").unwrap().value = consensus.encode_to_vec();
    let orderers = Orderers {
        consenter_mapping: vec![Consenter {
            id: 1,
            host: "orderer.example.com".into(),
            port: 7050,
            msp_id: orderer.mspid,
            identity: orderer.id_bytes,
            client_tls_cert: vec![],
            server_tls_cert: vec![],
        }],
    };
    group.values.insert(
        "Orderers".into(),
        ConfigValue {
            version: 0,
            value: orderers.encode_to_vec(),
            mod_policy: "Admins".into(),
        },
    );
    weft_channelconfig::ChannelBundle::new(
        crate::fixture::CHANNEL,
        &config,
        weft_channelconfig::BundleSources::weft(),
    )
    .unwrap()
}

/// Replaces the SIGNATURES metadata with one v3 BFT signature naming consenter `id`.
fn sign_by_consenter_id(block: &mut Block, id: u32) {
    use fabric_protos::common::{
        BlockMetadataIndex, IdentifierHeader, Metadata, MetadataSignature,
    };
    use weft_msp::SigningIdentity;

    let value = b"bft-block-metadata".to_vec();
    let identifier_header = IdentifierHeader {
        identifier: id,
        nonce: vec![4; 24],
    }
    .encode_to_vec();
    let mut signed = value.clone();
    signed.extend_from_slice(&identifier_header);
    signed.extend_from_slice(&weft_protoutil::block_header_bytes(
        block.header.as_ref().unwrap(),
    ));
    let metadata = Metadata {
        value,
        signatures: vec![MetadataSignature {
            signature_header: vec![],
            signature: Network::shared().orderer().sign(&signed).unwrap(),
            identifier_header,
        }],
    };
    block.metadata.as_mut().unwrap().metadata[BlockMetadataIndex::Signatures as usize] =
        metadata.encode_to_vec();
}

// Mirrors Fabric v3's BlockSignatureVerifier: on a BFT channel a signature may name its signer
// by consenter id (IdentifierHeader); unknown ids are skipped; on a non-BFT channel such a
// signature has no signer.
#[test]
fn bft_signatures_name_consenters_by_id() {
    let h = Harness::new();
    let bft = bft_bundle();
    let tip = ChainTip {
        next_number: 1,
        previous_hash: None,
    };
    let mut block = h.next_block(vec![tx()]);
    sign_by_consenter_id(&mut block, 1);
    verify_block(&bft, tip, &block).unwrap();
    assert!(matches!(
        verify_block(h.ledger.bundle(), tip, &block),
        Err(VerifyError::PolicyNotSatisfied { .. })
    ));
    sign_by_consenter_id(&mut block, 2);
    assert!(matches!(
        verify_block(&bft, tip, &block),
        Err(VerifyError::PolicyNotSatisfied { .. })
    ));
}
