//! A topic's log: backlog quotas (`backlogQuotaMap`, `backlogQuota`), compaction (`PUT|GET
//! .../compaction`) and `GET .../storage-holds`, Geminga's explanation of what keeps the
//! topic's storage (which cursor, retention policy or grace period holds how many bytes).

use std::collections::BTreeMap;

use actix_web::{guard, web, HttpResponse};
use geminga_actors::{
    metadata::{BacklogQuotaMap, BacklogQuotaType, NamespaceName},
    topic::{
        compaction::{CompactionStatusReport, GetCompactionStatus, TriggerCompaction},
        GetStorageHolds,
    },
    BrokerContext, RequestError,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    bad_request,
    policies::{existing_topic, read_document, write_document},
    respond, targets, topic_actor, TopicPath,
};
use crate::admin::namespace_storage::{check_quota, QuotaTypeQuery};

/// Field of the backlog quotas in Pulsar's `TopicPolicies`.
const QUOTA_FIELD: &str = "backLogQuotaMap";

/// Registers the routes under `topic` (the topic path pattern).
pub(super) fn routes(cfg: &mut web::ServiceConfig, topic: &str) {
    let at = |suffix: &str| format!("{topic}/{suffix}");
    cfg.service(
        web::resource(at("backlogQuotaMap"))
            .guard(guard::Get())
            .to(get_quotas),
    )
    .service(
        web::resource(at("backlogQuota"))
            .guard(guard::Post())
            .to(set_quota),
    )
    .service(
        web::resource(at("backlogQuota"))
            .guard(guard::Delete())
            .to(remove_quota),
    )
    .service(
        web::resource(at("compaction"))
            .guard(guard::Put())
            .to(compact),
    )
    .service(
        web::resource(at("compaction"))
            .guard(guard::Get())
            .to(compaction_status),
    )
    .service(
        web::resource(at("storage-holds"))
            .guard(guard::Get())
            .to(storage_holds),
    );
}

/// `?applied=true`.
#[derive(Debug, Default, Deserialize)]
struct AppliedQuery {
    #[serde(default)]
    applied: bool,
}

