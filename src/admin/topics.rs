//! Topic administration under Pulsar's `/admin/v2/{persistent|non-persistent}/{tenant}/{ns}`
//! paths: list, create, delete, unload, terminate, last message id; the subscription, stats,
//! message and policy paths live in the submodules.

mod messages;
mod permissions;
mod policies;

pub(crate) use policies::set_topic_policy;
mod stats;
mod storage;
mod subscriptions;

use actix::Addr;
use actix_web::{guard, web, HttpResponse};
use geminga_actors::metadata::NamespaceName;
use geminga_actors::{
    registry::{DeleteTopic, GetTopic, ListLoadedTopics, ListTopics, UnloadTopic},
    topic::{GetLastEntry, LastEntry, Terminate, Topic},
    BrokerContext, RequestError,
};
use geminga_protocol::topic_name::TopicName;
use serde::Deserialize;
use serde_json::json;

/// The namespace part of every topic path; `domain` is `persistent` or `non-persistent`.
pub(crate) const NAMESPACE_PATH: &str =
    "/admin/v2/{domain:persistent|non-persistent}/{tenant}/{namespace}";

/// Registers the topic routes. Every resource carries its method guard, so paths that other
/// modules serve under the same prefix (`/partitions`, `/partitioned`) fall through to them.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let topic = format!("{NAMESPACE_PATH}/{{topic}}");
    cfg.service(web::resource(NAMESPACE_PATH).guard(guard::Get()).to(list))
        .service(web::resource(&topic).guard(guard::Put()).to(create))
        .service(web::resource(&topic).guard(guard::Delete()).to(delete))
        .service(
            web::resource(format!("{topic}/unload"))
                .guard(guard::Put())
                .to(unload),
        )
        .service(
            web::resource(format!("{topic}/terminate"))
                .guard(guard::Post())
                .to(terminate),
        )
        .service(
            web::resource(format!("{topic}/lastMessageId"))
                .guard(guard::Get())
                .to(last_message_id),
        );
    stats::routes(cfg, &topic);
    subscriptions::routes(cfg, &topic);
    messages::routes(cfg, &topic);
    policies::routes(cfg, &topic);
    storage::routes(cfg, &topic);
    permissions::routes(cfg, &topic);
}

/// `{domain}/{tenant}/{namespace}` of a namespace path.
#[derive(Debug, Deserialize)]
pub(crate) struct NamespacePath {
    domain: String,
    tenant: String,
    namespace: String,
}

/// `{domain}/{tenant}/{namespace}/{topic}` of a topic path.
#[derive(Debug, Deserialize)]
pub(crate) struct TopicPath {
    domain: String,
    tenant: String,
    namespace: String,
    topic: String,
}

impl TopicPath {
    /// The parsed topic name (400 when it does not parse).
    pub(crate) fn topic_name(&self) -> Result<TopicName, RequestError> {
        let name = format!(
            "{}://{}/{}/{}",
            self.domain, self.tenant, self.namespace, self.topic
        );
        TopicName::parse(&name).map_err(|e| RequestError::InvalidTopicName {
            name,
            reason: e.to_string(),
        })
    }
}

/// `?force=true`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ForceQuery {
    #[serde(default)]
    force: bool,
}

/// An error answer in Pulsar's form: the status code and `{"reason": "..."}`.
pub(crate) fn error_response(error: &RequestError) -> HttpResponse {
    HttpResponse::build(super::errors::status_of(error))
        .json(json!({ "reason": super::errors::reason_of(error) }))
}

/// Turns a handler outcome into a response.
pub(crate) fn respond(result: Result<HttpResponse, RequestError>) -> HttpResponse {
    result.unwrap_or_else(|e| error_response(&e))
}

/// A bad request answer (400).
pub(crate) fn bad_request(reason: impl Into<String>) -> RequestError {
    RequestError::Malformed {
        reason: reason.into(),
    }
}

/// The actor of topic `name`, loading it if it exists (or creating it when `create`).
pub(crate) async fn topic_actor(
    context: &BrokerContext,
    name: &str,
    create: bool,
) -> Result<Addr<Topic>, RequestError> {
    let registry = context
        .registry()
        .ok_or_else(|| RequestError::unavailable("the topic registry"))?;
    let found = registry
        .send(GetTopic {
            name: name.to_owned(),
            create,
        })
        .await?;
    match found {
        Err(RequestError::TopicNotFound { topic }) => Err(missing_namespace(context, name)
            .await
            .unwrap_or(RequestError::TopicNotFound { topic })),
        other => other,
    }
}

/// Names the missing namespace when that is why `topic` was not found, as Pulsar answers.
async fn missing_namespace(context: &BrokerContext, topic: &str) -> Option<RequestError> {
    let name = TopicName::parse(topic).ok()?;
    let namespace = NamespaceName::of_topic(&name);
    let metadata = context.metadata().clone();
    let probe = namespace.clone();
    let exists = actix_rt::task::spawn_blocking(move || metadata.namespace_exists(&probe))
        .await
        .ok()?
        .ok()?;
    (!exists).then(|| RequestError::NamespaceNotFound {
        namespace: namespace.to_string(),
    })
}

/// The partition count of topic `name` from the metadata store (0: not partitioned).
pub(crate) async fn partitions_of(
    context: &BrokerContext,
    topic: &TopicName,
) -> Result<u32, RequestError> {
    if topic.partition_index().is_some() {
        return Ok(0);
    }
    let key = format!(
        "/admin/partitioned-topics/{}/{}/{}/{}",
        topic.tenant(),
        topic.namespace(),
        topic.domain().as_str(),
        topic.local_name()
    );
    let storage = context.storage().clone();
    let stored = actix_rt::task::spawn_blocking(move || storage.metadata().get(&key))
        .await
        .map_err(|_| RequestError::unavailable("the metadata store"))??;
    Ok(stored
        .and_then(|v| serde_json::from_slice::<serde_json::Value>(&v.value).ok())
        .and_then(|v| v.get("partitions").and_then(serde_json::Value::as_u64))
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0))
}

