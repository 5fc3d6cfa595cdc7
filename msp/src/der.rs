//! The few DER structures the MSP reads or rewrites by hand: ECDSA signature values and the
//! outer `Certificate` SEQUENCE (to swap in a low-S signature, as Fabric's certificate
//! sanitizing does).
//!
//! Parsing follows Go's `encoding/asn1` as Fabric's `UnmarshalECDSASignature` uses it:
//! strict DER lengths and minimal INTEGERs, but bytes after the SEQUENCE (and after the two
//! INTEGERs inside it) are ignored. Matching that leniency keeps Weft and Go peers agreeing
//! on which signatures are well formed.

use openssl::bn::BigNum;

/// ECDSA signatures over the curves Fabric supports are far below this.
pub const ECDSA_SIGNATURE_BYTES_MAX: usize = 256;

/// One DER TLV: its tag, its contents, and the whole encoding.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub contents: &'a [u8],
    pub encoded: &'a [u8],
}

/// Reads one TLV from the front of `data`, returning it and the remaining bytes.
pub fn read_tlv(data: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *data.first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers never occur in the structures read here
    }
    let first_len = *data.get(1)?;
    let (len, header) = if first_len < 0x80 {
        (usize::from(first_len), 2)
    } else {
        let count = usize::from(first_len & 0x7f);
        if count == 0 || count > 4 {
            return None; // indefinite length, or longer than anything sane
        }
        let bytes = data.get(2..2 + count)?;
        if bytes[0] == 0 {
            return None; // non-minimal long form
        }
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        if len < 0x80 {
            return None; // long form where the short form fits
        }
        (len, 2 + count)
    };
    let end = header.checked_add(len)?;
    let contents = data.get(header..end)?;
    Some((
        Tlv {
            tag,
            contents,
            encoded: &data[..end],
        },
        &data[end..],
    ))
}

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_SEQUENCE: u8 = 0x30;

/// An ECDSA signature's (r, s), both strictly positive.
#[derive(Debug)]
pub struct EcdsaRs {
    pub r: BigNum,
    pub s: BigNum,
}

/// Parses an ECDSA signature as Fabric's bccsp does, rejecting non-positive r or s.
pub fn parse_ecdsa_signature(raw: &[u8]) -> Result<EcdsaRs, String> {
    if raw.len() > ECDSA_SIGNATURE_BYTES_MAX {
        return Err(format!(
            "signature is {} bytes, too long for ECDSA",
            raw.len()
        ));
    }
    let (seq, _trailing) = read_tlv(raw).ok_or("signature is not valid DER")?;
    if seq.tag != TAG_SEQUENCE {
        return Err("signature is not a DER SEQUENCE".into());
    }
    let (r, rest) = read_integer(seq.contents)?;
    let (s, _extra) = read_integer(rest)?;
    if !is_positive(r) {
        return Err("invalid signature, R must be larger than zero".into());
    }
    if !is_positive(s) {
        return Err("invalid signature, S must be larger than zero".into());
    }
    let to_bn = |v: &[u8]| BigNum::from_slice(v).map_err(|e| e.to_string());
    Ok(EcdsaRs {
        r: to_bn(r)?,
        s: to_bn(s)?,
    })
}

fn read_integer(data: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let (tlv, rest) = read_tlv(data).ok_or("signature integer is not valid DER")?;
    if tlv.tag != TAG_INTEGER {
        return Err("signature component is not an INTEGER".into());
    }
    let v = tlv.contents;
    match v {
        [] => return Err("empty INTEGER in signature".into()),
        [0x00, next, ..] if next & 0x80 == 0 => {
            return Err("INTEGER in signature is not minimally encoded".into());
        }
        [0xff, next, ..] if next & 0x80 != 0 => {
            return Err("INTEGER in signature is not minimally encoded".into());
        }
        _ => {}
    }
    Ok((v, rest))
}

