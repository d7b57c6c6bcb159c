//! Deduplication, producer access modes and limits, the schema registry, rate limits and
//! permissions, with the `pulsar` crate, bare protocol frames and the admin API.

mod access;
mod cli;
mod dedup;
mod permissions;
mod rates;
mod schemas;

use crate::admin_http::expect;

/// Creates namespace `public/{name}` and returns `public/{name}`.
pub async fn namespace(admin: &str, name: &str) -> String {
    let ns = format!("public/{name}");
    expect(
        "PUT",
        admin,
        &format!("/admin/v2/namespaces/{ns}"),
        None,
        204,
    )
    .await;
    ns
}
