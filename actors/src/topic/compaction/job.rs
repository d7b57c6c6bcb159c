//! One compaction run on the blocking pool: reads the previous compacted log and the topic's
//! log up to the new horizon twice (phase one, phase two) and writes the result into a new
//! ledger owned by the topic's.

use geminga_storage::{Entry, Storage, StorageError, WriteOp};

use super::compactor::{CompactionCounts, Compactor};

/// Entries read per storage call.
const READ_ENTRIES: usize = 1_000;
/// Bytes read per storage call.
const READ_BYTES: usize = 4 * 1024 * 1024;
/// Entries written per storage write.
const WRITE_ENTRIES: usize = 1_000;

/// A compacted copy of a topic's log up to its horizon: the latest message of every key,
/// stored at the entry ids they had in the topic (so ids stay valid), in its own ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactedView {
    /// The ledger holding the compacted entries.
    pub ledger_id: u64,
    /// The last topic entry the compaction covered.
    pub horizon: u64,
}

/// What to compact.
#[derive(Clone, Copy, Debug)]
pub struct CompactionJob {
    /// The topic's ledger (it owns the compacted ledger).
    pub ledger_id: u64,
    /// The previous compaction, whose result replaces the log up to its horizon.
    pub previous: Option<CompactedView>,
    /// Compact up to and including this entry.
    pub horizon: u64,
    /// Keep messages without a key.
    pub retain_null_key: bool,
    /// The largest uncompressed batch opened (the broker's max message size); larger
    /// compressed batches are kept whole.
    pub max_batch_bytes: usize,
}

/// What a run produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactionOutcome {
    /// The new compacted log.
    pub view: CompactedView,
    /// Messages kept and removed.
    pub counts: CompactionCounts,
}

/// Runs both phases and writes the new compacted ledger (durable on return). On failure the
/// partly written ledger is deleted again.
///
/// # Errors
/// Storage failure.
pub fn run(storage: &Storage, job: &CompactionJob) -> Result<CompactionOutcome, StorageError> {
    let mut compactor = Compactor::new(job.retain_null_key, job.max_batch_bytes);
    scan(storage, job, |entry| {
        compactor.observe(&entry);
        Ok(())
    })?;
    let ledger_id = storage.create_owned_ledger(job.ledger_id)?;
    let written = write(storage, job, ledger_id, &mut compactor);
    if let Err(e) = written {
        if let Err(cleanup) = storage.delete_ledger(job.ledger_id, ledger_id) {
            tracing::warn!(ledger_id, error = %cleanup, "deleting a failed compaction's ledger");
        }
        return Err(e);
    }
    Ok(CompactionOutcome {
        view: CompactedView {
            ledger_id,
            horizon: job.horizon,
        },
        counts: compactor.counts,
    })
}

fn write(
    storage: &Storage,
    job: &CompactionJob,
    ledger_id: u64,
    compactor: &mut Compactor,
) -> Result<(), StorageError> {
    let mut pending = Vec::with_capacity(WRITE_ENTRIES);
    scan(storage, job, |entry| {
        if let Some(entry) = compactor.rewrite(entry) {
            pending.push(WriteOp::Append { ledger_id, entry });
        }
        if pending.len() >= WRITE_ENTRIES {
            storage.write(std::mem::take(&mut pending))?;
        }
        Ok(())
    })?;
    storage.write(pending)?;
    storage.sync()
}

/// Calls `f` on the entries the compaction covers, in id order: the previous compacted log up
/// to its horizon, then the topic's log after it up to the new horizon.
fn scan(
    storage: &Storage,
    job: &CompactionJob,
    mut f: impl FnMut(Entry) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let mut from = 0;
    if let Some(previous) = job.previous {
        read_range(storage, previous.ledger_id, 0, previous.horizon, &mut f)?;
        from = previous.horizon.saturating_add(1);
    }
    read_range(storage, job.ledger_id, from, job.horizon, &mut f)
}

fn read_range(
    storage: &Storage,
    ledger_id: u64,
    from: u64,
    to_inclusive: u64,
    f: &mut impl FnMut(Entry) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let mut next = from;
    while next <= to_inclusive {
        let entries = storage.read_entries(ledger_id, next, READ_ENTRIES, READ_BYTES)?;
        if entries.is_empty() {
            return Ok(());
        }
        for entry in entries {
            if entry.entry_id > to_inclusive {
                return Ok(());
            }
            next = entry.entry_id.saturating_add(1);
            f(entry)?;
        }
    }
    Ok(())
}
