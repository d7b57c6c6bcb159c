//! The schema registry's admin paths, as Pulsar's `SchemasResource`, under
//! `/admin/v2/schemas/{tenant}/{namespace}/{topic}`:
//!
//! - `GET .../schema`: the latest version; `GET .../schema/{version}`: one version.
//! - `GET .../schemas`: every version in force (`getSchemaResponseList`);
//!   `GET .../versions`: their numbers.
//! - `POST .../schema` (`{"type", "schema", "properties"}`): adds a version under the topic's
//!   compatibility strategy (409 when incompatible).
//! - `DELETE .../schema` (`?force=true` removes every version).
//! - `POST .../compatibility`: would the schema be accepted; `POST .../version`: its version.

use std::collections::BTreeMap;

use actix_web::{http::StatusCode, web, HttpResponse};
use geminga_actors::{
    metadata::{
        schema_data_text, NamespaceName, SchemaCompatibilityStrategy, SchemaData, SchemaType,
        SchemaVersion,
    },
    schema::{self, SchemaError},
    topic::effective::PolicyLevels,
    BrokerContext,
};
use geminga_protocol::topic_name::TopicName;
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::{blocking, topic, ApiError};

const BASE: &str = "/admin/v2/schemas/{tenant}/{namespace}/{topic}";

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(&format!("{BASE}/schema"), web::get().to(latest))
        .route(&format!("{BASE}/schema"), web::post().to(post))
        .route(&format!("{BASE}/schema"), web::delete().to(delete))
        .route(
            &format!("{BASE}/schema/{{version}}"),
            web::get().to(version),
        )
        .route(&format!("{BASE}/schemas"), web::get().to(all))
        .route(&format!("{BASE}/versions"), web::get().to(versions))
        .route(
            &format!("{BASE}/compatibility"),
            web::post().to(compatibility),
        )
        .route(&format!("{BASE}/version"), web::post().to(version_of));
}

type SchemaPath = web::Path<(String, String, String)>;

/// The topic a schema path names (schemas are shared by both domains and all partitions).
fn schema_topic(path: &SchemaPath) -> Result<TopicName, ApiError> {
    topic("persistent", &path.0, &path.1, &path.2)
}

impl From<SchemaError> for ApiError {
    fn from(e: SchemaError) -> Self {
        match e {
            SchemaError::Incompatible { reason } => ApiError::new(StatusCode::CONFLICT, reason),
            SchemaError::Invalid { reason } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, reason)
            }
            SchemaError::NotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "Schema not found")
            }
            SchemaError::Metadata(e) => ApiError::from(e),
            other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

/// Pulsar's `GetSchemaResponse`.
fn describe(stored: &SchemaVersion) -> Value {
    json!({
        "version": stored.version,
        "type": stored.schema.schema_type,
        "timestamp": stored.timestamp,
        "data": schema_data_text(&stored.schema.data),
        "properties": stored.schema.properties,
    })
}

fn not_found() -> ApiError {
    ApiError::from(SchemaError::NotFound {
        what: "schema".into(),
    })
}

async fn latest(
    context: web::Data<BrokerContext>,
    path: SchemaPath,
) -> Result<HttpResponse, ApiError> {
    let topic = schema_topic(&path)?;
    let metadata = context.metadata().clone();
    let found = blocking(move || Ok(schema::get_schema(&metadata, &topic, None)?)).await?;
    found
        .map(|s| HttpResponse::Ok().json(describe(&s)))
        .ok_or_else(not_found)
}

async fn version(
    context: web::Data<BrokerContext>,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (tenant, ns, local, version) = path.into_inner();
    let topic = topic("persistent", &tenant, &ns, &local)?;
    let version: u64 = version
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid schema version {version:?}")))?;
    let metadata = context.metadata().clone();
    let found = blocking(move || Ok(schema::get_schema(&metadata, &topic, Some(version))?)).await?;
    found
        .map(|s| HttpResponse::Ok().json(describe(&s)))
        .ok_or_else(not_found)
}

/// The versions in force, oldest first.
async fn in_force(
    context: &BrokerContext,
    topic: TopicName,
) -> Result<Vec<SchemaVersion>, ApiError> {
    let metadata = context.metadata().clone();
    blocking(move || Ok(metadata.schema_history(&topic)?.active().to_vec())).await
}

