//! Write-ahead log shared by every channel of a consensus node.
//!
//! Fabric's etcdraft keeps one etcd WAL directory per channel; with thousands of channels that is
//! thousands of files and fsyncs. Here all channels append to one log, each record tagged with its
//! channel, and the driver makes one `sync` per Ready round for all channels together (group
//! commit) before sending any message that depends on the persisted state.
//!
//! Record framing: `u32 LE body length | u32 LE crc32c(body) | body`, where the body is
//! `u8 kind | u16 LE channel name length | channel name | payload` and the payload is the
//! protobuf encoding of the raft-rs type(s). A record that is cut short or fails its checksum at
//! the end of the file is a torn write from a crash: recovery truncates the file there. Records
//! are only ever appended, so anything after a bad record cannot have been acknowledged.
//!
//! Compaction (Fabric's etcdraft releases its WAL up to each snapshot): after a snapshot,
//! `compact` rewrites the segment to hold, per channel, only its membership, latest snapshot,
//! the entries after it and its hard state, then atomically renames it over the old one. A
//! crash mid-way leaves the old segment in place.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};

use crate::RaftError;
use crate::log::ChannelLog;

/// Fabric's channel name limit (`configtx.ValidateChannelID`: at most 249 characters).
pub const CHANNEL_NAME_BYTES_MAX: usize = 249;
/// Largest record accepted on replay; a larger length field can only be garbage.
pub const RECORD_BYTES_MAX: u32 = 256 * 1024 * 1024;
/// Name of the (single, for now) segment file inside the WAL directory.
pub const SEGMENT_FILE_NAME: &str = "raft-wal-0000000000.log";

const HEADER_BYTES: u64 = 8;

/// One durable change to a channel's raft state.
#[derive(Debug, Clone, PartialEq)]
pub enum WalRecord {
    /// The channel's first membership; resets any earlier state of that channel.
    Bootstrap(ConfState),
    Entries(Vec<Entry>),
    HardState(HardState),
    Snapshot(Snapshot),
}

/// Where a chain writes its raft state changes. Writes may be buffered; `sync` makes everything
/// written so far durable.
pub trait WalSink {
    fn write(&mut self, channel: &str, record: &WalRecord) -> Result<(), RaftError>;
    fn sync(&mut self) -> Result<(), RaftError>;

    /// Drops everything the channels' latest snapshots cover: afterwards the WAL replays to
    /// `logs` (every channel it serves). A sink that keeps nothing has nothing to drop.
    fn compact(&mut self, _logs: &[(&str, &ChannelLog)]) -> Result<(), RaftError> {
        Ok(())
    }
}

/// The records that rebuild `log` from its latest snapshot on replay.
pub fn records_from_snapshot(log: &ChannelLog) -> Vec<WalRecord> {
    let snapshot = log.latest_snapshot();
    let mut records = vec![WalRecord::Bootstrap(
        snapshot.get_metadata().get_conf_state().clone(),
    )];
    let after = snapshot.get_metadata().index;
    if !snapshot.is_empty() {
        records.push(WalRecord::Snapshot(snapshot.clone()));
    }
    let entries = log.entries_after(after);
    if !entries.is_empty() {
        records.push(WalRecord::Entries(entries.to_vec()));
    }
    records.push(WalRecord::HardState(log.hard_state().clone()));
    records
}

/// A WAL that keeps nothing: for tests and simulations where restarts are not exercised.
#[derive(Debug, Default)]
pub struct MemoryWal {
    pub records_written: u64,
    pub syncs: u64,
}

impl WalSink for MemoryWal {
    fn write(&mut self, _channel: &str, _record: &WalRecord) -> Result<(), RaftError> {
        self.records_written += 1;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), RaftError> {
        self.syncs += 1;
        Ok(())
    }
}

/// What recovery found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecoveryStats {
    pub records: u64,
    /// Bytes cut from the end of the file because they held a torn record.
    pub truncated_bytes: u64,
}

/// The durable, shared WAL.
#[derive(Debug)]
pub struct SharedWal {
    path: PathBuf,
    writer: BufWriter<File>,
    pending: bool,
    pub records_written: u64,
    pub syncs: u64,
    pub compactions: u64,
}

