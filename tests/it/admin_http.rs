//! A tiny blocking HTTP client for the admin API, run off the test's async threads.

use std::time::Duration;

use serde_json::Value;

/// One admin API answer.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`Null` when empty).
    pub fn json(&self) -> Value {
        if self.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `reason` of an error answer.
    pub fn reason(&self) -> String {
        self.json()["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

fn call_blocking(method: &str, url: &str, body: Option<&str>) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let sent = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        ("PUT", Some(b)) => agent
            .put(url)
            .header("Content-Type", "application/json")
            .send(b),
        ("PUT", None) => agent.put(url).send_empty(),
        (_, Some(b)) => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(b),
        (_, None) => agent.post(url).send_empty(),
    };
    let mut response = sent.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (n.as_str().to_ascii_lowercase(), value)
        })
        .collect();
    let body = response.body_mut().read_to_vec().expect("read body");
    Answer {
        status,
        headers,
        body,
    }
}

/// Calls the admin API at `base` + `path` on the blocking pool.
pub async fn call(method: &str, base: &str, path: &str, body: Option<&str>) -> Answer {
    let (method, url, body) = (
        method.to_owned(),
        format!("{base}{path}"),
        body.map(str::to_owned),
    );
    tokio::task::spawn_blocking(move || call_blocking(&method, &url, body.as_deref()))
        .await
        .expect("HTTP task")
}

/// `/admin/v2/persistent/public/default/{short}`.
pub fn topic_path(short: &str) -> String {
    format!("/admin/v2/persistent/public/default/{short}")
}

/// GET as JSON, asserting 200.
pub async fn get_json(base: &str, path: &str) -> Value {
    let answer = call("GET", base, path, None).await;
    assert_eq!(answer.status, 200, "GET {path}: {answer:?}");
    answer.json()
}

/// Calls and asserts the status.
pub async fn expect(
    method: &str,
    base: &str,
    path: &str,
    body: Option<&str>,
    status: u16,
) -> Answer {
    let answer = call(method, base, path, body).await;
    assert_eq!(
        answer.status,
        status,
        "{method} {path}: {} {}",
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
    answer
}

/// Polls `check` until it holds (every 100 ms, at most 15 s).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}
