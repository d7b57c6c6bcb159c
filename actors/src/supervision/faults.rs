//! Fault injection: make a chosen actor panic, stop, stall or lose its mailbox, and make
//! storage writes or fsyncs fail for a while. Used by the supervision tests and by the admin
//! path `/admin/v2/broker/faults` (which refuses unless `faultInjectionEnabled=true`).

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use geminga_storage::Storage;
use serde::Serialize;

use super::tracker::{ActorKind, ActorTracker};

/// What to do to an actor. Applied by its supervisor, so every supervised actor supports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
#[non_exhaustive]
pub enum ActorFault {
    /// Panic inside the actor, as a bug in a handler would.
    Panic,
    /// Stop the actor, as `ctx.stop()` after an unrecoverable error would.
    Stop,
    /// Handle no message for this long; they queue up in the mailbox meanwhile.
    Stall {
        /// How long.
        #[serde(rename = "duration_ms", serialize_with = "as_millis")]
        duration: Duration,
    },
    /// Drop the mailbox with every queued message: the actor dies and its supervisor must
    /// notice and replace it (holders of the old address see it disconnected).
    DropMailbox,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Which storage operation to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StorageFault {
    /// `Storage::write` (the batch of a group commit) fails.
    Write,
    /// `Storage::sync` (the fsync of a group commit) fails.
    Fsync,
}

/// Why a fault could not be injected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FaultError {
    /// No live actor has this kind and name; list them at `/admin/v2/broker/actors`.
    #[error("no live {kind} actor named {name:?}")]
    NoSuchActor {
        /// The kind asked for.
        kind: &'static str,
        /// The name asked for.
        name: String,
    },
}

/// A fault currently in effect, as listed by `GET /admin/v2/broker/faults`.
#[derive(Clone, Debug, Serialize)]
pub struct ActiveFault {
    /// `stall`, `write` or `fsync`.
    pub fault: &'static str,
    /// The actor's kind, for a stall.
    pub kind: Option<ActorKind>,
    /// The actor's name, for a stall.
    pub name: Option<String>,
    /// Milliseconds until the fault ends by itself.
    pub remaining_ms: u64,
}

/// The broker's fault switchboard (cheap to clone).
#[derive(Clone)]
pub struct FaultInjector {
    tracker: Arc<ActorTracker>,
    storage: Storage,
    /// When the storage faults set through this injector end, for listing them.
    storage_until: Arc<Mutex<[Option<Instant>; 2]>>,
}

impl FaultInjector {
    /// A switchboard over the broker's actors and storage.
    pub fn new(tracker: Arc<ActorTracker>, storage: Storage) -> Self {
        Self {
            tracker,
            storage,
            storage_until: Arc::default(),
        }
    }

    /// Applies `fault` to every live actor of `kind` named `name`; returns their ids.
    ///
    /// # Errors
    /// [`FaultError::NoSuchActor`] when none matches.
    pub fn actor(
        &self,
        kind: ActorKind,
        name: &str,
        fault: ActorFault,
    ) -> Result<Vec<u64>, FaultError> {
        let cells = self.tracker.cells_named(kind, name);
        if cells.is_empty() {
            return Err(FaultError::NoSuchActor {
                kind: kind.as_str(),
                name: name.to_owned(),
            });
        }
        for cell in &cells {
            tracing::warn!(kind = kind.as_str(), name, ?fault, "injecting a fault");
            cell.inject(fault);
        }
        Ok(cells.iter().map(|c| c.id()).collect())
    }

    /// Makes `op` fail for the next `duration`.
    pub fn storage(&self, op: StorageFault, duration: Duration) {
        tracing::warn!(?op, ?duration, "injecting a storage fault");
        let faults = self.storage.faults();
        let slot = match op {
            StorageFault::Write => {
                faults.fail_writes_for(duration);
                0
            }
            StorageFault::Fsync => {
                faults.fail_sync_for(duration);
                1
            }
        };
        let mut until = self
            .storage_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = until.get_mut(slot) {
            *entry = Instant::now().checked_add(duration);
        }
    }

    /// Ends every fault at once: storage works again and stalled actors resume.
    pub fn clear(&self) {
        self.storage.faults().clear();
        *self
            .storage_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = [None, None];
        for cell in self.tracker.cells() {
            cell.clear_faults();
        }
    }

    /// The faults in effect now (stalls and storage failures; one-shot faults are applied at
    /// once and not listed).
    pub fn active(&self) -> Vec<ActiveFault> {
        let now = Instant::now();
        let mut out = Vec::new();
        let until = *self
            .storage_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (fault, end) in ["write", "fsync"].into_iter().zip(until) {
            if let Some(end) = end.filter(|end| *end > now) {
                out.push(ActiveFault {
                    fault,
                    kind: None,
                    name: None,
                    remaining_ms: millis(end - now),
                });
            }
        }
        for cell in self.tracker.cells() {
            if let Some(end) = cell.stalled_until().filter(|end| *end > now) {
                out.push(ActiveFault {
                    fault: "stall",
                    kind: Some(cell.kind()),
                    name: Some(cell.name().to_owned()),
                    remaining_ms: millis(end - now),
                });
            }
        }
        out
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
