//! `stats`, `internalStats` and `partitioned-stats` of a topic.

use actix_web::{guard, web, HttpResponse};
use geminga_actors::{
    ownership::bundle_of_topic,
    topic::{admin_stats::TopicStatsReport, GetInternalStats, GetTopicStats},
    BrokerContext, RequestError,
};
use geminga_protocol::topic_name::TopicName;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{partitions_of, respond, topic_actor, TopicPath};

/// Registers the stats routes under `topic` (the topic path pattern).
pub(super) fn routes(cfg: &mut web::ServiceConfig, topic: &str) {
    cfg.service(
        web::resource(format!("{topic}/stats"))
            .guard(guard::Get())
            .to(stats),
    )
    .service(
        web::resource(format!("{topic}/internalStats"))
            .guard(guard::Get())
            .to(internal_stats),
    )
    .service(
        web::resource(format!("{topic}/partitioned-stats"))
            .guard(guard::Get())
            .to(partitioned_stats),
    );
}

/// `?perPartition=false` leaves the per-partition stats out.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartitionedQuery {
    #[serde(default = "yes")]
    per_partition: bool,
}

fn yes() -> bool {
    true
}

/// The stats of one (non-partitioned or partition) topic as JSON, naming its bundle.
async fn topic_stats(context: &BrokerContext, name: &str) -> Result<Value, RequestError> {
    let actor = topic_actor(context, name, false).await?;
    let report = actor.send(GetTopicStats).await??;
    with_bundle(context, name, report).await
}

/// `report` as JSON plus `bundle`, the namespace bundle that owns the topic (Geminga's field).
async fn with_bundle(
    context: &BrokerContext,
    name: &str,
    report: TopicStatsReport,
) -> Result<Value, RequestError> {
    let mut value = serde_json::to_value(report).map_err(|e| RequestError::Malformed {
        reason: e.to_string(),
    })?;
    let metadata = context.metadata().clone();
    let topic = TopicName::parse(name).map_err(|e| RequestError::Malformed {
        reason: e.to_string(),
    })?;
    let bundle = web::block(move || bundle_of_topic(&metadata, &topic))
        .await
        .ok()
        .and_then(Result::ok);
    if let (Value::Object(object), Some(bundle)) = (&mut value, bundle) {
        object.insert("bundle".into(), Value::String(bundle.to_string()));
    }
    Ok(value)
}

async fn stats(context: web::Data<BrokerContext>, path: web::Path<TopicPath>) -> HttpResponse {
    let found = async {
        let topic = path.topic_name()?;
        let stats = topic_stats(&context, &topic.to_string()).await?;
        Ok(HttpResponse::Ok().json(stats))
    };
    respond(found.await)
}

async fn internal_stats(
    context: web::Data<BrokerContext>,
    path: web::Path<TopicPath>,
) -> HttpResponse {
    let found = async {
        let topic = path.topic_name()?;
        let actor = topic_actor(&context, &topic.to_string(), false).await?;
        let report = actor.send(GetInternalStats).await??;
        Ok(HttpResponse::Ok().json(report))
    };
    respond(found.await)
}

async fn partitioned_stats(
    context: web::Data<BrokerContext>,
    path: web::Path<TopicPath>,
    query: web::Query<PartitionedQuery>,
) -> HttpResponse {
    let found = async {
        let topic = path.topic_name()?;
        let partitions = partitions_of(&context, &topic).await?;
        if partitions == 0 {
            return Err(RequestError::TopicNotFound {
                topic: format!("{topic} (not a partitioned topic)"),
            });
        }
        let mut total = Value::Object(Map::new());
        let mut each = Map::new();
        for index in 0..partitions {
            let name = topic.partition_name(index).to_string();
            // A partition nobody used yet has no topic: it counts as empty.
            let stats = match topic_stats(&context, &name).await {
                Ok(stats) => stats,
                Err(RequestError::TopicNotFound { .. }) => {
                    with_bundle(&context, &name, TopicStatsReport::default()).await?
                }
                Err(e) => return Err(e),
            };
            merge(&mut total, &stats);
            each.insert(name, stats);
        }
        if let Value::Object(object) = &mut total {
            // Partitions fall in different bundles: each partition names its own.
            object.remove("bundle");
            object.insert("metadata".into(), json!({ "partitions": partitions }));
            object.insert(
                "partitions".into(),
                if query.per_partition {
                    Value::Object(each)
                } else {
                    json!({})
                },
            );
        }
        Ok(HttpResponse::Ok().json(total))
    };
    respond(found.await)
}

/// Adds `from` into `into` as Pulsar aggregates partition stats: numbers add up, lists are
/// concatenated, objects merge key by key, and anything else keeps its first value.
fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        into.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(into), Value::Array(from)) => into.extend(from.iter().cloned()),
        (into @ Value::Number(_), Value::Number(from)) => {
            let sum = match (into.as_u64(), from.as_u64()) {
                (Some(a), Some(b)) => json!(a.saturating_add(b)),
                _ => json!(into.as_f64().unwrap_or(0.0) + from.as_f64().unwrap_or(0.0)),
            };
            *into = sum;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_stats_add_up_and_lists_concatenate() {
        let mut total = json!({});
        merge(
            &mut total,
            &json!({"msgInCounter": 2, "msgRateIn": 1.5, "publishers": [{"producerName": "a"}],
                    "subscriptions": {"s": {"msgBacklog": 3, "type": "Shared"}},
                    "deduplicationStatus": "Disabled"}),
        );
        merge(
            &mut total,
            &json!({"msgInCounter": 5, "msgRateIn": 0.5, "publishers": [{"producerName": "b"}],
                    "subscriptions": {"s": {"msgBacklog": 4, "type": "Shared"}, "t": {"msgBacklog": 1}},
                    "deduplicationStatus": "Disabled"}),
        );
        assert_eq!(total["msgInCounter"], 7);
        assert_eq!(total["msgRateIn"], 2.0);
        assert_eq!(total["publishers"].as_array().map(Vec::len), Some(2));
        assert_eq!(total["subscriptions"]["s"]["msgBacklog"], 7);
        assert_eq!(total["subscriptions"]["s"]["type"], "Shared");
        assert_eq!(total["subscriptions"]["t"]["msgBacklog"], 1);
    }
}