fn is_positive(v: &[u8]) -> bool {
    v[0] & 0x80 == 0 && v.iter().any(|&b| b != 0)
}

/// Encodes (r, s) as Go's `asn1.Marshal` does: a SEQUENCE of two minimal INTEGERs.
pub fn encode_ecdsa_signature(r: &BigNum, s: &BigNum) -> Vec<u8> {
    let mut body = encode_unsigned_integer(&r.to_vec());
    body.extend(encode_unsigned_integer(&s.to_vec()));
    encode_tlv(TAG_SEQUENCE, &body)
}

fn encode_unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let start = magnitude
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(magnitude.len());
    let mut v = magnitude[start..].to_vec();
    if v.first().is_none_or(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    encode_tlv(TAG_INTEGER, &v)
}

fn encode_tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// The three parts of an X.509 `Certificate` SEQUENCE.
pub struct CertificateParts<'a> {
    pub tbs: &'a [u8],
    pub signature_algorithm: &'a [u8],
    pub signature: &'a [u8],
}

/// Splits a DER certificate into its TBS, algorithm and signature value.
pub fn split_certificate(der: &[u8]) -> Option<CertificateParts<'_>> {
    let (outer, _) = read_tlv(der)?;
    if outer.tag != TAG_SEQUENCE {
        return None;
    }
    let (tbs, rest) = read_tlv(outer.contents)?;
    let (alg, rest) = read_tlv(rest)?;
    let (sig, _) = read_tlv(rest)?;
    if sig.tag != TAG_BIT_STRING || sig.contents.first() != Some(&0) {
        return None;
    }
    Some(CertificateParts {
        tbs: tbs.encoded,
        signature_algorithm: alg.encoded,
        signature: &sig.contents[1..],
    })
}

/// Re-encodes a certificate with `signature` in place of its signature value.
pub fn replace_certificate_signature(parts: &CertificateParts<'_>, signature: &[u8]) -> Vec<u8> {
    let mut bit_string = vec![0u8];
    bit_string.extend_from_slice(signature);
    let mut body = parts.tbs.to_vec();
    body.extend_from_slice(parts.signature_algorithm);
    body.extend(encode_tlv(TAG_BIT_STRING, &bit_string));
    encode_tlv(TAG_SEQUENCE, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bn(v: u32) -> BigNum {
        BigNum::from_u32(v).unwrap()
    }

    #[test]
    fn signature_round_trip_and_go_leniency() {
        let sig = encode_ecdsa_signature(&bn(0x80), &bn(5));
        assert_eq!(sig, [0x30, 7, 2, 2, 0, 0x80, 2, 1, 5]);
        let parsed = parse_ecdsa_signature(&sig).unwrap();
        assert_eq!(parsed.r, bn(0x80));
        // Go's asn1.Unmarshal ignores bytes after the SEQUENCE.
        let mut trailing = sig.clone();
        trailing.push(0xAA);
        assert!(parse_ecdsa_signature(&trailing).is_ok());
    }

    #[test]
    fn rejects_malformed_signatures() {
        let cases: &[&[u8]] = &[
            &[],
            &[0x30],
            &[0x30, 0x80, 2, 1, 1, 2, 1, 1, 0, 0], // indefinite length
            &[0x30, 6, 2, 1, 0, 2, 1, 1],          // r = 0
            &[0x30, 6, 2, 1, 1, 2, 1, 0xff],       // s negative
            &[0x30, 7, 2, 2, 0, 1, 2, 1, 1],       // non-minimal r
            &[0x30, 0x81, 6, 2, 1, 1, 2, 1, 1],    // non-minimal length
            &[0x31, 6, 2, 1, 1, 2, 1, 1],          // SET, not SEQUENCE
            &[0x30, 6, 2, 1, 1, 2, 5, 1],          // truncated
        ];
        for case in cases {
            assert!(parse_ecdsa_signature(case).is_err(), "{case:x?}");
        }
    }
}
