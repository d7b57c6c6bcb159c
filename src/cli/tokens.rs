//! `geminga tokens`: JWT keys and tokens, mirroring `pulsar tokens` (create-secret-key,
//! create-key-pair, create, show, validate) and its flags.

use std::{
    io::{Read, Write},
    path::PathBuf,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{engine::general_purpose, Engine};
use clap::{Args, Subcommand};
use geminga_actors::security::{read_key, TokenConfig, TokenProvider};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand_core_06::{OsRng, RngCore};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};

/// `geminga tokens ...`.
#[derive(Debug, Args)]
pub struct TokensArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: TokensCommand,
}

/// The `tokens` subcommands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum TokensCommand {
    /// Create a secret key for HS256/HS384/HS512 tokens (raw bytes, or base64 with --base64).
    CreateSecretKey(CreateSecretKeyArgs),
    /// Create an RSA key pair for RS256/RS384/RS512 tokens (DER, as Pulsar writes them).
    CreateKeyPair(CreateKeyPairArgs),
    /// Create a token for a subject (role).
    Create(CreateArgs),
    /// Print a token's header and claims without checking it.
    Show(TokenInput),
    /// Check a token's signature and expiry and print its claims.
    Validate(ValidateArgs),
}

/// Flags of `create-secret-key`.
#[derive(Debug, Args)]
pub struct CreateSecretKeyArgs {
    /// HS256, HS384 or HS512.
    #[arg(short = 'a', long = "signature-algorithm", default_value = "HS256")]
    pub algorithm: String,
    /// Write the key to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Write the key in base64.
    #[arg(short, long)]
    pub base64: bool,
}

/// Flags of `create-key-pair`.
#[derive(Debug, Args)]
pub struct CreateKeyPairArgs {
    /// RS256, RS384 or RS512.
    #[arg(short = 'a', long = "signature-algorithm", default_value = "RS256")]
    pub algorithm: String,
    /// Where to write the private key (PKCS#8 DER).
    #[arg(long)]
    pub output_private_key: PathBuf,
    /// Where to write the public key (X.509 SubjectPublicKeyInfo DER).
    #[arg(long)]
    pub output_public_key: PathBuf,
}

/// Flags of `create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Signature algorithm; default HS256 with a secret key, RS256 with a private key.
    #[arg(short = 'a', long = "signature-algorithm")]
    pub algorithm: Option<String>,
    /// The secret key (`file:///path`, `data:;base64,...`, a path or base64); also `-sk`.
    #[arg(
        long = "secret-key",
        visible_alias = "sk",
        conflicts_with = "private_key"
    )]
    pub secret_key: Option<String>,
    /// The private key, in the same forms; also `-pk`.
    #[arg(long = "private-key", visible_alias = "pk")]
    pub private_key: Option<String>,
    /// The subject, i.e. the role the token grants.
    #[arg(short, long)]
    pub subject: String,
    /// Relative expiry (`10s`, `30m`, `1h`, `3d`, `2w`, `1y`); default: never.
    #[arg(short, long = "expiry-time")]
    pub expiry_time: Option<String>,
    /// Extra header fields `key=value` (kid, typ, cty); also `-hs`.
    #[arg(long = "headers", visible_alias = "hs")]
    pub headers: Vec<String>,
}

/// Where a token comes from.
#[derive(Debug, Args)]
pub struct TokenInput {
    /// The token (else `--stdin`, `--token-file` or $TOKEN).
    pub token: Option<String>,
    /// Read the token from stdin.
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// Read the token from a file.
    #[arg(short = 'f', long = "token-file")]
    pub token_file: Option<PathBuf>,
}

/// Flags of `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The token.
    #[command(flatten)]
    pub input: TokenInput,
    /// The secret key of HS* tokens; also `-sk`.
    #[arg(
        long = "secret-key",
        visible_alias = "sk",
        conflicts_with = "public_key"
    )]
    pub secret_key: Option<String>,
    /// The public key of RS*/ES* tokens; also `-pk`.
    #[arg(long = "public-key", visible_alias = "pk")]
    pub public_key: Option<String>,
}

