//! `geminga client produce|consume`: pulsar-client's commands on the native client.

use std::{io::Write, path::PathBuf, time::Duration};

use bytes::Bytes;
use clap::{Args, Subcommand, ValueEnum};
use tokio::sync::mpsc;

use crate::client::{
    Client, ClientError, ConnectOptions, InitialPosition, OutgoingMessage, ProducerOptions,
    SubType, SubscribeOptions,
};

/// `geminga client [--url URL] produce|consume ...`.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Broker service URL.
    #[arg(long = "url", default_value = "pulsar://localhost:6650")]
    pub url: String,
    /// What to do.
    #[command(subcommand)]
    pub command: ClientCommand,
}

/// pulsar-client's commands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum ClientCommand {
    /// Produce messages to a topic.
    Produce(ProduceArgs),
    /// Consume messages from a topic.
    Consume(ConsumeArgs),
}

/// `produce` flags, named as pulsar-client's.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// The topic.
    pub topic: String,
    /// Messages to send; each value is split on the separator.
    #[arg(short = 'm', long = "messages")]
    pub messages: Vec<String>,
    /// Files whose contents are sent, one message per file.
    #[arg(short = 'f', long = "files")]
    pub files: Vec<PathBuf>,
    /// Separator of the messages in `-m`.
    #[arg(short = 's', long = "separator", default_value = ",")]
    pub separator: String,
    /// How many times to send the message(s).
    #[arg(short = 'n', long = "num-produce", default_value_t = 1)]
    pub num_produce: u64,
    /// Messages per second (0: as fast as possible).
    #[arg(short = 'r', long = "rate", default_value_t = 0.0)]
    pub rate: f64,
    /// Partition key of every message.
    #[arg(short = 'k', long = "key")]
    pub key: Option<String>,
    /// Properties `key=value` of every message.
    #[arg(short = 'p', long = "properties")]
    pub properties: Vec<String>,
    /// Send each message alone instead of batching.
    #[arg(long = "disable-batching")]
    pub disable_batching: bool,
}

/// Subscription types, with pulsar-client's spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SubscriptionType {
    /// One consumer.
    #[value(name = "Exclusive")]
    Exclusive,
    /// Round-robin over consumers.
    #[value(name = "Shared")]
    Shared,
    /// One active consumer, others on standby.
    #[value(name = "Failover")]
    Failover,
    /// Consumers by key.
    #[value(name = "Key_Shared")]
    KeyShared,
}

/// Where a new subscription starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SubscriptionPosition {
    /// After the last published message.
    #[value(name = "Latest")]
    Latest,
    /// At the oldest stored message.
    #[value(name = "Earliest")]
    Earliest,
}

/// `consume` flags, named as pulsar-client's.
#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// The topic.
    pub topic: String,
    /// Subscription name.
    #[arg(short = 's', long = "subscription-name")]
    pub subscription_name: String,
    /// Subscription type.
    #[arg(
        short = 't',
        long = "subscription-type",
        value_enum,
        default_value = "Exclusive"
    )]
    pub subscription_type: SubscriptionType,
    /// Where a new subscription starts.
    #[arg(
        short = 'p',
        long = "subscription-position",
        value_enum,
        default_value = "Latest"
    )]
    pub subscription_position: SubscriptionPosition,
    /// Messages to consume (0: forever).
    #[arg(short = 'n', long = "num-messages", default_value_t = 1)]
    pub num_messages: u64,
    /// Messages per second (0: as fast as they come).
    #[arg(short = 'r', long = "rate", default_value_t = 0.0)]
    pub rate: f64,
    /// Print binary content as hex.
    #[arg(long = "hex")]
    pub hex: bool,
    /// Do not print the content.
    #[arg(long = "hide-content")]
    pub hide_content: bool,
    /// Receiver queue size (permits).
    #[arg(short = 'q', long = "queue-size", default_value_t = 1000)]
    pub queue_size: u32,
}

/// Why a client command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientCmdError {
    /// The broker or the connection failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A flag is invalid.
    #[error("{0}")]
    InvalidArgument(String),
    /// A file or stdout failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Runs a client command on its own runtime, printing like pulsar-client.
///
/// # Errors
/// Invalid flags, an unreachable broker, or a refused producer/subscription.
pub fn run(args: ClientArgs) -> Result<(), ClientCmdError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut out = std::io::stdout().lock();
    runtime.block_on(async move {
        match args.command {
            ClientCommand::Produce(produce_args) => {
                produce(&args.url, produce_args, &mut out).await
            }
            ClientCommand::Consume(consume_args) => {
                consume(&args.url, consume_args, &mut out).await
            }
        }
    })
}

/// The messages of one round of `produce`.
fn payloads(args: &ProduceArgs) -> Result<Vec<Bytes>, ClientCmdError> {
    let mut payloads: Vec<Bytes> = Vec::new();
    for value in &args.messages {
        payloads.extend(
            value
                .split(args.separator.as_str())
                .map(|m| Bytes::from(m.to_owned())),
        );
    }
    for file in &args.files {
        payloads.push(Bytes::from(std::fs::read(file)?));
    }
    if payloads.is_empty() {
        return Err(ClientCmdError::InvalidArgument(
            "give messages with -m or files with -f".into(),
        ));
    }
    Ok(payloads)
}

