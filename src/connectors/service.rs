//! [`Connectors`]: the operations behind `/admin/v3/sources|sinks` and `geminga admin
//! sources|sinks`. Writes go to the metadata store first, then the runtime makes the running
//! instances match, so what is stored is what runs after a broker restart.

use std::sync::{atomic::Ordering::Relaxed, Arc};

use geminga_actors::metadata::NamespaceName;
use serde_json::{json, Value};

use super::{
    config::{ConnectorId, ConnectorKind, SinkConfig, SourceConfig},
    runtime::{spec_of, Apply, Restart, RuntimeEnv},
    source_run::blocking,
    status::now_ms,
    store::ConnectorRecord,
    ConnectorError,
};

/// The connector service (cheap to clone).
#[derive(Clone, Debug)]
pub struct Connectors {
    env: Arc<RuntimeEnv>,
}

/// Decodes a config body of `kind` and normalizes it for `id`.
fn parse_config(id: &ConnectorId, body: Value) -> Result<Value, ConnectorError> {
    let invalid = |e: serde_json::Error| ConnectorError::invalid(e.to_string());
    let normalized = match id.kind {
        ConnectorKind::Source => {
            let mut config: SourceConfig = serde_json::from_value(body).map_err(invalid)?;
            config.normalize(id)?;
            serde_json::to_value(config).map_err(invalid)?
        }
        ConnectorKind::Sink => {
            let mut config: SinkConfig = serde_json::from_value(body).map_err(invalid)?;
            config.normalize(id)?;
            serde_json::to_value(config).map_err(invalid)?
        }
    };
    Ok(normalized)
}

/// Applies an update body to a stored config.
fn merge_config(id: &ConnectorId, stored: &Value, update: Value) -> Result<Value, ConnectorError> {
    let invalid = |e: serde_json::Error| ConnectorError::invalid(e.to_string());
    match id.kind {
        ConnectorKind::Source => {
            let mut config: SourceConfig =
                serde_json::from_value(stored.clone()).map_err(invalid)?;
            let mut update: SourceConfig = serde_json::from_value(update).map_err(invalid)?;
            update.normalize(id)?;
            config.merge(update);
            serde_json::to_value(config).map_err(invalid)
        }
        ConnectorKind::Sink => {
            let mut config: SinkConfig = serde_json::from_value(stored.clone()).map_err(invalid)?;
            let mut update: SinkConfig = serde_json::from_value(update).map_err(invalid)?;
            update.normalize(id)?;
            config.merge(update);
            serde_json::to_value(config).map_err(invalid)
        }
    }
}

impl Connectors {
    /// The service over a runtime's shared state.
    pub fn new(env: Arc<RuntimeEnv>) -> Self {
        Self { env }
    }

    /// Stops every instance cleanly (at broker shutdown): each finishes the batch in hand,
    /// commits its position and closes. Bounded by the stop timeout; configs stay as stored,
    /// so the next start resumes them.
    pub async fn shutdown(&self) {
        let addrs: Vec<_> = self
            .env
            .table()
            .values()
            .flat_map(|c| c.instances.values().filter_map(|s| s.addr.clone()))
            .collect();
        let stops = addrs.into_iter().map(|addr| async move {
            // A dead mailbox means the instance is already gone.
            let _ = addr.send(super::instance::Shutdown).await;
        });
        let all = futures_util::future::join_all(stops);
        if tokio::time::timeout(self.env.settings.stop_timeout, all)
            .await
            .is_err()
        {
            tracing::warn!("connector instances did not stop in time");
        }
    }

    /// The runtime's shared state (tests, metrics).
    pub fn env(&self) -> &Arc<RuntimeEnv> {
        &self.env
    }

    fn check(&self, id: &ConnectorId, config: &Value) -> Result<(), ConnectorError> {
        let record = ConnectorRecord {
            config: config.clone(),
            ..ConnectorRecord::default()
        };
        let spec = spec_of(id, &record)?;
        self.env
            .catalog
            .validate(id.kind, &spec.connector_type, &spec.configs, spec.guarantee)
    }

    async fn apply(
        &self,
        id: &ConnectorId,
        record: Option<ConnectorRecord>,
    ) -> Result<(), ConnectorError> {
        let runtime = self.env.runtime().ok_or(ConnectorError::Unavailable)?;
        runtime
            .send(Apply {
                id: id.clone(),
                record,
            })
            .await
            .map_err(|_| ConnectorError::Unavailable)?
    }

