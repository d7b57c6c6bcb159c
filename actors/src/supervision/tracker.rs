//! The live supervision tree: which actors exist, their parents, state and restart counts.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
};

use serde::Serialize;

use super::cell::{ActorCell, ActorSnapshot, KindCounters};
use crate::storage_writer::CommitStats;

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
    /// The IO connector runtime (one per broker).
    ConnectorRuntime,
    /// One per running instance of a source or sink connector.
    Connector,
}

impl ActorKind {
    /// Every kind, for metric families that list all of them.
    pub const ALL: [ActorKind; 10] = [
        ActorKind::Registry,
        ActorKind::StorageWriter,
        ActorKind::Topic,
        ActorKind::Subscription,
        ActorKind::Dispatcher,
        ActorKind::Connection,
        ActorKind::Producer,
        ActorKind::Consumer,
        ActorKind::ConnectorRuntime,
        ActorKind::Connector,
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
            ActorKind::ConnectorRuntime => "connector_runtime",
            ActorKind::Connector => "connector",
        }
    }

    /// Parses the label form back, for the fault-injection admin path.
    pub fn parse(s: &str) -> Option<ActorKind> {
        ActorKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The registry of live actors, shared by every supervisor in the broker.
#[derive(Debug, Default)]
pub struct ActorTracker {
    next_id: AtomicU64,
    actors: Mutex<BTreeMap<u64, Arc<ActorCell>>>,
    kinds: KindTable,
    commits: Arc<CommitStats>,
}

/// One [`KindCounters`] per [`ActorKind`], addressed by a `match` so no index can be out of range.
#[derive(Debug, Default)]
struct KindTable {
    registry: Arc<KindCounters>,
    storage_writer: Arc<KindCounters>,
    topic: Arc<KindCounters>,
    subscription: Arc<KindCounters>,
    dispatcher: Arc<KindCounters>,
    connection: Arc<KindCounters>,
    producer: Arc<KindCounters>,
    consumer: Arc<KindCounters>,
    connector_runtime: Arc<KindCounters>,
    connector: Arc<KindCounters>,
}

impl ActorTracker {
    /// An empty tracker.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Group-commit figures of the storage writer (every incarnation records into them).
    pub fn commits(&self) -> &Arc<CommitStats> {
        &self.commits
    }

    /// Counters for one kind.
    pub fn kind(&self, kind: ActorKind) -> &KindCounters {
        self.kind_arc(kind)
    }

    fn kind_arc(&self, kind: ActorKind) -> &Arc<KindCounters> {
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
            ActorKind::ConnectorRuntime => &t.connector_runtime,
            ActorKind::Connector => &t.connector,
        }
    }

    /// Registers a new actor and returns its shared record.
    pub fn register(&self, kind: ActorKind, name: String, parent: Option<u64>) -> Arc<ActorCell> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let counters = self.kind_arc(kind).clone();
        let cell = Arc::new(ActorCell::new(id, kind, name, parent, counters));
        self.lock().insert(id, cell.clone());
        self.kind(kind).live.fetch_add(1, Ordering::Relaxed);
        cell
    }

    /// Removes an actor that stopped for good.
    pub fn unregister(&self, id: u64) {
        if let Some(cell) = self.lock().remove(&id) {
            self.kind(cell.kind).live.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Counts a failure of an actor that is not restarted in place (connections, producers
    /// and consumers are replaced by their client re-attaching).
    pub fn record_kind_restart(&self, kind: ActorKind, panicked: bool) {
        let counters = self.kind(kind);
        counters.restarts.fetch_add(1, Ordering::Relaxed);
        if panicked {
            counters.panics.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every live actor, ordered by id (parents before children).
    pub fn snapshot(&self) -> Vec<ActorSnapshot> {
        self.lock().values().map(|cell| cell.snapshot()).collect()
    }

    /// Every live actor's record.
    pub fn cells(&self) -> Vec<Arc<ActorCell>> {
        self.lock().values().cloned().collect()
    }

    /// One live actor's record.
    pub fn cell(&self, id: u64) -> Option<Arc<ActorCell>> {
        self.lock().get(&id).cloned()
    }

    /// Live actors of a kind whose name equals `name`.
    pub fn cells_named(&self, kind: ActorKind, name: &str) -> Vec<Arc<ActorCell>> {
        self.lock()
            .values()
            .filter(|a| a.kind == kind && a.name == name)
            .cloned()
            .collect()
    }

    /// Ids of live actors of a kind whose name equals `name`.
    pub fn find(&self, kind: ActorKind, name: &str) -> Vec<u64> {
        self.cells_named(kind, name).iter().map(|c| c.id).collect()
    }

    /// Messages waiting in the mailboxes of every live actor of `kind`.
    pub fn mailbox_depth(&self, kind: ActorKind) -> u64 {
        self.lock()
            .values()
            .filter(|a| a.kind == kind)
            .map(|a| a.mailbox_depth())
            .sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ActorCell>>> {
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
        let id = tracker.register(ActorKind::Topic, "t".into(), None).id();
        assert_eq!(
            tracker.kind(ActorKind::Topic).live.load(Ordering::Relaxed),
            1
        );
        tracker.cell(id).unwrap().on_restart(true);
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
