//! Shared fixtures: an in-process broker per test, `pulsar` clients, and timeout helpers.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{Stream, StreamExt};
use geminga::broker::{start_in_thread, BrokerHandle};
use geminga::config::BrokerConfig;
use pulsar::consumer::{InitialPosition, Message};
use pulsar::proto::MessageIdData;
use pulsar::{
    CommandSendReceipt, ConnectionRetryOptions, Consumer, ConsumerOptions, OperationRetryOptions,
    Producer, ProducerOptions, Pulsar, SubType, TokioExecutor,
};
use tempfile::TempDir;

/// Upper bound for one client operation (connect, subscribe, send, receive).
pub const OP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a consumer must stay silent for "nothing more arrives" assertions.
pub const QUIET_PERIOD: Duration = Duration::from_millis(1500);

/// A consumer of raw byte payloads on the tokio runtime.
pub type ByteConsumer = Consumer<Vec<u8>, TokioExecutor>;

/// A Pulsar client on the tokio runtime.
pub type Client = Pulsar<TokioExecutor>;

/// Awaits `fut` for at most `limit`, panicking with `what` when the time runs out.
pub async fn within_for<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    // Boxed: the `pulsar` futures are large in debug builds, and a test future that embeds many
    // of them overflows the 2 MiB test-thread stack it is polled on.
    match tokio::time::timeout(limit, Box::pin(fut)).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {limit:?}: {what}"),
    }
}

/// Awaits `fut` for at most [`OP_TIMEOUT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    within_for(OP_TIMEOUT, what, fut).await
}

/// A topic name no other test uses, in the short form (`public/default` implied).
pub fn unique_topic(area: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("it-{area}-{}-{nanos}-{n}", std::process::id())
}

/// The full name of a short topic name: `persistent://public/default/<short>`.
pub fn full_name(short: &str) -> String {
    format!("persistent://public/default/{short}")
}

/// Milliseconds since the Unix epoch, as Pulsar's publish times are.
pub fn now_millis() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    u64::try_from(since.as_millis()).expect("millis fit in u64")
}

/// An in-process broker on port 0 with its own temporary data directory.
pub struct TestBroker {
    dir: TempDir,
    handle: Option<BrokerHandle>,
    /// `pulsar://127.0.0.1:PORT` of the running broker.
    pub service_url: String,
    /// `http://127.0.0.1:PORT` of the admin endpoint.
    pub admin_url: String,
    /// Configuration changes applied at every (re)start.
    tune: fn(&mut BrokerConfig),
}

impl TestBroker {
    /// Starts a broker on a fresh temporary data directory.
    pub fn start() -> TestBroker {
        Self::start_with(|_| {})
    }

    /// Starts a broker whose configuration `tune` adjusts (kept across restarts).
    pub fn start_with(tune: fn(&mut BrokerConfig)) -> TestBroker {
        let dir = tempfile::tempdir().expect("create temp dir");
        let handle = boot(&dir.path().join("data"), tune);
        TestBroker {
            service_url: handle.service_url.clone(),
            admin_url: handle.admin_url.clone(),
            dir,
            handle: Some(handle),
            tune,
        }
    }

    /// The running broker's shared services (policies, registry).
    pub fn context(&self) -> &geminga_actors::BrokerContext {
        self.handle
            .as_ref()
            .and_then(BrokerHandle::context)
            .expect("broker running")
    }

    /// Stops the broker cleanly and starts a new one on the same data directory.
    /// The port changes, so clients must be rebuilt from [`TestBroker::service_url`].
    pub fn restart(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown();
        }
        let handle = boot(&self.data_dir(), self.tune);
        self.service_url = handle.service_url.clone();
        self.admin_url = handle.admin_url.clone();
        self.handle = Some(handle);
    }

    /// The broker's data directory (kept across [`TestBroker::restart`]).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A client with short retry limits so a misbehaving broker fails the test quickly.
    pub async fn client(&self) -> Client {
        client_for(&self.service_url, Some(3)).await
    }

    /// A client that never retries a refused PRODUCER/SUBSCRIBE (e.g. on ConsumerBusy).
    pub async fn client_without_retries(&self) -> Client {
        client_for(&self.service_url, Some(0)).await
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown();
        }
    }
}

fn boot(data_dir: &Path, tune: fn(&mut BrokerConfig)) -> BrokerHandle {
    let mut config = BrokerConfig {
        data_dir: data_dir.to_path_buf(),
        bind: "127.0.0.1:0".to_string(),
        admin_bind: "127.0.0.1:0".to_string(),
        ..BrokerConfig::default()
    };
    tune(&mut config);
    match start_in_thread(config) {
        Ok(handle) => handle,
        Err(err) => panic!("broker failed to start on {}: {err}", data_dir.display()),
    }
}

