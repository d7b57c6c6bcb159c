//! The runtimes the load generator's clients run on.

use std::future::Future;

use tokio::runtime::{Builder, Runtime};

use super::PerfError;

/// A runtime for a load generator's clients with `io_threads` threads (`pulsar-perf`'s
/// `--num-io-threads`), one per core when `None`. One runs everything on the calling thread:
/// on 2 cores shared with the broker, a pool's threads woke each other for nearly every
/// receipt, and those wake-ups (and the broker's threads waiting for a CPU behind them) set
/// the latency tail (10k msg/s unbatched on one topic, 40 s runs, three pairs: publish p99
/// 3.5-4.3 ms with the pool, 2.1-2.9 ms with one thread; batched throughput on one topic the
/// same). Hundreds of topics need the pool: publishing to 1,000 topics for 20 s ran at 37k
/// msg/s on one thread and 94k on two.
///
/// # Errors
/// [`PerfError::Runtime`] when the runtime cannot be built.
pub(crate) fn client_runtime(io_threads: Option<usize>) -> Result<Runtime, PerfError> {
    let mut builder = match io_threads {
        Some(0 | 1) => Builder::new_current_thread(),
        Some(threads) => {
            let mut builder = Builder::new_multi_thread();
            builder.worker_threads(threads);
            builder
        }
        None => Builder::new_multi_thread(),
    };
    builder.enable_all().build().map_err(PerfError::Runtime)
}

/// Runs `work` on a thread of its own with a one-thread runtime, as a separate `pulsar-perf`
/// process at its default would, so the producer and the consumer of one run neither share
/// nor steal each other's thread. Answers `None` when the thread died before answering (a
/// panic); a thread that cannot be started is a [`PerfError::Runtime`].
pub(crate) async fn on_own_thread<F, Fut, T>(name: &str, work: F) -> Option<Result<T, PerfError>>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, PerfError>>,
    T: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let result = client_runtime(Some(1)).and_then(|runtime| runtime.block_on(work()));
            let _ = tx.send(result);
        });
    match spawned {
        Ok(_) => rx.await.ok(),
        Err(e) => Some(Err(PerfError::Runtime(e))),
    }
}