impl SharedWal {
    /// Opens (creating if needed) the WAL in `dir`, replays it and returns every channel's log.
    pub fn open(
        dir: &Path,
    ) -> Result<(Self, BTreeMap<String, ChannelLog>, RecoveryStats), RaftError> {
        let path = dir.join(SEGMENT_FILE_NAME);
        let io = |source| RaftError::WalIo {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let mut replay = Replay::default();
        let good_len = replay.read_all(&path, &mut file, file_len)?;
        let mut stats = RecoveryStats {
            records: replay.records,
            truncated_bytes: 0,
        };
        if good_len < file_len {
            file.set_len(good_len).map_err(io)?;
            file.sync_all().map_err(io)?;
            stats.truncated_bytes = file_len - good_len;
        }
        file.seek(SeekFrom::End(0)).map_err(io)?;
        for (channel, log) in &replay.logs {
            if log.hard_state().commit > log.last_index() {
                return Err(RaftError::WalCorrupt {
                    path,
                    offset: good_len,
                    reason: format!(
                        "channel {channel:?} commit index {} is past its last entry {}",
                        log.hard_state().commit,
                        log.last_index()
                    ),
                });
            }
        }
        let wal = Self {
            path,
            writer: BufWriter::new(file),
            pending: false,
            records_written: 0,
            syncs: 0,
            compactions: 0,
        };
        Ok((wal, replay.logs, stats))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> RaftError {
        RaftError::WalIo {
            path: self.path.clone(),
            source,
        }
    }
}

/// Frames and writes one record (see the module docs for the framing).
fn write_record(
    writer: &mut impl Write,
    channel: &str,
    record: &WalRecord,
) -> Result<Result<(), std::io::Error>, RaftError> {
    let body = encode_body(channel, record)?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|len| *len <= RECORD_BYTES_MAX)
        .ok_or(RaftError::MessageTooLarge(body.len()))?;
    let mut header = [0u8; HEADER_BYTES as usize];
    header[..4].copy_from_slice(&len.to_le_bytes());
    header[4..].copy_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    Ok(writer
        .write_all(&header)
        .and_then(|()| writer.write_all(&body)))
}

/// A record as framed on disk: header and body.
type RawRecord = ([u8; HEADER_BYTES as usize], Vec<u8>);

/// The channel a record body belongs to.
fn channel_of(body: &[u8]) -> Option<&str> {
    let len = u16::from_le_bytes([*body.get(1)?, *body.get(2)?]) as usize;
    std::str::from_utf8(body.get(3..3 + len)?).ok()
}

impl SharedWal {
    /// Every whole record of the live segment (header and body), up to the first bad one.
    fn whole_records(&self) -> Result<Vec<RawRecord>, RaftError> {
        let bytes = std::fs::read(&self.path).map_err(|e| self.io(e))?;
        let mut records = Vec::new();
        let mut rest = bytes.as_slice();
        while let Some((header, after)) = rest.split_first_chunk::<{ HEADER_BYTES as usize }>() {
            let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            let Some(body) = after.get(..len as usize) else {
                break;
            };
            if len > RECORD_BYTES_MAX || crc32c::crc32c(body) != crc {
                break;
            }
            records.push((*header, body.to_vec()));
            rest = &after[len as usize..];
        }
        Ok(records)
    }

    /// Writes the compacted segment next to the live one, syncs it and renames it over it.
    fn rewrite(&mut self, logs: &[(&str, &ChannelLog)]) -> Result<(), RaftError> {
        let staged = self.path.with_extension("compacting");
        let io = |source| RaftError::WalIo {
            path: staged.clone(),
            source,
        };
        let file = File::create(&staged).map_err(io)?;
        let mut writer = BufWriter::new(file);
        // Channels recovered from the WAL but not started again yet keep their records as is.
        let kept = |channel: &str| !logs.iter().any(|(name, _)| *name == channel);
        for (header, body) in self.whole_records()? {
            if channel_of(&body).is_some_and(kept) {
                writer
                    .write_all(&header)
                    .and_then(|()| writer.write_all(&body))
                    .map_err(io)?;
            }
        }
        for (channel, log) in logs {
            for record in records_from_snapshot(log) {
                write_record(&mut writer, channel, &record)?.map_err(io)?;
            }
        }
        writer.flush().map_err(io)?;
        writer.get_ref().sync_all().map_err(io)?;
        drop(writer);
        std::fs::rename(&staged, &self.path).map_err(|e| self.io(e))?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| self.io(e))?;
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| self.io(e))?;
        self.writer = BufWriter::new(file);
        self.pending = false;
        self.compactions += 1;
        Ok(())
    }
}

