//! REACHED_END_OF_TOPIC, sent only to clients that handle it.

use actix::{Context, Handler};
use geminga_protocol::commands;
use tracing::debug;

use super::{
    actor::{Connection, ConsumerSlot},
    messages::EndOfTopic,
};

/// C++ clients (and the Python client built on them) have no handler for
/// REACHED_END_OF_TOPIC and drop the connection on it (see the wire protocol digest).
const CLIENTS_WITHOUT_END_OF_TOPIC: &str = "Pulsar-CPP";

impl Handler<EndOfTopic> for Connection {
    type Result = ();

    fn handle(&mut self, msg: EndOfTopic, _ctx: &mut Context<Self>) {
        let current = matches!(
            self.consumers.get(&msg.consumer_id),
            Some(ConsumerSlot::Ready { key, .. }) if *key == msg.key
        );
        if !current
            || self
                .client_version
                .starts_with(CLIENTS_WITHOUT_END_OF_TOPIC)
        {
            debug!(parent: &self.span, consumer_id = msg.consumer_id, "end of topic not sent");
            return;
        }
        self.send(commands::reached_end_of_topic(msg.consumer_id));
    }
}
