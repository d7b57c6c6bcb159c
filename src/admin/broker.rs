//! Broker-level paths: health, clusters, the live actor tree, broker stats.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use geminga_actors::BrokerContext;
use serde_json::{Map, Value};

use super::ClusterName;

/// The bundle every topic is reported in until namespaces are split into bundles.
pub const FULL_BUNDLE: &str = "0x00000000_0xffffffff";

/// Registers the broker-level routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v2/brokers/health", web::get().to(health))
        .route("/admin/v2/clusters", web::get().to(clusters))
        .route("/admin/v2/broker/actors", web::get().to(actors))
        .route("/admin/v2/broker-stats/topics", web::get().to(topic_stats));
}

/// Pulsar's health check answers the plain text `ok`.
async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

async fn clusters(cluster: web::Data<ClusterName>) -> HttpResponse {
    HttpResponse::Ok().json([&cluster.0])
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
    let mut namespaces: BTreeMap<String, BTreeMap<String, Map<String, Value>>> = BTreeMap::new();
    for topic in stats.topics() {
        let (domain, namespace) = domain_and_namespace(topic.name());
        let snapshot = serde_json::to_value(topic.snapshot()).unwrap_or(Value::Null);
        namespaces
            .entry(namespace)
            .or_default()
            .entry(domain)
            .or_default()
            .insert(topic.name().to_owned(), snapshot);
    }
    let mut cluster = Map::new();
    for (namespace, by_domain) in namespaces {
        let domains = by_domain
            .into_iter()
            .map(|(domain, topics)| (domain, Value::Object(topics)))
            .collect();
        let mut bundles = Map::new();
        bundles.insert(FULL_BUNDLE.to_owned(), Value::Object(domains));
        cluster.insert(namespace, Value::Object(bundles));
    }
    let mut body = Map::new();
    body.insert(stats.cluster().to_owned(), Value::Object(cluster));
    HttpResponse::Ok().json(Value::Object(body))
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
