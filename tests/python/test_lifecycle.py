"""Process lifecycle: the binary announces readiness and stops cleanly on SIGTERM."""

from support import Broker


def test_sigterm_stops_the_broker_cleanly(tmp_path):
    """Goal: SIGTERM makes the broker exit by itself with status 0. Method: start, SIGTERM."""
    broker = Broker(tmp_path / "data", tmp_path / "broker.log")
    assert broker.service_url.startswith("pulsar://127.0.0.1:")
    broker.proc.terminate()
    code = broker.proc.wait(15)
    assert code == 0, f"exit status {code}; log tail:\n{broker.log_tail()}"
