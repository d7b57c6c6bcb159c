//! Authentication and authorization of admin requests: a middleware that finds the caller's
//! role (`Authorization: Bearer`/`Basic`, or the HTTPS client certificate), decides from the
//! method and path what the request needs, and refuses it before any handler runs.

use std::{any::Any, sync::Arc};

use actix_web::{
    body::MessageBody,
    dev::{Extensions, ServiceRequest, ServiceResponse},
    http::{header, Method, StatusCode},
    middleware::Next,
    web, HttpMessage, ResponseError,
};
use base64::{engine::general_purpose, Engine};
use geminga_actors::{
    metadata::NamespaceName,
    security::{
        AccessCheck, AuthAction, AuthError, NamespaceOperation, Security, TopicOperation,
        METHOD_BASIC, METHOD_TOKEN,
    },
    BrokerContext, RequestError,
};
use geminga_protocol::topic_name::TopicName;
use rustls_pki_types::CertificateDer;

use super::errors::ApiError;

/// What the admin API needs to check callers.
#[derive(Clone, Debug)]
pub struct AdminSecurity {
    /// The broker's security settings.
    pub security: Arc<Security>,
    /// `/metrics` needs a superuser (`authenticateMetricsEndpoint`).
    pub protect_metrics: bool,
}

/// The client certificate chain of an HTTPS connection.
#[derive(Clone, Debug)]
struct PeerCertificates(Vec<CertificateDer<'static>>);

/// Keeps the HTTPS client's certificates with the connection (`HttpServer::on_connect`).
pub fn on_connect(connection: &dyn Any, data: &mut Extensions) {
    type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    if let Some(tls) = connection.downcast_ref::<Tls>() {
        if let Some(chain) = tls.get_ref().1.peer_certificates() {
            let chain = chain.iter().map(|c| c.clone().into_owned()).collect();
            data.insert(PeerCertificates(chain));
        }
    }
}

/// What a request needs, from its method and path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// Nothing (the static status page).
    Open,
    /// Any authenticated caller (cluster names, connector types).
    Authenticated,
    /// A superuser.
    Superuser,
    /// Any caller; the handler lists only the tenants the caller administers.
    TenantList,
    /// An admin of the tenant.
    TenantAdmin(String),
    /// An operation on a namespace.
    Namespace(NamespaceName, NamespaceOperation),
    /// An operation on a topic.
    Topic(TopicName, TopicOperation),
    /// A superuser when `authenticateMetricsEndpoint` is on, else anyone.
    Metrics,
}

/// The middleware: authenticates, authorizes, and leaves the caller's [`AccessCheck`] in the
/// request's extensions for handlers that filter what they list.
///
/// # Errors
/// Errors of the wrapped service.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(settings) = req.app_data::<web::Data<AdminSecurity>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let Some(context) = req.app_data::<web::Data<BrokerContext>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    match check(&req, &settings, &context).await {
        Ok(access) => {
            req.extensions_mut().insert(access);
            next.call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
        Err(e) => Ok(req.into_response(e.error_response()).map_into_right_body()),
    }
}

async fn check(
    req: &ServiceRequest,
    settings: &AdminSecurity,
    context: &BrokerContext,
) -> Result<AccessCheck, ApiError> {
    let security = settings.security.clone();
    let requirement = requirement(req.method(), req.path());
    if requirement == Requirement::Open {
        return Ok(AccessCheck::new(security, context.metadata().clone(), None));
    }
    let (method, data) = credentials(req)?;
    let certificates = req.conn_data::<PeerCertificates>().map(|c| c.0.clone());
    let metadata = context.metadata().clone();
    let protect_metrics = settings.protect_metrics;
    super::errors::blocking(move || {
        let role = match &security.authentication {
            Some(authenticator) => Some(
                authenticator
                    .authenticate(
                        method.as_deref(),
                        &data,
                        certificates.as_deref(),
                        security.anonymous_role.as_deref(),
                    )
                    .map_err(unauthenticated)?
                    .role,
            ),
            None => security.anonymous_role.clone(),
        };
        let authenticated = security.authentication.is_none() || role.is_some();
        let access = AccessCheck::new(security.clone(), metadata, role);
        authorize(&access, &requirement, authenticated, protect_metrics).map_err(ApiError::from)?;
        Ok(access)
    })
    .await
}

