//! The on-disk format of segment files, shared by all channels of a store.
//!
//! A segment starts with an 8-byte magic and then holds records back to back:
//!
//! ```text
//! record  = payload_len: u32 LE | crc32c(payload): u32 LE | payload
//! payload = kind: u8 | channel_len: u8 | channel id | block number: u64 LE | body
//! ```
//!
//! `kind` 1 is a block (the body is the block exactly as it was received) and 2 marks the
//! removal of a channel (empty body), so that an index rebuilt from segments forgets removed
//! channels too. Records are only ever appended; a record that is cut short or fails its
//! checksum at the end of the newest segment is the remains of an append that was never
//! acknowledged and is truncated on open.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{LedgerError, Result};
use crate::options::{BLOCK_SIZE_MAX_BYTES_CEILING, CHANNEL_ID_MAX_BYTES};

pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"WEFTSEG\x01";
pub(crate) const SEGMENT_HEADER_BYTES: u64 = SEGMENT_MAGIC.len() as u64;
pub(crate) const RECORD_HEADER_BYTES: usize = 8;
const PAYLOAD_FIXED_BYTES: usize = 1 + 1 + 8;
const SEGMENT_SUFFIX: &str = ".seg";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordKind {
    Block = 1,
    ChannelRemoved = 2,
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub kind: RecordKind,
    pub channel: String,
    pub number: u64,
    pub body: Vec<u8>,
}

/// Where a record lies: segment id, byte offset of its header, total length with header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordLocation {
    pub segment: u64,
    pub offset: u64,
    pub length: u32,
}

/// Largest payload a record may have for blocks of at most `block_size_max` bytes.
pub(crate) fn payload_size_max(block_size_max: usize) -> usize {
    PAYLOAD_FIXED_BYTES + CHANNEL_ID_MAX_BYTES + block_size_max
}

/// Size of the record that [`encode_record`] writes for this channel and body.
pub(crate) fn record_size(channel: &str, body_len: usize) -> usize {
    RECORD_HEADER_BYTES + PAYLOAD_FIXED_BYTES + channel.len() + body_len
}

/// Appends one framed record to `out`. The channel id must already be checked against
/// [`CHANNEL_ID_MAX_BYTES`] and the body against the block size limit.
pub(crate) fn encode_record(
    kind: RecordKind,
    channel: &str,
    number: u64,
    body: &[u8],
    out: &mut Vec<u8>,
) {
    assert!(
        channel.len() <= CHANNEL_ID_MAX_BYTES,
        "channel id was not checked"
    );
    let payload_len = PAYLOAD_FIXED_BYTES + channel.len() + body.len();
    let payload_len = u32::try_from(payload_len).unwrap_or(u32::MAX);
    let start = out.len();
    out.extend_from_slice(&payload_len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(kind as u8);
    out.push(channel.len() as u8);
    out.extend_from_slice(channel.as_bytes());
    out.extend_from_slice(&number.to_le_bytes());
    out.extend_from_slice(body);
    let crc = crc32c::crc32c(&out[start + RECORD_HEADER_BYTES..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Parses a payload whose checksum has been verified.
fn decode_payload(mut payload: Vec<u8>) -> std::result::Result<Record, String> {
    if payload.len() < PAYLOAD_FIXED_BYTES {
        return Err(format!(
            "record payload of {} bytes is too short",
            payload.len()
        ));
    }
    let kind = match payload[0] {
        1 => RecordKind::Block,
        2 => RecordKind::ChannelRemoved,
        other => return Err(format!("unknown record kind {other}")),
    };
    let channel_len = usize::from(payload[1]);
    let number_at = 2 + channel_len;
    let body_at = number_at + 8;
    if payload.len() < body_at || channel_len == 0 {
        return Err("record channel id is malformed".into());
    }
    let channel = std::str::from_utf8(&payload[2..number_at])
        .map_err(|_| "record channel id is not UTF-8".to_string())?
        .to_owned();
    let mut number = [0; 8];
    number.copy_from_slice(&payload[number_at..body_at]);
    let body = payload.split_off(body_at);
    Ok(Record {
        kind,
        channel,
        number: u64::from_le_bytes(number),
        body,
    })
}

/// Splits a record header into payload length and checksum.
fn parse_header(header: &[u8; RECORD_HEADER_BYTES]) -> (usize, u32) {
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    (len as usize, crc)
}

fn verify_payload(payload: Vec<u8>, crc: u32) -> std::result::Result<Record, String> {
    if crc32c::crc32c(&payload) != crc {
        return Err("record checksum does not match".into());
    }
    decode_payload(payload)
}

/// Path of segment `id` in `dir`.
pub(crate) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016}{SEGMENT_SUFFIX}"))
}

/// Creates segment `id` holding only its header, durably (file and directory entry synced).
pub(crate) fn create_segment(dir: &Path, id: u64) -> Result<File> {
    let path = segment_path(dir, id);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| LedgerError::io("creating", &path, e))?;
    std::io::Write::write_all(&mut file, &SEGMENT_MAGIC)
        .map_err(|e| LedgerError::io("writing", &path, e))?;
    file.sync_all()
        .map_err(|e| LedgerError::io("syncing", &path, e))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Makes a directory's entries durable (a new file survives a power cut only after this).
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LedgerError::io("syncing directory", dir, e))
}

