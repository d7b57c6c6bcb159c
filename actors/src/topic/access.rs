//! Producer access modes (Shared, Exclusive, ExclusiveWithFencing, WaitForExclusive) and the
//! topic epoch, decided as Pulsar's `AbstractTopic.incrementTopicEpochIfNeeded` does.

use std::collections::VecDeque;

use geminga_protocol::proto::ProducerAccessMode;

use crate::error::RequestError;

/// What to do with a new producer.
#[derive(Debug)]
pub enum AccessDecision {
    /// Attach it; `epoch` is set for an exclusive producer (the topic epoch it now holds).
    Grant {
        /// The topic epoch for an exclusive producer.
        epoch: Option<u64>,
        /// Producers to close first (fenced by ExclusiveWithFencing), by handle.
        fence: Vec<u64>,
    },
    /// WaitForExclusive while another producer holds the topic: queued.
    Queue,
    /// Refused.
    Refuse(RequestError),
}

/// A WaitForExclusive producer waiting for its turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Its handle.
    pub handle: u64,
    /// The epoch it presented, if any.
    pub epoch: Option<u64>,
}

/// Who holds the topic and who waits.
#[derive(Debug, Default)]
pub struct ProducerAccess {
    /// The exclusive producer's handle and name.
    exclusive: Option<(u64, String)>,
    /// The current topic epoch (0 before the first exclusive producer).
    epoch: u64,
    /// WaitForExclusive producers in arrival order.
    waiting: VecDeque<Waiting>,
}

impl ProducerAccess {
    /// Starts from a stored topic epoch.
    pub fn with_epoch(epoch: u64) -> Self {
        Self {
            epoch,
            ..Self::default()
        }
    }

    /// The current topic epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether `handle` is the exclusive producer.
    pub fn is_exclusive(&self, handle: u64) -> bool {
        self.exclusive.as_ref().is_some_and(|(h, _)| *h == handle)
    }

    /// Decides on a producer `name` (`handle`) asking for `mode` with the `epoch` it got
    /// before; `others` are the handles of the producers attached now.
    pub fn decide(
        &mut self,
        topic: &str,
        handle: u64,
        mode: ProducerAccessMode,
        epoch: Option<u64>,
        others: &[u64],
    ) -> AccessDecision {
        let holder = self.exclusive.as_ref().map(|(_, n)| n.clone());
        let busy = holder.is_some() || !self.waiting.is_empty();
        let stale = epoch.is_some_and(|e| e < self.epoch);
        let fenced = |reason: String| {
            AccessDecision::Refuse(RequestError::ProducerFenced {
                topic: topic.to_owned(),
                reason,
            })
        };
        match mode {
            ProducerAccessMode::Shared => match holder.filter(|_| busy) {
                Some(name) => AccessDecision::Refuse(RequestError::ProducerBusy {
                    topic: topic.to_owned(),
                    name,
                    reason: "Topic has an existing exclusive producer".into(),
                }),
                None if busy => AccessDecision::Refuse(RequestError::ProducerBusy {
                    topic: topic.to_owned(),
                    name: String::new(),
                    reason: "exclusive producers are waiting for the topic".into(),
                }),
                None => AccessDecision::Grant {
                    epoch: None,
                    fence: Vec::new(),
                },
            },
            ProducerAccessMode::Exclusive => {
                if let Some(name) = holder {
                    fenced(format!("Topic has an existing exclusive producer: {name}"))
                } else if busy {
                    fenced("exclusive producers are waiting for the topic".into())
                } else if !others.is_empty() {
                    fenced("Topic has existing shared producers".into())
                } else if stale {
                    fenced(self.stale_reason(epoch))
                } else {
                    self.take(handle, epoch, Vec::new())
                }
            }
            ProducerAccessMode::ExclusiveWithFencing => {
                let mut fence: Vec<u64> = others.to_vec();
                fence.extend(self.waiting.drain(..).map(|w| w.handle));
                self.exclusive = None;
                // A fencing producer always moves the epoch forward.
                self.take(handle, None, fence)
            }
            ProducerAccessMode::WaitForExclusive => {
                if busy || !others.is_empty() {
                    self.waiting.push_back(Waiting { handle, epoch });
                    AccessDecision::Queue
                } else if stale {
                    fenced(self.stale_reason(epoch))
                } else {
                    self.take(handle, epoch, Vec::new())
                }
            }
        }
    }

    fn stale_reason(&self, epoch: Option<u64>) -> String {
        format!(
            "Topic epoch has already moved. Current epoch: {}, Producer epoch: {}",
            self.epoch,
            epoch.unwrap_or_default()
        )
    }

    /// Makes `handle` the exclusive producer; a producer presenting its epoch keeps it
    /// (a reconnect), any other moves the epoch forward.
    fn take(&mut self, handle: u64, epoch: Option<u64>, fence: Vec<u64>) -> AccessDecision {
        self.epoch = match epoch {
            Some(e) if e >= self.epoch => e,
            _ => self.epoch + 1,
        };
        self.exclusive = Some((handle, String::new()));
        AccessDecision::Grant {
            epoch: Some(self.epoch),
            fence,
        }
    }

