//! Per-channel consensus options: Fabric's etcdraft `Options` from the channel config, plus the
//! node-local values Fabric keeps outside the channel config.

use fabric_protos::etcdraft;

use crate::RaftError;

/// Fabric's `DefaultSnapshotIntervalSize`: snapshot after 16 MiB of applied block data.
pub const DEFAULT_SNAPSHOT_INTERVAL_BYTES: u64 = 16 * 1024 * 1024;
/// Fabric's orderer.yaml default for `MaxSizePerMsg` (1 MiB): bounds one append message.
pub const DEFAULT_MAX_SIZE_PER_MSG_BYTES: u64 = 1024 * 1024;
/// Largest tick interval accepted from a channel config (a config typo must not stall a channel).
pub const TICK_INTERVAL_MS_MAX: u64 = 60_000;

/// Options of one channel's raft group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainOptions {
    pub tick_interval_ms: u64,
    pub election_tick: usize,
    pub heartbeat_tick: usize,
    pub max_inflight_blocks: usize,
    pub max_size_per_msg_bytes: u64,
    pub snapshot_interval_bytes: u64,
}

impl Default for ChainOptions {
    /// configtxgen's sample etcdraft options: 500ms ticks, election 10, heartbeat 1, 5 inflight.
    fn default() -> Self {
        Self {
            tick_interval_ms: 500,
            election_tick: 10,
            heartbeat_tick: 1,
            max_inflight_blocks: 5,
            max_size_per_msg_bytes: DEFAULT_MAX_SIZE_PER_MSG_BYTES,
            snapshot_interval_bytes: DEFAULT_SNAPSHOT_INTERVAL_BYTES,
        }
    }
}

impl ChainOptions {
    /// Reads etcdraft `Options`; as in Fabric, a zero snapshot interval means the default.
    pub fn from_etcdraft(options: &etcdraft::Options) -> Result<Self, RaftError> {
        let tick_interval_ms = parse_duration_ms(&options.tick_interval)?;
        if options.heartbeat_tick == 0 {
            return Err(invalid("heartbeat_tick", "must be greater than 0"));
        }
        if options.election_tick <= options.heartbeat_tick {
            return Err(invalid(
                "election_tick",
                "must be greater than heartbeat_tick",
            ));
        }
        if options.max_inflight_blocks == 0 {
            return Err(invalid("max_inflight_blocks", "must be greater than 0"));
        }
        let snapshot_interval_bytes = match options.snapshot_interval_size {
            0 => DEFAULT_SNAPSHOT_INTERVAL_BYTES,
            n => u64::from(n),
        };
        Ok(Self {
            tick_interval_ms,
            election_tick: options.election_tick as usize,
            heartbeat_tick: options.heartbeat_tick as usize,
            max_inflight_blocks: options.max_inflight_blocks as usize,
            max_size_per_msg_bytes: DEFAULT_MAX_SIZE_PER_MSG_BYTES,
            snapshot_interval_bytes,
        })
    }
}

fn invalid(option: &'static str, reason: &str) -> RaftError {
    RaftError::InvalidOption {
        option,
        reason: reason.to_string(),
    }
}

/// Parses the Go-duration subset configs use for tick intervals: `<digits>(ms|s|m)`.
fn parse_duration_ms(text: &str) -> Result<u64, RaftError> {
    let bad = || {
        invalid(
            "tick_interval",
            &format!("{text:?} is not a duration like 500ms"),
        )
    };
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let value: u64 = text[..digits_end].parse().map_err(|_| bad())?;
    let factor = match &text[digits_end..] {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        _ => return Err(bad()),
    };
    let ms = value.checked_mul(factor).ok_or_else(bad)?;
    if ms == 0 || ms > TICK_INTERVAL_MS_MAX {
        return Err(invalid(
            "tick_interval",
            &format!("{ms}ms is outside 1..={TICK_INTERVAL_MS_MAX}ms"),
        ));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcdraft_options_map_to_chain_options() {
        let opts = etcdraft::Options {
            tick_interval: "250ms".into(),
            election_tick: 12,
            heartbeat_tick: 2,
            max_inflight_blocks: 7,
            snapshot_interval_size: 0,
        };
        let chain = ChainOptions::from_etcdraft(&opts).unwrap();
        assert_eq!(chain.tick_interval_ms, 250);
        assert_eq!(chain.election_tick, 12);
        assert_eq!(chain.max_inflight_blocks, 7);
        // Fabric: SnapshotIntervalSize 0 falls back to DefaultSnapshotIntervalSize.
        assert_eq!(
            chain.snapshot_interval_bytes,
            DEFAULT_SNAPSHOT_INTERVAL_BYTES
        );
    }

    #[test]
    fn bad_options_are_rejected() {
        let base = etcdraft::Options {
            tick_interval: "1s".into(),
            election_tick: 10,
            heartbeat_tick: 1,
            max_inflight_blocks: 5,
            snapshot_interval_size: 1,
        };
        assert_eq!(
            ChainOptions::from_etcdraft(&base).unwrap().tick_interval_ms,
            1000
        );
        for tick in ["", "ms", "10h", "0ms", "99999999999999999999ms", "2m"] {
            let opts = etcdraft::Options {
                tick_interval: tick.into(),
                ..base.clone()
            };
            assert!(ChainOptions::from_etcdraft(&opts).is_err(), "{tick}");
        }
        let opts = etcdraft::Options {
            election_tick: 1,
            ..base.clone()
        };
        assert!(ChainOptions::from_etcdraft(&opts).is_err());
    }
}
