//! One running instance of a connector, as a supervised actor. Its loop (a source's or a
//! sink's, see `source_run` and `sink_run`) runs as a future of the actor; when the loop fails,
//! the actor stops and its supervisor restarts it in place, and the new loop waits a backoff
//! that doubles per consecutive failure. A panic or an injected fault is handled the same way.
//! Dropping the old loop drops its broker connection, files and sockets with it.

use std::sync::{atomic::Ordering::Relaxed, Arc};

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message,
    ResponseActFuture, Supervised, WrapFuture,
};
use geminga_actors::supervision::Lifecycle;
use tokio::sync::{oneshot, watch};

use super::{
    config::{ConnectorKind, ConnectorSpec},
    runtime::RuntimeEnv,
    sink_run::run_sink,
    source_run::run_source,
    status::InstanceStatus,
    ConnectorError,
};

/// Asks the instance to stop cleanly: its loop finishes the batch in hand, commits, closes
/// its connections and the actor retires. Answered once it has (or after the stop timeout,
/// when it is stopped by force).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// The instance actor.
pub struct ConnectorInstance {
    env: Arc<RuntimeEnv>,
    spec: Arc<ConnectorSpec>,
    instance: u32,
    status: Arc<InstanceStatus>,
    lifecycle: Lifecycle,
    /// Tells the running loop to stop.
    stop: Option<watch::Sender<bool>>,
    /// Told when the loop has ended after a [`Shutdown`].
    stopped: Vec<oneshot::Sender<()>>,
    /// The loop reported its own failure, so a restart need not record a crash.
    failure_reported: bool,
}

impl ConnectorInstance {
    /// An instance of `spec`; `status` outlives it.
    pub fn new(
        env: Arc<RuntimeEnv>,
        spec: Arc<ConnectorSpec>,
        instance: u32,
        status: Arc<InstanceStatus>,
        lifecycle: Lifecycle,
    ) -> Self {
        Self {
            env,
            spec,
            instance,
            status,
            lifecycle,
            stop: None,
            stopped: Vec::new(),
            failure_reported: false,
        }
    }

    fn launch(&mut self, ctx: &mut Context<Self>) {
        let delay = self
            .env
            .backoff(self.status.consecutive_failures.load(Relaxed));
        let (stop_tx, stop_rx) = watch::channel(false);
        self.stop = Some(stop_tx);
        let (env, spec, status) = (self.env.clone(), self.spec.clone(), self.status.clone());
        let instance = self.instance;
        let run = async move {
            let mut stop = stop_rx;
            if !delay.is_zero() {
                tracing::info!(connector = %spec.id, instance, ?delay, "restarting after a backoff");
                tokio::select! {
                    _ = stop.changed() => return Ok(()),
                    () = tokio::time::sleep(delay) => {}
                }
            }
            match spec.id.kind {
                ConnectorKind::Source => {
                    run_source(&env, &spec, instance, &status, &mut stop).await
                }
                ConnectorKind::Sink => run_sink(&env, &spec, instance, &status, &mut stop).await,
            }
        };
        ctx.spawn(
            run.into_actor(self)
                .map(|result, act, ctx| act.finished(result, ctx)),
        );
    }

    fn finished(&mut self, result: Result<(), ConnectorError>, ctx: &mut Context<Self>) {
        self.status.running.store(false, Relaxed);
        match result {
            Ok(()) => {
                tracing::info!(connector = %self.spec.id, instance = self.instance, "instance stopped");
                self.lifecycle.retire();
            }
            Err(error) => {
                tracing::warn!(connector = %self.spec.id, instance = self.instance, %error, "instance failed; its supervisor restarts it");
                self.status.record_failure(&error);
                self.failure_reported = true;
                if self.lifecycle.is_retired() {
                    // A failure while stopping ends the instance all the same.
                    tracing::debug!("failure during shutdown");
                }
            }
        }
        for waiter in self.stopped.drain(..) {
            let _ = waiter.send(());
        }
        ctx.stop();
    }
}

impl Actor for ConnectorInstance {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.launch(ctx);
    }
}

impl Supervised for ConnectorInstance {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        if !self.failure_reported {
            self.status
                .record_crash("the instance crashed (panic or injected fault) and was restarted");
        }
        self.failure_reported = false;
        self.status.restarts.fetch_add(1, Relaxed);
        self.stop = None;
    }
}

impl Handler<Shutdown> for ConnectorInstance {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _msg: Shutdown, _ctx: &mut Context<Self>) -> Self::Result {
        // Whatever happens next, this actor must not be restarted.
        self.lifecycle.retire();
        let (tx, rx) = oneshot::channel();
        self.stopped.push(tx);
        if let Some(stop) = &self.stop {
            let _ = stop.send(true);
        }
        let timeout = self.env.settings.stop_timeout;
        Box::pin(
            async move { tokio::time::timeout(timeout, rx).await.is_ok() }
                .into_actor(self)
                .map(|clean, act, ctx| {
                    if !clean {
                        tracing::warn!(connector = %act.spec.id, instance = act.instance, "instance did not stop in time; stopping it by force");
                    }
                    act.status.running.store(false, Relaxed);
                    ctx.stop();
                }),
        )
    }
}
