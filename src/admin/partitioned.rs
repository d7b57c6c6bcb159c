//! Partitioned topics under `/admin/v2/{persistent|non-persistent}/{tenant}/{namespace}`:
//! create, grow, get and delete partitions, and list a namespace's (partitioned) topics.

use actix_web::{http::StatusCode, web, HttpResponse};
use geminga_actors::{
    metadata::{MetadataError, PartitionedTopicMetadata},
    ownership::client_partitions,
    registry::{topic_in_use, DeleteTopic, NotifyTopics, TopicsOfNamespace},
    BrokerContext, RequestError,
};
use geminga_protocol::{
    proto::command_get_topics_of_namespace::Mode,
    topic_name::{TopicDomain, TopicName},
};
use serde::Deserialize;

use super::errors::{blocking, namespace, no_content, topic, ApiError};

/// Registers the partitioned-topic routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    const NS: &str = "/admin/v2/{domain:persistent|non-persistent}/{tenant}/{namespace}";
    let partitions = format!("{NS}/{{topic}}/partitions");
    cfg.route(NS, web::get().to(list_topics))
        .route(
            &format!("{NS}/partitioned"),
            web::get().to(list_partitioned),
        )
        .route(&partitions, web::get().to(get))
        .route(&partitions, web::put().to(create))
        .route(&partitions, web::post().to(update))
        .route(&partitions, web::delete().to(delete));
}

type NsPath = web::Path<(String, String, String)>;
type TopicPath = web::Path<(String, String, String, String)>;

fn domain(name: &str) -> TopicDomain {
    if name == "non-persistent" {
        TopicDomain::NonPersistent
    } else {
        TopicDomain::Persistent
    }
}

/// The partition count of a body: `4`, `"4"` (both are sent by clients) or
/// `{"partitions": 4}`.
fn partition_count(body: &[u8]) -> Result<u32, ApiError> {
    let invalid = || ApiError::bad_request("expected the number of partitions as the body");
    let text = std::str::from_utf8(body).map_err(|_| invalid())?.trim();
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| invalid())?;
    let count = match &value {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        serde_json::Value::Object(o) => o.get("partitions").and_then(serde_json::Value::as_u64),
        _ => None,
    };
    count
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(invalid)
}

fn partition_names(topic: &TopicName, from: u32, to: u32) -> Vec<String> {
    (from..to)
        .map(|i| topic.partition_name(i).to_string())
        .collect()
}

/// Every topic of the namespace in this domain, partitions by partition name.
async fn list_topics(
    context: web::Data<BrokerContext>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    let ns = namespace(&path.1, &path.2)?;
    let mode = match domain(&path.0) {
        TopicDomain::Persistent => Mode::Persistent,
        TopicDomain::NonPersistent => Mode::NonPersistent,
    };
    let registry = context
        .registry()
        .ok_or_else(|| ApiError::unavailable("the topic registry"))?;
    let topics = registry
        .send(TopicsOfNamespace {
            namespace: ns,
            mode,
        })
        .await??;
    Ok(HttpResponse::Ok().json(topics))
}

/// The partitioned topics of the namespace in this domain, by base name.
async fn list_partitioned(
    context: web::Data<BrokerContext>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    let ns = namespace(&path.1, &path.2)?;
    let domain = domain(&path.0);
    let metadata = context.metadata().clone();
    let names = blocking(move || {
        if !metadata.namespace_exists(&ns)? {
            return Err(ApiError::from(MetadataError::not_found(format!(
                "namespace {ns}"
            ))));
        }
        let topics = metadata.partitioned_topics(&ns, domain)?;
        Ok(topics.into_iter().map(|(name, _)| name).collect::<Vec<_>>())
    })
    .await?;
    Ok(HttpResponse::Ok().json(names))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetQuery {
    #[serde(default)]
    check_allow_auto_creation: bool,
}

/// `{"partitions": N}`, 0 for a non-partitioned topic. With `checkAllowAutoCreation=true`
/// (what HTTP-lookup clients send) a missing topic may be created as partitioned.
async fn get(
    context: web::Data<BrokerContext>,
    path: TopicPath,
    query: web::Query<GetQuery>,
) -> Result<HttpResponse, ApiError> {
    let topic = topic(&path.0, &path.1, &path.2, &path.3)?;
    let auto_create = query.check_allow_auto_creation;
    let broker = context.get_ref().clone();
    let partitions = blocking(move || Ok(client_partitions(&broker, &topic, auto_create)?)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "partitions": partitions })))
}

