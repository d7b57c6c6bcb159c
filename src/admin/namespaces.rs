//! `/admin/v2/namespaces`: namespaces, their policies, bundles, unload and topic lists.

use actix_web::{web, HttpResponse};
use geminga_actors::{
    metadata::{AutoTopicCreationOverride, NamespaceName, Policies},
    ownership::BundleRange,
    registry::{DeleteTopic, NotifyTopics, TopicsOfNamespace, UnloadTopics},
    BrokerContext, RequestError,
};
use geminga_protocol::{proto::command_get_topics_of_namespace::Mode, topic_name::TopicDomain};
use serde::Deserialize;

use super::errors::{blocking, namespace, no_content, ApiError};

/// Registers the namespace routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    const NS: &str = "/admin/v2/namespaces/{tenant}/{namespace}";
    cfg.route("/admin/v2/namespaces/{tenant}", web::get().to(list))
        .route(NS, web::get().to(policies))
        .route(NS, web::put().to(create))
        .route(NS, web::delete().to(delete))
        .route(&format!("{NS}/topics"), web::get().to(topics))
        .route(&format!("{NS}/bundles"), web::get().to(bundles))
        .route(&format!("{NS}/unload"), web::put().to(unload))
        .route(
            &format!("{NS}/{{bundle}}/unload"),
            web::put().to(unload_bundle),
        )
        .route(
            &format!("{NS}/{{bundle}}/split"),
            web::put().to(split_bundle),
        )
        .route(&format!("{NS}/autoTopicCreation"), web::get().to(get_auto))
        .route(&format!("{NS}/autoTopicCreation"), web::post().to(set_auto))
        .route(
            &format!("{NS}/autoTopicCreation"),
            web::delete().to(remove_auto),
        );
}

type NsPath = web::Path<(String, String)>;

fn ns_of(path: &NsPath) -> Result<NamespaceName, ApiError> {
    namespace(&path.0, &path.1)
}

async fn list(
    context: web::Data<BrokerContext>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let metadata = context.metadata().clone();
    let tenant = path.into_inner();
    let namespaces = blocking(move || Ok(metadata.namespaces(&tenant)?)).await?;
    Ok(HttpResponse::Ok().json(namespaces))
}

async fn policies(
    context: web::Data<BrokerContext>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    let ns = ns_of(&path)?;
    let metadata = context.metadata().clone();
    let policies = blocking(move || Ok(metadata.policies(&ns)?)).await?;
    Ok(HttpResponse::Ok().json(policies))
}

async fn create(
    context: web::Data<BrokerContext>,
    path: NsPath,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let ns = ns_of(&path)?;
    let policies: Policies = if body.iter().all(u8::is_ascii_whitespace) {
        Policies::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid Policies: {e}")))?
    };
    let metadata = context.metadata().clone();
    blocking(move || Ok(metadata.create_namespace(&ns, policies)?)).await?;
    Ok(no_content())
}

#[derive(Debug, Default, Deserialize)]
struct ForceQuery {
    #[serde(default)]
    force: bool,
}

/// Deletes an empty namespace; with `force=true` its topics and partitioned topics go first.
async fn delete(
    context: web::Data<BrokerContext>,
    path: NsPath,
    query: web::Query<ForceQuery>,
) -> Result<HttpResponse, ApiError> {
    let ns = ns_of(&path)?;
    let registry = registry(&context)?;
    let topics = registry
        .send(TopicsOfNamespace {
            namespace: ns.clone(),
            mode: Mode::All,
        })
        .await??;
    if !topics.is_empty() && !query.force {
        return Err(ApiError::from(
            geminga_actors::metadata::MetadataError::NotEmpty {
                what: format!("namespace {ns}"),
                reason: format!("it still has {} topics", topics.len()),
            },
        ));
    }
    for name in &topics {
        match registry
            .send(DeleteTopic {
                name: name.clone(),
                force: true,
            })
            .await?
        {
            // Partitions listed from metadata may never have been used.
            Ok(()) | Err(RequestError::TopicNotFound { .. }) => {}
            Err(e) => return Err(ApiError::from(e)),
        }
    }
    let metadata = context.metadata().clone();
    let target = ns.clone();
    blocking(move || {
        for domain in [TopicDomain::Persistent, TopicDomain::NonPersistent] {
            for (base, _) in metadata.partitioned_topics(&target, domain)? {
                if let Ok(topic) = geminga_protocol::topic_name::TopicName::parse(&base) {
                    metadata.delete_partitioned(&topic)?;
                    metadata.delete_topic_policies(&topic)?;
                }
            }
        }
        Ok(metadata.delete_namespace(&target)?)
    })
    .await?;
    let bundles = context.ownership().owned();
    for (owned_ns, range) in bundles.iter().filter(|(n, _)| *n == ns) {
        context.ownership().release(owned_ns, range);
    }
    registry.do_send(NotifyTopics {
        added: Vec::new(),
        removed: topics,
    });
    Ok(no_content())
}

#[derive(Debug, Default, Deserialize)]
struct ModeQuery {
    mode: Option<String>,
}