    /// Records the exclusive producer's name once it is known.
    pub fn name_exclusive(&mut self, handle: u64, name: &str) {
        if let Some((h, n)) = self.exclusive.as_mut() {
            if *h == handle {
                *n = name.to_owned();
            }
        }
    }

    /// A producer left (or gave up waiting). When it was the exclusive one and nobody else
    /// is attached, the first waiter takes the topic: returned with its new epoch.
    pub fn remove(&mut self, handle: u64, others: &[u64]) -> Option<(Waiting, u64)> {
        self.waiting.retain(|w| w.handle != handle);
        if self.is_exclusive(handle) {
            self.exclusive = None;
        }
        self.promote(others)
    }

    /// Grants the topic to the first waiter if nobody holds it.
    pub fn promote(&mut self, others: &[u64]) -> Option<(Waiting, u64)> {
        if self.exclusive.is_some() || !others.is_empty() {
            return None;
        }
        let next = self.waiting.pop_front()?;
        self.epoch += 1;
        self.exclusive = Some((next.handle, String::new()));
        Some((next, self.epoch))
    }

    /// Whether `handle` waits for the topic.
    pub fn is_waiting(&self, handle: u64) -> bool {
        self.waiting.iter().any(|w| w.handle == handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProducerAccessMode as M;

    fn granted(d: &AccessDecision) -> Option<u64> {
        match d {
            AccessDecision::Grant { epoch, .. } => *epoch,
            _ => None,
        }
    }

    fn refused_with(d: &AccessDecision) -> &'static str {
        match d {
            AccessDecision::Refuse(RequestError::ProducerBusy { .. }) => "busy",
            AccessDecision::Refuse(RequestError::ProducerFenced { .. }) => "fenced",
            _ => "not refused",
        }
    }

    #[test]
    fn exclusive_excludes_everyone_else() {
        let mut a = ProducerAccess::default();
        let first = a.decide("t", 1, M::Exclusive, None, &[]);
        assert_eq!(granted(&first), Some(1));
        assert_eq!(
            refused_with(&a.decide("t", 2, M::Exclusive, None, &[1])),
            "fenced"
        );
        assert_eq!(
            refused_with(&a.decide("t", 3, M::Shared, None, &[1])),
            "busy"
        );
        assert!(a.remove(1, &[]).is_none());
        assert!(matches!(
            a.decide("t", 4, M::Shared, None, &[]),
            AccessDecision::Grant { epoch: None, .. }
        ));
        assert_eq!(
            refused_with(&a.decide("t", 5, M::Exclusive, None, &[4])),
            "fenced",
            "shared producers are attached"
        );
    }

    #[test]
    fn a_stale_epoch_is_fenced_and_a_current_one_reconnects() {
        let mut a = ProducerAccess::with_epoch(3);
        assert_eq!(granted(&a.decide("t", 1, M::Exclusive, None, &[])), Some(4));
        a.remove(1, &[]);
        assert_eq!(
            granted(&a.decide("t", 1, M::Exclusive, Some(4), &[])),
            Some(4)
        );
        a.remove(1, &[]);
        assert_eq!(
            refused_with(&a.decide("t", 1, M::Exclusive, Some(2), &[])),
            "fenced"
        );
    }

    #[test]
    fn fencing_closes_the_others_and_moves_the_epoch() {
        let mut a = ProducerAccess::default();
        a.decide("t", 1, M::Exclusive, None, &[]);
        assert!(matches!(
            a.decide("t", 2, M::WaitForExclusive, None, &[1]),
            AccessDecision::Queue
        ));
        let d = a.decide("t", 3, M::ExclusiveWithFencing, None, &[1]);
        assert!(
            matches!(&d, AccessDecision::Grant { epoch: Some(2), fence } if *fence == [1, 2]),
            "{d:?}"
        );
        assert!(a.is_exclusive(3));
        assert!(!a.is_waiting(2));
        assert_eq!(
            refused_with(&a.decide("t", 1, M::Exclusive, Some(1), &[])),
            "fenced"
        );
    }

    #[test]
    fn waiters_take_the_topic_in_turn() {
        let mut a = ProducerAccess::default();
        assert!(matches!(
            a.decide("t", 9, M::WaitForExclusive, None, &[8]),
            AccessDecision::Queue
        ));
        assert!(matches!(
            a.decide("t", 10, M::WaitForExclusive, None, &[8]),
            AccessDecision::Queue
        ));
        // The shared producer 8 leaves: 9 gets the topic.
        let (next, epoch) = a.remove(8, &[]).unwrap();
        assert_eq!((next.handle, epoch), (9, 1));
        assert!(
            a.remove(10, &[9]).is_none(),
            "10 gives up while 9 holds the topic"
        );
        assert!(a.remove(9, &[]).is_none());
        assert_eq!(
            granted(&a.decide("t", 11, M::WaitForExclusive, None, &[])),
            Some(2)
        );
    }
}