async fn create(
    context: web::Data<BrokerContext>,
    path: TopicPath,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let topic = topic(&path.0, &path.1, &path.2, &path.3)?;
    let partitions = partition_count(&body)?;
    let broker = context.get_ref().clone();
    let target = topic.clone();
    blocking(move || {
        // A non-partitioned topic of the same name would be shadowed.
        if broker
            .storage()
            .topic(&target.to_string())
            .map_err(MetadataError::from)?
            .is_some()
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("a non-partitioned topic {target} already exists"),
            ));
        }
        let meta = PartitionedTopicMetadata {
            partitions,
            ..PartitionedTopicMetadata::default()
        };
        Ok(broker.metadata().create_partitioned(&target, meta)?)
    })
    .await?;
    notify(&context, partition_names(&topic, 0, partitions), Vec::new());
    Ok(no_content())
}

/// Raises the partition count; running clients pick the new partitions up when they next
/// ask for the topic's metadata.
async fn update(
    context: web::Data<BrokerContext>,
    path: TopicPath,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let topic = topic(&path.0, &path.1, &path.2, &path.3)?;
    let partitions = partition_count(&body)?;
    let metadata = context.metadata().clone();
    let target = topic.clone();
    let previous = blocking(move || Ok(metadata.update_partitioned(&target, partitions)?)).await?;
    notify(
        &context,
        partition_names(&topic, previous, partitions),
        Vec::new(),
    );
    Ok(no_content())
}

#[derive(Debug, Default, Deserialize)]
struct DeleteQuery {
    #[serde(default)]
    force: bool,
}

/// Deletes every partition and then the metadata. Refused (412) while producers or consumers
/// are connected to a partition, unless `force=true`.
async fn delete(
    context: web::Data<BrokerContext>,
    path: TopicPath,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    let topic = topic(&path.0, &path.1, &path.2, &path.3)?;
    let metadata = context.metadata().clone();
    let target = topic.clone();
    let meta = blocking(move || {
        metadata.partitioned_metadata(&target)?.ok_or_else(|| {
            ApiError::from(MetadataError::not_found(format!(
                "partitioned topic {target}"
            )))
        })
    })
    .await?;
    let names = partition_names(&topic, 0, meta.partitions);
    if !query.force {
        if let Some(busy) = names.iter().find(|n| topic_in_use(context.tracker(), n)) {
            return Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                format!("partition {busy} has connected producers or consumers"),
            ));
        }
    }
    let registry = context
        .registry()
        .ok_or_else(|| ApiError::unavailable("the topic registry"))?;
    for name in &names {
        let deleted = registry
            .send(DeleteTopic {
                name: name.clone(),
                force: query.force,
            })
            .await?;
        match deleted {
            // A partition nobody used was never created.
            Ok(()) | Err(RequestError::TopicNotFound { .. }) => {}
            Err(e) => return Err(ApiError::from(e)),
        }
    }
    let metadata = context.metadata().clone();
    let target = topic.clone();
    blocking(move || {
        metadata.delete_partitioned(&target)?;
        Ok(metadata.delete_topic_policies(&target)?)
    })
    .await?;
    notify(&context, Vec::new(), names);
    Ok(no_content())
}

fn notify(context: &BrokerContext, added: Vec<String>, removed: Vec<String>) {
    if let Some(registry) = context.registry() {
        registry.do_send(NotifyTopics { added, removed });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_count_accepts_a_number_a_quoted_number_and_an_object() {
        assert_eq!(partition_count(b"4").unwrap(), 4);
        assert_eq!(partition_count(b" \"7\" \n").unwrap(), 7);
        assert_eq!(partition_count(br#"{"partitions": 3}"#).unwrap(), 3);
        for bad in [&b""[..], b"-1", b"\"x\"", b"4.5", b"[4]", b"99999999999"] {
            assert!(
                partition_count(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
