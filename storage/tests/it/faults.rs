//! Fault injection: write and sync fail while switched on, then storage recovers.

use std::time::Duration;

use geminga_storage::StorageError;

use crate::common::{append, TestStore};

#[test]
fn injected_write_faults_fail_without_applying_then_recover() {
    let t = TestStore::new();
    t.s().faults().fail_writes_for(Duration::from_secs(60));
    let err = t.s().write(vec![append(1, 0, 8)]).unwrap_err();
    assert!(matches!(err, StorageError::InjectedFault { op: "write" }));
    assert!(!err.is_fatal());
    assert_eq!(t.s().read_entry(1, 0).unwrap(), None, "nothing was applied");
    t.s().sync().unwrap();
    t.s().faults().clear();
    t.s().write(vec![append(1, 0, 8)]).unwrap();
    assert!(t.s().read_entry(1, 0).unwrap().is_some());
}

#[test]
fn injected_sync_faults_expire_on_their_own() {
    let t = TestStore::new();
    t.s().faults().fail_sync_for(Duration::from_millis(50));
    t.s().write(vec![append(1, 0, 8)]).unwrap();
    assert!(matches!(
        t.s().sync(),
        Err(StorageError::InjectedFault { op: "sync" })
    ));
    std::thread::sleep(Duration::from_millis(80));
    t.s().sync().unwrap();
}
