//! Loading cursors: header plus ack chunks plus batch ack sets, reassembled.

use super::Storage;
use crate::cursor::{Cursor, StoredCursor};
use crate::error::StorageError;
use crate::keys::{cursor_prefix, decode_cursor_key, ledger_cursors_prefix, CursorPart};

fn add_part(stored: &mut StoredCursor, part: CursorPart, value: fjall::Slice) {
    let value = bytes::Bytes::from(value);
    match part {
        CursorPart::Header => stored.header = Some(value),
        CursorPart::Chunk(idx) => stored.chunks.push((idx, value)),
        CursorPart::Batch(id) => stored.batches.push((id, value)),
        CursorPart::Deferred(idx) => stored.deferred.push((idx, value)),
        CursorPart::Redeliveries(idx) => stored.redeliveries.push((idx, value)),
    }
}

impl Storage {
    /// Every cursor of `ledger_id` (ordered by name length, then name).
    ///
    /// # Errors
    /// Storage failure or a corrupt cursor.
    pub fn load_cursors(&self, ledger_id: u64) -> Result<Vec<Cursor>, StorageError> {
        let mut cursors = Vec::new();
        let mut current: Option<StoredCursor> = None;
        for guard in self.inner.cursors.prefix(ledger_cursors_prefix(ledger_id)) {
            let (key, value) = guard.into_inner()?;
            let key = decode_cursor_key(&key)?;
            // Keys of one cursor are adjacent, so a new name means the previous one is done.
            if current.as_ref().is_some_and(|c| c.name != key.name) {
                if let Some(done) = current.take() {
                    cursors.push(Cursor::restore(done)?);
                }
            }
            let stored = current.get_or_insert_with(|| StoredCursor {
                name: key.name.clone(),
                ..StoredCursor::default()
            });
            add_part(stored, key.part, value);
        }
        if let Some(done) = current {
            cursors.push(Cursor::restore(done)?);
        }
        Ok(cursors)
    }

    /// The cursor `name` of `ledger_id`, if stored.
    ///
    /// # Errors
    /// Storage failure, a corrupt cursor, or an oversized name.
    pub fn load_cursor(&self, ledger_id: u64, name: &str) -> Result<Option<Cursor>, StorageError> {
        let prefix = cursor_prefix(ledger_id, name)?;
        let mut stored: Option<StoredCursor> = None;
        for guard in self.inner.cursors.prefix(&prefix) {
            let (key, value) = guard.into_inner()?;
            let key = decode_cursor_key(&key)?;
            let parts = stored.get_or_insert_with(|| StoredCursor {
                name: key.name.clone(),
                ..StoredCursor::default()
            });
            add_part(parts, key.part, value);
        }
        stored.map(Cursor::restore).transpose()
    }
}
