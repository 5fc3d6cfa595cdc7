//! Turning a signature set into the identities a policy is evaluated against.
//!
//! Reproduces Fabric's `policies.SignatureSetToValidIdentities`: each signer is deserialized
//! (failures are dropped), repeated signers are dropped *before* their signature is checked
//! (so nobody can make us verify the same identity's signature many times), and only signers
//! whose signature verifies are kept and remembered as seen. A signer whose first signature is
//! bad can therefore still count through a later, good one.

use std::collections::HashSet;
use std::sync::Arc;

use weft_msp::{Identity, IdentityDeserializer};

use crate::api::SignedData;

/// The deduplicated identities whose signatures verify, in signature-set order.
pub fn signature_set_to_valid_identities(
    signed: &[SignedData],
    deserializer: &dyn IdentityDeserializer,
) -> Vec<Arc<dyn Identity>> {
    let mut seen: HashSet<String> = HashSet::with_capacity(signed.len());
    let mut identities: Vec<Arc<dyn Identity>> = Vec::with_capacity(signed.len());
    for item in signed {
        let Ok(identity) = deserializer.deserialize_identity(&item.identity) else {
            continue;
        };
        let key = dedup_key(identity.as_ref());
        if seen.contains(&key) {
            continue;
        }
        if identity.verify(&item.data, &item.signature).is_err() {
            continue;
        }
        seen.insert(key);
        identities.push(identity);
    }
    identities
}

/// Fabric keys its dedup map by the plain concatenation of MSP ID and identity ID (no
/// separator); the same key is used here so that exactly the same signers collapse.
fn dedup_key(identity: &dyn Identity) -> String {
    let identifier = identity.identifier();
    let mut key = String::with_capacity(identifier.msp_id.len() + identifier.id.len());
    key.push_str(&identifier.msp_id);
    key.push_str(&identifier.id);
    key
}
