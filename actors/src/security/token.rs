//! JWT token authentication (Pulsar's `AuthenticationProviderToken`): HS256/384/512 with a
//! secret key, RS*/PS* or ES* with a public key; the role is the `sub` claim (or
//! `tokenAuthClaim`).

use std::time::{Duration, UNIX_EPOCH};

use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::{
    authn::{AuthError, AuthenticationProvider, Credentials, Identity, METHOD_TOKEN},
    keys::{read_key, to_pem, KeyError},
};

/// The token provider's settings, by their Pulsar keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenConfig {
    /// `tokenSecretKey`: HMAC secret (raw bytes), for HS256/384/512 tokens.
    pub secret_key: Option<String>,
    /// `tokenPublicKey`: DER or PEM public key, for RS/PS/ES tokens.
    pub public_key: Option<String>,
    /// `tokenAuthClaim`: the claim holding the role; default `sub`.
    pub auth_claim: Option<String>,
    /// `tokenAudienceClaim`: the claim holding the audience; default `aud`.
    pub audience_claim: Option<String>,
    /// `tokenAudience`: when set, tokens must name this audience.
    pub audience: Option<String>,
    /// `tokenAllowedClockSkewSeconds`: leeway for `exp` and `nbf`.
    pub allowed_clock_skew_secs: u64,
}

/// Validates JWTs.
#[derive(Clone)]
pub struct TokenProvider {
    key: DecodingKey,
    validation: Validation,
    role_claim: String,
    audience_claim: String,
    audience: Option<String>,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("algorithms", &self.validation.algorithms)
            .field("role_claim", &self.role_claim)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// Loads the key `config` names (blocking: it may read a file).
    ///
    /// # Errors
    /// [`KeyError`] when neither key is set, a key cannot be read or does not parse.
    pub fn new(config: &TokenConfig) -> Result<Self, KeyError> {
        let (key, algorithms) = match (&config.secret_key, &config.public_key) {
            (Some(secret), _) => (
                DecodingKey::from_secret(&read_key(secret)?),
                vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
            ),
            (None, Some(public)) => public_key(&read_key(public)?)?,
            (None, None) => {
                return Err(KeyError::Invalid {
                    reason: "token authentication needs tokenSecretKey or tokenPublicKey"
                        .to_owned(),
                })
            }
        };
        let mut validation = Validation::new(algorithms.first().copied().unwrap_or_default());
        validation.algorithms = algorithms;
        // Pulsar accepts tokens without `exp` (they never expire) and checks `exp` exactly.
        validation.required_spec_claims.clear();
        validation.leeway = config.allowed_clock_skew_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // The audience is checked below, against the configured claim.
        validation.validate_aud = false;
        Ok(Self {
            key,
            validation,
            role_claim: config
                .auth_claim
                .clone()
                .unwrap_or_else(|| "sub".to_owned()),
            audience_claim: config
                .audience_claim
                .clone()
                .unwrap_or_else(|| "aud".to_owned()),
            audience: config.audience.clone(),
        })
    }

    /// The identity a token carries.
    ///
    /// # Errors
    /// [`AuthError::Expired`] for an expired token, [`AuthError::Invalid`] otherwise.
    pub fn validate(&self, token: &str) -> Result<Identity, AuthError> {
        let token = token.trim();
        let token = token.strip_prefix("Bearer ").unwrap_or(token);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired {
                method: METHOD_TOKEN.to_owned(),
            },
            other => AuthError::invalid(METHOD_TOKEN, describe(other)),
        })?;
        let claims = data.claims;
        self.check_audience(&claims)?;
        let role = match claims.get(&self.role_claim) {
            Some(Value::String(role)) if !role.is_empty() => role.clone(),
            _ => {
                return Err(AuthError::invalid(
                    METHOD_TOKEN,
                    format!("the token has no {:?} claim with a role", self.role_claim),
                ))
            }
        };
        let expires_at = claims
            .get("exp")
            .and_then(Value::as_u64)
            .map(|exp| UNIX_EPOCH + Duration::from_secs(exp));
        Ok(Identity {
            role,
            method: METHOD_TOKEN.to_owned(),
            expires_at,
        })
    }

    fn check_audience(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        let Some(wanted) = &self.audience else {
            return Ok(());
        };
        let matches = match claims.get(&self.audience_claim) {
            Some(Value::String(a)) => a == wanted,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(wanted)),
            _ => false,
        };
        if matches {
            Ok(())
        } else {
            Err(AuthError::invalid(
                METHOD_TOKEN,
                "the token is not for this audience",
            ))
        }
    }
}

impl AuthenticationProvider for TokenProvider {
    fn method(&self) -> &'static str {
        METHOD_TOKEN
    }

    fn authenticate(&self, credentials: &Credentials<'_>) -> Result<Identity, AuthError> {
        let token = std::str::from_utf8(credentials.data)
            .map_err(|_| AuthError::invalid(METHOD_TOKEN, "the token is not UTF-8"))?;
        if token.trim().is_empty() {
            return Err(AuthError::invalid(METHOD_TOKEN, "the token is empty"));
        }
        self.validate(token)
    }
}

/// A public key (DER as Pulsar writes it, or PEM) and the algorithms it verifies.
fn public_key(bytes: &[u8]) -> Result<(DecodingKey, Vec<Algorithm>), KeyError> {
    let pem = to_pem(bytes, "PUBLIC KEY");
    if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
        let algorithms = vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ];
        return Ok((key, algorithms));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
        return Ok((key, vec![Algorithm::ES256, Algorithm::ES384]));
    }
    Err(KeyError::Invalid {
        reason: "tokenPublicKey is not an RSA or EC public key (DER or PEM)".to_owned(),
    })
}

/// A client-facing reason that names the problem without echoing the token.
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::InvalidSignature => "bad signature".to_owned(),
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not match the key".to_owned(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".to_owned(),
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) => {
            "malformed token".to_owned()
        }
        other => format!("{other:?}"),
    }
}
