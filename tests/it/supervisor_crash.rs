//! Supervisor tests: under continuous produce and consume with the `pulsar` crate, each kind
//! of actor is made to panic in turn. Each time every acked send must be delivered, no message
//! acked before the crash may come back (beyond acks still in flight), the restart counter
//! must move, and service must resume within `RECOVERY_BOUND` (measured values are printed).

use geminga_actors::supervision::{ActorFault, ActorKind};

use crate::supervisor_harness::crash_under_load;

/// Goal: a topic actor's panic is contained; the topic reloads and clients re-attach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_recovers_a_panicking_topic() {
    crash_under_load(ActorKind::Topic, None, ActorFault::Panic).await;
}

/// Goal: a subscription's panic is contained; it reloads its cursor, consumers reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_recovers_a_panicking_subscription() {
    crash_under_load(ActorKind::Subscription, None, ActorFault::Panic).await;
}

/// Goal: a dispatcher's panic is contained; the subscription re-reads from its ack floor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_recovers_a_panicking_dispatcher() {
    crash_under_load(ActorKind::Dispatcher, None, ActorFault::Panic).await;
}

/// Goal: a consumer's panic closes it (CLOSE_CONSUMER) and the client subscribes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_recovers_a_panicking_consumer() {
    crash_under_load(ActorKind::Consumer, None, ActorFault::Panic).await;
}

/// Goal: a producer's panic closes it (CLOSE_PRODUCER) and the client re-creates it under
/// the same name and resends what had no receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_recovers_a_panicking_producer() {
    crash_under_load(ActorKind::Producer, None, ActorFault::Panic).await;
}

/// Goal: a connection's panic closes the socket; the client reconnects and re-creates its
/// producer and consumer (the old ones are released, so neither is refused as a duplicate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_recovers_a_panicking_connection() {
    crash_under_load(ActorKind::Connection, Some("127.0.0.1"), ActorFault::Panic).await;
}

/// Goal: the storage writer's panic fails the writes it held (retryable) and nothing acked is
/// lost; later appends go through after the topic reloads its log end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_recovers_a_panicking_storage_writer() {
    crash_under_load(
        ActorKind::StorageWriter,
        Some("storage-writer"),
        ActorFault::Panic,
    )
    .await;
}

/// Goal: the topic registry's panic is contained and it keeps its table of loaded topics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_recovers_a_panicking_registry() {
    crash_under_load(
        ActorKind::Registry,
        Some("topic-registry"),
        ActorFault::Panic,
    )
    .await;
}
