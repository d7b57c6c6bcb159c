//! The PostgreSQL connectors against a real server (see `pg_server`): the sink maps JSON
//! fields to columns and upserts by key, and keeps effectively-once through its offsets table
//! across a connector kill; the source publishes new rows by an increasing column and resumes
//! after a broker restart.

use std::time::Duration;

use serde_json::{json, Value};

use super::pg_server::PgServer;
use super::*;

fn connection(pg: &PgServer) -> serde_json::Map<String, Value> {
    let Value::Object(map) = json!({
        "host": "127.0.0.1",
        "port": pg.port,
        "user": "postgres",
        "database": "postgres",
    }) else {
        unreachable!()
    };
    map
}

fn with(mut base: serde_json::Map<String, Value>, extra: Value) -> Value {
    if let Value::Object(extra) = extra {
        base.extend(extra);
    }
    Value::Object(base)
}

async fn count(db: &tokio_postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).await.expect(sql).get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sink_maps_fields_to_columns_and_upserts_by_key() {
    let pg = PgServer::start();
    let db = pg.client().await;
    db.batch_execute("CREATE TABLE people (id int PRIMARY KEY, name text, city text)")
        .await
        .expect("create table");
    let broker = TestBroker::start();
    let topic = unique_topic("pg-people");
    let configs = with(
        connection(&pg),
        json!({"table": "people", "key": "id", "columns": {"id": "id", "name": "name", "city": "address.city"}}),
    );
    let config = json!({
        "inputs": [topic],
        "sinkType": "postgres",
        "sourceSubscriptionPosition": "Earliest",
        "configs": configs,
    });
    create(&broker.admin_url, "sinks", "pg-people", &config).await;
    let client = broker.client().await;
    let mut producer = producer(&client, &topic, "people").await;
    let first = (0..10).map(|i| {
        json!({"id": i, "name": format!("a{i}")})
            .to_string()
            .into_bytes()
    });
    send_all(&mut producer, first).await;
    let second = (0..10).map(|i| {
        json!({"id": i, "name": format!("b{i}"), "address": {"city": format!("c{i}")}})
            .to_string()
            .into_bytes()
    });
    send_all(&mut producer, second).await;
    eventually("every row updated", || async {
        count(&db, "SELECT count(*) FROM people WHERE name LIKE 'b%'").await == 10
    })
    .await;
    assert_eq!(
        count(&db, "SELECT count(*) FROM people").await,
        10,
        "one row per key"
    );
    let row = db
        .query_one("SELECT name, city FROM people WHERE id = 7", &[])
        .await
        .expect("row 7");
    assert_eq!(row.get::<_, String>(0), "b7");
    assert_eq!(
        row.get::<_, String>(1),
        "c7",
        "nested fields map to columns"
    );
    let s = status(&broker.admin_url, "sinks", "pg-people").await;
    assert_eq!(total(&s, "numWrittenToSink"), 20, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sink_is_effectively_once_across_a_connector_kill() {
    const N: usize = 400;
    let pg = PgServer::start();
    let db = pg.client().await;
    // No key: a replayed message would add a second row, so the count shows repeats.
    db.batch_execute("CREATE TABLE events (seq int NOT NULL, body text)")
        .await
        .expect("create table");
    let broker = TestBroker::start();
    let topic = unique_topic("pg-events");
    let config = json!({
        "inputs": [topic],
        "sinkType": "postgres",
        "processingGuarantees": "EFFECTIVELY_ONCE",
        "sourceSubscriptionPosition": "Earliest",
        "configs": with(connection(&pg), json!({"table": "events", "columns": ["seq", "body"]})),
    });
    create(&broker.admin_url, "sinks", "pg-events", &config).await;
    wait_running(&broker.admin_url, "sinks", "pg-events").await;
    let client = broker.client().await;
    let mut producer = producer(&client, &topic, "events").await;
    for chunk in 0..N / 50 {
        let payloads = (chunk * 50..(chunk + 1) * 50).map(|i| {
            json!({"seq": i, "body": format!("rec-{i}")})
                .to_string()
                .into_bytes()
        });
        send_all(&mut producer, payloads).await;
        if chunk == 2 {
            wait_counter(
                &broker.admin_url,
                "sinks",
                "pg-events",
                "numWrittenToSink",
                50,
            )
            .await;
            kill(&broker, "sink", "pg-events");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let last = format!("SELECT count(*) FROM events WHERE seq = {}", N - 1);
    eventually("the last row", || async { count(&db, &last).await == 1 }).await;
    tokio::time::sleep(QUIET_PERIOD).await;
    let bodies: Vec<String> = db
        .query("SELECT body FROM events", &[])
        .await
        .expect("rows")
        .iter()
        .map(|r| r.get(0))
        .collect();
    check_outputs("EFFECTIVELY_ONCE", N, &bodies, 0);
    let offsets = count(
        &db,
        "SELECT count(*) FROM geminga_sink_offsets WHERE connector = 'public/default/pg-events'",
    )
    .await;
    assert_eq!(offsets, 1, "the position is kept in the target database");
    let s = status(&broker.admin_url, "sinks", "pg-events").await;
    assert!(total(&s, "numRestarts") >= 1, "{s}");
}

fn name_of(payload: &str) -> String {
    let row: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    row["name"].as_str().unwrap_or(payload).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_source_publishes_new_rows_and_resumes_after_a_broker_restart() {
    let pg = PgServer::start();
    let db = pg.client().await;
    db.batch_execute("CREATE TABLE src_rows (id serial PRIMARY KEY, name text)")
        .await
        .expect("create table");
    let insert = |from: usize, to: usize| {
        let values: Vec<String> = (from..to).map(|i| format!("('rec-{i}')")).collect();
        format!("INSERT INTO src_rows (name) VALUES {}", values.join(", "))
    };
    db.batch_execute(&insert(0, 5)).await.expect("insert");
    let mut broker = TestBroker::start();
    let topic = unique_topic("pg-src");
    let config = json!({
        "topicName": topic,
        "sourceType": "postgres",
        "processingGuarantees": "EFFECTIVELY_ONCE",
        "configs": with(connection(&pg), json!({"table": "src_rows", "column": "id", "keyColumn": "id", "pollIntervalMs": 50})),
    });
    create(&broker.admin_url, "sources", "pg-src", &config).await;
    wait_counter(&broker.admin_url, "sources", "pg-src", "numWritten", 5).await;
    db.batch_execute(&insert(5, 10)).await.expect("insert");
    wait_counter(&broker.admin_url, "sources", "pg-src", "numWritten", 10).await;
    tokio::task::block_in_place(|| broker.restart());
    db.batch_execute(&insert(10, 13)).await.expect("insert");
    let rows = drain_topic_as(&broker, &topic, "rec-12", name_of).await;
    check_outputs("EFFECTIVELY_ONCE", 13, &rows, 0);
}
