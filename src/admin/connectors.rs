//! `/admin/v3/sources/...` and `/admin/v3/sinks/...`: Pulsar's connector REST API. Create
//! and update take Pulsar's multipart form (a `sourceConfig`/`sinkConfig` JSON part) or a
//! plain JSON body.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use geminga_actors::BrokerContext;
use serde_json::{json, Value};

use super::{
    errors::{no_content, ApiError},
    multipart,
};
use crate::connectors::{ConnectorError, ConnectorId, ConnectorKind, Connectors};

/// Registers the connector routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    const KIND: &str = "/admin/v3/{kind:sources|sinks}";
    cfg.route(
        "/admin/v3/sources/builtinsources",
        web::get().to(builtin_sources),
    )
    .route("/admin/v3/sinks/builtinsinks", web::get().to(builtin_sinks))
    .route(
        "/admin/v3/sources/reloadBuiltInSources",
        web::post().to(reload),
    )
    .route("/admin/v3/sinks/reloadBuiltInSinks", web::post().to(reload))
    .route(
        &format!("{KIND}/{{tenant}}/{{namespace}}"),
        web::get().to(list),
    )
    .route(
        &format!("{KIND}/{{tenant}}/{{namespace}}/{{name}}"),
        web::get().to(get),
    )
    .route(
        &format!("{KIND}/{{tenant}}/{{namespace}}/{{name}}"),
        web::post().to(create),
    )
    .route(
        &format!("{KIND}/{{tenant}}/{{namespace}}/{{name}}"),
        web::put().to(update),
    )
    .route(
        &format!("{KIND}/{{tenant}}/{{namespace}}/{{name}}"),
        web::delete().to(delete),
    )
    .route(
        &format!("{KIND}/{{tenant}}/{{namespace}}/{{name}}/{{what:status|stats}}"),
        web::get().to(report),
    )
    .route(
        &format!("{KIND}/{{tenant}}/{{namespace}}/{{name}}/{{instance}}/{{what:status|stats}}"),
        web::get().to(instance_report),
    )
    .route(
        &format!("{KIND}/{{tenant}}/{{namespace}}/{{name}}/{{action:start|stop|restart}}"),
        web::post().to(action),
    )
    .route(
        &format!(
            "{KIND}/{{tenant}}/{{namespace}}/{{name}}/{{instance}}/{{action:start|stop|restart}}"
        ),
        web::post().to(instance_action),
    );
}

impl From<ConnectorError> for ApiError {
    fn from(e: ConnectorError) -> Self {
        let status = match &e {
            ConnectorError::InvalidConfig { .. } => StatusCode::BAD_REQUEST,
            ConnectorError::NotFound { .. } => StatusCode::NOT_FOUND,
            ConnectorError::AlreadyExists { .. } => StatusCode::CONFLICT,
            ConnectorError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

fn service(context: &BrokerContext) -> Result<std::sync::Arc<Connectors>, ApiError> {
    context
        .extension::<Connectors>()
        .ok_or_else(|| ApiError::unavailable("the connector runtime"))
}

fn kind(plural: &str) -> ConnectorKind {
    if plural == "sinks" {
        ConnectorKind::Sink
    } else {
        ConnectorKind::Source
    }
}

fn id(plural: &str, tenant: &str, namespace: &str, name: &str) -> Result<ConnectorId, ApiError> {
    Ok(ConnectorId::new(kind(plural), tenant, namespace, name)?)
}

fn instance(text: &str) -> Result<u32, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("invalid instance id {text:?}")))
}

/// The config of a create/update request: the multipart part or the whole JSON body.
fn config_body(request: &HttpRequest, kind: ConnectorKind, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let part = match kind {
        ConnectorKind::Source => "sourceConfig",
        ConnectorKind::Sink => "sinkConfig",
    };
    let json = match multipart::boundary(content_type) {
        Some(boundary) => {
            let mut parts = multipart::parts(body, &boundary).map_err(ApiError::bad_request)?;
            if parts.contains_key("data") {
                return Err(ApiError::bad_request(
                    "uploading connector archives is not supported: use a built-in type (builtin://<type>)",
                ));
            }
            parts
                .remove(part)
                .ok_or_else(|| ApiError::bad_request(format!("the form has no {part} part")))?
        }
        None => body.to_vec(),
    };
    if json.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(&json).map_err(|e| ApiError::bad_request(format!("invalid {part}: {e}")))
}

