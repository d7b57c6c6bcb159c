//! Topic-level policies: `GET|POST|DELETE /admin/v2/{domain}/{t}/{ns}/{topic}/<policy>`.
//!
//! The document is stored whole in the metadata store (see
//! `geminga_actors::topic::policies`); loaded topics (and their partitions) get the new
//! policies at once.

use actix_web::{guard, web, HttpResponse};
use geminga_actors::{
    metadata::{
        DeadLetterPolicy, DelayedDeliveryPolicies, DispatchRate, NamespaceName, Policies,
        PublishRate, RedeliveryBackoffPolicy, SchemaCompatibilityStrategy,
    },
    topic::{
        policies::{load_document, store_document, TopicPolicies},
        ApplyPolicies,
    },
    BrokerContext, RequestError,
};
use geminga_protocol::topic_name::TopicName;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{bad_request, loaded_topics, respond, topic_actor, topic_exists, TopicPath};

/// The JSON type a policy takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A non-negative integer.
    Count,
    /// `true` or `false`.
    Flag,
    /// A `RetentionPolicies` object.
    Retention,
    /// A non-negative byte count (may exceed 4 GiB).
    Bytes,
    /// A `DispatchRate` object.
    DispatchRate,
    /// A `PublishRate` object.
    PublishRate,
    /// A schema compatibility strategy name (a JSON string).
    Strategy,
    /// A `DelayedDeliveryPolicies` object.
    DelayedDelivery,
    /// A `DeadLetterPolicy` object.
    DeadLetter,
    /// A `RedeliveryBackoffPolicy` object.
    Backoff,
}

/// One policy: its path segment, its field in the `TopicPolicies` document and its type.
struct Policy {
    path: &'static str,
    field: &'static str,
    kind: Kind,
}

/// The policies served. `messageTTL` also takes its value as `?messageTTL=N`, as Pulsar does.
const POLICIES: &[Policy] = &[
    policy(
        "maxUnackedMessagesOnConsumer",
        "maxUnackedMessagesOnConsumer",
        Kind::Count,
    ),
    policy(
        "maxUnackedMessagesOnSubscription",
        "maxUnackedMessagesOnSubscription",
        Kind::Count,
    ),
    policy("messageTTL", "messageTTLInSeconds", Kind::Count),
    policy("retention", "retentionPolicies", Kind::Retention),
    policy("maxProducers", "maxProducerPerTopic", Kind::Count),
    policy("maxConsumers", "maxConsumerPerTopic", Kind::Count),
    policy(
        "maxConsumersPerSubscription",
        "maxConsumersPerSubscription",
        Kind::Count,
    ),
    policy("maxMessageSize", "maxMessageSize", Kind::Count),
    policy(
        "maxSubscriptionsPerTopic",
        "maxSubscriptionsPerTopic",
        Kind::Count,
    ),
    policy("deduplicationEnabled", "deduplicationEnabled", Kind::Flag),
    policy("compactionThreshold", "compactionThreshold", Kind::Bytes),
    policy("dispatchRate", "dispatchRate", Kind::DispatchRate),
    policy(
        "subscriptionDispatchRate",
        "subscriptionDispatchRate",
        Kind::DispatchRate,
    ),
    policy("publishRate", "publishRate", Kind::PublishRate),
    policy(
        "delayedDelivery",
        "delayedDeliveryPolicies",
        Kind::DelayedDelivery,
    ),
    policy("deadLetterPolicy", "deadLetterPolicy", Kind::DeadLetter),
    policy(
        "redeliveryBackoff",
        "redeliveryBackoffPolicy",
        Kind::Backoff,
    ),
    policy(
        "schemaCompatibilityStrategy",
        "schemaCompatibilityStrategy",
        Kind::Strategy,
    ),
];

const fn policy(path: &'static str, field: &'static str, kind: Kind) -> Policy {
    Policy { path, field, kind }
}

