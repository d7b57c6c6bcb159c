//! What the PostgreSQL connectors share: connection settings, connecting (the connection's
//! driver task dies with its connector), and identifier quoting.

use serde::Deserialize;
use tokio_postgres::{Client, NoTls};

use super::AbortOnDrop;
use crate::connectors::ConnectorError;

/// Connection settings (keys as in libpq: `host`, `port`, `user`, `password`, `database`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PgConnection {
    #[serde(default = "default_host")]
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    #[serde(default = "default_user")]
    user: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default = "default_database", alias = "dbname")]
    database: String,
}

fn default_host() -> String {
    "127.0.0.1".to_owned()
}

fn default_port() -> u16 {
    5432
}

fn default_user() -> String {
    "postgres".to_owned()
}

fn default_database() -> String {
    "postgres".to_owned()
}

/// A connected client and the task driving its socket.
pub(super) struct PgClient {
    pub(super) client: Client,
    _driver: AbortOnDrop,
}

/// A PostgreSQL failure as a connector error.
pub(super) fn pg_error(e: tokio_postgres::Error) -> ConnectorError {
    // The server's message (with its code) says more than the driver's summary.
    let detail = e
        .as_db_error()
        .map(|db| format!("{} ({})", db.message(), db.code().code()))
        .unwrap_or_else(|| e.to_string());
    ConnectorError::external("postgres", detail)
}

impl PgConnection {
    /// Connects and spawns the connection's driver on the current runtime.
    pub(super) async fn connect(&self) -> Result<PgClient, ConnectorError> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(&self.database)
            .connect_timeout(std::time::Duration::from_secs(10));
        if let Some(password) = &self.password {
            config.password(password);
        }
        let (client, connection) = config.connect(NoTls).await.map_err(pg_error)?;
        let driver = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "postgres connection ended");
            }
        });
        Ok(PgClient {
            client,
            _driver: AbortOnDrop(driver.abort_handle()),
        })
    }
}

/// `name` or `schema.name` as a quoted SQL identifier.
pub(super) fn quote_path(name: &str) -> String {
    name.split('.').map(quote).collect::<Vec<_>>().join(".")
}

/// One quoted SQL identifier.
pub(super) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Schema and table of `name` or `schema.name` (the schema `None` means the search path).
pub(super) fn split_table(name: &str) -> (Option<&str>, &str) {
    match name.split_once('.') {
        Some((schema, table)) => (Some(schema), table),
        None => (None, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_per_part() {
        assert_eq!(quote_path("s.t"), "\"s\".\"t\"");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(split_table("t"), (None, "t"));
        assert_eq!(split_table("s.t"), (Some("s"), "t"));
    }
}
