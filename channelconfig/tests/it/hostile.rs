//! Hostile input: corrupted update envelopes and configs must be refused or accepted, never
//! panic (a deterministic byte-flipping smoke test standing in for a fuzzer).

use fabric_protos::common::{Config, Envelope};
use prost::Message;
use weft_channelconfig::{ChannelBundle, compute_update};

use crate::fixture::*;

/// xorshift64*, so runs are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn corrupt(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for _ in 0..1 + self.next() % 4 {
            let i = (self.next() as usize) % out.len();
            out[i] = self.next() as u8;
        }
        out
    }
}

const ROUNDS: usize = 1500;

#[test]
fn corrupted_update_envelopes_never_panic() {
    let base = base_bundle();
    let original = base_config();
    let mut updated = original.clone();
    let edit = ["add_app_org".to_string(), "Org3".to_string()];
    crate::table::apply_edit(updated.channel_group.as_mut().unwrap(), &edit, &|n| {
        org_group(&format!("{n}MSP"))
    });
    let update = compute_update(CHANNEL, &original, &updated).unwrap();
    let good = update_envelope(&update, &[admin_of("Org1"), admin_of("Org2")]);
    assert!(base.propose_config_update(&good).is_ok());
    let mut rng = Rng(0x5eed);
    let mut refused = 0;
    for _ in 0..ROUNDS {
        let payload = rng.corrupt(&good.payload);
        let envelope = Envelope {
            payload,
            signature: vec![],
        };
        if base.propose_config_update(&envelope).is_err() {
            refused += 1;
        }
    }
    // Nearly every corruption breaks either the encoding or the signatures.
    assert!(refused * 10 >= ROUNDS * 9, "{refused} of {ROUNDS} refused");
}

#[test]
fn corrupted_configs_never_panic() {
    let good = base_config().encode_to_vec();
    let mut rng = Rng(0x00c0_ffee);
    for _ in 0..ROUNDS {
        let bytes = rng.corrupt(&good);
        if let Ok(config) = Config::decode(bytes.as_slice()) {
            let _ = ChannelBundle::new(CHANNEL, &config, sources());
        }
    }
}
