//! Group commit: which requests go into the next fsync, and fencing after a failure.

use std::collections::HashSet;

use geminga_storage::WriteOp;

/// A batch of requests made durable by one write and one fsync.
#[derive(Debug)]
pub struct Group<R> {
    /// Every write of every request in the group, in arrival order.
    pub ops: Vec<WriteOp>,
    /// Whom to answer once the group is durable (or failed).
    pub replies: Vec<R>,
    /// Ledgers appended to by this group: fenced if the group fails.
    pub ledgers: HashSet<u64>,
}

/// A request refused without being written.
#[derive(Debug)]
pub struct Rejected<R> {
    /// Whom to answer.
    pub reply: R,
    /// The fenced ledger that caused the refusal.
    pub ledger_id: u64,
}

/// Requests waiting for the next group, and at most one group in flight.
///
/// Requests that arrive while a group is being written wait and form the next group, so under
/// load many requests share each fsync while a lone request is written at once. After a failed
/// group the ledgers it appended to are fenced: later appends to them are refused until their
/// topic has reloaded, so no log can get a hole (entry N missing while N+1 is stored).
#[derive(Debug)]
pub struct CommitQueue<R> {
    pending: Vec<(Vec<WriteOp>, R)>,
    in_flight: bool,
    /// Ledgers appended to by the group in flight.
    in_flight_ledgers: HashSet<u64>,
    fenced: HashSet<u64>,
    /// Every ledger not in `unfenced` is fenced: set in a writer that replaced a lost one,
    /// which cannot know which appends were lost with its predecessor's mailbox.
    fence_all: bool,
    unfenced: HashSet<u64>,
    /// Largest number of ops in one group, to bound the latency of a single fsync.
    max_group_ops: usize,
}

impl<R> CommitQueue<R> {
    /// An empty queue whose groups hold at most `max_group_ops` writes (at least one request).
    pub fn new(max_group_ops: usize) -> Self {
        Self {
            pending: Vec::new(),
            in_flight: false,
            in_flight_ledgers: HashSet::new(),
            fenced: HashSet::new(),
            fence_all: false,
            unfenced: HashSet::new(),
            max_group_ops,
        }
    }

    /// A queue in which every ledger is fenced until its topic unfences it (a writer that
    /// replaces one whose queued requests were lost).
    pub fn all_fenced(max_group_ops: usize) -> Self {
        Self {
            fence_all: true,
            ..Self::new(max_group_ops)
        }
    }

    /// The queue a restarted writer continues with: the requests of this one are dropped
    /// (their senders see an error), so every ledger they or the group in flight appended to
    /// is fenced, as after a failed group; otherwise an append queued behind a dropped one could
    /// be written and leave a hole.
    pub fn after_restart(&self) -> Self {
        let mut next = Self::new(self.max_group_ops);
        next.fenced.clone_from(&self.fenced);
        next.fenced.extend(self.in_flight_ledgers.iter().copied());
        for (ops, _) in &self.pending {
            next.fenced.extend(appended_ledgers(ops));
        }
        next.fence_all = self.fence_all;
        next.unfenced.clone_from(&self.unfenced);
        next
    }

    /// This queue with every ledger fenced until its topic unfences it, as in
    /// [`CommitQueue::all_fenced`]; the requests it holds are kept.
    #[must_use]
    pub fn fencing_all(mut self) -> Self {
        self.fence_all = true;
        self.unfenced.clear();
        self
    }

    /// Queues a request, or refuses it when it appends to a fenced ledger.
    pub fn submit(&mut self, ops: Vec<WriteOp>, reply: R) -> Result<(), Rejected<R>> {
        if let Some(ledger_id) = appended_ledgers(&ops).find(|l| self.is_fenced(*l)) {
            return Err(Rejected { reply, ledger_id });
        }
        self.pending.push((ops, reply));
        Ok(())
    }

    /// Takes the next group if none is in flight and requests are waiting.
    pub fn next_group(&mut self) -> Option<Group<R>> {
        if self.in_flight || self.pending.is_empty() {
            return None;
        }
        let mut group = Group {
            ops: Vec::new(),
            replies: Vec::new(),
            ledgers: HashSet::new(),
        };
        let (mut taken, mut op_count) = (0, 0);
        for (ops, _) in &self.pending {
            if taken > 0 && op_count + ops.len() > self.max_group_ops {
                break;
            }
            taken += 1;
            op_count += ops.len();
            group.ledgers.extend(appended_ledgers(ops));
        }
        for (ops, reply) in self.pending.drain(..taken) {
            group.ops.extend(ops);
            group.replies.push(reply);
        }
        self.in_flight = true;
        self.in_flight_ledgers.clone_from(&group.ledgers);
        Some(group)
    }

