//! The HTTP source: the body of every `POST {path}` becomes a message (header
//! `X-Message-Key` sets its key). The request is answered once the record is handled under
//! the connector's guarantee: 200 after the broker stored it (at-least-once) or sent it
//! (at-most-once), 503 when publishing failed, so a client that retries on errors loses
//! nothing. Instance i of N listens on `port + i`.
//!
//! A small HTTP/1.1 server of its own (`Content-Length` bodies, keep-alive, `Expect:
//! 100-continue`), so the listener lives and dies with its instance.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{mpsc, oneshot},
    task::JoinSet,
};

use super::{parse, AbortOnDrop};
use crate::connectors::{
    api::{ConnectorFuture, Source, SourceContext, SourceRecord},
    ConnectorError,
};

/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Records waiting for the runtime before requests wait.
const QUEUE: usize = 1024;
/// Records handed to the runtime per read.
const BATCH: usize = 256;
/// How long a request waits for its record to be handled.
const HANDLED_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpSourceConfig {
    #[serde(default = "default_host")]
    host: String,
    port: u16,
    #[serde(default = "default_path")]
    path: String,
    #[serde(default = "default_max_body")]
    max_body_bytes: usize,
}

fn default_host() -> String {
    "127.0.0.1".to_owned()
}

fn default_path() -> String {
    "/".to_owned()
}

fn default_max_body() -> usize {
    5 * 1024 * 1024
}

/// Checks the config and builds the source.
pub(super) fn build(configs: &Map<String, Value>) -> Result<Box<dyn Source>, ConnectorError> {
    let config: HttpSourceConfig = parse(configs, "http source")?;
    if !config.path.starts_with('/') {
        return Err(ConnectorError::invalid(
            "http source: path must start with /",
        ));
    }
    Ok(Box::new(HttpSource {
        config,
        records: None,
        _server: None,
    }))
}

struct HttpSource {
    config: HttpSourceConfig,
    records: Option<mpsc::Receiver<SourceRecord>>,
    _server: Option<AbortOnDrop>,
}

impl Source for HttpSource {
    fn open(&mut self, context: SourceContext) -> ConnectorFuture<'_, ()> {
        Box::pin(async move {
            let port = if self.config.port == 0 {
                0
            } else {
                u16::try_from(u32::from(self.config.port) + context.instance)
                    .map_err(|_| ConnectorError::invalid("http source: port out of range"))?
            };
            let addr = format!("{}:{port}", self.config.host);
            let listener = TcpListener::bind(&addr)
                .await
                .map_err(|e| ConnectorError::external("http", format!("bind {addr}: {e}")))?;
            tracing::info!(connector = %context.id, %addr, "http source listening");
            let (tx, rx) = mpsc::channel(QUEUE);
            let route = Route {
                path: self.config.path.clone(),
                max_body: self.config.max_body_bytes,
            };
            let server = tokio::spawn(serve(listener, tx, route));
            self.records = Some(rx);
            self._server = Some(AbortOnDrop(server.abort_handle()));
            Ok(())
        })
    }

    fn read(&mut self) -> ConnectorFuture<'_, Vec<SourceRecord>> {
        Box::pin(async move {
            let rx = self
                .records
                .as_mut()
                .ok_or_else(|| ConnectorError::external("http", "not listening"))?;
            let first = rx
                .recv()
                .await
                .ok_or_else(|| ConnectorError::external("http", "the listener stopped"))?;
            let mut out = vec![first];
            while out.len() < BATCH {
                match rx.try_recv() {
                    Ok(record) => out.push(record),
                    Err(_) => break,
                }
            }
            Ok(out)
        })
    }
}

#[derive(Clone)]
struct Route {
    path: String,
    max_body: usize,
}

/// Accepts connections until aborted; connection tasks end with it (the `JoinSet`).
async fn serve(listener: TcpListener, tx: mpsc::Sender<SourceRecord>, route: Route) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, tx.clone(), route.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "http source accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// A parsed request head.
struct Head {
    method: String,
    path: String,
    content_length: Option<usize>,
    chunked: bool,
    keep_alive: bool,
    expect_continue: bool,
    key: Option<String>,
}

