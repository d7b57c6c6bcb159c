//! Producer sequence ids of a ledger (message deduplication): the highest sequence id stored
//! per producer name, written in the same atomic batch as the entries it covers, so after a
//! crash the record and the log always agree.

use std::collections::BTreeMap;

use super::Storage;
use crate::codec::Reader;
use crate::error::StorageError;
use crate::keys::MAX_KEY_LEN;

/// System key prefix of producer sequence records: `seq/ ++ ledger id ++ producer name`.
const SEQUENCE_PREFIX: &[u8] = b"seq/";

/// Prefix of every sequence record of a ledger.
pub(super) fn ledger_sequences_prefix(ledger_id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(SEQUENCE_PREFIX.len() + 8);
    key.extend_from_slice(SEQUENCE_PREFIX);
    key.extend_from_slice(&ledger_id.to_be_bytes());
    key
}

/// The key of one producer's record.
pub(super) fn sequence_key(ledger_id: u64, producer: &str) -> Result<Vec<u8>, StorageError> {
    if producer.is_empty() || producer.len() > MAX_KEY_LEN {
        return Err(StorageError::InvalidName {
            what: "producer name",
            reason: "empty or longer than 60 KiB",
        });
    }
    let mut key = ledger_sequences_prefix(ledger_id);
    key.extend_from_slice(producer.as_bytes());
    Ok(key)
}

impl Storage {
    /// The highest sequence id stored per producer name for `ledger_id` (see
    /// [`crate::WriteOp::Sequence`]).
    ///
    /// # Errors
    /// Storage failure or a corrupt record.
    pub fn load_sequences(&self, ledger_id: u64) -> Result<BTreeMap<String, i64>, StorageError> {
        let prefix = ledger_sequences_prefix(ledger_id);
        let mut out = BTreeMap::new();
        for guard in self.inner.system.prefix(&prefix) {
            let (key, value) = guard.into_inner()?;
            let name = key
                .get(prefix.len()..)
                .and_then(|n| std::str::from_utf8(n).ok())
                .ok_or_else(|| StorageError::corrupt("sequence key", "producer name is not UTF-8"))?
                .to_owned();
            let mut r = Reader::new(&value, "sequence record");
            let sequence = r.i64()?;
            r.finish()?;
            out.insert(name, sequence);
        }
        Ok(out)
    }
}
