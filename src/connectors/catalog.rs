//! The built-in connectors: what `/admin/v3/sources/builtinsources` and
//! `/admin/v3/sinks/builtinsinks` list, and the factories the runtime builds instances with.

use std::{
    collections::BTreeMap,
    sync::{PoisonError, RwLock},
};

use serde_json::{json, Map, Value};

use super::{
    api::{Sink, Source},
    builtin,
    config::{ConnectorKind, ProcessingGuarantee},
    ConnectorError,
};

/// Builds a source from its `configs`, checking them.
pub type SourceFactory = fn(&Map<String, Value>) -> Result<Box<dyn Source>, ConnectorError>;
/// Builds a sink from its `configs`, checking them.
pub type SinkFactory = fn(&Map<String, Value>) -> Result<Box<dyn Sink>, ConnectorError>;

/// One built-in connector type.
#[derive(Clone, Debug)]
pub struct BuiltinConnector {
    /// Its type name (`builtin://<name>`, `--source-type <name>`).
    pub name: &'static str,
    /// One line for the lists.
    pub description: &'static str,
    /// The source side, if it has one.
    pub source: Option<SourceFactory>,
    /// Whether the source's records carry offsets, so it can resume and run effectively-once.
    pub source_replays: bool,
    /// The sink side, if it has one.
    pub sink: Option<SinkFactory>,
}

impl BuiltinConnector {
    /// Pulsar's `ConnectorDefinition`.
    pub fn definition(&self) -> Value {
        let mut doc = json!({ "name": self.name, "description": self.description });
        if let Value::Object(map) = &mut doc {
            if self.source.is_some() {
                map.insert(
                    "sourceClass".into(),
                    json!(format!("builtin://{}", self.name)),
                );
            }
            if self.sink.is_some() {
                map.insert(
                    "sinkClass".into(),
                    json!(format!("builtin://{}", self.name)),
                );
            }
        }
        doc
    }
}

/// The connector types the broker can run. Reloading rebuilds the list from the binary.
#[derive(Debug)]
pub struct ConnectorCatalog {
    connectors: RwLock<BTreeMap<&'static str, BuiltinConnector>>,
}

impl Default for ConnectorCatalog {
    fn default() -> Self {
        let catalog = Self {
            connectors: RwLock::new(BTreeMap::new()),
        };
        catalog.reload();
        catalog
    }
}

impl ConnectorCatalog {
    /// Rebuilds the list of built-in connectors; returns how many there are.
    pub fn reload(&self) -> usize {
        let fresh: BTreeMap<_, _> = builtin::all().into_iter().map(|c| (c.name, c)).collect();
        let n = fresh.len();
        *self
            .connectors
            .write()
            .unwrap_or_else(PoisonError::into_inner) = fresh;
        n
    }

    /// The connectors that have a `kind` side, as Pulsar's `ConnectorDefinition` list.
    pub fn definitions(&self, kind: ConnectorKind) -> Vec<Value> {
        self.connectors
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|c| match kind {
                ConnectorKind::Source => c.source.is_some(),
                ConnectorKind::Sink => c.sink.is_some(),
            })
            .map(BuiltinConnector::definition)
            .collect()
    }

    /// The connector type `name`.
    ///
    /// # Errors
    /// [`ConnectorError::InvalidConfig`] for an unknown type (a bad request, as Pulsar
    /// answers for an archive it does not have).
    pub fn get(&self, name: &str) -> Result<BuiltinConnector, ConnectorError> {
        self.connectors
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
            .ok_or_else(|| {
                ConnectorError::invalid(format!("there is no built-in connector {name:?}"))
            })
    }

    /// Builds a source of type `name`.
    ///
    /// # Errors
    /// Unknown type, a type without a source side, or invalid `configs`.
    pub fn source(
        &self,
        name: &str,
        configs: &Map<String, Value>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        let factory = self.get(name)?.source.ok_or_else(|| {
            ConnectorError::invalid(format!("built-in connector {name:?} has no source"))
        })?;
        factory(configs)
    }

    /// Builds a sink of type `name`.
    ///
    /// # Errors
    /// Unknown type, a type without a sink side, or invalid `configs`.
    pub fn sink(
        &self,
        name: &str,
        configs: &Map<String, Value>,
    ) -> Result<Box<dyn Sink>, ConnectorError> {
        let factory = self.get(name)?.sink.ok_or_else(|| {
            ConnectorError::invalid(format!("built-in connector {name:?} has no sink"))
        })?;
        factory(configs)
    }

    /// Checks that a connector of this type, config and guarantee can run (at create and
    /// update, so mistakes are a 400 rather than a crash loop).
    ///
    /// # Errors
    /// [`ConnectorError::InvalidConfig`].
    pub fn validate(
        &self,
        kind: ConnectorKind,
        name: &str,
        configs: &Map<String, Value>,
        guarantee: ProcessingGuarantee,
    ) -> Result<(), ConnectorError> {
        let effectively_once = guarantee == ProcessingGuarantee::EffectivelyOnce;
        match kind {
            ConnectorKind::Source => {
                self.source(name, configs)?;
                if effectively_once && !self.get(name)?.source_replays {
                    return Err(ConnectorError::invalid(format!(
                        "the {name} source cannot replay its input, so it cannot run EFFECTIVELY_ONCE"
                    )));
                }
            }
            ConnectorKind::Sink => {
                let sink = self.sink(name, configs)?;
                if effectively_once && !sink.supports_effectively_once() {
                    return Err(ConnectorError::invalid(format!(
                        "the {name} sink cannot store its position with the data, so it cannot run EFFECTIVELY_ONCE"
                    )));
                }
            }
        }
        Ok(())
    }
}
