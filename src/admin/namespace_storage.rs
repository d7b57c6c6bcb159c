//! Namespace storage policies: `/admin/v2/namespaces/{tenant}/{namespace}/` `retention`,
//! `messageTTL`, `backlogQuotaMap`, `backlogQuota` and `compactionThreshold`, with Pulsar's
//! methods, bodies and codes. Loaded topics of the namespace get the new policies at once.

use actix_web::{web, HttpResponse};
use geminga_actors::{
    metadata::{BacklogQuota, BacklogQuotaType, MetadataError, NamespaceName, Policies},
    registry::ListLoadedTopics,
    topic::ApplyNamespacePolicies,
    BrokerContext,
};
use serde::Deserialize;
use serde_json::Value;

use super::errors::{blocking, namespace, no_content, ApiError};

/// Registers the routes.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    const NS: &str = "/admin/v2/namespaces/{tenant}/{namespace}";
    cfg.route(&format!("{NS}/retention"), web::get().to(get_retention))
        .route(&format!("{NS}/retention"), web::post().to(set_retention))
        .route(
            &format!("{NS}/retention"),
            web::delete().to(remove_retention),
        )
        .route(&format!("{NS}/messageTTL"), web::get().to(get_ttl))
        .route(&format!("{NS}/messageTTL"), web::post().to(set_ttl))
        .route(&format!("{NS}/messageTTL"), web::delete().to(remove_ttl))
        .route(&format!("{NS}/backlogQuotaMap"), web::get().to(get_quotas))
        .route(&format!("{NS}/backlogQuota"), web::post().to(set_quota))
        .route(
            &format!("{NS}/backlogQuota"),
            web::delete().to(remove_quota),
        )
        .route(
            &format!("{NS}/compactionThreshold"),
            web::get().to(get_threshold),
        )
        .route(
            &format!("{NS}/compactionThreshold"),
            web::put().to(set_threshold),
        )
        .route(
            &format!("{NS}/compactionThreshold"),
            web::post().to(set_threshold),
        )
        .route(
            &format!("{NS}/compactionThreshold"),
            web::delete().to(remove_threshold),
        );
}

type NsPath = web::Path<(String, String)>;

/// The namespace's policies.
async fn load(context: &BrokerContext, path: &NsPath) -> Result<Policies, ApiError> {
    let ns = namespace(&path.0, &path.1)?;
    let metadata = context.metadata().clone();
    blocking(move || Ok(metadata.policies(&ns)?)).await
}

/// Changes the namespace's policies and hands them to its loaded topics.
async fn update(
    context: &BrokerContext,
    path: &NsPath,
    change: impl FnMut(&mut Policies) -> Result<(), MetadataError> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    let ns = namespace(&path.0, &path.1)?;
    let metadata = context.metadata().clone();
    let target = ns.clone();
    let policies = blocking(move || {
        metadata.update_policies(&target, change)?;
        Ok(metadata.policies(&target)?)
    })
    .await?;
    notify(context, &ns, &policies).await?;
    Ok(no_content())
}

/// Sends the namespace's policies to its loaded topics (persistent and non-persistent).
async fn notify(
    context: &BrokerContext,
    ns: &NamespaceName,
    policies: &Policies,
) -> Result<(), ApiError> {
    let registry = context
        .registry()
        .ok_or_else(|| ApiError::unavailable("the topic registry"))?;
    for domain in ["persistent", "non-persistent"] {
        let prefix = format!("{domain}://{ns}/");
        let loaded = registry.send(ListLoadedTopics { prefix }).await?;
        for name in loaded {
            if let Ok(actor) = registry
                .send(geminga_actors::registry::GetTopic {
                    name,
                    create: false,
                })
                .await?
            {
                actor.do_send(ApplyNamespacePolicies {
                    policies: policies.clone(),
                });
            }
        }
    }
    Ok(())
}

/// A JSON body of type `T` (400 when it does not parse).
fn body<T: serde::de::DeserializeOwned>(bytes: &web::Bytes, what: &str) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(format!("{what} needs a value")));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

/// 200 with the value, or Pulsar's empty 204 when it is not set.
fn value_or_empty<T: serde::Serialize>(value: Option<T>) -> HttpResponse {
    match value {
        Some(value) => HttpResponse::Ok().json(value),
        None => HttpResponse::NoContent().finish(),
    }
}

async fn get_retention(
    context: web::Data<BrokerContext>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    Ok(value_or_empty(
        load(&context, &path).await?.retention_policies,
    ))
}

