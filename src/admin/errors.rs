//! Admin API errors: Pulsar's status codes with a JSON body `{"reason": "..."}`.

use std::fmt;

use actix_web::{http::StatusCode, web, HttpResponse, ResponseError};
use geminga_actors::{
    metadata::{MetadataError, NamespaceName},
    ownership::LookupError,
    RequestError,
};
use geminga_protocol::topic_name::TopicName;

/// An admin request that failed, with the status Pulsar would answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    reason: String,
}

impl ApiError {
    /// An error with `status` and `reason`.
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }

    /// 500: a blocking task or an actor went away.
    pub fn unavailable(what: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{what} is not available"),
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.reason)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(serde_json::json!({ "reason": self.reason }))
    }
}

impl From<MetadataError> for ApiError {
    fn from(e: MetadataError) -> Self {
        let status =
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::new(status, e.to_string())
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        Self::new(status_of(&e), reason_of(&e))
    }
}

/// The HTTP status Pulsar's admin API answers for a request error.
pub fn status_of(error: &RequestError) -> StatusCode {
    match error {
        RequestError::TopicNotFound { .. }
        | RequestError::NamespaceNotFound { .. }
        | RequestError::SubscriptionNotFound { .. } => StatusCode::NOT_FOUND,
        RequestError::InvalidTopicName { .. } | RequestError::Malformed { .. } => {
            StatusCode::BAD_REQUEST
        }
        RequestError::AlreadyExists { .. }
        | RequestError::Conflict { .. }
        | RequestError::IncompatibleSchema { .. }
        | RequestError::ProducerFenced { .. } => StatusCode::CONFLICT,
        RequestError::PreconditionFailed { .. }
        | RequestError::ConsumerBusy { .. }
        | RequestError::ProducerBusy { .. }
        | RequestError::TopicTerminated { .. } => StatusCode::PRECONDITION_FAILED,
        RequestError::NotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        RequestError::ServiceNotReady { .. } => StatusCode::SERVICE_UNAVAILABLE,
        RequestError::NotAuthorized { .. } => StatusCode::FORBIDDEN,
        RequestError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The `reason` text, worded as Pulsar's where clients match on it.
pub fn reason_of(error: &RequestError) -> String {
    match error {
        RequestError::TopicNotFound { topic } => format!("Topic {topic} not found"),
        RequestError::SubscriptionNotFound { subscription, .. } => {
            format!("Subscription {subscription} not found")
        }
        other => other.to_string(),
    }
}

impl From<LookupError> for ApiError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::NamespaceMissing { .. } => Self::new(StatusCode::NOT_FOUND, e.to_string()),
            LookupError::Metadata(e) => Self::from(e),
            other => Self::new(StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
        }
    }
}

impl From<actix::MailboxError> for ApiError {
    fn from(_: actix::MailboxError) -> Self {
        Self::unavailable("the topic registry")
    }
}

/// Runs blocking metadata or storage work on the blocking pool.
///
/// # Errors
/// What `work` returns, or 503 when the pool task failed.
pub async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    web::block(work)
        .await
        .map_err(|_| ApiError::unavailable("the blocking pool"))?
}

/// `tenant/namespace` from path segments (400 when invalid).
///
/// # Errors
/// 400 for an invalid name.
pub fn namespace(tenant: &str, namespace: &str) -> Result<NamespaceName, ApiError> {
    NamespaceName::new(tenant, namespace).map_err(ApiError::from)
}

/// A topic from `{domain}/{tenant}/{namespace}/{topic}` path segments.
///
/// # Errors
/// 400 for an invalid name.
pub fn topic(domain: &str, tenant: &str, ns: &str, local: &str) -> Result<TopicName, ApiError> {
    namespace(tenant, ns)?;
    TopicName::parse(&format!("{domain}://{tenant}/{ns}/{local}"))
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// 204 No Content, what Pulsar answers for successful writes.
pub fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}
