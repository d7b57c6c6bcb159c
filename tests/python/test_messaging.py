"""Producing and consuming: metadata, batching, compression and topic name forms."""

import pulsar
import pytest

from support import assert_quiet, position, receive_all

EVENT_TIME_BASE = 1_700_000_000_000


def test_round_trip_keeps_payload_and_metadata(client, topic):
    """Goal: one message keeps payload, key, properties, event time, producer name and id.
    Method: send unbatched, consume, compare with what was sent and the returned id."""
    consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
    producer = client.create_producer(topic, producer_name="py-producer")
    sent_id = producer.send(b"hello", properties={"a": "1", "b": "two"}, partition_key="k1",
                            event_timestamp=EVENT_TIME_BASE)

    msg = consumer.receive(timeout_millis=10_000)
    assert msg.data() == b"hello"
    assert msg.properties() == {"a": "1", "b": "two"}
    assert msg.partition_key() == "k1"
    assert msg.event_timestamp() == EVENT_TIME_BASE
    assert msg.producer_name() == "py-producer"
    assert msg.publish_timestamp() > 0
    assert position(msg.message_id()) == position(sent_id)
    consumer.acknowledge(msg)
    assert_quiet(consumer)


def test_batching_delivers_all_in_order_with_keys_and_properties(client, topic):
    """Goal: batched sends arrive complete, in order, with per-message keys and properties.
    Method: 500 async sends with batching on, flush, consume 500 and check each."""
    count = 500
    consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
    producer = client.create_producer(topic, batching_enabled=True, batching_max_messages=50,
                                      batching_max_publish_delay_ms=20, block_if_queue_full=True)
    results = []
    for i in range(count):
        producer.send_async(f"m-{i}".encode(), lambda res, _id: results.append(res),
                            properties={"i": str(i)}, partition_key=f"key-{i % 7}")
    producer.flush()
    assert len(results) == count and all(r == pulsar.Result.Ok for r in results)

    messages = receive_all(consumer, count)
    for i, msg in enumerate(messages):
        assert msg.data() == f"m-{i}".encode()
        assert msg.properties() == {"i": str(i)}
        assert msg.partition_key() == f"key-{i % 7}"
        consumer.acknowledge(msg)
    assert any(m.message_id().batch_index() > 0 for m in messages), "messages were batched"
    positions = [position(m.message_id()) for m in messages]
    assert positions == sorted(positions)
    assert_quiet(consumer)


@pytest.mark.parametrize("batching", [False, True], ids=["single", "batched"])
@pytest.mark.parametrize("codec", ["LZ4", "ZLib", "ZSTD", "SNAPPY"])
def test_compressed_payloads_pass_through(client, topic, codec, batching):
    """Goal: compressed payloads reach the consumer intact. Method: send 20 compressible
    messages with the codec, batched or not, and compare the decompressed payloads."""
    compression = getattr(pulsar.CompressionType, codec)
    consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
    producer = client.create_producer(topic, compression_type=compression,
                                      batching_enabled=batching, batching_max_messages=10)
    payloads = [(f"{i}:" + "compressible text " * 200).encode() for i in range(20)]
    for p in payloads:
        producer.send_async(p, None)
    producer.flush()

    got = [m.data() for m in receive_all(consumer, len(payloads))]
    assert got == payloads


def test_short_and_full_names_are_one_topic(client, topic):
    """Goal: `x` and `persistent://public/default/x` address one topic. Method: produce on each
    form and consume both messages on a subscription made with the other form."""
    full = f"persistent://public/default/{topic}"
    on_full = client.subscribe(full, "sub-full", initial_position=pulsar.InitialPosition.Earliest)
    on_short = client.subscribe(topic, "sub-short",
                                initial_position=pulsar.InitialPosition.Earliest)
    client.create_producer(topic).send(b"from-short")
    client.create_producer(full).send(b"from-full")

    assert [m.data() for m in receive_all(on_full, 2)] == [b"from-short", b"from-full"]
    assert [m.data() for m in receive_all(on_short, 2)] == [b"from-short", b"from-full"]
