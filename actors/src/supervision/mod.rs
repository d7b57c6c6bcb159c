//! Supervision: restart actors from persisted state after a stop or a panic.
//!
//! actix's own `Supervisor` restarts an actor when its context stops but lets a panic kill the
//! task, which leaves a dead mailbox behind. [`supervise`] wraps the actor's context future so a
//! panic anywhere in the actor (a handler, a spawned actor future, `started`) is caught, counted,
//! and turned into a restart. The address stays the same across restarts, so every holder of an
//! `Addr` keeps talking to the restarted actor and queued messages are not lost.

mod budget;
mod guard;
mod tracker;

pub use budget::RestartBudget;
pub use guard::{supervise, ExitReason, Lifecycle, SupervisorSpec, MAILBOX_CAPACITY};
pub use tracker::{ActorKind, ActorSnapshot, ActorState, ActorTracker, KindCounters};

#[cfg(test)]
mod tests;
