//! Frees fjall's flushed memtables and replaced table files on a thread of our own.
//!
//! lsm-tree (3.1) forgets superseded tree versions while it holds the tree's version-history
//! write lock (`SuperVersions::maintenance`, run after every flush, compaction and table
//! drop), and every memtable insert takes that lock's read side. The forgotten version was
//! usually the last owner of a flushed memtable (a skiplist of tens of thousands of nodes,
//! 40-140 ms to free at 10k msg/s) or of a table a compaction replaced (a file to unlink),
//! so that work ran under the lock and every fjall commit, and with it every group commit,
//! waited: 12-36 ms per flush in an instrumented run. This thread keeps its own references
//! to each keyspace's memtables and tables while they are live, so the last owner is
//! usually this thread and the freeing happens here with no lock held, a step at a time.
//! Paired 90 s runs at 10k msg/s unbatched: publish p99 17.9 and 16.9 ms with lsm-tree
//! freeing, 9.1 and 7.9 ms with this thread freeing each memtable at once, 4.2 and 5.5 ms
//! freeing it in steps; p99.9 76 and 53, then 24 and 22, then 12 and 15 ms.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fjall::{AbstractTree, Keyspace};
use lsm_tree::{Memtable, Table, TableId};

use super::worker::Worker;
use crate::error::StorageError;

/// How often the live memtables and tables are looked up. A memtable is active for seconds
/// under load and a table lives until a compaction replaces it, so each is seen.
const TICK: Duration = Duration::from_millis(50);

/// How long a table no longer in the tree is kept after it was last seen. The tree forgets
/// the version holding it right after the change that replaced it, unless a reader's
/// snapshot still needs it (then that reader is the last owner and frees it).
const TABLE_HOLD: Duration = Duration::from_secs(2);

/// Tick while a memtable is being freed, and the skiplist nodes freed per pending memtable
/// per tick (~1 µs each): freeing a 16 MiB memtable at once took 40-140 ms of a core at
/// 10k msg/s, and the seconds with one had a publish p99 of 10-30 ms instead of ~2 ms.
const FREE_TICK: Duration = Duration::from_millis(5);
const FREE_STEP_NODES: usize = 1024;

