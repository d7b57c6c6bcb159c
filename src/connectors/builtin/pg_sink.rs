//! The PostgreSQL sink: JSON messages become rows of a table. Columns are mapped from message
//! fields (`columns`: a list of names, or a map column -> field path `a.b`; default every
//! column of the table by its name), and rows are upserted by the `key` columns. PostgreSQL
//! converts the values (`json_populate_recordset`), so any column type JSON can express works.
//!
//! Under effectively-once the highest message position per topic goes into an offsets table
//! (`offsetsTable`, created if missing) in the same transaction as the rows, and is read back
//! when the sink opens.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    parse,
    pg::{pg_error, quote, quote_path, split_table, PgClient, PgConnection},
};
use crate::connectors::{
    api::{CommittedPositions, ConnectorFuture, MessagePosition, Sink, SinkContext, SinkRecord},
    ConnectorError,
};

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Columns {
    Names(Vec<String>),
    Mapped(BTreeMap<String, String>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum KeyColumns {
    List(Vec<String>),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PgSinkConfig {
    #[serde(flatten)]
    connection: PgConnection,
    table: String,
    #[serde(default)]
    key: Option<KeyColumns>,
    #[serde(default)]
    columns: Option<Columns>,
    #[serde(default = "default_offsets_table")]
    offsets_table: String,
}

fn default_offsets_table() -> String {
    "geminga_sink_offsets".to_owned()
}

/// Checks the config and builds the sink.
pub(super) fn build(configs: &Map<String, Value>) -> Result<Box<dyn Sink>, ConnectorError> {
    let config: PgSinkConfig = parse(configs, "postgres sink")?;
    if config.table.is_empty() {
        return Err(ConnectorError::invalid("postgres sink: table is empty"));
    }
    let keys = match &config.key {
        None => Vec::new(),
        Some(KeyColumns::List(keys)) => keys.clone(),
        Some(KeyColumns::Text(text)) => text
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let mapping = match &config.columns {
        None => Vec::new(),
        Some(Columns::Names(names)) => names.iter().map(|n| (n.clone(), n.clone())).collect(),
        Some(Columns::Mapped(map)) => map.iter().map(|(c, f)| (c.clone(), f.clone())).collect(),
    };
    Ok(Box::new(PgSink {
        config,
        keys,
        mapping,
        client: None,
        connector: String::new(),
        upsert: String::new(),
    }))
}

struct PgSink {
    config: PgSinkConfig,
    keys: Vec<String>,
    /// (column, field path); filled from the table's columns when not configured.
    mapping: Vec<(String, String)>,
    client: Option<PgClient>,
    /// The connector's `tenant/namespace/name`, the offsets table's key.
    connector: String,
    upsert: String,
}

impl PgSink {
    fn client(&mut self) -> Result<&mut PgClient, ConnectorError> {
        self.client
            .as_mut()
            .ok_or_else(|| ConnectorError::external("postgres", "not connected"))
    }

    fn offsets_table(&self) -> String {
        quote_path(&self.config.offsets_table)
    }

    /// The table's columns in order, for a sink without a `columns` setting.
    async fn table_columns(&mut self) -> Result<Vec<String>, ConnectorError> {
        let (schema, table) = split_table(&self.config.table);
        let (schema, table) = (schema.map(str::to_owned), table.to_owned());
        let rows = self
            .client()?
            .client
            .query(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_name::text = $1::text \
                 AND table_schema::text = COALESCE($2::text, current_schema()::text) \
                 ORDER BY ordinal_position",
                &[&table, &schema],
            )
            .await
            .map_err(pg_error)?;
        let columns: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if columns.is_empty() {
            return Err(ConnectorError::external(
                "postgres",
                format!("table {} does not exist", self.config.table),
            ));
        }
        Ok(columns)
    }

    fn build_upsert(&self) -> String {
        let table = quote_path(&self.config.table);
        let columns: Vec<String> = self.mapping.iter().map(|(c, _)| quote(c)).collect();
        let list = columns.join(", ");
        let mut sql = format!(
            "INSERT INTO {table} ({list}) SELECT {list} FROM json_populate_recordset(NULL::{table}, $1::text::json)"
        );
        if !self.keys.is_empty() {
            let keys: Vec<String> = self.keys.iter().map(|k| quote(k)).collect();
            let updates: Vec<String> = self
                .mapping
                .iter()
                .filter(|(c, _)| !self.keys.contains(c))
                .map(|(c, _)| format!("{0} = EXCLUDED.{0}", quote(c)))
                .collect();
            sql.push_str(&format!(" ON CONFLICT ({})", keys.join(", ")));
            if updates.is_empty() {
                sql.push_str(" DO NOTHING");
            } else {
                sql.push_str(&format!(" DO UPDATE SET {}", updates.join(", ")));
            }
        }
        sql
    }

    /// The rows of a batch as a JSON array, one object per message with the table's column
    /// names; with keys, only the last message per key (an upsert may touch a row once).
    fn rows(&self, records: &[SinkRecord]) -> Result<String, ConnectorError> {
        let mut rows: Vec<Value> = Vec::with_capacity(records.len());
        let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
        for record in records {
            let message: Value = serde_json::from_slice(&record.value).map_err(|e| {
                ConnectorError::external(
                    "postgres",
                    format!(
                        "message at {:?} of {} is not JSON: {e}",
                        record.position, record.topic
                    ),
                )
            })?;
            let mut row = Map::new();
            for (column, field) in &self.mapping {
                let value = field
                    .split('.')
                    .try_fold(&message, |v, part| v.get(part))
                    .cloned()
                    .unwrap_or(Value::Null);
                row.insert(column.clone(), value);
            }
            let key: Vec<String> = self
                .keys
                .iter()
                .map(|k| row.get(k).map(Value::to_string).unwrap_or_default())
                .collect();
            match (self.keys.is_empty(), by_key.get(&key.join("\u{1}"))) {
                (false, Some(&i)) => {
                    if let Some(slot) = rows.get_mut(i) {
                        *slot = Value::Object(row);
                    }
                }
                _ => {
                    by_key.insert(key.join("\u{1}"), rows.len());
                    rows.push(Value::Object(row));
                }
            }
        }
        Ok(Value::Array(rows).to_string())
    }
}

impl Sink for PgSink {
    fn open(&mut self, context: SinkContext) -> ConnectorFuture<'_, ()> {
        self.connector = context.id.fqn();
        Box::pin(async move {
            self.client = Some(self.config.connection.connect().await?);
            if self.mapping.is_empty() {
                self.mapping = self
                    .table_columns()
                    .await?
                    .into_iter()
                    .map(|c| (c.clone(), c))
                    .collect();
            }
            self.upsert = self.build_upsert();
            let offsets = self.offsets_table();
            self.client()?
                .client
                .batch_execute(&format!(
                    "CREATE TABLE IF NOT EXISTS {offsets} (connector text NOT NULL, topic text NOT NULL, \
                     ledger_id bigint NOT NULL, entry_id bigint NOT NULL, batch_index integer NOT NULL, \
                     PRIMARY KEY (connector, topic))"
                ))
                .await
                .map_err(pg_error)?;
            Ok(())
        })
    }

    fn write(&mut self, records: Vec<SinkRecord>) -> ConnectorFuture<'_, ()> {
        Box::pin(async move {
            let rows = self.rows(&records)?;
            let mut highest: BTreeMap<&str, MessagePosition> = BTreeMap::new();
            for r in &records {
                let slot = highest.entry(r.topic.as_str()).or_insert(r.position);
                *slot = (*slot).max(r.position);
            }
            let upsert = self.upsert.clone();
            let offsets = format!(
                "INSERT INTO {} (connector, topic, ledger_id, entry_id, batch_index) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (connector, topic) DO UPDATE SET ledger_id = EXCLUDED.ledger_id, \
                 entry_id = EXCLUDED.entry_id, batch_index = EXCLUDED.batch_index",
                self.offsets_table()
            );
            let connector = self.connector.clone();
            let client = &mut self.client()?.client;
            let tx = client.transaction().await.map_err(pg_error)?;
            tx.execute(&upsert, &[&rows]).await.map_err(pg_error)?;
            for (topic, p) in highest {
                let ledger = i64::try_from(p.ledger_id).unwrap_or(i64::MAX);
                let entry = i64::try_from(p.entry_id).unwrap_or(i64::MAX);
                tx.execute(
                    &offsets,
                    &[&connector, &topic, &ledger, &entry, &p.batch_index],
                )
                .await
                .map_err(pg_error)?;
            }
            tx.commit().await.map_err(pg_error)
        })
    }

    fn supports_effectively_once(&self) -> bool {
        true
    }

    fn committed(&mut self) -> ConnectorFuture<'_, CommittedPositions> {
        Box::pin(async move {
            let sql = format!(
                "SELECT topic, ledger_id, entry_id, batch_index FROM {} WHERE connector = $1",
                self.offsets_table()
            );
            let connector = self.connector.clone();
            let rows = self
                .client()?
                .client
                .query(&sql, &[&connector])
                .await
                .map_err(pg_error)?;
            let mut out = CommittedPositions::new();
            for row in rows {
                let (topic, ledger, entry, batch): (String, i64, i64, i32) =
                    (row.get(0), row.get(1), row.get(2), row.get(3));
                out.insert(
                    topic,
                    MessagePosition {
                        ledger_id: u64::try_from(ledger).unwrap_or(0),
                        entry_id: u64::try_from(entry).unwrap_or(0),
                        batch_index: batch,
                    },
                );
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn sink(configs: Value) -> PgSink {
        let Value::Object(map) = configs else {
            panic!()
        };
        let config: PgSinkConfig = parse(&map, "t").unwrap();
        let built = build(&map).unwrap();
        drop(built);
        let mapping = match &config.columns {
            Some(Columns::Mapped(m)) => m.iter().map(|(c, f)| (c.clone(), f.clone())).collect(),
            Some(Columns::Names(n)) => n.iter().map(|c| (c.clone(), c.clone())).collect(),
            None => Vec::new(),
        };
        PgSink {
            config,
            keys: vec!["id".into()],
            mapping,
            client: None,
            connector: "c".into(),
            upsert: String::new(),
        }
    }

    fn record(value: &str, entry: u64) -> SinkRecord {
        SinkRecord {
            topic: "t".into(),
            position: MessagePosition {
                ledger_id: 1,
                entry_id: entry,
                batch_index: -1,
            },
            key: None,
            value: Bytes::copy_from_slice(value.as_bytes()),
            properties: Vec::new(),
            event_time: None,
            publish_time: 0,
        }
    }

    #[test]
    fn upsert_updates_the_non_key_columns() {
        let s = sink(serde_json::json!({"table": "s.t", "key": "id", "columns": ["id", "name"]}));
        assert_eq!(
            s.build_upsert(),
            "INSERT INTO \"s\".\"t\" (\"id\", \"name\") SELECT \"id\", \"name\" FROM \
             json_populate_recordset(NULL::\"s\".\"t\", $1::text::json) ON CONFLICT (\"id\") \
             DO UPDATE SET \"name\" = EXCLUDED.\"name\""
        );
    }

    #[test]
    fn rows_map_fields_and_keep_the_last_message_per_key() {
        let s = sink(
            serde_json::json!({"table": "t", "key": "id", "columns": {"id": "id", "city": "address.city"}}),
        );
        let rows = s
            .rows(&[
                record(r#"{"id":1,"address":{"city":"a"}}"#, 1),
                record(r#"{"id":2}"#, 2),
                record(r#"{"id":1,"address":{"city":"b"}}"#, 3),
            ])
            .unwrap();
        let rows: Value = serde_json::from_str(&rows).unwrap();
        assert_eq!(
            rows,
            serde_json::json!([{"id": 1, "city": "b"}, {"id": 2, "city": null}])
        );
        assert!(s.rows(&[record("not json", 4)]).is_err());
    }
}