    /// Records the outcome of the group in flight. On failure its ledgers are fenced and the
    /// waiting requests that append to them are returned, to be refused.
    pub fn finish_group(&mut self, ledgers: &HashSet<u64>, ok: bool) -> Vec<Rejected<R>> {
        self.in_flight = false;
        self.in_flight_ledgers.clear();
        if ok {
            return Vec::new();
        }
        self.fenced.extend(ledgers.iter().copied());
        let mut rejected = Vec::new();
        let mut kept = Vec::new();
        for (ops, reply) in self.pending.drain(..) {
            let hit = appended_ledgers(&ops).find(|l| ledgers.contains(l));
            match hit {
                Some(ledger_id) => rejected.push(Rejected { reply, ledger_id }),
                None => kept.push((ops, reply)),
            }
        }
        self.pending = kept;
        rejected
    }

    /// Accepts appends to `ledger_id` again.
    pub fn unfence(&mut self, ledger_id: u64) {
        self.fenced.remove(&ledger_id);
        if self.fence_all {
            self.unfenced.insert(ledger_id);
        }
    }

    /// Whether `ledger_id` is fenced.
    pub fn is_fenced(&self, ledger_id: u64) -> bool {
        self.fenced.contains(&ledger_id) || (self.fence_all && !self.unfenced.contains(&ledger_id))
    }

    /// Requests waiting for a group.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

fn appended_ledgers(ops: &[WriteOp]) -> impl Iterator<Item = u64> + '_ {
    ops.iter().filter_map(|op| match op {
        WriteOp::Append { ledger_id, .. } => Some(*ledger_id),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use geminga_storage::{Entry, EntryMeta};

    use super::*;

    fn append(ledger_id: u64, entry_id: u64) -> Vec<WriteOp> {
        let entry = Entry {
            entry_id,
            meta: EntryMeta::default(),
            data: Bytes::from_static(b"x"),
        };
        vec![WriteOp::Append { ledger_id, entry }]
    }

    #[test]
    fn requests_arriving_during_a_flush_share_the_next_group() {
        let mut q = CommitQueue::new(1000);
        q.submit(append(1, 0), 'a').unwrap();
        let first = q.next_group().unwrap();
        assert_eq!(first.replies, vec!['a']);
        q.submit(append(1, 1), 'b').unwrap();
        q.submit(append(2, 0), 'c').unwrap();
        assert!(q.next_group().is_none(), "one group in flight at a time");
        assert!(q.finish_group(&first.ledgers, true).is_empty());
        let second = q.next_group().unwrap();
        assert_eq!(second.replies, vec!['b', 'c']);
        assert_eq!(second.ops.len(), 2);
    }

    #[test]
    fn group_size_is_bounded_but_never_empty() {
        let mut q = CommitQueue::new(1);
        q.submit(append(1, 0), 1).unwrap();
        q.submit(append(1, 1), 2).unwrap();
        assert_eq!(q.next_group().unwrap().replies, vec![1]);
    }

    #[test]
    fn a_failed_group_fences_its_ledgers_until_unfenced() {
        let mut q = CommitQueue::new(1000);
        q.submit(append(1, 0), "first").unwrap();
        let group = q.next_group().unwrap();
        q.submit(append(1, 1), "queued-same-ledger").unwrap();
        q.submit(append(2, 0), "queued-other-ledger").unwrap();
        let rejected = q.finish_group(&group.ledgers, false);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].reply, "queued-same-ledger");
        assert!(q.is_fenced(1));
        assert!(q.submit(append(1, 2), "late").is_err());
        q.unfence(1);
        assert!(q.submit(append(1, 2), "after-reload").is_ok());
        assert_eq!(q.pending_len(), 2);
    }

    #[test]
    fn a_restart_fences_the_ledgers_of_dropped_and_in_flight_requests() {
        let mut q = CommitQueue::new(1);
        q.submit(append(1, 0), "in-flight").unwrap();
        let _group = q.next_group().unwrap();
        q.submit(append(2, 0), "queued").unwrap();
        let mut next = q.after_restart();
        assert!(
            next.is_fenced(1),
            "the group in flight may not have been written"
        );
        assert!(next.is_fenced(2), "the queued append was dropped");
        assert!(!next.is_fenced(3));
        assert!(next.submit(append(2, 1), "behind-the-dropped-one").is_err());
        next.unfence(2);
        assert!(next.submit(append(2, 0), "after-reload").is_ok());
    }

    #[test]
    fn a_replacement_writer_fences_every_ledger_until_unfenced() {
        let mut q: CommitQueue<&str> = CommitQueue::all_fenced(10);
        assert!(q.submit(append(7, 3), "unknown-ledger").is_err());
        q.submit(Vec::new(), "barrier").unwrap();
        q.unfence(7);
        assert!(q.submit(append(7, 3), "reloaded").is_ok());
        assert!(
            q.after_restart().is_fenced(8),
            "fence-all survives a restart"
        );
    }

    #[test]
    fn fencing_all_forgets_earlier_unfencing() {
        let mut q: CommitQueue<&str> = CommitQueue::all_fenced(10);
        q.unfence(7);
        let mut q = q.fencing_all();
        assert!(q.is_fenced(7), "a second replacement fences ledger 7 again");
        assert!(q.submit(Vec::new(), "barrier").is_ok());
        q.unfence(7);
        assert!(!q.is_fenced(7));
    }
}
