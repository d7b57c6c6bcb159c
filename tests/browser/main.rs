//! End-to-end test of the built-in status page in a real headless browser (Debian's
//! `chromium`): the page loads, polls the JSON endpoints, and shows a topic once a client
//! produced to it, with the supervision tree.
//!
//! Without a chromium binary the test is skipped with a message, unless
//! `GEMINGA_REQUIRE_BROWSER=1` (set by `scripts/test.sh`, which installs chromium) makes a
//! missing browser a failure. `GEMINGA_CHROMIUM` names the binary explicitly.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

#[allow(dead_code)]
#[path = "../it/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{full_name, numbered, producer, send_all, unique_topic, TestBroker};

/// Upper bound for one browser run.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

fn find_chromium() -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os("GEMINGA_CHROMIUM") {
        return Some(PathBuf::from(explicit));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Loads `url` in a fresh headless chromium, lets the page poll for a few (virtual) seconds,
/// and returns the DOM it ended with.
async fn dump_dom(chromium: PathBuf, url: String) -> String {
    let run = tokio::task::spawn_blocking(move || {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--virtual-time-budget=4000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--dump-dom")
            .arg(&url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", chromium.display()));
        // Read the pipes on their own threads so a large DOM cannot block the browser.
        let mut stdout = child.stdout.take().expect("stdout piped");
        let mut stderr = child.stderr.take().expect("stderr piped");
        let out = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stdout, &mut buf);
            buf
        });
        let err = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stderr, &mut buf);
            buf
        });
        let deadline = std::time::Instant::now() + BROWSER_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for chromium") {
                break Some(status);
            }
            if std::time::Instant::now() > deadline {
                // Hung: end our own child so the test fails instead of hanging.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let output = std::process::Output {
            status: status
                .unwrap_or_else(|| panic!("chromium did not finish in {BROWSER_TIMEOUT:?}")),
            stdout: out.join().expect("stdout reader"),
            stderr: err.join().expect("stderr reader"),
        };
        let dom = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            dom.contains("</html>"),
            "chromium printed no DOM (status {:?}); stderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        dom
    });
    tokio::time::timeout(BROWSER_TIMEOUT + Duration::from_secs(10), run)
        .await
        .expect("chromium finished")
        .expect("chromium task")
}

/// Goal: the status page shows the supervision tree, and a topic appears on it once a client
/// produced to it. Method: dump the DOM before and after producing with the `pulsar` crate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_shows_the_tree_and_a_new_topic() {
    let Some(chromium) = find_chromium() else {
        assert!(
            std::env::var("GEMINGA_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "GEMINGA_REQUIRE_BROWSER=1 but no chromium found (install Debian's chromium)"
        );
        eprintln!("skipped: no chromium binary (apt-get install chromium)");
        return;
    };
    let broker = TestBroker::start();
    let page = format!("{}/", broker.admin_url);
    let topic = unique_topic("browser");
    let marker = format!("data-topic=\"{}\"", full_name(&topic));

    let before = dump_dom(chromium.clone(), page.clone()).await;
    assert!(before.contains("Supervision tree"), "the page rendered");
    assert!(
        before.contains("data-kind=\"registry\"")
            && before.contains("data-kind=\"storage_writer\""),
        "the tree lists the broker's singletons:\n{before}"
    );
    assert!(!before.contains(&marker), "the topic does not exist yet");

    let client = broker.client().await;
    let mut producer = producer(&client, &topic, "browser-producer").await;
    send_all(&mut producer, numbered("b", 5)).await;

    let after = dump_dom(chromium, page).await;
    assert!(after.contains(&marker), "the topic appeared:\n{after}");
    assert!(
        after.contains("data-kind=\"topic\"") && after.contains("data-kind=\"producer\""),
        "the tree shows the topic and the producer:\n{after}"
    );
}
