//! Batching of ordered envelopes into blocks (Fabric's `orderer/common/blockcutter`).
//!
//! The cutter keeps one pending batch. Each envelope it receives either joins that batch or
//! forces cuts, following `BatchSize` from the channel config:
//! - an envelope larger than `preferred_max_bytes` goes alone into its own batch, after the
//!   pending batch (if any) is cut;
//! - an envelope that would push the pending batch over `preferred_max_bytes` cuts the pending
//!   batch first and then starts the next one;
//! - reaching `max_message_count` cuts the batch;
//! - [`BlockCutter::cut`] empties the pending batch when the batch timeout fires.
//!
//! Config transactions never share a block: [`BlockCutter::isolate`] cuts the pending batch
//! and returns the config envelope as a batch of its own. Which envelopes count as config is
//! the caller's decision ([`is_config_envelope`] is the test Fabric's chains use).

use fabric_protos::common::{ChannelHeader, Envelope, HeaderType, Payload};
use fabric_protos::orderer::BatchSize;

/// The size the cutter counts for an envelope: payload plus signature, as Fabric does.
pub fn message_size_bytes(envelope: &Envelope) -> u64 {
    envelope.payload.len() as u64 + envelope.signature.len() as u64
}

/// Whether `envelope` is a config transaction (header type CONFIG or ORDERER_TRANSACTION),
/// which must be ordered in a block of its own. Undecodable envelopes are not config.
pub fn is_config_envelope(envelope: &Envelope) -> bool {
    let Ok(payload) = weft_protoutil::decode::<Payload>("Payload", &envelope.payload) else {
        return false;
    };
    let Some(header) = payload.header else {
        return false;
    };
    let Ok(channel_header) =
        weft_protoutil::decode::<ChannelHeader>("ChannelHeader", &header.channel_header)
    else {
        return false;
    };
    channel_header.r#type == HeaderType::Config as i32
        || channel_header.r#type == HeaderType::OrdererTransaction as i32
}

/// What one call to [`BlockCutter::ordered`] produced: zero, one or two batches to turn into
/// blocks, and whether envelopes remain pending (the caller arms the batch timer if so).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ordered {
    pub batches: Vec<Vec<Envelope>>,
    pub pending: bool,
}

/// The pending batch of one channel.
#[derive(Debug, Clone)]
pub struct BlockCutter {
    batch_size: BatchSize,
    pending: Vec<Envelope>,
    pending_bytes: u64,
}

impl BlockCutter {
    pub fn new(batch_size: BatchSize) -> Self {
        Self {
            batch_size,
            pending: Vec::new(),
            pending_bytes: 0,
        }
    }

    /// Applies a new channel config's batch size from the next envelope on; the pending batch
    /// is kept, as Fabric reads the config on every call.
    pub fn set_batch_size(&mut self, batch_size: BatchSize) {
        self.batch_size = batch_size;
    }

    pub fn batch_size(&self) -> &BatchSize {
        &self.batch_size
    }

    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    pub fn pending_bytes(&self) -> u64 {
        self.pending_bytes
    }

    /// Adds a normal envelope to the pending batch, cutting batches as Fabric's `Ordered` does.
    /// At most two batches come back.
    pub fn ordered(&mut self, envelope: Envelope) -> Ordered {
        let size = message_size_bytes(&envelope);
        let preferred = u64::from(self.batch_size.preferred_max_bytes);
        let mut out = Ordered::default();
        if size > preferred {
            if !self.pending.is_empty() {
                out.batches.push(self.cut());
            }
            out.batches.push(vec![envelope]);
            return out;
        }
        if self.pending_bytes + size > preferred {
            out.batches.push(self.cut());
        }
        self.pending.push(envelope);
        self.pending_bytes += size;
        out.pending = true;
        // A zero count cuts every envelope, as Go's `>=` comparison does.
        if self.pending.len() as u64 >= u64::from(self.batch_size.max_message_count) {
            out.batches.push(self.cut());
            out.pending = false;
        }
        out
    }

