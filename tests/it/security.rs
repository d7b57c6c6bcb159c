//! Security end to end: token authentication with the `pulsar` crate, authorization of
//! PRODUCER/SUBSCRIBE/LOOKUP/topic lists from permissions granted and revoked over the admin API, the admin API with
//! `Authorization: Bearer`, connection limits, and malformed input against a running broker.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::{engine::general_purpose, Engine};
use bytes::{BufMut, BytesMut};
use futures_util::{SinkExt, StreamExt};
use geminga::config::{BrokerConfig, ProviderKind};
use geminga_protocol::proto::{base_command::Type, ServerError};
use geminga_protocol::{commands, Frame, PulsarCodec};
use pulsar::consumer::InitialPosition;
use pulsar::{
    message::proto::command_get_topics_of_namespace::Mode, Authentication, ConnectionRetryOptions,
    OperationRetryOptions, Pulsar, TokioExecutor,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::{Decoder, Framed};

use crate::common::{
    exclusive, full_name, producer, receive_payloads, send_all, unique_topic, within, Client,
    TestBroker,
};

const SECRET: [u8; 32] = [7; 32];

/// Runs a test body on its own thread and runtime: several `pulsar` futures held at once
/// overflow the default test thread's stack in debug builds.
pub(crate) fn on_a_large_stack<F: std::future::Future<Output = ()> + 'static>(body: fn() -> F) {
    std::thread::Builder::new()
        .stack_size(16 * 1024 * 1024)
        .spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(body());
        })
        .unwrap()
        .join()
        .unwrap();
}

pub(crate) fn secured(c: &mut BrokerConfig) {
    c.security.authentication_enabled = true;
    c.security.providers = vec![ProviderKind::Token];
    c.security.token_secret_key = Some(format!(
        "data:;base64,{}",
        general_purpose::STANDARD.encode(SECRET)
    ));
    c.security.authorization_enabled = true;
    c.security.super_user_roles = ["admin".to_owned()].into();
}

/// An HS256 token for `sub`, expiring `ttl_secs` from now (negative: already expired).
pub(crate) fn token(sub: &str, ttl_secs: Option<i64>) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = match ttl_secs {
        Some(ttl) => json!({"sub": sub, "exp": now + ttl}),
        None => json!({"sub": sub}),
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&SECRET),
    )
    .unwrap()
}

/// A client presenting `token` (none: no credentials), failing fast.
pub(crate) async fn client_as(url: &str, token: Option<&str>) -> Result<Client, pulsar::Error> {
    let mut builder = Pulsar::builder(url, TokioExecutor)
        .with_operation_retry_options(OperationRetryOptions {
            operation_timeout: Duration::from_secs(10),
            retry_delay: Duration::from_millis(100),
            max_retries: Some(0),
        })
        .with_connection_retry_options(ConnectionRetryOptions {
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            max_retries: 1,
            connection_timeout: Duration::from_secs(5),
            ..ConnectionRetryOptions::default()
        });
    if let Some(token) = token {
        builder = builder.with_auth(Authentication {
            name: "token".to_owned(),
            data: token.as_bytes().to_vec(),
        });
    }
    within("client build", builder.build()).await
}

/// `method` on the admin API as the superuser `admin`, with a JSON body: the status.
pub(crate) async fn as_admin(
    broker: &TestBroker,
    method: &'static str,
    path: &str,
    body: &str,
) -> u16 {
    let url = format!("{}{path}", broker.admin_url);
    let (body, bearer) = (
        body.to_owned(),
        format!("Bearer {}", token("admin", Some(600))),
    );
    let work = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let sent = match method {
            "POST" => agent
                .post(&url)
                .header("Authorization", &bearer)
                .header("Content-Type", "application/json")
                .send(body),
            _ => agent.delete(&url).header("Authorization", &bearer).call(),
        };
        sent.unwrap().status().as_u16()
    });
    within("admin request", work).await.unwrap()
}

#[test]
fn token_clients_are_admitted_and_bad_tokens_refused() {
    on_a_large_stack(token_clients_are_admitted_and_bad_tokens_refused_body);
}

