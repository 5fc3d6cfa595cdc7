//! A scoped worker pool for the per-transaction work of a block (signature checks dominate).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Upper bound on validation threads, whatever the machine reports.
pub const VALIDATION_WORKERS_MAX: usize = 256;

/// The number of workers to use by default: one per available core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(VALIDATION_WORKERS_MAX)
}

/// Applies `f` to every item on up to `workers` threads and returns the results in item
/// order. Items are handed out one at a time, so uneven costs balance out.
pub fn map<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(usize, &T) -> R + Sync,
) -> Vec<R> {
    let workers = workers.clamp(1, VALIDATION_WORKERS_MAX).min(items.len());
    if workers <= 1 {
        return items.iter().enumerate().map(|(i, t)| f(i, t)).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else { break };
                    let result = f(index, item);
                    let mut slots = results.lock().unwrap_or_else(|p| p.into_inner());
                    slots[index] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        // Every index below items.len() was taken by exactly one worker, and a panicking
        // worker propagates out of the scope above, so every slot is filled.
        .map(|r| r.unwrap_or_else(|| unreachable!("validation worker left a slot empty")))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_item_order_with_many_workers() {
        let items: Vec<u64> = (0..1000).collect();
        let out = super::map(&items, 8, |i, x| (i as u64) * 1000 + x * 2);
        assert_eq!(out.len(), 1000);
        for (i, v) in out.iter().enumerate() {
            assert_eq!(*v, i as u64 * 1000 + i as u64 * 2);
        }
        assert!(super::map(&[] as &[u8], 4, |_, x| *x).is_empty());
    }
}
