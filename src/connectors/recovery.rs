//! Effectively-once recovery of a source: which records did this source's producers publish
//! after the last committed position? They are in the destination topic, tagged with their
//! partition and offset, so the instance reads the topic's log from the lowest recorded scan
//! start and takes the highest offset per partition it finds.
//!
//! Nothing of a predecessor may land after the scan: the instance first took over the
//! producer name (the broker refuses a second producer of the same name, so the old one has
//! left, and its publishes were handed to the storage writer before it left), then waits on a
//! barrier through the writer, which completes after every write queued before it.

use std::collections::BTreeMap;

use geminga_actors::storage_writer::persist;
use geminga_protocol::frame::Payload;
use geminga_storage::Storage;

use super::{
    api::SourceOffsets,
    runtime::RuntimeEnv,
    source_run::{blocking, OFFSET_PROPERTY, PARTITION_PROPERTY},
    store::SourcePositions,
    ConnectorError,
};

/// Entries read per storage call.
const SCAN_BATCH: usize = 1024;
/// Bytes read per storage call.
const SCAN_BYTES: usize = 8 * 1024 * 1024;

/// What a scan found.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Highest published offset per partition.
    pub offsets: SourceOffsets,
    /// Per topic, the entry after the last one scanned.
    pub next: BTreeMap<String, u64>,
}

/// Scans `topics` for records published by producers named `prefix*` since `positions`.
///
/// # Errors
/// The barrier or a storage read failed.
pub async fn recover(
    env: &RuntimeEnv,
    topics: &[String],
    prefix: &str,
    positions: &SourcePositions,
) -> Result<Recovered, ConnectorError> {
    persist(env.context.writer(), Vec::new())
        .await
        .map_err(ConnectorError::broker)?;
    let storage = env.context.storage().clone();
    let starts: Vec<(String, u64)> = topics
        .iter()
        .map(|t| (t.clone(), positions.scan_start(t)))
        .collect();
    let prefix = prefix.to_owned();
    let found = blocking(move || scan(&storage, &starts, &prefix)).await?;
    tracing::info!(
        partitions = found.offsets.len(),
        "effectively-once recovery scanned the destination"
    );
    Ok(found)
}

fn storage_error(e: geminga_storage::StorageError) -> ConnectorError {
    ConnectorError::broker(format!("reading the destination topic: {e}"))
}

/// The blocking part of [`recover`].
pub fn scan(
    storage: &Storage,
    starts: &[(String, u64)],
    prefix: &str,
) -> Result<Recovered, ConnectorError> {
    let mut found = Recovered::default();
    for (topic, from) in starts {
        let Some(record) = storage.topic(topic).map_err(storage_error)? else {
            found.next.insert(topic.clone(), *from);
            continue;
        };
        let mut at = *from;
        loop {
            let entries = storage
                .read_entries(record.ledger_id, at, SCAN_BATCH, SCAN_BYTES)
                .map_err(storage_error)?;
            if entries.is_empty() {
                break;
            }
            for entry in entries {
                at = entry.entry_id + 1;
                let Ok(metadata) = Payload::from_data(entry.data).metadata() else {
                    continue;
                };
                if !metadata.producer_name.starts_with(prefix) {
                    continue;
                }
                let property = |name: &str| {
                    metadata
                        .properties
                        .iter()
                        .find(|kv| kv.key == name)
                        .map(|kv| kv.value.clone())
                };
                let (Some(partition), Some(offset)) = (
                    property(PARTITION_PROPERTY),
                    property(OFFSET_PROPERTY).and_then(|o| o.parse::<i64>().ok()),
                ) else {
                    continue;
                };
                let slot = found.offsets.entry(partition).or_insert(offset);
                *slot = (*slot).max(offset);
            }
        }
        found.next.insert(topic.clone(), at);
    }
    Ok(found)
}
