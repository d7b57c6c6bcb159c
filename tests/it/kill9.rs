//! Crash safety: the real `geminga` binary killed with SIGKILL loses no acked send and
//! redelivers no consumer-acked message.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use pulsar::consumer::InitialPosition;

use crate::common::*;

const SENT: usize = 200;
const ACKED: usize = 100;
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The broker binary running as a child process; killed with SIGKILL on drop.
struct ChildBroker {
    child: Child,
    service_url: String,
}

impl ChildBroker {
    /// Starts `geminga standalone` on `data_dir` and waits for its `GEMINGA_READY` line.
    fn spawn(data_dir: &Path, log: &Path) -> ChildBroker {
        let stderr = File::create(log).expect("create broker log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_geminga"))
            .arg("standalone")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--bind", "127.0.0.1:0", "--admin-bind", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn geminga binary");
        let stdout = child.stdout.take().expect("child stdout is piped");
        let (ready_tx, ready_rx) = mpsc::channel();
        // Keep draining stdout after the ready line so the broker never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("GEMINGA_READY") {
                    let _ = ready_tx.send(line);
                }
            }
        });
        let line = match ready_rx.recv_timeout(READY_TIMEOUT) {
            Ok(line) => line,
            Err(err) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no GEMINGA_READY line ({err}); log:\n{}", log_tail(log));
            }
        };
        let service_url = ready_field(&line, "service_url")
            .unwrap_or_else(|| panic!("no service_url in {line:?}"));
        ChildBroker { child, service_url }
    }

    /// Sends SIGKILL and reaps the process.
    fn kill9(mut self) {
        self.child.kill().expect("SIGKILL the broker");
        self.child.wait().expect("reap the broker");
    }
}

impl Drop for ChildBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ready_field(line: &str, key: &str) -> Option<String> {
    line.split_whitespace()
        .find_map(|part| part.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Goal: after SIGKILL, every send that got a receipt survives and consumer acks that reached the
/// broker stay acked. Method: send 200 with receipts, consume and ack 100, confirm the acks
/// reached the broker with a round trip, wait 1 s, kill -9, restart, expect exactly the other 100.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_keeps_acked_sends_and_consumer_acks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir: PathBuf = dir.path().join("data");
    let topic = unique_topic("kill9");

    let first = ChildBroker::spawn(&data_dir, &dir.path().join("broker-1.log"));
    {
        let client = client_for(&first.service_url, Some(3)).await;
        let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
        let mut producer = producer(&client, &topic, "kill9-producer").await;
        let receipts = send_all(&mut producer, numbered("k", SENT)).await;
        assert_eq!(receipts.len(), SENT, "every send got a receipt");

        for i in 0..ACKED {
            let msg = receive(&mut consumer).await;
            assert_eq!(msg.payload.data, format!("k-{i}").into_bytes());
            within("ack", consumer.ack(&msg)).await.expect("ack");
        }
        // pulsar-rs acks carry no receipt; a request answered on the same connection proves the
        // broker has read every ack sent before it.
        within("round trip after acks", consumer.get_last_message_id())
            .await
            .expect("get last message id");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    first.kill9();

    let second = ChildBroker::spawn(&data_dir, &dir.path().join("broker-2.log"));
    let client = client_for(&second.service_url, Some(3)).await;
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    let want: Vec<String> = (ACKED..SENT).map(|i| format!("k-{i}")).collect();
    let got = within_for(
        Duration::from_secs(60),
        "receive the unacked half",
        receive_payloads(&mut consumer, SENT - ACKED),
    )
    .await;
    assert_eq!(got, want, "exactly the unacked messages return, in order");
    assert_no_message(&mut consumer, "consumer-acked messages must not return").await;
}
