//! The versioned metadata store: CAS semantics, listing, durability.

use geminga_storage::StorageError;

use crate::common::TestStore;

#[test]
fn put_versions_and_compare_and_set() {
    let mut t = TestStore::new();
    let m = t.s().metadata();
    assert_eq!(m.get("/admin/tenants/public").unwrap(), None);
    assert_eq!(m.put("/admin/tenants/public", b"{}", Some(0)).unwrap(), 1);
    let err = m.put("/admin/tenants/public", b"x", Some(0)).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::BadVersion {
                expected: 0,
                actual: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(m.put("/admin/tenants/public", b"x", Some(2)).is_err());
    assert_eq!(m.put("/admin/tenants/public", b"v2", Some(1)).unwrap(), 2);
    assert_eq!(m.put("/admin/tenants/public", b"v3", None).unwrap(), 3);
    let s = t.reopen();
    let got = s.metadata().get("/admin/tenants/public").unwrap().unwrap();
    assert_eq!((&got.value[..], got.version), (&b"v3"[..], 3));
}

#[test]
fn delete_checks_versions_and_restarts_them() {
    let t = TestStore::new();
    let m = t.s().metadata();
    m.put("/k", b"a", None).unwrap();
    m.put("/k", b"b", None).unwrap();
    assert!(matches!(
        m.delete("/k", Some(1)),
        Err(StorageError::BadVersion { actual: 2, .. })
    ));
    m.delete("/k", Some(2)).unwrap();
    assert_eq!(m.get("/k").unwrap(), None);
    m.delete("/k", None).unwrap();
    m.delete("/k", Some(0)).unwrap();
    assert!(m.delete("/k", Some(1)).is_err());
    assert_eq!(m.put("/k", b"c", Some(0)).unwrap(), 1);
}

#[test]
fn list_by_prefix_in_key_order() {
    let t = TestStore::new();
    let m = t.s().metadata();
    for key in [
        "/admin/tenants/b",
        "/admin/tenants/a",
        "/admin/namespaces/a/x",
        "/other",
    ] {
        m.put(key, key.as_bytes(), None).unwrap();
    }
    let listed = m.list("/admin/tenants/").unwrap();
    let keys: Vec<_> = listed.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["/admin/tenants/a", "/admin/tenants/b"]);
    assert_eq!(&listed[0].1.value[..], b"/admin/tenants/a");
    assert_eq!(m.list("").unwrap().len(), 4);
    assert!(m.list("/nothing").unwrap().is_empty());
    assert!(matches!(
        m.put("", b"", None),
        Err(StorageError::InvalidName { .. })
    ));
}
