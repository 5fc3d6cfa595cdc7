//! Merkle summaries of range-query results, built exactly as Fabric's endorsers and validators
//! build them (F25 rwsetutil/query_results_helper.go), so a summary made by a Go endorser
//! compares equal to the one Weft recomputes.
//!
//! Results are gathered in groups; whenever more than `max_degree` are pending, they are
//! serialized as a `kvrwset.QueryReads` and hashed (SHA-256) into a leaf. Whenever a level holds
//! more than `max_degree` hashes, their concatenation is hashed into one hash of the level above
//! and the level is emptied. Finishing folds each level below the top into the next one (a lone
//! hash moves up unchanged), then hashes the top level once more if it is over `max_degree`.
//! A query with at most `max_degree` results has no summary: its raw reads are kept instead.

use std::collections::BTreeMap;

use fabric_protos::kvrwset::{KvRead, QueryReads, QueryReadsMerkleSummary};
use prost::Message;

fn sha256(data: &[u8]) -> Vec<u8> {
    openssl::sha::sha256(data).to_vec()
}

fn combined_hash(hashes: &[Vec<u8>]) -> Vec<u8> {
    sha256(&hashes.concat())
}

/// Incremental builder of a range query's merkle summary.
#[derive(Clone, Debug)]
pub struct MerkleBuilder {
    pending: Vec<KvRead>,
    levels: BTreeMap<u32, Vec<Vec<u8>>>,
    max_level: u32,
    max_degree: u32,
}

/// What an endorser records for a range query: the raw reads, or a summary when there were
/// more than `max_degree` results.
#[derive(Clone, Debug, PartialEq)]
pub enum RangeSummary {
    Raw(Vec<KvRead>),
    Merkle(QueryReadsMerkleSummary),
}

const LEAF_LEVEL: u32 = 1;

impl MerkleBuilder {
    /// `None` when `max_degree` is below 2, which Fabric rejects.
    pub fn new(max_degree: u32) -> Option<Self> {
        (max_degree >= 2).then(|| Self {
            pending: Vec::new(),
            levels: BTreeMap::new(),
            max_level: LEAF_LEVEL,
            max_degree,
        })
    }

    /// Adds the next result in key order.
    pub fn add(&mut self, read: KvRead) {
        self.pending.push(read);
        if self.pending.len() as u64 > u64::from(self.max_degree) {
            self.hash_pending();
        }
    }

    fn hash_pending(&mut self) {
        let reads = QueryReads {
            kv_reads: std::mem::take(&mut self.pending),
        };
        let leaf = sha256(&reads.encode_to_vec());
        self.push_leaf(leaf);
    }

    fn push_leaf(&mut self, leaf: Vec<u8>) {
        let mut level = LEAF_LEVEL;
        self.levels.entry(level).or_default().push(leaf);
        loop {
            let Some(hashes) = self.levels.get(&level) else {
                return;
            };
            if hashes.len() as u64 <= u64::from(self.max_degree) {
                return;
            }
            let up = combined_hash(hashes);
            self.levels.remove(&level);
            level += 1;
            self.levels.entry(level).or_default().push(up);
            self.max_level = self.max_level.max(level);
        }
    }

    fn is_empty(&self) -> bool {
        self.max_level == LEAF_LEVEL && self.top_hashes().is_empty()
    }

    /// The current top level (Fabric's `MaxLevel`).
    pub fn max_level(&self) -> u32 {
        self.max_level
    }

