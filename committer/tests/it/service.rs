//! The peer's entry point: join, commit from any thread, read state, restart.

use fabric_protos::protos::TxValidationCode;
use weft_committer::Committer;
use weft_ledger::StoreOptions;

use crate::fixture::{CHANNEL, TxSpec, header_hash, signed_block};
use crate::{definitions, net, org, writes};

#[test]
fn join_commit_query_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        Committer::start(
            dir.path().to_owned(),
            StoreOptions::default(),
            definitions(),
        )
        .unwrap()
    };
    let committer = start();
    assert!(committer.channels().is_empty());
    let view = committer.join(net().genesis.clone()).unwrap();
    assert_eq!(view.height(), 1);
    assert_eq!(committer.channels(), vec![CHANNEL.to_string()]);
    let mut events = view.events.subscribe();

    let tx = TxSpec::new(&net().user(1), &[&org(1)], "any", writes(&[("k", "v")]));
    let block = signed_block(
        1,
        &header_hash(&net().genesis),
        vec![tx.build()],
        &net().orderer(),
    );
    // Commit from another thread: the handle is Send + Sync.
    let remote = committer.clone();
    let outcome = std::thread::spawn(move || remote.commit_block(CHANNEL, block).unwrap())
        .join()
        .unwrap();
    assert_eq!(outcome.txs[0].code, TxValidationCode::Valid);
    assert_eq!(events.try_recv().unwrap().number, 1);
    assert_eq!(view.height(), 2);
    let value = committer
        .with_state(CHANNEL, |state| {
            state.get("any", b"k").unwrap().map(|v| v.value)
        })
        .unwrap();
    assert_eq!(value, Some(b"v".to_vec()));
    assert_eq!(
        committer
            .history_for_key(CHANNEL, "any", "k", 5)
            .unwrap()
            .len(),
        1
    );
    assert!(committer.with_state("nochannel", |_| ()).is_err());
    let view_tx = view.blocks.tx_by_id(&tx.txid()).unwrap().unwrap();
    assert_eq!(view_tx.validation(), Some(TxValidationCode::Valid));
    drop(view);
    drop(committer);

    let committer = start();
    let view = committer.channel(CHANNEL).unwrap();
    assert_eq!(view.height(), 2);
    assert_eq!(view.bundle().sequence(), net().bundle.sequence());
    // Joining again with the same genesis keeps the chain.
    assert_eq!(committer.join(net().genesis.clone()).unwrap().height(), 2);
}
