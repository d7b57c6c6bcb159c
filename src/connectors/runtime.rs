//! The connector runtime: one actor, a supervised child of the root, that makes the running
//! instances match the stored connectors. It starts each instance as a supervised child,
//! stops instances cleanly (so a successor never overlaps its predecessor), and replaces an
//! instance that died for good after a backoff.
//!
//! What it knows lives in [`RuntimeEnv`] (the table of instances and their counters), outside
//! the actor, so a restarted or replaced runtime adopts the running instances instead of
//! starting them twice.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock},
    time::Duration,
};

use actix::{
    Actor, ActorFutureExt, Addr, AsyncContext, AtomicResponse, Context, Handler, Message,
    Supervised, WrapFuture,
};
use geminga_actors::{
    supervision::{supervise, ActorKind, ExitReason, Lifecycle, RestartBudget},
    BrokerContext,
};
use serde_json::Value;

use super::{
    catalog::ConnectorCatalog,
    config::{ConnectorId, ConnectorKind, ConnectorSpec, SinkConfig, SourceConfig},
    instance::{ConnectorInstance, Shutdown},
    status::InstanceStatus,
    store::{ConnectorRecord, ConnectorStore},
    ConnectorError, RuntimeSettings,
};

/// One instance's place in the table: its counters (kept across restarts and stops) and
/// its actor while it runs.
#[derive(Debug)]
pub struct InstanceSlot {
    /// Counters and errors.
    pub status: Arc<InstanceStatus>,
    /// The running actor.
    pub addr: Option<Addr<ConnectorInstance>>,
    /// Bumped per actor started, so a late exit notice of a replaced actor is ignored.
    pub incarnation: u64,
}

/// One connector's place in the table.
#[derive(Debug, Default)]
pub struct ConnectorSlot {
    /// What runs; `None` before the first apply.
    pub spec: Option<ConnectorSpec>,
    /// Instances by id.
    pub instances: BTreeMap<u32, InstanceSlot>,
}

/// Everything the runtime and its instances share.
pub struct RuntimeEnv {
    /// The broker's services.
    pub context: BrokerContext,
    /// Where instances connect (the broker's own Pulsar listener).
    pub service_url: String,
    /// Configs and positions.
    pub store: ConnectorStore,
    /// Built-in connector types.
    pub catalog: ConnectorCatalog,
    /// Tunables.
    pub settings: RuntimeSettings,
    /// `workerId` in status answers.
    pub worker_id: String,
    table: Mutex<BTreeMap<ConnectorId, ConnectorSlot>>,
    runtime: RwLock<Option<Addr<ConnectorRuntime>>>,
}

impl std::fmt::Debug for RuntimeEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeEnv")
            .field("service_url", &self.service_url)
            .finish_non_exhaustive()
    }
}

impl RuntimeEnv {
    /// The shared state of a runtime whose instances connect to `service_url`.
    pub fn new(
        context: BrokerContext,
        service_url: &str,
        store: ConnectorStore,
        settings: RuntimeSettings,
    ) -> Self {
        let worker_id = format!(
            "c-{}-fw-{}",
            context.config().cluster_name,
            service_url.trim_start_matches("pulsar://")
        );
        Self {
            context,
            service_url: service_url.to_owned(),
            store,
            catalog: ConnectorCatalog::default(),
            settings,
            worker_id,
            table: Mutex::new(BTreeMap::new()),
            runtime: RwLock::new(None),
        }
    }

    /// The instance table.
    pub fn table(&self) -> MutexGuard<'_, BTreeMap<ConnectorId, ConnectorSlot>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current runtime actor (the root may replace it).
    pub fn runtime(&self) -> Option<Addr<ConnectorRuntime>> {
        self.runtime
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Installs the runtime actor's address (at start and after a replacement).
    pub fn set_runtime(&self, addr: Addr<ConnectorRuntime>) {
        *self.runtime.write().unwrap_or_else(PoisonError::into_inner) = Some(addr);
    }

    /// The restart delay after `failures` consecutive failures.
    pub fn backoff(&self, failures: u64) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let shift = u32::try_from(failures - 1).unwrap_or(u32::MAX).min(16);
        self.settings
            .backoff_min
            .saturating_mul(1 << shift)
            .min(self.settings.backoff_max)
    }
}

/// The runtime view of a stored record.
///
/// # Errors
/// [`ConnectorError::InvalidConfig`] when the stored config no longer parses.
pub fn spec_of(
    id: &ConnectorId,
    record: &ConnectorRecord,
) -> Result<ConnectorSpec, ConnectorError> {
    let parse = |e: serde_json::Error| ConnectorError::invalid(e.to_string());
    match id.kind {
        ConnectorKind::Source => serde_json::from_value::<SourceConfig>(record.config.clone())
            .map_err(parse)?
            .spec(id),
        ConnectorKind::Sink => serde_json::from_value::<SinkConfig>(record.config.clone())
            .map_err(parse)?
            .spec(id),
    }
}

