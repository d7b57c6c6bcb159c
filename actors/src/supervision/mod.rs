//! Supervision: restart actors from persisted state after a stop or a panic, inject faults,
//! and meter every actor's mailbox.
//!
//! actix's own `Supervisor` restarts an actor when its context stops but lets a panic kill the
//! task, which leaves a dead mailbox behind. [`supervise`] wraps the actor's context future so a
//! panic anywhere in the actor (a handler, a spawned actor future, `started`) is caught, counted,
//! and turned into a restart. The address stays the same across restarts, so every holder of an
//! `Addr` keeps talking to the restarted actor and queued messages are not lost.
//!
//! The supervisor also owns the actor's public mailbox: it moves each message into the actor's
//! own queue ([`Forward`]), which gives mailbox depth, messages handled and handler latency for
//! every actor, and it applies injected faults ([`FaultInjector`]). Actors hand out
//! [`Lifecycle::address`], never `ctx.address()`, so every message goes through the same queue
//! and keeps its order.
//!
//! [`root`] supervises the broker's singletons (storage writer, topic registry): when one of
//! them dies for good it starts a fresh one and swaps the address every actor looks up.

mod budget;
mod cell;
mod faults;
mod forward;
mod guard;
mod histogram;
pub mod root;
mod tracker;

pub use budget::RestartBudget;
pub use cell::{ActorCell, ActorSnapshot, ActorState, KindCounters};
pub use faults::{ActiveFault, ActorFault, FaultError, FaultInjector, StorageFault};
pub use forward::Forward;
pub use guard::{supervise, ExitReason, Lifecycle, SupervisorSpec, MAILBOX_CAPACITY};
pub use histogram::{HistogramSnapshot, LatencyHistogram};
pub use tracker::{ActorKind, ActorTracker};

#[cfg(test)]
mod tests;
