//! Per-instance counters and errors, shared by the instance actor (which updates them), the
//! admin API (status and stats in Pulsar's shapes) and `/metrics`. They outlive restarts.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
        Mutex, PoisonError,
    },
    time::{SystemTime, UNIX_EPOCH},
};

use serde_json::{json, Value};

use super::{config::ConnectorKind, ConnectorError};

/// Errors kept per instance and kind, newest last, as Pulsar keeps its latest exceptions.
pub const LATEST_ERRORS: usize = 10;

/// Epoch milliseconds now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One recorded failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorRecord {
    /// The error text.
    pub text: String,
    /// When it happened, epoch ms.
    pub timestamp_ms: u64,
}

/// The live counters of one connector instance.
#[derive(Debug, Default)]
pub struct InstanceStatus {
    /// The instance's loop is running (opened, moving records).
    pub running: AtomicBool,
    /// Restarts after failures (in place or by the runtime).
    pub restarts: AtomicU64,
    /// Failures since the last record moved; sets the restart backoff.
    pub consecutive_failures: AtomicU64,
    /// Records read from the external system (source) or from topics (sink).
    pub received: AtomicU64,
    /// Records published (source) or written to the external system (sink).
    pub written: AtomicU64,
    /// Failures of the external system.
    pub connector_errors: AtomicU64,
    /// Failures of the broker or the runtime.
    pub system_errors: AtomicU64,
    /// When the last record was received, epoch ms (0: never).
    pub last_received_ms: AtomicU64,
    /// When the last record was written, epoch ms (0: never).
    pub last_written_ms: AtomicU64,
    /// Sum of receive-to-written latencies, µs, for the average in stats.
    pub latency_sum_us: AtomicU64,
    errors: Mutex<Errors>,
}

#[derive(Debug, Default)]
struct Errors {
    current: String,
    connector: VecDeque<ErrorRecord>,
    system: VecDeque<ErrorRecord>,
}

fn push(queue: &mut VecDeque<ErrorRecord>, text: String) {
    if queue.len() >= LATEST_ERRORS {
        queue.pop_front();
    }
    queue.push_back(ErrorRecord {
        text,
        timestamp_ms: now_ms(),
    });
}

impl InstanceStatus {
    fn errors(&self) -> std::sync::MutexGuard<'_, Errors> {
        self.errors.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a failure that ends the instance's loop (it is restarted with backoff).
    pub fn record_failure(&self, error: &ConnectorError) {
        let text = error.to_string();
        let mut errors = self.errors();
        if error.is_system() {
            self.system_errors.fetch_add(1, Relaxed);
            push(&mut errors.system, text.clone());
        } else {
            self.connector_errors.fetch_add(1, Relaxed);
            push(&mut errors.connector, text.clone());
        }
        errors.current = text;
        self.consecutive_failures.fetch_add(1, Relaxed);
        self.running.store(false, Relaxed);
    }

    /// Records a crash the loop could not report itself (a panic or an injected fault).
    pub fn record_crash(&self, what: &str) {
        let mut errors = self.errors();
        self.system_errors.fetch_add(1, Relaxed);
        push(&mut errors.system, what.to_owned());
        errors.current = what.to_owned();
        self.consecutive_failures.fetch_add(1, Relaxed);
        self.running.store(false, Relaxed);
    }

    /// The loop opened its systems and runs.
    pub fn on_running(&self) {
        self.running.store(true, Relaxed);
    }

    /// `n` records arrived.
    pub fn on_received(&self, n: u64) {
        self.received.fetch_add(n, Relaxed);
        self.last_received_ms.store(now_ms(), Relaxed);
    }

    /// `n` records were handled, `latency_us` after they arrived; clears the error and the
    /// backoff, since the instance made progress.
    pub fn on_written(&self, n: u64, latency_us: u64) {
        self.written.fetch_add(n, Relaxed);
        self.latency_sum_us
            .fetch_add(latency_us.saturating_mul(n), Relaxed);
        self.last_written_ms.store(now_ms(), Relaxed);
        if self.consecutive_failures.swap(0, Relaxed) > 0 {
            self.errors().current.clear();
        }
    }

