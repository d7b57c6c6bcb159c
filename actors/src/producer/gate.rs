//! PublishGate: bounds the SENDs in flight on one connection.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use tokio::sync::Notify;

/// Counts SENDs that have no receipt yet. The connection stops reading from its socket while
/// the count is at the limit, which pushes back on the client through TCP.
///
/// A producer's own gate is a child of its connection's: counting or releasing on the child
/// counts on the connection too, so the connection bounds all its producers together.
#[derive(Debug)]
pub struct PublishGate {
    in_flight: AtomicUsize,
    limit: usize,
    released: Notify,
    parent: Option<Arc<PublishGate>>,
}

impl PublishGate {
    /// A gate allowing `limit` SENDs in flight (at least one).
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            limit: limit.max(1),
            released: Notify::new(),
            parent: None,
        })
    }

    /// A gate counting one producer's SENDs within `parent`'s (its connection's).
    pub fn child(parent: Arc<PublishGate>, limit: usize) -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            limit: limit.max(1),
            released: Notify::new(),
            parent: Some(parent),
        })
    }

    /// Counts one more SEND; returns true when the limit is now reached (for a child gate:
    /// when its parent's is, because the parent decides when the socket stops being read).
    pub fn acquire(&self) -> bool {
        let own = self.in_flight.fetch_add(1, Ordering::AcqRel) + 1 >= self.limit;
        match &self.parent {
            Some(parent) => parent.acquire(),
            None => own,
        }
    }

    /// Counts `n` SENDs answered.
    pub fn release(&self, n: usize) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(n))
            });
        self.released.notify_waiters();
        if let Some(parent) = &self.parent {
            parent.release(n);
        }
    }

    /// SENDs in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Resolves once the count is below the limit.
    pub async fn below_limit(self: Arc<Self>) {
        loop {
            let notified = self.released.notified();
            if self.in_flight() < self.limit {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_reports_the_limit_and_releases() {
        let gate = PublishGate::new(2);
        assert!(!gate.acquire());
        assert!(gate.acquire());
        gate.release(1);
        assert_eq!(gate.in_flight(), 1);
        gate.release(5);
        assert_eq!(gate.in_flight(), 0);
    }

    #[test]
    fn a_child_gate_counts_on_its_parent_too() {
        let parent = PublishGate::new(3);
        let child = PublishGate::child(parent.clone(), 1);
        assert!(!child.acquire());
        assert!(!child.acquire());
        assert_eq!((child.in_flight(), parent.in_flight()), (2, 2));
        assert!(child.acquire(), "the parent's limit decides");
        child.release(3);
        assert_eq!((child.in_flight(), parent.in_flight()), (0, 0));
    }

    #[tokio::test]
    async fn below_limit_wakes_after_a_release() {
        let gate = PublishGate::new(1);
        gate.acquire();
        let waiter = tokio::spawn(gate.clone().below_limit());
        tokio::task::yield_now().await;
        gate.release(1);
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