async fn token_clients_are_admitted_and_bad_tokens_refused_body() {
    let broker = TestBroker::start_with(secured);
    let url = broker.service_url.clone();
    let topic = unique_topic("sec-token");

    let admin = client_as(&url, Some(&token("admin", Some(600))))
        .await
        .expect("a superuser token connects");
    let mut consumer = exclusive(&admin, &topic, "s", InitialPosition::Earliest).await;
    let mut p = producer(&admin, &topic, "p").await;
    send_all(&mut p, [b"secret-1".to_vec(), b"secret-2".to_vec()]).await;
    assert_eq!(
        receive_payloads(&mut consumer, 2).await,
        ["secret-1", "secret-2"]
    );

    assert!(client_as(&url, None).await.is_err(), "no credentials");
    assert!(
        client_as(&url, Some(&token("admin", Some(-30))))
            .await
            .is_err(),
        "expired token"
    );
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "admin"}),
        &jsonwebtoken::EncodingKey::from_secret(b"not the broker's secret key at all"),
    )
    .unwrap();
    assert!(
        client_as(&url, Some(&forged)).await.is_err(),
        "forged token"
    );

    // On the wire: ERROR(AuthenticationError) for request id -1, then the connection closes.
    let mut raw = raw_connection(&url).await;
    let connect = commands::client::connect_with_auth("raw", 21, "token", b"junk".to_vec());
    raw.send(Frame::new(connect)).await.unwrap();
    let error = next_command(&mut raw).await.expect("an answer");
    let error = error.error.expect("ERROR");
    assert_eq!(error.request_id, u64::MAX);
    assert_eq!(error.error(), ServerError::AuthenticationError);
    assert!(next_command(&mut raw).await.is_none(), "then closed");

    // The superuser's client is unaffected by the refused ones.
    send_all(&mut p, [b"secret-3".to_vec()]).await;
    assert_eq!(receive_payloads(&mut consumer, 1).await, ["secret-3"]);
}

#[test]
fn granted_and_revoked_permissions_decide_produce_consume_and_topic_lists() {
    on_a_large_stack(granted_and_revoked_permissions_decide_produce_consume_and_topic_lists_body);
}

async fn granted_and_revoked_permissions_decide_produce_consume_and_topic_lists_body() {
    let broker = TestBroker::start_with(secured);
    let url = broker.service_url.clone();
    let topic = unique_topic("sec-grant");
    let other = unique_topic("sec-other");
    let admin = client_as(&url, Some(&token("admin", None))).await.unwrap();
    let mut p = producer(&admin, &other, "seed").await;
    send_all(&mut p, [b"x".to_vec()]).await;

    // Grants through the permissions admin API, as pulsar-admin sends them.
    let ns_grants = "/admin/v2/namespaces/public/default/permissions";
    let topic_grants = format!("/admin/v2/persistent/public/default/{topic}/permissions");
    assert_eq!(
        as_admin(
            &broker,
            "POST",
            &format!("{ns_grants}/reader"),
            r#"["consume"]"#,
        )
        .await,
        204
    );
    assert_eq!(
        as_admin(
            &broker,
            "POST",
            &format!("{topic_grants}/writer"),
            r#"["produce"]"#,
        )
        .await,
        204
    );
    let writer = client_as(&url, Some(&token("writer", None))).await.unwrap();
    let reader = client_as(&url, Some(&token("reader", None))).await.unwrap();
    let stranger = client_as(&url, Some(&token("stranger", None)))
        .await
        .unwrap();

    let mut consumer = exclusive(&reader, &topic, "s", InitialPosition::Earliest).await;
    let mut wp = producer(&writer, &topic, "w").await;
    send_all(&mut wp, [b"granted".to_vec()]).await;
    assert_eq!(receive_payloads(&mut consumer, 1).await, ["granted"]);

    let refused = |e: pulsar::Error| format!("{e:?}");
    let err = refused(
        within(
            "writer subscribes",
            writer
                .consumer()
                .with_topic(&topic)
                .with_subscription("w")
                .build::<Vec<u8>>(),
        )
        .await
        .err()
        .expect("writer may not consume"),
    );
    assert!(err.contains("Authoriz"), "{err}");
    let err = within(
        "reader produces",
        reader.producer().with_topic(&topic).build(),
    )
    .await
    .err()
    .expect("reader may not produce");
    assert!(refused(err).contains("Authoriz"));
    let err = within(
        "stranger produces",
        stranger.producer().with_topic(&other).build(),
    )
    .await
    .err()
    .expect("stranger may not produce");
    assert!(refused(err).contains("Authoriz"));

    // Topic lists: the namespace-wide reader sees everything, the writer only its topic, the
    // stranger nothing at all.
    let listed = |c: Client| async move {
        within(
            "topics of namespace",
            c.get_topics_of_namespace("public/default".to_owned(), Mode::Persistent),
        )
        .await
    };
    let all = listed(reader.clone()).await.unwrap();
    assert!(all.contains(&full_name(&other)), "{all:?}");
    assert_eq!(listed(writer.clone()).await.unwrap(), [full_name(&topic)]);
    assert!(listed(stranger.clone()).await.is_err());

    // Revoking the grant refuses the next producer.
    assert_eq!(
        as_admin(&broker, "DELETE", &format!("{topic_grants}/writer"), "").await,
        204
    );
    let err = within(
        "revoked writer",
        writer.producer().with_topic(&topic).build(),
    )
    .await
    .err()
    .expect("revoked");
    assert!(refused(err).contains("Authoriz"));
}