    /// Pulsar's `SourceStatus`/`SinkStatus` instance `status` document.
    pub fn status_json(&self, kind: ConnectorKind, worker_id: &str) -> Value {
        let errors = self.errors();
        let list = |q: &VecDeque<ErrorRecord>| -> Vec<Value> {
            q.iter()
                .map(|e| json!({ "exceptionString": e.text, "timestampMs": e.timestamp_ms }))
                .collect()
        };
        let mut doc = json!({
            "running": self.running.load(Relaxed),
            "error": errors.current,
            "numRestarts": self.restarts.load(Relaxed),
            "numSystemExceptions": self.system_errors.load(Relaxed),
            "latestSystemExceptions": list(&errors.system),
            "lastReceivedTime": self.last_received_ms.load(Relaxed),
            "workerId": worker_id,
        });
        let fields = match kind {
            ConnectorKind::Source => [
                ("numReceivedFromSource", self.received.load(Relaxed)),
                ("numSourceExceptions", self.connector_errors.load(Relaxed)),
                ("numWritten", self.written.load(Relaxed)),
            ],
            ConnectorKind::Sink => [
                ("numReadFromPulsar", self.received.load(Relaxed)),
                ("numSinkExceptions", self.connector_errors.load(Relaxed)),
                ("numWrittenToSink", self.written.load(Relaxed)),
            ],
        };
        let latest = match kind {
            ConnectorKind::Source => "latestSourceExceptions",
            ConnectorKind::Sink => "latestSinkExceptions",
        };
        if let Value::Object(map) = &mut doc {
            for (name, value) in fields {
                map.insert(name.to_owned(), json!(value));
            }
            map.insert(latest.to_owned(), json!(list(&errors.connector)));
        }
        doc
    }

    /// Pulsar's `FunctionInstanceStats` `metrics` document.
    pub fn stats_json(&self) -> Value {
        let written = self.written.load(Relaxed);
        let avg_ms = if written == 0 {
            0.0
        } else {
            self.latency_sum_us.load(Relaxed) as f64 / written as f64 / 1000.0
        };
        json!({
            "receivedTotal": self.received.load(Relaxed),
            "processedSuccessfullyTotal": written,
            "systemExceptionsTotal": self.system_errors.load(Relaxed),
            "userExceptionsTotal": self.connector_errors.load(Relaxed),
            "avgProcessLatency": avg_ms,
            "lastInvocation": self.last_written_ms.load(Relaxed),
            "numRestarts": self.restarts.load(Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_kept_by_kind_and_cleared_by_progress() {
        let status = InstanceStatus::default();
        for i in 0..(LATEST_ERRORS + 2) {
            status.record_failure(&ConnectorError::external("file", format!("e{i}")));
        }
        status.record_failure(&ConnectorError::broker("gone"));
        let doc = status.status_json(ConnectorKind::Sink, "w");
        assert_eq!(doc["numSinkExceptions"], json!(LATEST_ERRORS + 2));
        assert_eq!(
            doc["latestSinkExceptions"].as_array().unwrap().len(),
            LATEST_ERRORS
        );
        assert_eq!(doc["numSystemExceptions"], 1);
        assert_eq!(doc["error"], "broker: gone");
        assert_eq!(
            status.consecutive_failures.load(Relaxed),
            LATEST_ERRORS as u64 + 3
        );
        status.on_written(2, 1000);
        assert_eq!(status.consecutive_failures.load(Relaxed), 0);
        let doc = status.status_json(ConnectorKind::Sink, "w");
        assert_eq!(doc["error"], "");
        assert_eq!(doc["numWrittenToSink"], 2);
        assert_eq!(status.stats_json()["avgProcessLatency"], 1.0);
    }
}
