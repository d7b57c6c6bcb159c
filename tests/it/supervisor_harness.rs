//! Shared fixtures of the supervisor tests: a broker with fault injection, a continuous
//! produce/consume workload with the `pulsar` crate, and the checks every crash test makes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use geminga::broker::{start_in_thread, BrokerHandle};
use geminga::config::BrokerConfig;
use geminga_actors::supervision::{ActorFault, ActorKind, ActorSnapshot};
use geminga_actors::BrokerContext;
use pulsar::consumer::InitialPosition;
use pulsar::{ConsumerOptions, SubType};
use tempfile::TempDir;
use tokio::task::JoinHandle;

use crate::common::*;

/// Bound on recovery: from the fault to the first receipt and the first delivery of a message
/// sent after it. Measured values are printed by each test.
pub const RECOVERY_BOUND: Duration = Duration::from_secs(10);

/// An ack sent this long before the fault must have been durable: its message must not come
/// back. Acks younger than this may have been in flight (at-least-once allows their return).
pub const ACK_GRACE: Duration = Duration::from_secs(1);

/// A broker with `faultInjectionEnabled=true` on a temporary directory.
pub struct FaultBroker {
    handle: Option<BrokerHandle>,
    _dir: TempDir,
    /// `pulsar://...`
    pub service_url: String,
    /// `http://...`
    pub admin_url: String,
}

impl FaultBroker {
    /// Starts it.
    pub fn start() -> FaultBroker {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = BrokerConfig {
            data_dir: dir.path().join("data"),
            bind: "127.0.0.1:0".into(),
            admin_bind: "127.0.0.1:0".into(),
            fault_injection_enabled: true,
            keep_alive_interval_secs: 5,
            ..BrokerConfig::default()
        };
        let handle = start_in_thread(config).expect("broker starts");
        FaultBroker {
            service_url: handle.service_url.clone(),
            admin_url: handle.admin_url.clone(),
            handle: Some(handle),
            _dir: dir,
        }
    }

    /// The broker's services (fault injection, actor tree).
    pub fn context(&self) -> &BrokerContext {
        self.handle
            .as_ref()
            .and_then(BrokerHandle::context)
            .expect("broker running")
    }

    /// Live actors of `kind`.
    pub fn actors(&self, kind: ActorKind) -> Vec<ActorSnapshot> {
        self.context()
            .tracker()
            .snapshot()
            .into_iter()
            .filter(|a| a.kind == kind)
            .collect()
    }

    /// Restarts counted for `kind` so far.
    pub fn restarts(&self, kind: ActorKind) -> u64 {
        self.context()
            .tracker()
            .kind(kind)
            .restarts
            .load(Ordering::Relaxed)
    }

    /// Injects `fault` into the one live actor of `kind` whose name contains `needle`.
    pub fn inject(&self, kind: ActorKind, needle: &str, fault: ActorFault) {
        let actors: Vec<_> = self
            .actors(kind)
            .into_iter()
            .filter(|a| a.name.contains(needle))
            .collect();
        assert_eq!(
            actors.len(),
            1,
            "exactly one {kind:?} named like {needle}: {actors:?}"
        );
        self.context()
            .faults()
            .actor(kind, &actors[0].name, fault)
            .expect("fault injected");
    }
}

impl Drop for FaultBroker {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown();
        }
    }
}

/// What the workload saw.
#[derive(Default)]
pub struct Observed {
    /// Payloads whose send got a receipt: (when the send started, when the receipt came).
    pub acked_sends: Mutex<BTreeMap<u64, (Instant, Instant)>>,
    /// Sends that failed (no receipt).
    pub send_errors: AtomicU64,
    /// Every delivery, in order: (payload number, time).
    pub received: Mutex<Vec<(u64, Instant)>>,
    /// When each payload was first acked by the consumer.
    pub consumer_acks: Mutex<BTreeMap<u64, Instant>>,
    stop_producing: AtomicBool,
    stop_consuming: AtomicBool,
}

