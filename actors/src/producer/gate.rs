//! PublishGate: bounds the SENDs in flight on one connection.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use tokio::sync::Notify;

/// Counts SENDs that have no receipt yet. The connection stops reading from its socket while
/// the count is at the limit, which pushes back on the client through TCP.
#[derive(Debug)]
pub struct PublishGate {
    in_flight: AtomicUsize,
    limit: usize,
    released: Notify,
}

impl PublishGate {
    /// A gate allowing `limit` SENDs in flight (at least one).
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            limit: limit.max(1),
            released: Notify::new(),
        })
    }

    /// Counts one more SEND; returns true when the limit is now reached.
    pub fn acquire(&self) -> bool {
        self.in_flight.fetch_add(1, Ordering::AcqRel) + 1 >= self.limit
    }

    /// Counts `n` SENDs answered.
    pub fn release(&self, n: usize) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(n))
            });
        self.released.notify_waiters();
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
