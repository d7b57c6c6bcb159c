//! Permissions: grants on namespaces and topics, stored, listed and revoked with Pulsar's
//! paths; they survive a restart.

use crate::admin_http::{expect, get_json};
use crate::common::*;

/// Goal: grants on a namespace and a topic are listed (the topic's joined with the
/// namespace's), revoked separately, refused for unknown actions, and kept across restarts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_stored_listed_and_revoked() {
    let mut broker = TestBroker::start();
    let ns = super::namespace(&broker.admin_url, "perms").await;
    let admin = broker.admin_url.clone();
    let ns_path = format!("/admin/v2/namespaces/{ns}/permissions");
    assert_eq!(get_json(&admin, &ns_path).await, serde_json::json!({}));
    expect(
        "POST",
        &admin,
        &format!("{ns_path}/reader"),
        Some(r#"["consume"]"#),
        204,
    )
    .await;
    expect(
        "POST",
        &admin,
        &format!("{ns_path}/ops"),
        Some(r#"["functions","sources","sinks"]"#),
        204,
    )
    .await;
    expect(
        "POST",
        &admin,
        &format!("{ns_path}/bad"),
        Some(r#"["fly"]"#),
        400,
    )
    .await;
    expect(
        "POST",
        &admin,
        "/admin/v2/namespaces/public/ghost/permissions/x",
        Some(r#"["consume"]"#),
        404,
    )
    .await;
    let topic_path = format!("/admin/v2/persistent/{ns}/orders/permissions");
    expect(
        "POST",
        &admin,
        &format!("{topic_path}/writer"),
        Some(r#"["produce"]"#),
        204,
    )
    .await;
    expect(
        "POST",
        &admin,
        &format!("{topic_path}/reader"),
        Some(r#"["produce"]"#),
        204,
    )
    .await;
    broker.restart();
    let admin = broker.admin_url.clone();
    let listed = get_json(&admin, &topic_path).await;
    assert_eq!(listed["writer"], serde_json::json!(["produce"]));
    assert_eq!(listed["reader"], serde_json::json!(["produce", "consume"]));
    assert_eq!(
        listed["ops"],
        serde_json::json!(["functions", "sources", "sinks"])
    );
    let on_ns = get_json(&admin, &ns_path).await;
    assert!(
        on_ns.get("writer").is_none(),
        "topic grants stay on the topic: {on_ns}"
    );
    // A partition sees its topic's grants.
    let partition = get_json(
        &admin,
        &format!("/admin/v2/persistent/{ns}/orders-partition-0/permissions"),
    )
    .await;
    assert_eq!(partition["writer"], serde_json::json!(["produce"]));
    expect("DELETE", &admin, &format!("{topic_path}/writer"), None, 204).await;
    expect("DELETE", &admin, &format!("{topic_path}/writer"), None, 412).await;
    expect("DELETE", &admin, &format!("{ns_path}/reader"), None, 204).await;
    let listed = get_json(&admin, &topic_path).await;
    assert!(listed.get("writer").is_none());
    assert_eq!(listed["reader"], serde_json::json!(["produce"]));
    let policies = get_json(&admin, &format!("/admin/v2/namespaces/{ns}")).await;
    assert_eq!(
        policies["auth_policies"]["namespace_auth"]["ops"],
        serde_json::json!(["functions", "sources", "sinks"])
    );
}