async fn builtin_sources(context: web::Data<BrokerContext>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(service(&context)?.builtins(ConnectorKind::Source)))
}

async fn builtin_sinks(context: web::Data<BrokerContext>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(service(&context)?.builtins(ConnectorKind::Sink)))
}

async fn reload(context: web::Data<BrokerContext>) -> Result<HttpResponse, ApiError> {
    service(&context)?.reload_builtins();
    Ok(no_content())
}

async fn list(
    context: web::Data<BrokerContext>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (plural, tenant, namespace) = path.into_inner();
    super::errors::namespace(&tenant, &namespace)?;
    let names = service(&context)?
        .list(kind(&plural), &tenant, &namespace)
        .await?;
    Ok(HttpResponse::Ok().json(names))
}

type NamePath = web::Path<(String, String, String, String)>;

async fn get(context: web::Data<BrokerContext>, path: NamePath) -> Result<HttpResponse, ApiError> {
    let (plural, tenant, namespace, name) = path.into_inner();
    let config = service(&context)?
        .get(&id(&plural, &tenant, &namespace, &name)?)
        .await?;
    Ok(HttpResponse::Ok().json(config))
}

async fn create(
    context: web::Data<BrokerContext>,
    path: NamePath,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (plural, tenant, namespace, name) = path.into_inner();
    let id = id(&plural, &tenant, &namespace, &name)?;
    let config = config_body(&request, id.kind, &body)?;
    service(&context)?.create(&id, config).await?;
    Ok(no_content())
}

async fn update(
    context: web::Data<BrokerContext>,
    path: NamePath,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (plural, tenant, namespace, name) = path.into_inner();
    let id = id(&plural, &tenant, &namespace, &name)?;
    let config = config_body(&request, id.kind, &body)?;
    service(&context)?.update(&id, config).await?;
    Ok(no_content())
}

async fn delete(
    context: web::Data<BrokerContext>,
    path: NamePath,
) -> Result<HttpResponse, ApiError> {
    let (plural, tenant, namespace, name) = path.into_inner();
    service(&context)?
        .delete(&id(&plural, &tenant, &namespace, &name)?)
        .await?;
    Ok(no_content())
}

async fn answer(
    context: &BrokerContext,
    id: &ConnectorId,
    what: &str,
    instance: Option<u32>,
) -> Result<HttpResponse, ApiError> {
    let service = service(context)?;
    let doc = if what == "stats" {
        service.stats(id, instance).await?
    } else {
        service.status(id, instance).await?
    };
    Ok(HttpResponse::Ok().json(doc))
}

async fn report(
    context: web::Data<BrokerContext>,
    path: web::Path<(String, String, String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (plural, tenant, namespace, name, what) = path.into_inner();
    answer(
        &context,
        &id(&plural, &tenant, &namespace, &name)?,
        &what,
        None,
    )
    .await
}

async fn instance_report(
    context: web::Data<BrokerContext>,
    path: web::Path<(String, String, String, String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (plural, tenant, namespace, name, i, what) = path.into_inner();
    let id = id(&plural, &tenant, &namespace, &name)?;
    answer(&context, &id, &what, Some(instance(&i)?)).await
}

async fn run_action(
    context: &BrokerContext,
    id: &ConnectorId,
    action: &str,
    instance: Option<u32>,
) -> Result<HttpResponse, ApiError> {
    let service = service(context)?;
    match action {
        "start" => service.set_running(id, instance, true).await?,
        "stop" => service.set_running(id, instance, false).await?,
        _ => service.restart(id, instance).await?,
    }
    Ok(no_content())
}

async fn action(
    context: web::Data<BrokerContext>,
    path: web::Path<(String, String, String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (plural, tenant, namespace, name, action) = path.into_inner();
    run_action(
        &context,
        &id(&plural, &tenant, &namespace, &name)?,
        &action,
        None,
    )
    .await
}

async fn instance_action(
    context: web::Data<BrokerContext>,
    path: web::Path<(String, String, String, String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (plural, tenant, namespace, name, i, action) = path.into_inner();
    let id = id(&plural, &tenant, &namespace, &name)?;
    run_action(&context, &id, &action, Some(instance(&i)?)).await
}
