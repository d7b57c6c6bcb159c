//! `Worker`: a named background thread fed through a channel, joined when dropped.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::StorageError;

/// Owns one of storage's threads (reclaim, delayed-key purge, release, runway, journal sync).
/// Dropping it closes
/// the channel, which ends the thread's receive loop, and joins the thread, so the database
/// stays open until the thread no longer uses it and a reopen of the same dir right after a
/// drop is not refused.
pub(super) struct Worker<T> {
    name: &'static str,
    tx: Option<Sender<T>>,
    handle: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Worker<T> {
    /// Starts thread `name` running `run` over the receiving end of the channel.
    pub(super) fn spawn(
        name: &'static str,
        run: impl FnOnce(Receiver<T>) + Send + 'static,
    ) -> Result<Self, StorageError> {
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(rx))?;
        Ok(Self {
            name,
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Hands `message` to the thread; it is dropped when the thread is gone (it panicked).
    pub(super) fn send(&self, message: T) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(message);
        }
    }
}

impl Worker<()> {
    /// Starts thread `name` that waits `first`, then calls the step `init` builds (on the
    /// thread, so the step's state need not be `Send`) after each pause it answers, until
    /// the worker is dropped. Nothing is ever sent to it.
    pub(super) fn ticking<F: FnMut() -> Duration>(
        name: &'static str,
        first: Duration,
        init: impl FnOnce() -> F + Send + 'static,
    ) -> Result<Self, StorageError> {
        Self::spawn(name, move |stop| {
            let mut step = init();
            let mut pause = first;
            // The sender is only ever dropped, which ends the wait at once.
            while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(pause) {
                pause = step();
            }
        })
    }
}

impl<T> Drop for Worker<T> {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(handle) = self.handle.take() {
            if handle.join().is_err() {
                tracing::error!(thread = self.name, "a storage thread panicked");
            }
        }
    }
}
