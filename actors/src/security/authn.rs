//! Authentication: credentials in, a role out.

use std::{fmt, sync::Arc, time::SystemTime};

use rustls_pki_types::CertificateDer;
use thiserror::Error;

/// `auth_method_name` of JWT tokens (also what the C++ OAuth2 plugin sends).
pub const METHOD_TOKEN: &str = "token";
/// `auth_method_name` of user/password credentials (`user:password`).
pub const METHOD_BASIC: &str = "basic";
/// `auth_method_name` of TLS client-certificate authentication.
pub const METHOD_TLS: &str = "tls";

/// What a client presented.
#[derive(Clone, Copy, Debug)]
pub struct Credentials<'a> {
    /// The method (`token`, `basic`, `tls`).
    pub method: &'a str,
    /// The method's data: the token, `user:password`, nothing for `tls`.
    pub data: &'a [u8],
    /// The client's TLS certificate chain, when it connected with TLS and sent one.
    pub peer_certificates: Option<&'a [CertificateDer<'static>]>,
}

/// Who a client is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The role permissions are granted to.
    pub role: String,
    /// The method that authenticated it.
    pub method: String,
    /// When the credentials stop being valid (a token's `exp`); `None` never.
    pub expires_at: Option<SystemTime>,
}

/// Why credentials were refused. The message is sent to the client, so it never contains the
/// credentials themselves.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The client sent no credentials and there is no anonymous role.
    #[error("authentication required: no credentials were presented")]
    Missing,
    /// No provider handles this method; the client must use one the broker offers.
    #[error("authentication method {method:?} is not enabled (enabled: {enabled})")]
    UnknownMethod {
        /// The method the client asked for.
        method: String,
        /// The methods the broker accepts, comma-separated.
        enabled: String,
    },
    /// The credentials are malformed, wrongly signed or unknown.
    #[error("invalid {method} credentials: {reason}")]
    Invalid {
        /// The method.
        method: String,
        /// What is wrong (never the secret itself).
        reason: String,
    },
    /// The credentials were valid but have expired; the client must present fresh ones.
    #[error("{method} credentials have expired")]
    Expired {
        /// The method.
        method: String,
    },
}

impl AuthError {
    /// An [`AuthError::Invalid`] for `method`.
    pub fn invalid(method: &str, reason: impl Into<String>) -> Self {
        AuthError::Invalid {
            method: method.to_owned(),
            reason: reason.into(),
        }
    }
}

/// One authentication method (Pulsar's `AuthenticationProvider`). Implementations may block
/// (bcrypt, key files): call them on the blocking pool.
pub trait AuthenticationProvider: Send + Sync + fmt::Debug {
    /// The `auth_method_name` this provider handles.
    fn method(&self) -> &'static str;

    /// The identity behind `credentials`.
    ///
    /// # Errors
    /// [`AuthError`] when the credentials are refused.
    fn authenticate(&self, credentials: &Credentials<'_>) -> Result<Identity, AuthError>;
}

/// The configured providers, tried by method name.
#[derive(Clone, Debug, Default)]
pub struct Authenticator {
    providers: Vec<Arc<dyn AuthenticationProvider>>,
}

impl Authenticator {
    /// An authenticator over `providers` (later ones with the same method are ignored).
    pub fn new(providers: Vec<Arc<dyn AuthenticationProvider>>) -> Self {
        Self { providers }
    }

    /// The provider of `method`.
    pub fn provider(&self, method: &str) -> Option<&Arc<dyn AuthenticationProvider>> {
        self.providers.iter().find(|p| p.method() == method)
    }

    /// Enabled method names, comma-separated.
    pub fn methods(&self) -> String {
        let names: Vec<&str> = self.providers.iter().map(|p| p.method()).collect();
        names.join(",")
    }

    /// Authenticates a client. A missing method (or `none`) falls back to the TLS certificate
    /// when the `tls` provider is on and the client sent one, then to `anonymous` when set.
    ///
    /// # Errors
    /// [`AuthError`] when no method applies or the provider refuses the credentials.
    pub fn authenticate(
        &self,
        method: Option<&str>,
        data: &[u8],
        peer_certificates: Option<&[CertificateDer<'static>]>,
        anonymous: Option<&str>,
    ) -> Result<Identity, AuthError> {
        let method = method.filter(|m| !m.is_empty() && *m != "none");
        let method = match method {
            Some(m) => m,
            None if peer_certificates.is_some_and(|c| !c.is_empty())
                && self.provider(METHOD_TLS).is_some() =>
            {
                METHOD_TLS
            }
            None => {
                return match anonymous {
                    Some(role) => Ok(Identity {
                        role: role.to_owned(),
                        method: "anonymous".to_owned(),
                        expires_at: None,
                    }),
                    None => Err(AuthError::Missing),
                }
            }
        };
        let provider = self
            .provider(method)
            .ok_or_else(|| AuthError::UnknownMethod {
                method: method.to_owned(),
                enabled: self.methods(),
            })?;
        provider.authenticate(&Credentials {
            method,
            data,
            peer_certificates,
        })
    }
}