/// GET `url` with an optional `Authorization` header: (status, body).
async fn http_get(url: String, authorization: Option<String>) -> (u16, String) {
    let work = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut request = agent.get(&url);
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let mut response = request.call().unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().unwrap())
    });
    within("admin request", work).await.unwrap()
}

/// PUT `url` with a raw body: the status.
async fn http_put(url: String, body: Vec<u8>) -> u16 {
    let work = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let response = agent
            .put(&url)
            .header("Content-Type", "application/json")
            .send(&body[..])
            .unwrap();
        response.status().as_u16()
    });
    within("admin request", work).await.unwrap()
}

#[test]
fn the_admin_api_takes_bearer_tokens_and_hides_other_tenants() {
    on_a_large_stack(the_admin_api_takes_bearer_tokens_and_hides_other_tenants_body);
}

async fn the_admin_api_takes_bearer_tokens_and_hides_other_tenants_body() {
    let broker = TestBroker::start_with(secured);
    let tenants = format!("{}/admin/v2/tenants", broker.admin_url);
    let bearer = |sub: &str| Some(format!("Bearer {}", token(sub, Some(600))));

    assert_eq!(http_get(tenants.clone(), None).await.0, 401);
    let expired = Some(format!("Bearer {}", token("admin", Some(-30))));
    assert_eq!(http_get(tenants.clone(), expired).await.0, 401);
    let (status, body) = http_get(tenants.clone(), bearer("admin")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("public"), "{body}");
    // A role that administers no tenant sees none of them.
    let (status, body) = http_get(tenants, bearer("stranger")).await;
    assert_eq!((status, body.as_str()), (200, "[]"));
    let topics = format!("{}/admin/v2/persistent/public/default", broker.admin_url);
    assert_eq!(http_get(topics.clone(), bearer("stranger")).await.0, 403);
    assert_eq!(http_get(topics, bearer("admin")).await.0, 200);
}

#[test]
fn connections_over_the_per_address_limit_are_refused_alone() {
    on_a_large_stack(connections_over_the_per_address_limit_are_refused_alone_body);
}

