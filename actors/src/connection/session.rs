//! Handshake, keep-alive, lookups and other requests that involve no producer or consumer.

use actix::{fut::wrap_future, ActorContext, ActorFutureExt, AsyncContext, Context};
use geminga_protocol::{
    commands,
    frame::PROTOCOL_VERSION,
    proto::{
        base_command::Type, command_get_topics_of_namespace::Mode, BaseCommand, CommandGetSchema,
        CommandGetTopicsOfNamespace, CommandLookupTopic, CommandPartitionedTopicMetadata,
        ServerError,
    },
    topic_name::TopicName,
};
use tracing::{info, warn};

use super::actor::Connection;
use crate::{error::RequestError, registry::ListTopics};

impl Connection {
    /// The first frame must be CONNECT; it is answered with CONNECTED at the lower version.
    pub(super) fn on_connect(&mut self, command: BaseCommand, ctx: &mut Context<Self>) {
        let Some(connect) = command.connect else {
            warn!(parent: &self.span, "first frame is not CONNECT; closing");
            self.send_error(
                u64::MAX,
                ServerError::NotAllowedError,
                "expected CONNECT first",
            );
            return ctx.stop();
        };
        self.protocol_version = connect.protocol_version().min(PROTOCOL_VERSION);
        self.client_version = connect.client_version.clone();
        self.connected = true;
        info!(
            parent: &self.span,
            client_version = %self.client_version,
            protocol_version = self.protocol_version,
            "handshake"
        );
        let config = self.broker.config();
        let connected = commands::connected(
            config.server_version.clone(),
            self.protocol_version,
            config.max_message_size,
        );
        self.send(connected);
    }

    /// Parses a topic name from a request, with Pulsar's short forms.
    pub(super) fn parse_topic(name: &str) -> Result<TopicName, RequestError> {
        TopicName::parse(name).map_err(|e| RequestError::InvalidTopicName {
            name: name.to_owned(),
            reason: e.to_string(),
        })
    }

    pub(super) fn on_lookup(&mut self, c: CommandLookupTopic) {
        match Self::parse_topic(&c.topic) {
            Ok(_) => {
                let advertised = self.broker.advertised().clone();
                self.send(commands::lookup_connect(
                    c.request_id,
                    advertised.service_url,
                    advertised.service_url_tls,
                ));
            }
            Err(e) => self.send(commands::lookup_failed(
                c.request_id,
                e.server_error(),
                e.to_string(),
            )),
        }
    }

    pub(super) fn on_partitioned_metadata(&mut self, c: CommandPartitionedTopicMetadata) {
        match Self::parse_topic(&c.topic) {
            // Partitioned topics come with the tenancy work; every topic is non-partitioned now.
            Ok(_) => self.send(commands::partitioned_metadata(c.request_id, 0)),
            Err(e) => self.send(commands::partitioned_metadata_failed(
                c.request_id,
                e.server_error(),
                e.to_string(),
            )),
        }
    }

    pub(super) fn on_topics_of_namespace(
        &mut self,
        c: CommandGetTopicsOfNamespace,
        ctx: &mut Context<Self>,
    ) {
        let request_id = c.request_id;
        if c.mode() == Mode::NonPersistent {
            return self.send(commands::topics_of_namespace(request_id, Vec::new()));
        }
        let Some(registry) = self.broker.registry() else {
            return self.send_error(request_id, ServerError::ServiceNotReady, "broker starting");
        };
        let list = registry.send(ListTopics {
            namespace: c.namespace,
        });
        let fut = wrap_future::<_, Self>(list).map(move |sent, act, _ctx| {
            match sent.unwrap_or_else(|e| Err(RequestError::from(e))) {
                Ok(topics) => act.send(commands::topics_of_namespace(request_id, topics)),
                Err(e) => act.send_error(request_id, e.server_error(), e.to_string()),
            }
        });
        ctx.spawn(fut);
    }

    pub(super) fn on_get_schema(&mut self, c: CommandGetSchema) {
        // The schema registry comes with the policies work; until then no topic has a schema.
        self.send(commands::get_schema_error(
            c.request_id,
            ServerError::TopicNotFound,
            "no schema",
        ));
    }

    /// Requests Geminga does not serve still get an answer, so no client waits for a timeout.
    pub(super) fn on_unsupported(&mut self, kind: Type, command: &BaseCommand) {
        let request_id = match kind {
            Type::GetOrCreateSchema => command.get_or_create_schema.as_ref().map(|c| c.request_id),
            Type::WatchTopicList => command.watch_topic_list.as_ref().map(|c| c.request_id),
            _ => None,
        };
        warn!(parent: &self.span, command = kind.as_str_name(), "unsupported command");
        if let Some(request_id) = request_id {
            self.send_error(
                request_id,
                ServerError::NotAllowedError,
                format!("{} is not supported", kind.as_str_name()),
            );
        }
    }
}