/// Registers a GET, POST and DELETE route per policy under `topic` (the topic path pattern).
pub(super) fn routes(cfg: &mut web::ServiceConfig, topic: &str) {
    for policy in POLICIES {
        let path = format!("{topic}/{}", policy.path);
        cfg.service(
            web::resource(&path)
                .guard(guard::Get())
                .to(move |context, path, query| get(policy, context, path, query)),
        )
        .service(
            web::resource(&path)
                .guard(guard::Post())
                .to(move |context, path, query, body| set(policy, context, path, query, body)),
        )
        .service(
            web::resource(&path)
                .guard(guard::Delete())
                .to(move |context, path| remove(policy, context, path)),
        );
        if policy.kind == Kind::Strategy {
            // Pulsar sets the schema compatibility strategy with PUT.
            cfg.service(
                web::resource(&path)
                    .guard(guard::Put())
                    .to(move |context, path, query, body| set(policy, context, path, query, body)),
            );
        }
    }
}

/// `?applied=true` and `?messageTTL=N`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PolicyQuery {
    applied: bool,
    #[serde(rename = "messageTTL")]
    message_ttl: Option<u64>,
}

/// The topic of a policy path; 404 when it does not exist.
pub(super) async fn existing_topic(
    context: &BrokerContext,
    path: &TopicPath,
) -> Result<TopicName, RequestError> {
    let topic = path.topic_name()?;
    if !topic_exists(context, &topic).await? {
        return Err(RequestError::TopicNotFound {
            topic: topic.to_string(),
        });
    }
    Ok(topic)
}

pub(super) async fn read_document(
    context: &BrokerContext,
    topic: &TopicName,
) -> Result<Map<String, Value>, RequestError> {
    let (storage, topic) = (context.storage().clone(), topic.clone());
    actix_rt::task::spawn_blocking(move || load_document(storage.metadata(), &topic))
        .await
        .map_err(|_| RequestError::unavailable("the metadata store"))?
        .map_err(RequestError::from)
}

/// Stores the changed document and hands the policies to the loaded topic and partitions.
pub(super) async fn write_document(
    context: &BrokerContext,
    topic: &TopicName,
    document: Map<String, Value>,
) -> Result<(), RequestError> {
    let policies = TopicPolicies::from_document(&document);
    let (storage, key_topic) = (context.storage().clone(), topic.clone());
    actix_rt::task::spawn_blocking(move || {
        store_document(storage.metadata(), &key_topic, &document)
    })
    .await
    .map_err(|_| RequestError::unavailable("the metadata store"))??;
    let base = topic.base_name().to_string();
    let partition_prefix = format!("{base}-partition-");
    for name in loaded_topics(context, &base).await? {
        if name == base || name.starts_with(&partition_prefix) {
            let actor = topic_actor(context, &name, false).await?;
            actor.do_send(ApplyPolicies {
                policies: policies.clone(),
            });
        }
    }
    Ok(())
}

/// Sets one field of `topic`'s policy document (the topic need not exist yet) and hands the
/// policies to its loaded partitions, as `POST .../{topic}/<policy>` does; for the broker's
/// own services (connectors turn on deduplication of their destination).
///
/// # Errors
/// Metadata store failures.
pub(crate) async fn set_topic_policy(
    context: &BrokerContext,
    topic: &TopicName,
    field: &str,
    value: Value,
) -> Result<(), RequestError> {
    let mut document = read_document(context, topic).await?;
    if document.get(field) == Some(&value) {
        return Ok(());
    }
    document.insert(field.to_owned(), value);
    write_document(context, topic, document).await
}

