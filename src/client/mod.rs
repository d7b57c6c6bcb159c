//! A small async Pulsar client on tokio and `geminga_protocol`, for the load generator and
//! tests. It connects, looks topics up, produces (pipelined, optionally batched), subscribes,
//! receives and acks. It does not reconnect, compress, chunk, encrypt or handle schemas.
//!
//! Each [`Connection`] runs a writer task (frames queued by any handle, flushed together) and a
//! reader task that routes responses by request id, receipts by producer and sequence id, and
//! MESSAGEs by consumer id.

mod batcher;
mod connection;
mod consumer;
mod error;
mod producer;
mod router;
mod url;

use std::collections::HashMap;

use geminga_protocol::proto::command_lookup_topic_response::LookupType;
use geminga_protocol::proto::command_partitioned_topic_metadata_response::LookupType as MetadataResult;
use geminga_protocol::proto::{CommandLookupTopic, CommandPartitionedTopicMetadata};
use tokio::sync::Mutex;

pub use batcher::BatchingOptions;
pub use connection::{Authentication, ConnectOptions, Connection};
pub use consumer::{Consumer, Message, SubscribeOptions};
pub use error::ClientError;
pub use geminga_protocol::message_id::MessageId;
pub use geminga_protocol::proto::command_subscribe::{InitialPosition, SubType};
pub use producer::{OutgoingMessage, Producer, ProducerOptions, SendFuture, SendReceipt};
pub use url::socket_address;

use connection::type_name;

/// Wall-clock epoch milliseconds, as put into `publish_time`.
#[must_use]
pub fn epoch_millis() -> u64 {
    producer::now_ms()
}
use error::server_error;

/// Lookups followed before giving up; a broker redirecting to itself would loop forever.
const MAX_REDIRECTS: usize = 10;

/// A client bound to a service URL. It keeps one connection per broker address and looks each
/// topic up before producing or subscribing, as Pulsar clients do.
#[derive(Debug)]
pub struct Client {
    service: Connection,
    options: ConnectOptions,
    pool: Mutex<HashMap<String, Connection>>,
}

