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
