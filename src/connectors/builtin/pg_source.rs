//! The PostgreSQL source: rows of a table, in the order of an increasing integer column
//! (`column`, e.g. a `bigserial` id or a version counter), become JSON messages
//! (`row_to_json`). The offset is that column's value, so a restart continues after the last
//! committed row. With parallelism N, instance i reads the rows whose column value is i
//! modulo N.
//!
//! Rows are expected to appear in column order: a row committed with a value lower than one
//! already read (a long transaction holding an earlier sequence value) is not read.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    parse,
    pg::{pg_error, quote, quote_path, PgClient, PgConnection},
};
use crate::connectors::{
    api::{ConnectorFuture, Source, SourceContext, SourceOffset, SourceRecord},
    ConnectorError,
};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PgSourceConfig {
    #[serde(flatten)]
    connection: PgConnection,
    table: String,
    column: String,
    #[serde(default)]
    key_column: Option<String>,
    #[serde(default = "default_poll")]
    poll_interval_ms: u64,
    #[serde(default = "default_batch")]
    batch_size: i64,
}

fn default_poll() -> u64 {
    200
}

fn default_batch() -> i64 {
    500
}

/// Checks the config and builds the source.
pub(super) fn build(configs: &Map<String, Value>) -> Result<Box<dyn Source>, ConnectorError> {
    let config: PgSourceConfig = parse(configs, "postgres source")?;
    if config.table.is_empty() || config.column.is_empty() {
        return Err(ConnectorError::invalid(
            "postgres source: table and column are required",
        ));
    }
    if config.batch_size <= 0 {
        return Err(ConnectorError::invalid(
            "postgres source: batchSize must be positive",
        ));
    }
    Ok(Box::new(PgSource {
        config,
        client: None,
        partition: String::new(),
        last: i64::MIN,
        query: String::new(),
        instance: 0,
        parallelism: 1,
    }))
}

struct PgSource {
    config: PgSourceConfig,
    client: Option<PgClient>,
    /// The offsets' partition: the table, plus the instance's share with parallelism.
    partition: String,
    /// The column value of the last row read.
    last: i64,
    query: String,
    instance: u32,
    parallelism: u32,
}

impl PgSource {
    fn build_query(&self) -> String {
        let column = quote(&self.config.column);
        let key = self.config.key_column.as_deref().map_or_else(
            || "NULL::text".to_owned(),
            |k| format!("t.{}::text", quote(k)),
        );
        let share = if self.parallelism > 1 {
            format!(
                " AND mod(t.{column}::bigint, {}) = {}",
                self.parallelism, self.instance
            )
        } else {
            String::new()
        };
        format!(
            "SELECT t.{column}::bigint, {key}, row_to_json(t)::text FROM {} t \
             WHERE t.{column}::bigint > $1{share} ORDER BY t.{column} LIMIT $2",
            quote_path(&self.config.table)
        )
    }
}

impl Source for PgSource {
    fn open(&mut self, context: SourceContext) -> ConnectorFuture<'_, ()> {
        self.instance = context.instance;
        self.parallelism = context.parallelism;
        self.partition = if context.parallelism > 1 {
            format!(
                "{}%{}={}",
                self.config.table, context.parallelism, context.instance
            )
        } else {
            self.config.table.clone()
        };
        self.last = context
            .offsets
            .get(&self.partition)
            .copied()
            .unwrap_or(i64::MIN);
        self.query = self.build_query();
        Box::pin(async move {
            self.client = Some(self.config.connection.connect().await?);
            Ok(())
        })
    }

    fn read(&mut self) -> ConnectorFuture<'_, Vec<SourceRecord>> {
        Box::pin(async move {
            let client = self
                .client
                .as_ref()
                .ok_or_else(|| ConnectorError::external("postgres", "not connected"))?;
            let rows = client
                .client
                .query(&self.query, &[&self.last, &self.config.batch_size])
                .await
                .map_err(pg_error)?;
            if rows.is_empty() {
                tokio::time::sleep(Duration::from_millis(self.config.poll_interval_ms)).await;
                return Ok(Vec::new());
            }
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let (position, key, json): (i64, Option<String>, String) =
                    (row.get(0), row.get(1), row.get(2));
                self.last = position;
                out.push(SourceRecord {
                    key,
                    value: Bytes::from(json),
                    offset: Some(SourceOffset {
                        partition: self.partition.clone(),
                        offset: position,
                    }),
                    ..SourceRecord::default()
                });
            }
            Ok(out)
        })
    }
}
