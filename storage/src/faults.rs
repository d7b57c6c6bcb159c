//! Fault injection, so supervision tests can make storage fail on demand.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::StorageError;

/// Switches that make [`crate::Storage::write`] / [`crate::Storage::sync`] fail for a while.
///
/// Off by default and free when off (one uncontended mutex per call). While a switch is on,
/// the call returns [`StorageError::InjectedFault`] without touching fjall, so the database
/// stays healthy and the caller's recovery path can be tested end to end.
#[derive(Debug, Default)]
pub struct StorageFaults {
    writes_until: Mutex<Option<Instant>>,
    syncs_until: Mutex<Option<Instant>>,
}

impl StorageFaults {
    /// Makes every `write` fail for the next `d`.
    pub fn fail_writes_for(&self, d: Duration) {
        set_until(&self.writes_until, d);
    }

    /// Makes every `sync` fail for the next `d`.
    pub fn fail_sync_for(&self, d: Duration) {
        set_until(&self.syncs_until, d);
    }

    /// Turns every injected fault off at once.
    pub fn clear(&self) {
        *self
            .writes_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        *self
            .syncs_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    pub(crate) fn check_write(&self) -> Result<(), StorageError> {
        check(&self.writes_until, "write")
    }

    pub(crate) fn check_sync(&self) -> Result<(), StorageError> {
        check(&self.syncs_until, "sync")
    }
}

fn set_until(slot: &Mutex<Option<Instant>>, d: Duration) {
    // A duration too large to add to `now` means "for ever" in practice.
    let until = Instant::now().checked_add(d);
    let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
    *guard = until.or_else(|| Instant::now().checked_add(Duration::from_secs(86_400 * 365)));
}

fn check(slot: &Mutex<Option<Instant>>, op: &'static str) -> Result<(), StorageError> {
    let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
    match *guard {
        Some(until) if Instant::now() < until => Err(StorageError::InjectedFault { op }),
        Some(_) => {
            *guard = None;
            Ok(())
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_expire_and_clear() {
        let f = StorageFaults::default();
        f.check_write().unwrap();
        f.fail_writes_for(Duration::from_secs(60));
        assert!(matches!(
            f.check_write(),
            Err(StorageError::InjectedFault { op: "write" })
        ));
        f.check_sync().unwrap();
        f.clear();
        f.check_write().unwrap();
        f.fail_sync_for(Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(5));
        f.check_sync().unwrap();
    }
}