    async fn stored(&self, id: &ConnectorId) -> Result<(ConnectorRecord, u64), ConnectorError> {
        let (store, key) = (self.env.store.clone(), id.clone());
        blocking(move || store.get(&key))
            .await?
            .ok_or_else(|| ConnectorError::NotFound {
                what: id.to_string(),
            })
    }

    /// Creates a connector from a `SourceConfig`/`SinkConfig` body and starts it.
    ///
    /// # Errors
    /// [`ConnectorError::InvalidConfig`], [`ConnectorError::NotFound`] for a missing namespace,
    /// [`ConnectorError::AlreadyExists`], store failures.
    pub async fn create(&self, id: &ConnectorId, body: Value) -> Result<(), ConnectorError> {
        let config = parse_config(id, body)?;
        self.check(id, &config)?;
        let metadata = self.env.context.metadata().clone();
        let namespace = NamespaceName::new(&id.tenant, &id.namespace)
            .map_err(|e| ConnectorError::invalid(e.to_string()))?;
        let exists = blocking(move || {
            metadata
                .namespace_exists(&namespace)
                .map_err(|e| ConnectorError::Metadata {
                    reason: e.to_string(),
                })
        })
        .await?;
        if !exists {
            return Err(ConnectorError::NotFound {
                what: format!("namespace {}/{}", id.tenant, id.namespace),
            });
        }
        let record = ConnectorRecord {
            config,
            create_time_ms: now_ms(),
            ..ConnectorRecord::default()
        };
        let (store, key, stored) = (self.env.store.clone(), id.clone(), record.clone());
        blocking(move || store.put(&key, &stored, 0)).await?;
        self.apply(id, Some(record)).await
    }

    /// Updates a connector: fields of `body` replace the stored ones; running instances
    /// restart with the new config.
    ///
    /// # Errors
    /// [`ConnectorError::NotFound`], [`ConnectorError::InvalidConfig`], store failures.
    pub async fn update(&self, id: &ConnectorId, body: Value) -> Result<(), ConnectorError> {
        let (mut record, version) = self.stored(id).await?;
        record.config = merge_config(id, &record.config, body)?;
        self.check(id, &record.config)?;
        let (store, key, stored) = (self.env.store.clone(), id.clone(), record.clone());
        blocking(move || store.put(&key, &stored, version)).await?;
        self.apply(id, Some(record)).await
    }

    /// Stops every instance and deletes the connector and its positions.
    ///
    /// # Errors
    /// [`ConnectorError::NotFound`], store failures.
    pub async fn delete(&self, id: &ConnectorId) -> Result<(), ConnectorError> {
        self.stored(id).await?;
        self.apply(id, None).await?;
        let (store, key) = (self.env.store.clone(), id.clone());
        blocking(move || store.delete(&key)).await
    }

    /// The stored config.
    ///
    /// # Errors
    /// [`ConnectorError::NotFound`], store failures.
    pub async fn get(&self, id: &ConnectorId) -> Result<Value, ConnectorError> {
        Ok(self.stored(id).await?.0.config)
    }

    /// Names of the connectors of `kind` in a namespace.
    ///
    /// # Errors
    /// Store failures.
    pub async fn list(
        &self,
        kind: ConnectorKind,
        tenant: &str,
        namespace: &str,
    ) -> Result<Vec<String>, ConnectorError> {
        let (store, tenant, namespace) = (
            self.env.store.clone(),
            tenant.to_owned(),
            namespace.to_owned(),
        );
        blocking(move || store.names(kind, &tenant, &namespace)).await
    }

    /// Starts (`run`) or stops every instance, or one.
    ///
    /// # Errors
    /// [`ConnectorError::NotFound`] (also for an instance beyond the parallelism), store
    /// failures.
    pub async fn set_running(
        &self,
        id: &ConnectorId,
        instance: Option<u32>,
        run: bool,
    ) -> Result<(), ConnectorError> {
        let (mut record, version) = self.stored(id).await?;
        let parallelism = spec_of(id, &record)?.parallelism;
        match instance {
            Some(i) if i >= parallelism => {
                return Err(ConnectorError::NotFound {
                    what: format!("instance {i} of {id}"),
                })
            }
            Some(i) if run => {
                // Starting one instance of a wholly stopped connector starts only that one.
                if record.stopped {
                    record.stopped = false;
                    record.stopped_instances = (0..parallelism).filter(|n| *n != i).collect();
                }
                record.stopped_instances.remove(&i);
            }
            Some(i) => {
                record.stopped_instances.insert(i);
            }
            None => {
                record.stopped = !run;
                record.stopped_instances.clear();
            }
        }
        let (store, key, stored) = (self.env.store.clone(), id.clone(), record.clone());
        blocking(move || store.put(&key, &stored, version)).await?;
        self.apply(id, Some(record)).await
    }