async fn all(
    context: web::Data<BrokerContext>,
    path: SchemaPath,
) -> Result<HttpResponse, ApiError> {
    let versions = in_force(&context, schema_topic(&path)?).await?;
    let list: Vec<Value> = versions.iter().map(describe).collect();
    Ok(HttpResponse::Ok().json(json!({ "getSchemaResponseList": list })))
}

async fn versions(
    context: web::Data<BrokerContext>,
    path: SchemaPath,
) -> Result<HttpResponse, ApiError> {
    let versions = in_force(&context, schema_topic(&path)?).await?;
    let numbers: Vec<u64> = versions.iter().map(|v| v.version).collect();
    Ok(HttpResponse::Ok().json(numbers))
}

/// Pulsar's `PostSchemaPayload`.
#[derive(Debug, Deserialize)]
struct PostSchemaPayload {
    #[serde(rename = "type")]
    schema_type: String,
    #[serde(default)]
    schema: String,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

fn payload_schema(body: &[u8]) -> Result<SchemaData, ApiError> {
    let payload: PostSchemaPayload = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid schema payload: {e}")))?;
    let schema_type: SchemaType = serde_json::from_value(Value::from(
        payload.schema_type.to_ascii_uppercase(),
    ))
    .map_err(|_| ApiError::bad_request(format!("unknown schema type {}", payload.schema_type)))?;
    Ok(SchemaData {
        schema_type,
        data: payload.schema.into_bytes(),
        properties: payload.properties,
    })
}

/// The topic's effective compatibility strategy (topic, namespace, broker).
fn strategy_of(
    context: &BrokerContext,
    topic: &TopicName,
) -> Result<SchemaCompatibilityStrategy, ApiError> {
    let metadata = context.metadata();
    let namespace = metadata.policies(&NamespaceName::of_topic(topic))?;
    let policies = metadata.topic_policies(topic)?.unwrap_or_default();
    Ok(PolicyLevels {
        topic: &policies,
        namespace: &namespace,
        broker: context.config(),
    }
    .schema_strategy())
}

async fn post(
    context: web::Data<BrokerContext>,
    path: SchemaPath,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let topic = schema_topic(&path)?;
    let data = payload_schema(&body)?;
    let context = context.into_inner();
    let version = blocking(move || {
        let strategy = strategy_of(&context, &topic)?;
        Ok(schema::add_schema(
            context.metadata(),
            &topic,
            &data,
            strategy,
            true,
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "version": { "version": version } })))
}

#[derive(Debug, Default, Deserialize)]
struct ForceQuery {
    #[serde(default)]
    force: bool,
}

async fn delete(
    context: web::Data<BrokerContext>,
    path: SchemaPath,
    query: web::Query<ForceQuery>,
) -> Result<HttpResponse, ApiError> {
    let topic = schema_topic(&path)?;
    let metadata = context.metadata().clone();
    let force = query.force;
    let marker = blocking(move || Ok(schema::delete_schema(&metadata, &topic, force)?)).await?;
    let version = marker.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
    Ok(HttpResponse::Ok().json(json!({ "version": version })))
}

async fn compatibility(
    context: web::Data<BrokerContext>,
    path: SchemaPath,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let topic = schema_topic(&path)?;
    let data = payload_schema(&body)?;
    let context = context.into_inner();
    let (compatible, strategy) = blocking(move || {
        let strategy = strategy_of(&context, &topic)?;
        schema::validate(&data)?;
        let history = context.metadata().schema_history(&topic)?;
        let compatible = schema::check_compatible(history.active(), &data, strategy).is_ok();
        Ok((compatible, strategy))
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({
        "isCompatibility": compatible,
        "schemaCompatibilityStrategy": strategy.as_str(),
    })))
}

async fn version_of(
    context: web::Data<BrokerContext>,
    path: SchemaPath,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let topic = schema_topic(&path)?;
    let data = payload_schema(&body)?;
    let versions = in_force(&context, topic).await?;
    versions
        .iter()
        .find(|v| v.schema.same_as(&data))
        .map(|v| HttpResponse::Ok().json(json!({ "version": v.version })))
        .ok_or_else(not_found)
}
