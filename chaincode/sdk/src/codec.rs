//! The byte layout of structured values crossing the ABI (docs/chaincode-abi.md, "Encoding"):
//! little-endian integers and `u32`-length-prefixed byte strings.

/// Reads an encoded host result. Every read is checked; a short buffer is an error, not a panic.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.buf.len() < n {
            return Err(String::from("host result is truncated"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn i32(&mut self) -> Result<i32, String> {
        Ok(self.u32()? as i32)
    }

    pub fn i64(&mut self) -> Result<i64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_le_bytes(a))
    }

    pub fn bytes(&mut self) -> Result<Vec<u8>, String> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }

    pub fn string(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?)
            .map_err(|_| String::from("host result holds a string that is not UTF-8"))
    }

    /// A count followed by that many items. The count is checked against the bytes left so a
    /// corrupt count cannot make us reserve huge vectors.
    pub fn count(&mut self, min_item_bytes: usize) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item_bytes) > self.buf.len() {
            return Err(String::from("host result has an impossible item count"));
        }
        Ok(n)
    }

    pub fn finish(&self) -> Result<(), String> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(String::from("host result has trailing bytes"))
        }
    }
}

/// Encodes a list of byte strings (the argument list of `invoke_chaincode`).
pub fn encode_list(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + items.iter().map(|i| 4 + i.len()).sum::<usize>());
    out.extend_from_slice(&(items.len() as u32).to_le_bytes());
    for item in items {
        out.extend_from_slice(&(item.len() as u32).to_le_bytes());
        out.extend_from_slice(item);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_round_trips() {
        let items = vec![b"a".to_vec(), Vec::new(), b"xyz".to_vec()];
        let buf = encode_list(&items);
        let mut r = Reader::new(&buf);
        let n = r.count(4).unwrap();
        let got: Vec<Vec<u8>> = (0..n).map(|_| r.bytes().unwrap()).collect();
        r.finish().unwrap();
        assert_eq!(got, items);
    }

    #[test]
    fn truncated_and_lying_counts_are_errors() {
        assert!(Reader::new(&[1, 0]).u32().is_err());
        assert!(Reader::new(&[0xff, 0xff, 0xff, 0xff]).count(4).is_err());
        assert!(Reader::new(&[5, 0, 0, 0, b'a']).bytes().is_err());
    }
}