/// Why a tokens command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokensError {
    /// A flag's value is unusable.
    #[error("{0}")]
    Usage(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The token does not validate.
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Runs a `tokens` command, writing to `out`.
///
/// # Errors
/// [`TokensError`].
pub fn run(args: TokensArgs, out: &mut impl Write) -> Result<(), TokensError> {
    match args.command {
        TokensCommand::CreateSecretKey(a) => create_secret_key(&a, out),
        TokensCommand::CreateKeyPair(a) => create_key_pair(&a),
        TokensCommand::Create(a) => {
            let token = create(&a, SystemTime::now())?;
            write_out(out, format!("{token}\n").as_bytes())
        }
        TokensCommand::Show(input) => {
            let token = read_token(&input)?;
            write_out(out, show(&token)?.as_bytes())
        }
        TokensCommand::Validate(a) => {
            let token = read_token(&a.input)?;
            let config = TokenConfig {
                secret_key: a.secret_key.clone(),
                public_key: a.public_key.clone(),
                ..TokenConfig::default()
            };
            if config.secret_key.is_none() && config.public_key.is_none() {
                return Err(TokensError::Usage(
                    "give --secret-key or --public-key".to_owned(),
                ));
            }
            let provider =
                TokenProvider::new(&config).map_err(|e| TokensError::Usage(e.to_string()))?;
            provider
                .validate(&token)
                .map_err(|e| TokensError::Invalid(e.to_string()))?;
            let claims = part(&token, 1)?;
            write_out(out, format!("{claims}\n").as_bytes())
        }
    }
}

fn write_out(out: &mut impl Write, bytes: &[u8]) -> Result<(), TokensError> {
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|source| TokensError::Io {
            path: "stdout".to_owned(),
            source,
        })
}

fn write_file(path: &PathBuf, bytes: &[u8]) -> Result<(), TokensError> {
    std::fs::write(path, bytes).map_err(|source| TokensError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn create_secret_key(a: &CreateSecretKeyArgs, out: &mut impl Write) -> Result<(), TokensError> {
    let len = match a.algorithm.as_str() {
        "HS256" => 32,
        "HS384" => 48,
        "HS512" => 64,
        other => {
            return Err(TokensError::Usage(format!(
                "{other}: expected HS256, HS384 or HS512"
            )))
        }
    };
    let mut key = vec![0u8; len];
    OsRng.fill_bytes(&mut key);
    let bytes = if a.base64 {
        general_purpose::STANDARD.encode(&key).into_bytes()
    } else {
        key
    };
    match &a.output {
        Some(path) => write_file(path, &bytes),
        None => write_out(out, &bytes),
    }
}

fn create_key_pair(a: &CreateKeyPairArgs) -> Result<(), TokensError> {
    // The sizes jjwt (Pulsar's JWT library) uses for each algorithm.
    let bits = match a.algorithm.as_str() {
        "RS256" | "PS256" => 2048,
        "RS384" | "PS384" => 3072,
        "RS512" | "PS512" => 4096,
        other => {
            return Err(TokensError::Usage(format!(
                "{other}: expected RS256, RS384, RS512 (or PS*)"
            )))
        }
    };
    let private = rsa::RsaPrivateKey::new(&mut OsRng, bits)
        .map_err(|e| TokensError::Usage(format!("generating the key: {e}")))?;
    let private_der = private
        .to_pkcs8_der()
        .map_err(|e| TokensError::Usage(format!("encoding the private key: {e}")))?;
    let public_der = private
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| TokensError::Usage(format!("encoding the public key: {e}")))?;
    write_file(&a.output_private_key, private_der.as_bytes())?;
    write_file(&a.output_public_key, public_der.as_bytes())
}

/// A signed token for `a.subject`, expiring relative to `now`.
///
/// # Errors
/// [`TokensError::Usage`] for a missing or unusable key, algorithm, expiry or header.
pub fn create(a: &CreateArgs, now: SystemTime) -> Result<String, TokensError> {
    let (key, default_alg) = match (&a.secret_key, &a.private_key) {
        (Some(secret), None) => (
            EncodingKey::from_secret(&key_bytes(secret)?),
            Algorithm::HS256,
        ),
        (None, Some(private)) => (private_key(&key_bytes(private)?)?, Algorithm::RS256),
        _ => {
            return Err(TokensError::Usage(
                "give --secret-key or --private-key".to_owned(),
            ))
        }
    };
    let algorithm = match &a.algorithm {
        Some(name) => name
            .parse::<Algorithm>()
            .map_err(|_| TokensError::Usage(format!("unknown signature algorithm {name}")))?,
        None => default_alg,
    };
    let mut header = Header::new(algorithm);
    for pair in &a.headers {
        match pair.split_once('=') {
            Some(("kid", v)) => header.kid = Some(v.to_owned()),
            Some(("typ", v)) => header.typ = Some(v.to_owned()),
            Some(("cty", v)) => header.cty = Some(v.to_owned()),
            _ => {
                return Err(TokensError::Usage(format!(
                    "header {pair}: expected kid=, typ= or cty="
                )))
            }
        }
    }
    let mut claims = serde_json::Map::new();
    claims.insert("sub".to_owned(), serde_json::Value::from(a.subject.clone()));
    if let Some(expiry) = &a.expiry_time {
        let at = now + parse_relative_time(expiry)?;
        let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        claims.insert("exp".to_owned(), serde_json::Value::from(secs));
    }
    jsonwebtoken::encode(&header, &claims, &key)
        .map_err(|e| TokensError::Usage(format!("signing: {e}")))
}

fn key_bytes(value: &str) -> Result<Vec<u8>, TokensError> {
    read_key(value).map_err(|e| TokensError::Usage(format!("key: {e}")))
}

fn private_key(bytes: &[u8]) -> Result<EncodingKey, TokensError> {
    let pem = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        bytes.to_vec()
    } else {
        let body = general_purpose::STANDARD.encode(bytes);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
        .into_bytes()
    };
    EncodingKey::from_rsa_pem(&pem)
        .or_else(|_| EncodingKey::from_ec_pem(&pem))
        .map_err(|e| TokensError::Usage(format!("private key: {e}")))
}

