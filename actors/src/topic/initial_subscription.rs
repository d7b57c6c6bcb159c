//! Subscriptions created on behalf of a producer (PRODUCER's `initial_subscription_name`, used
//! by the C++/Python dead-letter producer), so messages published before any consumer came are
//! kept for it; and handing out a subscription's actor.

use actix::Context;
use geminga_storage::{Cursor, WriteOp};

use super::actor::Topic;
use crate::{error::RequestError, storage_writer::persist};

impl Topic {
    /// Creates durable subscription `name` at the earliest position unless it exists. Returns
    /// the write that makes it durable, or `None` when there is nothing to do.
    pub(super) fn ensure_subscription(
        &mut self,
        name: &str,
        ctx: &mut Context<Self>,
    ) -> Option<impl std::future::Future<Output = Result<(), RequestError>>> {
        if self.has_subscription(name) {
            return None;
        }
        let mut cursor = Cursor::new(name, self.first_entry());
        let ledger_id = self.ledger_id();
        // Written here, ahead of anything the new subscription writes (same writer queue), so
        // the producer is answered only once the subscription survives a restart.
        let write = cursor.take_update().map(|update| {
            persist(
                self.broker.committer(),
                vec![WriteOp::Cursor { ledger_id, update }],
            )
        });
        self.start_durable_subscription(cursor, ctx);
        tracing::info!(
            subscription = name,
            "initial subscription created for a producer"
        );
        Some(async move {
            match write {
                Some(write) => write.await,
                None => Ok(()),
            }
        })
    }
}