impl Client {
    /// Connects to `service_url` (`pulsar://host:port`).
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`] or any connection error.
    pub async fn connect(
        service_url: &str,
        options: ConnectOptions,
    ) -> Result<Client, ClientError> {
        let addr = socket_address(service_url)?;
        let service = Connection::connect(&addr, options.clone()).await?;
        let pool = HashMap::from([(addr, service.clone())]);
        Ok(Client {
            service,
            options,
            pool: Mutex::new(pool),
        })
    }

    /// The connection to the service URL.
    #[must_use]
    pub fn service_connection(&self) -> &Connection {
        &self.service
    }

    /// Number of partitions of `topic` (0 for a non-partitioned topic).
    ///
    /// # Errors
    /// [`ClientError::Server`] when the broker answers Failed, or a connection error.
    pub async fn partitions(&self, topic: &str) -> Result<u32, ClientError> {
        let request_id = self.service.next_id();
        let command = CommandPartitionedTopicMetadata {
            topic: topic.to_owned(),
            request_id,
            ..Default::default()
        };
        let operation = "partitioned topic metadata";
        let response = self.service.request(operation, request_id, command).await?;
        let Some(metadata) = response.partition_metadata_response else {
            return Err(ClientError::UnexpectedResponse {
                operation,
                got: type_name(&response),
            });
        };
        if metadata.response() == MetadataResult::Failed || metadata.response.is_none() {
            return Err(ClientError::Server {
                operation,
                error: server_error(metadata.error.unwrap_or_default()),
                message: metadata.message.unwrap_or_default(),
            });
        }
        Ok(metadata.partitions.unwrap_or(0))
    }

    /// `topic` itself when it is not partitioned, else its partition names.
    ///
    /// # Errors
    /// As [`Client::partitions`].
    pub async fn expand_partitions(&self, topic: &str) -> Result<Vec<String>, ClientError> {
        Ok(match self.partitions(topic).await? {
            0 => vec![topic.to_owned()],
            n => (0..n).map(|i| format!("{topic}-partition-{i}")).collect(),
        })
    }

    /// Looks `topic` up and returns a connection to the broker that serves it.
    ///
    /// # Errors
    /// [`ClientError::Server`] for a failed lookup, [`ClientError::TooManyRedirects`], or a
    /// connection error.
    pub async fn lookup(&self, topic: &str) -> Result<Connection, ClientError> {
        let mut conn = self.service.clone();
        let mut authoritative = false;
        for _ in 0..MAX_REDIRECTS {
            let request_id = conn.next_id();
            let command = CommandLookupTopic {
                topic: topic.to_owned(),
                request_id,
                authoritative: Some(authoritative),
                ..Default::default()
            };
            let response = conn.request("lookup", request_id, command).await?;
            let Some(lookup) = response.lookup_topic_response else {
                return Err(ClientError::UnexpectedResponse {
                    operation: "lookup",
                    got: type_name(&response),
                });
            };
            let kind = lookup.response.map(|_| lookup.response());
            if kind.is_none() || kind == Some(LookupType::Failed) {
                return Err(ClientError::Server {
                    operation: "lookup",
                    error: server_error(lookup.error.unwrap_or_default()),
                    message: lookup.message.unwrap_or_default(),
                });
            }
            let url = lookup.broker_service_url.unwrap_or_default();
            let next = self.connection_to(&url).await?;
            if kind == Some(LookupType::Connect) {
                return Ok(next);
            }
            authoritative = lookup.authoritative.unwrap_or(false);
            conn = next;
        }
        Err(ClientError::TooManyRedirects {
            topic: topic.to_owned(),
        })
    }

    /// A pooled connection to `url`, dialling it if needed or if the pooled one died.
    async fn connection_to(&self, url: &str) -> Result<Connection, ClientError> {
        let addr = socket_address(url)?;
        let mut pool = self.pool.lock().await;
        if let Some(conn) = pool.get(&addr) {
            if !conn.is_closed() {
                return Ok(conn.clone());
            }
        }
        let conn = Connection::connect(&addr, self.options.clone()).await?;
        pool.insert(addr, conn.clone());
        Ok(conn)
    }

    /// Looks `topic` up and creates a producer on the serving broker.
    ///
    /// # Errors
    /// Lookup errors, or [`ClientError::Server`] when the broker refuses the producer.
    pub async fn create_producer(
        &self,
        topic: &str,
        options: ProducerOptions,
    ) -> Result<Producer, ClientError> {
        let conn = self.lookup(topic).await?;
        Producer::create(conn, topic, options).await
    }

    /// Looks `topic` up and subscribes on the serving broker.
    ///
    /// # Errors
    /// Lookup errors, or [`ClientError::Server`] when the broker refuses the subscription.
    pub async fn subscribe(
        &self,
        topic: &str,
        options: SubscribeOptions,
    ) -> Result<Consumer, ClientError> {
        let conn = self.lookup(topic).await?;
        Consumer::subscribe(conn, topic, options).await
    }
}

impl Connection {
    /// Creates a producer directly on this connection, without a lookup.
    ///
    /// # Errors
    /// [`ClientError::Server`] when the broker refuses, or a connection error.
    pub async fn create_producer(
        &self,
        topic: &str,
        options: ProducerOptions,
    ) -> Result<Producer, ClientError> {
        Producer::create(self.clone(), topic, options).await
    }

    /// Subscribes directly on this connection, without a lookup.
    ///
    /// # Errors
    /// [`ClientError::Server`] when the broker refuses, or a connection error.
    pub async fn subscribe(
        &self,
        topic: &str,
        options: SubscribeOptions,
    ) -> Result<Consumer, ClientError> {
        Consumer::subscribe(self.clone(), topic, options).await
    }
}

#[cfg(test)]
pub(crate) mod broker_tests;
#[cfg(test)]
mod tests;
