//! The transaction simulator: reads committed state, records what it read and what the
//! chaincode wrote, and never shows uncommitted writes to later reads (Fabric's simulator reads
//! committed state only; F25 core/ledger/kvledger/txmgmt/txmgr/tx_simulator.go,
//! query_executor.go).
//!
//! Fabric's ordering rules are enforced: paginated range queries and range queries on private
//! data are allowed only in read-only transactions, and no write may follow them.

use std::collections::{BTreeMap, BTreeSet};

use fabric_protos::kvrwset::{
    KvMetadataWrite, KvRead, QueryReads, RangeQueryInfo, range_query_info::ReadsInfo,
};
use prost::Message;
use weft_chaincode_api::{StateMetadata, StubError};
use weft_ledger::kv::{
    Height, MerkleBuilder, RangeSummary, VersionedValue, hashed_namespace, private_namespace,
};

use crate::rwset::{RwSetBuilder, SimulationResults};
use crate::support::{SimulationState, StateQuery};

/// Fabric hashes range-query results into a merkle summary above this many (F25
/// txmgr/query_executor.go `maxDegreeQueryReadsHashing`).
pub const RANGE_QUERY_MERKLE_DEGREE_MAX: u32 = 50;
/// Most results one query returns to a chaincode (Fabric's `ledger.state.totalQueryLimit`
/// default in core.yaml).
pub const TOTAL_QUERY_LIMIT: usize = 100_000;

/// One page of range results with what the simulator learnt about the range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeResult {
    pub items: Vec<(String, Vec<u8>)>,
    /// Paginated queries only: the first key after the page, empty when there is none.
    pub bookmark: String,
}

/// Per-key metadata seen on written keys, by namespace and collection ("" for public state);
/// the endorser derives the chaincode interest from it.
pub type WritesetMetadata = BTreeMap<String, BTreeMap<String, BTreeMap<String, StateMetadata>>>;

pub struct TxSimulator {
    tx_id: String,
    state: SimulationState,
    builder: RwSetBuilder,
    ranges: Vec<(String, RangeQueryInfo)>,
    write_performed: bool,
    private_queries_performed: bool,
    paginated_queries_performed: bool,
    private_reads: BTreeSet<(String, String)>,
    writeset_metadata: WritesetMetadata,
}

fn internal(e: impl std::fmt::Display) -> StubError {
    StubError::Internal(e.to_string())
}

/// Go's `version.Height` in `%s` form.
fn height_text(height: Option<Height>) -> String {
    match height {
        Some(h) => format!("{{BlockNum: {}, TxNum: {}}}", h.block_num, h.tx_num),
        None => "<nil>".to_owned(),
    }
}

/// Decodes stored metadata (a serialized `KVMetadataWrite`) into its entries.
pub fn decode_metadata(bytes: Option<&[u8]>) -> Result<StateMetadata, StubError> {
    let Some(bytes) = bytes else {
        return Ok(StateMetadata::new());
    };
    let write = KvMetadataWrite::decode(bytes).map_err(internal)?;
    Ok(write
        .entries
        .into_iter()
        .map(|e| (e.name, e.value))
        .collect())
}

fn key_hash(key: &str) -> Vec<u8> {
    weft_protoutil::sha256(key.as_bytes()).to_vec()
}

impl TxSimulator {
    pub fn new(tx_id: &str, state: SimulationState) -> Self {
        TxSimulator {
            tx_id: tx_id.to_owned(),
            state,
            builder: RwSetBuilder::new(),
            ranges: Vec::new(),
            write_performed: false,
            private_queries_performed: false,
            paginated_queries_performed: false,
            private_reads: BTreeSet::new(),
            writeset_metadata: WritesetMetadata::new(),
        }
    }

    fn committed(&self, ns: &str, key: &[u8]) -> Result<Option<VersionedValue>, StubError> {
        self.state.get(ns, key).map_err(internal)
    }

    /// Reads `key` and records the read.
    pub fn get_state(&mut self, ns: &str, key: &str) -> Result<Option<VersionedValue>, StubError> {
        let found = self.committed(ns, key.as_bytes())?;
        self.builder
            .add_read(ns, key, found.as_ref().map(|v| v.version));
        Ok(found)
    }

    /// The key's metadata; records a read of the key as Go does.
    pub fn get_state_metadata(&mut self, ns: &str, key: &str) -> Result<StateMetadata, StubError> {
        let found = self.get_state(ns, key)?;
        decode_metadata(found.as_ref().and_then(|v| v.metadata.as_deref()))
    }