async fn connections_over_the_per_address_limit_are_refused_alone_body() {
    let broker = TestBroker::start_with(|c| c.security.max_connections_per_ip = 2);
    let url = broker.service_url.clone();
    let topic = unique_topic("sec-limit");
    let client = client_as(&url, None).await.unwrap();
    let mut p = producer(&client, &topic, "p").await;
    let _second = raw_connected(&url).await;

    let mut third = raw_connection(&url).await;
    third
        .send(Frame::new(commands::client::connect("raw", 21)))
        .await
        .unwrap();
    let error = next_command(&mut third).await.expect("an answer");
    let error = error.error.expect("ERROR");
    assert_eq!(error.error(), ServerError::NotAllowedError);
    assert!(error.message.contains("connections"), "{}", error.message);
    assert!(next_command(&mut third).await.is_none(), "then closed");

    // The admitted clients keep working.
    send_all(&mut p, [b"still-served".to_vec()]).await;
}

async fn raw_connection(url: &str) -> Framed<TcpStream, PulsarCodec> {
    let stream = within(
        "tcp connect",
        TcpStream::connect(url.trim_start_matches("pulsar://")),
    )
    .await
    .unwrap();
    Framed::new(stream, PulsarCodec::default())
}

async fn raw_connected(url: &str) -> Framed<TcpStream, PulsarCodec> {
    let mut framed = raw_connection(url).await;
    framed
        .send(Frame::new(commands::client::connect("raw", 21)))
        .await
        .unwrap();
    let connected = next_command(&mut framed).await.expect("CONNECTED");
    assert!(connected.connected.is_some(), "{connected:?}");
    framed
}

/// The next command, or `None` once the broker closed the connection.
async fn next_command(
    framed: &mut Framed<TcpStream, PulsarCodec>,
) -> Option<geminga_protocol::proto::BaseCommand> {
    match within("raw receive", framed.next()).await {
        Some(Ok(frame)) => Some(frame.command),
        _ => None,
    }
}

/// Writes `bytes` on a fresh socket and returns everything the broker answers until it closes.
async fn answer_to(url: &str, bytes: &[u8], half_close: bool) -> Vec<u8> {
    let mut stream = TcpStream::connect(url.trim_start_matches("pulsar://"))
        .await
        .unwrap();
    stream.write_all(bytes).await.unwrap();
    if half_close {
        stream.shutdown().await.unwrap();
    }
    let mut answer = Vec::new();
    within("broker closes", stream.read_to_end(&mut answer))
        .await
        .ok();
    answer
}

/// The commands in `bytes`.
fn commands_in(bytes: &[u8]) -> Vec<geminga_protocol::proto::BaseCommand> {
    let mut codec = PulsarCodec::default();
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Ok(Some(frame)) = codec.decode(&mut buf) {
        out.push(frame.command);
    }
    out
}

fn encoded(command: geminga_protocol::proto::BaseCommand) -> Vec<u8> {
    let mut buf = BytesMut::new();
    tokio_util::codec::Encoder::encode(&mut PulsarCodec::default(), Frame::new(command), &mut buf)
        .unwrap();
    buf.to_vec()
}

#[test]
fn malformed_input_closes_only_the_offending_connection() {
    on_a_large_stack(malformed_input_closes_only_the_offending_connection_body);
}

