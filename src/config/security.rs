//! Security keys of the config file, by Pulsar's names: authentication providers and their
//! keys, authorization, TLS listeners, and client limits.

use std::{collections::BTreeSet, path::PathBuf};

use super::client_auth::BrokerClientAuth;

/// Every security key Geminga reads (Pulsar's names; `maxPendingLookupRequestsPerConnection`
/// and `maxPendingSendsPerProducer` are Geminga's own).
pub const SECURITY_KEYS: &[&str] = &[
    "authenticationEnabled",
    "authenticationProviders",
    "authenticationRefreshCheckSeconds",
    "authorizationEnabled",
    "authorizationProvider",
    "superUserRoles",
    "anonymousUserRole",
    "tokenSecretKey",
    "tokenPublicKey",
    "tokenPublicAlg",
    "tokenAuthClaim",
    "tokenAudienceClaim",
    "tokenAudience",
    "tokenAllowedClockSkewSeconds",
    "basicAuthConf",
    "brokerServicePortTls",
    "webServicePortTls",
    "tlsCertificateFilePath",
    "tlsKeyFilePath",
    "tlsTrustCertsFilePath",
    "tlsRequireTrustedClientCertOnConnect",
    "tlsAllowInsecureConnection",
    "authenticateMetricsEndpoint",
    "brokerMaxConnections",
    "brokerMaxConnectionsPerIp",
    "maxConcurrentLookupRequest",
    "maxPendingLookupRequestsPerConnection",
    "maxPendingSendsPerProducer",
    "brokerClientAuthenticationPlugin",
    "brokerClientAuthenticationParameters",
];

/// The authentication provider behind a name in `authenticationProviders`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProviderKind {
    /// JWT tokens (`AuthenticationProviderToken`).
    Token,
    /// htpasswd users (`AuthenticationProviderBasic`).
    Basic,
    /// TLS client certificates (`AuthenticationProviderTls`).
    Tls,
}

impl ProviderKind {
    /// Parses Pulsar's class name (`org.apache.pulsar.broker.authentication.
    /// AuthenticationProviderToken`), its simple name, or the method name (`token`).
    pub fn parse(name: &str) -> Option<Self> {
        let simple = name.rsplit('.').next().unwrap_or(name);
        match simple.to_ascii_lowercase().as_str() {
            "authenticationprovidertoken" | "token" | "jwt" => Some(Self::Token),
            "authenticationproviderbasic" | "basic" => Some(Self::Basic),
            "authenticationprovidertls" | "tls" => Some(Self::Tls),
            _ => None,
        }
    }
}

