//! Reading messages over HTTP: peek the n-th unacknowledged entry of a subscription, and get
//! an entry by its id. Pulsar answers the raw payload with the metadata in `X-Pulsar-*`
//! headers; batches come whole, with `X-Pulsar-num-batch-message`.

use actix_web::{guard, web, HttpResponse, HttpResponseBuilder};
use geminga_actors::{
    subscription::PeekEntry,
    topic::{admin_stats::format_time, GetSubscription},
    BrokerContext, RequestError,
};
use geminga_protocol::frame::Payload;
use geminga_storage::Entry;
use serde::Deserialize;

use super::{bad_request, respond, topic_actor, TopicPath};

/// Registers the message routes under `topic` (the topic path pattern).
pub(super) fn routes(cfg: &mut web::ServiceConfig, topic: &str) {
    cfg.service(
        web::resource(format!(
            "{topic}/subscription/{{subscription}}/position/{{position}}"
        ))
        .guard(guard::Get())
        .to(peek),
    )
    .service(
        web::resource(format!("{topic}/ledger/{{ledger}}/entry/{{entry}}"))
            .guard(guard::Get())
            .to(by_id),
    );
}

#[derive(Debug, Deserialize)]
struct PeekPath {
    domain: String,
    tenant: String,
    namespace: String,
    topic: String,
    subscription: String,
    position: u64,
}

#[derive(Debug, Deserialize)]
struct EntryPath {
    domain: String,
    tenant: String,
    namespace: String,
    topic: String,
    ledger: u64,
    entry: u64,
}

fn persistent(path: TopicPath) -> Result<geminga_protocol::topic_name::TopicName, RequestError> {
    let topic = path.topic_name()?;
    if !topic.is_persistent() {
        return Err(RequestError::NotAllowed {
            reason: "reading messages is not supported on non-persistent topics".into(),
        });
    }
    Ok(topic)
}

fn not_found(what: String) -> RequestError {
    RequestError::TopicNotFound { topic: what }
}

async fn peek(context: web::Data<BrokerContext>, path: web::Path<PeekPath>) -> HttpResponse {
    let path = path.into_inner();
    let peeked = async {
        let subscription = path.subscription.clone();
        let topic = persistent(TopicPath {
            domain: path.domain,
            tenant: path.tenant,
            namespace: path.namespace,
            topic: path.topic,
        })?;
        if path.position == 0 {
            return Err(bad_request("message positions start at 1"));
        }
        let actor = topic_actor(&context, &topic.to_string(), false).await?;
        let ledger_id = actor
            .send(geminga_actors::topic::GetLastEntry)
            .await?
            .ledger_id;
        let sub = actor
            .send(GetSubscription {
                name: subscription.clone(),
            })
            .await??;
        let entry = sub
            .send(PeekEntry {
                position: path.position,
            })
            .await??
            .ok_or_else(|| {
                not_found(format!(
                    "message at position {} of subscription {subscription} on {topic}",
                    path.position
                ))
            })?;
        message_response(ledger_id, entry)
    };
    respond(peeked.await)
}

async fn by_id(context: web::Data<BrokerContext>, path: web::Path<EntryPath>) -> HttpResponse {
    let path = path.into_inner();
    let found = async {
        let (ledger, entry_id) = (path.ledger, path.entry);
        let topic = persistent(TopicPath {
            domain: path.domain,
            tenant: path.tenant,
            namespace: path.namespace,
            topic: path.topic,
        })?;
        let name = topic.to_string();
        let storage = context.storage().clone();
        let read = actix_rt::task::spawn_blocking(move || {
            let Some(record) = storage.topic(&name)? else {
                return Ok(Err(RequestError::TopicNotFound { topic: name }));
            };
            if record.ledger_id != ledger {
                return Ok(Ok(None));
            }
            storage.read_entry(ledger, entry_id).map(Ok)
        })
        .await
        .map_err(|_| RequestError::unavailable("the storage task"))?;
        let entry =
            read??.ok_or_else(|| not_found(format!("message {ledger}:{entry_id} on {topic}")))?;
        message_response(ledger, entry)
    };
    respond(found.await)
}

/// The payload (metadata stripped) with Pulsar's `X-Pulsar-*` headers.
fn message_response(ledger_id: u64, entry: Entry) -> Result<HttpResponse, RequestError> {
    let payload = Payload::from_data(entry.data);
    let corrupt = |e: geminga_protocol::error::ProtocolError| RequestError::Malformed {
        reason: format!("stored message does not parse: {e}"),
    };
    let metadata = payload.metadata().map_err(corrupt)?;
    let body = payload.body().map_err(corrupt)?;
    let mut response = HttpResponse::Ok();
    response.content_type("application/octet-stream");
    let mut header = |name: &str, value: String| {
        add_header(&mut response, name, value);
    };
    header(
        "X-Pulsar-Message-ID",
        format!("{ledger_id}:{}", entry.entry_id),
    );
    header("X-Pulsar-publish-time", format_time(metadata.publish_time));
    header("X-Pulsar-producer-name", metadata.producer_name.clone());
    header("X-Pulsar-sequence-id", metadata.sequence_id.to_string());
    header(
        "X-Pulsar-is-encrypted",
        (!metadata.encryption_keys.is_empty()).to_string(),
    );
    if let Some(time) = metadata.event_time.filter(|t| *t > 0) {
        header("X-Pulsar-event-time", format_time(time));
    }
    if let Some(key) = &metadata.partition_key {
        header("X-Pulsar-partition-key", key.clone());
    }
    if let Some(count) = metadata.num_messages_in_batch {
        header("X-Pulsar-num-batch-message", count.to_string());
        header("X-Pulsar-batch-size", body.len().to_string());
    }
    if let Some(size) = metadata.uncompressed_size {
        header("X-Pulsar-uncompressed-size", size.to_string());
    }
    if metadata.compression.is_some() {
        header(
            "X-Pulsar-compression",
            metadata.compression().as_str_name().to_owned(),
        );
    }
    for property in &metadata.properties {
        header(
            &format!("X-Pulsar-PROPERTY-{}", property.key),
            property.value.clone(),
        );
    }
    Ok(response.body(body))
}

/// Adds a header, skipping names or values HTTP cannot carry.
fn add_header(response: &mut HttpResponseBuilder, name: &str, value: String) {
    use actix_web::http::header::{HeaderName, HeaderValue};
    if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
        response.insert_header((name, value));
    }
}
