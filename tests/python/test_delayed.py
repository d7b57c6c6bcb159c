"""Delayed delivery with the C++-based pulsar-client: held back on Shared and Key_Shared,
immediate on Exclusive, kept on disk across a restart, nackable, switchable off."""

import random
import time
import urllib.request
from datetime import timedelta

import pulsar
import pytest
from pulsar import ConsumerType

from admin_http import AdminError, request
from support import Broker, assert_quiet, make_client, receive_all

EARLIEST = pulsar.InitialPosition.Earliest
# Longest a due message may wait past its time: one tick (1 s by default) plus slack.
LATE_LIMIT_MS = 1_500


def now_ms():
    return int(time.time() * 1000)


def _producer(client, topic):
    # Delayed messages are never batched by the client anyway; keep it explicit.
    return client.create_producer(topic, batching_enabled=False)


@pytest.mark.parametrize("consumer_type", [ConsumerType.Shared, ConsumerType.KeyShared])
def test_shared_types_hold_delayed_messages_until_due(client, topic, consumer_type):
    """Goal: a delayed message waits for its time on Shared and Key_Shared while later plain
    messages pass, and comes out within one tick. Method: deliver_after 2 s, then a plain one."""
    consumer = client.subscribe(topic, "sub", consumer_type=consumer_type,
                                initial_position=EARLIEST)
    producer = _producer(client, topic)
    producer.send(b"late", deliver_after=timedelta(seconds=2))
    due = now_ms() + 2_000
    producer.send(b"now")
    first = consumer.receive(timeout_millis=10_000)
    assert first.data() == b"now"
    consumer.acknowledge(first)
    late = consumer.receive(timeout_millis=10_000)
    arrived = now_ms()
    assert late.data() == b"late"
    # `due` was taken after the send returned, so it is a little later than the real one.
    assert arrived >= due - 100, f"{due - arrived} ms early"
    assert arrived <= due + LATE_LIMIT_MS, f"{arrived - due} ms late"
    consumer.acknowledge(late)
    assert_quiet(consumer)


@pytest.mark.parametrize("consumer_type", [ConsumerType.Exclusive, ConsumerType.Failover])
def test_exclusive_and_failover_deliver_delayed_messages_at_once(client, topic, consumer_type):
    """Goal: as in Pulsar, single-consumer subscriptions ignore the delivery time.
    Method: a message due in 60 s arrives within 5 s."""
    consumer = client.subscribe(topic, "sub", consumer_type=consumer_type,
                                initial_position=EARLIEST)
    _producer(client, topic).send(b"far", deliver_after=timedelta(seconds=60))
    assert consumer.receive(timeout_millis=5_000).data() == b"far"


def test_many_delays_come_out_in_time_not_early(client, topic):
    """Goal: the on-disk index hands out each of many messages at its own time. Method: 60
    messages with random delays of 0.3 to 3 s; none early, none more than a tick late."""
    consumer = client.subscribe(topic, "sub", consumer_type=ConsumerType.Shared,
                                initial_position=EARLIEST)
    producer = _producer(client, topic)
    due = {}
    for i in range(60):
        delay_ms = random.randint(300, 3_000)
        due[f"m-{i}".encode()] = now_ms() + delay_ms
        producer.send(f"m-{i}".encode(), deliver_after=timedelta(milliseconds=delay_ms))
    worst_late = 0
    for _ in range(60):
        msg = consumer.receive(timeout_millis=10_000)
        arrived = now_ms()
        assert arrived >= due[msg.data()] - 100, f"{msg.data()!r} early"
        worst_late = max(worst_late, arrived - due[msg.data()])
        consumer.acknowledge(msg)
    assert worst_late <= LATE_LIMIT_MS, f"worst lateness {worst_late} ms"
    assert_quiet(consumer)


def test_pending_delayed_messages_survive_a_broker_restart(tmp_path):
    """Goal: delayed messages held by a stopped broker come out after a restart, on time and
    exactly once. Method: 10 messages due in 4 s, SIGTERM, restart on the same data dir."""
    data, log = tmp_path / "data", tmp_path / "broker.log"
    broker = Broker(data, log)
    client = make_client(broker.service_url)
    topic = f"py-delayed-restart-{random.randrange(1 << 30)}"
    consumer = client.subscribe(topic, "sub", consumer_type=ConsumerType.Shared,
                                initial_position=EARLIEST)
    producer = _producer(client, topic)
    for i in range(10):
        producer.send(f"d-{i}".encode(), deliver_after=timedelta(seconds=4))
    due = now_ms() + 4_000
    assert_quiet(consumer)
    client.close()
    assert broker.terminate() == 0
    broker = Broker(data, log)
    try:
        client = make_client(broker.service_url)
        consumer = client.subscribe(topic, "sub", consumer_type=ConsumerType.Shared)
        got = []
        for msg in receive_all(consumer, 10):
            assert now_ms() >= due - 100, "delivered before its time"
            got.append(msg.data())
            consumer.acknowledge(msg)
        assert sorted(got) == sorted(f"d-{i}".encode() for i in range(10))
        assert_quiet(consumer)
        client.close()
    finally:
        broker.terminate()