/// The namespace's topics (`mode` = PERSISTENT, NON_PERSISTENT or ALL, default PERSISTENT),
/// partitions listed by partition name; what HTTP-lookup clients call for regex consumers.
async fn topics(
    context: web::Data<BrokerContext>,
    path: NsPath,
    query: web::Query<ModeQuery>,
) -> Result<HttpResponse, ApiError> {
    let ns = ns_of(&path)?;
    let mode = match query
        .mode
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("PERSISTENT") => Mode::Persistent,
        Some("NON_PERSISTENT") => Mode::NonPersistent,
        Some("ALL") => Mode::All,
        Some(other) => return Err(ApiError::bad_request(format!("unknown mode {other}"))),
    };
    let topics = registry(&context)?
        .send(TopicsOfNamespace {
            namespace: ns,
            mode,
        })
        .await??;
    Ok(HttpResponse::Ok().json(topics))
}

async fn bundles(
    context: web::Data<BrokerContext>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    let ns = ns_of(&path)?;
    let metadata = context.metadata().clone();
    let bundles = blocking(move || Ok(metadata.bundles(&ns)?)).await?;
    Ok(HttpResponse::Ok().json(bundles.to_data()))
}

/// Unloads every topic of the namespace: clients reconnect and the topics load afresh.
async fn unload(context: web::Data<BrokerContext>, path: NsPath) -> Result<HttpResponse, ApiError> {
    let ns = ns_of(&path)?;
    let metadata = context.metadata().clone();
    let target = ns.clone();
    let bundles = blocking(move || Ok(metadata.bundles(&target)?)).await?;
    registry(&context)?
        .send(UnloadTopics {
            namespace: ns.clone(),
            bundle: None,
        })
        .await?;
    for range in bundles.ranges() {
        context.ownership().release(&ns, &range);
    }
    Ok(no_content())
}

type BundlePath = web::Path<(String, String, String)>;

/// The namespace and one of its bundles (404 when the bundle is not one of them).
async fn bundle_of(
    context: &BrokerContext,
    path: &BundlePath,
) -> Result<(NamespaceName, BundleRange), ApiError> {
    let ns = namespace(&path.0, &path.1)?;
    let range = BundleRange::parse(&path.2)?;
    let metadata = context.metadata().clone();
    let target = ns.clone();
    let bundles = blocking(move || Ok(metadata.bundles(&target)?)).await?;
    if !bundles.contains(&range) {
        return Err(ApiError::from(
            geminga_actors::metadata::MetadataError::not_found(format!(
                "bundle {range} of namespace {ns}"
            )),
        ));
    }
    Ok((ns, range))
}

async fn unload_bundle(
    context: web::Data<BrokerContext>,
    path: BundlePath,
) -> Result<HttpResponse, ApiError> {
    let (ns, range) = bundle_of(&context, &path).await?;
    registry(&context)?
        .send(UnloadTopics {
            namespace: ns.clone(),
            bundle: Some(range),
        })
        .await?;
    context.ownership().release(&ns, &range);
    Ok(no_content())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SplitQuery {
    #[serde(default)]
    unload: bool,
    split_algorithm_name: Option<String>,
}

/// Splits a bundle in the middle of its hash range (`range_equally_divide`, the default).
async fn split_bundle(
    context: web::Data<BrokerContext>,
    path: BundlePath,
    query: web::Query<SplitQuery>,
) -> Result<HttpResponse, ApiError> {
    match query.split_algorithm_name.as_deref() {
        None | Some("range_equally_divide") => {}
        Some(other) => {
            return Err(ApiError::new(
                actix_web::http::StatusCode::PRECONDITION_FAILED,
                format!("unsupported split algorithm {other}; use range_equally_divide"),
            ))
        }
    }
    let (ns, range) = bundle_of(&context, &path).await?;
    let metadata = context.metadata().clone();
    let target = ns.clone();
    blocking(move || Ok(metadata.split_bundle(&target, &range)?)).await?;
    context.ownership().release(&ns, &range);
    if query.unload {
        registry(&context)?
            .send(UnloadTopics {
                namespace: ns,
                bundle: Some(range),
            })
            .await?;
    }
    Ok(no_content())
}

async fn get_auto(
    context: web::Data<BrokerContext>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    let ns = ns_of(&path)?;
    let metadata = context.metadata().clone();
    let policies = blocking(move || Ok(metadata.policies(&ns)?)).await?;
    Ok(match policies.auto_topic_creation_override {
        Some(value) => HttpResponse::Ok().json(value),
        None => HttpResponse::NoContent().finish(),
    })
}

async fn set_auto(
    context: web::Data<BrokerContext>,
    path: NsPath,
    body: web::Json<AutoTopicCreationOverride>,
) -> Result<HttpResponse, ApiError> {
    let ns = ns_of(&path)?;
    let value = body.into_inner();
    let metadata = context.metadata().clone();
    blocking(move || Ok(metadata.set_auto_topic_creation(&ns, Some(value))?)).await?;
    Ok(no_content())
}

async fn remove_auto(
    context: web::Data<BrokerContext>,
    path: NsPath,
) -> Result<HttpResponse, ApiError> {
    let ns = ns_of(&path)?;
    let metadata = context.metadata().clone();
    blocking(move || Ok(metadata.set_auto_topic_creation(&ns, None)?)).await?;
    Ok(no_content())
}

fn registry(
    context: &BrokerContext,
) -> Result<actix::Addr<geminga_actors::registry::TopicRegistry>, ApiError> {
    context
        .registry()
        .ok_or_else(|| ApiError::unavailable("the topic registry"))
}
