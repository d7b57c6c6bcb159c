//! Broker-side dead letters: entries redelivered too often are written to the dead-letter
//! topic, and only once that write is durable are they acked on this subscription. A crash in
//! between leaves the entry unacked with its persisted count, so it is dead-lettered again
//! after the restart: at least once into the dead-letter topic, never lost.

use actix::{fut::wrap_future, ActorFutureExt, Addr, AsyncContext, Context, Handler};
use bytes::Bytes;
use geminga_storage::EntryMeta;
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::{
    actor::Subscription,
    dead_letter_message::{dead_letter_copy, Origin},
    messages::DeadLetters,
    policy::epoch_ms,
};
use crate::{
    dispatcher::{DeadLetter, DeadLettersFailed, EntriesAcked},
    error::RequestError,
    registry::GetTopic,
    topic::{Publish, Topic},
};

/// How long a failed dead-letter write waits before it is tried again.
const RETRY_AFTER_MS: u64 = 1_000;

/// Dead letters waiting to be written, and the one write in flight.
#[derive(Debug, Default)]
pub(super) struct DeadLetterJob {
    /// Letters to write (new, or back after a failure).
    queue: Vec<DeadLetter>,
    /// The dispatcher epoch the queued letters belong to.
    epoch: u64,
    /// Letters in the write in flight.
    writing: usize,
    /// No write starts before this time (epoch ms) after a failure.
    retry_at_ms: u64,
    /// The dead-letter topic last written to, by name.
    topic: Option<(String, Addr<Topic>)>,
}

impl DeadLetterJob {
    /// Letters queued or being written.
    pub(super) fn in_flight(&self) -> usize {
        self.queue.len() + self.writing
    }
}

/// The number of messages of a letter still unacked (a partially acked batch counts its rest).
fn unacked_messages(letter: &DeadLetter) -> u64 {
    let total = letter.entry.meta.num_messages.max(1);
    match &letter.ack_set {
        None => u64::from(total),
        Some(set) => (0..total as usize)
            .filter(|&i| {
                set.get(i / 64)
                    .is_some_and(|w| (*w as u64) >> (i % 64) & 1 == 1)
            })
            .count() as u64,
    }
}

impl Subscription {
    /// Starts writing the queued dead letters, unless a write is in flight or a retry waits.
    pub(super) fn retry_dead_letters(&mut self, ctx: &mut Context<Self>) {
        let job = &mut self.dead_letters;
        if job.writing > 0 || job.queue.is_empty() || epoch_ms() < job.retry_at_ms {
            return;
        }
        let letters = std::mem::take(&mut job.queue);
        let epoch = job.epoch;
        if self.policy.max_redeliver_count == 0 {
            // Switched off meanwhile: the dispatcher delivers them again.
            if let Some(dispatcher) = &self.dispatcher {
                let entries = letters.into_iter().map(|l| l.entry).collect();
                dispatcher.do_send(DeadLettersFailed { epoch, entries });
            }
            return;
        }
        self.dead_letters.writing = letters.len();
        let target = self
            .policy
            .dead_letter_topic_for(&self.record.name, &self.name);
        let copies: Vec<(EntryMeta, Bytes)> = letters.iter().map(|l| self.copy_of(l)).collect();
        let topic = self.dead_letter_topic(target.clone());
        let write = async move {
            let topic = topic.await?;
            let mut replies = Vec::with_capacity(copies.len());
            for (meta, data) in copies {
                let (reply, outcome) = oneshot::channel();
                // `do_send` keeps the letters in order, like a producer's SENDs.
                topic.do_send(Publish {
                    producer_handle: 0,
                    meta,
                    data,
                    // No producer name: the broker's copies are never deduplicated.
                    sequence: (-1, -1),
                    reply,
                });
                replies.push(outcome);
            }
            let mut results = Vec::with_capacity(replies.len());
            for outcome in replies {
                let written = outcome
                    .await
                    .unwrap_or_else(|_| Err(RequestError::unavailable("the dead-letter topic")));
                results.push(written.map(|_| ()));
            }
            Ok::<_, RequestError>((topic, results))
        };
        let fut = wrap_future::<_, Self>(write).map(move |written, act, ctx| {
            act.dead_letters.writing = 0;
            match written {
                Ok((topic, results)) => {
                    act.dead_letters.topic = Some((target, topic));
                    act.on_dead_letters_written(letters, results, epoch, ctx);
                }
                Err(e) => act.on_dead_letters_failed(letters, epoch, &e),
            }
            act.retry_dead_letters(ctx);
        });
        ctx.spawn(fut);
    }

