//! Builds the broker's [`Security`] (providers, authorizer, limits) and TLS configuration
//! from the config file's security keys.

use std::{collections::BTreeSet, sync::Arc};

use geminga_actors::security::{
    tls::{server_config, TlsSettings},
    AuthenticationProvider, Authenticator, Authorizer, BasicProvider, Limits, Security,
    TlsProvider, TokenConfig, TokenProvider,
};

use crate::{
    config::{BrokerConfig, ProviderKind, SecurityConfig},
    error::BrokerError,
};

/// What the listeners need: the shared security settings and, when a TLS port is configured,
/// the rustls server configuration.
pub struct SecuritySetup {
    /// Authentication, authorization and limits.
    pub security: Arc<Security>,
    /// TLS for `brokerServicePortTls` and `webServicePortTls`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Loads keys and certificates (blocking: reads files).
///
/// # Errors
/// [`BrokerError::Startup`] naming the key whose file or value is unusable.
pub fn setup(config: &BrokerConfig) -> Result<SecuritySetup, BrokerError> {
    let s = &config.security;
    let authentication = if s.authentication_enabled {
        Some(authenticator(s)?)
    } else {
        None
    };
    let authorization = s
        .authorization_enabled
        .then(|| Authorizer::new(s.super_user_roles.iter().cloned().collect::<BTreeSet<_>>()));
    let limits = Limits {
        max_connections: s.max_connections,
        max_connections_per_ip: s.max_connections_per_ip,
        max_concurrent_lookups: s.max_concurrent_lookups,
        max_lookups_per_connection: s.max_lookups_per_connection,
        max_pending_sends_per_producer: s.max_pending_sends_per_producer,
    };
    let security = Security::new(
        authentication,
        authorization,
        s.anonymous_user_role.clone(),
        limits,
    );
    let tls = match (&s.tls_certificate_file, &s.tls_key_file) {
        (Some(certificate), Some(key))
            if s.broker_service_port_tls.is_some() || s.web_service_port_tls.is_some() =>
        {
            let settings = TlsSettings {
                certificate: certificate.clone(),
                key: key.clone(),
                trust: s.tls_trust_certs_file.clone(),
                require_client_certificate: s.tls_require_trusted_client_cert,
            };
            Some(server_config(&settings).map_err(|e| startup(e.to_string()))?)
        }
        _ => None,
    };
    Ok(SecuritySetup {
        security: Arc::new(security),
        tls,
    })
}

fn authenticator(s: &SecurityConfig) -> Result<Authenticator, BrokerError> {
    let mut providers: Vec<Arc<dyn AuthenticationProvider>> = Vec::new();
    for kind in &s.providers {
        match kind {
            ProviderKind::Token => {
                let config = TokenConfig {
                    secret_key: s.token_secret_key.clone(),
                    public_key: s.token_public_key.clone(),
                    auth_claim: s.token_auth_claim.clone(),
                    audience_claim: s.token_audience_claim.clone(),
                    audience: s.token_audience.clone(),
                    allowed_clock_skew_secs: s.token_allowed_clock_skew_secs,
                };
                let provider =
                    TokenProvider::new(&config).map_err(|e| startup(format!("token key: {e}")))?;
                providers.push(Arc::new(provider));
            }
            ProviderKind::Basic => {
                let conf = s.basic_auth_conf.as_deref().unwrap_or_default();
                let provider = BasicProvider::load(conf)
                    .map_err(|e| startup(format!("basicAuthConf: {e}")))?;
                providers.push(Arc::new(provider));
            }
            ProviderKind::Tls => providers.push(Arc::new(TlsProvider)),
        }
    }
    Ok(Authenticator::new(providers))
}

fn startup(reason: String) -> BrokerError {
    BrokerError::Startup { reason }
}
