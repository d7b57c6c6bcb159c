"""Fixtures: the real `geminga` binary on port 0 with a temporary data dir, and pulsar clients."""

import uuid

import pytest

from support import Broker, make_client


@pytest.fixture
def broker(tmp_path):
    """A fresh broker process per test; SIGTERM at the end."""
    b = Broker(tmp_path / "data", tmp_path / "broker.log")
    yield b
    b.terminate()


@pytest.fixture
def client(broker):
    """A pulsar.Client connected to this test's broker."""
    c = make_client(broker.service_url)
    yield c
    c.close()


@pytest.fixture
def topic(request):
    """A short topic name no other test uses."""
    return f"py-{request.node.name}-{uuid.uuid4().hex[:10]}".replace("[", "-").replace("]", "")
