"""Shared, Failover and Key_Shared subscriptions, nack, ack timeout and batch-index redelivery
with the C++-based pulsar-client."""

import time

import pulsar
import pytest
from pulsar import ConsumerKeySharedPolicy, ConsumerType, KeySharedMode
from pulsar.exceptions import ConsumerAssignError

from support import QUIET_MS, RECEIVE_TIMEOUT_MS, assert_quiet, receive_all

EARLIEST = pulsar.InitialPosition.Earliest


def _receive_until_quiet(consumer, ack=True):
    """Messages until nothing arrives for QUIET_MS, acked as they come when `ack`."""
    out = []
    while True:
        try:
            msg = consumer.receive(timeout_millis=QUIET_MS)
        except pulsar.Timeout:
            return out
        if ack:
            consumer.acknowledge(msg)
        out.append(msg)


def _send(client, topic, payloads, key_of=None):
    producer = client.create_producer(topic, batching_enabled=False)
    for i, payload in enumerate(payloads):
        if key_of is None:
            producer.send(payload)
        else:
            producer.send(payload, partition_key=key_of(i))
    producer.close()


def test_shared_round_robins_and_redelivers_a_leavers_messages(client, topic):
    """Goal: Shared alternates between consumers and a leaving consumer's unacked messages go
    to the other, counted as redelivered. Method: two consumers, 20 messages, one closes."""
    first = client.subscribe(topic, "sub", consumer_type=ConsumerType.Shared,
                             consumer_name="first", initial_position=EARLIEST)
    second = client.subscribe(topic, "sub", consumer_type=ConsumerType.Shared,
                              consumer_name="second", initial_position=EARLIEST)
    time.sleep(0.3)
    _send(client, topic, [f"m-{i}".encode() for i in range(20)])
    got_first = _receive_until_quiet(first, ack=False)
    got_second = _receive_until_quiet(second)
    assert len(got_first) == 10 and len(got_second) == 10
    assert not {m.data() for m in got_first} & {m.data() for m in got_second}

    first.close()
    again = _receive_until_quiet(second)
    assert {m.data() for m in again} == {m.data() for m in got_first}
    assert all(m.redelivery_count() == 1 for m in again)


def test_failover_hands_over_to_the_next_consumer_in_order(client, topic):
    """Goal: Failover delivers to the first consumer only; when it closes, its unacked messages
    and the rest go to the next in order. Method: two consumers, 10 messages, ack 4, close."""
    active = client.subscribe(topic, "sub", consumer_type=ConsumerType.Failover,
                              consumer_name="z-first", initial_position=EARLIEST)
    standby = client.subscribe(topic, "sub", consumer_type=ConsumerType.Failover,
                               consumer_name="a-next", initial_position=EARLIEST)
    _send(client, topic, [f"f-{i}".encode() for i in range(10)])
    messages = receive_all(active, 10)
    assert [m.data() for m in messages] == [f"f-{i}".encode() for i in range(10)]
    for msg in messages[:4]:
        active.acknowledge(msg)
    assert_quiet(standby)
    active.close()
    assert [m.data() for m in receive_all(standby, 6)] == [f"f-{i}".encode() for i in range(4, 10)]


def test_key_shared_keeps_each_key_on_one_consumer_in_order(client, topic):
    """Goal: AUTO_SPLIT sends every key to one consumer, in order. Method: two consumers,
    8 keys x 10 rounds."""
    consumers = [client.subscribe(topic, "sub", consumer_type=ConsumerType.KeyShared,
                                  consumer_name=name, initial_position=EARLIEST)
                 for name in ("a", "b")]
    _send(client, topic, [f"k{i % 8}:{i // 8}".encode() for i in range(80)],
          key_of=lambda i: f"k{i % 8}")
    owners = {}
    for index, consumer in enumerate(consumers):
        rounds = {}
        for msg in _receive_until_quiet(consumer):
            key, round_ = msg.data().decode().split(":")
            assert msg.partition_key() == key
            rounds.setdefault(key, []).append(int(round_))
        for key, seen in rounds.items():
            assert seen == list(range(10)), f"order of {key}"
            assert owners.setdefault(key, index) == index, f"{key} went to both"
    assert len(owners) == 8