/// Makes a connector's instances match its record (`None`: deleted). Answers once stopped
/// instances have closed and new ones are started.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ConnectorError>")]
pub struct Apply {
    /// The connector.
    pub id: ConnectorId,
    /// Its stored record, or `None` once deleted.
    pub record: Option<ConnectorRecord>,
}

/// Stops and starts again one instance, or all of them.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ConnectorError>")]
pub struct Restart {
    /// The connector.
    pub id: ConnectorId,
    /// One instance, or every running one.
    pub instance: Option<u32>,
}

/// An instance actor stopped for good (sent by its supervisor).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct InstanceExited {
    /// The connector.
    pub id: ConnectorId,
    /// The instance.
    pub instance: u32,
    /// Which actor.
    pub incarnation: u64,
    /// Why.
    pub reason: ExitReason,
}

/// Starts a failed instance again, if it should still run (scheduled after a backoff).
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct Respawn {
    id: ConnectorId,
    instance: u32,
    incarnation: u64,
}

/// The runtime actor.
pub struct ConnectorRuntime {
    env: Arc<RuntimeEnv>,
    lifecycle: Lifecycle,
}

impl ConnectorRuntime {
    /// A runtime over `env`.
    pub fn new(env: Arc<RuntimeEnv>, lifecycle: Lifecycle) -> Self {
        Self { env, lifecycle }
    }
}

impl Actor for ConnectorRuntime {
    type Context = Context<Self>;

    /// Loads every stored connector and starts what should run (after a broker restart, this
    /// is where connectors resume). Messages wait until it is done.
    fn started(&mut self, ctx: &mut Context<Self>) {
        let env = self.env.clone();
        let parent = self.lifecycle.id();
        let load = async move {
            let store = env.store.clone();
            let records = tokio::task::spawn_blocking(move || store.all())
                .await
                .map_err(|_| ConnectorError::Unavailable)??;
            for (id, record) in records {
                if let Err(e) = apply(&env, parent, &id, Some(record)).await {
                    tracing::error!(connector = %id, error = %e, "connector not started");
                }
            }
            Ok::<(), ConnectorError>(())
        };
        ctx.wait(load.into_actor(self).map(|result, _, _| {
            if let Err(e) = result {
                tracing::error!(error = %e, "loading the stored connectors failed");
            }
        }));
    }
}

impl Supervised for ConnectorRuntime {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        tracing::warn!("connector runtime restarting; running instances are kept");
    }
}

impl Handler<Apply> for ConnectorRuntime {
    type Result = AtomicResponse<Self, Result<(), ConnectorError>>;

    fn handle(&mut self, msg: Apply, _ctx: &mut Context<Self>) -> Self::Result {
        let (env, parent) = (self.env.clone(), self.lifecycle.id());
        AtomicResponse::new(Box::pin(
            async move { apply(&env, parent, &msg.id, msg.record).await }.into_actor(self),
        ))
    }
}

impl Handler<Restart> for ConnectorRuntime {
    type Result = AtomicResponse<Self, Result<(), ConnectorError>>;

    fn handle(&mut self, msg: Restart, _ctx: &mut Context<Self>) -> Self::Result {
        let (env, parent) = (self.env.clone(), self.lifecycle.id());
        AtomicResponse::new(Box::pin(
            async move { restart(&env, parent, &msg.id, msg.instance).await }.into_actor(self),
        ))
    }
}

impl Handler<InstanceExited> for ConnectorRuntime {
    type Result = ();

    fn handle(&mut self, msg: InstanceExited, ctx: &mut Context<Self>) {
        if !msg.reason.is_failure() {
            return;
        }
        let delay = {
            let mut table = self.env.table();
            let Some(slot) = table
                .get_mut(&msg.id)
                .and_then(|c| c.instances.get_mut(&msg.instance))
                .filter(|s| s.incarnation == msg.incarnation)
            else {
                return;
            };
            slot.addr = None;
            slot.status
                .restarts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if msg.reason == ExitReason::MailboxDropped {
                slot.status.record_crash("the instance lost its mailbox");
                self.env.settings.backoff_min
            } else {
                slot.status
                    .record_crash("the instance failed past its restart budget");
                self.env.settings.backoff_max
            }
        };
        tracing::warn!(connector = %msg.id, instance = msg.instance, reason = ?msg.reason, ?delay, "connector instance died; starting it again after a backoff");
        ctx.notify_later(
            Respawn {
                id: msg.id,
                instance: msg.instance,
                incarnation: msg.incarnation,
            },
            delay,
        );
    }
}

impl Handler<Respawn> for ConnectorRuntime {
    type Result = ();

    fn handle(&mut self, msg: Respawn, _ctx: &mut Context<Self>) {
        let mut table = self.env.table();
        let Some(connector) = table.get_mut(&msg.id) else {
            return;
        };
        let Some(spec) = connector.spec.clone() else {
            return;
        };
        if let Some(slot) = connector.instances.get_mut(&msg.instance) {
            // Still the instance that died, and nobody started another meanwhile.
            if slot.incarnation == msg.incarnation && slot.addr.is_none() {
                start_instance(&self.env, self.lifecycle.id(), &spec, msg.instance, slot);
            }
        }
    }
}