/// Pulsar's relative times: a number and a unit (`s`, `m`, `h`, `d`, `w`, `y`; none = seconds).
///
/// # Errors
/// [`TokensError::Usage`] for anything else.
pub fn parse_relative_time(text: &str) -> Result<Duration, TokensError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| {
        TokensError::Usage(format!("expiry {text:?}: expected e.g. 30m, 1h, 3d, 1y"))
    })?;
    let unit_secs = match unit.to_ascii_lowercase().as_str() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        other => {
            return Err(TokensError::Usage(format!(
                "expiry unit {other:?}: expected s, m, h, d, w or y"
            )))
        }
    };
    Ok(Duration::from_secs(n.saturating_mul(unit_secs)))
}

fn read_token(input: &TokenInput) -> Result<String, TokensError> {
    let token = if let Some(token) = &input.token {
        token.clone()
    } else if input.stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|source| TokensError::Io {
                path: "stdin".to_owned(),
                source,
            })?;
        text
    } else if let Some(path) = &input.token_file {
        std::fs::read_to_string(path).map_err(|source| TokensError::Io {
            path: path.display().to_string(),
            source,
        })?
    } else if let Ok(token) = std::env::var("TOKEN") {
        token
    } else {
        return Err(TokensError::Usage(
            "give the token, --stdin, --token-file or $TOKEN".to_owned(),
        ));
    };
    Ok(token.trim().to_owned())
}

/// The header and claims of a token, as `pulsar tokens show` prints them.
///
/// # Errors
/// [`TokensError::Invalid`] when the token is not three base64url parts of JSON.
pub fn show(token: &str) -> Result<String, TokensError> {
    Ok(format!("{}\n---\n{}\n", part(token, 0)?, part(token, 1)?))
}

fn part(token: &str, index: usize) -> Result<String, TokensError> {
    let invalid = || TokensError::Invalid("expected header.claims.signature".to_owned());
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(invalid());
    }
    let encoded = parts.get(index).ok_or_else(invalid)?;
    let bytes = general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .map_err(|_| invalid())?;
    String::from_utf8(bytes).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_follow_pulsar_units() {
        assert_eq!(parse_relative_time("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(
            parse_relative_time("3d").unwrap(),
            Duration::from_secs(3 * 86_400)
        );
        assert_eq!(
            parse_relative_time("1y").unwrap(),
            Duration::from_secs(365 * 86_400)
        );
        assert_eq!(parse_relative_time("90").unwrap(), Duration::from_secs(90));
        assert!(parse_relative_time("1x").is_err());
        assert!(parse_relative_time("h").is_err());
    }

    #[test]
    fn a_created_token_validates_and_shows_its_subject() {
        let secret = format!(
            "data:;base64,{}",
            general_purpose::STANDARD.encode([7u8; 32])
        );
        let args = CreateArgs {
            algorithm: None,
            secret_key: Some(secret.clone()),
            private_key: None,
            subject: "alice".to_owned(),
            expiry_time: Some("1h".to_owned()),
            headers: vec!["kid=k1".to_owned()],
        };
        let token = create(&args, SystemTime::now()).unwrap();
        let shown = show(&token).unwrap();
        assert!(
            shown.contains("\"alg\":\"HS256\"") && shown.contains("\"kid\":\"k1\""),
            "{shown}"
        );
        assert!(shown.contains("\"sub\":\"alice\""), "{shown}");
        let provider = TokenProvider::new(&TokenConfig {
            secret_key: Some(secret),
            ..TokenConfig::default()
        })
        .unwrap();
        assert_eq!(provider.validate(&token).unwrap().role, "alice");
        assert!(show("not-a-token").is_err());
    }
}
