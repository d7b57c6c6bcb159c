//! Storage tuning knobs.

use serde::{Deserialize, Serialize};

/// How the fjall database is opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageConfig {
    /// `true`: a durable write survives power loss: with payload segments on, each
    /// [`crate::Storage::write`] fdatasyncs the segment that is the write-ahead log; with them
    /// off, [`crate::Storage::sync`] fsyncs fjall's journal. `false`: writes are only handed
    /// to the OS, which survives a process crash but not a machine crash (tests, benchmarks).
    pub fsync: bool,
    /// Block cache capacity in bytes, shared by all keyspaces.
    pub cache_size_bytes: u64,
    /// Store entries of 4 KiB and more in fjall's value log (blob files) instead of inline in
    /// the LSM tree, so flushes and compactions move small pointers instead of payloads;
    /// smaller entries stay inline either way. Default `true`: in `storage/benches/append.rs`
    /// (fsync on, 64 MiB retained) sustained appends of 128 KiB entries were 1.2x to 2.5x
    /// faster across seven paired runs, with the same ~2.0 disk bytes per payload byte and the
    /// same disk footprint; 1 KiB entries are unaffected. Only takes effect when the
    /// `entries` keyspace is created (a new data dir); an existing dir keeps its layout.
    pub kv_separation: bool,
    /// fjall background threads (flushes and compactions). Default 1: with more than one,
    /// fjall's worker 0 hands every compaction request back to the queue and takes it again
    /// while the others are busy, spinning a core; on 2 cores one worker gave the same
    /// publish throughput with ~15% less broker CPU (`geminga perf`, 2026-11-25).
    pub worker_threads: usize,
    /// Memtable size of the `entries` keyspace. Each flush writes a memtable to disk in one
    /// burst, and an fsync that lands in that burst waits for it; 16 MiB instead of fjall's
    /// 64 MiB cut the durable publish p99 at 10k msg/s from ~12 ms to ~7 ms and p99.9 from
    /// ~37 ms to ~19 ms for ~5% less peak throughput; 8 MiB was worse again (p99 5-7 ms
    /// against 4.3-4.4 ms). Only takes effect when the keyspace is created (fjall stores it
    /// with the keyspace).
    pub entries_memtable_bytes: u64,
    /// Size of a payload segment file. Entries (of at least `payload_segment_min_bytes`) keep
    /// their data in append-only segment files, written once, with only a reference in fjall;
    /// fjall would write them twice (journal, then flush). 0: new entries keep their data in
    /// fjall (existing segments are still read). In `geminga perf produce` (1 KiB messages,
    /// batched, fsync on) publish went from ~210 to ~300-330 MB/s and its p99 from 17 to
    /// 6 ms (2026-12-06). The active segment is also the write-ahead log of every write (one
    /// fdatasync per group instead of the segment's and the journal's); with 0 each group
    /// syncs fjall's journal instead.
    pub payload_segment_bytes: u64,
    /// Entries with at least this many data bytes go to payload segments; smaller ones stay
    /// inline in fjall. Default 0 (every entry): with unbatched 1 KiB messages inline, fjall's
    /// journal, memtable flushes and compactions carried every payload, and each flush
    /// stalled group commits (disk load, and lsm-tree's version lock); with the payloads in
    /// segments fjall only moves ~60-byte references. `geminga perf`, 10k msg/s unbatched
    /// 1 KiB, fsync on, 30 s, paired runs (2026-12-07): publish p99 from 20-26 ms to 4.0 ms,
    /// p50 from 0.7 to 1.1 ms (a group then fdatasynced the segment and the journal; one
    /// fdatasync since the segment is the log).
    pub payload_segment_min_bytes: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            fsync: true,
            cache_size_bytes: 64 * 1024 * 1024,
            kv_separation: true,
            worker_threads: 1,
            entries_memtable_bytes: 16 * 1024 * 1024,
            payload_segment_bytes: 256 * 1024 * 1024,
            payload_segment_min_bytes: 0,
        }
    }
}