impl WalSink for SharedWal {
    fn write(&mut self, channel: &str, record: &WalRecord) -> Result<(), RaftError> {
        write_record(&mut self.writer, channel, record)?.map_err(|e| self.io(e))?;
        self.pending = true;
        self.records_written += 1;
        Ok(())
    }

    fn compact(&mut self, logs: &[(&str, &ChannelLog)]) -> Result<(), RaftError> {
        // Whatever is buffered must reach the old segment first: the new one is built from
        // the in-memory logs, which already hold it.
        self.sync()?;
        self.rewrite(logs)
    }

    fn sync(&mut self) -> Result<(), RaftError> {
        if !self.pending {
            return Ok(());
        }
        self.writer.flush().map_err(|e| self.io(e))?;
        self.writer.get_ref().sync_data().map_err(|e| self.io(e))?;
        self.pending = false;
        self.syncs += 1;
        Ok(())
    }
}

const KIND_BOOTSTRAP: u8 = 1;
const KIND_ENTRIES: u8 = 2;
const KIND_HARD_STATE: u8 = 3;
const KIND_SNAPSHOT: u8 = 4;

fn encode_body(channel: &str, record: &WalRecord) -> Result<Vec<u8>, RaftError> {
    if channel.len() > CHANNEL_NAME_BYTES_MAX {
        return Err(RaftError::ChannelNameTooLong(channel.len()));
    }
    let mut body = Vec::with_capacity(64);
    let (kind, payload) = match record {
        WalRecord::Bootstrap(cs) => (KIND_BOOTSTRAP, encode(cs)?),
        WalRecord::HardState(hs) => (KIND_HARD_STATE, encode(hs)?),
        WalRecord::Snapshot(snap) => (KIND_SNAPSHOT, encode(snap)?),
        WalRecord::Entries(entries) => {
            let mut payload = Vec::new();
            for entry in entries {
                let bytes = encode(entry)?;
                payload.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                payload.extend_from_slice(&bytes);
            }
            (KIND_ENTRIES, payload)
        }
    };
    body.push(kind);
    body.extend_from_slice(&(channel.len() as u16).to_le_bytes());
    body.extend_from_slice(channel.as_bytes());
    body.extend_from_slice(&payload);
    Ok(body)
}

fn encode(message: &dyn protobuf::Message) -> Result<Vec<u8>, RaftError> {
    message
        .write_to_bytes()
        .map_err(|e| RaftError::MalformedMessage(e.to_string()))
}