    fn check_write_precondition(&mut self) -> Result<(), StubError> {
        if self.private_queries_performed {
            return Err(StubError::InvalidArgument(format!(
                "txid [{}]: unsuppored transaction. Transaction has already performed queries on pvt data. Writes are not allowed",
                self.tx_id
            )));
        }
        if self.paginated_queries_performed {
            return Err(StubError::InvalidArgument(format!(
                "txid [{}]: unsuppored transaction. Transaction has already performed a paginated query. Writes are not allowed",
                self.tx_id
            )));
        }
        self.write_performed = true;
        Ok(())
    }

    fn note_written_metadata(
        &mut self,
        ns: &str,
        coll: &str,
        key: &str,
        stored: Option<VersionedValue>,
    ) -> Result<(), StubError> {
        let metadata = decode_metadata(stored.as_ref().and_then(|v| v.metadata.as_deref()))?;
        self.writeset_metadata
            .entry(ns.to_owned())
            .or_default()
            .entry(coll.to_owned())
            .or_default()
            .insert(key.to_owned(), metadata);
        Ok(())
    }

    /// Writes `value` (empty: delete).
    pub fn set_state(&mut self, ns: &str, key: &str, value: &[u8]) -> Result<(), StubError> {
        self.check_write_precondition()?;
        self.builder.add_write(ns, key, value);
        let stored = self.committed(ns, key.as_bytes())?;
        self.note_written_metadata(ns, "", key, stored)
    }

    /// Replaces the key's metadata (empty map: delete it).
    pub fn set_state_metadata(
        &mut self,
        ns: &str,
        key: &str,
        metadata: &StateMetadata,
    ) -> Result<(), StubError> {
        self.check_write_precondition()?;
        self.builder.add_metadata_write(ns, key, metadata);
        let stored = self.committed(ns, key.as_bytes())?;
        self.note_written_metadata(ns, "", key, stored)
    }

    /// Range query over `[start, end)` (empty `end`: to the end). `page_size` is `Some` for
    /// paginated queries (Fabric allows those in read-only transactions only). Results are
    /// recorded as range-query info for phantom-read checks at commit.
    pub fn get_state_range(
        &mut self,
        ns: &str,
        start: &str,
        end: &str,
        page_size: Option<u32>,
    ) -> Result<RangeResult, StubError> {
        if page_size.is_some() {
            if self.write_performed {
                return Err(StubError::InvalidArgument(format!(
                    "txid [{}]: unsuppored transaction. Paginated queries are supported only in a read-only transaction",
                    self.tx_id
                )));
            }
            self.paginated_queries_performed = true;
        }
        // Fabric stops at min(page size, total limit) without asking the iterator again; a
        // page size of 0 means no page limit.
        let limit = match page_size {
            Some(size) if size > 0 => TOTAL_QUERY_LIMIT.min(size as usize),
            _ => TOTAL_QUERY_LIMIT,
        };
        let mut merkle = MerkleBuilder::new(RANGE_QUERY_MERKLE_DEGREE_MAX)
            .ok_or_else(|| internal("range query merkle degree below 2"))?;
        let mut info = RangeQueryInfo {
            start_key: start.to_owned(),
            ..Default::default()
        };
        let mut items = Vec::new();
        let mut bookmark = String::new();
        let mut scan = self
            .state
            .scan(ns, start.as_bytes(), end.as_bytes())
            .map_err(internal)?;
        loop {
            if items.len() >= limit {
                // Fabric does not call Next again: the range is not exhausted and, for a
                // paginated query, the bookmark is the next key if there is one.
                if page_size.is_some()
                    && let Some(next) = scan.next()
                {
                    let (key, _) = next.map_err(internal)?;
                    bookmark = String::from_utf8_lossy(&key).into_owned();
                }
                break;
            }
            let Some(next) = scan.next() else {
                info.itr_exhausted = true;
                info.end_key = end.to_owned();
                break;
            };
            let (key, value) = next.map_err(internal)?;
            let key = String::from_utf8(key)
                .map_err(|_| internal(format!("state key in namespace {ns} is not UTF-8")))?;
            merkle.add(KvRead {
                key: key.clone(),
                version: Some(value.version.to_proto()),
            });
            info.end_key = key.clone();
            items.push((key, value.value));
        }
        drop(scan);
        info.reads_info = match merkle.finish() {
            RangeSummary::Raw(reads) if reads.is_empty() => None,
            RangeSummary::Raw(reads) => Some(ReadsInfo::RawReads(QueryReads { kv_reads: reads })),
            RangeSummary::Merkle(summary) => Some(ReadsInfo::ReadsMerkleHashes(summary)),
        };
        self.ranges.push((ns.to_owned(), info));
        Ok(RangeResult { items, bookmark })
    }

