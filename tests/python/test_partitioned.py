"""Partitioned topics with the Python client: routing modes, key hashing, growth."""

import time

import pulsar

from admin_http import request
from support import receive_all


def _partitioned(broker, topic, partitions):
    request(broker.admin_url, "PUT", f"/admin/v2/persistent/public/default/{topic}/partitions",
            partitions)


def _earliest(client, topic):
    return client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)


def test_round_robin_spreads_over_all_partitions(broker, client, topic):
    """Goal: round-robin routing uses every partition and nothing is lost. Method: 3
    partitions, 30 unbatched unkeyed sends, consume 30 and count per partition."""
    _partitioned(broker, topic, 3)
    consumer = _earliest(client, topic)
    producer = client.create_producer(
        topic, batching_enabled=False,
        message_routing_mode=pulsar.PartitionsRoutingMode.RoundRobinDistribution)
    ids = [producer.send(f"r-{i}".encode()) for i in range(30)]
    assert {i.partition() for i in ids} == {0, 1, 2}
    messages = receive_all(consumer, 30)
    assert sorted(m.data() for m in messages) == sorted(f"r-{i}".encode() for i in range(30))
    per_partition = [sum(1 for m in messages if m.message_id().partition() == p) for p in range(3)]
    assert per_partition == [10, 10, 10]
    assert all(m.topic_name().endswith(f"-partition-{m.message_id().partition()}") for m in messages)


def test_single_partition_mode_sticks_to_one_partition(broker, client, topic):
    """Goal: UseSinglePartition sends unkeyed messages to one partition. Method: 4
    partitions, 20 sends, all ids share a partition."""
    _partitioned(broker, topic, 4)
    producer = client.create_producer(
        topic, batching_enabled=False,
        message_routing_mode=pulsar.PartitionsRoutingMode.UseSinglePartition)
    ids = [producer.send(b"s") for _ in range(20)]
    assert len({i.partition() for i in ids}) == 1


def test_keys_hash_to_stable_partitions(broker, client, topic):
    """Goal: keyed messages go to the partition of their key, the same every time. Method: 4
    partitions, 5 keys sent 4 times each; each key's ids share one partition, and a consumer
    sees each key on that partition only."""
    _partitioned(broker, topic, 4)
    consumer = _earliest(client, topic)
    producer = client.create_producer(topic, batching_enabled=False)
    by_key = {}
    for round_ in range(4):
        for k in range(5):
            msg_id = producer.send(f"{k}-{round_}".encode(), partition_key=f"key-{k}")
            by_key.setdefault(f"key-{k}", set()).add(msg_id.partition())
    assert all(len(parts) == 1 for parts in by_key.values())
    for m in receive_all(consumer, 20):
        assert {m.message_id().partition()} == by_key[m.partition_key()]


def test_custom_router_chooses_the_partition(broker, client, topic):
    """Goal: a custom message router decides the partition. Method: 3 partitions, a router
    that always answers 2; every id is on partition 2 and the consumer gets them all there."""
    _partitioned(broker, topic, 3)
    consumer = _earliest(client, topic)
    producer = client.create_producer(topic, batching_enabled=False,
                                      message_router=lambda msg, n: n - 1)
    ids = [producer.send(f"c-{i}".encode()) for i in range(6)]
    assert {i.partition() for i in ids} == {2}
    assert {m.message_id().partition() for m in receive_all(consumer, 6)} == {2}


def test_partitioned_metadata_is_seen_by_get_partitions(broker, client, topic):
    """Goal: the client reports the admin's partition count. Method: create 5 partitions,
    ask the client for the topic's partitions."""
    _partitioned(broker, topic, 5)
    assert len(client.get_topic_partitions(topic)) == 5


def test_growing_partitions_reaches_running_producer_and_consumer(broker, client, topic):
    """Goal: raising the partition count is seen by a running producer and consumer (the C++
    client re-reads the metadata every 60 s; Python cannot shorten that). Method: 1
    partition, update to 3, then send round-robin until a message lands on a new partition
    and the consumer receives it, for at most 100 s."""
    _partitioned(broker, topic, 1)
    consumer = _earliest(client, topic)
    producer = client.create_producer(
        topic, batching_enabled=False,
        message_routing_mode=pulsar.PartitionsRoutingMode.RoundRobinDistribution)
    producer.send(b"before")
    request(broker.admin_url, "POST", f"/admin/v2/persistent/public/default/{topic}/partitions",
            "3")
    assert request(broker.admin_url, "GET",
                   f"/admin/v2/persistent/public/default/{topic}/partitions") == {"partitions": 3}
    deadline = time.monotonic() + 100
    seen = set()
    while time.monotonic() < deadline and not seen - {0}:
        producer.send(b"after")
        try:
            while True:
                seen.add(consumer.receive(timeout_millis=500).message_id().partition())
        except pulsar.Timeout:
            pass
    assert seen - {0}, f"no message on a new partition within 100 s (saw {seen})"
