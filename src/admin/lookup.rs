//! `/lookup/v2/topic/...`: HTTP topic lookup for clients given an `http://` service URL.

use actix_web::{web, HttpRequest, HttpResponse};
use geminga_actors::{
    ownership::{bundle_of_topic, lookup_topic, topic_error},
    BrokerContext,
};
use serde::Deserialize;

use super::errors::{blocking, topic, ApiError};

/// Registers the lookup routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    const TOPIC: &str =
        "/lookup/v2/topic/{domain:persistent|non-persistent}/{tenant}/{namespace}/{topic}";
    cfg.route(TOPIC, web::get().to(lookup))
        .route(&format!("{TOPIC}/bundle"), web::get().to(bundle));
}

type TopicPath = web::Path<(String, String, String, String)>;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LookupQuery {
    listener_name: Option<String>,
}

/// Header Pulsar's HTTP clients name their listener in.
const LISTENER_HEADER: &str = "X-Pulsar-ListenerName";

/// The owner of the topic's bundle: `brokerUrl`, `brokerUrlTls`, `httpUrl`, `httpUrlTls`,
/// `nativeUrl`. The C++ client needs `brokerUrlTls` present, so it is always written.
async fn lookup(
    context: web::Data<BrokerContext>,
    path: TopicPath,
    query: web::Query<LookupQuery>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let topic = topic(&path.0, &path.1, &path.2, &path.3)?;
    let listener = query.into_inner().listener_name.or_else(|| {
        request
            .headers()
            .get(LISTENER_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    let metadata = context.metadata().clone();
    let ownership = context.ownership().clone();
    let answer = blocking(move || {
        Ok(lookup_topic(
            &metadata,
            ownership.as_ref(),
            &topic,
            listener.as_deref(),
        )?)
    })
    .await?;
    let a = answer.address;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "brokerUrl": a.broker_url.clone().unwrap_or_default(),
        "brokerUrlTls": a.broker_url_tls.clone().unwrap_or_default(),
        "httpUrl": a.http_url.clone().unwrap_or_default(),
        "httpUrlTls": a.http_url_tls.clone().unwrap_or_default(),
        "nativeUrl": a.broker_url.unwrap_or_default(),
    })))
}

/// The bundle range the topic belongs to, as plain text (`0x00000000_0x40000000`).
async fn bundle(
    context: web::Data<BrokerContext>,
    path: TopicPath,
) -> Result<HttpResponse, ApiError> {
    let topic = topic(&path.0, &path.1, &path.2, &path.3)?;
    let metadata = context.metadata().clone();
    let range = blocking(move || {
        bundle_of_topic(&metadata, &topic).map_err(|e| ApiError::from(topic_error(&topic, e)))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain")
        .body(range.to_string()))
}
