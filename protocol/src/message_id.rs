//! `MessageId`: a plain, copyable, ordered view of the wire's `MessageIdData`.

use std::cmp::Ordering;
use std::fmt;

use crate::proto::MessageIdData;

/// Position of an entry (and optionally a message inside a batch entry) in a topic.
///
/// Ledger and entry ids are `u64` as on the wire; the sentinels [`MessageId::EARLIEST`] and
/// [`MessageId::LATEST`] are the signed values -1 and `i64::MAX` that clients send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageId {
    /// Ledger holding the entry.
    pub ledger_id: u64,
    /// Entry within the ledger.
    pub entry_id: u64,
    /// Partition index, -1 when the topic is not partitioned.
    pub partition: i32,
    /// Index inside a batch, -1 for a whole entry.
    pub batch_index: i32,
}

impl MessageId {
    /// `(-1, -1)` as `u64::MAX`: the start of the topic in SUBSCRIBE and SEEK.
    pub const EARLIEST: MessageId = MessageId::new(u64::MAX, u64::MAX);
    /// `(i64::MAX, i64::MAX)`: the end of the topic in SUBSCRIBE and SEEK.
    pub const LATEST: MessageId = MessageId::new(i64::MAX as u64, i64::MAX as u64);

    /// A whole-entry id on a non-partitioned topic.
    pub const fn new(ledger_id: u64, entry_id: u64) -> MessageId {
        MessageId {
            ledger_id,
            entry_id,
            partition: -1,
            batch_index: -1,
        }
    }

    /// True for the "earliest" sentinel (ledger and entry both -1).
    pub fn is_earliest(&self) -> bool {
        self.ledger_id == u64::MAX && self.entry_id == u64::MAX
    }

    /// True for the "latest" sentinel (ledger and entry both `i64::MAX`).
    pub fn is_latest(&self) -> bool {
        self.ledger_id == Self::LATEST.ledger_id && self.entry_id == Self::LATEST.entry_id
    }
}

/// Java prints ids as signed longs, so the earliest sentinel reads `-1` rather than 2^64-1.
fn signed(value: u64) -> i64 {
    i64::from_ne_bytes(value.to_ne_bytes())
}

impl fmt::Display for MessageId {
    /// `ledger:entry:partition:batch_index`, ledger and entry as signed values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            signed(self.ledger_id),
            signed(self.entry_id),
            self.partition,
            self.batch_index
        )
    }
}

impl Ord for MessageId {
    /// Topic order: ledger, entry, then batch index (-1, a whole entry, sorts first). The
    /// partition only breaks ties so that the order agrees with `Eq`.
    fn cmp(&self, other: &Self) -> Ordering {
        (
            self.ledger_id,
            self.entry_id,
            self.batch_index,
            self.partition,
        )
            .cmp(&(
                other.ledger_id,
                other.entry_id,
                other.batch_index,
                other.partition,
            ))
    }
}

impl PartialOrd for MessageId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl From<&MessageIdData> for MessageId {
    /// Absent `partition`/`batch_index` read as their proto default, -1.
    fn from(data: &MessageIdData) -> Self {
        MessageId {
            ledger_id: data.ledger_id,
            entry_id: data.entry_id,
            partition: data.partition(),
            batch_index: data.batch_index(),
        }
    }
}

impl From<MessageIdData> for MessageId {
    fn from(data: MessageIdData) -> Self {
        MessageId::from(&data)
    }
}

impl From<MessageId> for MessageIdData {
    /// Negative `partition`/`batch_index` are left unset: -1 is their proto default, and
    /// omitting them saves 10 bytes each on the wire.
    fn from(id: MessageId) -> Self {
        MessageIdData {
            ledger_id: id.ledger_id,
            entry_id: id.entry_id,
            partition: (id.partition >= 0).then_some(id.partition),
            batch_index: (id.batch_index >= 0).then_some(id.batch_index),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_from_wire_with_defaults_for_absent_fields() {
        let data = MessageIdData {
            ledger_id: 3,
            entry_id: 9,
            ..Default::default()
        };
        assert_eq!(MessageId::from(&data), MessageId::new(3, 9));
        let data = MessageIdData {
            ledger_id: 3,
            entry_id: 9,
            partition: Some(2),
            batch_index: Some(4),
            ack_set: vec![1],
            ..Default::default()
        };
        let id = MessageId::from(data);
        assert_eq!((id.partition, id.batch_index), (2, 4));
    }

    #[test]
    fn converts_to_wire_and_back() {
        let id = MessageId {
            ledger_id: 1,
            entry_id: 2,
            partition: 3,
            batch_index: 0,
        };
        let data = MessageIdData::from(id);
        assert_eq!(data.partition, Some(3));
        assert_eq!(data.batch_index, Some(0));
        assert_eq!(MessageId::from(data), id);
        let whole = MessageIdData::from(MessageId::new(1, 2));
        assert_eq!((whole.partition, whole.batch_index), (None, None));
        assert_eq!(MessageId::from(whole), MessageId::new(1, 2));
    }

    #[test]
    fn sentinels_are_recognised() {
        assert!(MessageId::EARLIEST.is_earliest());
        assert!(!MessageId::EARLIEST.is_latest());
        assert!(MessageId::LATEST.is_latest());
        assert!(!MessageId::LATEST.is_earliest());
        assert!(!MessageId::new(0, 0).is_earliest());
        let wire = MessageIdData {
            ledger_id: u64::MAX,
            entry_id: u64::MAX,
            ..Default::default()
        };
        assert!(MessageId::from(wire).is_earliest());
        assert_eq!(MessageId::LATEST.ledger_id, 0x7fff_ffff_ffff_ffff);
    }

    #[test]
    fn displays_signed_ledger_and_entry() {
        let id = MessageId {
            ledger_id: 12,
            entry_id: 34,
            partition: 1,
            batch_index: 5,
        };
        assert_eq!(id.to_string(), "12:34:1:5");
        assert_eq!(MessageId::EARLIEST.to_string(), "-1:-1:-1:-1");
    }

    #[test]
    fn orders_by_ledger_entry_then_batch_index() {
        let a = MessageId::new(1, 5);
        let b = MessageId::new(2, 0);
        let c = MessageId {
            batch_index: 0,
            ..MessageId::new(1, 5)
        };
        let d = MessageId {
            batch_index: 1,
            ..MessageId::new(1, 5)
        };
        let mut ids = vec![b, d, c, a];
        ids.sort();
        assert_eq!(ids, vec![a, c, d, b]);
        // The partition only breaks ties, so an entry still sorts by position first.
        let other_partition = MessageId {
            partition: 7,
            ..MessageId::new(1, 4)
        };
        assert!(other_partition < a);
        assert_ne!(a.cmp(&MessageId { partition: 0, ..a }), Ordering::Equal);
    }
}