/// The namespace's value of a policy, for `?applied=true` when the topic sets none (rates are
/// kept per cluster, as Pulsar does).
fn namespace_value(context: &BrokerContext, policies: &Policies, policy: &Policy) -> Option<Value> {
    let cluster = &context.config().cluster_name;
    match policy.field {
        "messageTTLInSeconds" => policies.message_ttl_in_seconds.map(Value::from),
        "retentionPolicies" => to_json(policies.retention_policies.as_ref()),
        "compactionThreshold" => policies.compaction_threshold.map(Value::from),
        "deduplicationEnabled" => policies.deduplication_enabled.map(Value::from),
        "maxProducerPerTopic" => policies.max_producers_per_topic.map(Value::from),
        "maxConsumerPerTopic" => policies.max_consumers_per_topic.map(Value::from),
        "maxConsumersPerSubscription" => policies.max_consumers_per_subscription.map(Value::from),
        "dispatchRate" => to_json(policies.topic_dispatch_rate.get(cluster)),
        "subscriptionDispatchRate" => to_json(policies.subscription_dispatch_rate.get(cluster)),
        "publishRate" => to_json(policies.publish_max_message_rate.get(cluster)),
        "delayedDeliveryPolicies" => to_json(policies.delayed_delivery_policies.as_ref()),
        "deadLetterPolicy" => to_json(policies.dead_letter_policy.as_ref()),
        "redeliveryBackoffPolicy" => to_json(policies.redelivery_backoff_policy.as_ref()),
        "schemaCompatibilityStrategy" => match policies.schema_compatibility_strategy {
            SchemaCompatibilityStrategy::Undefined => None,
            strategy => Some(strategy.as_str().into()),
        },
        _ => None,
    }
}

fn to_json<T: serde::Serialize>(value: Option<&T>) -> Option<Value> {
    value.and_then(|v| serde_json::to_value(v).ok())
}

/// The namespace's policies of `topic` (defaults when it has none stored).
async fn namespace_policies(
    context: &BrokerContext,
    topic: &TopicName,
) -> Result<Policies, RequestError> {
    let (metadata, ns) = (context.metadata().clone(), NamespaceName::of_topic(topic));
    actix_rt::task::spawn_blocking(move || metadata.policies(&ns))
        .await
        .map_err(|_| RequestError::unavailable("the metadata store"))?
        .map_err(RequestError::from)
}

/// The broker-wide value a policy falls back to, for `?applied=true`.
fn broker_default(context: &BrokerContext, policy: &Policy) -> Option<Value> {
    let config = context.config();
    let defaults = &config.storage_policies.defaults;
    match policy.field {
        "maxUnackedMessagesOnConsumer" => Some(config.max_unacked_per_consumer.into()),
        "maxUnackedMessagesOnSubscription" => Some(config.max_unacked_per_subscription.into()),
        "maxProducerPerTopic" => Some(config.max_producers_per_topic.into()),
        "maxConsumersPerSubscription" => Some(config.max_consumers_per_subscription.into()),
        "maxMessageSize" => u64::try_from(config.max_message_size).ok().map(Value::from),
        "messageTTLInSeconds" => Some(defaults.message_ttl_seconds.into()),
        "retentionPolicies" => serde_json::to_value(defaults.retention).ok(),
        "compactionThreshold" => Some(defaults.compaction_threshold_bytes.into()),
        "deduplicationEnabled" => Some(config.broker_deduplication_enabled.into()),
        "maxConsumerPerTopic" => Some(config.max_consumers_per_topic.into()),
        "schemaCompatibilityStrategy" => Some(config.schema_compatibility_strategy.as_str().into()),
        "delayedDeliveryPolicies" => serde_json::to_value(DelayedDeliveryPolicies {
            active: config.delayed_delivery_enabled,
            tick_time: u64::try_from(config.delayed_delivery_tick.as_millis()).unwrap_or(u64::MAX),
            max_delivery_delay_in_millis: 0,
        })
        .ok(),
        _ => None,
    }
}