/// A producer and a consumer running on their own tasks against one topic.
pub struct Workload {
    /// Shared observations.
    pub seen: Arc<Observed>,
    /// Full topic name.
    pub topic: String,
    producer: JoinHandle<()>,
    consumer: JoinHandle<()>,
}

fn number(payload: &[u8]) -> Option<u64> {
    std::str::from_utf8(payload)
        .ok()?
        .strip_prefix("m-")?
        .parse()
        .ok()
}

impl Workload {
    /// Starts producing (about 100 messages/s) and consuming with acks on a fresh topic.
    pub async fn start(broker: &FaultBroker, area: &str) -> Workload {
        let topic = full_name(&unique_topic(area));
        let client = client_for(&broker.service_url, None).await;
        let seen = Arc::new(Observed::default());
        let options = ConsumerOptions::default().with_initial_position(InitialPosition::Earliest);
        let consumer = client
            .consumer()
            .with_topic(&topic)
            .with_subscription("sup")
            .with_subscription_type(SubType::Exclusive)
            .with_options(options)
            .build::<Vec<u8>>();
        let mut consumer: ByteConsumer = within("subscribe", consumer).await.expect("subscribe");
        let mut producer = producer(&client, &topic, &format!("{area}-producer")).await;
        let produced = seen.clone();
        let producer = tokio::spawn(async move {
            let _client = client;
            let mut next = 0u64;
            while !produced.stop_producing.load(Ordering::Relaxed) {
                let payload = format!("m-{next}").into_bytes();
                let started = Instant::now();
                let sent = match producer.send_non_blocking(payload).await {
                    Ok(receipt) => receipt.await.map(|_| ()),
                    Err(e) => Err(e),
                };
                match sent {
                    Ok(()) => {
                        let at = (started, Instant::now());
                        produced.acked_sends.lock().unwrap().insert(next, at);
                    }
                    Err(_) => {
                        produced.send_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                next += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let consumed = seen.clone();
        let consumer = tokio::spawn(async move {
            while !consumed.stop_consuming.load(Ordering::Relaxed) {
                let next = tokio::time::timeout(Duration::from_millis(200), consumer.next()).await;
                let Ok(Some(Ok(msg))) = next else { continue };
                let Some(n) = number(&msg.payload.data) else {
                    continue;
                };
                consumed.received.lock().unwrap().push((n, Instant::now()));
                if consumer.ack(&msg).await.is_ok() {
                    consumed
                        .consumer_acks
                        .lock()
                        .unwrap()
                        .entry(n)
                        .or_insert_with(Instant::now);
                }
            }
        });
        Workload {
            seen,
            topic,
            producer,
            consumer,
        }
    }

    /// Waits until at least `n` deliveries were seen.
    pub async fn wait_received(&self, n: usize) {
        within_for(Duration::from_secs(30), "deliveries", async {
            while self.seen.received.lock().unwrap().len() < n {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }

    /// Stops producing, waits until every acked send was delivered (or fails), stops consuming.
    pub async fn finish(self) -> Arc<Observed> {
        self.seen.stop_producing.store(true, Ordering::Relaxed);
        within_for(Duration::from_secs(30), "producer task", self.producer)
            .await
            .expect("producer task");
        let seen = self.seen.clone();
        let all = async {
            loop {
                let missing = missing(&seen);
                if missing.is_empty() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(30), all)
            .await
            .is_err()
        {
            panic!("acked sends never delivered: {:?}", missing(&seen));
        }
        // Let acks of the last deliveries settle, then stop.
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.seen.stop_consuming.store(true, Ordering::Relaxed);
        within_for(Duration::from_secs(10), "consumer task", self.consumer)
            .await
            .expect("consumer task");
        self.seen
    }
}

/// Acked sends not delivered yet.
fn missing(seen: &Observed) -> Vec<u64> {
    let received: BTreeSet<u64> = seen
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|(n, _)| *n)
        .collect();
    seen.acked_sends
        .lock()
        .unwrap()
        .keys()
        .filter(|n| !received.contains(n))
        .copied()
        .collect()
}

/// What a crash test measured.
#[derive(Debug)]
pub struct Recovery {
    /// From the fault to the first receipt of a send made after it.
    pub produce: Duration,
    /// From the fault to the first delivery of a message sent after it.
    pub consume: Duration,
    /// Sends that got an error instead of a receipt.
    pub send_errors: u64,
    /// Deliveries of a message seen before (at-least-once redeliveries).
    pub redelivered: usize,
}

/// The checks of every crash test: every acked send was delivered; no message whose ack was
/// older than [`ACK_GRACE`] at the fault came back; service resumed within [`RECOVERY_BOUND`].
pub fn check(seen: &Observed, fault_at: Instant, what: &str) -> Recovery {
    assert!(missing(seen).is_empty(), "{what}: acked sends lost");
    let received = seen.received.lock().unwrap();
    let acks = seen.consumer_acks.lock().unwrap();
    let mut first_seen: BTreeMap<u64, Instant> = BTreeMap::new();
    let mut redelivered = 0;
    for (n, at) in received.iter() {
        if first_seen.contains_key(n) {
            redelivered += 1;
            if let Some(acked) = acks.get(n) {
                assert!(
                    *acked + ACK_GRACE > fault_at || *acked > *at,
                    "{what}: message {n} acked {:?} before the fault came back",
                    fault_at - *acked
                );
            }
        } else {
            first_seen.insert(*n, *at);
        }
    }
    let sends = seen.acked_sends.lock().unwrap();
    let produce = sends
        .values()
        .map(|(_, receipt)| *receipt)
        .filter(|receipt| *receipt > fault_at)
        .min()
        .map(|at| at - fault_at)
        .unwrap_or_else(|| panic!("{what}: no receipt after the fault"));
    // Messages whose send started after the fault: the first delivery of any of them.
    let consume = sends
        .iter()
        .filter(|(_, (started, _))| *started > fault_at)
        .filter_map(|(n, _)| first_seen.get(n))
        .min()
        .map(|at| *at - fault_at)
        .unwrap_or_else(|| panic!("{what}: nothing sent after the fault was delivered"));
    let recovery = Recovery {
        produce,
        consume,
        send_errors: seen.send_errors.load(Ordering::Relaxed),
        redelivered,
    };
    eprintln!("recovery after {what}: {recovery:?}");
    assert!(
        recovery.produce < RECOVERY_BOUND,
        "{what}: produce recovery {recovery:?}"
    );
    assert!(
        recovery.consume < RECOVERY_BOUND,
        "{what}: consume recovery {recovery:?}"
    );
    recovery
}

/// Runs the workload, injects `fault` into the actor of `kind` named like `needle` (the
/// topic name when `needle` is `None`), and checks recovery and the restart counter.
pub async fn crash_under_load(
    kind: ActorKind,
    needle: Option<&str>,
    fault: ActorFault,
) -> Recovery {
    let broker = FaultBroker::start();
    let area = format!("sup-{}", kind.as_str());
    let load = Workload::start(&broker, &area).await;
    load.wait_received(50).await;
    let restarts_before = broker.restarts(kind);
    let needle = needle.map_or_else(|| load.topic.clone(), str::to_owned);
    let fault_at = Instant::now();
    broker.inject(kind, &needle, fault);
    // Keep the load running well past the fault.
    let after = load.seen.received.lock().unwrap().len() + 100;
    load.wait_received(after).await;
    let seen = load.finish().await;
    let what = format!("{fault:?} of {}", kind.as_str());
    let recovery = check(&seen, fault_at, &what);
    assert!(
        broker.restarts(kind) > restarts_before,
        "{what}: the restart counter of {} did not move",
        kind.as_str()
    );
    recovery
}

/// A minimal HTTP/1.1 client for the admin API: `(status, body)`.
pub async fn http(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http:// url");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = within("connect admin", tokio::net::TcpStream::connect(host))
        .await
        .expect("connect admin");
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut response = Vec::new();
    within("read response", stream.read_to_end(&mut response))
        .await
        .expect("read response");
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad response {head:?}"));
    (status, body.to_owned())
}