/// Builds a client for `url`; `max_retries` bounds retries of refused operations.
pub async fn client_for(url: &str, max_retries: Option<u32>) -> Client {
    let operations = OperationRetryOptions {
        operation_timeout: Duration::from_secs(10),
        retry_delay: Duration::from_millis(300),
        max_retries,
    };
    let connections = ConnectionRetryOptions {
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(500),
        max_retries: 5,
        connection_timeout: Duration::from_secs(5),
        ..ConnectionRetryOptions::default()
    };
    let builder = Pulsar::builder(url, TokioExecutor)
        .with_operation_retry_options(operations)
        .with_connection_retry_options(connections);
    within("client connect", builder.build())
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// Creates an unbatched producer named `name` on `topic`.
pub async fn producer(client: &Client, topic: &str, name: &str) -> Producer<TokioExecutor> {
    producer_with(client, topic, name, plain_producer_options()).await
}

/// Producer options without batching that wait (rather than fail) when the queue is full.
pub fn plain_producer_options() -> ProducerOptions {
    ProducerOptions {
        block_queue_if_full: true,
        ..ProducerOptions::default()
    }
}

/// Creates a producer on `topic` with `options`.
pub async fn producer_with(
    client: &Client,
    topic: &str,
    name: &str,
    options: ProducerOptions,
) -> Producer<TokioExecutor> {
    let build = client
        .producer()
        .with_topic(topic)
        .with_name(name)
        .with_options(options)
        .build();
    within("create producer", build)
        .await
        .unwrap_or_else(|e| panic!("create producer on {topic}: {e}"))
}

/// Sends each payload and waits for every receipt, in order.
pub async fn send_all(
    producer: &mut Producer<TokioExecutor>,
    payloads: impl IntoIterator<Item = Vec<u8>>,
) -> Vec<CommandSendReceipt> {
    let mut pending = Vec::new();
    for payload in payloads {
        let fut = within("queue send", producer.send_non_blocking(payload))
            .await
            .expect("send accepted by producer");
        pending.push(fut);
    }
    let mut receipts = Vec::with_capacity(pending.len());
    for fut in pending {
        receipts.push(within("send receipt", fut).await.expect("send receipt"));
    }
    receipts
}

/// Payloads `"{prefix}-0"`, `"{prefix}-1"`, ... as bytes.
pub fn numbered(prefix: &str, count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| format!("{prefix}-{i}").into_bytes())
        .collect()
}

/// Subscribes an Exclusive consumer starting at `position` when the subscription is new.
pub async fn exclusive(
    client: &Client,
    topic: &str,
    subscription: &str,
    position: InitialPosition,
) -> ByteConsumer {
    let options = ConsumerOptions::default().with_initial_position(position);
    let build = client
        .consumer()
        .with_topic(topic)
        .with_subscription(subscription)
        .with_subscription_type(SubType::Exclusive)
        .with_options(options)
        .build::<Vec<u8>>();
    within("subscribe", build)
        .await
        .unwrap_or_else(|e| panic!("subscribe {subscription} on {topic}: {e}"))
}

/// Receives the next message from a consumer or reader, failing the test on timeout, stream
/// end or error.
pub async fn receive_from<S>(stream: &mut S) -> Message<Vec<u8>>
where
    S: Stream<Item = Result<Message<Vec<u8>>, pulsar::Error>> + Unpin,
{
    match within("receive", stream.next()).await {
        Some(Ok(msg)) => msg,
        Some(Err(e)) => panic!("receive failed: {e}"),
        None => panic!("consumer stream ended"),
    }
}

/// Receives the next message from a consumer (see [`receive_from`]).
pub async fn receive(consumer: &mut ByteConsumer) -> Message<Vec<u8>> {
    receive_from(consumer).await
}

/// Receives `count` messages and returns their payloads as strings.
pub async fn receive_payloads(consumer: &mut ByteConsumer, count: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let msg = receive(consumer).await;
        out.push(String::from_utf8_lossy(&msg.payload.data).into_owned());
    }
    out
}

/// Asserts that no message arrives on a consumer or reader within [`QUIET_PERIOD`].
pub async fn assert_no_message_from<S>(stream: &mut S, context: &str)
where
    S: Stream<Item = Result<Message<Vec<u8>>, pulsar::Error>> + Unpin,
{
    if let Ok(Some(item)) = tokio::time::timeout(QUIET_PERIOD, stream.next()).await {
        let shown = item
            .map(|m| String::from_utf8_lossy(&m.payload.data).into_owned())
            .unwrap_or_else(|e| format!("error {e}"));
        panic!("{context}: expected no more messages, got {shown:?}");
    }
}

/// Asserts that no message arrives on a consumer within [`QUIET_PERIOD`].
pub async fn assert_no_message(consumer: &mut ByteConsumer, context: &str) {
    assert_no_message_from(consumer, context).await;
}

/// `(ledger, entry)` of a message id, the part that orders entries on a topic.
pub fn position(id: &MessageIdData) -> (u64, u64) {
    (id.ledger_id, id.entry_id)
}

/// The message id of a send receipt.
pub fn receipt_id(receipt: &CommandSendReceipt) -> MessageIdData {
    receipt
        .message_id
        .clone()
        .expect("send receipt carries a message id")
}
