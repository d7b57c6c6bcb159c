//! Messages handled by the [`super::StorageWriter`].

use actix::Message;
use geminga_storage::WriteOp;

use crate::error::RequestError;

/// Makes `ops` durable. Answered once they are fsynced (group commit), or with the error that
/// prevented it; an error means none of the appends in `ops` may be acknowledged to clients.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct Persist {
    /// Writes applied atomically together.
    pub ops: Vec<WriteOp>,
}

/// Lifts the fence put on a ledger after a failed write, once its topic has reloaded its state.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Unfence {
    /// The ledger whose appends are accepted again.
    pub ledger_id: u64,
}