def test_key_shared_sticky_ranges_must_not_overlap(client, topic):
    """Goal: STICKY consumers declare hash ranges; overlapping ones are refused with
    ConsumerAssignError, and keys reach the consumer owning their slot."""
    lower = client.subscribe(topic, "sub", consumer_type=ConsumerType.KeyShared,
                             initial_position=EARLIEST,
                             key_shared_policy=ConsumerKeySharedPolicy(
                                 KeySharedMode.Sticky, sticky_ranges=[(0, 32767)]))
    with pytest.raises(ConsumerAssignError):
        client.subscribe(topic, "sub", consumer_type=ConsumerType.KeyShared,
                         key_shared_policy=ConsumerKeySharedPolicy(
                             KeySharedMode.Sticky, sticky_ranges=[(30000, 40000)]))
    upper = client.subscribe(topic, "sub", consumer_type=ConsumerType.KeyShared,
                             initial_position=EARLIEST,
                             key_shared_policy=ConsumerKeySharedPolicy(
                                 KeySharedMode.Sticky, sticky_ranges=[(32768, 65535)]))
    _send(client, topic, [f"k{i}".encode() for i in range(40)], key_of=lambda i: f"k{i}")
    got = _receive_until_quiet(lower) + _receive_until_quiet(upper)
    assert sorted(m.data() for m in got) == sorted(f"k{i}".encode() for i in range(40))


def test_negative_ack_redelivers_after_the_delay_with_a_count(client, topic):
    """Goal: the client's nack delay works and the broker counts redeliveries on Shared.
    Method: nack with a 500 ms delay; the message returns with redelivery_count 1, then 2."""
    consumer = client.subscribe(topic, "sub", consumer_type=ConsumerType.Shared,
                                initial_position=EARLIEST, negative_ack_redelivery_delay_ms=500)
    _send(client, topic, [b"again"])
    for expected in (0, 1, 2):
        msg = consumer.receive(timeout_millis=RECEIVE_TIMEOUT_MS)
        assert (msg.data(), msg.redelivery_count()) == (b"again", expected)
        if expected < 2:
            consumer.negative_acknowledge(msg)
    consumer.acknowledge(msg)
    assert_quiet(consumer)


def test_negative_ack_on_exclusive_redelivers_in_order(client, topic):
    """Goal: on Exclusive the client asks for everything unacked again (no ids); the broker
    re-reads from the first unacked message in order. Method: 3 messages, nack the 2nd."""
    consumer = client.subscribe(topic, "sub", initial_position=EARLIEST,
                                negative_ack_redelivery_delay_ms=300)
    _send(client, topic, [b"x0", b"x1", b"x2"])
    messages = receive_all(consumer, 3)
    consumer.acknowledge(messages[0])
    consumer.negative_acknowledge(messages[1])
    again = [m.data() for m in receive_all(consumer, 2)]
    assert again == [b"x1", b"x2"]


def test_ack_timeout_redelivers_unacked_messages(client, topic):
    """Goal: the client's ack timeout (10 s minimum) gets an unacked message back.
    Method: receive without acking and wait for it to return with a count."""
    consumer = client.subscribe(topic, "sub", consumer_type=ConsumerType.Shared,
                                initial_position=EARLIEST, unacked_messages_timeout_ms=10_000)
    _send(client, topic, [b"slow"])
    first = consumer.receive(timeout_millis=RECEIVE_TIMEOUT_MS)
    assert first.data() == b"slow"
    again = consumer.receive(timeout_millis=25_000)
    assert (again.data(), again.redelivery_count()) == (b"slow", 1)
    consumer.acknowledge(again)


def test_partially_acked_batch_is_redelivered_without_acked_indexes(client, topic):
    """Goal: a batch whose first messages were acked comes back with ack_set, so only the
    unacked messages reappear. Method: one batch of 5, ack indexes 0-2, close, resubscribe."""
    consumer = client.subscribe(topic, "sub", consumer_type=ConsumerType.Shared,
                                initial_position=EARLIEST, batch_index_ack_enabled=True)
    producer = client.create_producer(topic, batching_enabled=True,
                                      batching_max_publish_delay_ms=100)
    for i in range(5):
        producer.send_async(f"b-{i}".encode(), None)
    producer.flush()
    messages = receive_all(consumer, 5)
    assert len({m.message_id().entry_id() for m in messages}) == 1, "one batch entry"
    for msg in messages[:3]:
        consumer.acknowledge(msg)
    time.sleep(0.5)  # the client groups acks for 100 ms
    consumer.close()

    again = client.subscribe(topic, "sub", consumer_type=ConsumerType.Shared,
                             initial_position=EARLIEST, batch_index_ack_enabled=True)
    assert [m.data() for m in _receive_until_quiet(again)] == [b"b-3", b"b-4"]
