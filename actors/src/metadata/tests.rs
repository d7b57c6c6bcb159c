//! Unit tests of the metadata service over the in-memory store.

use std::{collections::BTreeSet, sync::Arc};

use geminga_protocol::topic_name::{TopicDomain, TopicName};

use super::*;
use crate::ownership::BundleRange;

fn service() -> MetadataService {
    let svc = MetadataService::new(Arc::new(MemoryMetadataStore::default()), 4);
    svc.bootstrap("standalone", &ClusterData::default())
        .unwrap();
    svc
}

fn ns(name: &str) -> NamespaceName {
    NamespaceName::parse(name).unwrap()
}

fn topic(name: &str) -> TopicName {
    TopicName::parse(name).unwrap()
}

fn tenant_in(cluster: &str) -> TenantInfo {
    TenantInfo {
        allowed_clusters: BTreeSet::from([cluster.to_owned()]),
        ..TenantInfo::default()
    }
}

#[test]
fn bootstrap_creates_standalone_public_and_default_once() {
    let svc = service();
    assert_eq!(svc.clusters().unwrap(), ["standalone"]);
    assert_eq!(svc.tenants().unwrap(), ["public"]);
    assert_eq!(svc.namespaces("public").unwrap(), ["public/default"]);
    let policies = svc.policies(&ns("public/default")).unwrap();
    assert_eq!(policies.bundles.unwrap().num_bundles, 4);
    assert_eq!(
        policies.replication_clusters,
        BTreeSet::from(["standalone".to_owned()])
    );
    // A second start keeps what the operator changed.
    svc.update_policies(&ns("public/default"), |p| {
        p.deleted = true;
        Ok(())
    })
    .unwrap();
    svc.bootstrap("standalone", &ClusterData::default())
        .unwrap();
    assert!(svc.policies(&ns("public/default")).unwrap().deleted);
}

#[test]
fn tenant_lifecycle_and_status_errors() {
    let svc = service();
    svc.create_tenant("acme", &tenant_in("standalone")).unwrap();
    assert!(matches!(
        svc.create_tenant("acme", &tenant_in("standalone")),
        Err(MetadataError::AlreadyExists { .. })
    ));
    assert_eq!(
        svc.create_tenant("other", &tenant_in("nowhere"))
            .unwrap_err()
            .http_status(),
        412
    );
    assert_eq!(
        svc.create_tenant("bad name", &TenantInfo::default())
            .unwrap_err()
            .http_status(),
        400
    );
    assert_eq!(svc.tenants().unwrap(), ["acme", "public"]);
    svc.create_namespace(&ns("acme/ns1"), Policies::default())
        .unwrap();
    let err = svc.delete_tenant("acme").unwrap_err();
    assert_eq!(err.http_status(), 409, "{err}");
    svc.delete_namespace(&ns("acme/ns1")).unwrap();
    svc.delete_tenant("acme").unwrap();
    assert_eq!(svc.tenant("acme").unwrap_err().http_status(), 404);
    assert_eq!(svc.delete_tenant("acme").unwrap_err().http_status(), 404);
}

