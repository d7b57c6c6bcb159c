use super::*;

fn schema(json: &str) -> AvroSchema {
    AvroSchema::parse(json.as_bytes()).unwrap()
}

/// Python's `pulsar.schema.Record` with `a = String()` and `b = Integer()`: nullable fields
/// with a `null` default.
const V1: &str = r#"{"type":"record","name":"Example","fields":[
    {"name":"a","type":["null","string"],"default":null},
    {"name":"b","type":["null","int"],"default":null}]}"#;

#[test]
fn adding_a_field_with_a_default_reads_old_data_and_old_readers_skip_it() {
    let v2 = schema(
        r#"{"type":"record","name":"Example","fields":[
        {"name":"a","type":["null","string"],"default":null},
        {"name":"b","type":["null","int"],"default":null},
        {"name":"c","type":["null","double"],"default":null}]}"#,
    );
    let v1 = schema(V1);
    assert!(v2.can_read(&v1).is_ok(), "backward");
    assert!(v1.can_read(&v2).is_ok(), "forward");
}

#[test]
fn a_required_new_field_breaks_backward_but_not_forward() {
    let v2 = schema(
        r#"{"type":"record","name":"Example","fields":[
        {"name":"a","type":["null","string"],"default":null},
        {"name":"b","type":["null","int"],"default":null},
        {"name":"c","type":"string"}]}"#,
    );
    let v1 = schema(V1);
    let err = v2.can_read(&v1).unwrap_err();
    assert!(
        err.contains("c: the reader's field has no default"),
        "{err}"
    );
    assert!(v1.can_read(&v2).is_ok());
}

#[test]
fn removing_a_field_without_default_breaks_forward() {
    let v1 = schema(
        r#"{"type":"record","name":"R","fields":[{"name":"x","type":"int"},{"name":"y","type":"int"}]}"#,
    );
    let v2 = schema(r#"{"type":"record","name":"R","fields":[{"name":"x","type":"int"}]}"#);
    assert!(v2.can_read(&v1).is_ok(), "backward: the new reader skips y");
    assert!(v1.can_read(&v2).is_err(), "forward: the old reader needs y");
}

#[test]
fn numeric_promotions_go_one_way() {
    let int = schema(r#"{"type":"record","name":"R","fields":[{"name":"x","type":"int"}]}"#);
    let long = schema(r#"{"type":"record","name":"R","fields":[{"name":"x","type":"long"}]}"#);
    assert!(long.can_read(&int).is_ok());
    assert!(int.can_read(&long).is_err());
    let string = schema(r#""string""#);
    assert!(schema(r#""bytes""#).can_read(&string).is_ok());
    assert!(schema(r#""int""#).can_read(&string).is_err());
}

#[test]
fn record_names_must_match_unless_aliased() {
    let a = schema(r#"{"type":"record","name":"A","namespace":"x","fields":[]}"#);
    let b = schema(r#"{"type":"record","name":"B","namespace":"x","fields":[]}"#);
    let b_alias = schema(r#"{"type":"record","name":"B","aliases":["A"],"fields":[]}"#);
    assert!(b.can_read(&a).is_err());
    assert!(b_alias.can_read(&a).is_ok());
    let a_other_ns = schema(r#"{"type":"record","name":"A","namespace":"y","fields":[]}"#);
    assert!(
        a_other_ns.can_read(&a).is_ok(),
        "Avro compares unqualified names"
    );
}

#[test]
fn enums_need_the_written_symbols_or_a_default() {
    let ab = schema(r#"{"type":"enum","name":"E","symbols":["A","B"]}"#);
    let abc = schema(r#"{"type":"enum","name":"E","symbols":["A","B","C"]}"#);
    let ab_default = schema(r#"{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}"#);
    assert!(abc.can_read(&ab).is_ok());
    assert!(ab.can_read(&abc).is_err());
    assert!(ab_default.can_read(&abc).is_ok());
}

#[test]
fn unions_resolve_branch_by_branch() {
    let nullable = schema(r#"["null","string"]"#);
    let string = schema(r#""string""#);
    assert!(nullable.can_read(&string).is_ok());
    assert!(
        string.can_read(&nullable).is_err(),
        "null cannot be read as string"
    );
}

#[test]
fn recursive_records_and_nested_types_terminate() {
    let list = r#"{"type":"record","name":"Node","fields":[
        {"name":"value","type":"int"},
        {"name":"next","type":["null","Node"],"default":null},
        {"name":"tags","type":{"type":"map","values":{"type":"array","items":"string"}}},
        {"name":"id","type":{"type":"fixed","name":"Id","size":16}},
        {"name":"when","type":{"type":"long","logicalType":"timestamp-millis"}}]}"#;
    let s = schema(list);
    assert!(s.can_read(&s).is_ok());
    let wider_id = list.replace("\"size\":16", "\"size\":8");
    assert!(s.can_read(&schema(&wider_id)).is_err());
}

#[test]
fn bad_definitions_are_refused() {
    for bad in [
        "not json",
        "42",
        r#"{"type":"record","fields":[]}"#,
        r#"{"type":"array"}"#,
        r#"{"type":"record","name":"R","fields":[{"type":"int"}]}"#,
    ] {
        assert!(AvroSchema::parse(bad.as_bytes()).is_err(), "{bad}");
    }
}
