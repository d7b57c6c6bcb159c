//! The admin CLI's HTTP client: Pulsar's REST admin API over plain HTTP, blocking.

use std::time::Duration;

use serde_json::Value;
use thiserror::Error;
use ureq::Agent;

/// How long one admin request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an admin command failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The broker answered with an error status; `reason` is its `{"reason"}` text.
    #[error("HTTP {status}: {reason}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The broker's explanation.
        reason: String,
    },
    /// The broker could not be reached or the exchange broke off.
    #[error("cannot reach the admin API at {url}: {source}")]
    Transport {
        /// The URL requested.
        url: String,
        /// The client error.
        source: Box<ureq::Error>,
    },
    /// An argument is invalid (checked before any request).
    #[error("{0}")]
    Usage(String),
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

/// A client of one broker's admin API.
pub struct AdminClient {
    base: String,
    agent: Agent,
}

impl AdminClient {
    /// A client of the admin API at `admin_url` (`http://host:port`).
    pub fn new(admin_url: &str) -> Self {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        Self {
            base: admin_url.trim_end_matches('/').to_owned(),
            agent,
        }
    }

    /// GET `path`; the decoded body (JSON, else a JSON string of the text; `Null` if empty).
    ///
    /// # Errors
    /// [`AdminError::Http`] for an error status, [`AdminError::Transport`] otherwise.
    pub fn get(&self, path: &str) -> Result<Value, AdminError> {
        self.call("GET", path, None)
    }

    /// PUT `path` with an optional JSON body.
    ///
    /// # Errors
    /// As [`AdminClient::get`].
    pub fn put(&self, path: &str, body: Option<&Value>) -> Result<Value, AdminError> {
        self.call("PUT", path, body)
    }

    /// POST `path` with an optional JSON body.
    ///
    /// # Errors
    /// As [`AdminClient::get`].
    pub fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, AdminError> {
        self.call("POST", path, body)
    }

    /// DELETE `path`.
    ///
    /// # Errors
    /// As [`AdminClient::get`].
    pub fn delete(&self, path: &str) -> Result<Value, AdminError> {
        self.call("DELETE", path, None)
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, AdminError> {
        let url = format!("{}{path}", self.base);
        let transport = |e: ureq::Error| AdminError::Transport {
            url: url.clone(),
            source: Box::new(e),
        };
        let json = body.map(Value::to_string);
        let sent = match (method, json) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            ("PUT", Some(json)) => self
                .agent
                .put(&url)
                .header("Content-Type", "application/json")
                .send(json),
            ("PUT", None) => self.agent.put(&url).send_empty(),
            (_, Some(json)) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(json),
            (_, None) => self.agent.post(&url).send_empty(),
        };
        let mut response = sent.map_err(transport)?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(transport)?;
        if !(200..300).contains(&status) {
            let reason = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("reason").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or(text);
            return Err(AdminError::Http { status, reason });
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

/// Percent-encodes one path segment (a topic's local name may hold any character).
pub fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'=' | b':') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("a-b_c.d"), "a-b_c.d");
        assert_eq!(encode_segment("a b/c%"), "a%20b%2Fc%25");
    }
}
