//! The broker under test as a child process (`geminga standalone`), so its RSS and start-up
//! time can be measured from the outside.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::procfs::rss_bytes;
use super::SuiteError;

/// Longest a broker may take to print its READY line.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest a broker may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running broker child.
#[derive(Debug)]
pub struct BrokerProcess {
    child: Child,
    /// `pulsar://127.0.0.1:port`.
    pub service_url: String,
    /// `http://127.0.0.1:port`.
    pub admin_url: String,
    /// Time from spawn to the READY line.
    pub startup: Duration,
}

/// The `service_url` and `admin_url` fields of a `GEMINGA_READY k=v ...` line.
#[must_use]
pub fn parse_ready(line: &str) -> Option<(String, String)> {
    let mut words = line.split_whitespace();
    if words.next()? != "GEMINGA_READY" {
        return None;
    }
    let (mut service, mut admin) = (None, None);
    for word in words {
        match word.split_once('=') {
            Some(("service_url", v)) => service = Some(v.to_owned()),
            Some(("admin_url", v)) => admin = Some(v.to_owned()),
            _ => {}
        }
    }
    Some((service?, admin?))
}

impl BrokerProcess {
    /// Starts this executable as `standalone` on `data_dir` (ports chosen by the OS; logs at
    /// warn level appended to `log`) and waits for its READY line.
    ///
    /// # Errors
    /// [`SuiteError::Broker`] when it cannot be spawned, exits, or is not ready in time.
    pub fn start(data_dir: &Path, log: &Path) -> Result<Self, SuiteError> {
        let broker_err = |reason: String| SuiteError::Broker { reason };
        let exe: PathBuf = std::env::current_exe()
            .map_err(|e| broker_err(format!("cannot locate this executable: {e}")))?;
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| broker_err(format!("cannot open {}: {e}", log.display())))?;
        let start = Instant::now();
        let mut child = Command::new(exe)
            .arg("standalone")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--bind", "127.0.0.1:0", "--admin-bind", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .map_err(|e| broker_err(format!("cannot spawn: {e}")))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| broker_err("no stdout pipe".to_owned()))?;
        let (tx, rx) = mpsc::channel();
        // Keep draining stdout after READY so the broker never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(urls) = parse_ready(&line) {
                    let _ = tx.send((urls, Instant::now()));
                }
            }
        });
        match rx.recv_timeout(READY_TIMEOUT) {
            Ok(((service_url, admin_url), at)) => Ok(BrokerProcess {
                child,
                service_url,
                admin_url,
                startup: at.duration_since(start),
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(broker_err(format!(
                    "no GEMINGA_READY line (see {})",
                    log.display()
                )))
            }
        }
    }

    /// The broker's resident set size in bytes.
    ///
    /// # Errors
    /// [`SuiteError::Broker`] when the process is gone.
    pub fn rss(&self) -> Result<u64, SuiteError> {
        rss_bytes(self.child.id()).ok_or_else(|| SuiteError::Broker {
            reason: format!("cannot read the RSS of pid {}", self.child.id()),
        })
    }

    /// Asks the broker to stop (SIGTERM via `kill`) and waits; kills it if it lingers.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let asked = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while asked && Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for BrokerProcess {
    /// A suite that fails half-way must not leave a broker running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line_fields() {
        let line =
            "GEMINGA_READY service_url=pulsar://127.0.0.1:4000 admin_url=http://127.0.0.1:4001";
        assert_eq!(
            parse_ready(line),
            Some((
                "pulsar://127.0.0.1:4000".to_owned(),
                "http://127.0.0.1:4001".to_owned()
            ))
        );
        assert_eq!(parse_ready("GEMINGA_READY service_url=pulsar://h:1"), None);
        assert_eq!(parse_ready("INFO service_url=a admin_url=b"), None);
        assert_eq!(parse_ready(""), None);
    }
}
