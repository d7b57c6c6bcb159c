//! The built-in connectors: files (source and sink), PostgreSQL (source and sink), HTTP
//! (source) and the log (sink), plus helpers they share.

mod file_sink;
mod file_source;
mod http_source;
mod log_sink;
mod pg;
mod pg_sink;
mod pg_source;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{catalog::BuiltinConnector, ConnectorError};

/// Every built-in connector type.
pub fn all() -> Vec<BuiltinConnector> {
    vec![
        BuiltinConnector {
            name: "file",
            description: "Reads new lines of the files in a directory; writes messages as lines of a file",
            source: Some(file_source::build),
            source_replays: true,
            sink: Some(file_sink::build),
        },
        BuiltinConnector {
            name: "postgres",
            description: "Reads rows of a PostgreSQL table by an increasing column; writes JSON messages as rows (upsert by key)",
            source: Some(pg_source::build),
            source_replays: true,
            sink: Some(pg_sink::build),
        },
        BuiltinConnector {
            name: "jdbc-postgres",
            description: "Writes JSON messages as PostgreSQL rows (upsert by key); Pulsar's name for the postgres sink",
            source: None,
            source_replays: false,
            sink: Some(pg_sink::build),
        },
        BuiltinConnector {
            name: "http",
            description: "Publishes the body of every HTTP POST as a message",
            source: Some(http_source::build),
            source_replays: false,
            sink: None,
        },
        BuiltinConnector {
            name: "log",
            description: "Writes every message to the broker's log or its standard output, for debugging",
            source: None,
            source_replays: false,
            sink: Some(log_sink::build),
        },
    ]
}

/// Decodes a connector's `configs` into its typed settings.
pub(crate) fn parse<T: DeserializeOwned>(
    configs: &Map<String, Value>,
    what: &str,
) -> Result<T, ConnectorError> {
    serde_json::from_value(Value::Object(configs.clone()))
        .map_err(|e| ConnectorError::invalid(format!("{what} configs: {e}")))
}

/// A spawned task that ends when its owner is dropped, so a crashed instance leaves nothing
/// running behind (a listener, a database connection).
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Which instance of `parallelism` owns `partition`: a stable FNV-1a hash, so the split
/// does not change between runs.
pub(crate) fn owner(partition: &str, parallelism: u32) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in partition.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % parallelism.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_is_stable_and_in_range() {
        assert_eq!(owner("a.txt", 3), owner("a.txt", 3));
        assert!((0..100).all(|i| owner(&format!("f{i}"), 4) < 4));
        assert_eq!(owner("anything", 1), 0);
        let spread: std::collections::BTreeSet<u32> =
            (0..100).map(|i| owner(&format!("f{i}"), 4)).collect();
        assert_eq!(spread.len(), 4);
    }
}
