//! Connector configs and positions in the broker's metadata store, as JSON documents:
//! `/admin/connectors/{sources|sinks}/{tenant}/{namespace}/{name}` holds the config and the
//! stopped instances, `/admin/connector-positions/sources/...` a source's committed offsets.
//! Every call blocks (the store fsyncs each write): run it on the blocking pool.

use std::{collections::BTreeSet, sync::Arc};

use geminga_storage::{MetadataStore, StorageError};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;

use super::{
    api::SourceOffsets,
    config::{ConnectorId, ConnectorKind},
    ConnectorError,
};

/// Root of connector configs.
const CONFIGS: &str = "/admin/connectors/";
/// Root of source positions.
const POSITIONS: &str = "/admin/connector-positions/";
/// Compare-and-set attempts before giving up on a contended position document.
const CAS_ATTEMPTS: usize = 16;

/// A stored connector: its Pulsar-shaped config and which instances are stopped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConnectorRecord {
    /// The `SourceConfig` or `SinkConfig` document, normalized.
    pub config: Value,
    /// Every instance is stopped (`stop` without an instance id).
    pub stopped: bool,
    /// Instances stopped one by one.
    pub stopped_instances: BTreeSet<u32>,
    /// Creation time, epoch ms.
    pub create_time_ms: u64,
}

impl ConnectorRecord {
    /// Whether `instance` should run.
    pub fn runs(&self, instance: u32) -> bool {
        !self.stopped && !self.stopped_instances.contains(&instance)
    }
}

/// A source's committed positions, shared by its instances.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SourcePositions {
    /// Highest committed offset per partition of the external system. (Documents written
    /// before deduplication also hold `scanFrom`, the recovery scan's starts; it is ignored.)
    pub offsets: SourceOffsets,
}

impl SourcePositions {
    /// Raises offsets to `offsets` (never lowers one).
    pub fn advance(&mut self, offsets: &SourceOffsets) {
        for (partition, offset) in offsets {
            let slot = self.offsets.entry(partition.clone()).or_insert(*offset);
            *slot = (*slot).max(*offset);
        }
    }
}

/// Typed access to connector documents. Cheap to clone.
#[derive(Clone)]
pub struct ConnectorStore {
    store: Arc<dyn MetadataStore>,
}

impl std::fmt::Debug for ConnectorStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorStore").finish_non_exhaustive()
    }
}

fn config_key(id: &ConnectorId) -> String {
    format!(
        "{CONFIGS}{}/{}/{}/{}",
        id.kind.plural(),
        id.tenant,
        id.namespace,
        id.name
    )
}

fn positions_key(id: &ConnectorId) -> String {
    format!(
        "{POSITIONS}{}/{}/{}/{}",
        id.kind.plural(),
        id.tenant,
        id.namespace,
        id.name
    )
}