async fn malformed_input_closes_only_the_offending_connection_body() {
    let broker = TestBroker::start();
    let url = broker.service_url.clone();
    let topic = unique_topic("sec-malformed");
    let client = broker.client().await;
    let mut consumer = exclusive(&client, &topic, "s", InitialPosition::Earliest).await;
    let mut p = producer(&client, &topic, "p").await;

    // Garbage: a frame header announcing a command longer than the frame.
    let mut garbage = BytesMut::new();
    garbage.put_u32(12);
    garbage.put_u32(1_000);
    garbage.put_slice(&[0xAB; 12]);
    let answer = commands_in(&answer_to(&url, &garbage, false).await);
    let error = answer.first().and_then(|c| c.error.clone()).expect("ERROR");
    assert!(error.message.contains("malformed"), "{}", error.message);

    // Random bytes that are no protobuf at all.
    let mut junk = BytesMut::new();
    junk.put_u32(8);
    junk.put_u32(4);
    junk.put_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]);
    let answer = commands_in(&answer_to(&url, &junk, false).await);
    assert!(answer.iter().any(|c| c.error.is_some()), "{answer:?}");

    // A frame far over the size limit is refused before it is read.
    let mut oversize = BytesMut::new();
    oversize.put_u32(512 * 1024 * 1024);
    oversize.put_slice(&[0; 64]);
    let answer = commands_in(&answer_to(&url, &oversize, false).await);
    let error = answer.first().and_then(|c| c.error.clone()).expect("ERROR");
    assert!(error.message.contains("malformed"), "{}", error.message);

    // The first frame must be CONNECT.
    let answer = commands_in(&answer_to(&url, &encoded(commands::ping()), false).await);
    let error = answer.first().and_then(|c| c.error.clone()).expect("ERROR");
    assert_eq!(error.error(), ServerError::NotAllowedError);

    // A truncated frame then end of stream: closed without an answer or a crash.
    let mut truncated = encoded(commands::client::connect("raw", 21));
    truncated.truncate(truncated.len() - 3);
    let answer = commands_in(&answer_to(&url, &truncated, true).await);
    assert!(
        answer.iter().all(|c| c.r#type() != Type::Connected),
        "{answer:?}"
    );

    // Bad admin JSON is a 400 for its sender.
    let admin = format!("{}/admin/v2/tenants/bad-json", broker.admin_url);
    assert_eq!(
        http_put(admin.clone(), b"{\"adminRoles\": [".to_vec()).await,
        400
    );
    assert_eq!(http_put(admin, vec![0xFF, 0xFE, 0x00]).await, 400);

    // Everyone else is still served.
    send_all(&mut p, [b"after-garbage".to_vec()]).await;
    assert_eq!(receive_payloads(&mut consumer, 1).await, ["after-garbage"]);
    let (status, _) = http_get(format!("{}/admin/v2/tenants", broker.admin_url), None).await;
    assert_eq!(status, 200);
}

#[test]
fn sends_over_the_pending_limit_fail_for_that_producer_only() {
    on_a_large_stack(sends_over_the_pending_limit_fail_for_that_producer_only_body);
}

async fn sends_over_the_pending_limit_fail_for_that_producer_only_body() {
    let broker = TestBroker::start_with(|c| c.security.max_pending_sends_per_producer = 1);
    let url = broker.service_url.clone();
    let topic = full_name(&unique_topic("sec-pending"));
    let mut raw = raw_connected(&url).await;
    raw.send(Frame::new(commands::client::producer(&topic, 1, 1, None)))
        .await
        .unwrap();
    let ready = next_command(&mut raw).await.expect("PRODUCER_SUCCESS");
    assert!(ready.producer_success.is_some(), "{ready:?}");

    // Many SENDs in one write: the connection reads them before the first is persisted.
    const SENDS: u64 = 50;
    for sequence_id in 0..SENDS {
        let metadata = geminga_protocol::proto::MessageMetadata {
            producer_name: ready.producer_success.clone().unwrap().producer_name,
            sequence_id,
            publish_time: 1,
            ..Default::default()
        };
        let payload = geminga_protocol::frame::Payload::new(&metadata, b"m");
        raw.feed(Frame::with_payload(
            commands::client::send(1, sequence_id, None),
            payload,
        ))
        .await
        .unwrap();
    }
    SinkExt::<Frame>::flush(&mut raw).await.unwrap();
    let (mut receipts, mut refused) = (0, 0);
    while receipts + refused < SENDS {
        let command = next_command(&mut raw).await.expect("an answer per SEND");
        if command.send_receipt.is_some() {
            receipts += 1;
        } else if let Some(e) = command.send_error {
            assert_eq!(e.error(), ServerError::TooManyRequests, "{}", e.message);
            assert!(
                e.message.contains("maxPendingSendsPerProducer"),
                "{}",
                e.message
            );
            refused += 1;
        }
    }
    assert!(
        receipts >= 1 && refused >= 1,
        "{receipts} receipts, {refused} refused"
    );

    // Another client's producer on the same topic is unaffected.
    let client = broker.client().await;
    let mut p = producer(&client, &topic, "other").await;
    send_all(&mut p, [b"unaffected".to_vec()]).await;
}
