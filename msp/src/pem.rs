//! PEM reading and writing with the tolerance of Go's `encoding/pem`, which is what decides
//! whether Fabric accepts an identity: the first well-formed block wins, text before it is
//! skipped, and whatever follows it is ignored.

use openssl::base64;

/// Largest PEM input decoded; identities and MSP files are a few kilobytes.
pub const PEM_INPUT_BYTES_MAX: usize = 1 << 20;

/// One decoded PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBlock {
    pub label: String,
    pub contents: Vec<u8>,
}

const BEGIN: &[u8] = b"-----BEGIN ";
const DASHES: &[u8] = b"-----";

/// Decodes the first well-formed PEM block in `data`, skipping malformed candidates as Go does.
pub fn decode_first(data: &[u8]) -> Option<PemBlock> {
    if data.len() > PEM_INPUT_BYTES_MAX {
        return None;
    }
    let mut from = 0;
    while let Some(start) = find_begin(data, from) {
        if let Some(block) = decode_at(&data[start..]) {
            return Some(block);
        }
        from = start + BEGIN.len();
    }
    None
}

/// Finds "-----BEGIN " at the start of the input or at the start of a line.
fn find_begin(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + BEGIN.len() <= data.len() {
        let at_line_start = i == 0 || data[i - 1] == b'\n';
        if at_line_start && data[i..].starts_with(BEGIN) {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn decode_at(data: &[u8]) -> Option<PemBlock> {
    let after_begin = &data[BEGIN.len()..];
    let (type_line, mut rest) = split_line(after_begin);
    let type_line = trim_ascii_end(type_line);
    let label = type_line.strip_suffix(DASHES)?;
    let label = std::str::from_utf8(label).ok()?.to_string();

    // Optional RFC 1421 headers: "Key: value" lines, ended by a blank line.
    let (first, after_first) = split_line(rest);
    if first.contains(&b':') {
        rest = after_first;
        loop {
            let (line, next) = split_line(rest);
            if line.is_empty() && next.len() == rest.len() {
                return None;
            }
            rest = next;
            if trim_ascii_end(line).is_empty() {
                break;
            }
            if !line.contains(&b':') {
                return None;
            }
        }
    }

    let end_marker = [b"-----END ".as_slice(), label.as_bytes(), DASHES].concat();
    let end = if rest.starts_with(&end_marker) {
        0
    } else {
        let needle = [b"\n".as_slice(), &end_marker].concat();
        find(rest, &needle)? + 1
    };
    let body: Vec<u8> = rest[..end]
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    // Go requires the end line to contain nothing but the marker and whitespace.
    let (end_line, _) = split_line(&rest[end..]);
    if !trim_ascii_end(end_line).eq(end_marker.as_slice()) {
        return None;
    }
    let body = std::str::from_utf8(&body).ok()?;
    let contents = if body.is_empty() {
        Vec::new()
    } else {
        base64::decode_block(body).ok()?
    };
    Some(PemBlock { label, contents })
}

fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let line = &data[..i];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            (line, &data[i + 1..])
        }
        None => (data, &data[data.len()..]),
    }
}

fn trim_ascii_end(data: &[u8]) -> &[u8] {
    let mut end = data.len();
    while end > 0 && data[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    &data[..end]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Encodes one block exactly as Go's `pem.EncodeToMemory` does (64-column lines, trailing
/// newline), so serialized identities are byte-identical to a Go node's.
pub fn encode(label: &str, contents: &[u8]) -> Vec<u8> {
    let b64 = base64::encode_block(contents);
    let mut out = Vec::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.extend_from_slice(format!("-----BEGIN {label}-----\n").as_bytes());
    for line in b64.as_bytes().chunks(64) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(format!("-----END {label}-----\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_skips_leading_text() {
        let data: Vec<u8> = (0..200u8).collect();
        let pem = encode("CERTIFICATE", &data);
        let mut noisy = b"garbage before\n".to_vec();
        noisy.extend_from_slice(&pem);
        noisy.extend_from_slice(b"trailing");
        let block = decode_first(&noisy).unwrap();
        assert_eq!(block.label, "CERTIFICATE");
        assert_eq!(block.contents, data);
    }

    #[test]
    fn rejects_mismatched_end_and_bad_base64() {
        assert!(decode_first(b"-----BEGIN A-----\nAAAA\n-----END B-----\n").is_none());
        assert!(decode_first(b"-----BEGIN A-----\n!!!!\n-----END A-----\n").is_none());
        assert!(decode_first(b"no pem here").is_none());
    }

    #[test]
    fn skips_a_broken_block_and_takes_the_next() {
        let good = encode("CERTIFICATE", b"hello");
        let mut data = b"-----BEGIN X-----\n%%%\n".to_vec();
        data.extend_from_slice(&good);
        assert_eq!(decode_first(&data).unwrap().contents, b"hello");
    }
}