#[test]
fn update_tenant_replaces_the_info_and_keeps_unknown_fields() {
    let svc = service();
    let mut info: TenantInfo =
        serde_json::from_str(r#"{"adminRoles":["r"],"allowedClusters":["standalone"],"x":1}"#)
            .unwrap();
    svc.create_tenant("t", &info).unwrap();
    info.admin_roles.insert("r2".into());
    svc.update_tenant("t", &info).unwrap();
    let stored = svc.tenant("t").unwrap();
    assert_eq!(stored.admin_roles.len(), 2);
    assert_eq!(stored.other.get("x"), Some(&serde_json::json!(1)));
    assert_eq!(
        svc.update_tenant("nope", &info).unwrap_err().http_status(),
        404
    );
}

#[test]
fn namespace_needs_its_tenant_and_is_unique() {
    let svc = service();
    let err = svc
        .create_namespace(&ns("ghost/ns"), Policies::default())
        .unwrap_err();
    assert_eq!(err.http_status(), 404);
    assert_eq!(
        svc.create_namespace(&ns("public/default"), Policies::default())
            .unwrap_err()
            .http_status(),
        409
    );
    assert_eq!(svc.namespaces("ghost").unwrap_err().http_status(), 404);
    assert!(NamespaceName::parse("a/b/c").is_err());
    assert!(NamespaceName::parse("a").is_err());
}

#[test]
fn namespace_with_a_bundle_count_gets_equal_bundles() {
    let svc = service();
    let policies: Policies = serde_json::from_str(r#"{"bundles":{"numBundles":8}}"#).unwrap();
    svc.create_namespace(&ns("public/eight"), policies).unwrap();
    assert_eq!(svc.bundles(&ns("public/eight")).unwrap().ranges().len(), 8);
}

#[test]
fn split_bundle_is_stored() {
    let svc = service();
    let range = BundleRange::parse("0x40000000_0x80000000").unwrap();
    let (a, b) = svc.split_bundle(&ns("public/default"), &range).unwrap();
    assert_eq!(
        (a.to_string().as_str(), b.to_string().as_str()),
        ("0x40000000_0x60000000", "0x60000000_0x80000000")
    );
    let bundles = svc.bundles(&ns("public/default")).unwrap();
    assert_eq!(bundles.ranges().len(), 5);
    assert_eq!(
        svc.split_bundle(&ns("public/default"), &range)
            .unwrap_err()
            .http_status(),
        404
    );
}

#[test]
fn partitioned_topics_grow_only_and_block_namespace_deletion() {
    let svc = service();
    let t = topic("persistent://public/default/orders");
    let meta = PartitionedTopicMetadata {
        partitions: 3,
        ..PartitionedTopicMetadata::default()
    };
    svc.create_partitioned(&t, meta.clone()).unwrap();
    assert_eq!(
        svc.create_partitioned(&t, meta).unwrap_err().http_status(),
        409
    );
    assert_eq!(svc.partitioned_metadata(&t).unwrap().unwrap().partitions, 3);
    // A partition's name resolves to its base name's metadata.
    assert_eq!(
        svc.partitioned_metadata(&t.partition_name(1))
            .unwrap()
            .unwrap()
            .partitions,
        3
    );
    assert_eq!(
        svc.update_partitioned(&t, 3).unwrap_err().http_status(),
        412
    );
    assert_eq!(
        svc.update_partitioned(&t, 2).unwrap_err().http_status(),
        412
    );
    assert_eq!(svc.update_partitioned(&t, 5).unwrap(), 3);
    assert_eq!(
        svc.partitioned_topics(&ns("public/default"), TopicDomain::Persistent)
            .unwrap(),
        [("persistent://public/default/orders".to_owned(), 5)]
    );
    assert!(svc
        .partitioned_topics(&ns("public/default"), TopicDomain::NonPersistent)
        .unwrap()
        .is_empty());
    assert_eq!(
        svc.delete_namespace(&ns("public/default"))
            .unwrap_err()
            .http_status(),
        409
    );
    assert_eq!(svc.delete_partitioned(&t).unwrap().partitions, 5);
    assert_eq!(svc.delete_partitioned(&t).unwrap_err().http_status(), 404);
    svc.delete_namespace(&ns("public/default")).unwrap();
}

#[test]
fn partitioned_topic_needs_a_namespace_and_a_sane_count() {
    let svc = service();
    let meta = |partitions| PartitionedTopicMetadata {
        partitions,
        ..PartitionedTopicMetadata::default()
    };
    let missing = topic("persistent://public/ghost/t");
    assert_eq!(
        svc.create_partitioned(&missing, meta(2))
            .unwrap_err()
            .http_status(),
        404
    );
    let t = topic("persistent://public/default/t");
    assert_eq!(
        svc.create_partitioned(&t, meta(0))
            .unwrap_err()
            .http_status(),
        400
    );
    assert_eq!(
        svc.create_partitioned(&t, meta(MAX_PARTITIONS + 1))
            .unwrap_err()
            .http_status(),
        400
    );
    assert_eq!(
        svc.create_partitioned(&t.partition_name(0), meta(2))
            .unwrap_err()
            .http_status(),
        400
    );
}

#[test]
fn admission_follows_namespace_and_partitions() {
    let svc = service();
    let on = AutoTopicCreation::default();
    let off = AutoTopicCreation { allow: false, ..on };
    let plain = topic("persistent://public/default/plain");
    assert_eq!(svc.admit_topic(&plain, on).unwrap(), TopicAdmission::Create);
    assert_eq!(
        svc.admit_topic(&plain, off).unwrap(),
        TopicAdmission::ExistingOnly
    );
    let missing = topic("persistent://nobody/default/x");
    assert_eq!(
        svc.admit_topic(&missing, on).unwrap_err().http_status(),
        404
    );

    let parted = topic("persistent://public/default/parted");
    svc.create_partitioned(
        &parted,
        PartitionedTopicMetadata {
            partitions: 2,
            ..PartitionedTopicMetadata::default()
        },
    )
    .unwrap();
    // Partitions of a partitioned topic are created even with auto-creation off.
    assert_eq!(
        svc.admit_topic(&parted.partition_name(1), off).unwrap(),
        TopicAdmission::Create
    );
    assert_eq!(
        svc.admit_topic(&parted.partition_name(2), off).unwrap(),
        TopicAdmission::ExistingOnly
    );
    assert_eq!(svc.admit_topic(&parted, on).unwrap_err().http_status(), 412);
}

#[test]
fn namespace_override_beats_the_broker_setting() {
    let svc = service();
    let default = ns("public/default");
    let broker = AutoTopicCreation::default();
    let t = topic("persistent://public/default/auto");
    svc.set_auto_topic_creation(
        &default,
        Some(AutoTopicCreationOverride {
            allow_auto_topic_creation: false,
            topic_type: TOPIC_TYPE_NON_PARTITIONED.into(),
            default_num_partitions: None,
        }),
    )
    .unwrap();
    assert_eq!(
        svc.admit_topic(&t, broker).unwrap(),
        TopicAdmission::ExistingOnly
    );
    svc.set_auto_topic_creation(&default, None).unwrap();
    assert_eq!(svc.admit_topic(&t, broker).unwrap(), TopicAdmission::Create);
    let bad = AutoTopicCreationOverride {
        allow_auto_topic_creation: true,
        topic_type: "sharded".into(),
        default_num_partitions: None,
    };
    assert_eq!(
        svc.set_auto_topic_creation(&default, Some(bad))
            .unwrap_err()
            .http_status(),
        400
    );
}

#[test]
fn partitioned_auto_creation_creates_metadata_on_first_query() {
    let svc = service();
    let default = ns("public/default");
    svc.set_auto_topic_creation(
        &default,
        Some(AutoTopicCreationOverride {
            allow_auto_topic_creation: true,
            topic_type: TOPIC_TYPE_PARTITIONED.into(),
            default_num_partitions: Some(3),
        }),
    )
    .unwrap();
    let broker = AutoTopicCreation::default();
    let t = topic("persistent://public/default/fresh");
    // Without the auto-create flag (plain admin GET) nothing is created.
    assert_eq!(
        svc.partitions_for_client(&t, broker, false, false).unwrap(),
        0
    );
    assert_eq!(
        svc.partitions_for_client(&t, broker, false, true).unwrap(),
        3
    );
    assert_eq!(svc.partitioned_metadata(&t).unwrap().unwrap().partitions, 3);
    // An existing non-partitioned topic stays non-partitioned.
    let existing = topic("persistent://public/default/existing");
    assert_eq!(
        svc.partitions_for_client(&existing, broker, true, true)
            .unwrap(),
        0
    );
    // Partition names are never partitioned themselves.
    assert_eq!(
        svc.partitions_for_client(&t.partition_name(0), broker, false, true)
            .unwrap(),
        0
    );
    let missing = topic("persistent://public/ghost/x");
    assert_eq!(
        svc.partitions_for_client(&missing, broker, false, true)
            .unwrap_err()
            .http_status(),
        404
    );
}

#[test]
fn topic_policies_round_trip_on_the_base_name() {
    let svc = service();
    let t = topic("persistent://public/default/pol");
    assert!(svc.topic_policies(&t).unwrap().is_none());
    let mut policies = TopicPolicies {
        message_ttl_in_seconds: Some(60),
        ..TopicPolicies::default()
    };
    policies
        .other
        .insert("somethingNew".into(), serde_json::json!(true));
    svc.set_topic_policies(&t, &policies).unwrap();
    assert_eq!(
        svc.topic_policies(&t.partition_name(0)).unwrap(),
        Some(policies)
    );
    svc.delete_topic_policies(&t).unwrap();
    assert!(svc.topic_policies(&t).unwrap().is_none());
    let missing = topic("persistent://public/ghost/x");
    assert_eq!(
        svc.set_topic_policies(&missing, &TopicPolicies::default())
            .unwrap_err()
            .http_status(),
        404
    );
}

#[test]
fn policies_json_uses_pulsars_names_and_keeps_unknown_fields() {
    let json = r#"{"bundles":{"boundaries":["0x00000000","0xffffffff"],"numBundles":1},
        "replication_clusters":["standalone"],"message_ttl_in_seconds":30,
        "autoTopicCreationOverride":{"allowAutoTopicCreation":true,"topicType":"partitioned","defaultNumPartitions":2}}"#;
    let policies: Policies = serde_json::from_str(json).unwrap();
    assert_eq!(policies.message_ttl_in_seconds, Some(30));
    assert!(policies.other.is_empty());
    let back = serde_json::to_value(&policies).unwrap();
    assert_eq!(back["message_ttl_in_seconds"], 30);
    assert_eq!(back["autoTopicCreationOverride"]["defaultNumPartitions"], 2);
    assert_eq!(back["bundles"]["numBundles"], 1);
}