/// Starts one instance actor into `slot`.
fn start_instance(
    env: &Arc<RuntimeEnv>,
    parent: u64,
    spec: &ConnectorSpec,
    instance: u32,
    slot: &mut InstanceSlot,
) {
    slot.incarnation += 1;
    let incarnation = slot.incarnation;
    let (id, exit_env) = (spec.id.clone(), env.clone());
    let mut supervisor = env.context.spec(
        ActorKind::Connector,
        spec.id.instance_name(instance),
        Some(parent),
    );
    // Backoff, not the budget, paces restarts; the budget only catches a hot crash loop.
    supervisor.budget = RestartBudget::new(20, Duration::from_secs(60));
    supervisor.on_exit = Some(Box::new(move |reason| {
        if let Some(runtime) = exit_env.runtime() {
            runtime.do_send(InstanceExited {
                id,
                instance,
                incarnation,
                reason,
            });
        }
    }));
    let arbiter = env
        .context
        .worker_for(&spec.id.instance_name(instance))
        .cloned()
        .unwrap_or_else(actix::Arbiter::current);
    let (env, spec, status) = (env.clone(), Arc::new(spec.clone()), slot.status.clone());
    slot.addr = Some(supervise(&arbiter, supervisor, move |_ctx, lifecycle| {
        ConnectorInstance::new(env, spec, instance, status, lifecycle)
    }));
}

/// Stops the given instances and waits until each has closed (or was stopped by force).
async fn stop_instances(addrs: Vec<Addr<ConnectorInstance>>) {
    for addr in addrs {
        // A dead mailbox means the instance is already gone.
        let _ = addr.send(Shutdown).await;
    }
}

/// The body of [`Apply`].
async fn apply(
    env: &Arc<RuntimeEnv>,
    parent: u64,
    id: &ConnectorId,
    record: Option<ConnectorRecord>,
) -> Result<(), ConnectorError> {
    let wanted = match &record {
        Some(record) => Some(spec_of(id, record)?),
        None => None,
    };
    // Stop what must not run any more: everything when the spec changed or was deleted,
    // else the instances stopped by the operator or beyond the parallelism.
    let to_stop: Vec<Addr<ConnectorInstance>> = {
        let mut table = env.table();
        let connector = table.entry(id.clone()).or_default();
        let changed = connector.spec != wanted;
        connector
            .instances
            .iter_mut()
            .filter(|(i, _)| match (&wanted, &record) {
                (Some(spec), Some(record)) => {
                    changed || **i >= spec.parallelism || !record.runs(**i)
                }
                _ => true,
            })
            .filter_map(|(_, slot)| slot.addr.take())
            .collect()
    };
    stop_instances(to_stop).await;
    let mut table = env.table();
    let (Some(spec), Some(record)) = (wanted, record) else {
        table.remove(id);
        return Ok(());
    };
    let connector = table.entry(id.clone()).or_default();
    connector.instances.retain(|i, _| *i < spec.parallelism);
    connector.spec = Some(spec.clone());
    for instance in 0..spec.parallelism {
        let slot = connector
            .instances
            .entry(instance)
            .or_insert_with(|| InstanceSlot {
                status: Arc::default(),
                addr: None,
                incarnation: 0,
            });
        if record.runs(instance) && slot.addr.is_none() {
            start_instance(env, parent, &spec, instance, slot);
        }
    }
    Ok(())
}

/// The body of [`Restart`].
async fn restart(
    env: &Arc<RuntimeEnv>,
    parent: u64,
    id: &ConnectorId,
    instance: Option<u32>,
) -> Result<(), ConnectorError> {
    let addrs: Vec<(u32, Addr<ConnectorInstance>)> = {
        let mut table = env.table();
        let connector = table.get_mut(id).ok_or_else(|| ConnectorError::NotFound {
            what: id.to_string(),
        })?;
        if let Some(i) = instance {
            if !connector.instances.contains_key(&i) {
                return Err(ConnectorError::NotFound {
                    what: format!("instance {i} of {id}"),
                });
            }
        }
        connector
            .instances
            .iter_mut()
            .filter(|(i, _)| instance.is_none_or(|want| want == **i))
            .filter_map(|(i, slot)| slot.addr.take().map(|a| (*i, a)))
            .collect()
    };
    let restarted: Vec<u32> = addrs.iter().map(|(i, _)| *i).collect();
    stop_instances(addrs.into_iter().map(|(_, a)| a).collect()).await;
    let mut table = env.table();
    let Some(connector) = table.get_mut(id) else {
        return Ok(());
    };
    let Some(spec) = connector.spec.clone() else {
        return Ok(());
    };
    for i in restarted {
        if let Some(slot) = connector.instances.get_mut(&i) {
            slot.status
                .restarts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            start_instance(env, parent, &spec, i, slot);
        }
    }
    Ok(())
}

/// The current stored record's config, for answers that echo it.
pub fn config_json(record: &ConnectorRecord) -> Value {
    record.config.clone()
}
