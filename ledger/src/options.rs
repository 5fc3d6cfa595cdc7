//! Tunables of a block store and the fixed bounds they must stay within.

use crate::error::{LedgerError, Result};

/// Longest channel id accepted (Fabric's channel names are at most 249 characters).
pub const CHANNEL_ID_MAX_BYTES: usize = 249;
/// Largest block accepted by default: Fabric's default message limit, which bounds what an
/// orderer can deliver.
pub const BLOCK_SIZE_MAX_BYTES_DEFAULT: usize = weft_protoutil::envelope::MESSAGE_SIZE_MAX_BYTES;
/// Hard ceiling on `block_size_max_bytes` (a record length must fit in 32 bits).
pub const BLOCK_SIZE_MAX_BYTES_CEILING: usize = 1 << 30;
/// Segment files roll over once they reach this size (Fabric rolls its block files at 64 MiB).
pub const SEGMENT_SIZE_MAX_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;
/// Smallest segment size allowed (small values are only useful in tests).
pub const SEGMENT_SIZE_MAX_BYTES_MIN: u64 = 4 * 1024;
/// Largest segment size allowed.
pub const SEGMENT_SIZE_MAX_BYTES_CEILING: u64 = 1 << 40;
/// Most appends that share one fsync.
pub const GROUP_COMMIT_BLOCKS_MAX: usize = 256;
/// Most bytes that share one fsync (a batch always takes at least one block).
pub const GROUP_COMMIT_BYTES_MAX: usize = 32 * 1024 * 1024;
/// Appends queued for the writer thread before callers block.
pub const APPEND_QUEUE_MAX: usize = 1024;
/// Requests queued for the index thread before callers block.
pub const INDEX_QUEUE_MAX: usize = 1024;
/// Channel tips the writer keeps in memory; past this it forgets them all and reloads on demand,
/// so a node with many channels pays memory only for the ones written recently.
pub const TIP_CACHE_CHANNELS_MAX: usize = 16 * 1024;
/// Transaction ids longer than this are stored in blocks but not indexed (Fabric's are 64 hex digits).
pub const TXID_MAX_BYTES: usize = 255;
/// Channels whose height watchers are kept before unused watchers are swept.
pub const WATCHERS_SWEEP_THRESHOLD: usize = 1024;

/// How a [`crate::BlockStore`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// A segment file is closed and a new one started once adding a record would exceed this.
    pub segment_size_max_bytes: u64,
    /// Blocks larger than this are refused.
    pub block_size_max_bytes: usize,
    /// Whether to fsync segments before acknowledging an append. Turning this off loses the
    /// crash guarantee and exists only for throughput experiments.
    pub fsync: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            segment_size_max_bytes: SEGMENT_SIZE_MAX_BYTES_DEFAULT,
            block_size_max_bytes: BLOCK_SIZE_MAX_BYTES_DEFAULT,
            fsync: true,
        }
    }
}

impl StoreOptions {
    pub(crate) fn validate(&self) -> Result<()> {
        check_range(
            "segment_size_max_bytes",
            self.segment_size_max_bytes,
            SEGMENT_SIZE_MAX_BYTES_MIN,
            SEGMENT_SIZE_MAX_BYTES_CEILING,
        )?;
        check_range(
            "block_size_max_bytes",
            self.block_size_max_bytes as u64,
            1,
            BLOCK_SIZE_MAX_BYTES_CEILING as u64,
        )
    }
}

fn check_range(option: &'static str, value: u64, min: u64, max: u64) -> Result<()> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(LedgerError::InvalidOption {
            option,
            value,
            min,
            max,
        })
    }
}

/// Checks a channel id against the store's bounds. The store does not apply Fabric's naming
/// rules (those belong to channel creation); it only needs ids that fit its key layout.
pub(crate) fn check_channel_id(channel: &str) -> Result<()> {
    let reason = if channel.is_empty() {
        "it is empty"
    } else if channel.len() > CHANNEL_ID_MAX_BYTES {
        "it is longer than 249 bytes"
    } else {
        return Ok(());
    };
    Err(LedgerError::InvalidChannelId {
        channel: channel.chars().take(CHANNEL_ID_MAX_BYTES).collect(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ids_are_bounded() {
        assert!(check_channel_id("mychannel").is_ok());
        assert!(check_channel_id("").is_err());
        assert!(check_channel_id(&"a".repeat(CHANNEL_ID_MAX_BYTES)).is_ok());
        assert!(check_channel_id(&"a".repeat(CHANNEL_ID_MAX_BYTES + 1)).is_err());
    }

    #[test]
    fn options_are_range_checked() {
        assert!(StoreOptions::default().validate().is_ok());
        let tiny = StoreOptions {
            segment_size_max_bytes: 100,
            ..StoreOptions::default()
        };
        assert!(matches!(
            tiny.validate(),
            Err(LedgerError::InvalidOption {
                option: "segment_size_max_bytes",
                ..
            })
        ));
    }
}