/// The topics an operation on `topic` applies to: its partitions when it is partitioned,
/// else itself.
pub(crate) async fn targets(
    context: &BrokerContext,
    topic: &TopicName,
) -> Result<Vec<String>, RequestError> {
    Ok(match partitions_of(context, topic).await? {
        0 => vec![topic.to_string()],
        n => (0..n)
            .map(|i| topic.partition_name(i).to_string())
            .collect(),
    })
}

/// Whether topic `name` exists: stored (persistent), loaded (non-persistent), or partitioned.
pub(crate) async fn topic_exists(
    context: &BrokerContext,
    topic: &TopicName,
) -> Result<bool, RequestError> {
    if partitions_of(context, topic).await? > 0 {
        return Ok(true);
    }
    let name = topic.to_string();
    if topic.is_persistent() {
        let storage = context.storage().clone();
        let found = actix_rt::task::spawn_blocking(move || storage.topic(&name))
            .await
            .map_err(|_| RequestError::unavailable("the storage task"))??;
        return Ok(found.is_some());
    }
    Ok(loaded_topics(context, &name).await?.contains(&name))
}

/// Loaded topics whose names start with `prefix`.
pub(crate) async fn loaded_topics(
    context: &BrokerContext,
    prefix: &str,
) -> Result<Vec<String>, RequestError> {
    let registry = context
        .registry()
        .ok_or_else(|| RequestError::unavailable("the topic registry"))?;
    Ok(registry
        .send(ListLoadedTopics {
            prefix: prefix.to_owned(),
        })
        .await?)
}

/// Pulsar's `MessageIdImpl` JSON of an entry.
pub(crate) fn message_id_json(last: &LastEntry, partition: i64) -> serde_json::Value {
    let entry = last
        .entry_id
        .and_then(|e| i64::try_from(e).ok())
        .unwrap_or(-1);
    let mut id = json!({
        "ledgerId": last.ledger_id,
        "entryId": entry,
        "partitionIndex": partition,
    });
    if let (Some(size), Some(object)) = (last.batch_size, id.as_object_mut()) {
        object.insert("batchIndex".into(), json!(i64::from(size) - 1));
        object.insert("batchSize".into(), json!(size));
    }
    id
}

/// The partition index of a topic name, -1 when it is not a partition.
pub(crate) fn partition_index(topic: &TopicName) -> i64 {
    topic.partition_index().map_or(-1, i64::from)
}

async fn list(context: web::Data<BrokerContext>, path: web::Path<NamespacePath>) -> HttpResponse {
    let namespace = format!("{}/{}", path.tenant, path.namespace);
    let listed = async {
        if path.domain == "persistent" {
            let registry = context
                .registry()
                .ok_or_else(|| RequestError::unavailable("the topic registry"))?;
            registry.send(ListTopics { namespace }).await?
        } else {
            loaded_topics(&context, &format!("non-persistent://{namespace}/")).await
        }
    };
    respond(listed.await.map(|topics| HttpResponse::Ok().json(topics)))
}

async fn create(context: web::Data<BrokerContext>, path: web::Path<TopicPath>) -> HttpResponse {
    let created = async {
        let topic = path.topic_name()?;
        if topic_exists(&context, &topic).await? {
            return Err(RequestError::AlreadyExists {
                what: format!("topic {topic}"),
            });
        }
        topic_actor(&context, &topic.to_string(), true).await?;
        Ok(HttpResponse::NoContent().finish())
    };
    respond(created.await)
}

async fn delete(
    context: web::Data<BrokerContext>,
    path: web::Path<TopicPath>,
    query: web::Query<ForceQuery>,
) -> HttpResponse {
    let deleted = async {
        let topic = path.topic_name()?;
        let registry = context
            .registry()
            .ok_or_else(|| RequestError::unavailable("the topic registry"))?;
        registry
            .send(DeleteTopic {
                name: topic.to_string(),
                force: query.force,
            })
            .await??;
        Ok(HttpResponse::NoContent().finish())
    };
    respond(deleted.await)
}

async fn unload(context: web::Data<BrokerContext>, path: web::Path<TopicPath>) -> HttpResponse {
    let unloaded = async {
        let topic = path.topic_name()?;
        let registry = context
            .registry()
            .ok_or_else(|| RequestError::unavailable("the topic registry"))?;
        for name in targets(&context, &topic).await? {
            registry.send(UnloadTopic { name }).await??;
        }
        Ok(HttpResponse::NoContent().finish())
    };
    respond(unloaded.await)
}

async fn terminate(context: web::Data<BrokerContext>, path: web::Path<TopicPath>) -> HttpResponse {
    let terminated = async {
        let topic = path.topic_name()?;
        let actor = topic_actor(&context, &topic.to_string(), false).await?;
        let last = actor.send(Terminate).await??;
        Ok(HttpResponse::Ok().json(message_id_json(&last, partition_index(&topic))))
    };
    respond(terminated.await)
}

async fn last_message_id(
    context: web::Data<BrokerContext>,
    path: web::Path<TopicPath>,
) -> HttpResponse {
    let found = async {
        let topic = path.topic_name()?;
        let actor = topic_actor(&context, &topic.to_string(), false).await?;
        let last = actor.send(GetLastEntry).await?;
        Ok(HttpResponse::Ok().json(message_id_json(&last, partition_index(&topic))))
    };
    respond(found.await)
}
