"""Subscriptions: Exclusive ownership, cumulative acks across reconnects, and seek."""

import time

import pulsar
import pytest
from pulsar.exceptions import ConsumerBusy

from support import assert_quiet, make_client, receive_all


def _send(client, topic, prefix, count):
    producer = client.create_producer(topic)
    ids = [producer.send(f"{prefix}-{i}".encode()) for i in range(count)]
    producer.close()
    return ids


def test_cumulative_ack_of_last_message_then_reconnect_redelivers_nothing(broker, topic):
    """Goal: a cumulative ack of the last message acks everything. Method: receive 10,
    cumulatively ack the 10th, close the client, reconnect and expect silence."""
    first = make_client(broker.service_url)
    consumer = first.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
    _send(first, topic, "c", 10)
    messages = receive_all(consumer, 10)
    assert [m.data() for m in messages] == [f"c-{i}".encode() for i in range(10)]
    consumer.acknowledge_cumulative(messages[-1])
    consumer.close()
    first.close()

    second = make_client(broker.service_url)
    try:
        again = second.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
        assert_quiet(again)
    finally:
        second.close()


def test_cumulative_ack_midway_then_reconnect_redelivers_the_rest(broker, topic):
    """Goal: a cumulative ack covers only messages up to it. Method: receive 10, cumulatively
    ack the 7th, reconnect and expect exactly the last 3."""
    first = make_client(broker.service_url)
    consumer = first.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
    _send(first, topic, "c", 10)
    messages = receive_all(consumer, 10)
    consumer.acknowledge_cumulative(messages[6])
    consumer.close()
    first.close()

    second = make_client(broker.service_url)
    try:
        again = second.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
        assert [m.data() for m in receive_all(again, 3)] == [b"c-7", b"c-8", b"c-9"]
        assert_quiet(again)
    finally:
        second.close()


def test_second_exclusive_consumer_is_refused(client, topic):
    """Goal: a second consumer on an Exclusive subscription fails with ConsumerBusy, and the
    subscription is usable again after the owner closes. Method: subscribe twice, then retry."""
    owner = client.subscribe(topic, "sub", consumer_type=pulsar.ConsumerType.Exclusive)
    with pytest.raises(ConsumerBusy):
        client.subscribe(topic, "sub", consumer_type=pulsar.ConsumerType.Exclusive)
    owner.close()
    successor = client.subscribe(topic, "sub", consumer_type=pulsar.ConsumerType.Exclusive)
    client.create_producer(topic).send(b"hello")
    assert successor.receive(timeout_millis=10_000).data() == b"hello"


def test_seek_to_message_id(client, topic):
    """Goal: seek(id) makes that message the next one delivered. Method: consume and ack 10,
    seek to the 6th with a start-inclusive consumer (C++ otherwise filters the sought id)."""
    consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest,
                                start_message_id_inclusive=True)
    ids = _send(client, topic, "s", 10)
    for msg in receive_all(consumer, 10):
        consumer.acknowledge(msg)

    consumer.seek(ids[5])
    assert [m.data() for m in receive_all(consumer, 5)] == [f"s-{i}".encode()
                                                            for i in range(5, 10)]
    assert_quiet(consumer)


def test_seek_to_publish_time(client, topic):
    """Goal: seek(timestamp) delivers from the first message published at or after it.
    Method: 5 early messages, note the time, 5 late messages, ack all, seek to the time."""
    consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
    _send(client, topic, "early", 5)
    time.sleep(0.2)
    boundary_ms = int(time.time() * 1000)
    time.sleep(0.2)
    _send(client, topic, "late", 5)
    for msg in receive_all(consumer, 10):
        consumer.acknowledge(msg)

    consumer.seek(boundary_ms)
    assert [m.data() for m in receive_all(consumer, 5)] == [f"late-{i}".encode()
                                                            for i in range(5)]
    assert_quiet(consumer)
