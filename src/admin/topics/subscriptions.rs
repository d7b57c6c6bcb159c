//! Subscription paths of a topic: list, create (at a message id), delete, skip, clear backlog,
//! reset cursor (by time or message id) and expire messages. On a partitioned topic they apply
//! to every partition, as in Pulsar.

use actix::Addr;
use actix_web::{guard, web, HttpResponse};
use geminga_actors::{
    subscription::{
        ClearBacklog, ExpireMessages, FlushCursor, Seek, SeekTarget, SkipEntries, Subscription,
    },
    topic::{CreateSubscription, DeleteSubscription, GetSubscription, ListSubscriptions, StartAt},
    BrokerContext, RequestError,
};
use geminga_protocol::topic_name::TopicName;
use serde::Deserialize;

use super::{bad_request, respond, targets, topic_actor, ForceQuery, TopicPath};

/// Registers the subscription routes under `topic` (the topic path pattern).
pub(super) fn routes(cfg: &mut web::ServiceConfig, topic: &str) {
    let sub = format!("{topic}/subscription/{{subscription}}");
    cfg.service(
        web::resource(format!("{topic}/subscriptions"))
            .guard(guard::Get())
            .to(list),
    )
    .service(web::resource(&sub).guard(guard::Put()).to(create))
    .service(web::resource(&sub).guard(guard::Delete()).to(delete))
    .service(
        web::resource(format!("{sub}/skip/{{value}}"))
            .guard(guard::Post())
            .to(skip),
    )
    .service(
        web::resource(format!("{sub}/skip_all"))
            .guard(guard::Post())
            .to(skip_all),
    )
    .service(
        web::resource(format!("{sub}/resetcursor/{{value}}"))
            .guard(guard::Post())
            .to(reset_by_time),
    )
    .service(
        web::resource(format!("{sub}/resetcursor"))
            .guard(guard::Post())
            .to(reset_by_id),
    )
    .service(
        web::resource(format!("{sub}/expireMessages/{{value}}"))
            .guard(guard::Post())
            .to(expire),
    )
    .service(
        web::resource(format!("{topic}/all_subscription/expireMessages/{{value}}"))
            .guard(guard::Post())
            .to(expire_all),
    );
}

/// A topic path plus the subscription name.
#[derive(Debug, Deserialize)]
struct SubscriptionPath {
    domain: String,
    tenant: String,
    namespace: String,
    topic: String,
    subscription: String,
}

impl SubscriptionPath {
    fn topic_path(&self) -> TopicPath {
        TopicPath {
            domain: self.domain.clone(),
            tenant: self.tenant.clone(),
            namespace: self.namespace.clone(),
            topic: self.topic.clone(),
        }
    }
}

/// A subscription path ending in a number (`skip/{value}`, `resetcursor/{value}`...).
#[derive(Debug, Deserialize)]
struct SubscriptionValuePath {
    domain: String,
    tenant: String,
    namespace: String,
    topic: String,
    subscription: String,
    value: u64,
}

impl SubscriptionValuePath {
    fn split(self) -> (SubscriptionPath, u64) {
        let path = SubscriptionPath {
            domain: self.domain,
            tenant: self.tenant,
            namespace: self.namespace,
            topic: self.topic,
            subscription: self.subscription,
        };
        (path, self.value)
    }
}

/// A topic path ending in a number.
#[derive(Debug, Deserialize)]
struct TopicValuePath {
    domain: String,
    tenant: String,
    namespace: String,
    topic: String,
    value: u64,
}

/// A message id body (`MessageIdImpl` or `ResetCursorData`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct MessageIdBody {
    ledger_id: i64,
    entry_id: i64,
    is_excluded: bool,
}

impl MessageIdBody {
    /// Parses a body; an empty body is `None`.
    fn parse(body: &[u8]) -> Result<Option<Self>, RequestError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(body)
            .map(Some)
            .map_err(|e| bad_request(format!("invalid message id: {e}")))
    }

    /// Where a subscription created at this id starts.
    fn start(&self) -> StartAt {
        if self.ledger_id == i64::MAX || self.entry_id == i64::MAX {
            StartAt::Latest
        } else if self.ledger_id < 0 || self.entry_id < 0 {
            StartAt::Earliest
        } else {
            let entry = u64::try_from(self.entry_id).unwrap_or(0);
            StartAt::Entry(entry + u64::from(self.is_excluded))
        }
    }
}

async fn subscription(
    context: &BrokerContext,
    topic: &str,
    name: &str,
) -> Result<Addr<Subscription>, RequestError> {
    let actor = topic_actor(context, topic, false).await?;
    actor
        .send(GetSubscription {
            name: name.to_owned(),
        })
        .await?
}

/// The parsed topic, refusing cursor operations on non-persistent topics as Pulsar does.
fn persistent_topic(path: &TopicPath) -> Result<TopicName, RequestError> {
    let topic = path.topic_name()?;
    if !topic.is_persistent() {
        return Err(RequestError::NotAllowed {
            reason: "this operation is not supported on non-persistent topics".into(),
        });
    }
    Ok(topic)
}

async fn list(context: web::Data<BrokerContext>, path: web::Path<TopicPath>) -> HttpResponse {
    let listed = async {
        let topic = path.topic_name()?;
        let mut names = Vec::new();
        for name in targets(&context, &topic).await? {
            let actor = topic_actor(&context, &name, false).await?;
            names.extend(actor.send(ListSubscriptions).await?);
        }
        names.sort();
        names.dedup();
        Ok(HttpResponse::Ok().json(names))
    };
    respond(listed.await)
}