/// Security settings; everything is off by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityConfig {
    /// `authenticationEnabled`.
    pub authentication_enabled: bool,
    /// `authenticationProviders`, parsed.
    pub providers: Vec<ProviderKind>,
    /// `authenticationRefreshCheckSeconds`: accepted; refresh is scheduled from each token's
    /// expiry instead of polled.
    pub refresh_check_secs: u64,
    /// `authorizationEnabled`.
    pub authorization_enabled: bool,
    /// `superUserRoles`.
    pub super_user_roles: BTreeSet<String>,
    /// `anonymousUserRole`.
    pub anonymous_user_role: Option<String>,
    /// `tokenSecretKey`.
    pub token_secret_key: Option<String>,
    /// `tokenPublicKey`.
    pub token_public_key: Option<String>,
    /// `tokenAuthClaim`.
    pub token_auth_claim: Option<String>,
    /// `tokenAudienceClaim`.
    pub token_audience_claim: Option<String>,
    /// `tokenAudience`.
    pub token_audience: Option<String>,
    /// `tokenAllowedClockSkewSeconds`.
    pub token_allowed_clock_skew_secs: u64,
    /// `basicAuthConf`.
    pub basic_auth_conf: Option<String>,
    /// `brokerServicePortTls` (0 picks a free port); `None` serves no TLS.
    pub broker_service_port_tls: Option<u16>,
    /// `webServicePortTls`; `None` serves no HTTPS.
    pub web_service_port_tls: Option<u16>,
    /// `tlsCertificateFilePath`.
    pub tls_certificate_file: Option<PathBuf>,
    /// `tlsKeyFilePath`.
    pub tls_key_file: Option<PathBuf>,
    /// `tlsTrustCertsFilePath`.
    pub tls_trust_certs_file: Option<PathBuf>,
    /// `tlsRequireTrustedClientCertOnConnect`.
    pub tls_require_trusted_client_cert: bool,
    /// `authenticateMetricsEndpoint`: `/metrics` needs a superuser when authentication is on.
    pub authenticate_metrics_endpoint: bool,
    /// `brokerMaxConnections` (0 = unlimited).
    pub max_connections: usize,
    /// `brokerMaxConnectionsPerIp` (0 = unlimited).
    pub max_connections_per_ip: usize,
    /// `maxConcurrentLookupRequest` (0 = unlimited).
    pub max_concurrent_lookups: usize,
    /// `maxPendingLookupRequestsPerConnection` (0 = unlimited).
    pub max_lookups_per_connection: usize,
    /// `maxPendingSendsPerProducer` (0 = unlimited).
    pub max_pending_sends_per_producer: usize,
    /// `brokerClientAuthenticationPlugin` is set (to the token plugin).
    pub broker_client_plugin: bool,
    /// `brokerClientAuthenticationParameters`, parsed for the token plugin.
    pub broker_client_parameters: Option<BrokerClientAuth>,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            authentication_enabled: false,
            providers: Vec::new(),
            refresh_check_secs: 60,
            authorization_enabled: false,
            super_user_roles: BTreeSet::new(),
            anonymous_user_role: None,
            token_secret_key: None,
            token_public_key: None,
            token_auth_claim: None,
            token_audience_claim: None,
            token_audience: None,
            token_allowed_clock_skew_secs: 0,
            basic_auth_conf: None,
            broker_service_port_tls: None,
            web_service_port_tls: None,
            tls_certificate_file: None,
            tls_key_file: None,
            tls_trust_certs_file: None,
            tls_require_trusted_client_cert: false,
            authenticate_metrics_endpoint: true,
            max_connections: 0,
            max_connections_per_ip: 0,
            // Pulsar's defaults.
            max_concurrent_lookups: 50_000,
            max_lookups_per_connection: 5_000,
            max_pending_sends_per_producer: 1_000,
            broker_client_plugin: false,
            broker_client_parameters: None,
        }
    }
}