    /// Returns the pending batch (possibly empty) and starts a new one.
    pub fn cut(&mut self) -> Vec<Envelope> {
        self.pending_bytes = 0;
        std::mem::take(&mut self.pending)
    }

    /// Orders a config envelope alone: the pending batch (if any) is cut first, then the
    /// envelope forms a batch of its own. Nothing remains pending.
    pub fn isolate(&mut self, config_envelope: Envelope) -> Vec<Vec<Envelope>> {
        let mut batches = Vec::with_capacity(2);
        if !self.pending.is_empty() {
            batches.push(self.cut());
        }
        batches.push(vec![config_envelope]);
        batches
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::common::Header;
    use prost::Message;

    /// An envelope of exactly `size` counted bytes, tagged with `tag` in its first byte.
    fn env(tag: u8, size: usize) -> Envelope {
        let mut payload = vec![0u8; size];
        if let Some(first) = payload.first_mut() {
            *first = tag;
        }
        Envelope {
            payload,
            signature: Vec::new(),
        }
    }

    fn tags(batches: &[Vec<Envelope>]) -> Vec<Vec<u8>> {
        batches
            .iter()
            .map(|b| b.iter().map(|e| e.payload[0]).collect())
            .collect()
    }

    fn batch_size(count: u32, absolute: u32, preferred: u32) -> BatchSize {
        BatchSize {
            max_message_count: count,
            absolute_max_bytes: absolute,
            preferred_max_bytes: preferred,
        }
    }

    struct Case {
        name: &'static str,
        /// (tag, size) of each envelope ordered in turn.
        input: &'static [(u8, usize)],
        /// Per envelope: the batches returned (by tags) and the pending flag.
        expect: &'static [(&'static [&'static [u8]], bool)],
    }

    // Mirrors Fabric's blockcutter_test.go: "Normal batch", "Batch size exceeded",
    // "Message larger than preferred size" (with and without pending), "Message that would
    // overflow preferred size cuts first", "Max message count".
    const CASES: &[Case] = &[
        Case {
            name: "small messages accumulate until the count is met",
            input: &[(1, 10), (2, 10), (3, 10)],
            expect: &[(&[], true), (&[], true), (&[&[1, 2, 3]], false)],
        },
        Case {
            name: "oversized message alone with nothing pending",
            input: &[(1, 101)],
            expect: &[(&[&[1]], false)],
        },
        Case {
            name: "oversized message cuts pending first then goes alone",
            input: &[(1, 10), (2, 101)],
            expect: &[(&[], true), (&[&[1], &[2]], false)],
        },
        Case {
            name: "overflowing message cuts pending and stays pending",
            input: &[(1, 60), (2, 50)],
            expect: &[(&[], true), (&[&[1]], true)],
        },
        Case {
            name: "exactly preferred size fits",
            input: &[(1, 50), (2, 50)],
            expect: &[(&[], true), (&[], true)],
        },
        Case {
            name: "message of exactly preferred size is not isolated",
            input: &[(1, 100)],
            expect: &[(&[], true)],
        },
        Case {
            name: "overflow cut then count cut in one call",
            input: &[(1, 40), (2, 40), (3, 40)],
            expect: &[(&[], true), (&[], true), (&[&[1, 2]], true)],
        },
    ];

    #[test]
    fn table_of_cut_decisions() {
        for case in CASES {
            let mut cutter = BlockCutter::new(batch_size(3, 1000, 100));
            for (i, ((tag, size), (batches, pending))) in
                case.input.iter().zip(case.expect).enumerate()
            {
                let out = cutter.ordered(env(*tag, *size));
                let want: Vec<Vec<u8>> = batches.iter().map(|b| b.to_vec()).collect();
                assert_eq!(tags(&out.batches), want, "{}: envelope {i}", case.name);
                assert_eq!(out.pending, *pending, "{}: envelope {i}", case.name);
            }
        }
    }

    #[test]
    fn overflow_cut_and_count_cut() {
        // The overflow cut and the count cut can both happen on one envelope.
        let mut cutter = BlockCutter::new(batch_size(1, 1000, 100));
        assert_eq!(tags(&cutter.ordered(env(1, 10)).batches), vec![vec![1]]);
        let mut cutter = BlockCutter::new(batch_size(2, 1000, 100));
        cutter.ordered(env(1, 90));
        let out = cutter.ordered(env(2, 20));
        assert_eq!(tags(&out.batches), vec![vec![1]]);
        assert!(out.pending);
        let out = cutter.ordered(env(3, 20));
        assert_eq!(tags(&out.batches), vec![vec![2, 3]]);
        assert!(!out.pending);
    }

    #[test]
    fn signature_bytes_count_towards_size() {
        let mut cutter = BlockCutter::new(batch_size(10, 1000, 100));
        let envelope = Envelope {
            payload: vec![7; 60],
            signature: vec![0; 41],
        };
        let out = cutter.ordered(envelope);
        assert_eq!(
            out.batches.len(),
            1,
            "60 + 41 bytes exceed the preferred 100"
        );
        assert!(!out.pending);
    }

    #[test]
    fn cut_returns_pending_and_resets() {
        // Mirrors Fabric's "Cut" test: timeout cut returns what is pending, then nothing.
        let mut cutter = BlockCutter::new(batch_size(10, 1000, 100));
        cutter.ordered(env(1, 10));
        cutter.ordered(env(2, 10));
        assert_eq!(cutter.pending_bytes(), 20);
        assert_eq!(tags(&[cutter.cut()]), vec![vec![1, 2]]);
        assert_eq!(cutter.pending_count(), 0);
        assert_eq!(cutter.pending_bytes(), 0);
        assert!(cutter.cut().is_empty());
        // Byte accounting restarted: 90 more bytes fit without a cut.
        assert!(cutter.ordered(env(3, 90)).batches.is_empty());
    }

    #[test]
    fn isolate_cuts_pending_then_config_alone() {
        let mut cutter = BlockCutter::new(batch_size(10, 1000, 100));
        assert_eq!(tags(&cutter.isolate(env(9, 5))), vec![vec![9]]);
        cutter.ordered(env(1, 10));
        assert_eq!(tags(&cutter.isolate(env(9, 5))), vec![vec![1], vec![9]]);
        assert_eq!(cutter.pending_count(), 0);
    }

    #[test]
    fn batch_size_change_applies_to_next_envelope() {
        let mut cutter = BlockCutter::new(batch_size(10, 1000, 100));
        cutter.ordered(env(1, 10));
        cutter.set_batch_size(batch_size(2, 1000, 100));
        let out = cutter.ordered(env(2, 10));
        assert_eq!(tags(&out.batches), vec![vec![1, 2]]);
    }

    fn typed(header_type: HeaderType) -> Envelope {
        let channel_header = ChannelHeader {
            r#type: header_type as i32,
            channel_id: "ch".into(),
            ..Default::default()
        };
        let payload = Payload {
            header: Some(Header {
                channel_header: channel_header.encode_to_vec(),
                signature_header: Vec::new(),
            }),
            data: Vec::new(),
        };
        Envelope {
            payload: payload.encode_to_vec(),
            signature: Vec::new(),
        }
    }

    #[test]
    fn config_classification() {
        assert!(is_config_envelope(&typed(HeaderType::Config)));
        assert!(is_config_envelope(&typed(HeaderType::OrdererTransaction)));
        assert!(!is_config_envelope(&typed(HeaderType::EndorserTransaction)));
        assert!(!is_config_envelope(&typed(HeaderType::ConfigUpdate)));
        assert!(!is_config_envelope(&env(1, 10)));
    }
}