def test_a_nacked_delayed_message_comes_back_at_once(client, topic):
    """Goal: nacking a delayed message redelivers it without a second delay, counted.
    Method: due in 1.5 s; nack with the client's 100 ms nack delay; back well within 1.5 s."""
    consumer = client.subscribe(topic, "sub", consumer_type=ConsumerType.Shared,
                                initial_position=EARLIEST, negative_ack_redelivery_delay_ms=100)
    _producer(client, topic).send(b"retry-me", deliver_after=timedelta(milliseconds=1_500))
    first = consumer.receive(timeout_millis=10_000)
    consumer.negative_acknowledge(first)
    nacked = now_ms()
    again = consumer.receive(timeout_millis=10_000)
    assert again.data() == b"retry-me"
    assert now_ms() - nacked < 1_200
    assert again.redelivery_count() == 1
    consumer.acknowledge(again)


def test_the_broker_setting_switches_delayed_delivery_off(tmp_path):
    """Goal: `delayedDeliveryEnabled=false` delivers delayed messages at once on Shared.
    Method: broker config file with the switch off; a message due in 60 s."""
    broker = Broker(tmp_path / "data", tmp_path / "broker.log",
                    config={"delayedDeliveryEnabled": "false"})
    try:
        client = make_client(broker.service_url)
        consumer = client.subscribe("delayed-off", "sub", consumer_type=ConsumerType.Shared,
                                    initial_position=EARLIEST)
        _producer(client, "delayed-off").send(b"now", deliver_after=timedelta(seconds=60))
        assert consumer.receive(timeout_millis=5_000).data() == b"now"
        client.close()
    finally:
        broker.terminate()


def test_namespace_and_topic_policies_switch_delayed_delivery(broker, client, topic):
    """Goal: Pulsar's `delayedDelivery` policies reach live subscriptions: off on the namespace
    delivers at once, on for the topic holds again, and removing both restores the default.
    Method: a Shared consumer and messages due in 60 s (held) or delivered within 5 s."""
    ns = "/admin/v2/namespaces/public/default/delayedDelivery"
    topic_path = f"/admin/v2/persistent/public/default/{topic}/delayedDelivery"
    consumer = client.subscribe(topic, "sub", consumer_type=ConsumerType.Shared,
                                initial_position=EARLIEST)
    producer = _producer(client, topic)
    admin = broker.admin_url
    request(admin, "POST", ns, {"active": False, "tickTime": 200})
    assert request(admin, "GET", ns)["active"] is False
    time.sleep(1.5)  # the subscription re-reads its policy on its next tick
    producer.send(b"at-once", deliver_after=timedelta(seconds=60))
    msg = consumer.receive(timeout_millis=5_000)
    assert msg.data() == b"at-once"
    consumer.acknowledge(msg)

    request(admin, "POST", topic_path, {"active": True, "tickTime": 200})
    assert request(admin, "GET", topic_path)["active"] is True
    time.sleep(1.5)
    producer.send(b"held", deliver_after=timedelta(seconds=60))
    assert_quiet(consumer)
    stats = request(admin, "GET", f"/admin/v2/persistent/public/default/{topic}/stats")
    assert stats["subscriptions"]["sub"]["msgDelayed"] == 1, stats
    assert stats["subscriptions"]["sub"]["msgBacklogNoDelayed"] == 0, stats
    metrics = urllib.request.urlopen(admin + "/metrics", timeout=10).read().decode()
    delayed = [line for line in metrics.splitlines()
               if line.startswith("pulsar_subscription_delayed{") and f"/{topic}\"" in line]
    assert len(delayed) == 1 and float(delayed[0].rsplit(" ", 1)[1]) == 1.0, delayed

    with pytest.raises(AdminError) as bad:
        request(admin, "POST", topic_path, "[1, 2]")
    assert bad.value.status == 400
    request(admin, "DELETE", topic_path)
    request(admin, "DELETE", ns)
    assert request(admin, "GET", ns) is None
    assert request(admin, "GET", topic_path + "?applied=true")["active"] is True
