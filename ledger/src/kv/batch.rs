//! The update batch a block's valid transactions produce, applied to state atomically.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::Height;

/// The value of a state entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionedValue {
    /// Never empty: Fabric treats a write of an empty value as a delete.
    pub value: Vec<u8>,
    /// Serialized `kvrwset.KVMetadataWrite` holding the key's metadata entries, if any.
    pub metadata: Option<Vec<u8>>,
    pub version: Height,
}

/// One change in an [`UpdateBatch`]: a put (`value` is `Some`) or a delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchEntry {
    pub value: Option<Vec<u8>>,
    pub metadata: Option<Vec<u8>>,
    pub version: Height,
}

impl BatchEntry {
    pub fn is_delete(&self) -> bool {
        self.value.is_none()
    }

    /// The entry as a stored value, or `None` for a delete.
    pub fn to_versioned(&self) -> Option<VersionedValue> {
        self.value.as_ref().map(|value| VersionedValue {
            value: value.clone(),
            metadata: self.metadata.clone(),
            version: self.version,
        })
    }
}

/// Keys of one namespace (or one collection) mapped to their latest change.
pub type KeyUpdates = BTreeMap<Vec<u8>, BatchEntry>;

/// Public writes, hashed private-collection writes and private writes of a block, latest change
/// per key. Only the first two enter the commit hash.
///
/// Keys are bytes: public and private keys are the UTF-8 key, hashed keys the SHA-256 of the
/// private key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateBatch {
    public: BTreeMap<String, KeyUpdates>,
    hashed: BTreeMap<String, BTreeMap<String, KeyUpdates>>,
    private: BTreeMap<String, BTreeMap<String, KeyUpdates>>,
}

/// The state namespace under which Fabric keeps the hashes of collection `coll` of `ns`
/// (F25 privacyenabledstate/db.go); the stores use the same naming.
pub fn hashed_namespace(ns: &str, coll: &str) -> String {
    format!("{ns}$$h{coll}")
}

/// The state namespace under which Fabric keeps the private values of collection `coll` of
/// `ns` (F25 privacyenabledstate/db.go).
pub fn private_namespace(ns: &str, coll: &str) -> String {
    format!("{ns}$$p{coll}")
}

impl UpdateBatch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.public.is_empty() && self.hashed.is_empty() && self.private.is_empty()
    }

    pub fn put_public(&mut self, ns: &str, key: &[u8], entry: BatchEntry) {
        self.public
            .entry(ns.to_owned())
            .or_default()
            .insert(key.to_vec(), entry);
    }

    pub fn put_hashed(&mut self, ns: &str, coll: &str, key_hash: &[u8], entry: BatchEntry) {
        self.hashed
            .entry(ns.to_owned())
            .or_default()
            .entry(coll.to_owned())
            .or_default()
            .insert(key_hash.to_vec(), entry);
    }

    pub fn put_private(&mut self, ns: &str, coll: &str, key: &[u8], entry: BatchEntry) {
        self.private
            .entry(ns.to_owned())
            .or_default()
            .entry(coll.to_owned())
            .or_default()
            .insert(key.to_vec(), entry);
    }

    pub fn get_private(&self, ns: &str, coll: &str, key: &[u8]) -> Option<&BatchEntry> {
        self.private.get(ns)?.get(coll)?.get(key)
    }

    /// Private updates by namespace, then collection, then key.
    pub fn private(&self) -> &BTreeMap<String, BTreeMap<String, KeyUpdates>> {
        &self.private
    }

    pub fn get_public(&self, ns: &str, key: &[u8]) -> Option<&BatchEntry> {
        self.public.get(ns)?.get(key)
    }

    pub fn get_hashed(&self, ns: &str, coll: &str, key_hash: &[u8]) -> Option<&BatchEntry> {
        self.hashed.get(ns)?.get(coll)?.get(key_hash)
    }

    /// Public namespaces and their updates, namespaces and keys in byte order.
    pub fn public(&self) -> &BTreeMap<String, KeyUpdates> {
        &self.public
    }

    /// Hashed updates by namespace, then collection, then key hash, all in byte order.
    pub fn hashed(&self) -> &BTreeMap<String, BTreeMap<String, KeyUpdates>> {
        &self.hashed
    }

    /// Public changes of `ns` with `start <= key < end` in key order, deletes included; an empty
    /// `end` means no upper bound (as in Fabric's range queries).
    pub fn public_range<'a>(
        &'a self,
        ns: &str,
        start: &[u8],
        end: &[u8],
    ) -> impl Iterator<Item = (&'a Vec<u8>, &'a BatchEntry)> + 'a {
        let upper = if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(end.to_vec())
        };
        let valid = end.is_empty() || start < end;
        let lower = Bound::Included(start.to_vec());
        self.public
            .get(ns)
            .filter(|_| valid)
            .into_iter()
            .flat_map(move |keys| keys.range((lower.clone(), upper.clone())))
    }

    /// Every change as (state namespace, key, entry), hashed ones under [`hashed_namespace`],
    /// private ones under [`private_namespace`].
    pub fn state_changes(&self) -> impl Iterator<Item = (String, &Vec<u8>, &BatchEntry)> + '_ {
        let public = self
            .public
            .iter()
            .flat_map(|(ns, keys)| keys.iter().map(move |(k, e)| (ns.clone(), k, e)));
        let hashed = self.hashed.iter().flat_map(|(ns, colls)| {
            colls.iter().flat_map(move |(coll, keys)| {
                let state_ns = hashed_namespace(ns, coll);
                keys.iter().map(move |(k, e)| (state_ns.clone(), k, e))
            })
        });
        let private = self.private.iter().flat_map(|(ns, colls)| {
            colls.iter().flat_map(move |(coll, keys)| {
                let state_ns = private_namespace(ns, coll);
                keys.iter().map(move |(k, e)| (state_ns.clone(), k, e))
            })
        });
        public.chain(hashed).chain(private)
    }
}