fn properties(args: &ProduceArgs) -> Result<Vec<(String, String)>, ClientCmdError> {
    args.properties
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => Ok((k.to_owned(), v.to_owned())),
            None => Err(ClientCmdError::InvalidArgument(format!(
                "property {p:?} is not key=value"
            ))),
        })
        .collect()
}

/// The pause between messages for a rate (none for 0).
fn pause(rate: f64) -> Option<Duration> {
    (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate))
}

async fn produce(url: &str, args: ProduceArgs, out: &mut impl Write) -> Result<(), ClientCmdError> {
    let payloads = payloads(&args)?;
    let properties = properties(&args)?;
    let client = Client::connect(url, ConnectOptions::default()).await?;
    let options = ProducerOptions {
        name: None,
        batching: (!args.disable_batching).then(Default::default),
    };
    let mut producers = Vec::new();
    for topic in client.expand_partitions(&args.topic).await? {
        producers.push(client.create_producer(&topic, options.clone()).await?);
    }
    let mut receipts = Vec::new();
    let mut next = 0usize;
    for _ in 0..args.num_produce {
        for payload in &payloads {
            let message = OutgoingMessage {
                payload: payload.clone(),
                key: args.key.clone(),
                properties: properties.clone(),
                event_time: None,
                sequence_id: None,
            };
            // Round robin over the partitions, as the Java client's default router does.
            let Some(producer) = producers.get(next % producers.len().max(1)) else {
                break;
            };
            next += 1;
            receipts.push(producer.send(message).await?);
            if let Some(pause) = pause(args.rate) {
                producer.flush().await?;
                tokio::time::sleep(pause).await;
            }
        }
    }
    for producer in &producers {
        producer.flush().await?;
    }
    let sent = receipts.len();
    for receipt in receipts {
        receipt.await?;
    }
    for producer in &producers {
        producer.close().await?;
    }
    writeln!(out, "{sent} messages successfully produced")?;
    Ok(())
}

/// One message as pulsar-client prints it.
struct Received {
    key: Option<String>,
    properties: Vec<(String, String)>,
    payload: Bytes,
}

async fn consume(url: &str, args: ConsumeArgs, out: &mut impl Write) -> Result<(), ClientCmdError> {
    let client = Client::connect(url, ConnectOptions::default()).await?;
    let mut options = SubscribeOptions::new(args.subscription_name.clone());
    options.sub_type = match args.subscription_type {
        SubscriptionType::Exclusive => SubType::Exclusive,
        SubscriptionType::Shared => SubType::Shared,
        SubscriptionType::Failover => SubType::Failover,
        SubscriptionType::KeyShared => SubType::KeyShared,
    };
    options.initial_position = match args.subscription_position {
        SubscriptionPosition::Latest => InitialPosition::Latest,
        SubscriptionPosition::Earliest => InitialPosition::Earliest,
    };
    options.receiver_queue_size = args.queue_size.max(1);
    let (tx, mut rx) = mpsc::channel::<Result<Received, ClientError>>(64);
    for topic in client.expand_partitions(&args.topic).await? {
        let consumer = client.subscribe(&topic, options.clone()).await?;
        tokio::spawn(forward(consumer, tx.clone()));
    }
    drop(tx);
    let mut count = 0u64;
    while args.num_messages == 0 || count < args.num_messages {
        let Some(received) = rx.recv().await else {
            break;
        };
        print_received(out, &received?, &args)?;
        count += 1;
        if let Some(pause) = pause(args.rate) {
            tokio::time::sleep(pause).await;
        }
    }
    writeln!(out, "{count} messages successfully consumed")?;
    Ok(())
}

/// Receives from one consumer, splits batches, acknowledges, and hands the messages on.
async fn forward(
    mut consumer: crate::client::Consumer,
    tx: mpsc::Sender<Result<Received, ClientError>>,
) {
    loop {
        let message = match consumer.receive().await {
            Ok(message) => message,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        let received: Vec<Received> = if message.is_batch() {
            match message.batch() {
                Ok(batch) => batch
                    .into_iter()
                    .map(|m| Received {
                        key: m.metadata.partition_key.clone(),
                        properties: m
                            .metadata
                            .properties
                            .iter()
                            .map(|kv| (kv.key.clone(), kv.value.clone()))
                            .collect(),
                        payload: m.payload,
                    })
                    .collect(),
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        } else {
            vec![Received {
                key: message.metadata.partition_key.clone(),
                properties: message
                    .metadata
                    .properties
                    .iter()
                    .map(|kv| (kv.key.clone(), kv.value.clone()))
                    .collect(),
                payload: message.payload.clone(),
            }]
        };
        for item in received {
            if tx.send(Ok(item)).await.is_err() {
                return;
            }
        }
        if consumer.ack(&message.id).await.is_err() {
            return;
        }
    }
}

fn print_received(
    out: &mut impl Write,
    message: &Received,
    args: &ConsumeArgs,
) -> Result<(), ClientCmdError> {
    let properties: Vec<String> = message
        .properties
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let key = message.key.as_deref().unwrap_or("null");
    let content = if args.hide_content {
        String::new()
    } else if args.hex {
        message.payload.iter().map(|b| format!("{b:02x}")).collect()
    } else {
        String::from_utf8_lossy(&message.payload).into_owned()
    };
    writeln!(out, "----- got message -----")?;
    writeln!(
        out,
        "key:[{key}], properties:[{}], content:{content}",
        properties.join(", ")
    )?;
    out.flush()?;
    Ok(())
}
