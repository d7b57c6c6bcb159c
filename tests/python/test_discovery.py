"""Topic discovery and lookup with the Python client: regex subscriptions, an `http://`
service URL, and advertised listeners."""

import re
import socket
import time

import _pulsar
import pulsar
import pytest

from admin_http import request
from support import Broker, make_client, receive_all


def _subscribe_pattern(client, monkeypatch, pattern, period_s=1):
    """Subscribes by regex with a short discovery period. pulsar-client 3.13 checks
    `pattern_auto_discovery_period` but never passes it on (the C++ default, 60 s, stays), so
    the configuration it builds is given the period here."""
    real = _pulsar.ConsumerConfiguration

    def configured():
        conf = real()
        conf.pattern_auto_discovery_period(period_s)
        return conf

    with monkeypatch.context() as patch:
        patch.setattr(_pulsar, "ConsumerConfiguration", configured)
        return client.subscribe(re.compile(pattern), "sub",
                                initial_position=pulsar.InitialPosition.Earliest)


def test_regex_subscription_discovers_new_topics(broker, client, topic, monkeypatch):
    """Goal: the periodic regex discovery picks up topics created after subscribing,
    partitioned ones included. Method: subscribe to `<prefix>-.*` with a 1 s discovery
    period (GET_TOPICS_OF_NAMESPACE every second), then create a plain and a 2-partition topic and produce; all messages arrive."""
    prefix = f"persistent://public/default/{topic}"
    client.create_producer(f"{prefix}-a").send(b"a")
    consumer = _subscribe_pattern(client, monkeypatch, f"{prefix}-.*")
    assert receive_all(consumer, 1)[0].data() == b"a"
    client.create_producer(f"{prefix}-b").send(b"b")
    request(broker.admin_url, "PUT", f"/admin/v2/persistent/public/default/{topic}-c/partitions",
            2)
    producer = client.create_producer(
        f"{prefix}-c", batching_enabled=False,
        message_routing_mode=pulsar.PartitionsRoutingMode.RoundRobinDistribution)
    producer.send(b"c0")
    producer.send(b"c1")
    got = sorted(m.data() for m in receive_all(consumer, 3))
    assert got == [b"b", b"c0", b"c1"]


def test_regex_subscription_ignores_other_topics(broker, client, topic, monkeypatch):
    """Goal: topics that do not match the pattern are not consumed. Method: subscribe to
    `<topic>-in-.*`, produce to a matching and a non-matching topic, expect only one."""
    prefix = f"persistent://public/default/{topic}"
    consumer = _subscribe_pattern(client, monkeypatch, f"{prefix}-in-.*")
    client.create_producer(f"{prefix}-out-1").send(b"out")
    client.create_producer(f"{prefix}-in-1").send(b"in")
    assert receive_all(consumer, 1)[0].data() == b"in"
    with pytest.raises(pulsar.Timeout):
        consumer.receive(timeout_millis=2500)


def test_http_service_url_looks_topics_up_over_http(broker, topic):
    """Goal: a client given `http://host:adminport` works for plain, partitioned and regex
    consumers. Method: an HTTP client produces and consumes on a plain and a 2-partition
    topic and subscribes by regex."""
    http_client = make_client(broker.admin_url)
    try:
        consumer = http_client.subscribe(topic, "sub",
                                         initial_position=pulsar.InitialPosition.Earliest)
        http_client.create_producer(topic).send(b"plain")
        assert receive_all(consumer, 1)[0].data() == b"plain"

        parted = f"{topic}-parted"
        request(broker.admin_url, "PUT",
                f"/admin/v2/persistent/public/default/{parted}/partitions", "2")
        assert len(http_client.get_topic_partitions(parted)) == 2
        p_consumer = http_client.subscribe(parted, "sub",
                                           initial_position=pulsar.InitialPosition.Earliest)
        producer = http_client.create_producer(
            parted, batching_enabled=False,
            message_routing_mode=pulsar.PartitionsRoutingMode.RoundRobinDistribution)
        for i in range(4):
            producer.send(f"p-{i}".encode())
        assert {m.message_id().partition() for m in receive_all(p_consumer, 4)} == {0, 1}

        regex = http_client.subscribe(re.compile(f"persistent://public/default/{topic}.*"),
                                      "regex-sub", initial_position=pulsar.InitialPosition.Earliest)
        assert len(receive_all(regex, 5)) == 5
    finally:
        http_client.close()


def test_http_lookup_of_a_missing_namespace_fails(broker):
    """Goal: an HTTP-lookup client gets an error for a topic in a missing namespace.
    Method: create a producer there through `http://` and expect an exception."""
    http_client = make_client(broker.admin_url)
    try:
        with pytest.raises(pulsar.PulsarException):
            http_client.create_producer("persistent://public/ghost/t")
    finally:
        http_client.close()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_listener_name_selects_the_advertised_address(tmp_path):
    """Goal: the client's listener name picks the advertised address, and an unknown name
    fails. Method: the default (internal) listener points at a closed port and `external` at
    the broker; a client naming `external` works, one naming `nope` fails."""
    port = _free_port()
    conf = tmp_path / "broker.conf"
    conf.write_text(
        "advertisedListeners=internal:pulsar://127.0.0.1:1,"
        f"external:pulsar://localhost:{port}\n"
        "internalListenerName=internal\n")
    broker = Broker(tmp_path / "data", tmp_path / "broker.log", ["--config", str(conf)],
                    bind=f"127.0.0.1:{port}")
    try:
        external = pulsar.Client(broker.service_url, operation_timeout_seconds=10,
                                 listener_name="external",
                                 logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
        consumer = external.subscribe("listener-topic", "sub",
                                      initial_position=pulsar.InitialPosition.Earliest)
        external.create_producer("listener-topic").send(b"via external")
        assert receive_all(consumer, 1)[0].data() == b"via external"
        external.close()

        unknown = pulsar.Client(broker.service_url, operation_timeout_seconds=3,
                                listener_name="nope",
                                logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
        with pytest.raises(pulsar.PulsarException):
            unknown.create_producer("listener-topic")
        unknown.close()
    finally:
        broker.terminate()