/// Ids of the segment files in `dir`, ascending. Other files are ignored.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>> {
    let entries = std::fs::read_dir(dir).map_err(|e| LedgerError::io("listing", dir, e))?;
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| LedgerError::io("listing", dir, e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SEGMENT_SUFFIX)) else {
            continue;
        };
        if stem.len() == 16
            && let Ok(id) = stem.parse::<u64>()
        {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Reads the record at `location` and checks that it is a block of `channel` numbered `number`.
pub(crate) fn read_block(
    dir: &Path,
    location: RecordLocation,
    channel: &str,
    number: u64,
) -> Result<Vec<u8>> {
    let path = segment_path(dir, location.segment);
    let corrupt = |reason: String| LedgerError::corrupt(&path, location.offset, reason);
    let file = File::open(&path).map_err(|e| LedgerError::io("opening", &path, e))?;
    let total = location.length as usize;
    if total < RECORD_HEADER_BYTES {
        return Err(corrupt(
            "index points at a record shorter than its header".into(),
        ));
    }
    if total > RECORD_HEADER_BYTES + payload_size_max(BLOCK_SIZE_MAX_BYTES_CEILING) {
        return Err(corrupt(
            "index gives a record length beyond any block this store accepts".into(),
        ));
    }
    let mut buf = vec![0; total];
    file.read_exact_at(&mut buf, location.offset)
        .map_err(|e| match e.kind() {
            ErrorKind::UnexpectedEof => corrupt("the segment ends inside the record".into()),
            _ => LedgerError::io("reading", &path, e),
        })?;
    let mut header = [0; RECORD_HEADER_BYTES];
    header.copy_from_slice(&buf[..RECORD_HEADER_BYTES]);
    let (len, crc) = parse_header(&header);
    if len != total - RECORD_HEADER_BYTES {
        return Err(corrupt("record length differs from the index".into()));
    }
    let payload = buf.split_off(RECORD_HEADER_BYTES);
    let record = verify_payload(payload, crc).map_err(corrupt)?;
    if record.kind != RecordKind::Block || record.channel != channel || record.number != number {
        return Err(corrupt(format!(
            "expected block {number} of channel {channel}, found {:?} {} of channel {}",
            record.kind, record.number, record.channel
        )));
    }
    Ok(record.body)
}

/// Why a sequential scan stopped before the end of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanStop {
    pub offset: u64,
    pub reason: String,
}

/// Reads the records of one segment in order, from a given offset.
pub(crate) struct SegmentScanner {
    reader: BufReader<File>,
    path: PathBuf,
    segment: u64,
    offset: u64,
    file_len: u64,
    payload_max: usize,
}

