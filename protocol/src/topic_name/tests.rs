//! Unit tests for topic name parsing.

use super::*;

fn parse(name: &str) -> TopicName {
    TopicName::parse(name).unwrap_or_else(|e| panic!("{name:?} should parse: {e}"))
}

fn rejected(name: &str) -> &'static str {
    match TopicName::parse(name) {
        Err(ProtocolError::InvalidTopicName { name: got, reason }) => {
            assert_eq!(got, name);
            reason
        }
        other => panic!("{name:?} should be rejected, got {other:?}"),
    }
}

#[test]
fn short_name_normalises_to_public_default() {
    let topic = parse("orders");
    assert_eq!(topic.full_name(), "persistent://public/default/orders");
    assert_eq!(topic.tenant(), "public");
    assert_eq!(topic.namespace(), "default");
    assert_eq!(topic.local_name(), "orders");
    assert_eq!(topic.namespace_name(), "public/default");
    assert!(topic.is_persistent());
    assert_eq!(topic.partition_index(), None);
}

#[test]
fn all_spellings_of_one_topic_are_equal() {
    let a = parse("orders");
    let b = parse("public/default/orders");
    let c = parse("persistent://public/default/orders");
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert_eq!(c.to_string(), c.full_name());
}

#[test]
fn non_persistent_domain_is_kept() {
    let topic = parse("non-persistent://acme/events/clicks");
    assert_eq!(topic.domain(), TopicDomain::NonPersistent);
    assert!(!topic.is_persistent());
    assert_eq!(topic.full_name(), "non-persistent://acme/events/clicks");
    assert_ne!(topic, parse("persistent://acme/events/clicks"));
}

#[test]
fn three_segment_name_without_domain_is_persistent() {
    let topic = parse("acme/events/clicks");
    assert_eq!(topic.full_name(), "persistent://acme/events/clicks");
    assert_eq!(topic.namespace_name(), "acme/events");
}

#[test]
fn partition_suffix_is_parsed_and_rebuilt() {
    let topic = parse("persistent://t/ns/orders-partition-3");
    assert_eq!(topic.partition_index(), Some(3));
    assert_eq!(topic.local_name(), "orders-partition-3");
    let base = topic.base_name();
    assert_eq!(base.full_name(), "persistent://t/ns/orders");
    assert_eq!(base.partition_index(), None);
    let other = topic.partition_name(10);
    assert_eq!(other.full_name(), "persistent://t/ns/orders-partition-10");
    assert_eq!(other.partition_index(), Some(10));
    assert_eq!(parse(&other.full_name()), other);
    assert_eq!(base.partition_name(3), topic);
}

#[test]
fn base_name_of_a_plain_topic_is_itself() {
    let topic = parse("orders");
    assert_eq!(topic.base_name(), topic);
    assert_eq!(
        topic.partition_name(0).full_name(),
        "persistent://public/default/orders-partition-0"
    );
}

#[test]
fn non_canonical_partition_suffixes_are_plain_names() {
    for name in [
        "x-partition-",
        "x-partition-01",
        "x-partition--1",
        "x-partition-+1",
        "x-partition-1a",
        "x-partition-99999999999",
        "-partition-1",
    ] {
        let topic = parse(name);
        assert_eq!(topic.partition_index(), None, "{name}");
        assert_eq!(topic.base_name(), topic, "{name}");
    }
    // The last suffix wins: this is partition 2 of "a-partition-1".
    let nested = parse("a-partition-1-partition-2");
    assert_eq!(nested.partition_index(), Some(2));
    assert_eq!(nested.base_name().local_name(), "a-partition-1");
}

#[test]
fn allowed_special_characters_pass() {
    let topic = parse("persistent://my-tenant_1/ns=a:b.c%20/topic.with:odd=chars%_-x");
    assert_eq!(topic.tenant(), "my-tenant_1");
    assert_eq!(topic.namespace(), "ns=a:b.c%20");
}

#[test]
fn wrong_segment_counts_are_rejected() {
    rejected("a/b");
    rejected("a/b/c/d");
    rejected("persistent://x");
    rejected("persistent://t/ns");
    rejected("persistent://t/ns/x/y");
    rejected("persistent://prop/cluster/ns/x");
}

#[test]
fn empty_parts_are_rejected() {
    rejected("");
    rejected("t/ns/");
    rejected("/ns/x");
    rejected("t//x");
    rejected("persistent://");
    rejected("persistent:///ns/x");
}

#[test]
fn unknown_domains_are_rejected() {
    let reason = rejected("http://t/ns/x");
    assert!(reason.contains("domain"));
    rejected("://t/ns/x");
    rejected("Persistent://t/ns/x");
}

#[test]
fn forbidden_characters_are_rejected() {
    rejected("t!/ns/x");
    rejected("t/n s/x");
    rejected("tenant/ns\u{e9}/x");
    rejected("t/ns/with space");
    rejected("t/ns/tab\there");
    rejected("t/ns/nul\0");
    rejected("line\nbreak");
}

#[test]
fn from_str_matches_parse() {
    let topic: TopicName = "t/ns/x".parse().unwrap();
    assert_eq!(topic, parse("t/ns/x"));
    assert!("a/b".parse::<TopicName>().is_err());
}