fn decode_body(body: &[u8]) -> Result<(String, WalRecord), String> {
    let (&kind, rest) = body.split_first().ok_or("empty record")?;
    let name_len = rest
        .get(..2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
        .ok_or("no channel name length")?;
    let name = rest.get(2..2 + name_len).ok_or("channel name cut short")?;
    let channel = String::from_utf8(name.to_vec()).map_err(|_| "channel name not UTF-8")?;
    let payload = &rest[2 + name_len..];
    let pb = |e: protobuf::ProtobufError| e.to_string();
    let record = match kind {
        KIND_BOOTSTRAP => WalRecord::Bootstrap(ConfState::parse_from_bytes(payload).map_err(pb)?),
        KIND_HARD_STATE => WalRecord::HardState(HardState::parse_from_bytes(payload).map_err(pb)?),
        KIND_SNAPSHOT => WalRecord::Snapshot(Snapshot::parse_from_bytes(payload).map_err(pb)?),
        KIND_ENTRIES => {
            let mut entries = Vec::new();
            let mut rest = payload;
            while !rest.is_empty() {
                let len = rest
                    .get(..4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                    .ok_or("entry length cut short")?;
                let bytes = rest.get(4..4 + len).ok_or("entry cut short")?;
                entries.push(Entry::parse_from_bytes(bytes).map_err(pb)?);
                rest = &rest[4 + len..];
            }
            WalRecord::Entries(entries)
        }
        other => return Err(format!("unknown record kind {other}")),
    };
    Ok((channel, record))
}

#[derive(Default)]
struct Replay {
    logs: BTreeMap<String, ChannelLog>,
    records: u64,
}

impl Replay {
    /// Applies every whole record; returns the length of the valid prefix of the file.
    fn read_all(&mut self, path: &Path, file: &mut File, file_len: u64) -> Result<u64, RaftError> {
        let io = |source| RaftError::WalIo {
            path: path.to_path_buf(),
            source,
        };
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut reader = BufReader::new(&mut *file);
        let mut offset = 0u64;
        loop {
            if file_len - offset < HEADER_BYTES {
                return Ok(offset);
            }
            let mut header = [0u8; HEADER_BYTES as usize];
            reader.read_exact(&mut header).map_err(io)?;
            let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            if len > RECORD_BYTES_MAX || u64::from(len) > file_len - offset - HEADER_BYTES {
                return Ok(offset);
            }
            let mut body = vec![0u8; len as usize];
            reader.read_exact(&mut body).map_err(io)?;
            if crc32c::crc32c(&body) != crc {
                return Ok(offset);
            }
            let (channel, record) = decode_body(&body).map_err(|reason| RaftError::WalCorrupt {
                path: path.to_path_buf(),
                offset,
                reason,
            })?;
            self.apply(&channel, record)
                .map_err(|e| RaftError::WalCorrupt {
                    path: path.to_path_buf(),
                    offset,
                    reason: e.to_string(),
                })?;
            self.records += 1;
            offset += HEADER_BYTES + u64::from(len);
        }
    }

    fn apply(&mut self, channel: &str, record: WalRecord) -> Result<(), RaftError> {
        if let WalRecord::Bootstrap(cs) = &record {
            self.logs
                .insert(channel.to_string(), ChannelLog::bootstrap(cs.get_voters()));
            return Ok(());
        }
        let log = self
            .logs
            .get_mut(channel)
            .ok_or_else(|| RaftError::UnknownChannel(channel.to_string()))?;
        match record {
            WalRecord::Bootstrap(_) => {}
            WalRecord::Entries(entries) => log.append(&entries)?,
            WalRecord::HardState(hs) => log.set_hard_state(hs),
            // Replay restarts at the snapshot: entries behind it are not needed in memory.
            WalRecord::Snapshot(snap) => log.install_snapshot(snap, 0),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
        let mut e = Entry::default();
        e.set_index(index);
        e.set_term(term);
        e.set_data(data.to_vec().into());
        e
    }

    #[test]
    fn records_round_trip_per_channel() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut wal, logs, _) = SharedWal::open(dir.path()).unwrap();
            assert!(logs.is_empty());
            let cs = ConfState::from((vec![1, 2, 3], vec![]));
            for ch in ["a", "b"] {
                wal.write(ch, &WalRecord::Bootstrap(cs.clone())).unwrap();
            }
            wal.write(
                "a",
                &WalRecord::Entries(vec![entry(1, 1, b"x"), entry(2, 1, b"y")]),
            )
            .unwrap();
            let mut hs = HardState::default();
            hs.set_term(1);
            hs.set_commit(2);
            wal.write("a", &WalRecord::HardState(hs)).unwrap();
            wal.write("b", &WalRecord::Entries(vec![entry(1, 1, b"z")]))
                .unwrap();
            wal.sync().unwrap();
            assert_eq!(wal.syncs, 1);
        }
        let (_, logs, stats) = SharedWal::open(dir.path()).unwrap();
        assert_eq!(
            stats,
            RecoveryStats {
                records: 5,
                truncated_bytes: 0
            }
        );
        assert_eq!(logs["a"].last_index(), 2);
        assert_eq!(logs["a"].hard_state().commit, 2);
        assert_eq!(logs["b"].last_index(), 1);
        assert_eq!(logs["b"].conf_state().get_voters(), &[1, 2, 3]);
    }

    #[test]
    fn torn_tail_is_truncated_and_flipped_bits_stop_replay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SEGMENT_FILE_NAME);
        let good_len = {
            let (mut wal, _, _) = SharedWal::open(dir.path()).unwrap();
            wal.write(
                "a",
                &WalRecord::Bootstrap(ConfState::from((vec![1], vec![]))),
            )
            .unwrap();
            wal.write("a", &WalRecord::Entries(vec![entry(1, 1, b"kept")]))
                .unwrap();
            wal.sync().unwrap();
            let len = std::fs::metadata(&path).unwrap().len();
            wal.write("a", &WalRecord::Entries(vec![entry(2, 1, b"torn")]))
                .unwrap();
            wal.sync().unwrap();
            len
        };
        let full = std::fs::read(&path).unwrap();
        // Cut the last record in the middle of its body, as a crash mid-write would.
        std::fs::write(&path, &full[..full.len() - 3]).unwrap();
        let (_, logs, stats) = SharedWal::open(dir.path()).unwrap();
        assert_eq!(logs["a"].last_index(), 1);
        assert_eq!(stats.truncated_bytes, full.len() as u64 - 3 - good_len);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len);

        // A checksum mismatch in the last record is treated the same way.
        let mut flipped = full.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        std::fs::write(&path, &flipped).unwrap();
        let (_, logs, stats) = SharedWal::open(dir.path()).unwrap();
        assert_eq!(logs["a"].last_index(), 1);
        assert_eq!(stats.truncated_bytes, full.len() as u64 - good_len);
    }

    // Fabric's etcdraft releases WAL records up to each snapshot; here the segment is
    // rewritten from the snapshot on, and replay yields the same log.
    #[test]
    fn compaction_keeps_what_replay_needs_and_drops_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SEGMENT_FILE_NAME);
        let live = {
            let (mut wal, _, _) = SharedWal::open(dir.path()).unwrap();
            let conf = ConfState::from((vec![1, 2, 3], vec![]));
            for channel in ["a", "dormant"] {
                wal.write(channel, &WalRecord::Bootstrap(conf.clone()))
                    .unwrap();
            }
            let mut log = ChannelLog::bootstrap(&[1, 2, 3]);
            let big = vec![7u8; 4096];
            let entries: Vec<Entry> = (1..=20).map(|i| entry(i, 1, &big)).collect();
            wal.write("a", &WalRecord::Entries(entries.clone()))
                .unwrap();
            log.append(&entries).unwrap();
            wal.write("dormant", &WalRecord::Entries(vec![entry(1, 1, b"d")]))
                .unwrap();
            let mut hs = HardState::default();
            hs.set_term(1);
            hs.set_commit(20);
            wal.write("a", &WalRecord::HardState(hs.clone())).unwrap();
            log.set_hard_state(hs);
            let snapshot = log.make_snapshot(18, b"block 9".to_vec()).unwrap();
            wal.write("a", &WalRecord::Snapshot(snapshot.clone()))
                .unwrap();
            log.install_snapshot(snapshot, crate::log::SNAPSHOT_CATCHUP_ENTRIES);
            let before = std::fs::metadata(&path).unwrap().len();
            wal.compact(&[("a", &log)]).unwrap();
            assert_eq!(wal.compactions, 1);
            let after = std::fs::metadata(&path).unwrap().len();
            assert!(after < before / 4, "{after} bytes of {before} left");
            // Appends after a compaction land in the new segment.
            wal.write("a", &WalRecord::Entries(vec![entry(21, 1, b"new")]))
                .unwrap();
            wal.sync().unwrap();
            log
        };
        let (_, logs, stats) = SharedWal::open(dir.path()).unwrap();
        assert_eq!(stats.truncated_bytes, 0);
        let a = &logs["a"];
        assert_eq!(a.latest_snapshot().get_metadata().index, 18);
        assert_eq!(a.latest_snapshot().get_data(), b"block 9");
        assert_eq!(a.first_index(), 19);
        assert_eq!(a.last_index(), 21);
        assert_eq!(a.hard_state(), live.hard_state());
        assert_eq!(a.conf_state().get_voters(), &[1, 2, 3]);
        // A channel that was not started again keeps its records.
        assert_eq!(logs["dormant"].last_index(), 1);
    }

    #[test]
    fn absurd_length_field_is_a_torn_tail_not_an_allocation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SEGMENT_FILE_NAME);
        let mut bytes = u32::MAX.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0; 12]);
        std::fs::write(&path, &bytes).unwrap();
        let (_, logs, stats) = SharedWal::open(dir.path()).unwrap();
        assert!(logs.is_empty());
        assert_eq!(stats.truncated_bytes, 16);
    }
}
