//! The live supervision tree: which actors exist, their parents, state and restart counts.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
};

use serde::Serialize;

/// The kinds of actor in the broker, used as the metric label and in the actor tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// The topic registry (one per broker).
    Registry,
    /// The group-commit storage writer (one per broker).
    StorageWriter,
    /// One per loaded topic.
    Topic,
    /// One per subscription of a topic.
    Subscription,
    /// One per subscription: delivers entries to consumers.
    Dispatcher,
    /// One per client connection.
    Connection,
    /// One per producer handle of a client.
    Producer,
    /// One per consumer handle of a client.
    Consumer,
}

impl ActorKind {
    /// Every kind, for metric families that list all of them.
    pub const ALL: [ActorKind; 8] = [
        ActorKind::Registry,
        ActorKind::StorageWriter,
        ActorKind::Topic,
        ActorKind::Subscription,
        ActorKind::Dispatcher,
        ActorKind::Connection,
        ActorKind::Producer,
        ActorKind::Consumer,
    ];

    /// The label value used in metrics and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Registry => "registry",
            ActorKind::StorageWriter => "storage_writer",
            ActorKind::Topic => "topic",
            ActorKind::Subscription => "subscription",
            ActorKind::Dispatcher => "dispatcher",
            ActorKind::Connection => "connection",
            ActorKind::Producer => "producer",
            ActorKind::Consumer => "consumer",
        }
    }

    /// Parses the label form back, for the fault-injection admin path.
    pub fn parse(s: &str) -> Option<ActorKind> {
        ActorKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where an actor is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorState {
    /// Handling messages.
    Running,
    /// Being restarted by its supervisor after a stop or a panic.
    Restarting,
}

/// Counters kept per actor kind.
#[derive(Debug, Default)]
pub struct KindCounters {
    /// Actors of this kind alive now.
    pub live: AtomicU64,
    /// Restarts performed by supervisors (after a stop or a panic).
    pub restarts: AtomicU64,
    /// Panics caught at the actor boundary.
    pub panics: AtomicU64,
}

/// One actor as shown by `/admin/v2/broker/actors`.
#[derive(Clone, Debug, Serialize)]
pub struct ActorSnapshot {
    /// Unique id of this actor inside the broker process.
    pub id: u64,
    /// Its kind.
    pub kind: ActorKind,
    /// A name meaningful to operators (topic name, subscription, peer address...).
    pub name: String,
    /// The id of its supervisor, if any.
    pub parent: Option<u64>,
    /// Running or restarting.
    pub state: ActorState,
    /// How many times it was restarted.
    pub restarts: u64,
    /// How many panics were caught in it.
    pub panics: u64,
}

/// The registry of live actors, shared by every supervisor in the broker.
#[derive(Debug, Default)]
pub struct ActorTracker {
    next_id: AtomicU64,
    actors: Mutex<BTreeMap<u64, ActorSnapshot>>,
    kinds: KindTable,
}

/// One [`KindCounters`] per [`ActorKind`], addressed by a `match` so no index can be out of range.
#[derive(Debug, Default)]
struct KindTable {
    registry: KindCounters,
    storage_writer: KindCounters,
    topic: KindCounters,
    subscription: KindCounters,
    dispatcher: KindCounters,
    connection: KindCounters,
    producer: KindCounters,
    consumer: KindCounters,
}

impl ActorTracker {
    /// An empty tracker.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Counters for one kind.
    pub fn kind(&self, kind: ActorKind) -> &KindCounters {
        let t = &self.kinds;
        match kind {
            ActorKind::Registry => &t.registry,
            ActorKind::StorageWriter => &t.storage_writer,
            ActorKind::Topic => &t.topic,
            ActorKind::Subscription => &t.subscription,
            ActorKind::Dispatcher => &t.dispatcher,
            ActorKind::Connection => &t.connection,
            ActorKind::Producer => &t.producer,
            ActorKind::Consumer => &t.consumer,
        }
    }

    /// Registers a new actor and returns its id.
    pub fn register(&self, kind: ActorKind, name: String, parent: Option<u64>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let snapshot = ActorSnapshot {
            id,
            kind,
            name,
            parent,
            state: ActorState::Running,
            restarts: 0,
            panics: 0,
        };
        self.lock().insert(id, snapshot);
        self.kind(kind).live.fetch_add(1, Ordering::Relaxed);
        id
    }

    /// Removes an actor that stopped for good.
    pub fn unregister(&self, id: u64) {
        if let Some(snapshot) = self.lock().remove(&id) {
            self.kind(snapshot.kind)
                .live
                .fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Records a restart (and whether a panic caused it).
    pub fn record_restart(&self, id: u64, panicked: bool) {
        let mut actors = self.lock();
        if let Some(snapshot) = actors.get_mut(&id) {
            snapshot.restarts += 1;
            snapshot.state = ActorState::Running;
            if panicked {
                snapshot.panics += 1;
            }
            let counters = self.kind(snapshot.kind);
            counters.restarts.fetch_add(1, Ordering::Relaxed);
            if panicked {
                counters.panics.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts a restart of an actor that is not itself supervised by a [`super::supervise`]
    /// guard (producers and consumers are "restarted" by their client re-attaching).
    pub fn record_kind_restart(&self, kind: ActorKind, panicked: bool) {
        let counters = self.kind(kind);
        counters.restarts.fetch_add(1, Ordering::Relaxed);
        if panicked {
            counters.panics.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every live actor, ordered by id (parents before children).
    pub fn snapshot(&self) -> Vec<ActorSnapshot> {
        self.lock().values().cloned().collect()
    }

    /// Finds live actors of a kind whose name equals `name`.
    pub fn find(&self, kind: ActorKind, name: &str) -> Vec<u64> {
        self.lock()
            .values()
            .filter(|a| a.kind == kind && a.name == name)
            .map(|a| a.id)
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, ActorSnapshot>> {
        // A panic while holding this lock cannot leave the map inconsistent (single inserts and
        // removes), so a poisoned lock is still usable.
        self.actors.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_restart_unregister_move_the_counters() {
        let tracker = ActorTracker::new();
        let id = tracker.register(ActorKind::Topic, "t".into(), None);
        assert_eq!(
            tracker.kind(ActorKind::Topic).live.load(Ordering::Relaxed),
            1
        );
        tracker.record_restart(id, true);
        assert_eq!(
            tracker
                .kind(ActorKind::Topic)
                .restarts
                .load(Ordering::Relaxed),
            1
        );
        assert_eq!(
            tracker
                .kind(ActorKind::Topic)
                .panics
                .load(Ordering::Relaxed),
            1
        );
        assert_eq!(tracker.snapshot()[0].restarts, 1);
        tracker.unregister(id);
        assert_eq!(
            tracker.kind(ActorKind::Topic).live.load(Ordering::Relaxed),
            0
        );
        assert!(tracker.snapshot().is_empty());
    }
}