    /// A private value; its version must match the committed hash's (Go returns an error
    /// otherwise, for example on a peer that misses the private data).
    pub fn get_private_data(
        &mut self,
        ns: &str,
        coll: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        let private = self.committed(&private_namespace(ns, coll), key.as_bytes())?;
        let private_version = private.as_ref().map(|v| v.version);
        let hashed = self.committed(&hashed_namespace(ns, coll), &key_hash(key))?;
        let hash_version = hashed.as_ref().map(|v| v.version);
        if hash_version != private_version {
            return Err(StubError::Internal(format!(
                "private data matching public hash version is not available. Public hash version = {}, Private data version = {}",
                height_text(hash_version),
                height_text(private_version)
            )));
        }
        self.builder.add_hashed_read(ns, coll, key, private_version);
        self.private_reads.insert((ns.to_owned(), coll.to_owned()));
        Ok(private.map(|v| v.value))
    }

    fn get_private_hash_entry(
        &mut self,
        ns: &str,
        coll: &str,
        key: &str,
    ) -> Result<Option<VersionedValue>, StubError> {
        let hashed = self.committed(&hashed_namespace(ns, coll), &key_hash(key))?;
        self.builder
            .add_hashed_read(ns, coll, key, hashed.as_ref().map(|v| v.version));
        Ok(hashed)
    }

    /// SHA-256 of a private value as committed; readable by any peer of the channel.
    pub fn get_private_data_hash(
        &mut self,
        ns: &str,
        coll: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        Ok(self.get_private_hash_entry(ns, coll, key)?.map(|v| v.value))
    }

    /// Metadata of a private key (kept with its hash); records a hashed read.
    pub fn get_private_data_metadata(
        &mut self,
        ns: &str,
        coll: &str,
        key: &str,
    ) -> Result<StateMetadata, StubError> {
        let hashed = self.get_private_hash_entry(ns, coll, key)?;
        decode_metadata(hashed.as_ref().and_then(|v| v.metadata.as_deref()))
    }

    /// Writes a private value (empty: delete); `purge` also purges its history.
    pub fn set_private_data(
        &mut self,
        ns: &str,
        coll: &str,
        key: &str,
        value: &[u8],
        purge: bool,
    ) -> Result<(), StubError> {
        self.check_write_precondition()?;
        self.builder.add_private_write(ns, coll, key, value, purge);
        let stored = self.committed(&hashed_namespace(ns, coll), &key_hash(key))?;
        self.note_written_metadata(ns, coll, key, stored)
    }

    pub fn set_private_data_metadata(
        &mut self,
        ns: &str,
        coll: &str,
        key: &str,
        metadata: &StateMetadata,
    ) -> Result<(), StubError> {
        self.check_write_precondition()?;
        self.builder
            .add_private_metadata_write(ns, coll, key, metadata);
        let stored = self.committed(&hashed_namespace(ns, coll), &key_hash(key))?;
        self.note_written_metadata(ns, coll, key, stored)
    }

    /// Range over private values; allowed only before any write, and records nothing (Fabric
    /// cannot validate such reads at commit).
    pub fn get_private_data_range(
        &mut self,
        ns: &str,
        coll: &str,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StubError> {
        if self.write_performed {
            return Err(StubError::InvalidArgument(format!(
                "txid [{}]: unsuppored transaction. Queries on pvt data is supported only in a read-only transaction",
                self.tx_id
            )));
        }
        self.private_queries_performed = true;
        let scan = self
            .state
            .scan(
                &private_namespace(ns, coll),
                start.as_bytes(),
                end.as_bytes(),
            )
            .map_err(internal)?;
        let mut items = Vec::new();
        for next in scan.take(TOTAL_QUERY_LIMIT) {
            let (key, value) = next.map_err(internal)?;
            let key = String::from_utf8(key)
                .map_err(|_| internal(format!("private key in {ns}/{coll} is not UTF-8")))?;
            items.push((key, value.value));
        }
        Ok(items)
    }

    /// Namespaces and collections whose private values were read.
    pub fn private_reads(&self) -> &BTreeSet<(String, String)> {
        &self.private_reads
    }

    pub fn writeset_metadata(&self) -> &WritesetMetadata {
        &self.writeset_metadata
    }

    /// Ends the simulation: range queries are added in the order they ran (Go's
    /// `addRangeQueryInfo`), then the sets are built.
    pub fn finish(mut self) -> SimulationOutput {
        for (ns, info) in std::mem::take(&mut self.ranges) {
            self.builder.add_range_query(&ns, info);
        }
        SimulationOutput {
            results: self.builder.finish(),
            private_reads: self.private_reads,
            writeset_metadata: self.writeset_metadata,
        }
    }
}

/// Everything a finished simulation hands back to the endorser.
#[derive(Debug, Clone, Default)]
pub struct SimulationOutput {
    pub results: SimulationResults,
    pub private_reads: BTreeSet<(String, String)>,
    pub writeset_metadata: WritesetMetadata,
}

impl StateQuery for TxSimulator {
    fn get_state(&mut self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        Ok(TxSimulator::get_state(self, namespace, key)?.map(|v| v.value))
    }
}
