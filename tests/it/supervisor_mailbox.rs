//! Supervisor tests for lost mailboxes: each kind of actor has its mailbox dropped under
//! continuous produce and consume (queued messages discarded, the actor dead); its supervisor
//! must notice and replace it, with the same guarantees as after a crash. Plus a stall.

use std::time::{Duration, Instant};

use geminga_actors::supervision::{ActorFault, ActorKind};

use crate::supervisor_harness::{check, crash_under_load, FaultBroker, Workload};

/// Goal: a topic whose mailbox is dropped is forgotten by the registry and loaded afresh;
/// its producers and consumers are closed and re-attach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_replaces_a_topic_that_lost_its_mailbox() {
    crash_under_load(ActorKind::Topic, None, ActorFault::DropMailbox).await;
}

/// Goal: a durable subscription that lost its mailbox is replaced by its topic from the
/// stored cursor (not re-created at the initial position).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_replaces_a_subscription_that_lost_its_mailbox() {
    crash_under_load(ActorKind::Subscription, None, ActorFault::DropMailbox).await;
}

/// Goal: a dispatcher that lost its mailbox is replaced by its subscription.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_replaces_a_dispatcher_that_lost_its_mailbox() {
    crash_under_load(ActorKind::Dispatcher, None, ActorFault::DropMailbox).await;
}

/// Goal: a producer that lost its mailbox leaves its topic and the client re-creates it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_replaces_a_producer_that_lost_its_mailbox() {
    crash_under_load(ActorKind::Producer, None, ActorFault::DropMailbox).await;
}

/// Goal: a consumer that lost its mailbox leaves its subscription and the client resubscribes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_replaces_a_consumer_that_lost_its_mailbox() {
    crash_under_load(ActorKind::Consumer, None, ActorFault::DropMailbox).await;
}

/// Goal: a connection that lost its mailbox closes its socket and releases its handles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_replaces_a_connection_that_lost_its_mailbox() {
    crash_under_load(
        ActorKind::Connection,
        Some("127.0.0.1"),
        ActorFault::DropMailbox,
    )
    .await;
}

/// Goal: the root replaces a storage writer that lost its mailbox; the replacement fences
/// every ledger until its topic reloads, so no log gets a hole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_replaces_a_storage_writer_that_lost_its_mailbox() {
    crash_under_load(
        ActorKind::StorageWriter,
        Some("storage-writer"),
        ActorFault::DropMailbox,
    )
    .await;
}

/// Goal: the root replaces a registry that lost its mailbox; the replacement inherits the
/// loaded topics (no second actor for a loaded topic).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_replaces_a_registry_that_lost_its_mailbox() {
    crash_under_load(
        ActorKind::Registry,
        Some("topic-registry"),
        ActorFault::DropMailbox,
    )
    .await;
}

/// Goal: a stalled topic queues its work (visible as mailbox depth in the actor tree) and
/// serves everything once the stall ends; nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_topic_queues_and_catches_up() {
    let broker = FaultBroker::start();
    let load = Workload::start(&broker, "sup-stall").await;
    load.wait_received(30).await;
    let stall = ActorFault::Stall {
        duration: Duration::from_millis(2000),
    };
    let fault_at = Instant::now();
    broker.inject(ActorKind::Topic, &load.topic, stall);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let topic = broker
        .actors(ActorKind::Topic)
        .into_iter()
        .find(|a| a.name == load.topic)
        .expect("topic actor");
    assert_eq!(format!("{:?}", topic.state), "Stalled");
    assert!(
        topic.mailbox_depth > 0,
        "work queues during the stall: {topic:?}"
    );
    let after = load.seen.received.lock().unwrap().len() + 100;
    load.wait_received(after).await;
    let seen = load.finish().await;
    let recovery = check(&seen, fault_at, "a 2 s topic stall");
    assert!(
        recovery.produce >= Duration::from_millis(1500),
        "sends waited for the stall"
    );
    assert_eq!(
        recovery.redelivered, 0,
        "a stall only delays: nothing is redelivered"
    );
    assert_eq!(
        recovery.send_errors, 0,
        "a stall only delays: no send fails"
    );
}
