use std::sync::Arc;

use super::*;
use crate::metadata::{MemoryMetadataStore, SchemaCompatibilityStrategy as S};

fn service() -> MetadataService {
    MetadataService::new(Arc::new(MemoryMetadataStore::default()), 4)
}

fn topic(name: &str) -> TopicName {
    TopicName::parse(name).unwrap()
}

fn avro(fields: &str) -> SchemaData {
    SchemaData {
        schema_type: SchemaType::Avro,
        data: format!(r#"{{"type":"record","name":"User","fields":[{fields}]}}"#).into_bytes(),
        properties: Default::default(),
    }
}

const NAME: &str = r#"{"name":"name","type":"string"}"#;
const AGE_OPTIONAL: &str = r#"{"name":"age","type":["null","int"],"default":null}"#;
const AGE_REQUIRED: &str = r#"{"name":"age","type":"int"}"#;

#[test]
fn versions_count_up_and_an_equal_schema_reuses_its_version() {
    let svc = service();
    let t = topic("persistent://public/default/s");
    let v1 = avro(NAME);
    assert_eq!(add_schema(&svc, &t, &v1, S::Full, true).unwrap(), 0);
    assert_eq!(add_schema(&svc, &t, &v1, S::Full, true).unwrap(), 0);
    let v2 = avro(&format!("{NAME},{AGE_OPTIONAL}"));
    assert_eq!(add_schema(&svc, &t, &v2, S::Full, true).unwrap(), 1);
    // Partitions and the other domain share the schema.
    let partition = topic("non-persistent://public/default/s-partition-2");
    assert_eq!(
        get_schema(&svc, &partition, None).unwrap().unwrap().version,
        1
    );
    assert_eq!(get_schema(&svc, &t, Some(0)).unwrap().unwrap().schema, v1);
}

#[test]
fn strategies_decide_what_may_follow() {
    let svc = service();
    let required = avro(&format!("{NAME},{AGE_REQUIRED}"));
    for (strategy, accepted) in [
        (S::Backward, false),
        (S::Forward, true),
        (S::Full, false),
        (S::AlwaysCompatible, true),
        (S::AlwaysIncompatible, false),
    ] {
        let t = topic(&format!("persistent://public/default/{strategy}"));
        add_schema(&svc, &t, &avro(NAME), strategy, true).unwrap();
        let outcome = add_schema(&svc, &t, &required, strategy, true);
        assert_eq!(outcome.is_ok(), accepted, "{strategy}: {outcome:?}");
        if let Err(e) = outcome {
            assert!(matches!(e, SchemaError::Incompatible { .. }), "{e}");
        }
    }
}

#[test]
fn transitive_strategies_check_every_version() {
    let svc = service();
    let t = topic("persistent://public/default/transitive");
    // v0 has a required age; v1 drops it (backward fine); v2 adds it back without default:
    // fine against v1? No default and v1 does not write it: refused by BACKWARD already.
    // Use FORWARD_TRANSITIVE: each older reader must read the newest data.
    add_schema(
        &svc,
        &t,
        &avro(&format!("{NAME},{AGE_REQUIRED}")),
        S::AlwaysCompatible,
        true,
    )
    .unwrap();
    add_schema(
        &svc,
        &t,
        &avro(&format!("{NAME},{AGE_OPTIONAL}")),
        S::AlwaysCompatible,
        true,
    )
    .unwrap();
    let without_age = avro(NAME);
    // Forward against the latest (age optional) is fine; against v0 (age required) it is not.
    assert!(add_schema(&svc, &t, &without_age, S::Forward, true).is_ok());
    let t2 = topic("persistent://public/default/transitive2");
    add_schema(
        &svc,
        &t2,
        &avro(&format!("{NAME},{AGE_REQUIRED}")),
        S::AlwaysCompatible,
        true,
    )
    .unwrap();
    add_schema(
        &svc,
        &t2,
        &avro(&format!("{NAME},{AGE_OPTIONAL}")),
        S::AlwaysCompatible,
        true,
    )
    .unwrap();
    assert!(add_schema(&svc, &t2, &without_age, S::ForwardTransitive, true).is_err());
}

#[test]
fn type_changes_and_primitives() {
    let svc = service();
    let t = topic("persistent://public/default/prim");
    let string = SchemaData {
        schema_type: SchemaType::String,
        data: Vec::new(),
        properties: Default::default(),
    };
    assert_eq!(add_schema(&svc, &t, &string, S::Full, true).unwrap(), 0);
    let int = SchemaData {
        schema_type: SchemaType::Int32,
        ..string.clone()
    };
    assert!(add_schema(&svc, &t, &int, S::Full, true).is_err());
    assert_eq!(
        add_schema(&svc, &t, &int, S::AlwaysCompatible, true).unwrap(),
        1
    );
}

#[test]
fn auto_update_off_only_accepts_known_versions() {
    let svc = service();
    let t = topic("persistent://public/default/auto");
    assert_eq!(
        add_schema(&svc, &t, &avro(NAME), S::Full, false).unwrap(),
        0
    );
    assert_eq!(
        add_schema(&svc, &t, &avro(NAME), S::Full, false).unwrap(),
        0
    );
    let v2 = avro(&format!("{NAME},{AGE_OPTIONAL}"));
    assert!(add_schema(&svc, &t, &v2, S::Full, false).is_err());
}

#[test]
fn consumers_register_on_idle_topics_and_must_read_otherwise() {
    let svc = service();
    let t = topic("persistent://public/default/consumer");
    let v1 = avro(NAME);
    assert!(
        check_consumer_schema(&svc, &t, &v1, S::Full, false).is_err(),
        "busy, no schema"
    );
    check_consumer_schema(&svc, &t, &v1, S::Full, true).unwrap();
    assert_eq!(get_schema(&svc, &t, None).unwrap().unwrap().version, 0);
    let optional = avro(&format!("{NAME},{AGE_OPTIONAL}"));
    check_consumer_schema(&svc, &t, &optional, S::Full, false).unwrap();
    let required = avro(&format!("{NAME},{AGE_REQUIRED}"));
    assert!(check_consumer_schema(&svc, &t, &required, S::Full, false).is_err());
    assert!(check_consumer_schema(&svc, &t, &required, S::AlwaysCompatible, false).is_ok());
}

#[test]
fn deleting_leaves_a_marker_and_later_schemas_start_afresh() {
    let svc = service();
    let t = topic("persistent://public/default/del");
    add_schema(&svc, &t, &avro(NAME), S::Full, true).unwrap();
    assert_eq!(delete_schema(&svc, &t, false).unwrap(), Some(1));
    assert!(get_schema(&svc, &t, None).unwrap().is_none());
    assert!(get_schema(&svc, &t, Some(1)).unwrap().is_none());
    assert!(matches!(
        delete_schema(&svc, &t, false),
        Err(SchemaError::NotFound { .. })
    ));
    let other = avro(&format!("{NAME},{AGE_REQUIRED}"));
    assert_eq!(add_schema(&svc, &t, &other, S::Backward, true).unwrap(), 2);
    assert_eq!(delete_schema(&svc, &t, true).unwrap(), None);
    assert!(svc.schema_history(&t).unwrap().versions.is_empty());
}

#[test]
fn invalid_avro_is_refused_and_schemaless_producers_follow_enforcement() {
    let svc = service();
    let t = topic("persistent://public/default/bad");
    let bad = SchemaData {
        schema_type: SchemaType::Avro,
        data: b"{".to_vec(),
        properties: Default::default(),
    };
    assert!(matches!(
        add_schema(&svc, &t, &bad, S::Full, true),
        Err(SchemaError::Invalid { .. })
    ));
    check_schemaless(&svc, &t, true).unwrap();
    add_schema(&svc, &t, &avro(NAME), S::Full, true).unwrap();
    check_schemaless(&svc, &t, false).unwrap();
    assert!(check_schemaless(&svc, &t, true).is_err());
}

#[test]
fn wire_schema_round_trips() {
    let data = avro(NAME);
    let wire = to_proto("public/default/x", &data);
    assert_eq!(from_proto(&wire), data);
    assert_eq!(
        crate::metadata::decode_schema_version(&crate::metadata::encode_schema_version(7)),
        Some(7)
    );
}
