"""Helpers for the pulsar-client suite: run the `geminga` binary, receive with timeouts."""

import os
import pathlib
import subprocess
import threading

import pulsar
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 30
STOP_TIMEOUT_S = 15
# Upper bound for any single receive in the suite.
RECEIVE_TIMEOUT_MS = 10_000
# How long "nothing more arrives" assertions wait.
QUIET_MS = 1_500


def geminga_bin() -> str:
    """Path of the broker binary: $GEMINGA_BIN, else target/debug/geminga in the repo."""
    path = os.environ.get("GEMINGA_BIN") or str(REPO_ROOT / "target" / "debug" / "geminga")
    if not os.access(path, os.X_OK):
        pytest.fail(f"broker binary {path} not found; build it or set GEMINGA_BIN")
    return path


class Broker:
    """A running `geminga standalone` child process; `config` (key -> value) is written to a
    Pulsar-style config file beside the log and passed with --config."""

    def __init__(self, data_dir: pathlib.Path, log_path: pathlib.Path, extra_args=(),
                 bind="127.0.0.1:0", config=None):
        self.data_dir = data_dir
        self.log_path = log_path
        self._log = open(log_path, "ab")
        args = [geminga_bin(), "standalone", "--data-dir", str(data_dir),
                "--bind", bind, "--admin-bind", "127.0.0.1:0", *extra_args]
        if config:
            conf = log_path.with_suffix(".conf")
            conf.write_text("".join(f"{key}={value}\n" for key, value in config.items()))
            args += ["--config", str(conf)]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log, text=True,
        )
        self._ready = threading.Event()
        self._ready_line = None
        # Keep draining stdout after the ready line so the broker never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(READY_TIMEOUT_S) or self._ready_line is None:
            self.kill()
            pytest.fail(f"broker printed no GEMINGA_READY line; log tail:\n{self.log_tail()}")
        fields = dict(part.split("=", 1) for part in self._ready_line.split()[1:] if "=" in part)
        self.service_url = fields["service_url"]
        self.admin_url = fields.get("admin_url")
        # Present when brokerServicePortTls / webServicePortTls are configured.
        self.service_url_tls = fields.get("service_url_tls")
        self.admin_url_tls = fields.get("admin_url_tls")

    def _drain(self):
        for line in self.proc.stdout:
            if line.startswith("GEMINGA_READY") and self._ready_line is None:
                self._ready_line = line.strip()
                self._ready.set()
        self._ready.set()  # process ended: unblock the waiter

    def terminate(self) -> int:
        """SIGTERM, wait for a clean exit, SIGKILL as a last resort; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def make_client(service_url: str) -> pulsar.Client:
    """A client with a short operation timeout so a silent broker fails fast."""
    return pulsar.Client(
        service_url,
        operation_timeout_seconds=10,
        logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Warn),
    )


def receive_all(consumer, count):
    """Receives `count` messages, each within RECEIVE_TIMEOUT_MS."""
    return [consumer.receive(timeout_millis=RECEIVE_TIMEOUT_MS) for _ in range(count)]


def assert_quiet(consumer):
    """Asserts that nothing more arrives within QUIET_MS."""
    try:
        msg = consumer.receive(timeout_millis=QUIET_MS)
    except pulsar.Timeout:
        return
    pytest.fail(f"expected no more messages, got {msg.data()!r}")


def position(msg_id):
    """(ledger, entry) of a message id: what orders entries on a topic."""
    return (msg_id.ledger_id(), msg_id.entry_id())