/// Owns the release thread; dropping it stops and joins the thread, which releases every
/// reference before the database is dropped. Nothing is ever sent to it.
pub(super) struct Releaser(#[expect(dead_code, reason = "held to be dropped")] Worker<()>);

impl Releaser {
    /// Starts the thread over `keyspaces`.
    pub(super) fn start(keyspaces: Vec<Keyspace>) -> Result<Self, StorageError> {
        let worker = Worker::ticking("geminga-release", TICK, move || {
            let mut held: Vec<Held> = keyspaces.into_iter().map(Held::new).collect();
            let mut sampled: Option<Instant> = None;
            move || {
                let now = Instant::now();
                let sample = sampled.is_none_or(|at| now.duration_since(at) >= TICK);
                for keyspace in &mut held {
                    if sample {
                        keyspace.tick(now);
                    }
                    keyspace.free_step();
                }
                if sample {
                    sampled = Some(now);
                }
                let freeing = held.iter().any(|h| !h.freeing.is_empty());
                if freeing {
                    FREE_TICK
                } else {
                    TICK
                }
            }
        })?;
        Ok(Self(worker))
    }
}

/// Frees up to `n` more nodes of a memtable; answers whether it is all freed.
type Freeing = Box<dyn FnMut(usize) -> bool>;

/// The references kept for one keyspace.
struct Held {
    keyspace: Keyspace,
    memtables: Vec<Arc<Memtable>>,
    /// Forgotten memtables being freed a step at a time, oldest first.
    freeing: VecDeque<Freeing>,
    /// Table -> when it was last seen in the tree.
    tables: HashMap<TableId, (Table, Instant)>,
}

impl Held {
    fn new(keyspace: Keyspace) -> Self {
        Self {
            keyspace,
            memtables: Vec::new(),
            freeing: VecDeque::new(),
            tables: HashMap::new(),
        }
    }

    fn tick(&mut self, now: Instant) {
        let tree = &self.keyspace.tree;
        let active = tree.active_memtable();
        if !self.memtables.iter().any(|m| m.id() == active.id()) {
            self.memtables.push(active);
        }
        for memtable in std::mem::take(&mut self.memtables) {
            // Only this thread still has it when the tree has flushed and forgotten it.
            match Arc::try_unwrap(memtable) {
                Ok(forgotten) => self.freeing.push_back(free_gradually(forgotten)),
                Err(live) => self.memtables.push(live),
            }
        }
        for table in tree.current_version().iter_tables() {
            self.tables.insert(table.id(), (table.clone(), now));
        }
        self.tables
            .retain(|_, (_, seen)| now.duration_since(*seen) < TABLE_HOLD);
    }

    /// Frees the next nodes of the forgotten memtables; more per tick when several wait, so
    /// freeing keeps up with flushes.
    fn free_step(&mut self) {
        let nodes = FREE_STEP_NODES * self.freeing.len();
        if let Some(free) = self.freeing.front_mut() {
            if free(nodes) {
                self.freeing.pop_front();
            }
        }
    }
}

/// Takes the skiplist out of a memtable nobody else owns; its owning iterator frees each
/// node as it passes it (`items` is lsm-tree's hidden but public field).
fn free_gradually(memtable: Memtable) -> Freeing {
    let mut nodes = memtable.items.into_iter();
    Box::new(move |n| nodes.by_ref().take(n).count() < n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keyspace in a fresh database (the dir and database must outlive it).
    fn keyspace() -> (tempfile::TempDir, fjall::Database, Keyspace) {
        let dir = tempfile::tempdir().unwrap();
        let db = fjall::Database::builder(dir.path()).open().unwrap();
        let ks = db
            .keyspace("k", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        (dir, db, ks)
    }

    #[test]
    fn a_forgotten_memtable_is_freed_in_steps() {
        let memtable = Memtable::new(7);
        for i in 0..2_500u32 {
            memtable.insert(lsm_tree::InternalValue::from_components(
                i.to_be_bytes(),
                b"v",
                u64::from(i),
                lsm_tree::ValueType::Value,
            ));
        }
        let mut free = free_gradually(memtable);
        assert!(!free(1_000));
        assert!(!free(1_000));
        assert!(free(1_000), "the last 500 nodes end it");
    }

    #[test]
    fn the_holder_is_the_last_owner_of_a_flushed_memtable() {
        let (_dir, _db, ks) = keyspace();
        ks.insert("a", "1").unwrap();
        let mut held = Held::new(ks.clone());
        held.tick(Instant::now());
        let first = ks.tree.active_memtable();
        assert!(held.memtables.iter().any(|m| Arc::ptr_eq(m, &first)));
        // The tree forgets a flushed memtable when the version after next is installed.
        ks.rotate_memtable_and_wait().unwrap();
        ks.insert("b", "2").unwrap();
        ks.rotate_memtable_and_wait().unwrap();
        ks.insert("c", "3").unwrap();
        // Only the holder and `first` own it now, so the holder's drop is what frees it.
        assert_eq!(Arc::strong_count(&first), 2);
        held.tick(Instant::now());
        assert_eq!(
            Arc::strong_count(&first),
            2,
            "still held while `first` lives"
        );
        drop(first);
        held.tick(Instant::now());
        let active = ks.tree.active_memtable();
        assert_eq!(held.memtables.len(), 1, "only the active memtable is held");
        assert!(Arc::ptr_eq(&held.memtables[0], &active));
        assert_eq!(held.freeing.len(), 1, "the forgotten one is being freed");
        held.free_step();
        assert!(held.freeing.is_empty(), "one node: freed in one step");
        assert_eq!(held.tables.len(), 2, "the flushed tables are held");
    }

    #[test]
    fn a_table_gone_from_the_tree_is_let_go_after_the_hold() {
        let (_dir, _db, ks) = keyspace();
        ks.insert("a", "1").unwrap();
        ks.rotate_memtable_and_wait().unwrap();
        let mut held = Held::new(ks.clone());
        let start = Instant::now();
        held.tick(start);
        assert_eq!(held.tables.len(), 1);
        ks.tree.drop_range::<&[u8], _>(..).unwrap();
        held.tick(start + TABLE_HOLD / 2);
        assert_eq!(held.tables.len(), 1, "kept within the hold");
        held.tick(start + TABLE_HOLD);
        assert!(held.tables.is_empty());
    }
}
