//! A blocking HTTP helper for the admin API, run off the async test thread.

use serde_json::Value;

use crate::common::within;

/// One HTTP answer.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body as text.
    pub body: String,
}

impl Reply {
    /// The body as JSON (panics when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body {:?} is not JSON: {e}", self.body))
    }

    /// The `reason` of an error body.
    pub fn reason(&self) -> String {
        self.json()["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// Sends `method url` with an optional JSON body.
pub async fn call(method: &str, url: String, body: Option<String>) -> Reply {
    let method = method.to_owned();
    let work = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let sent = match (method.as_str(), body) {
            ("GET", _) => agent.get(&url).call(),
            ("DELETE", _) => agent.delete(&url).call(),
            ("PUT", Some(b)) => agent
                .put(&url)
                .header("Content-Type", "application/json")
                .send(b),
            ("PUT", None) => agent.put(&url).send_empty(),
            ("POST", Some(b)) => agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(b),
            ("POST", None) => agent.post(&url).send_empty(),
            (other, _) => panic!("unsupported method {other}"),
        };
        let mut response = sent.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().expect("read body");
        Reply { status, body }
    });
    within("admin request", work).await.expect("request task")
}

/// GET `admin_url + path`.
pub async fn get(admin_url: &str, path: &str) -> Reply {
    call("GET", format!("{admin_url}{path}"), None).await
}

/// PUT `admin_url + path` with `body`.
pub async fn put(admin_url: &str, path: &str, body: Option<&str>) -> Reply {
    call("PUT", format!("{admin_url}{path}"), body.map(str::to_owned)).await
}

/// POST `admin_url + path` with `body`.
pub async fn post(admin_url: &str, path: &str, body: Option<&str>) -> Reply {
    call(
        "POST",
        format!("{admin_url}{path}"),
        body.map(str::to_owned),
    )
    .await
}

/// DELETE `admin_url + path`.
pub async fn delete(admin_url: &str, path: &str) -> Reply {
    call("DELETE", format!("{admin_url}{path}"), None).await
}

/// Asserts the status, showing the body on failure; returns the reply.
#[track_caller]
pub fn expect(reply: Reply, status: u16) -> Reply {
    assert_eq!(reply.status, status, "unexpected answer: {}", reply.body);
    reply
}

/// GET `url` with one extra header.
pub async fn call_with_header(url: &str, name: &'static str, value: &'static str) -> Reply {
    let url = url.to_owned();
    let work = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent
            .get(&url)
            .header(name, value)
            .call()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().expect("read body");
        Reply { status, body }
    });
    within("admin request", work).await.expect("request task")
}
