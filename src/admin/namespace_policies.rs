//! Namespace policies of deduplication, rates, limits, schemas and permissions:
//! `GET|POST|DELETE /admin/v2/namespaces/{tenant}/{ns}/<policy>` (and `PUT` for
//! `schemaCompatibilityStrategy`, as Pulsar), `GET .../permissions`,
//! `POST|DELETE .../permissions/{role}`. Every change reaches the namespace's loaded topics at
//! once.

use std::collections::BTreeSet;

use actix_web::{guard, web, HttpResponse};
use geminga_actors::{
    metadata::{
        AuthAction, DispatchRate, NamespaceName, Policies, PublishRate, SchemaCompatibilityStrategy,
    },
    registry::ListLoadedTopics,
    topic::ApplyNamespacePolicies,
    BrokerContext,
};
use serde_json::Value;

use super::{
    errors::{blocking, namespace, no_content, ApiError},
    ClusterName,
};

/// Reads a policy from the namespace's policies (`None`: unset, answered as 204... or as
/// Pulsar's default where Pulsar shows one).
type Getter = fn(&Policies, &str) -> Option<Value>;
/// Sets a policy from its JSON value; the text says what is wrong with a bad value.
type Setter = fn(&mut Policies, &str, Value) -> Result<(), String>;
/// Removes a policy.
type Remover = fn(&mut Policies, &str);

/// One namespace policy path.
struct NsPolicy {
    path: &'static str,
    get: Getter,
    set: Setter,
    remove: Remover,
}

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

fn count(value: Value) -> Result<u32, String> {
    value
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| format!("expected a non-negative integer, got {value}"))
}

fn flag(value: Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("expected true or false, got {value}"))
}

fn strategy(value: Value) -> Result<SchemaCompatibilityStrategy, String> {
    value
        .as_str()
        .ok_or_else(|| format!("expected a strategy name, got {value}"))?
        .parse()
}

fn json<T: serde::Serialize>(value: Option<T>) -> Option<Value> {
    value.and_then(|v| serde_json::to_value(v).ok())
}

