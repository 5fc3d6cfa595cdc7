//! Encodings of structured values crossing the host ABI (docs/chaincode-abi.md, "Encoding"):
//! little-endian integers and `u32`-length-prefixed byte strings.

use std::collections::BTreeMap;

use weft_chaincode_api::{KeyModification, KeyValue, RangePage, Response};

/// Builds one encoded result.
#[derive(Default)]
pub(crate) struct Encoder {
    out: Vec<u8>,
}

impl Encoder {
    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(crate) fn i32(&mut self, v: i32) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(crate) fn i64(&mut self, v: i64) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.out.push(v);
        self
    }

    /// A length-prefixed byte string. Host results are bounded far below 4 GiB by
    /// `max_result_bytes`, and the caller checks the total size, so saturating is only a guard.
    pub(crate) fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.out.extend_from_slice(v);
        self
    }

    pub(crate) fn count(&mut self, n: usize) -> &mut Self {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX))
    }

    pub(crate) fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

pub(crate) fn list(items: &[Vec<u8>]) -> Vec<u8> {
    let mut e = Encoder::default();
    e.count(items.len());
    for item in items {
        e.bytes(item);
    }
    e.finish()
}

pub(crate) fn map(entries: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut e = Encoder::default();
    e.count(entries.len());
    for (name, value) in entries {
        e.bytes(name.as_bytes()).bytes(value);
    }
    e.finish()
}

fn key_values(e: &mut Encoder, items: &[KeyValue]) {
    e.count(items.len());
    for kv in items {
        e.bytes(kv.key.as_bytes()).bytes(&kv.value);
    }
}

pub(crate) fn key_value_list(items: &[KeyValue]) -> Vec<u8> {
    let mut e = Encoder::default();
    key_values(&mut e, items);
    e.finish()
}

pub(crate) fn range_page(page: &RangePage) -> Vec<u8> {
    let mut e = Encoder::default();
    e.u32(page.fetched_records_count)
        .bytes(page.bookmark.as_bytes());
    key_values(&mut e, &page.items);
    e.finish()
}

pub(crate) fn history(changes: &[KeyModification]) -> Vec<u8> {
    let mut e = Encoder::default();
    e.count(changes.len());
    for c in changes {
        e.bytes(c.tx_id.as_bytes())
            .bytes(&c.value)
            .i64(c.timestamp_seconds)
            .i32(c.timestamp_nanos)
            .u8(u8::from(c.is_delete));
    }
    e.finish()
}

pub(crate) fn response(r: &Response) -> Vec<u8> {
    let mut e = Encoder::default();
    e.i32(r.status)
        .bytes(r.message.as_bytes())
        .bytes(&r.payload);
    e.finish()
}

pub(crate) fn timestamp(seconds: i64, nanos: i32) -> Vec<u8> {
    let mut e = Encoder::default();
    e.i64(seconds).i32(nanos);
    e.finish()
}

/// Decodes a guest-supplied list of byte strings (the arguments of `invoke_chaincode`).
pub(crate) fn decode_list(buf: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut rest = buf;
    let count = read_u32(&mut rest)? as usize;
    // Each item needs at least its 4-byte length, so a lying count cannot reserve much.
    if count > rest.len() / 4 {
        return Err(format!(
            "argument list claims {count} items in {} bytes",
            buf.len()
        ));
    }
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        let len = read_u32(&mut rest)? as usize;
        if len > rest.len() {
            return Err("argument list is truncated".to_owned());
        }
        let (item, tail) = rest.split_at(len);
        items.push(item.to_vec());
        rest = tail;
    }
    if !rest.is_empty() {
        return Err("argument list has trailing bytes".to_owned());
    }
    Ok(items)
}

fn read_u32(rest: &mut &[u8]) -> Result<u32, String> {
    let (head, tail) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| "argument list is truncated".to_owned())?;
    *rest = tail;
    Ok(u32::from_le_bytes(*head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_round_trips_and_rejects_lies() {
        let items = vec![b"f".to_vec(), Vec::new(), b"xyz".to_vec()];
        assert_eq!(decode_list(&list(&items)).unwrap(), items);
        assert!(decode_list(&[0xff, 0xff, 0xff, 0x7f]).is_err());
        assert!(decode_list(&[1, 0, 0, 0, 9, 0, 0, 0, b'a']).is_err());
        let mut trailing = list(&items);
        trailing.push(0);
        assert!(decode_list(&trailing).is_err());
        assert!(decode_list(&[1, 0]).is_err());
    }

    #[test]
    fn range_page_layout_is_as_documented() {
        let page = RangePage {
            items: vec![KeyValue {
                key: "k".into(),
                value: b"v".to_vec(),
            }],
            bookmark: "b".into(),
            fetched_records_count: 1,
        };
        assert_eq!(
            range_page(&page),
            [
                &[1, 0, 0, 0][..],
                &[1, 0, 0, 0, b'b'],
                &[1, 0, 0, 0],
                &[1, 0, 0, 0, b'k'],
                &[1, 0, 0, 0, b'v']
            ]
            .concat()
        );
    }
}