async fn get(
    policy: &'static Policy,
    context: web::Data<BrokerContext>,
    path: web::Path<TopicPath>,
    query: web::Query<PolicyQuery>,
) -> HttpResponse {
    let found = async {
        let topic = existing_topic(&context, &path).await?;
        let document = read_document(&context, &topic).await?;
        let mut value = document.get(policy.field).cloned();
        if value.is_none() && query.applied {
            let namespace = namespace_policies(&context, &topic).await?;
            value = namespace_value(&context, &namespace, policy)
                .or_else(|| broker_default(&context, policy));
        }
        // Pulsar answers an unset policy with an empty 204.
        Ok(match value {
            Some(value) => HttpResponse::Ok().json(value),
            None => HttpResponse::NoContent().finish(),
        })
    };
    respond(found.await)
}

/// Checks that `value` has the policy's type.
fn validate(policy: &Policy, value: Value) -> Result<Value, RequestError> {
    let valid = match policy.kind {
        Kind::Count => value.as_u64().is_some_and(|v| v <= u64::from(u32::MAX)),
        Kind::Bytes => value.as_i64().is_some_and(|v| v >= 0),
        Kind::Flag => value.is_boolean(),
        Kind::Retention => {
            value.is_object()
                && serde_json::from_value::<geminga_actors::topic::policies::RetentionPolicies>(
                    value.clone(),
                )
                .is_ok()
        }
        Kind::DispatchRate => {
            value.is_object() && serde_json::from_value::<DispatchRate>(value.clone()).is_ok()
        }
        Kind::PublishRate => {
            value.is_object() && serde_json::from_value::<PublishRate>(value.clone()).is_ok()
        }
        Kind::DelayedDelivery => {
            value.is_object()
                && serde_json::from_value::<DelayedDeliveryPolicies>(value.clone()).is_ok()
        }
        Kind::DeadLetter => {
            value.is_object() && serde_json::from_value::<DeadLetterPolicy>(value.clone()).is_ok()
        }
        Kind::Backoff => {
            value.is_object()
                && serde_json::from_value::<RedeliveryBackoffPolicy>(value.clone()).is_ok()
        }
        Kind::Strategy => {
            // Stored by its canonical name, whatever case it was given in.
            let parsed = value
                .as_str()
                .and_then(|s| s.parse::<SchemaCompatibilityStrategy>().ok());
            return match parsed {
                Some(strategy) => Ok(Value::from(strategy.as_str())),
                None => Err(bad_request(format!(
                    "invalid value for {}: {value}",
                    policy.path
                ))),
            };
        }
    };
    if valid {
        Ok(value)
    } else {
        Err(bad_request(format!(
            "invalid value for {}: {value}",
            policy.path
        )))
    }
}

async fn set(
    policy: &'static Policy,
    context: web::Data<BrokerContext>,
    path: web::Path<TopicPath>,
    query: web::Query<PolicyQuery>,
    body: web::Bytes,
) -> HttpResponse {
    let stored = async {
        let value = match (query.message_ttl, body.iter().all(u8::is_ascii_whitespace)) {
            (Some(ttl), _) if policy.path == "messageTTL" => Value::from(ttl),
            (_, true) => return Err(bad_request(format!("{} needs a value", policy.path))),
            (_, false) => serde_json::from_slice(&body)
                .map_err(|e| bad_request(format!("invalid JSON: {e}")))?,
        };
        let value = validate(policy, value)?;
        let topic = existing_topic(&context, &path).await?;
        let mut document = read_document(&context, &topic).await?;
        document.insert(policy.field.to_owned(), value);
        write_document(&context, &topic, document).await?;
        Ok(HttpResponse::NoContent().finish())
    };
    respond(stored.await)
}

async fn remove(
    policy: &'static Policy,
    context: web::Data<BrokerContext>,
    path: web::Path<TopicPath>,
) -> HttpResponse {
    let removed = async {
        let topic = existing_topic(&context, &path).await?;
        let mut document = read_document(&context, &topic).await?;
        if document.remove(policy.field).is_some() {
            write_document(&context, &topic, document).await?;
        }
        Ok(HttpResponse::NoContent().finish())
    };
    respond(removed.await)
}