/// The policies served here. Rates are kept per cluster, as Pulsar does.
const POLICIES: &[NsPolicy] = &[
    NsPolicy {
        path: "deduplication",
        get: |p, _| json(p.deduplication_enabled),
        set: |p, _, v| {
            p.deduplication_enabled = Some(flag(v)?);
            Ok(())
        },
        remove: |p, _| p.deduplication_enabled = None,
    },
    NsPolicy {
        path: "dispatchRate",
        get: |p, c| json(p.topic_dispatch_rate.get(c)),
        set: |p, c, v| {
            let rate: DispatchRate = from_json(v)?;
            p.topic_dispatch_rate.insert(c.to_owned(), rate);
            Ok(())
        },
        remove: |p, c| {
            p.topic_dispatch_rate.remove(c);
        },
    },
    NsPolicy {
        path: "subscriptionDispatchRate",
        get: |p, c| json(p.subscription_dispatch_rate.get(c)),
        set: |p, c, v| {
            let rate: DispatchRate = from_json(v)?;
            p.subscription_dispatch_rate.insert(c.to_owned(), rate);
            Ok(())
        },
        remove: |p, c| {
            p.subscription_dispatch_rate.remove(c);
        },
    },
    NsPolicy {
        path: "publishRate",
        get: |p, c| json(p.publish_max_message_rate.get(c)),
        set: |p, c, v| {
            let rate: PublishRate = from_json(v)?;
            p.publish_max_message_rate.insert(c.to_owned(), rate);
            Ok(())
        },
        remove: |p, c| {
            p.publish_max_message_rate.remove(c);
        },
    },
    NsPolicy {
        path: "maxProducersPerTopic",
        get: |p, _| json(p.max_producers_per_topic),
        set: |p, _, v| {
            p.max_producers_per_topic = Some(count(v)?);
            Ok(())
        },
        remove: |p, _| p.max_producers_per_topic = None,
    },
    NsPolicy {
        path: "maxConsumersPerTopic",
        get: |p, _| json(p.max_consumers_per_topic),
        set: |p, _, v| {
            p.max_consumers_per_topic = Some(count(v)?);
            Ok(())
        },
        remove: |p, _| p.max_consumers_per_topic = None,
    },
    NsPolicy {
        path: "maxConsumersPerSubscription",
        get: |p, _| json(p.max_consumers_per_subscription),
        set: |p, _, v| {
            p.max_consumers_per_subscription = Some(count(v)?);
            Ok(())
        },
        remove: |p, _| p.max_consumers_per_subscription = None,
    },
    NsPolicy {
        path: "schemaCompatibilityStrategy",
        get: |p, _| json(Some(p.schema_compatibility_strategy.as_str())),
        set: |p, _, v| {
            p.schema_compatibility_strategy = strategy(v)?;
            Ok(())
        },
        remove: |p, _| p.schema_compatibility_strategy = SchemaCompatibilityStrategy::Undefined,
    },
    NsPolicy {
        path: "isAllowAutoUpdateSchema",
        get: |p, _| json(Some(p.is_allow_auto_update_schema.unwrap_or(true))),
        set: |p, _, v| {
            p.is_allow_auto_update_schema = Some(flag(v)?);
            Ok(())
        },
        remove: |p, _| p.is_allow_auto_update_schema = None,
    },
    NsPolicy {
        path: "delayedDelivery",
        get: |p, _| json(p.delayed_delivery_policies),
        set: |p, _, v| {
            p.delayed_delivery_policies = Some(from_json(v)?);
            Ok(())
        },
        remove: |p, _| p.delayed_delivery_policies = None,
    },
    NsPolicy {
        path: "deadLetterPolicy",
        get: |p, _| json(p.dead_letter_policy.clone()),
        set: |p, _, v| {
            p.dead_letter_policy = Some(from_json(v)?);
            Ok(())
        },
        remove: |p, _| p.dead_letter_policy = None,
    },
    NsPolicy {
        path: "redeliveryBackoff",
        get: |p, _| json(p.redelivery_backoff_policy),
        set: |p, _, v| {
            p.redelivery_backoff_policy = Some(from_json(v)?);
            Ok(())
        },
        remove: |p, _| p.redelivery_backoff_policy = None,
    },
    NsPolicy {
        path: "schemaValidationEnforced",
        get: |p, _| json(Some(p.schema_validation_enforced)),
        set: |p, _, v| {
            p.schema_validation_enforced = flag(v)?;
            Ok(())
        },
        remove: |p, _| p.schema_validation_enforced = false,
    },
];

const NS: &str = "/admin/v2/namespaces/{tenant}/{namespace}";

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    for policy in POLICIES {
        let path = format!("{NS}/{}", policy.path);
        cfg.service(
            web::resource(&path)
                .guard(guard::Get())
                .to(move |c, cl, p| get(policy, c, cl, p)),
        )
        .service(
            web::resource(&path)
                .guard(guard::Any(guard::Post()).or(guard::Put()))
                .to(move |c, cl, p, b| set(policy, c, cl, p, b)),
        )
        .service(
            web::resource(&path)
                .guard(guard::Delete())
                .to(move |c, cl, p| remove(policy, c, cl, p)),
        );
    }
    cfg.route(&format!("{NS}/permissions"), web::get().to(permissions))
        .route(&format!("{NS}/permissions/{{role}}"), web::post().to(grant))
        .route(
            &format!("{NS}/permissions/{{role}}"),
            web::delete().to(revoke),
        );
}

type NsPath = web::Path<(String, String)>;

async fn get(
    policy: &'static NsPolicy,
    context: web::Data<BrokerContext>,
    cluster: web::Data<ClusterName>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    let ns = namespace(&path.0, &path.1)?;
    let metadata = context.metadata().clone();
    let policies = blocking(move || Ok(metadata.policies(&ns)?)).await?;
    let mut value = (policy.get)(&policies, &cluster.0);
    if policy.path == "schemaCompatibilityStrategy"
        && value.as_ref().and_then(Value::as_str) == Some("UNDEFINED")
    {
        // Pulsar shows the strategy in force: the broker's when the namespace has none.
        value = Some(
            context
                .config()
                .schema_compatibility_strategy
                .as_str()
                .into(),
        );
    }
    Ok(match value {
        Some(value) => HttpResponse::Ok().json(value),
        None => HttpResponse::NoContent().finish(),
    })
}

