//! Versioned key-value metadata (tenants, namespaces, policies): fjall now, etcd later.

use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use fjall::{Database, Keyspace, PersistMode};

use crate::codec::Reader;
use crate::error::StorageError;
use crate::keys::check_key;

/// A stored value and its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    /// The value bytes (opaque to storage; JSON by convention).
    pub value: Bytes,
    /// 1 after the first put, +1 on every put since; restarts at 1 after a delete.
    pub version: u64,
}

/// Versioned key-value metadata store; fjall now, etcd later for a cluster.
///
/// Keys look like paths (`/admin/tenants/public`). Every write is durable on return.
/// `expected_version` turns a write into a compare-and-set: `Some(0)` means "must not
/// exist", `Some(v)` means "must be at version v", `None` means unconditional.
pub trait MetadataStore: Send + Sync {
    /// The value at `key`, if any.
    ///
    /// # Errors
    /// Storage failure or a corrupt record.
    fn get(&self, key: &str) -> Result<Option<Versioned>, StorageError>;

    /// Stores `value` at `key` and returns its new version.
    ///
    /// # Errors
    /// [`StorageError::BadVersion`] when `expected_version` does not match,
    /// [`StorageError::InvalidName`] for an empty or oversized key, or a storage failure.
    fn put(
        &self,
        key: &str,
        value: &[u8],
        expected_version: Option<u64>,
    ) -> Result<u64, StorageError>;

    /// Removes `key`. Removing a missing key succeeds when `expected_version` is `None` or
    /// `Some(0)`.
    ///
    /// # Errors
    /// [`StorageError::BadVersion`] when `expected_version` does not match, or a storage
    /// failure.
    fn delete(&self, key: &str, expected_version: Option<u64>) -> Result<(), StorageError>;

    /// Every key starting with `prefix` (a plain byte prefix, not a path segment), in order.
    ///
    /// # Errors
    /// Storage failure or a corrupt record.
    fn list(&self, prefix: &str) -> Result<Vec<(String, Versioned)>, StorageError>;
}

/// [`MetadataStore`] on the `metadata` keyspace. Value layout: version u64 ++ value.
pub(crate) struct FjallMetadataStore {
    db: Database,
    keyspace: Keyspace,
    persist: PersistMode,
    /// Serialises read-check-write so compare-and-set is atomic within this process.
    cas: Mutex<()>,
}

impl FjallMetadataStore {
    pub(crate) fn new(db: Database, keyspace: Keyspace, persist: PersistMode) -> Self {
        Self {
            db,
            keyspace,
            persist,
            cas: Mutex::new(()),
        }
    }

    fn version_of(&self, key: &str) -> Result<u64, StorageError> {
        Ok(self.get(key)?.map_or(0, |v| v.version))
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
}

fn decode(value: fjall::Slice) -> Result<Versioned, StorageError> {
    let bytes = Bytes::from(value);
    let version = Reader::new(&bytes, "metadata value").u64()?;
    Ok(Versioned {
        value: bytes.slice(8..),
        version,
    })
}

impl MetadataStore for FjallMetadataStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StorageError> {
        check_key(key, "metadata key")?;
        self.keyspace.get(key)?.map(decode).transpose()
    }

    fn put(
        &self,
        key: &str,
        value: &[u8],
        expected_version: Option<u64>,
    ) -> Result<u64, StorageError> {
        check_key(key, "metadata key")?;
        let _guard = self.cas.lock().unwrap_or_else(PoisonError::into_inner);
        let actual = self.version_of(key)?;
        Self::check(key, expected_version, actual)?;
        let version = actual + 1;
        let mut stored = Vec::with_capacity(8 + value.len());
        stored.extend_from_slice(&version.to_be_bytes());
        stored.extend_from_slice(value);
        let mut batch = self.db.batch();
        batch.insert(&self.keyspace, key, stored);
        batch.commit()?;
        self.db.persist(self.persist)?;
        Ok(version)
    }

    fn delete(&self, key: &str, expected_version: Option<u64>) -> Result<(), StorageError> {
        check_key(key, "metadata key")?;
        let _guard = self.cas.lock().unwrap_or_else(PoisonError::into_inner);
        let actual = self.version_of(key)?;
        Self::check(key, expected_version, actual)?;
        if actual == 0 {
            return Ok(());
        }
        let mut batch = self.db.batch();
        batch.remove(&self.keyspace, key);
        batch.commit()?;
        self.db.persist(self.persist)?;
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<(String, Versioned)>, StorageError> {
        self.keyspace
            .prefix(prefix)
            .map(|guard| {
                let (key, value) = guard.into_inner()?;
                let key = String::from_utf8(key.to_vec())
                    .map_err(|e| StorageError::corrupt("metadata key", e.to_string()))?;
                Ok((key, decode(value)?))
            })
            .collect()
    }
}
