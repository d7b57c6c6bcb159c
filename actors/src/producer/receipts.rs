//! ReceiptQueue: answers SENDs in the order they arrived, whatever order they complete in.

use std::collections::{BTreeMap, VecDeque};

use crate::error::RequestError;

/// The answer to one SEND.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// The SEND's sequence id.
    pub sequence_id: u64,
    /// The SEND's highest sequence id.
    pub highest_sequence_id: u64,
    /// The stored entry id, or why it was not stored.
    pub outcome: Result<u64, RequestError>,
}

/// The C++ client closes its connection when receipts of one producer arrive out of order,
/// so completions are held back until every earlier SEND is answered.
#[derive(Debug, Default)]
pub struct ReceiptQueue {
    next_slot: u64,
    waiting: VecDeque<(u64, u64, u64)>,
    done: BTreeMap<u64, Result<u64, RequestError>>,
}

impl ReceiptQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a SEND; returns the slot to complete later.
    pub fn push(&mut self, sequence_id: u64, highest_sequence_id: u64) -> u64 {
        let slot = self.next_slot;
        self.next_slot += 1;
        self.waiting
            .push_back((slot, sequence_id, highest_sequence_id));
        slot
    }

    /// Completes a slot; returns the receipts now ready to send, in SEND order.
    pub fn complete(&mut self, slot: u64, outcome: Result<u64, RequestError>) -> Vec<Receipt> {
        self.done.insert(slot, outcome);
        let mut ready = Vec::new();
        while let Some(&(head, sequence_id, highest_sequence_id)) = self.waiting.front() {
            let Some(outcome) = self.done.remove(&head) else {
                break;
            };
            self.waiting.pop_front();
            ready.push(Receipt {
                sequence_id,
                highest_sequence_id,
                outcome,
            });
        }
        ready
    }

    /// SENDs not yet answered.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether every SEND is answered.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_leave_in_send_order() {
        let mut q = ReceiptQueue::new();
        let a = q.push(10, 10);
        let b = q.push(11, 11);
        let c = q.push(12, 12);
        assert!(q.complete(c, Ok(2)).is_empty());
        assert!(q.complete(b, Ok(1)).is_empty());
        let ready: Vec<u64> = q.complete(a, Ok(0)).iter().map(|r| r.sequence_id).collect();
        assert_eq!(ready, vec![10, 11, 12]);
        assert!(q.is_empty());
    }

    #[test]
    fn an_error_takes_its_place_in_the_order() {
        let mut q = ReceiptQueue::new();
        let a = q.push(1, 1);
        let b = q.push(2, 2);
        let ready = q.complete(a, Err(RequestError::ChecksumMismatch));
        assert_eq!(ready.len(), 1);
        assert!(ready[0].outcome.is_err());
        assert_eq!(q.complete(b, Ok(5))[0].outcome.as_ref().ok(), Some(&5));
    }
}
