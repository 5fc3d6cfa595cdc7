//! A minimal DER writer: just the tags X.509 certificates and Fabric's block header hash need.
//!
//! Certificates are assembled by hand rather than through OpenSSL's builder so that every
//! byte (name encoding, extension order, which extensions appear) matches what Go's
//! `crypto/x509` writes for Fabric's cryptogen.

pub const TAG_BOOLEAN: u8 = 0x01;
pub const TAG_INTEGER: u8 = 0x02;
pub const TAG_BIT_STRING: u8 = 0x03;
pub const TAG_OCTET_STRING: u8 = 0x04;
pub const TAG_OID: u8 = 0x06;
pub const TAG_UTF8_STRING: u8 = 0x0c;
pub const TAG_PRINTABLE_STRING: u8 = 0x13;
pub const TAG_UTC_TIME: u8 = 0x17;
pub const TAG_GENERALIZED_TIME: u8 = 0x18;
pub const TAG_SEQUENCE: u8 = 0x30;
pub const TAG_SET: u8 = 0x31;

/// Encodes one TLV with a definite length.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

pub fn sequence(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(TAG_SEQUENCE, &parts.concat())
}

/// A SET OF, with its elements in DER order (sorted by their encodings).
pub fn set_of(mut parts: Vec<Vec<u8>>) -> Vec<u8> {
    parts.sort();
    tlv(TAG_SET, &parts.concat())
}

/// An INTEGER from unsigned big-endian magnitude bytes.
pub fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = match magnitude.iter().position(|b| *b != 0) {
        Some(first) => &magnitude[first..],
        None => &[],
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(TAG_INTEGER, &content)
}

pub fn small_integer(value: i64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        let redundant = (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    tlv(TAG_INTEGER, &bytes[start..])
}

pub fn boolean(value: bool) -> Vec<u8> {
    tlv(TAG_BOOLEAN, &[if value { 0xff } else { 0 }])
}

pub fn octet_string(content: &[u8]) -> Vec<u8> {
    tlv(TAG_OCTET_STRING, content)
}

/// A BIT STRING whose content is whole bytes with `unused_bits` trailing bits unused.
pub fn bit_string(unused_bits: u8, content: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(content.len() + 1);
    body.push(unused_bits);
    body.extend_from_slice(content);
    tlv(TAG_BIT_STRING, &body)
}

/// An OBJECT IDENTIFIER from its arcs (the first two arcs must be valid X.660 arcs).
pub fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut push_arc = |mut v: u64| {
        let mut tmp = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        tmp.reverse();
        body.extend_from_slice(&tmp);
    };
    if let [first, second, rest @ ..] = arcs {
        push_arc(first * 40 + second);
        for arc in rest {
            push_arc(*arc);
        }
    }
    tlv(TAG_OID, &body)
}

/// Context-specific tag number `n` (constructed when `constructed`).
pub fn context(n: u8, constructed: bool, content: &[u8]) -> Vec<u8> {
    let tag = 0x80 | if constructed { 0x20 } else { 0 } | n;
    tlv(tag, content)
}

/// Whether Go's `encoding/asn1` would write `s` as a PrintableString (it falls back to
/// UTF8String otherwise). Asterisk and ampersand are not printable there.
pub fn is_printable(s: &str) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b' ' | b'\'' | b'(' | b')' | b'+' | b',' | b'-' | b'.' | b'/' | b':' | b'=' | b'?'
            )
    })
}

/// A string attribute value encoded the way Go picks its string type.
pub fn go_string(s: &str) -> Vec<u8> {
    let tag = if is_printable(s) {
        TAG_PRINTABLE_STRING
    } else {
        TAG_UTF8_STRING
    };
    tlv(tag, s.as_bytes())
}

/// Civil date and time (UTC) from seconds since the Unix epoch.
pub fn civil_from_unix(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

/// An X.509 Time: UTCTime for years 1950..2050, GeneralizedTime otherwise (RFC 5280 4.1.2.5).
pub fn x509_time(unix_secs: i64) -> Vec<u8> {
    let (y, mo, d, h, mi, s) = civil_from_unix(unix_secs);
    if (1950..2050).contains(&y) {
        let text = format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z", y % 100);
        tlv(TAG_UTC_TIME, text.as_bytes())
    } else {
        let text = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z");
        tlv(TAG_GENERALIZED_TIME, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_minimal() {
        assert_eq!(small_integer(0), [0x02, 0x01, 0x00]);
        assert_eq!(small_integer(127), [0x02, 0x01, 0x7f]);
        assert_eq!(small_integer(128), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(small_integer(-1), [0x02, 0x01, 0xff]);
        assert_eq!(unsigned_integer(&[0, 0, 0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(unsigned_integer(&[0, 0x01]), [0x02, 0x01, 0x01]);
    }

    #[test]
    fn long_lengths_use_long_form() {
        let encoded = tlv(TAG_OCTET_STRING, &[0u8; 300]);
        assert_eq!(&encoded[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn oid_matches_known_encoding() {
        // id-ecPublicKey 1.2.840.10045.2.1
        assert_eq!(
            oid(&[1, 2, 840, 10045, 2, 1]),
            [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]
        );
    }

    #[test]
    fn times_pick_utc_or_generalized() {
        assert_eq!(x509_time(0), tlv(TAG_UTC_TIME, b"700101000000Z"));
        // 2050-01-01T00:00:00Z
        assert_eq!(
            x509_time(2_524_608_000),
            tlv(TAG_GENERALIZED_TIME, b"20500101000000Z")
        );
        assert_eq!(civil_from_unix(951_782_400), (2000, 2, 29, 0, 0, 0));
    }

    #[test]
    fn string_type_follows_go() {
        assert_eq!(go_string("ca.org1")[0], TAG_PRINTABLE_STRING);
        assert_eq!(go_string("Admin@org1")[0], TAG_UTF8_STRING);
        assert_eq!(go_string("a*b")[0], TAG_UTF8_STRING);
    }
}