fn authorize(
    access: &AccessCheck,
    requirement: &Requirement,
    authenticated: bool,
    protect_metrics: bool,
) -> Result<(), RequestError> {
    match requirement {
        Requirement::Open | Requirement::TenantList => Ok(()),
        Requirement::Authenticated if authenticated => Ok(()),
        Requirement::Authenticated => access.superuser(),
        Requirement::Superuser => access.superuser(),
        Requirement::Metrics if protect_metrics => access.superuser(),
        Requirement::Metrics => Ok(()),
        Requirement::TenantAdmin(tenant) => access.tenant_admin(tenant),
        Requirement::Namespace(ns, op) => access.namespace(ns, *op),
        Requirement::Topic(topic, op) => access.topic(topic, op),
    }
}

/// The method and data of the `Authorization` header, if any.
fn credentials(req: &ServiceRequest) -> Result<(Option<String>, Vec<u8>), ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok((None, Vec::new()));
    };
    let value = value.to_str().map_err(|_| {
        unauthenticated(AuthError::invalid(
            "http",
            "unreadable Authorization header",
        ))
    })?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Ok((Some(METHOD_TOKEN.to_owned()), rest.as_bytes().to_vec()))
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| unauthenticated(AuthError::invalid(METHOD_BASIC, "bad base64")))?;
        Ok((Some(METHOD_BASIC.to_owned()), decoded))
    } else {
        Err(unauthenticated(AuthError::UnknownMethod {
            method: scheme.to_owned(),
            enabled: "Bearer, Basic".to_owned(),
        }))
    }
}

fn unauthenticated(e: AuthError) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        format!("authentication failed: {e}"),
    )
}

/// What `method` on `path` needs. Unknown paths need a superuser, so a route added later is
/// closed until it is classified here.
pub fn requirement(method: &Method, path: &str) -> Requirement {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let read = method == Method::GET || method == Method::HEAD;
    match s.as_slice() {
        [""] | ["status"] => Requirement::Open,
        ["metrics"] => Requirement::Metrics,
        ["admin", "v2", "clusters", ..] if read => Requirement::Authenticated,
        ["admin", "v2", "tenants"] if read => Requirement::TenantList,
        ["admin", "v2", "tenants", tenant] if read => {
            Requirement::TenantAdmin((*tenant).to_owned())
        }
        ["admin", "v2", "namespaces", tenant] if read => {
            Requirement::TenantAdmin((*tenant).to_owned())
        }
        ["admin", "v2", "namespaces", tenant, ns, rest @ ..] => namespace(tenant, ns, rest, read),
        ["admin", "v2", domain @ ("persistent" | "non-persistent"), tenant, ns, rest @ ..] => {
            topic_path(domain, tenant, ns, rest, read)
        }
        // Reading a schema needs access to the topic; changing it, the topic's admins.
        ["admin", "v2", "schemas", tenant, ns, local, ..] => {
            let op = if read {
                TopicOperation::Lookup
            } else {
                TopicOperation::Admin
            };
            topic_requirement("persistent", tenant, ns, local, op)
        }
        ["lookup", "v2", "topic", domain, tenant, ns, local] => {
            topic_requirement(domain, tenant, ns, local, TopicOperation::Lookup)
        }
        ["admin", "v3", "functions" | "sources" | "sinks", "builtins" | "connectors"] => {
            Requirement::Authenticated
        }
        ["admin", "v3", kind @ ("functions" | "sources" | "sinks"), tenant, ns, ..] => {
            let action = match *kind {
                "functions" => AuthAction::Functions,
                "sources" => AuthAction::Sources,
                _ => AuthAction::Sinks,
            };
            namespace_requirement(tenant, ns, NamespaceOperation::Action(action))
        }
        _ => Requirement::Superuser,
    }
}

fn namespace(tenant: &str, ns: &str, rest: &[&str], read: bool) -> Requirement {
    let op = match rest {
        ["topics"] if read => NamespaceOperation::ListTopics,
        _ => NamespaceOperation::Admin,
    };
    namespace_requirement(tenant, ns, op)
}

fn namespace_requirement(tenant: &str, ns: &str, op: NamespaceOperation) -> Requirement {
    match NamespaceName::new(tenant, ns) {
        Ok(name) => Requirement::Namespace(name, op),
        // An invalid name reaches no data; the handler answers 400 for tenant admins.
        Err(_) => Requirement::TenantAdmin(tenant.to_owned()),
    }
}

fn topic_path(domain: &str, tenant: &str, ns: &str, rest: &[&str], read: bool) -> Requirement {
    let (local, rest) = match rest {
        [] | ["partitioned"] if read => {
            return namespace_requirement(tenant, ns, NamespaceOperation::ListTopics)
        }
        [] => return namespace_requirement(tenant, ns, NamespaceOperation::Admin),
        [local, rest @ ..] => (*local, rest),
    };
    let op = match rest {
        ["partitions" | "stats" | "internalStats" | "partitioned-stats" | "lastMessageId"]
            if read =>
        {
            TopicOperation::Lookup
        }
        ["subscriptions"] if read => TopicOperation::Consume { subscription: None },
        ["subscription", sub, ..] => TopicOperation::Consume {
            subscription: Some((*sub).to_owned()),
        },
        ["all_subscription", ..] | ["ledger", ..] => TopicOperation::Consume { subscription: None },
        _ => TopicOperation::Admin,
    };
    topic_requirement(domain, tenant, ns, local, op)
}