async fn create(
    context: web::Data<BrokerContext>,
    path: web::Path<SubscriptionPath>,
    body: web::Bytes,
) -> HttpResponse {
    let created = async {
        let topic = persistent_topic(&path.topic_path())?;
        let start = MessageIdBody::parse(&body)?.map_or(StartAt::Latest, |id| id.start());
        for name in targets(&context, &topic).await? {
            let actor = topic_actor(&context, &name, false).await?;
            let sub = actor
                .send(CreateSubscription {
                    name: path.subscription.clone(),
                    start,
                })
                .await??;
            sub.send(FlushCursor).await??;
        }
        Ok(HttpResponse::NoContent().finish())
    };
    respond(created.await)
}

async fn delete(
    context: web::Data<BrokerContext>,
    path: web::Path<SubscriptionPath>,
    query: web::Query<ForceQuery>,
) -> HttpResponse {
    let deleted = async {
        let topic = path.topic_path().topic_name()?;
        for name in targets(&context, &topic).await? {
            let actor = topic_actor(&context, &name, false).await?;
            actor
                .send(DeleteSubscription {
                    name: path.subscription.clone(),
                    force: query.force,
                })
                .await??;
        }
        Ok(HttpResponse::NoContent().finish())
    };
    respond(deleted.await)
}

async fn skip(
    context: web::Data<BrokerContext>,
    path: web::Path<SubscriptionValuePath>,
) -> HttpResponse {
    let (path, count) = path.into_inner().split();
    let skipped = async {
        let topic = persistent_topic(&path.topic_path())?;
        let sub = subscription(&context, &topic.to_string(), &path.subscription).await?;
        sub.send(SkipEntries { count }).await??;
        Ok(HttpResponse::NoContent().finish())
    };
    respond(skipped.await)
}

async fn skip_all(
    context: web::Data<BrokerContext>,
    path: web::Path<SubscriptionPath>,
) -> HttpResponse {
    let cleared = async {
        let topic = persistent_topic(&path.topic_path())?;
        for name in targets(&context, &topic).await? {
            let sub = subscription(&context, &name, &path.subscription).await?;
            sub.send(ClearBacklog).await??;
        }
        Ok(HttpResponse::NoContent().finish())
    };
    respond(cleared.await)
}

/// Resets every targeted subscription; its consumers are disconnected and reconnect there.
async fn reset(
    context: &BrokerContext,
    path: &SubscriptionPath,
    target: SeekTarget,
) -> Result<HttpResponse, RequestError> {
    let topic = persistent_topic(&path.topic_path())?;
    for name in targets(context, &topic).await? {
        let sub = subscription(context, &name, &path.subscription).await?;
        // Key 0 is no consumer's: every attached consumer is disconnected.
        sub.send(Seek { key: 0, target }).await??;
    }
    Ok(HttpResponse::NoContent().finish())
}

async fn reset_by_time(
    context: web::Data<BrokerContext>,
    path: web::Path<SubscriptionValuePath>,
) -> HttpResponse {
    let (path, timestamp) = path.into_inner().split();
    respond(reset(&context, &path, SeekTarget::PublishTime(timestamp)).await)
}

async fn reset_by_id(
    context: web::Data<BrokerContext>,
    path: web::Path<SubscriptionPath>,
    body: web::Bytes,
) -> HttpResponse {
    let reset_to = async {
        let id =
            MessageIdBody::parse(&body)?.ok_or_else(|| bad_request("a message id is required"))?;
        let target = match id.start() {
            StartAt::Earliest => SeekTarget::Entry(u64::MAX),
            StartAt::Latest => SeekTarget::Entry(i64::MAX as u64),
            StartAt::Entry(entry) => SeekTarget::Entry(entry),
        };
        reset(&context, &path, target).await
    };
    respond(reset_to.await)
}

/// Expires, on every targeted topic, the messages of `subscription` (all when `None`) older
/// than `seconds`.
async fn expire_older_than(
    context: &BrokerContext,
    path: &TopicPath,
    subscription_name: Option<&str>,
    seconds: u64,
) -> Result<HttpResponse, RequestError> {
    let topic = persistent_topic(path)?;
    let cutoff = crate::client::epoch_millis().saturating_sub(seconds.saturating_mul(1000));
    for name in targets(context, &topic).await? {
        let actor = topic_actor(context, &name, false).await?;
        let names = match subscription_name {
            Some(sub) => vec![sub.to_owned()],
            None => actor.send(ListSubscriptions).await?,
        };
        for sub in names {
            let addr = actor.send(GetSubscription { name: sub }).await??;
            addr.send(ExpireMessages {
                publish_time_ms: cutoff,
            })
            .await??;
        }
    }
    Ok(HttpResponse::NoContent().finish())
}

async fn expire(
    context: web::Data<BrokerContext>,
    path: web::Path<SubscriptionValuePath>,
) -> HttpResponse {
    let (path, seconds) = path.into_inner().split();
    let topic = path.topic_path();
    respond(expire_older_than(&context, &topic, Some(&path.subscription), seconds).await)
}

async fn expire_all(
    context: web::Data<BrokerContext>,
    path: web::Path<TopicValuePath>,
) -> HttpResponse {
    let path = path.into_inner();
    let topic = TopicPath {
        domain: path.domain,
        tenant: path.tenant,
        namespace: path.namespace,
        topic: path.topic,
    };
    respond(expire_older_than(&context, &topic, None, path.value).await)
}
