//! The recent entries of one topic, kept in memory so tailing subscriptions skip storage reads.

use std::{
    collections::VecDeque,
    sync::{Arc, PoisonError, RwLock},
};

use geminga_storage::Entry;

/// A bounded window of the newest durable entries of a topic, oldest first.
///
/// The topic actor appends; its subscriptions read. Both live on the same arbiter thread, so
/// the lock is uncontended; it exists so the window can be shared without copying entries.
#[derive(Clone, Debug)]
pub struct EntryCache {
    inner: Arc<RwLock<Window>>,
}

#[derive(Debug)]
struct Window {
    entries: VecDeque<Entry>,
    bytes: usize,
    max_bytes: usize,
}

/// The outcome of a cache read.
#[derive(Debug, PartialEq)]
pub enum CacheRead {
    /// The requested range starts inside the window; these are its entries (possibly none when
    /// `from` is past the newest entry).
    Hit(Vec<Entry>),
    /// The range starts before the window: read storage.
    Miss,
}

impl EntryCache {
    /// An empty window of at most `max_bytes` payload bytes.
    pub fn new(max_bytes: usize) -> Self {
        let window = Window {
            entries: VecDeque::new(),
            bytes: 0,
            max_bytes,
        };
        Self {
            inner: Arc::new(RwLock::new(window)),
        }
    }

    /// Appends durable entries (in id order) and evicts the oldest beyond the byte budget.
    pub fn push(&self, new_entries: impl IntoIterator<Item = Entry>) {
        let mut w = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        for entry in new_entries {
            w.bytes += entry.data.len();
            w.entries.push_back(entry);
        }
        while w.bytes > w.max_bytes && w.entries.len() > 1 {
            if let Some(old) = w.entries.pop_front() {
                w.bytes -= old.data.len();
            }
        }
    }

    /// Drops everything (after a seek past the window or a topic reload).
    pub fn clear(&self) {
        let mut w = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        w.entries.clear();
        w.bytes = 0;
    }

    /// Entries with id >= `from`, at most `max_entries` of them and about `max_bytes`.
    pub fn read(&self, from: u64, max_entries: usize, max_bytes: usize) -> CacheRead {
        let w = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let Some(first) = w.entries.front().map(|e| e.entry_id) else {
            return CacheRead::Miss;
        };
        if from < first {
            return CacheRead::Miss;
        }
        let skip = usize::try_from(from - first).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut bytes = 0;
        for entry in w.entries.iter().skip(skip) {
            if out.len() >= max_entries || (bytes >= max_bytes && !out.is_empty()) {
                break;
            }
            bytes += entry.data.len();
            out.push(entry.clone());
        }
        CacheRead::Hit(out)
    }

    /// One entry, if it is in the window.
    pub fn get(&self, entry_id: u64) -> Option<Entry> {
        let w = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let first = w.entries.front()?.entry_id;
        let index = usize::try_from(entry_id.checked_sub(first)?).ok()?;
        w.entries.get(index).cloned()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use geminga_storage::EntryMeta;

    use super::*;

    fn entry(id: u64, size: usize) -> Entry {
        Entry {
            entry_id: id,
            meta: EntryMeta::default(),
            data: Bytes::from(vec![0u8; size]),
        }
    }

    #[test]
    fn reads_inside_the_window_hit_and_before_it_miss() {
        let cache = EntryCache::new(1000);
        cache.push((5..10).map(|i| entry(i, 10)));
        assert_eq!(cache.read(4, 10, 1000), CacheRead::Miss);
        let CacheRead::Hit(got) = cache.read(7, 10, 1000) else {
            panic!("expected a hit")
        };
        assert_eq!(
            got.iter().map(|e| e.entry_id).collect::<Vec<_>>(),
            vec![7, 8, 9]
        );
        assert_eq!(cache.read(10, 10, 1000), CacheRead::Hit(vec![]));
        assert_eq!(cache.get(8).map(|e| e.entry_id), Some(8));
        assert!(cache.get(11).is_none());
    }

    #[test]
    fn oldest_entries_are_evicted_beyond_the_budget() {
        let cache = EntryCache::new(25);
        cache.push((0..5).map(|i| entry(i, 10)));
        assert_eq!(cache.read(2, 10, 1000), CacheRead::Miss);
        let CacheRead::Hit(got) = cache.read(3, 10, 1000) else {
            panic!("expected a hit")
        };
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn reads_respect_entry_and_byte_limits() {
        let cache = EntryCache::new(1000);
        cache.push((0..10).map(|i| entry(i, 10)));
        let CacheRead::Hit(got) = cache.read(0, 3, 1000) else {
            panic!("expected a hit")
        };
        assert_eq!(got.len(), 3);
        let CacheRead::Hit(got) = cache.read(0, 100, 25) else {
            panic!("expected a hit")
        };
        assert_eq!(got.len(), 3, "stops once the byte budget is reached");
    }
}
