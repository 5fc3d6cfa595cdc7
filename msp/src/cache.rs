//! A bounded map with second-chance eviction (the policy of Fabric's MSP cache): a hit marks
//! an entry, and eviction skips marked entries once, clearing the mark.

use std::collections::HashMap;
use std::sync::Mutex;

/// Deserialized identities kept per MSP. Verification is the hot path and the same few
/// creators sign most transactions, so a small cache absorbs nearly all lookups.
pub const IDENTITY_CACHE_ENTRIES_MAX: usize = 1024;

struct Slot<V> {
    key: Vec<u8>,
    value: V,
    referenced: bool,
}

struct Inner<V> {
    index: HashMap<Vec<u8>, usize>,
    slots: Vec<Slot<V>>,
    hand: usize,
}

pub struct SecondChanceCache<V> {
    capacity: usize,
    inner: Mutex<Inner<V>>,
}

impl<V: Clone> SecondChanceCache<V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                index: HashMap::new(),
                slots: Vec::new(),
                hand: 0,
            }),
        }
    }

    pub fn get(&self, key: &[u8]) -> Option<V> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let i = *inner.index.get(key)?;
        let slot = &mut inner.slots[i];
        slot.referenced = true;
        Some(slot.value.clone())
    }

    pub fn insert(&self, key: Vec<u8>, value: V) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&i) = inner.index.get(&key) {
            inner.slots[i].value = value;
            return;
        }
        if inner.slots.len() < self.capacity {
            let i = inner.slots.len();
            inner.index.insert(key.clone(), i);
            inner.slots.push(Slot {
                key,
                value,
                referenced: false,
            });
            return;
        }
        loop {
            let hand = inner.hand;
            inner.hand = (hand + 1) % self.capacity;
            let slot = &mut inner.slots[hand];
            if slot.referenced {
                slot.referenced = false;
                continue;
            }
            let old = std::mem::replace(
                slot,
                Slot {
                    key: key.clone(),
                    value,
                    referenced: false,
                },
            );
            inner.index.remove(&old.key);
            inner.index.insert(key, hand);
            return;
        }
    }

    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .slots
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_keeps_referenced_entries() {
        let cache = SecondChanceCache::new(3);
        for k in 0u8..3 {
            cache.insert(vec![k], k);
        }
        assert_eq!(cache.get(&[0]), Some(0));
        cache.insert(vec![3], 3);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&[0]), Some(0), "referenced entry survives");
        assert_eq!(cache.get(&[1]), None, "unreferenced entry evicted");
        for k in 10u8..100 {
            cache.insert(vec![k], k);
        }
        assert_eq!(cache.len(), 3);
    }
}
