//! Auxiliary ledgers owned by a topic's ledger (a compacted copy of its log, for example):
//! created with a fresh id, listed by owner, and purged with their owner.

use std::sync::PoisonError;

use super::topics::{system_key, NEXT_LEDGER_KEY, PURGE_PREFIX};
use super::Storage;
use crate::codec::Reader;
use crate::error::StorageError;

/// System key prefix of `owner ++ child` ledger ownership records.
const OWNED_PREFIX: &[u8] = b"owned/";

fn owned_key(owner: u64, child: u64) -> Vec<u8> {
    let mut key = system_key(OWNED_PREFIX, owner);
    key.extend_from_slice(&child.to_be_bytes());
    key
}

impl Storage {
    /// Allocates a new ledger owned by `owner` (a topic's ledger). It is written and read like
    /// any ledger, listed by [`Storage::owned_ledgers`], and purged by
    /// [`Storage::delete_ledger`] or when its owner's topic is deleted. Durable on return.
    ///
    /// # Errors
    /// Storage failure.
    pub fn create_owned_ledger(&self, owner: u64) -> Result<u64, StorageError> {
        let _guard = self
            .inner
            .topics_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let ledger_id = match self.inner.system.get(NEXT_LEDGER_KEY)? {
            Some(v) => Reader::new(&v, "ledger counter").u64()?,
            None => 1,
        };
        let next = ledger_id
            .checked_add(1)
            .ok_or_else(|| StorageError::corrupt("ledger counter", "ledger ids exhausted"))?;
        let mut batch = self.inner.db.batch();
        batch.insert(&self.inner.system, owned_key(owner, ledger_id), Vec::new());
        batch.insert(
            &self.inner.system,
            NEXT_LEDGER_KEY,
            next.to_be_bytes().to_vec(),
        );
        batch.commit()?;
        self.persist()?;
        Ok(ledger_id)
    }

    /// The ledgers owned by `owner`, ascending.
    ///
    /// # Errors
    /// Storage failure or a corrupt key.
    pub fn owned_ledgers(&self, owner: u64) -> Result<Vec<u64>, StorageError> {
        let prefix = system_key(OWNED_PREFIX, owner);
        self.inner
            .system
            .prefix(&prefix)
            .map(|guard| {
                let key = guard.key()?;
                Reader::new(key.get(prefix.len()..).unwrap_or_default(), "owned ledger").u64()
            })
            .collect()
    }

    /// Deletes an owned ledger of `owner` and its whole log (resumed on the next `open` if a
    /// crash interrupts it). Durable on return; deleting an unknown ledger is a no-op.
    ///
    /// # Errors
    /// Storage failure.
    pub fn delete_ledger(&self, owner: u64, ledger_id: u64) -> Result<(), StorageError> {
        let mut batch = self.inner.db.batch();
        batch.remove(&self.inner.system, owned_key(owner, ledger_id));
        let marker = system_key(PURGE_PREFIX, ledger_id);
        batch.insert(&self.inner.system, marker, Vec::new());
        batch.commit()?;
        self.persist()?;
        self.set_trim_floor(ledger_id, u64::MAX);
        self.purge_log(ledger_id)
    }

    /// Stages the removal of every ledger `owner` owns into `batch` (with purge markers) and
    /// answers their ids; the caller purges them after committing.
    pub(super) fn stage_owned_purges(
        &self,
        owner: u64,
        batch: &mut fjall::OwnedWriteBatch,
    ) -> Result<Vec<u64>, StorageError> {
        let children = self.owned_ledgers(owner)?;
        for &child in &children {
            batch.remove(&self.inner.system, owned_key(owner, child));
            let marker = system_key(PURGE_PREFIX, child);
            batch.insert(&self.inner.system, marker, Vec::new());
        }
        Ok(children)
    }
}