    /// The copy to publish; an entry whose metadata does not parse is copied as stored (it
    /// must not be lost either).
    fn copy_of(&self, letter: &DeadLetter) -> (EntryMeta, Bytes) {
        let origin = Origin {
            topic: &self.record.name,
            ledger_id: self.record.ledger_id,
        };
        dead_letter_copy(
            &letter.entry,
            letter.ack_set.as_deref(),
            &origin,
            epoch_ms(),
            self.broker.config().max_message_size,
        )
        .unwrap_or_else(|e| {
            warn!(parent: &self.span, entry_id = letter.entry.entry_id, error = %e,
                    "dead letter copied unchanged: its metadata does not parse");
            let meta = EntryMeta {
                deliver_at_ms: None,
                ..letter.entry.meta
            };
            (meta, letter.entry.data.clone())
        })
    }

    /// The dead-letter topic's actor: the cached one, or looked up (created if needed).
    fn dead_letter_topic(
        &self,
        name: String,
    ) -> impl std::future::Future<Output = Result<Addr<Topic>, RequestError>> {
        let cached = self
            .dead_letters
            .topic
            .as_ref()
            .filter(|(cached, addr)| *cached == name && addr.connected())
            .map(|(_, addr)| addr.clone());
        let registry = self.broker.registry();
        async move {
            if let Some(addr) = cached {
                return Ok(addr);
            }
            let registry = registry.ok_or_else(|| RequestError::unavailable("the registry"))?;
            registry
                .send(GetTopic { name, create: true })
                .await
                .unwrap_or_else(|e| Err(RequestError::from(e)))
        }
    }

    /// Acks what reached the dead-letter topic; queues the rest for a retry.
    fn on_dead_letters_written(
        &mut self,
        letters: Vec<DeadLetter>,
        results: Vec<Result<(), RequestError>>,
        epoch: u64,
        ctx: &mut Context<Self>,
    ) {
        let mut acked = Vec::new();
        let mut failed = Vec::new();
        let mut first_error = None;
        for (letter, result) in letters.into_iter().zip(results) {
            match result {
                Ok(()) => {
                    self.counters.add_dead_lettered(unacked_messages(&letter));
                    acked.push(letter.entry.entry_id);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                    failed.push(letter);
                }
            }
        }
        if let Some(e) = first_error {
            self.on_dead_letters_failed(failed, epoch, &e);
        }
        let Some(state) = self.state.as_mut() else {
            return;
        };
        acked.retain(|id| state.cursor_mut().ack(*id));
        self.counters.set_delayed(state.delayed_messages());
        self.publish_stats();
        debug!(parent: &self.span, count = acked.len(), "dead letters written and acked");
        if let (false, Some(dispatcher)) = (acked.is_empty(), &self.dispatcher) {
            dispatcher.do_send(EntriesAcked {
                ids: acked,
                up_to: None,
            });
        }
        self.persist(ctx);
    }

    fn on_dead_letters_failed(&mut self, letters: Vec<DeadLetter>, epoch: u64, e: &RequestError) {
        if letters.is_empty() {
            return;
        }
        warn!(parent: &self.span, count = letters.len(), error = %e,
            "writing dead letters failed; retrying");
        let job = &mut self.dead_letters;
        job.retry_at_ms = epoch_ms().saturating_add(RETRY_AFTER_MS);
        if job.queue.is_empty() {
            job.epoch = epoch;
        }
        job.queue.extend(letters);
    }
}

impl Handler<DeadLetters> for Subscription {
    type Result = ();

    fn handle(&mut self, msg: DeadLetters, ctx: &mut Context<Self>) {
        let current = self.state.as_ref().map(|s| s.epoch());
        if current != Some(msg.epoch) {
            // Handed over before a rewind: the dispatcher forgot them and they come back.
            return;
        }
        let job = &mut self.dead_letters;
        if job.epoch != msg.epoch {
            job.queue.clear();
            job.epoch = msg.epoch;
        }
        job.queue.extend(msg.letters);
        self.retry_dead_letters(ctx);
    }
}