fn store_error(e: StorageError) -> ConnectorError {
    ConnectorError::Metadata {
        reason: e.to_string(),
    }
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, ConnectorError> {
    serde_json::from_slice(bytes).map_err(|e| ConnectorError::Metadata {
        reason: format!("corrupt record at {key}: {e}"),
    })
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, ConnectorError> {
    serde_json::to_vec(value).map_err(|e| ConnectorError::Metadata {
        reason: e.to_string(),
    })
}

impl ConnectorStore {
    /// Documents kept in `store`.
    pub fn new(store: Arc<dyn MetadataStore>) -> Self {
        Self { store }
    }

    /// A connector's record and its version.
    ///
    /// # Errors
    /// Store failures or a corrupt record.
    pub fn get(&self, id: &ConnectorId) -> Result<Option<(ConnectorRecord, u64)>, ConnectorError> {
        let key = config_key(id);
        match self.store.get(&key).map_err(store_error)? {
            Some(v) => Ok(Some((decode(&key, &v.value)?, v.version))),
            None => Ok(None),
        }
    }

    /// Stores a record; `expected` is the version it must have (0: must not exist).
    ///
    /// # Errors
    /// [`ConnectorError::AlreadyExists`] when a create finds it, [`ConnectorError::Metadata`]
    /// on a concurrent change or a store failure.
    pub fn put(
        &self,
        id: &ConnectorId,
        record: &ConnectorRecord,
        expected: u64,
    ) -> Result<(), ConnectorError> {
        match self
            .store
            .put(&config_key(id), &encode(record)?, Some(expected))
        {
            Ok(_) => Ok(()),
            Err(StorageError::BadVersion { .. }) if expected == 0 => {
                Err(ConnectorError::AlreadyExists {
                    what: id.to_string(),
                })
            }
            Err(StorageError::BadVersion { .. }) => Err(ConnectorError::Metadata {
                reason: format!("{id} was changed concurrently; retry"),
            }),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Deletes a connector's record and positions.
    ///
    /// # Errors
    /// Store failures.
    pub fn delete(&self, id: &ConnectorId) -> Result<(), ConnectorError> {
        self.store
            .delete(&positions_key(id), None)
            .map_err(store_error)?;
        self.store
            .delete(&config_key(id), None)
            .map_err(store_error)
    }

    /// Names of the connectors of `kind` in a namespace, sorted.
    ///
    /// # Errors
    /// Store failures.
    pub fn names(
        &self,
        kind: ConnectorKind,
        tenant: &str,
        namespace: &str,
    ) -> Result<Vec<String>, ConnectorError> {
        let prefix = format!("{CONFIGS}{}/{tenant}/{namespace}/", kind.plural());
        let mut names: Vec<String> = self
            .store
            .list(&prefix)
            .map_err(store_error)?
            .into_iter()
            .filter_map(|(key, _)| {
                let rest = key.strip_prefix(&prefix)?;
                (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_owned())
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// Every stored connector, for the runtime's start-up.
    ///
    /// # Errors
    /// Store failures or a corrupt record.
    pub fn all(&self) -> Result<Vec<(ConnectorId, ConnectorRecord)>, ConnectorError> {
        let mut out = Vec::new();
        for kind in [ConnectorKind::Source, ConnectorKind::Sink] {
            let prefix = format!("{CONFIGS}{}/", kind.plural());
            for (key, value) in self.store.list(&prefix).map_err(store_error)? {
                let Some(rest) = key.strip_prefix(&prefix) else {
                    continue;
                };
                let parts: Vec<&str> = rest.split('/').collect();
                let [tenant, namespace, name] = parts.as_slice() else {
                    continue;
                };
                let id = ConnectorId::new(kind, tenant, namespace, name)?;
                out.push((id, decode(&key, &value.value)?));
            }
        }
        Ok(out)
    }

    /// A source's committed positions (empty when none were committed).
    ///
    /// # Errors
    /// Store failures or a corrupt record.
    pub fn positions(&self, id: &ConnectorId) -> Result<SourcePositions, ConnectorError> {
        let key = positions_key(id);
        match self.store.get(&key).map_err(store_error)? {
            Some(v) => decode(&key, &v.value),
            None => Ok(SourcePositions::default()),
        }
    }

    /// Commits offsets of one instance (merged with the other instances').
    ///
    /// # Errors
    /// Store failures, or a document contended past the retries.
    pub fn commit(&self, id: &ConnectorId, offsets: &SourceOffsets) -> Result<(), ConnectorError> {
        let key = positions_key(id);
        for _ in 0..CAS_ATTEMPTS {
            let (mut positions, version) = match self.store.get(&key).map_err(store_error)? {
                Some(v) => (decode::<SourcePositions>(&key, &v.value)?, v.version),
                None => (SourcePositions::default(), 0),
            };
            positions.advance(offsets);
            match self.store.put(&key, &encode(&positions)?, Some(version)) {
                Ok(_) => return Ok(()),
                Err(StorageError::BadVersion { .. }) => continue,
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(ConnectorError::Metadata {
            reason: format!("positions of {id} contended; retry"),
        })
    }
}

#[cfg(test)]
mod tests {
    use geminga_actors::metadata::MemoryMetadataStore;

    use super::*;

    fn id(name: &str) -> ConnectorId {
        ConnectorId::new(ConnectorKind::Source, "public", "default", name).unwrap()
    }

    fn store() -> ConnectorStore {
        ConnectorStore::new(Arc::new(MemoryMetadataStore::default()))
    }

    #[test]
    fn records_are_created_once_listed_and_deleted() {
        let store = store();
        let record = ConnectorRecord {
            config: serde_json::json!({"topicName": "t"}),
            ..ConnectorRecord::default()
        };
        store.put(&id("a"), &record, 0).unwrap();
        assert!(matches!(
            store.put(&id("a"), &record, 0),
            Err(ConnectorError::AlreadyExists { .. })
        ));
        store.put(&id("b"), &record, 0).unwrap();
        assert_eq!(
            store
                .names(ConnectorKind::Source, "public", "default")
                .unwrap(),
            ["a", "b"]
        );
        assert!(store
            .names(ConnectorKind::Sink, "public", "default")
            .unwrap()
            .is_empty());
        assert_eq!(store.all().unwrap().len(), 2);
        store.delete(&id("a")).unwrap();
        assert!(store.get(&id("a")).unwrap().is_none());
    }

    #[test]
    fn commits_merge_instances_and_never_lower_an_offset() {
        let store = store();
        let c = id("s");
        let offsets = |p: &str, o: i64| SourceOffsets::from([(p.to_owned(), o)]);
        store.commit(&c, &offsets("f1", 10)).unwrap();
        store.commit(&c, &offsets("f2", 7)).unwrap();
        store.commit(&c, &offsets("f1", 4)).unwrap();
        let positions = store.positions(&c).unwrap();
        assert_eq!(
            positions.offsets,
            SourceOffsets::from([("f1".into(), 10), ("f2".into(), 7)])
        );
    }
}
