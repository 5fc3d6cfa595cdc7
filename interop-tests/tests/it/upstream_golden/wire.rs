//! Byte-level comparison of an upstream encoding with our re-encoding.
//!
//! Go's `proto.Marshal` (which Fabric's tools call without the deterministic option) writes map
//! entries in Go's randomised map iteration order, while our maps are `BTreeMap`s and always come
//! out sorted by key. So a message with a map field cannot be expected to re-encode to the very
//! bytes Go wrote, and for a config tree with a dozen maps it almost never will.
//!
//! What we can demand, and what still fails on any real difference, is this: take the upstream
//! bytes, and, without decoding anything into our types, only move each map field's entry
//! records into key order (at every depth, since map values and nested messages have maps of
//! their own). Every other byte stays where Go put it. Our re-encoding must then be identical to
//! that, byte for byte. This is the same as saying: the non-map fields are identical and in the
//! same order, and each map holds the same multiset of entries, each entry identical byte for
//! byte. When Go happened to write the maps in key order already (or the message has no maps),
//! the canonical form *is* the upstream encoding and the check is plain byte equality.
//!
//! One more encoder difference is normalised, and only inside map entries: Go always writes an
//! entry's key and value fields, even when they hold the default (an empty `Capability` message
//! comes out as `12 00`), while prost leaves default keys and values out, as proto3 does for
//! ordinary fields. Both decode to the same map. So a key or value field holding its default
//! (empty length-delimited contents, or a zero number) is dropped from upstream's entries before
//! comparing. Nothing outside map entries is touched.
//!
//! Which fields are maps or messages comes from our compiled descriptors; the conformance test
//! pins those against upstream's, so the reordering cannot paper over a schema mismatch.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};

/// Nesting deeper than this is treated as malformed rather than followed (Fabric configs nest a
/// handful of levels).
const DEPTH_MAX: usize = 64;

pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(fabric_protos::FILE_DESCRIPTOR_SET)
            .expect("fabric_protos::FILE_DESCRIPTOR_SET does not load into prost-reflect")
    })
}

pub fn descriptor(full_name: &str) -> MessageDescriptor {
    pool()
        .get_message_by_name(full_name)
        .unwrap_or_else(|| panic!("no message {full_name}"))
}

/// One top-level field record of an encoded message.
struct Record<'a> {
    number: u32,
    /// The tag varint as written.
    tag: &'a [u8],
    /// For length-delimited records the contents (without the length prefix).
    contents: Option<&'a [u8]>,
    /// The whole record: tag, length prefix if any, and value.
    raw: &'a [u8],
}

fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint longer than 10 bytes".into())
}

fn records(buf: &[u8]) -> Result<Vec<Record<'_>>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let start = pos;
        let key = read_varint(buf, &mut pos)?;
        let tag_end = pos;
        let number = u32::try_from(key >> 3).map_err(|_| "field number out of range")?;
        let contents = match key & 7 {
            0 => {
                read_varint(buf, &mut pos)?;
                None
            }
            1 => {
                pos += 8;
                None
            }
            2 => {
                let len =
                    usize::try_from(read_varint(buf, &mut pos)?).map_err(|e| e.to_string())?;
                let end = pos.checked_add(len).ok_or("length overflow")?;
                let contents = buf
                    .get(pos..end)
                    .ok_or("truncated length-delimited field")?;
                pos = end;
                Some(contents)
            }
            5 => {
                pos += 4;
                None
            }
            other => return Err(format!("wire type {other} (groups) not expected in Fabric")),
        };
        let raw = buf.get(start..pos).ok_or("truncated fixed-width field")?;
        out.push(Record {
            number,
            tag: &buf[start..tag_end],
            contents,
            raw,
        });
    }
    Ok(out)
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// `encoded` with every map's entries in key order, recursively; see the module docs.
pub fn canonical(encoded: &[u8], message: &MessageDescriptor) -> Result<Vec<u8>, String> {
    canonical_at(encoded, message, 0)
}

fn canonical_at(
    encoded: &[u8],
    message: &MessageDescriptor,
    depth: usize,
) -> Result<Vec<u8>, String> {
    if depth > DEPTH_MAX {
        return Err(format!("nested deeper than {DEPTH_MAX} levels"));
    }
    let records = records(encoded).map_err(|e| format!("{}: {e}", message.full_name()))?;
    // Each record re-encoded (recursing into message-typed fields), with its sort key if it is a
    // map entry.
    let mut rebuilt: Vec<(Vec<u8>, Option<String>)> = Vec::with_capacity(records.len());
    for record in &records {
        let field = message.get_field(record.number);
        let (Some(field), Some(contents)) = (field, record.contents) else {
            rebuilt.push((record.raw.to_vec(), None));
            continue;
        };
        let Kind::Message(inner) = field.kind() else {
            rebuilt.push((record.raw.to_vec(), None));
            continue;
        };
        let mut inner_bytes = canonical_at(contents, &inner, depth + 1)?;
        if field.is_map() {
            inner_bytes = without_default_key_and_value(&inner_bytes)?;
        }
        let mut bytes = record.tag.to_vec();
        put_varint(&mut bytes, inner_bytes.len() as u64);
        bytes.extend_from_slice(&inner_bytes);
        let key = if field.is_map() {
            Some(map_key(contents, &inner)?)
        } else {
            None
        };
        rebuilt.push((bytes, key));
    }
    // Sort the entries of each map among the positions that map's entries occupy.
    let mut numbers: Vec<u32> = records.iter().map(|r| r.number).collect();
    numbers.dedup();
    for number in numbers {
        let positions: Vec<usize> = (0..records.len())
            .filter(|&i| records[i].number == number && rebuilt[i].1.is_some())
            .collect();
        let mut entries: Vec<(Vec<u8>, Option<String>)> =
            positions.iter().map(|&i| rebuilt[i].clone()).collect();
        entries.sort_by(|a, b| a.1.cmp(&b.1));
        for (slot, entry) in positions.into_iter().zip(entries) {
            rebuilt[slot] = entry;
        }
    }
    Ok(rebuilt.into_iter().flat_map(|(bytes, _)| bytes).collect())
}