fn topic_requirement(
    domain: &str,
    tenant: &str,
    ns: &str,
    local: &str,
    op: TopicOperation,
) -> Requirement {
    match TopicName::parse(&format!("{domain}://{tenant}/{ns}/{local}")) {
        Ok(topic) => Requirement::Topic(topic, op),
        Err(_) => Requirement::TenantAdmin(tenant.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(op: TopicOperation) -> Requirement {
        Requirement::Topic(TopicName::parse("persistent://t/ns/x").unwrap(), op)
    }

    #[test]
    fn paths_map_to_what_pulsar_requires() {
        let ns = NamespaceName::new("t", "ns").unwrap();
        let cases = [
            (Method::GET, "/", Requirement::Open),
            (Method::GET, "/metrics", Requirement::Metrics),
            (Method::GET, "/admin/v2/tenants", Requirement::TenantList),
            (Method::PUT, "/admin/v2/tenants/t", Requirement::Superuser),
            (
                Method::GET,
                "/admin/v2/tenants/t",
                Requirement::TenantAdmin("t".into()),
            ),
            (
                Method::GET,
                "/admin/v2/namespaces/t",
                Requirement::TenantAdmin("t".into()),
            ),
            (
                Method::PUT,
                "/admin/v2/namespaces/t/ns",
                Requirement::Namespace(ns.clone(), NamespaceOperation::Admin),
            ),
            (
                Method::GET,
                "/admin/v2/namespaces/t/ns/topics",
                Requirement::Namespace(ns.clone(), NamespaceOperation::ListTopics),
            ),
            (
                Method::GET,
                "/admin/v2/persistent/t/ns",
                Requirement::Namespace(ns.clone(), NamespaceOperation::ListTopics),
            ),
            (
                Method::GET,
                "/admin/v2/persistent/t/ns/partitioned",
                Requirement::Namespace(ns.clone(), NamespaceOperation::ListTopics),
            ),
            (
                Method::PUT,
                "/admin/v2/persistent/t/ns/x",
                topic(TopicOperation::Admin),
            ),
            (
                Method::GET,
                "/admin/v2/persistent/t/ns/x/stats",
                topic(TopicOperation::Lookup),
            ),
            (
                Method::GET,
                "/admin/v2/persistent/t/ns/x/subscriptions",
                topic(TopicOperation::Consume { subscription: None }),
            ),
            (
                Method::POST,
                "/admin/v2/persistent/t/ns/x/subscription/s/skip/1",
                topic(TopicOperation::Consume {
                    subscription: Some("s".into()),
                }),
            ),
            (
                Method::POST,
                "/admin/v2/persistent/t/ns/x/terminate",
                topic(TopicOperation::Admin),
            ),
            (
                Method::POST,
                "/admin/v2/persistent/t/ns/x/permissions/r",
                topic(TopicOperation::Admin),
            ),
            (
                Method::GET,
                "/lookup/v2/topic/persistent/t/ns/x",
                topic(TopicOperation::Lookup),
            ),
            (
                Method::GET,
                "/admin/v2/broker-stats/topics",
                Requirement::Superuser,
            ),
            (
                Method::GET,
                "/admin/v2/brokers/health",
                Requirement::Superuser,
            ),
            (
                Method::POST,
                "/admin/v2/broker/faults",
                Requirement::Superuser,
            ),
            (
                Method::GET,
                "/admin/v2/clusters",
                Requirement::Authenticated,
            ),
            (Method::PUT, "/admin/v2/clusters/c", Requirement::Superuser),
            (
                Method::POST,
                "/admin/v3/sources/t/ns/src",
                Requirement::Namespace(ns, NamespaceOperation::Action(AuthAction::Sources)),
            ),
            (
                Method::GET,
                "/admin/v2/somethingnew",
                Requirement::Superuser,
            ),
        ];
        for (method, path, expected) in cases {
            assert_eq!(requirement(&method, path), expected, "{method} {path}");
        }
    }

    #[test]
    fn encoded_segments_are_decoded() {
        assert_eq!(
            requirement(&Method::GET, "/admin/v2/persistent/t/ns/x%2Dy/stats"),
            Requirement::Topic(
                TopicName::parse("persistent://t/ns/x-y").unwrap(),
                TopicOperation::Lookup
            )
        );
    }
}
