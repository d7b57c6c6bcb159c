//! Handshake, keep-alive, lookups and other requests that involve no producer or consumer.

use actix::{fut::wrap_future, ActorFutureExt, AsyncContext, Context};
use geminga_protocol::{
    commands,
    frame::PROTOCOL_VERSION,
    proto::{
        base_command::Type, BaseCommand, CommandLookupTopic, CommandPartitionedTopicMetadata,
        FeatureFlags, ServerError,
    },
    topic_name::TopicName,
};
use tracing::{info, warn};

use super::actor::Connection;
use crate::{
    error::RequestError,
    ownership::{client_partitions, lookup_topic, LookupError},
    security::TopicOperation,
};

impl Connection {
    /// The first frame must be CONNECT; once its credentials pass (see
    /// [`Connection::authenticate_connect`]) it is answered with CONNECTED at the lower version.
    pub(super) fn on_connect(&mut self, command: BaseCommand, ctx: &mut Context<Self>) {
        let Some(connect) = command.connect else {
            warn!(parent: &self.span, "first frame is not CONNECT; closing");
            return self.close_with_error(
                ServerError::NotAllowedError,
                "expected CONNECT first",
                ctx,
            );
        };
        self.protocol_version = connect.protocol_version().min(PROTOCOL_VERSION);
        self.client_version = connect.client_version.clone();
        let flags = connect.feature_flags.unwrap_or_default();
        // Watch frames go only to clients that said they handle them (C++ 4.2 drops the
        // connection on an unknown command type).
        self.discovery.supports_watchers = flags.supports_topic_watchers.unwrap_or(false);
        // C++ advertises auth refresh; pulsar-rs handles AUTH_CHALLENGE without saying so.
        self.auth.supports_refresh = flags.supports_auth_refresh.unwrap_or(false)
            || self.client_version.starts_with("pulsar-rs");
        self.authenticate_connect(
            connect.auth_method_name,
            connect.auth_data.unwrap_or_default(),
            ctx,
        );
    }

    /// CONNECTED, once the client is authenticated.
    pub(super) fn send_connected(&mut self) {
        self.connected = true;
        info!(
            parent: &self.span,
            client_version = %self.client_version,
            protocol_version = self.protocol_version,
            topic_watchers = self.discovery.supports_watchers,
            "handshake"
        );
        let config = self.broker.config();
        let mut connected = commands::connected(
            config.server_version.clone(),
            self.protocol_version,
            config.max_message_size,
        );
        if let Some(c) = connected.connected.as_mut() {
            c.feature_flags = Some(FeatureFlags {
                supports_topic_watchers: Some(true),
                ..FeatureFlags::default()
            });
        }
        self.send(connected);
    }

    /// Parses a topic name from a request, with Pulsar's short forms.
    pub(super) fn parse_topic(name: &str) -> Result<TopicName, RequestError> {
        TopicName::parse(name).map_err(|e| RequestError::InvalidTopicName {
            name: name.to_owned(),
            reason: e.to_string(),
        })
    }

    /// LOOKUP: the owner of the topic's bundle, at the client's listener.
    pub(super) fn on_lookup(&mut self, c: CommandLookupTopic, ctx: &mut Context<Self>) {
        let request_id = c.request_id;
        let topic = match Self::parse_topic(&c.topic) {
            Ok(topic) => topic,
            Err(e) => {
                return self.send(commands::lookup_failed(
                    request_id,
                    e.server_error(),
                    e.to_string(),
                ))
            }
        };
        let permit = match self.begin_lookup() {
            Ok(permit) => permit,
            Err(e) => {
                let message = e.to_string();
                return self.send(commands::lookup_failed(
                    request_id,
                    e.server_error(),
                    message,
                ));
            }
        };
        let metadata = self.broker.metadata().clone();
        let ownership = self.broker.ownership().clone();
        let listener = c.advertised_listener_name;
        let access = self.access();
        let work = actix_rt::task::spawn_blocking(move || {
            let _permit = permit;
            access.topic(&topic, &TopicOperation::Lookup)?;
            lookup_topic(&metadata, ownership.as_ref(), &topic, listener.as_deref())
                .map_err(RequestError::from)
        });
        let fut = wrap_future::<_, Self>(work).map(move |joined, act, _ctx| {
            let answer = joined
                .map_err(|_| RequestError::unavailable("the lookup"))
                .and_then(|r| r);
            match answer {
                Ok(answer) => {
                    let address = answer.address;
                    let url = address
                        .broker_url
                        .or_else(|| address.broker_url_tls.clone());
                    act.send(commands::lookup_connect(
                        request_id,
                        url.unwrap_or_default(),
                        address.broker_url_tls,
                    ));
                }
                Err(e) => act.send(commands::lookup_failed(
                    request_id,
                    e.server_error(),
                    e.to_string(),
                )),
            }
        });
        ctx.spawn(fut);
    }

    /// PARTITIONED_METADATA: the partition count, creating a partitioned topic when the
    /// namespace auto-creates them.
    pub(super) fn on_partitioned_metadata(
        &mut self,
        c: CommandPartitionedTopicMetadata,
        ctx: &mut Context<Self>,
    ) {
        let request_id = c.request_id;
        let topic = match Self::parse_topic(&c.topic) {
            Ok(topic) => topic,
            Err(e) => {
                return self.send(commands::partitioned_metadata_failed(
                    request_id,
                    e.server_error(),
                    e.to_string(),
                ))
            }
        };
        let permit = match self.begin_lookup() {
            Ok(permit) => permit,
            Err(e) => {
                let message = e.to_string();
                return self.send(commands::partitioned_metadata_failed(
                    request_id,
                    e.server_error(),
                    message,
                ));
            }
        };
        let broker = self.broker.clone();
        let access = self.access();
        let work = actix_rt::task::spawn_blocking(move || {
            let _permit = permit;
            // Checked first: auto-creation must not run for a client that may not use the topic.
            access.topic(&topic, &TopicOperation::Lookup)?;
            client_partitions(&broker, &topic, true).map_err(|e: LookupError| RequestError::from(e))
        });
        let fut = wrap_future::<_, Self>(work).map(move |joined, act, _ctx| {
            let partitions: Result<u32, RequestError> = joined
                .map_err(|_| RequestError::unavailable("the metadata service"))
                .and_then(|r| r);
            match partitions {
                Ok(n) => act.send(commands::partitioned_metadata(request_id, n)),
                Err(e) => act.send(commands::partitioned_metadata_failed(
                    request_id,
                    e.server_error(),
                    e.to_string(),
                )),
            }
        });
        ctx.spawn(fut);
    }

    /// Requests Geminga does not serve still get an answer, so no client waits for a timeout.
    /// (None of the commands reaching here carries a request id today.)
    pub(super) fn on_unsupported(&mut self, kind: Type, _command: &BaseCommand) {
        warn!(parent: &self.span, command = kind.as_str_name(), "unsupported command");
    }
}