    /// Hashes currently at the top level; pending results are not reflected.
    pub fn top_hashes(&self) -> &[Vec<u8>] {
        self.levels
            .get(&self.max_level)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The summary of what has been hashed so far.
    pub fn summary(&self) -> QueryReadsMerkleSummary {
        QueryReadsMerkleSummary {
            max_degree: self.max_degree,
            max_level: self.max_level,
            max_level_hashes: self.top_hashes().to_vec(),
        }
    }

    /// Ends the query: the raw reads if no leaf was ever hashed, else the final summary.
    pub fn finish(mut self) -> RangeSummary {
        if self.is_empty() {
            return RangeSummary::Raw(self.pending);
        }
        if !self.pending.is_empty() {
            self.hash_pending();
        }
        let mut level = LEAF_LEVEL;
        while level < self.max_level {
            let hashes = self.levels.remove(&level).unwrap_or_default();
            let up = match hashes.len() {
                0 => None,
                1 => hashes.into_iter().next(),
                _ => Some(combined_hash(&hashes)),
            };
            level += 1;
            if let Some(up) = up {
                self.levels.entry(level).or_default().push(up);
            }
        }
        if self.top_hashes().len() as u64 > u64::from(self.max_degree) {
            let top = combined_hash(self.top_hashes());
            self.levels.remove(&self.max_level);
            self.max_level += 1;
            self.levels.insert(self.max_level, vec![top]);
        }
        RangeSummary::Merkle(self.summary())
    }
}

/// Summarizes a whole list of results, as an endorser does at the end of a range query.
pub fn summarize_range_reads(
    reads: impl IntoIterator<Item = KvRead>,
    max_degree: u32,
) -> Option<RangeSummary> {
    let mut builder = MerkleBuilder::new(max_degree)?;
    for read in reads {
        builder.add(read);
    }
    Some(builder.finish())
}

/// Summaries compare equal when degree, level and every top hash match.
pub fn summaries_equal(a: &QueryReadsMerkleSummary, b: &QueryReadsMerkleSummary) -> bool {
    a.max_degree == b.max_degree
        && a.max_level == b.max_level
        && a.max_level_hashes == b.max_level_hashes
}

#[cfg(test)]
mod tests {
    use super::*;
    use fabric_protos::kvrwset::Version;

    fn read(i: u64) -> KvRead {
        KvRead {
            key: format!("key_{i:03}"),
            version: Some(Version {
                block_num: 1,
                tx_num: i,
            }),
        }
    }

    fn leaf(range: std::ops::Range<u64>) -> Vec<u8> {
        sha256(
            &QueryReads {
                kv_reads: range.map(read).collect(),
            }
            .encode_to_vec(),
        )
    }

    #[test]
    fn degree_below_two_is_rejected() {
        assert!(MerkleBuilder::new(1).is_none());
        assert!(MerkleBuilder::new(2).is_some());
    }

    #[test]
    fn at_most_max_degree_results_stay_raw() {
        let got = summarize_range_reads((0..3).map(read), 3).unwrap();
        assert_eq!(got, RangeSummary::Raw((0..3).map(read).collect()));
    }

    // Hand-computed tree for degree 2 and 5 results, following Fabric's grouping: leaves of 3
    // results (hashed when a 3rd is pending), then the 2 leftover results hashed at the end.
    #[test]
    fn small_tree_matches_hand_computation() {
        let got = summarize_range_reads((0..5).map(read), 2).unwrap();
        let want = QueryReadsMerkleSummary {
            max_degree: 2,
            max_level: 1,
            max_level_hashes: vec![leaf(0..3), leaf(3..5)],
        };
        assert_eq!(got, RangeSummary::Merkle(want));
    }

    // 9 results with degree 2: leaves [0..3), [3..6), [6..9) overflow level 1 into one level-2
    // hash; finishing leaves that single hash as the top.
    #[test]
    fn overflowing_level_moves_up() {
        let got = summarize_range_reads((0..9).map(read), 2).unwrap();
        let want = QueryReadsMerkleSummary {
            max_degree: 2,
            max_level: 2,
            max_level_hashes: vec![combined_hash(&[leaf(0..3), leaf(3..6), leaf(6..9)])],
        };
        assert_eq!(got, RangeSummary::Merkle(want));

        // 11 results: the extra leaf [9..11) is folded up into level 2 on finish.
        let got = summarize_range_reads((0..11).map(read), 2).unwrap();
        let want = QueryReadsMerkleSummary {
            max_degree: 2,
            max_level: 2,
            max_level_hashes: vec![
                combined_hash(&[leaf(0..3), leaf(3..6), leaf(6..9)]),
                leaf(9..11),
            ],
        };
        assert_eq!(got, RangeSummary::Merkle(want));
    }
}
