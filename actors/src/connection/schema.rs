//! GET_SCHEMA and GET_OR_CREATE_SCHEMA: the schema registry over the binary protocol.

use actix::{fut::wrap_future, ActorFutureExt, AsyncContext, Context};
use geminga_protocol::{
    commands,
    proto::{
        CommandGetOrCreateSchema, CommandGetOrCreateSchemaResponse, CommandGetSchema, ServerError,
    },
    topic_name::TopicName,
};
use tracing::warn;

use super::actor::Connection;
use crate::{
    context::BrokerContext,
    error::RequestError,
    metadata::{decode_schema_version, encode_schema_version, schema_id, NamespaceName},
    schema::{self, SchemaError},
    topic::effective::PolicyLevels,
};

/// C++ clients (and Python on them) cannot parse GET_OR_CREATE_SCHEMA_RESPONSE.
const CLIENTS_WITHOUT_GET_OR_CREATE: &str = "Pulsar-CPP";

impl Connection {
    pub(super) fn on_get_schema(&mut self, c: CommandGetSchema, ctx: &mut Context<Self>) {
        let request_id = c.request_id;
        let topic = match TopicName::parse(&c.topic) {
            Ok(topic) => topic,
            Err(e) => {
                return self.send(commands::get_schema_error(
                    request_id,
                    ServerError::InvalidTopicName,
                    e.to_string(),
                ))
            }
        };
        let version = match c.schema_version.as_deref() {
            None | Some([]) => None,
            Some(bytes) => match decode_schema_version(bytes) {
                Some(v) => Some(v),
                None => {
                    return self.send(commands::get_schema_error(
                        request_id,
                        ServerError::TopicNotFound,
                        "schema versions are 8 bytes",
                    ))
                }
            },
        };
        let metadata = self.broker.metadata().clone();
        let found = actix_rt::task::spawn_blocking(move || {
            schema::get_schema(&metadata, &topic, version).map(|s| (s, schema_id(&topic)))
        });
        ctx.spawn(wrap_future::<_, Self>(found).map(move |found, act, _ctx| {
            let command = match found {
                Ok(Ok((Some(stored), name))) => commands::get_schema_response(
                    request_id,
                    schema::to_proto(&name, &stored.schema),
                    encode_schema_version(stored.version),
                ),
                // "No schema" is TopicNotFound, which C++ treats quietly.
                Ok(Ok((None, _))) => commands::get_schema_error(
                    request_id,
                    ServerError::TopicNotFound,
                    "Topic does not have a schema",
                ),
                Ok(Err(e)) => commands::get_schema_error(
                    request_id,
                    ServerError::MetadataError,
                    e.to_string(),
                ),
                Err(_) => commands::get_schema_error(
                    request_id,
                    ServerError::ServiceNotReady,
                    "the schema registry is restarting",
                ),
            };
            act.send(command);
        }));
    }

    pub(super) fn on_get_or_create_schema(
        &mut self,
        c: CommandGetOrCreateSchema,
        ctx: &mut Context<Self>,
    ) {
        let request_id = c.request_id;
        if self
            .client_version
            .starts_with(CLIENTS_WITHOUT_GET_OR_CREATE)
        {
            warn!(parent: &self.span, "GET_OR_CREATE_SCHEMA from a C++ client; answering ERROR");
            return self.send_error(
                request_id,
                ServerError::NotAllowedError,
                "GET_OR_CREATE_SCHEMA is not answered to C++ clients",
            );
        }
        let broker = self.broker.clone();
        let created = actix_rt::task::spawn_blocking(move || get_or_create(&broker, &c));
        ctx.spawn(
            wrap_future::<_, Self>(created).map(move |created, act, _ctx| {
                let outcome = created
                    .unwrap_or_else(|_| Err(RequestError::unavailable("the schema registry")));
                let response = match outcome {
                    Ok(version) => CommandGetOrCreateSchemaResponse {
                        request_id,
                        error_code: None,
                        error_message: None,
                        schema_version: Some(encode_schema_version(version)),
                    },
                    Err(e) => CommandGetOrCreateSchemaResponse {
                        request_id,
                        error_code: Some(e.server_error() as i32),
                        error_message: Some(e.to_string()),
                        schema_version: None,
                    },
                };
                act.send(response);
            }),
        );
    }
}

/// Finds or adds a schema under the topic's effective strategy (blocking).
fn get_or_create(
    broker: &BrokerContext,
    c: &CommandGetOrCreateSchema,
) -> Result<u64, RequestError> {
    let topic = TopicName::parse(&c.topic).map_err(|e| RequestError::InvalidTopicName {
        name: c.topic.clone(),
        reason: e.to_string(),
    })?;
    let metadata = broker.metadata();
    let namespace = metadata.policies(&NamespaceName::of_topic(&topic))?;
    let topic_policies = metadata.topic_policies(&topic)?.unwrap_or_default();
    let levels = PolicyLevels {
        topic: &topic_policies,
        namespace: &namespace,
        broker: broker.config(),
    };
    schema::add_schema(
        metadata,
        &topic,
        &schema::from_proto(&c.schema),
        levels.schema_strategy(),
        levels.allow_auto_update_schema(),
    )
    .map_err(|e: SchemaError| e.into_request_error(&topic))
}