fn quotas_of(document: &Map<String, Value>) -> BacklogQuotaMap {
    document
        .get(QUOTA_FIELD)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// The quotas in effect when the topic sets none: the namespace's, else the broker's.
async fn applied_quotas(
    context: &BrokerContext,
    topic: &geminga_protocol::topic_name::TopicName,
) -> Result<BacklogQuotaMap, RequestError> {
    let metadata = context.metadata().clone();
    let ns = NamespaceName::of_topic(topic);
    let policies = actix_rt::task::spawn_blocking(move || metadata.policies(&ns))
        .await
        .map_err(|_| RequestError::unavailable("the metadata store"))??;
    if !policies.backlog_quota_map.is_empty() {
        return Ok(policies.backlog_quota_map);
    }
    let defaults = context.config().storage_policies.defaults;
    let resolved = geminga_actors::metadata::EffectivePolicies::resolve(
        &geminga_actors::metadata::TopicPolicies::default(),
        &policies,
        &defaults,
    );
    let mut map = BTreeMap::new();
    for (kind, sourced) in [
        (BacklogQuotaType::DestinationStorage, resolved.size_quota),
        (BacklogQuotaType::MessageAge, resolved.age_quota),
    ] {
        if let Some(sourced) = sourced {
            map.insert(kind, sourced.value);
        }
    }
    Ok(map)
}

async fn get_quotas(
    context: web::Data<BrokerContext>,
    path: web::Path<TopicPath>,
    query: web::Query<AppliedQuery>,
) -> HttpResponse {
    let found = async {
        let topic = existing_topic(&context, &path).await?;
        let quotas = quotas_of(&read_document(&context, &topic).await?);
        let quotas = if quotas.is_empty() && query.applied {
            applied_quotas(&context, &topic).await?
        } else {
            quotas
        };
        Ok(HttpResponse::Ok().json(quotas))
    };
    respond(found.await)
}

async fn set_quota(
    context: web::Data<BrokerContext>,
    path: web::Path<TopicPath>,
    query: web::Query<QuotaTypeQuery>,
    body: web::Bytes,
) -> HttpResponse {
    let stored = async {
        let kind = query.kind().map_err(bad_request)?;
        let quota = serde_json::from_slice(&body)
            .map_err(|e| bad_request(format!("invalid backlog quota: {e}")))?;
        check_quota(kind, &quota).map_err(bad_request)?;
        let topic = existing_topic(&context, &path).await?;
        let mut document = read_document(&context, &topic).await?;
        let mut quotas = quotas_of(&document);
        quotas.insert(kind, quota);
        document.insert(QUOTA_FIELD.to_owned(), quota_value(&quotas)?);
        write_document(&context, &topic, document).await?;
        Ok(HttpResponse::NoContent().finish())
    };
    respond(stored.await)
}

async fn remove_quota(
    context: web::Data<BrokerContext>,
    path: web::Path<TopicPath>,
    query: web::Query<QuotaTypeQuery>,
) -> HttpResponse {
    let removed = async {
        let kind = query.kind().map_err(bad_request)?;
        let topic = existing_topic(&context, &path).await?;
        let mut document = read_document(&context, &topic).await?;
        let mut quotas = quotas_of(&document);
        if quotas.remove(&kind).is_some() {
            if quotas.is_empty() {
                document.remove(QUOTA_FIELD);
            } else {
                document.insert(QUOTA_FIELD.to_owned(), quota_value(&quotas)?);
            }
            write_document(&context, &topic, document).await?;
        }
        Ok(HttpResponse::NoContent().finish())
    };
    respond(removed.await)
}

fn quota_value(quotas: &BacklogQuotaMap) -> Result<Value, RequestError> {
    serde_json::to_value(quotas).map_err(|e| bad_request(e.to_string()))
}

/// Whether `names` are the partitions of `topic` rather than the topic itself.
fn is_partitioned(topic: &geminga_protocol::topic_name::TopicName, names: &[String]) -> bool {
    names.first() != Some(&topic.to_string())
}

/// Triggers a compaction of the topic (of every partition of a partitioned topic).
async fn compact(context: web::Data<BrokerContext>, path: web::Path<TopicPath>) -> HttpResponse {
    let triggered = async {
        let topic = path.topic_name()?;
        let names = targets(&context, &topic).await?;
        let partitioned = is_partitioned(&topic, &names);
        for name in names {
            let actor = match topic_actor(&context, &name, false).await {
                Ok(actor) => actor,
                // A partition nobody used yet has nothing to compact.
                Err(RequestError::TopicNotFound { .. }) if partitioned => continue,
                Err(e) => return Err(e),
            };
            actor.send(TriggerCompaction).await??;
        }
        Ok(HttpResponse::NoContent().finish())
    };
    respond(triggered.await)
}

/// The compaction status; for a partitioned topic, the least advanced of its partitions'.
async fn compaction_status(
    context: web::Data<BrokerContext>,
    path: web::Path<TopicPath>,
) -> HttpResponse {
    let found = async {
        let topic = path.topic_name()?;
        let mut reports: Vec<CompactionStatusReport> = Vec::new();
        let names = targets(&context, &topic).await?;
        let partitioned = is_partitioned(&topic, &names);
        for name in names {
            let actor = match topic_actor(&context, &name, false).await {
                Ok(actor) => actor,
                Err(RequestError::TopicNotFound { .. }) if partitioned => continue,
                Err(e) => return Err(e),
            };
            reports.push(actor.send(GetCompactionStatus).await?);
        }
        let rank = |status: &str| match status {
            "ERROR" => 0,
            "RUNNING" => 1,
            "NOT_RUN" => 2,
            _ => 3,
        };
        reports.sort_by_key(|r| rank(r.status));
        let report = reports
            .into_iter()
            .next()
            .ok_or_else(|| RequestError::TopicNotFound {
                topic: topic.to_string(),
            })?;
        Ok(HttpResponse::Ok().json(report))
    };
    respond(found.await)
}

/// What holds the topic's storage; for a partitioned topic, one report per partition.
async fn storage_holds(
    context: web::Data<BrokerContext>,
    path: web::Path<TopicPath>,
) -> HttpResponse {
    let found = async {
        let topic = path.topic_name()?;
        let names = targets(&context, &topic).await?;
        let partitioned = is_partitioned(&topic, &names);
        let mut reports = Map::new();
        for name in names {
            let actor = match topic_actor(&context, &name, false).await {
                Ok(actor) => actor,
                // A partition nobody used yet stores nothing.
                Err(RequestError::TopicNotFound { .. }) if partitioned => continue,
                Err(e) => return Err(e),
            };
            let report = actor.send(GetStorageHolds).await??;
            let value = serde_json::to_value(report).map_err(|e| bad_request(e.to_string()))?;
            if !partitioned {
                return Ok(HttpResponse::Ok().json(value));
            }
            reports.insert(name, value);
        }
        Ok(HttpResponse::Ok().json(serde_json::json!({ "partitions": reports })))
    };
    respond(found.await)
}