fn parse_head(text: &str) -> Option<Head> {
    let mut lines = text.split("\r\n");
    let mut request = lines.next()?.split(' ');
    let (method, target, version) = (request.next()?, request.next()?, request.next()?);
    let mut head = Head {
        method: method.to_owned(),
        path: target.split('?').next().unwrap_or(target).to_owned(),
        content_length: None,
        chunked: false,
        keep_alive: version == "HTTP/1.1",
        expect_continue: false,
        key: None,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => head.content_length = value.parse().ok(),
            "transfer-encoding" => head.chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => head.keep_alive = !value.eq_ignore_ascii_case("close"),
            "expect" => head.expect_continue = value.eq_ignore_ascii_case("100-continue"),
            "x-message-key" => head.key = Some(value.to_owned()),
            _ => {}
        }
    }
    Some(head)
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str, keep_alive: bool) -> bool {
    let connection = if keep_alive {
        ""
    } else {
        "Connection: close\r\n"
    };
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{connection}\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).await.is_ok() && keep_alive
}

/// Serves one connection's requests, one at a time.
async fn connection(mut stream: TcpStream, tx: mpsc::Sender<SourceRecord>, route: Route) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            if buf.len() > MAX_HEAD {
                respond(
                    &mut stream,
                    "431 Request Header Fields Too Large",
                    "{}",
                    false,
                )
                .await;
                return;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
        };
        let head_text =
            String::from_utf8_lossy(buf.get(..head_end).unwrap_or_default()).into_owned();
        buf.drain(..head_end + 4);
        let Some(head) = parse_head(&head_text) else {
            respond(&mut stream, "400 Bad Request", "{}", false).await;
            return;
        };
        if head.chunked {
            respond(&mut stream, "411 Length Required", "{}", false).await;
            return;
        }
        let length = head.content_length.unwrap_or(0);
        if length > route.max_body {
            respond(&mut stream, "413 Payload Too Large", "{}", false).await;
            return;
        }
        if head.expect_continue
            && buf.len() < length
            && stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return;
        }
        while buf.len() < length {
            let mut chunk = vec![0u8; (length - buf.len()).min(64 * 1024)];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
        }
        let body: Vec<u8> = buf.drain(..length).collect();
        let (status, text) = handle(&head, body, &tx, &route).await;
        if !respond(&mut stream, status, &text, head.keep_alive).await {
            return;
        }
    }
}

/// Turns one request into a record and waits until it is handled.
async fn handle(
    head: &Head,
    body: Vec<u8>,
    tx: &mpsc::Sender<SourceRecord>,
    route: &Route,
) -> (&'static str, String) {
    if head.path != route.path {
        return ("404 Not Found", r#"{"reason":"no such path"}"#.to_owned());
    }
    if head.method != "POST" {
        return (
            "405 Method Not Allowed",
            r#"{"reason":"POST only"}"#.to_owned(),
        );
    }
    let (done, handled) = oneshot::channel();
    let record = SourceRecord {
        key: head.key.clone(),
        value: Bytes::from(body),
        done: Some(done),
        ..SourceRecord::default()
    };
    if tx.send(record).await.is_err() {
        return (
            "503 Service Unavailable",
            r#"{"reason":"source stopped"}"#.to_owned(),
        );
    }
    match tokio::time::timeout(HANDLED_TIMEOUT, handled).await {
        Ok(Ok(Ok(()))) => ("200 OK", r#"{"status":"ok"}"#.to_owned()),
        Ok(Ok(Err(reason))) => (
            "503 Service Unavailable",
            serde_json::json!({ "reason": reason }).to_string(),
        ),
        _ => (
            "503 Service Unavailable",
            r#"{"reason":"not published in time"}"#.to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_parsed_case_insensitively() {
        let head = parse_head(
            "POST /in?x=1 HTTP/1.1\r\ncontent-length: 5\r\nX-Message-Key: k\r\nConnection: close",
        )
        .unwrap();
        assert_eq!(head.method, "POST");
        assert_eq!(head.path, "/in");
        assert_eq!(head.content_length, Some(5));
        assert_eq!(head.key.as_deref(), Some("k"));
        assert!(!head.keep_alive);
        assert!(parse_head("garbage").is_none());
        assert!(!parse_head("GET / HTTP/1.0").unwrap().keep_alive);
    }
}