async fn set_retention(
    context: web::Data<BrokerContext>,
    path: NsPath,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let retention: geminga_actors::metadata::RetentionPolicies = body(&bytes, "retention")?;
    if retention.retention_time_in_minutes < -1 || retention.retention_size_in_mb < -1 {
        return Err(ApiError::bad_request(
            "retention time and size must be -1 (infinite) or more",
        ));
    }
    update(&context, &path, move |p| {
        p.retention_policies = Some(retention);
        Ok(())
    })
    .await
}

async fn remove_retention(
    context: web::Data<BrokerContext>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    update(&context, &path, |p| {
        p.retention_policies = None;
        Ok(())
    })
    .await
}

async fn get_ttl(
    context: web::Data<BrokerContext>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    Ok(value_or_empty(
        load(&context, &path).await?.message_ttl_in_seconds,
    ))
}

async fn set_ttl(
    context: web::Data<BrokerContext>,
    path: NsPath,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let ttl: Value = body(&bytes, "messageTTL")?;
    let ttl = ttl
        .as_u64()
        .and_then(|t| u32::try_from(t).ok())
        .ok_or_else(|| ApiError::bad_request(format!("invalid value for messageTTL: {ttl}")))?;
    update(&context, &path, move |p| {
        p.message_ttl_in_seconds = Some(ttl);
        Ok(())
    })
    .await
}

async fn remove_ttl(
    context: web::Data<BrokerContext>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    update(&context, &path, |p| {
        p.message_ttl_in_seconds = None;
        Ok(())
    })
    .await
}

async fn get_quotas(
    context: web::Data<BrokerContext>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(load(&context, &path).await?.backlog_quota_map))
}

/// `?backlogQuotaType=destination_storage|message_age` (Pulsar's default: destination_storage).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QuotaTypeQuery {
    backlog_quota_type: Option<String>,
}

impl QuotaTypeQuery {
    /// The quota type asked for (400 for an unknown one).
    pub(crate) fn kind(&self) -> Result<BacklogQuotaType, String> {
        match self.backlog_quota_type.as_deref() {
            None | Some("") => Ok(BacklogQuotaType::DestinationStorage),
            Some(name) => BacklogQuotaType::parse(name).ok_or_else(|| {
                format!("unknown backlogQuotaType {name}: use destination_storage or message_age")
            }),
        }
    }
}

/// Checks a backlog quota the way Pulsar does: limits are -1 or more, and the type's own
/// limit must be set.
pub(crate) fn check_quota(kind: BacklogQuotaType, quota: &BacklogQuota) -> Result<(), String> {
    if quota.limit_size < -1 || quota.limit_time < -1 {
        return Err("backlog quota limits must be -1 (none) or more".into());
    }
    let limit = match kind {
        BacklogQuotaType::DestinationStorage => quota.limit_size,
        _ => quota.limit_time,
    };
    if limit < 0 {
        return Err(format!(
            "a {kind} backlog quota needs its limit ({})",
            if kind == BacklogQuotaType::DestinationStorage {
                "limitSize"
            } else {
                "limitTime"
            }
        ));
    }
    Ok(())
}

async fn set_quota(
    context: web::Data<BrokerContext>,
    path: NsPath,
    query: web::Query<QuotaTypeQuery>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let kind = query.kind().map_err(ApiError::bad_request)?;
    let quota: BacklogQuota = body(&bytes, "backlog quota")?;
    check_quota(kind, &quota).map_err(ApiError::bad_request)?;
    update(&context, &path, move |p| {
        p.backlog_quota_map.insert(kind, quota);
        Ok(())
    })
    .await
}

async fn remove_quota(
    context: web::Data<BrokerContext>,
    path: NsPath,
    query: web::Query<QuotaTypeQuery>,
) -> Result<HttpResponse, ApiError> {
    let kind = query.kind().map_err(ApiError::bad_request)?;
    update(&context, &path, move |p| {
        p.backlog_quota_map.remove(&kind);
        Ok(())
    })
    .await
}

async fn get_threshold(
    context: web::Data<BrokerContext>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    Ok(value_or_empty(
        load(&context, &path).await?.compaction_threshold,
    ))
}

async fn set_threshold(
    context: web::Data<BrokerContext>,
    path: NsPath,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let value: Value = body(&bytes, "compactionThreshold")?;
    let threshold = value
        .as_i64()
        .filter(|t| *t >= 0)
        .ok_or_else(|| ApiError::bad_request(format!("invalid compactionThreshold: {value}")))?;
    update(&context, &path, move |p| {
        p.compaction_threshold = Some(threshold);
        Ok(())
    })
    .await
}

async fn remove_threshold(
    context: web::Data<BrokerContext>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    update(&context, &path, |p| {
        p.compaction_threshold = None;
        Ok(())
    })
    .await
}