/// Sets the field behind one security key (non-empty value) and answers `true`, or `false`
/// for a key that is not a security key; the error is the reason shown.
pub(super) fn apply(c: &mut SecurityConfig, key: &str, v: &str) -> Result<bool, String> {
    match key {
        "authenticationEnabled" => c.authentication_enabled = super::parse::boolean(v)?,
        "authenticationProviders" => c.providers = providers(v)?,
        "authenticationRefreshCheckSeconds" => {
            c.refresh_check_secs = super::parse::number(v, 1, 86_400)?;
        }
        "authorizationEnabled" => c.authorization_enabled = super::parse::boolean(v)?,
        "authorizationProvider" => authorization_provider(v)?,
        "superUserRoles" => c.super_user_roles = list(v).collect(),
        "anonymousUserRole" => c.anonymous_user_role = Some(v.to_owned()),
        "tokenSecretKey" => c.token_secret_key = Some(v.to_owned()),
        "tokenPublicKey" => c.token_public_key = Some(v.to_owned()),
        "tokenPublicAlg" => public_alg(v)?,
        "tokenAuthClaim" => c.token_auth_claim = Some(v.to_owned()),
        "tokenAudienceClaim" => c.token_audience_claim = Some(v.to_owned()),
        "tokenAudience" => c.token_audience = Some(v.to_owned()),
        "tokenAllowedClockSkewSeconds" => {
            c.token_allowed_clock_skew_secs = super::parse::number(v, 0, 86_400)?;
        }
        "basicAuthConf" => c.basic_auth_conf = Some(v.to_owned()),
        "brokerServicePortTls" => {
            c.broker_service_port_tls = Some(super::parse::number(v, 0, u16::MAX)?)
        }
        "webServicePortTls" => c.web_service_port_tls = Some(super::parse::number(v, 0, u16::MAX)?),
        "tlsCertificateFilePath" => c.tls_certificate_file = Some(PathBuf::from(v)),
        "tlsKeyFilePath" => c.tls_key_file = Some(PathBuf::from(v)),
        "tlsTrustCertsFilePath" => c.tls_trust_certs_file = Some(PathBuf::from(v)),
        "tlsRequireTrustedClientCertOnConnect" => {
            c.tls_require_trusted_client_cert = super::parse::boolean(v)?;
        }
        // A broker-side `true` would accept any client certificate; Geminga verifies the ones
        // it is sent against tlsTrustCertsFilePath, so the key is accepted and has no effect.
        "tlsAllowInsecureConnection" => {
            super::parse::boolean(v)?;
        }
        "authenticateMetricsEndpoint" => {
            c.authenticate_metrics_endpoint = super::parse::boolean(v)?;
        }
        "brokerMaxConnections" => c.max_connections = super::parse::number(v, 0, 10_000_000)?,
        "brokerMaxConnectionsPerIp" => {
            c.max_connections_per_ip = super::parse::number(v, 0, 10_000_000)?;
        }
        "maxConcurrentLookupRequest" => {
            c.max_concurrent_lookups = super::parse::number(v, 0, 10_000_000)?;
        }
        "maxPendingLookupRequestsPerConnection" => {
            c.max_lookups_per_connection = super::parse::number(v, 0, 10_000_000)?;
        }
        "maxPendingSendsPerProducer" => {
            c.max_pending_sends_per_producer = super::parse::number(v, 0, 10_000_000)?;
        }
        "brokerClientAuthenticationPlugin" => {
            super::client_auth::plugin(v)?;
            c.broker_client_plugin = true;
        }
        "brokerClientAuthenticationParameters" => {
            c.broker_client_parameters = Some(super::client_auth::parameters(v)?);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn list(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn providers(v: &str) -> Result<Vec<ProviderKind>, String> {
    let mut kinds = Vec::new();
    for name in list(v) {
        let kind = ProviderKind::parse(&name).ok_or_else(|| {
            format!(
                "unknown provider {name}: Geminga has AuthenticationProviderToken, \
                 AuthenticationProviderBasic and AuthenticationProviderTls"
            )
        })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

fn authorization_provider(v: &str) -> Result<(), String> {
    if v.rsplit('.').next() == Some("PulsarAuthorizationProvider") {
        Ok(())
    } else {
        Err(
            "only org.apache.pulsar.broker.authorization.PulsarAuthorizationProvider is supported"
                .to_owned(),
        )
    }
}

fn public_alg(v: &str) -> Result<(), String> {
    // The algorithm is taken from the key itself (RSA: RS*/PS*, EC: ES*); the key is checked
    // so a typo is not silently ignored.
    const KNOWN: &[&str] = &[
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
    ];
    if KNOWN.contains(&v) {
        Ok(())
    } else {
        Err(format!("expected one of {}", KNOWN.join(", ")))
    }
}

impl SecurityConfig {
    /// The credentials of the broker's internal client (connectors), when a plugin is set.
    #[must_use]
    pub fn broker_client_auth(&self) -> Option<&BrokerClientAuth> {
        self.broker_client_parameters
            .as_ref()
            .filter(|_| self.broker_client_plugin)
    }

    /// Cross-key checks, once the whole file is read.
    ///
    /// # Errors
    /// The key and the reason of the first inconsistency.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.authentication_enabled && self.providers.is_empty() {
            return Err((
                "authenticationProviders",
                "authenticationEnabled=true needs at least one provider".to_owned(),
            ));
        }
        if self.authentication_enabled
            && self.providers.contains(&ProviderKind::Token)
            && self.token_secret_key.is_none()
            && self.token_public_key.is_none()
        {
            return Err((
                "tokenSecretKey",
                "AuthenticationProviderToken needs tokenSecretKey or tokenPublicKey".to_owned(),
            ));
        }
        if self.authentication_enabled
            && self.providers.contains(&ProviderKind::Basic)
            && self.basic_auth_conf.is_none()
        {
            return Err((
                "basicAuthConf",
                "AuthenticationProviderBasic needs basicAuthConf".to_owned(),
            ));
        }
        if self.broker_client_plugin && self.broker_client_parameters.is_none() {
            return Err((
                "brokerClientAuthenticationParameters",
                "brokerClientAuthenticationPlugin needs brokerClientAuthenticationParameters"
                    .to_owned(),
            ));
        }
        let tls_wanted =
            self.broker_service_port_tls.is_some() || self.web_service_port_tls.is_some();
        if tls_wanted && (self.tls_certificate_file.is_none() || self.tls_key_file.is_none()) {
            return Err((
                "tlsCertificateFilePath",
                "TLS ports need tlsCertificateFilePath and tlsKeyFilePath".to_owned(),
            ));
        }
        if self.tls_require_trusted_client_cert && self.tls_trust_certs_file.is_none() {
            return Err((
                "tlsTrustCertsFilePath",
                "tlsRequireTrustedClientCertOnConnect needs tlsTrustCertsFilePath".to_owned(),
            ));
        }
        Ok(())
    }
}