async fn set(
    policy: &'static NsPolicy,
    context: web::Data<BrokerContext>,
    cluster: web::Data<ClusterName>,
    path: NsPath,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let ns = namespace(&path.0, &path.1)?;
    let value = parse_body(&body)?;
    // Check the value before touching the store.
    (policy.set)(&mut Policies::default(), &cluster.0, value.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid {}: {e}", policy.path)))?;
    let cluster = cluster.0.clone();
    update(&context, ns, move |p| {
        let _ = (policy.set)(p, &cluster, value.clone());
    })
    .await?;
    Ok(no_content())
}

async fn remove(
    policy: &'static NsPolicy,
    context: web::Data<BrokerContext>,
    cluster: web::Data<ClusterName>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    let ns = namespace(&path.0, &path.1)?;
    let cluster = cluster.0.clone();
    update(&context, ns, move |p| (policy.remove)(p, &cluster)).await?;
    Ok(no_content())
}

/// A JSON body; a bare word (`BACKWARD`) is taken as a string, as curl users write it.
fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the body is not UTF-8"))?
        .trim();
    if text.is_empty() {
        return Err(ApiError::bad_request("the policy needs a value"));
    }
    Ok(serde_json::from_str(text).unwrap_or_else(|_| Value::from(text)))
}

/// Changes the namespace's policies and hands them to its loaded topics.
async fn update(
    context: &BrokerContext,
    ns: NamespaceName,
    change: impl Fn(&mut Policies) + Send + 'static,
) -> Result<(), ApiError> {
    let metadata = context.metadata().clone();
    let target = ns.clone();
    let policies = blocking(move || {
        metadata.update_policies(&target, |p| {
            change(p);
            Ok(())
        })?;
        Ok(metadata.policies(&target)?)
    })
    .await?;
    notify_topics(context, &ns, policies).await
}

/// Hands `policies` to every loaded topic of `ns`.
pub(crate) async fn notify_topics(
    context: &BrokerContext,
    ns: &NamespaceName,
    policies: Policies,
) -> Result<(), ApiError> {
    let registry = context
        .registry()
        .ok_or_else(|| ApiError::unavailable("the topic registry"))?;
    for domain in ["persistent", "non-persistent"] {
        let prefix = format!("{domain}://{ns}/");
        let names = registry.send(ListLoadedTopics { prefix }).await?;
        for name in names {
            if let Ok(Ok(topic)) = registry
                .send(geminga_actors::registry::GetTopic {
                    name,
                    create: false,
                })
                .await
            {
                topic.do_send(ApplyNamespacePolicies {
                    policies: policies.clone(),
                });
            }
        }
    }
    Ok(())
}

async fn permissions(
    context: web::Data<BrokerContext>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    let ns = namespace(&path.0, &path.1)?;
    let metadata = context.metadata().clone();
    let grants = blocking(move || Ok(metadata.namespace_permissions(&ns)?)).await?;
    Ok(HttpResponse::Ok().json(grants))
}

/// Parses a JSON list of actions (`["produce", "consume"]`).
pub(crate) fn parse_actions(body: &[u8]) -> Result<BTreeSet<AuthAction>, ApiError> {
    let names: Vec<String> = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("expected a JSON list of actions: {e}")))?;
    names
        .iter()
        .map(|n| n.parse::<AuthAction>().map_err(ApiError::bad_request))
        .collect()
}

async fn grant(
    context: web::Data<BrokerContext>,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (tenant, ns, role) = path.into_inner();
    let ns = namespace(&tenant, &ns)?;
    let actions = parse_actions(&body)?;
    let metadata = context.metadata().clone();
    blocking(move || Ok(metadata.grant_namespace_permission(&ns, &role, actions)?)).await?;
    Ok(no_content())
}

async fn revoke(
    context: web::Data<BrokerContext>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant, ns, role) = path.into_inner();
    let ns = namespace(&tenant, &ns)?;
    let metadata = context.metadata().clone();
    blocking(move || Ok(metadata.revoke_namespace_permission(&ns, &role)?)).await?;
    Ok(no_content())
}
