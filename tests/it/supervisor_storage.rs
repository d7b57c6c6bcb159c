//! Supervisor tests around storage failures and escalation.

use std::time::{Duration, Instant};

use geminga_actors::supervision::{ActorFault, ActorKind, StorageFault};

use crate::common::*;
use crate::supervisor_harness::{check, FaultBroker, Workload};

/// Goal: while fsync fails, sends get errors, never receipts; once storage works again
/// every acked send is delivered and service resumes.
/// Method: continuous load, fsync failing for 2 s, then the usual crash checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_fsync_refuses_sends_and_loses_nothing() {
    let broker = FaultBroker::start();
    let load = Workload::start(&broker, "sup-fsync").await;
    load.wait_received(50).await;
    // A client that reports SEND_ERROR as is (pulsar-rs re-creates its producer on a
    // PersistenceError and resends, so its sends wait instead of failing).
    let native = geminga::client::Client::connect(&broker.service_url, Default::default())
        .await
        .expect("native client");
    let witness = native
        .create_producer(&load.topic, Default::default())
        .await
        .expect("native producer");
    let outage = Duration::from_secs(2);
    let fault_at = Instant::now();
    broker
        .context()
        .faults()
        .storage(StorageFault::Fsync, outage);
    let fault_end = fault_at + outage;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = within("send during the outage", async {
        witness.send("witness-during").await?.await
    })
    .await;
    assert!(
        refused.is_err(),
        "a send while fsync fails gets an error: {refused:?}"
    );
    tokio::time::sleep(outage).await;
    let accepted = within("send after the outage", async {
        witness.send("witness-after").await?.await
    })
    .await;
    assert!(accepted.is_ok(), "storage works again: {accepted:?}");
    let after = load.seen.received.lock().unwrap().len() + 100;
    load.wait_received(after).await;
    let seen = load.finish().await;
    // A group already synced when the fault began may still be answered just after it.
    let margin = Duration::from_millis(100);
    let receipts_during: Vec<_> = seen
        .acked_sends
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, (_, at))| *at > fault_at + margin && *at < fault_end)
        .map(|(n, _)| *n)
        .collect();
    assert!(
        receipts_during.is_empty(),
        "receipts while fsync failed: {receipts_during:?}"
    );
    let recovery = check(&seen, fault_at, "2 s of failing fsync");
    assert!(
        recovery.send_errors > 0,
        "sends during the outage got errors"
    );
    assert!(
        recovery.produce >= outage - margin,
        "no receipt before storage came back"
    );
    assert!(
        recovery.consume >= outage - margin,
        "nothing new delivered during the outage"
    );
}

/// Goal: a topic that keeps crashing exhausts its restart budget and escalates: the registry
/// forgets it, clients re-attach, and a fresh topic actor loads it from storage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_past_its_restart_budget_is_reloaded_afresh() {
    let broker = FaultBroker::start();
    let load = Workload::start(&broker, "sup-budget").await;
    load.wait_received(30).await;
    let first = broker
        .actors(ActorKind::Topic)
        .into_iter()
        .find(|a| a.name == load.topic)
        .expect("topic actor");
    let fault_at = Instant::now();
    // The default budget is 10 restarts in 10 s: the 11th failure escalates. Each panic is
    // injected once the previous one was applied.
    let current = |broker: &FaultBroker| {
        broker
            .actors(ActorKind::Topic)
            .into_iter()
            .find(|a| a.name == load.topic)
    };
    let mut panics = 0;
    while current(&broker).is_some_and(|a| a.id == first.id) {
        assert!(panics <= 11, "no escalation after {panics} panics");
        let before = current(&broker).map_or(0, |a| a.restarts);
        broker.inject(ActorKind::Topic, &load.topic, ActorFault::Panic);
        panics += 1;
        within("panic applied", async {
            while current(&broker).is_some_and(|a| a.id == first.id && a.restarts == before) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
    }
    assert_eq!(panics, 11, "the 11th panic escalates");
    let after = load.seen.received.lock().unwrap().len() + 100;
    load.wait_received(after).await;
    let seen = load.finish().await;
    check(&seen, fault_at, "a topic escalating past its budget");
    let now = broker
        .actors(ActorKind::Topic)
        .into_iter()
        .filter(|a| a.name == first.name)
        .collect::<Vec<_>>();
    assert_eq!(now.len(), 1, "one topic actor: {now:?}");
    assert_ne!(
        now[0].id, first.id,
        "a fresh actor replaced the escalated one"
    );
    assert!(broker.restarts(ActorKind::Topic) >= 10);
}

/// Goal: a replaced registry serves new topics and keeps the loaded ones (one actor each).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_registry_keeps_loaded_topics_and_serves_new_ones() {
    let broker = FaultBroker::start();
    let client = client_for(&broker.service_url, None).await;
    let topic = unique_topic("sup-registry");
    let mut first = producer(&client, &topic, "reg-1").await;
    send_all(&mut first, numbered("a", 3)).await;
    let old = broker.actors(ActorKind::Registry);
    broker.inject(
        ActorKind::Registry,
        "topic-registry",
        ActorFault::DropMailbox,
    );
    let new = within("registry replaced", async {
        loop {
            let new = broker.actors(ActorKind::Registry);
            if new.first().is_some_and(|r| r.id != old[0].id) {
                return new;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(new.len(), 1, "the root started one replacement");
    // Same topic through the new registry: attaches to the loaded actor, no second one.
    let mut second = producer(&client, &topic, "reg-2").await;
    send_all(&mut second, numbered("b", 3)).await;
    let topics: Vec<_> = broker
        .actors(ActorKind::Topic)
        .into_iter()
        .filter(|a| a.name == full_name(&topic))
        .collect();
    assert_eq!(topics.len(), 1, "{topics:?}");
    let other = unique_topic("sup-registry-new");
    let mut third = producer(&client, &other, "reg-3").await;
    send_all(&mut third, numbered("c", 3)).await;
    let mut consumer = exclusive(
        &client,
        &topic,
        "s",
        pulsar::consumer::InitialPosition::Earliest,
    )
    .await;
    let got = receive_payloads(&mut consumer, 6).await;
    assert_eq!(got, vec!["a-0", "a-1", "a-2", "b-0", "b-1", "b-2"]);
}
