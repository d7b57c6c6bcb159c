//! Metadata store back-ends: the broker's storage, and an in-memory store for tests.

use std::{
    collections::BTreeMap,
    sync::{Mutex, PoisonError},
};

use bytes::Bytes;
use geminga_storage::{MetadataStore, Storage, StorageError, Versioned};

/// The [`MetadataStore`] inside a [`Storage`] (its `metadata` keyspace), shareable as an
/// `Arc<dyn MetadataStore>`.
#[derive(Clone, Debug)]
pub struct StorageMetadata(pub Storage);

impl MetadataStore for StorageMetadata {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StorageError> {
        self.0.metadata().get(key)
    }

    fn put(&self, key: &str, value: &[u8], expected: Option<u64>) -> Result<u64, StorageError> {
        self.0.metadata().put(key, value, expected)
    }

    fn delete(&self, key: &str, expected: Option<u64>) -> Result<(), StorageError> {
        self.0.metadata().delete(key, expected)
    }

    fn list(&self, prefix: &str) -> Result<Vec<(String, Versioned)>, StorageError> {
        self.0.metadata().list(prefix)
    }
}

/// A [`MetadataStore`] in memory, with the same versioning rules as the fjall one.
#[derive(Debug, Default)]
pub struct MemoryMetadataStore {
    entries: Mutex<BTreeMap<String, Versioned>>,
}

impl MemoryMetadataStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Versioned>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn check(key: &str, expected: Option<u64>, actual: u64) -> Result<(), StorageError> {
    match expected {
        Some(expected) if expected != actual => Err(StorageError::BadVersion {
            key: key.to_owned(),
            expected,
            actual,
        }),
        _ => Ok(()),
    }
}

impl MetadataStore for MemoryMetadataStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StorageError> {
        Ok(self.lock().get(key).cloned())
    }

    fn put(&self, key: &str, value: &[u8], expected: Option<u64>) -> Result<u64, StorageError> {
        let mut entries = self.lock();
        let actual = entries.get(key).map_or(0, |v| v.version);
        check(key, expected, actual)?;
        let version = actual + 1;
        let value = Bytes::copy_from_slice(value);
        entries.insert(key.to_owned(), Versioned { value, version });
        Ok(version)
    }

    fn delete(&self, key: &str, expected: Option<u64>) -> Result<(), StorageError> {
        let mut entries = self.lock();
        let actual = entries.get(key).map_or(0, |v| v.version);
        check(key, expected, actual)?;
        entries.remove(key);
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<(String, Versioned)>, StorageError> {
        Ok(self
            .lock()
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
