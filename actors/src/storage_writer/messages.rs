//! Messages handled by the [`super::StorageWriter`].

use std::borrow::Borrow;

use actix::{Addr, Message};
use geminga_storage::WriteOp;
use tokio::sync::oneshot;

use super::StorageWriter;
use crate::error::RequestError;

/// Makes `ops` durable. `reply` gets `Ok` once they are fsynced (group commit), or the error that
/// prevented it; an error means none of the appends in `ops` may be acknowledged to clients.
///
/// Sent with `do_send` (see [`persist`]) so requests from one sender are queued in the order
/// they were made: a parked `send` on a full mailbox could overtake an earlier one, and a log
/// append overtaking the one before it could leave a hole after a failure.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Persist {
    /// Writes applied atomically together.
    pub ops: Vec<WriteOp>,
    /// Where the outcome goes.
    pub reply: oneshot::Sender<Result<(), RequestError>>,
}

/// Queues `ops` on the writer, in call order, and resolves once they are durable.
///
/// Takes the writer by value or by reference (`BrokerContext::writer` returns the current one).
/// An empty `ops` is a barrier: it resolves once every write queued before it is settled.
pub fn persist(
    writer: impl Borrow<Addr<StorageWriter>>,
    ops: Vec<WriteOp>,
) -> impl std::future::Future<Output = Result<(), RequestError>> {
    let (reply, outcome) = oneshot::channel();
    writer.borrow().do_send(Persist { ops, reply });
    async move {
        outcome
            .await
            .unwrap_or_else(|_| Err(RequestError::unavailable("the storage writer")))
    }
}

/// Lifts the fence put on a ledger after a failed write, once its topic has reloaded its state.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Unfence {
    /// The ledger whose appends are accepted again.
    pub ledger_id: u64,
}
