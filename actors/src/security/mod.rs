//! Security: who a client is (authentication), what it may do (authorization), TLS, and the
//! limits that keep one client from hurting the others.
//!
//! - [`Authenticator`] holds the configured [`AuthenticationProvider`]s (token, basic, tls)
//!   and turns credentials into an [`Identity`] (a role).
//! - [`Authorizer`] decides what a role may do from superuser roles, tenant admin roles and the
//!   namespace and topic permissions (Pulsar's `auth_policies`) in the metadata store.
//! - [`AccessCheck`] is what a connection or an admin request carries: the role plus the
//!   broker's [`Security`], with blocking checks that answer [`crate::RequestError`]s.
//! - [`Limits`], [`ConnectionLimiter`] and [`LookupLimiter`] bound connections and lookups.
//! - [`tls`] builds rustls server configurations from PEM files.
//!
//! Everything here is plain blocking code (key files, bcrypt, metadata reads): callers run it
//! on the blocking pool.

mod access;
mod authn;
mod authz;
mod basic;
mod cert;
mod keys;
mod limits;
mod md5crypt;
pub mod tls;
mod token;

#[cfg(test)]
mod tests;

pub use access::{AccessCheck, TopicOperation};
pub use authn::{
    AuthError, AuthenticationProvider, Authenticator, Credentials, Identity, METHOD_BASIC,
    METHOD_TLS, METHOD_TOKEN,
};
pub use authz::{
    auth_policies, AuthAction, AuthPolicies, Authorizer, NamespaceOperation, Permissions,
};
pub use basic::BasicProvider;
pub use cert::{common_name, TlsProvider};
pub use keys::{read_key, KeyError};
pub use limits::{
    ConnectionLimiter, ConnectionPermit, LimitExceeded, Limits, LookupLimiter, LookupPermit,
};
pub use md5crypt::apr1_crypt;
pub use token::{TokenConfig, TokenProvider};

use std::sync::{Arc, LazyLock};

/// The broker's security settings, shared by every connection and the admin API.
#[derive(Debug, Default)]
pub struct Security {
    /// `None` when authentication is off (`authenticationEnabled=false`, the default).
    pub authentication: Option<Authenticator>,
    /// `None` when authorization is off (`authorizationEnabled=false`, the default).
    pub authorization: Option<Authorizer>,
    /// The role of clients that present no credentials (`anonymousUserRole`); also the role
    /// of every client when authentication is off but authorization is on.
    pub anonymous_role: Option<String>,
    /// Connection, lookup and pending-send limits.
    pub limits: Limits,
    /// Counts open client connections, in total and per address.
    pub connections: Arc<ConnectionLimiter>,
    /// Counts lookups in flight broker-wide.
    pub lookups: Arc<LookupLimiter>,
}

impl Security {
    /// Security with the given parts; the limiters follow `limits`.
    pub fn new(
        authentication: Option<Authenticator>,
        authorization: Option<Authorizer>,
        anonymous_role: Option<String>,
        limits: Limits,
    ) -> Self {
        Self {
            authentication,
            authorization,
            anonymous_role,
            connections: ConnectionLimiter::new(
                limits.max_connections,
                limits.max_connections_per_ip,
            ),
            lookups: LookupLimiter::new(limits.max_concurrent_lookups),
            limits,
        }
    }

    /// Everything off and unlimited: the broker's behaviour without a security config.
    pub fn open() -> Arc<Security> {
        static OPEN: LazyLock<Arc<Security>> = LazyLock::new(|| Arc::new(Security::default()));
        OPEN.clone()
    }

    /// Whether clients must present credentials (or fall back to the anonymous role).
    pub fn authentication_enabled(&self) -> bool {
        self.authentication.is_some()
    }

    /// Whether permissions are enforced.
    pub fn authorization_enabled(&self) -> bool {
        self.authorization.is_some()
    }
}
