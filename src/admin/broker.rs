//! Broker-level paths: health, clusters, the live actor tree, broker stats.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use geminga_actors::{metadata::MetadataService, ownership::bundle_of_topic, BrokerContext};
use geminga_protocol::topic_name::TopicName;
use serde_json::{Map, Value};

/// Topic stats of one bundle, by domain (`persistent`, `non-persistent`).
type ByDomain = BTreeMap<String, Map<String, Value>>;

/// The bundle reported for a topic whose namespace bundles cannot be read.
pub const FULL_BUNDLE: &str = "0x00000000_0xffffffff";

/// Registers the broker-level routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v2/brokers/health", web::get().to(health))
        .route("/admin/v2/broker/actors", web::get().to(actors))
        .route("/admin/v2/broker-stats/topics", web::get().to(topic_stats));
}

/// Pulsar's health check answers the plain text `ok`.
async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// The supervision tree: every live actor with its parent, state, restarts and mailbox depth.
async fn actors(context: web::Data<BrokerContext>) -> HttpResponse {
    HttpResponse::Ok().json(context.tracker().snapshot())
}

/// Splits `persistent://tenant/ns/topic` into (`persistent`, `tenant/ns`).
fn domain_and_namespace(topic: &str) -> (String, String) {
    let (domain, rest) = topic.split_once("://").unwrap_or(("persistent", topic));
    let mut parts = rest.splitn(3, '/');
    let namespace = match (parts.next(), parts.next()) {
        (Some(tenant), Some(ns)) => format!("{tenant}/{ns}"),
        _ => String::new(),
    };
    (domain.to_owned(), namespace)
}

/// Every loaded topic's stats in the shape of Pulsar's `broker-stats/topics`:
/// cluster -> namespace -> bundle -> persistent -> topic -> stats.
async fn topic_stats(context: web::Data<BrokerContext>) -> HttpResponse {
    let stats = context.stats();
    let topics: Vec<(String, Value)> = stats
        .topics()
        .into_iter()
        .map(|t| {
            (
                t.name().to_owned(),
                serde_json::to_value(t.snapshot()).unwrap_or(Value::Null),
            )
        })
        .collect();
    // Bundle placement reads namespace metadata: blocking, so off the async worker.
    let metadata = context.metadata().clone();
    let names: Vec<String> = topics.iter().map(|(name, _)| name.clone()).collect();
    let bundles = web::block(move || {
        names
            .iter()
            .map(|name| bundle_name(&metadata, name))
            .collect()
    })
    .await
    .unwrap_or_else(|_| vec![FULL_BUNDLE.to_owned(); topics.len()]);
    // namespace -> bundle -> domain -> topic -> stats
    let mut tree: BTreeMap<String, BTreeMap<String, ByDomain>> = BTreeMap::new();
    for ((name, snapshot), bundle) in topics.into_iter().zip(bundles) {
        let (domain, namespace) = domain_and_namespace(&name);
        tree.entry(namespace)
            .or_default()
            .entry(bundle)
            .or_default()
            .entry(domain)
            .or_default()
            .insert(name, snapshot);
    }
    let cluster: Map<String, Value> = tree
        .into_iter()
        .map(|(namespace, bundles)| {
            let bundles = bundles
                .into_iter()
                .map(|(bundle, domains)| {
                    let domains = domains
                        .into_iter()
                        .map(|(d, t)| (d, Value::Object(t)))
                        .collect();
                    (bundle, Value::Object(domains))
                })
                .collect();
            (namespace, Value::Object(bundles))
        })
        .collect();
    let mut body = Map::new();
    body.insert(stats.cluster().to_owned(), Value::Object(cluster));
    HttpResponse::Ok().json(Value::Object(body))
}

/// The bundle `topic` falls in, as Pulsar names bundles (`0x00000000_0x40000000`).
fn bundle_name(metadata: &MetadataService, topic: &str) -> String {
    TopicName::parse(topic)
        .ok()
        .and_then(|t| bundle_of_topic(metadata, &t).ok())
        .map_or_else(|| FULL_BUNDLE.to_owned(), |range| range.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_split_into_domain_and_namespace() {
        assert_eq!(
            domain_and_namespace("persistent://public/default/t"),
            ("persistent".to_owned(), "public/default".to_owned())
        );
        assert_eq!(
            domain_and_namespace("non-persistent://a/b/c"),
            ("non-persistent".to_owned(), "a/b".to_owned())
        );
    }
}
