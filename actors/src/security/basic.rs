//! Basic authentication (Pulsar's `AuthenticationProviderBasic`): `user:password` checked
//! against an htpasswd-style file (`basicAuthConf`).

use std::collections::HashMap;

use super::{
    authn::{AuthError, AuthenticationProvider, Credentials, Identity, METHOD_BASIC},
    keys::{read_key, KeyError},
    md5crypt::apr1_crypt,
};

/// Users and their password hashes. Accepted hashes: `$apr1$` (what `htpasswd -m` and
/// `openssl passwd -apr1` write, and what Pulsar documents), traditional DES crypt (Pulsar's
/// other format), and, beyond Pulsar, bcrypt (`htpasswd -B`), `$1$`, `$5$` and `$6$`.
#[derive(Clone)]
pub struct BasicProvider {
    users: HashMap<String, String>,
}

impl std::fmt::Debug for BasicProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicProvider")
            .field("users", &self.users.len())
            .finish()
    }
}

impl BasicProvider {
    /// Loads the users from `conf` (a `basicAuthConf` value: file, `data:` URL or base64).
    ///
    /// # Errors
    /// [`KeyError`] when it cannot be read or a line is not `user:hash`.
    pub fn load(conf: &str) -> Result<Self, KeyError> {
        let bytes = read_key(conf)?;
        let text = String::from_utf8(bytes).map_err(|_| KeyError::Invalid {
            reason: "basicAuthConf is not UTF-8 text".to_owned(),
        })?;
        Self::parse(&text)
    }

    /// Parses `user:hash` lines; blank lines and `#` comments are skipped.
    ///
    /// # Errors
    /// [`KeyError::Invalid`] naming the first bad line.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut users = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(':') {
                Some((user, hash)) if !user.is_empty() && !hash.is_empty() => {
                    users.insert(user.to_owned(), hash.to_owned());
                }
                _ => {
                    return Err(KeyError::Invalid {
                        reason: format!("basicAuthConf line {}: expected user:hash", index + 1),
                    })
                }
            }
        }
        Ok(Self { users })
    }

    /// The role of `user` when `password` matches.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] for an unknown user or a wrong password (the same message for
    /// both, so users cannot be enumerated).
    pub fn check(&self, user: &str, password: &str) -> Result<Identity, AuthError> {
        let refused = || AuthError::invalid(METHOD_BASIC, "unknown user or invalid password");
        let hash = self.users.get(user).ok_or_else(refused)?;
        if !verify(password, hash) {
            return Err(refused());
        }
        Ok(Identity {
            role: user.to_owned(),
            method: METHOD_BASIC.to_owned(),
            expires_at: None,
        })
    }
}

fn verify(password: &str, hash: &str) -> bool {
    if let Some(rest) = hash.strip_prefix("$apr1$") {
        let salt = rest.split('$').next().unwrap_or_default();
        return constant_time_eq(
            apr1_crypt(password.as_bytes(), salt).as_bytes(),
            hash.as_bytes(),
        );
    }
    pwhash::unix::verify(password, hash)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl AuthenticationProvider for BasicProvider {
    fn method(&self) -> &'static str {
        METHOD_BASIC
    }

    fn authenticate(&self, credentials: &Credentials<'_>) -> Result<Identity, AuthError> {
        let text = std::str::from_utf8(credentials.data)
            .map_err(|_| AuthError::invalid(METHOD_BASIC, "credentials are not UTF-8"))?;
        let (user, password) = text
            .split_once(':')
            .ok_or_else(|| AuthError::invalid(METHOD_BASIC, "expected user:password"))?;
        self.check(user, password)
    }
}
