//! Topic permissions: `GET .../{topic}/permissions` (the namespace's grants joined with the
//! topic's, as Pulsar lists them), `POST|DELETE .../{topic}/permissions/{role}`.

use actix_web::{guard, web, HttpResponse};
use geminga_actors::BrokerContext;
use serde::Deserialize;

use super::super::{
    errors::{blocking, no_content, topic, ApiError},
    namespace_policies::parse_actions,
};

/// Registers the routes under `topic` (the topic path pattern).
pub(super) fn routes(cfg: &mut web::ServiceConfig, topic: &str) {
    let list = format!("{topic}/permissions");
    let one = format!("{topic}/permissions/{{role}}");
    cfg.service(
        web::resource(&list)
            .guard(guard::Get())
            .to(list_permissions),
    )
    .service(web::resource(&one).guard(guard::Post()).to(grant))
    .service(web::resource(&one).guard(guard::Delete()).to(revoke));
}

#[derive(Debug, Deserialize)]
struct RolePath {
    domain: String,
    tenant: String,
    namespace: String,
    topic: String,
    role: String,
}

#[derive(Debug, Deserialize)]
struct PlainPath {
    domain: String,
    tenant: String,
    namespace: String,
    topic: String,
}

async fn list_permissions(
    context: web::Data<BrokerContext>,
    path: web::Path<PlainPath>,
) -> Result<HttpResponse, ApiError> {
    let t = topic(&path.domain, &path.tenant, &path.namespace, &path.topic)?;
    let metadata = context.metadata().clone();
    let grants = blocking(move || Ok(metadata.topic_permissions(&t)?)).await?;
    Ok(HttpResponse::Ok().json(grants))
}

async fn grant(
    context: web::Data<BrokerContext>,
    path: web::Path<RolePath>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let t = topic(&path.domain, &path.tenant, &path.namespace, &path.topic)?;
    let actions = parse_actions(&body)?;
    let (metadata, role) = (context.metadata().clone(), path.role.clone());
    blocking(move || Ok(metadata.grant_topic_permission(&t, &role, actions)?)).await?;
    Ok(no_content())
}

async fn revoke(
    context: web::Data<BrokerContext>,
    path: web::Path<RolePath>,
) -> Result<HttpResponse, ApiError> {
    let t = topic(&path.domain, &path.tenant, &path.namespace, &path.topic)?;
    let (metadata, role) = (context.metadata().clone(), path.role.clone());
    blocking(move || Ok(metadata.revoke_topic_permission(&t, &role)?)).await?;
    Ok(no_content())
}
