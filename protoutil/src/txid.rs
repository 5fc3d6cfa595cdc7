//! Transaction IDs: hex(SHA-256(nonce || creator)), where creator is the marshalled
//! `msp.SerializedIdentity` of the signer (Fabric's `ComputeTxID`).

/// Computes a transaction ID from the signature header's nonce and creator bytes.
pub fn compute_txid(nonce: &[u8], creator: &[u8]) -> String {
    let mut hasher = openssl::sha::Sha256::new();
    hasher.update(nonce);
    hasher.update(creator);
    hex::encode(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txid_hashes_nonce_then_creator() {
        let id = compute_txid(b"nonce", b"creator");
        assert_eq!(id, hex::encode(crate::sha256(b"noncecreator")));
        assert_ne!(id, compute_txid(b"creator", b"nonce"));
        assert_eq!(id.len(), 64);
    }
}
