//! The admin REST calls of `geminga admin topics`, and printing answers like pulsar-admin.

use std::{io::Write, time::Duration};

use geminga_protocol::topic_name::TopicName;
use serde_json::Value;

/// Default `--admin-url`, as pulsar-admin's.
pub const DEFAULT_ADMIN_URL: &str = "http://127.0.0.1:8080";

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminCliError {
    /// The admin API could not be reached (wrong URL, broker down).
    #[error("cannot reach {url}: {source}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// What failed.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The broker refused the request; `reason` is its explanation.
    #[error("{reason} (HTTP {status})")]
    Refused {
        /// HTTP status code.
        status: u16,
        /// The broker's `reason`.
        reason: String,
    },
    /// A flag or argument is invalid.
    #[error("{0}")]
    InvalidArgument(String),
    /// Writing to stdout failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// An answer of the admin API.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status code (2xx: every non-2xx is an [`AdminCliError::Refused`]).
    pub status: u16,
    /// Response headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON (`null` when empty).
    ///
    /// # Errors
    /// [`AdminCliError::Refused`] when the body is not JSON.
    pub fn json(&self) -> Result<Value, AdminCliError> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| AdminCliError::Refused {
            status: self.status,
            reason: format!("the answer is not JSON: {e}"),
        })
    }

    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A client of the admin API at one base URL.
pub struct AdminHttp {
    agent: ureq::Agent,
    base: String,
}

impl AdminHttp {
    /// A client for `admin_url` (`http://host:port`).
    pub fn new(admin_url: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self {
            agent,
            base: admin_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Calls `method` on `path` (starting with `/admin/v2`) with an optional JSON body.
    ///
    /// # Errors
    /// [`AdminCliError::Unreachable`] or, for a non-2xx answer, [`AdminCliError::Refused`].
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Reply, AdminCliError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |source| AdminCliError::Unreachable {
            url: url.clone(),
            source: Box::new(source),
        };
        let sent = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            ("PUT", Some(body)) => json_body(self.agent.put(&url)).send(body),
            ("PUT", None) => self.agent.put(&url).send_empty(),
            (_, Some(body)) => json_body(self.agent.post(&url)).send(body),
            (_, None) => self.agent.post(&url).send_empty(),
        };
        let mut response = sent.map_err(unreachable)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (n.as_str().to_ascii_lowercase(), value)
            })
            .collect();
        let body = response.body_mut().read_to_vec().map_err(unreachable)?;
        if !(200..300).contains(&status) {
            let reason = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("reason").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(AdminCliError::Refused { status, reason });
        }
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}

fn json_body(
    request: ureq::RequestBuilder<ureq::typestate::WithBody>,
) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
    request.header("Content-Type", "application/json")
}

/// Parses a topic argument (short forms allowed, as pulsar-admin does).
///
/// # Errors
/// [`AdminCliError::InvalidArgument`] for a name that does not parse.
pub fn parse_topic(name: &str) -> Result<TopicName, AdminCliError> {
    TopicName::parse(name)
        .map_err(|e| AdminCliError::InvalidArgument(format!("invalid topic name {name:?}: {e}")))
}

/// `/admin/v2/{domain}/{tenant}/{namespace}/{topic}` of a topic.
pub fn topic_path(topic: &TopicName) -> String {
    format!(
        "/admin/v2/{}/{}/{}/{}",
        topic.domain().as_str(),
        topic.tenant(),
        topic.namespace(),
        topic.local_name()
    )
}

/// Prints a JSON value pretty, as pulsar-admin prints objects.
///
/// # Errors
/// Writing to `out` failed.
pub fn print_json(out: &mut impl Write, value: &Value) -> Result<(), AdminCliError> {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    writeln!(out, "{text}")?;
    Ok(())
}

/// Prints a JSON list one item per line, as pulsar-admin prints lists.
///
/// # Errors
/// Writing to `out` failed.
pub fn print_lines(out: &mut impl Write, value: &Value) -> Result<(), AdminCliError> {
    for item in value.as_array().into_iter().flatten() {
        match item.as_str() {
            Some(text) => writeln!(out, "{text}")?,
            None => writeln!(out, "{item}")?,
        }
    }
    Ok(())
}

/// Parses a duration like pulsar-admin's time flags: seconds, or a number with `s`, `m`, `h`,
/// `d` or `w`. Answers seconds.
///
/// # Errors
/// [`AdminCliError::InvalidArgument`] for anything else.
pub fn parse_seconds(text: &str) -> Result<u64, AdminCliError> {
    let invalid = || AdminCliError::InvalidArgument(format!("invalid time {text:?}"));
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (text.get(..i).unwrap_or(""), c),
        _ => (text, 's'),
    };
    let value: u64 = digits.parse().map_err(|_| invalid())?;
    let factor = match unit.to_ascii_lowercase() {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return Err(invalid()),
    };
    value.checked_mul(factor).ok_or_else(invalid)
}

/// Parses a size like pulsar-admin's `-s`: bytes, or a number with `K`, `M`, `G` or `T`.
/// Answers megabytes (rounded down); -1 stays -1 (unlimited).
///
/// # Errors
/// [`AdminCliError::InvalidArgument`] for anything else.
pub fn parse_size_mb(text: &str) -> Result<i64, AdminCliError> {
    let invalid = || AdminCliError::InvalidArgument(format!("invalid size {text:?}"));
    let text = text.trim();
    if text == "-1" {
        return Ok(-1);
    }
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (text.get(..i).unwrap_or(""), Some(c)),
        _ => (text, None),
    };
    let value: i64 = digits.parse().map_err(|_| invalid())?;
    let bytes_factor: i64 = match unit.map(|c| c.to_ascii_uppercase()) {
        None => 1,
        Some('K') => 1 << 10,
        Some('M') => 1 << 20,
        Some('G') => 1 << 30,
        Some('T') => 1 << 40,
        Some(_) => return Err(invalid()),
    };
    Ok(value.checked_mul(bytes_factor).ok_or_else(invalid)? >> 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_sizes_parse_like_pulsar_admin() {
        assert_eq!(parse_seconds("30").unwrap(), 30);
        assert_eq!(parse_seconds("10m").unwrap(), 600);
        assert_eq!(parse_seconds("2d").unwrap(), 172_800);
        assert!(parse_seconds("x").is_err());
        assert_eq!(parse_size_mb("10M").unwrap(), 10);
        assert_eq!(parse_size_mb("1G").unwrap(), 1024);
        assert_eq!(parse_size_mb("-1").unwrap(), -1);
        assert!(parse_size_mb("5Q").is_err());
    }

    #[test]
    fn topic_paths_use_the_full_name() {
        let topic = parse_topic("my-topic").unwrap();
        assert_eq!(
            topic_path(&topic),
            "/admin/v2/persistent/public/default/my-topic"
        );
        let topic = parse_topic("non-persistent://t/n/x").unwrap();
        assert_eq!(topic_path(&topic), "/admin/v2/non-persistent/t/n/x");
    }
}