impl SegmentScanner {
    /// Opens segment `segment` of `dir` at `offset` (at least the header size). The header is
    /// checked.
    pub(crate) fn open(dir: &Path, segment: u64, offset: u64, payload_max: usize) -> Result<Self> {
        let path = &segment_path(dir, segment);
        let mut file = File::open(path).map_err(|e| LedgerError::io("opening", path, e))?;
        let file_len = file
            .metadata()
            .map_err(|e| LedgerError::io("inspecting", path, e))?
            .len();
        let mut magic = [0; SEGMENT_MAGIC.len()];
        if file_len < SEGMENT_HEADER_BYTES {
            return Err(LedgerError::corrupt(
                path,
                0,
                "segment is shorter than its header",
            ));
        }
        file.read_exact(&mut magic)
            .map_err(|e| LedgerError::io("reading", path, e))?;
        if magic != SEGMENT_MAGIC {
            return Err(LedgerError::corrupt(
                path,
                0,
                "not a Weft segment file (bad magic)",
            ));
        }
        let offset = offset.max(SEGMENT_HEADER_BYTES);
        if offset > file_len {
            return Err(LedgerError::corrupt(
                path,
                offset,
                "the index says records end past the end of this segment; the file was truncated or replaced",
            ));
        }
        let mut file = file;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(offset))
            .map_err(|e| LedgerError::io("seeking in", path, e))?;
        Ok(SegmentScanner {
            reader: BufReader::with_capacity(1 << 20, file),
            path: path.to_owned(),
            segment,
            offset,
            file_len,
            payload_max,
        })
    }

    /// Byte offset of the next record.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The next record, `Ok(None)` at a clean end, `Err(stop)` at a record that is cut short
    /// or damaged. I/O errors other than a short read are returned as the outer error.
    pub(crate) fn next_record(
        &mut self,
    ) -> Result<std::result::Result<Option<(RecordLocation, Record)>, ScanStop>> {
        let remaining = self.file_len - self.offset;
        if remaining == 0 {
            return Ok(Ok(None));
        }
        let stop = |offset, reason: &str| {
            Ok(Err(ScanStop {
                offset,
                reason: reason.to_owned(),
            }))
        };
        if remaining < RECORD_HEADER_BYTES as u64 {
            return stop(self.offset, "the segment ends inside a record header");
        }
        let mut header = [0; RECORD_HEADER_BYTES];
        self.read(&mut header)?;
        let (len, crc) = parse_header(&header);
        if len < PAYLOAD_FIXED_BYTES || len > self.payload_max {
            return stop(self.offset, "record length is out of range");
        }
        if (len as u64) > remaining - RECORD_HEADER_BYTES as u64 {
            return stop(self.offset, "the segment ends inside a record");
        }
        let mut payload = vec![0; len];
        self.read(&mut payload)?;
        let record = match verify_payload(payload, crc) {
            Ok(record) => record,
            Err(reason) => return stop(self.offset, &reason),
        };
        let length = (RECORD_HEADER_BYTES + len) as u32;
        let location = RecordLocation {
            segment: self.segment,
            offset: self.offset,
            length,
        };
        self.offset += u64::from(length);
        Ok(Ok(Some((location, record))))
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<()> {
        self.reader
            .read_exact(buf)
            .map_err(|e| LedgerError::io("reading", &self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_segment(dir: &Path, records: &[u8]) -> PathBuf {
        let path = segment_path(dir, 1);
        let mut bytes = SEGMENT_MAGIC.to_vec();
        bytes.extend_from_slice(records);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn records_round_trip_through_a_scan() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        encode_record(RecordKind::Block, "ch1", 0, b"genesis", &mut bytes);
        encode_record(RecordKind::ChannelRemoved, "ch2", 0, b"", &mut bytes);
        assert_eq!(bytes.len(), record_size("ch1", 7) + record_size("ch2", 0));
        write_segment(dir.path(), &bytes);

        let mut scan = SegmentScanner::open(dir.path(), 1, 0, payload_size_max(100)).unwrap();
        let (loc, rec) = scan.next_record().unwrap().unwrap().unwrap();
        assert_eq!(
            (loc.offset, rec.kind, rec.channel.as_str(), rec.number),
            (8, RecordKind::Block, "ch1", 0)
        );
        assert_eq!(rec.body, b"genesis");
        let (_, rec) = scan.next_record().unwrap().unwrap().unwrap();
        assert_eq!(rec.kind, RecordKind::ChannelRemoved);
        assert_eq!(scan.next_record().unwrap(), Ok(None));

        assert_eq!(read_block(dir.path(), loc, "ch1", 0).unwrap(), b"genesis");
        assert!(matches!(
            read_block(dir.path(), loc, "ch1", 1),
            Err(LedgerError::CorruptSegment { offset: 8, .. })
        ));
    }

    #[test]
    fn scan_stops_at_torn_and_damaged_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut good = Vec::new();
        encode_record(RecordKind::Block, "ch", 0, b"block zero", &mut good);
        let first_len = good.len() as u64;

        // Cut short: the second record lacks its last byte.
        let mut torn = good.clone();
        encode_record(RecordKind::Block, "ch", 1, b"block one", &mut torn);
        torn.pop();
        // Damaged: one flipped byte in the second record's body.
        let mut flipped = good.clone();
        encode_record(RecordKind::Block, "ch", 1, b"block one", &mut flipped);
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        // Zero-filled tail as left by a crashed file system.
        let mut zeros = good.clone();
        zeros.extend_from_slice(&[0; 64]);

        for bytes in [torn, flipped, zeros] {
            write_segment(dir.path(), &bytes);
            let mut scan = SegmentScanner::open(dir.path(), 1, 0, payload_size_max(100)).unwrap();
            assert!(scan.next_record().unwrap().unwrap().is_some());
            let stop = scan.next_record().unwrap().unwrap_err();
            assert_eq!(stop.offset, SEGMENT_HEADER_BYTES + first_len);
        }
    }

    #[test]
    fn oversized_length_is_refused_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = u32::MAX.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0; 20]);
        write_segment(dir.path(), &bytes);
        let mut scan = SegmentScanner::open(dir.path(), 1, 0, payload_size_max(100)).unwrap();
        assert_eq!(
            scan.next_record().unwrap().unwrap_err().reason,
            "record length is out of range"
        );
    }

    #[test]
    fn lists_only_segment_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for id in [3, 1, 20] {
            std::fs::write(segment_path(dir.path(), id), SEGMENT_MAGIC).unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        assert_eq!(list_segments(dir.path()).unwrap(), vec![1, 3, 20]);
    }
}
