"""Topic administration, non-persistent topics and topic policies with the Python client.

The admin REST API is called with urllib; `geminga admin`/`geminga client` run as the binary.
"""

import json
import subprocess
import time
import urllib.error
import urllib.request

import pulsar
import pytest

from support import RECEIVE_TIMEOUT_MS, assert_quiet, geminga_bin, receive_all


def admin(broker, method, path, body=None):
    """Calls the admin API; returns (status, headers, body bytes)."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(broker.admin_url + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def admin_json(broker, path):
    status, _, body = admin(broker, "GET", path)
    assert status == 200, (status, body)
    return json.loads(body)


def topic_path(topic, domain="persistent"):
    return f"/admin/v2/{domain}/public/default/{topic}"


def test_stats_and_peek_show_python_messages(client, broker, topic):
    """Goal: stats count what the Python client sent and peek returns it with its headers.
    Method: a subscription without consumers, 3 unbatched messages with a property."""
    client.subscribe(topic, "sub").close()
    producer = client.create_producer(topic, producer_name="py-stats", batching_enabled=False)
    for i in range(3):
        producer.send(f"p-{i}".encode(), properties={"i": str(i)})

    stats = admin_json(broker, topic_path(topic) + "/stats")
    assert stats["msgInCounter"] == 3
    assert stats["publishers"][0]["producerName"] == "py-stats"
    assert stats["subscriptions"]["sub"]["msgBacklog"] == 3
    status, headers, body = admin(broker, "GET", topic_path(topic) + "/subscription/sub/position/2")
    assert status == 200
    assert body == b"p-1"
    assert headers["X-Pulsar-PROPERTY-i"] == "1"
    assert headers["X-Pulsar-producer-name"] == "py-stats"


def test_terminate_refuses_python_sends_without_breaking_the_connection(client, broker, topic):
    """Goal: after terminate the Python producer gets TopicTerminated, its consumer still gets
    the old messages, and the connection survives (no REACHED_END_OF_TOPIC to C++ clients).
    Method: 2 messages, terminate, send again, receive, then use the same client elsewhere."""
    consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
    producer = client.create_producer(topic, batching_enabled=False)
    producer.send(b"a")
    producer.send(b"b")
    status, _, body = admin(broker, "POST", topic_path(topic) + "/terminate")
    assert status == 200, body
    with pytest.raises(pulsar.TopicTerminated):
        producer.send(b"late")
    for msg in receive_all(consumer, 2):
        consumer.acknowledge(msg)
    assert_quiet(consumer)
    other = client.create_producer(topic + "-other")
    other.send(b"still connected")


def test_unload_reconnects_python_clients(client, broker, topic):
    """Goal: unload disconnects the clients and they carry on. Method: unload between sends."""
    consumer = client.subscribe(topic, "sub")
    producer = client.create_producer(topic, batching_enabled=False)
    producer.send(b"before")
    consumer.acknowledge(consumer.receive(timeout_millis=RECEIVE_TIMEOUT_MS))
    # The ack is asynchronous: let it land, or the unload redelivers the message (at least once).
    deadline = time.time() + 10
    while admin_json(broker, topic_path(topic) + "/stats")["subscriptions"]["sub"]["msgBacklog"]:
        assert time.time() < deadline, "ack never applied"
        time.sleep(0.05)
    status, _, _ = admin(broker, "PUT", topic_path(topic) + "/unload")
    assert status == 204
    producer.send(b"after")
    assert consumer.receive(timeout_millis=RECEIVE_TIMEOUT_MS).data() == b"after"


def test_non_persistent_topic_round_trip_and_stats(client, broker, topic):
    """Goal: a non-persistent topic delivers to a connected Python consumer, is counted, and
    is not stored. Method: 5 messages; stats; the persistent listing stays empty of it."""
    name = f"non-persistent://public/default/{topic}"
    consumer = client.subscribe(name, "sub", consumer_type=pulsar.ConsumerType.Shared)
    producer = client.create_producer(name, batching_enabled=False)
    for i in range(5):
        producer.send(f"np-{i}".encode())
    assert [m.data() for m in receive_all(consumer, 5)] == [f"np-{i}".encode() for i in range(5)]
    stats = admin_json(broker, topic_path(topic, "non-persistent") + "/stats")
    assert stats["msgInCounter"] == 5
    assert "msgDropRate" in stats
    assert name in admin_json(broker, "/admin/v2/non-persistent/public/default")
    assert name not in admin_json(broker, "/admin/v2/persistent/public/default")


def test_max_unacked_policy_pauses_a_python_shared_consumer(client, broker, topic):
    """Goal: the topic's maxUnackedMessagesOnConsumer applies to the Python client.
    Method: limit 2, 4 messages, the consumer holds 2 unacked; one ack lets the third through."""
    status, _, _ = admin(broker, "PUT", topic_path(topic))
    assert status == 204
    status, _, _ = admin(broker, "POST", topic_path(topic) + "/maxUnackedMessagesOnConsumer", "2")
    assert status == 204
    consumer = client.subscribe(topic, "sub", consumer_type=pulsar.ConsumerType.Shared,
                                initial_position=pulsar.InitialPosition.Earliest)
    producer = client.create_producer(topic, batching_enabled=False)
    for i in range(4):
        producer.send(f"u-{i}".encode())
    first, _second = receive_all(consumer, 2)
    assert_quiet(consumer)
    consumer.acknowledge(first)
    assert consumer.receive(timeout_millis=RECEIVE_TIMEOUT_MS).data() == b"u-2"


def test_policy_get_on_missing_topic_is_404(broker, topic):
    """Goal: a policy GET on a topic that does not exist answers 404."""
    status, _, _ = admin(broker, "GET", topic_path(topic) + "/messageTTL")
    assert status == 404


def test_cli_produce_and_admin_with_python_consumer(client, broker, topic):
    """Goal: `geminga client produce` reaches a Python consumer and `geminga admin topics
    stats` reports it. Method: run both commands as the binary."""
    consumer = client.subscribe(topic, "sub")
    produced = subprocess.run(
        [geminga_bin(), "client", "--url", broker.service_url, "produce", topic,
         "-m", "one,two", "-p", "origin=cli"],
        capture_output=True, text=True, timeout=60)
    assert produced.returncode == 0, produced.stderr
    assert "2 messages successfully produced" in produced.stdout
    messages = receive_all(consumer, 2)
    assert [m.data() for m in messages] == [b"one", b"two"]
    assert messages[0].properties() == {"origin": "cli"}
    stats = subprocess.run(
        [geminga_bin(), "admin", "--admin-url", broker.admin_url, "topics", "stats", topic],
        capture_output=True, text=True, timeout=60)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["msgInCounter"] == 2