/// A map entry without key or value fields that hold their default value.
fn without_default_key_and_value(entry: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(entry.len());
    for record in records(entry)? {
        let is_default = match record.contents {
            Some(contents) => contents.is_empty(),
            None => record.raw[record.tag.len()..].iter().all(|&b| b == 0),
        };
        if !(is_default && (record.number == 1 || record.number == 2)) {
            out.extend_from_slice(record.raw);
        }
    }
    Ok(out)
}

/// The key of an encoded map entry. Fabric's maps are all keyed by strings; an absent key field
/// means the empty string.
fn map_key(entry: &[u8], entry_descriptor: &MessageDescriptor) -> Result<String, String> {
    let key_field = entry_descriptor.map_entry_key_field();
    if key_field.kind() != Kind::String {
        return Err(format!(
            "{}: only string map keys are handled",
            entry_descriptor.full_name()
        ));
    }
    let mut key = String::new();
    for record in records(entry)? {
        if record.number == 1 {
            let contents = record.contents.ok_or("map key is not length-delimited")?;
            key = String::from_utf8(contents.to_vec()).map_err(|e| e.to_string())?;
        }
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use fabric_protos::common::{ConfigGroup, ConfigValue};
    use prost::Message;

    use super::*;

    fn group_with_values(names: &[&str]) -> ConfigGroup {
        let values: BTreeMap<String, ConfigValue> = names
            .iter()
            .map(|n| {
                let value = ConfigValue {
                    version: 1,
                    value: n.as_bytes().to_vec(),
                    mod_policy: "Admins".into(),
                };
                (n.to_string(), value)
            })
            .collect();
        let child = ConfigGroup {
            version: 3,
            values: values.clone(),
            ..Default::default()
        };
        ConfigGroup {
            version: 2,
            groups: [("Child".to_string(), child)].into(),
            values,
            policies: BTreeMap::new(),
            mod_policy: "Admins".into(),
        }
    }

    /// Reverses the order of the map entries in field `number` at the top level.
    fn reverse_entries(encoded: &[u8], number: u32) -> Vec<u8> {
        let records = records(encoded).unwrap();
        let mut picked: Vec<&[u8]> = records
            .iter()
            .filter(|r| r.number == number)
            .map(|r| r.raw)
            .collect();
        picked.reverse();
        let mut picked = picked.into_iter();
        records
            .iter()
            .flat_map(|r| {
                if r.number == number {
                    picked.next().unwrap()
                } else {
                    r.raw
                }
            })
            .copied()
            .collect()
    }

    #[test]
    fn golden_canonical_restores_key_order_of_shuffled_maps() {
        let group = group_with_values(&["A", "B", "C"]);
        let sorted = group.encode_to_vec();
        let shuffled = reverse_entries(&sorted, 3);
        assert_ne!(shuffled, sorted);
        assert_eq!(
            canonical(&shuffled, &descriptor("common.ConfigGroup")).unwrap(),
            sorted
        );
    }

    #[test]
    fn golden_canonical_keeps_real_differences() {
        let ours = group_with_values(&["A", "B", "C"]).encode_to_vec();
        let mut other = group_with_values(&["A", "B", "C"]);
        other.values.get_mut("B").unwrap().version = 9;
        let theirs = reverse_entries(&other.encode_to_vec(), 3);
        assert_ne!(
            canonical(&theirs, &descriptor("common.ConfigGroup")).unwrap(),
            ours
        );
    }

    #[test]
    fn golden_canonical_drops_only_default_keys_and_values_in_map_entries() {
        use fabric_protos::common::{Capabilities, Capability};
        let ours = Capabilities {
            capabilities: [("V2_0".to_string(), Capability::default())].into(),
        }
        .encode_to_vec();
        // As Go writes it: entry = key "V2_0" plus an explicit empty value.
        let go = [&[0x0a, 0x08, 0x0a, 0x04][..], b"V2_0", &[0x12, 0x00]].concat();
        assert_eq!(
            canonical(&go, &descriptor("common.Capabilities")).unwrap(),
            ours
        );
        // A non-default value is kept, so it still shows up as a difference.
        let go_other = [
            &[0x0a, 0x0a, 0x0a, 0x04][..],
            b"V2_0",
            &[0x12, 0x02, 0x08, 0x01],
        ]
        .concat();
        assert_ne!(
            canonical(&go_other, &descriptor("common.Capabilities")).unwrap(),
            ours
        );
    }

    #[test]
    fn golden_canonical_is_identity_without_maps() {
        let value = ConfigValue {
            version: 7,
            value: vec![1, 2, 3],
            mod_policy: "x".into(),
        };
        let bytes = value.encode_to_vec();
        assert_eq!(
            canonical(&bytes, &descriptor("common.ConfigValue")).unwrap(),
            bytes
        );
    }

    #[test]
    fn golden_canonical_rejects_malformed_input() {
        assert!(canonical(&[0x0a, 0x05, 0x01], &descriptor("common.ConfigGroup")).is_err());
        assert!(canonical(&[0x80], &descriptor("common.ConfigGroup")).is_err());
    }
}