    /// Restarts every running instance, or one.
    ///
    /// # Errors
    /// [`ConnectorError::NotFound`].
    pub async fn restart(
        &self,
        id: &ConnectorId,
        instance: Option<u32>,
    ) -> Result<(), ConnectorError> {
        self.stored(id).await?;
        let runtime = self.env.runtime().ok_or(ConnectorError::Unavailable)?;
        runtime
            .send(Restart {
                id: id.clone(),
                instance,
            })
            .await
            .map_err(|_| ConnectorError::Unavailable)?
    }

    /// Pulsar's `SourceStatus`/`SinkStatus`, for every instance or one.
    ///
    /// # Errors
    /// [`ConnectorError::NotFound`].
    pub async fn status(
        &self,
        id: &ConnectorId,
        instance: Option<u32>,
    ) -> Result<Value, ConnectorError> {
        self.stored(id).await?;
        let table = self.env.table();
        let connector = table.get(id).ok_or_else(|| ConnectorError::NotFound {
            what: id.to_string(),
        })?;
        let worker = &self.env.worker_id;
        if let Some(i) = instance {
            let slot = connector
                .instances
                .get(&i)
                .ok_or_else(|| ConnectorError::NotFound {
                    what: format!("instance {i} of {id}"),
                })?;
            return Ok(slot.status.status_json(id.kind, worker));
        }
        let instances: Vec<Value> = connector
            .instances
            .iter()
            .map(|(i, slot)| json!({ "instanceId": i, "status": slot.status.status_json(id.kind, worker) }))
            .collect();
        let running = connector
            .instances
            .values()
            .filter(|s| s.status.running.load(Relaxed))
            .count();
        Ok(json!({
            "numInstances": connector.instances.len(),
            "numRunning": running,
            "instances": instances,
        }))
    }

    /// Counters in the shape of Pulsar's `FunctionStats`, for every instance or one.
    ///
    /// # Errors
    /// [`ConnectorError::NotFound`].
    pub async fn stats(
        &self,
        id: &ConnectorId,
        instance: Option<u32>,
    ) -> Result<Value, ConnectorError> {
        self.stored(id).await?;
        let table = self.env.table();
        let connector = table.get(id).ok_or_else(|| ConnectorError::NotFound {
            what: id.to_string(),
        })?;
        if let Some(i) = instance {
            let slot = connector
                .instances
                .get(&i)
                .ok_or_else(|| ConnectorError::NotFound {
                    what: format!("instance {i} of {id}"),
                })?;
            return Ok(slot.status.stats_json());
        }
        let per: Vec<(u32, Value)> = connector
            .instances
            .iter()
            .map(|(i, s)| (*i, s.status.stats_json()))
            .collect();
        let sum = |field: &str| -> u64 { per.iter().filter_map(|(_, v)| v[field].as_u64()).sum() };
        let last = per
            .iter()
            .filter_map(|(_, v)| v["lastInvocation"].as_u64())
            .max();
        let latencies: Vec<f64> = per
            .iter()
            .filter_map(|(_, v)| v["avgProcessLatency"].as_f64())
            .filter(|l| *l > 0.0)
            .collect();
        let avg = if latencies.is_empty() {
            0.0
        } else {
            latencies.iter().sum::<f64>() / latencies.len() as f64
        };
        Ok(json!({
            "receivedTotal": sum("receivedTotal"),
            "processedSuccessfullyTotal": sum("processedSuccessfullyTotal"),
            "systemExceptionsTotal": sum("systemExceptionsTotal"),
            "userExceptionsTotal": sum("userExceptionsTotal"),
            "avgProcessLatency": avg,
            "lastInvocation": last.unwrap_or(0),
            "instances": per.into_iter().map(|(i, m)| json!({"instanceId": i, "metrics": m})).collect::<Vec<_>>(),
        }))
    }

    /// The built-in connectors with a `kind` side (`ConnectorDefinition` list).
    pub fn builtins(&self, kind: ConnectorKind) -> Vec<Value> {
        self.env.catalog.definitions(kind)
    }

    /// Reloads the built-in connector list; answers how many there are.
    pub fn reload_builtins(&self) -> usize {
        self.env.catalog.reload()
    }
}
