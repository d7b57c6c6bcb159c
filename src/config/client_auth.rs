//! The credentials of the broker's own client (`brokerClientAuthenticationPlugin` and
//! `brokerClientAuthenticationParameters`), used by the connector runtime's connections.

use std::path::PathBuf;

/// Where the broker's internal client takes its token from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BrokerClientAuth {
    /// `token:xxx`, JSON `{"token":"xxx"}`, or a bare token.
    Token(String),
    /// `file:///path` or JSON `{"file":"file:///path"}`: read at each connect, so a rotated
    /// token file takes effect without a restart (as Pulsar's `AuthenticationToken` does).
    TokenFile(PathBuf),
}

impl BrokerClientAuth {
    /// The token to present now.
    ///
    /// # Errors
    /// The token file cannot be read, or is empty.
    pub fn token(&self) -> Result<String, String> {
        match self {
            Self::Token(token) => Ok(token.clone()),
            Self::TokenFile(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("reading the token file {}: {e}", path.display()))?;
                let token = text.trim();
                if token.is_empty() {
                    return Err(format!("the token file {} is empty", path.display()));
                }
                Ok(token.to_owned())
            }
        }
    }
}

/// Checks `brokerClientAuthenticationPlugin`: only the token plugin is supported.
pub(super) fn plugin(v: &str) -> Result<(), String> {
    match v.rsplit('.').next() {
        Some("AuthenticationToken" | "token") => Ok(()),
        _ => Err(
            "only org.apache.pulsar.client.impl.auth.AuthenticationToken is supported".to_owned(),
        ),
    }
}

/// Parses `brokerClientAuthenticationParameters` for the token plugin.
pub(super) fn parameters(v: &str) -> Result<BrokerClientAuth, String> {
    let v = v.trim();
    if v.starts_with('{') {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(v).map_err(|e| format!("invalid JSON parameters: {e}"))?;
        if let Some(token) = map.get("token").and_then(serde_json::Value::as_str) {
            return non_empty(token).map(|t| BrokerClientAuth::Token(t.to_owned()));
        }
        if let Some(file) = map.get("file").and_then(serde_json::Value::as_str) {
            return file_path(file);
        }
        return Err("JSON parameters need a \"token\" or \"file\" field".to_owned());
    }
    if let Some(token) = v.strip_prefix("token:") {
        return non_empty(token).map(|t| BrokerClientAuth::Token(t.to_owned()));
    }
    if v.starts_with("file:") {
        return file_path(v);
    }
    non_empty(v).map(|t| BrokerClientAuth::Token(t.to_owned()))
}

fn non_empty(token: &str) -> Result<&str, String> {
    let token = token.trim();
    if token.is_empty() {
        Err("the token is empty".to_owned())
    } else {
        Ok(token)
    }
}

/// `file:///abs/path` (or `file:/abs/path`, or a plain path in JSON's `file`).
fn file_path(v: &str) -> Result<BrokerClientAuth, String> {
    let path = v
        .strip_prefix("file://")
        .or_else(|| v.strip_prefix("file:"))
        .unwrap_or(v);
    if path.is_empty() {
        return Err("the token file path is empty".to_owned());
    }
    Ok(BrokerClientAuth::TokenFile(PathBuf::from(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_parameter_shapes_parse() {
        assert_eq!(
            parameters("token:abc.def").unwrap(),
            BrokerClientAuth::Token("abc.def".into())
        );
        assert_eq!(
            parameters("file:///etc/geminga/token").unwrap(),
            BrokerClientAuth::TokenFile("/etc/geminga/token".into())
        );
        assert_eq!(
            parameters(r#"{"token":"xyz"}"#).unwrap(),
            BrokerClientAuth::Token("xyz".into())
        );
        assert_eq!(
            parameters(r#"{"file":"file:///t"}"#).unwrap(),
            BrokerClientAuth::TokenFile("/t".into())
        );
        assert!(parameters("token:").is_err());
        assert!(parameters(r#"{"other":1}"#).is_err());
        assert!(plugin("org.apache.pulsar.client.impl.auth.AuthenticationToken").is_ok());
        assert!(plugin("org.apache.pulsar.client.impl.auth.AuthenticationTls").is_err());
    }

    #[test]
    fn the_config_file_keys_set_the_broker_client_credentials() {
        let text = "brokerClientAuthenticationPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken\n\
                    brokerClientAuthenticationParameters={\"token\":\"t1\"}\n";
        let (config, unknown) = crate::config::parse::parse(text).unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(
            config.security.broker_client_auth(),
            Some(&BrokerClientAuth::Token("t1".into()))
        );
        // Parameters without a plugin are not used; a plugin without parameters is refused.
        let (config, _) =
            crate::config::parse::parse("brokerClientAuthenticationParameters=token:x\n").unwrap();
        assert_eq!(config.security.broker_client_auth(), None);
        let plugin_only = "brokerClientAuthenticationPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken\n";
        assert!(crate::config::parse::parse(plugin_only).is_err());
        let tls = "brokerClientAuthenticationPlugin=org.apache.pulsar.client.impl.auth.AuthenticationTls\n";
        assert!(crate::config::parse::parse(tls).is_err());
    }

    #[test]
    fn a_token_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "tok123\n").unwrap();
        assert_eq!(BrokerClientAuth::TokenFile(path).token().unwrap(), "tok123");
        let missing = BrokerClientAuth::TokenFile(dir.path().join("missing"));
        assert!(missing.token().is_err());
    }
}
