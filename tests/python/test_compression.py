"""Compressed batches from pulsar-client (LZ4, ZLIB, ZSTD, SNAPPY): the broker opens them for
compaction, deduplication and dead letters, and consumers still read what it writes back."""

import time

import pulsar
import pytest
from pulsar import CompressionType, ConsumerType

from admin_http import request
from support import RECEIVE_TIMEOUT_MS, Broker, assert_quiet, make_client, receive_all

EARLIEST = pulsar.InitialPosition.Earliest
CODECS = [CompressionType.LZ4, CompressionType.ZLib, CompressionType.ZSTD, CompressionType.SNAPPY]
WAIT_S = 15


def topic_path(topic):
    return f"/admin/v2/persistent/public/default/{topic}"


def full(topic):
    return f"persistent://public/default/{topic}"


def batching_producer(client, topic, codec, **kwargs):
    """A producer that compresses with `codec` and batches until flushed."""
    return client.create_producer(
        topic, compression_type=codec, batching_enabled=True, batching_max_messages=1000,
        batching_max_publish_delay_ms=60_000, **kwargs)


def send_batch(producer, messages):
    """Sends (key, value) pairs as one batch; waits until every send succeeded."""
    results = []
    for key, value in messages:
        producer.send_async(value, lambda res, _mid: results.append(res), partition_key=key)
    producer.flush()
    deadline = time.monotonic() + WAIT_S
    while len(results) < len(messages) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert results == [pulsar.Result.Ok] * len(messages)


def compact(broker, topic):
    """Triggers a compaction and waits for its SUCCESS status; answers the status."""
    request(broker.admin_url, "PUT", f"{topic_path(topic)}/compaction")
    deadline = time.monotonic() + WAIT_S
    while True:
        status = request(broker.admin_url, "GET", f"{topic_path(topic)}/compaction")
        if status["status"] == "SUCCESS":
            return status
        assert status["status"] != "ERROR", status
        assert time.monotonic() < deadline, f"compaction did not finish: {status}"
        time.sleep(0.1)


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
def test_compaction_opens_compressed_batches(broker, client, topic, codec):
    """Goal: compaction sees the keys inside a compressed batch, so a read_compacted reader
    gets only the latest value of each key (none for a tombstoned key) and the rest of the
    log; a plain reader still reads every message of the compressed batch. Method: one batch
    k1=a, k2=b, k1=c, k3=d, k3=<empty>, compact (2 kept, 3 removed), then k2=e."""
    client.subscribe(topic, "keep", initial_position=EARLIEST)  # keeps the log
    producer = batching_producer(client, topic, codec)
    send_batch(producer, [("k1", b"a"), ("k2", b"b"), ("k1", b"c"), ("k3", b"d"), ("k3", b"")])
    status = compact(broker, topic)
    assert (status["keptMessages"], status["removedMessages"]) == (2, 3), status
    send_batch(producer, [("k2", b"e")])

    reader = client.create_reader(topic, pulsar.MessageId.earliest, is_read_compacted=True)
    got = []
    while reader.has_message_available():
        msg = reader.read_next(timeout_millis=RECEIVE_TIMEOUT_MS)
        got.append((msg.partition_key(), msg.data()))
    assert got == [("k2", b"b"), ("k1", b"c"), ("k2", b"e")]

    plain = client.create_reader(topic, pulsar.MessageId.earliest)
    assert [plain.read_next(timeout_millis=RECEIVE_TIMEOUT_MS).data() for _ in range(6)] == [
        b"a", b"b", b"c", b"d", b"", b"e"]


def test_compaction_of_compressed_single_messages(broker, client, topic):
    """Goal: unbatched compressed messages are compacted by their metadata key, and an empty
    value (a non-empty compressed body) is a tombstone. Method: LZ4 without batching,
    k1=a, k2=b, k1=c, k2=<empty>; compact: only k1=c remains; then k3=d."""
    client.subscribe(topic, "keep", initial_position=EARLIEST)
    producer = client.create_producer(topic, compression_type=CompressionType.LZ4,
                                      batching_enabled=False)
    for key, value in [("k1", b"a"), ("k2", b"b"), ("k1", b"c"), ("k2", b"")]:
        producer.send(value, partition_key=key)
    status = compact(broker, topic)
    assert (status["keptMessages"], status["removedMessages"]) == (1, 3), status
    producer.send(b"d", partition_key="k3")
    reader = client.create_reader(topic, pulsar.MessageId.earliest, is_read_compacted=True)
    got = []
    while reader.has_message_available():
        msg = reader.read_next(timeout_millis=RECEIVE_TIMEOUT_MS)
        got.append((msg.partition_key(), msg.data()))
    assert got == [("k1", b"c"), ("k3", b"d")]


@pytest.mark.parametrize("batched", [False, True], ids=["single", "batch"])
def test_a_reader_stops_when_the_last_message_was_compacted_away(broker, client, topic, batched):
    """Goal: when the topic's last message is a tombstone that compaction removed, a
    read_compacted reader's has_message_available turns false after the last kept message
    (the broker answers the compacted log's last message, batch index included) instead of
    promising a message that will never come. Method: k1=a, k2=b, k1=c, k2=<empty> (one LZ4
    batch, or four single messages), compact, read with has_message_available."""
    client.subscribe(topic, "keep", initial_position=EARLIEST)
    messages = [("k1", b"a"), ("k2", b"b"), ("k1", b"c"), ("k2", b"")]
    if batched:
        send_batch(batching_producer(client, topic, CompressionType.LZ4), messages)
    else:
        producer = client.create_producer(topic, batching_enabled=False)
        for key, value in messages:
            producer.send(value, partition_key=key)
    assert compact(broker, topic)["keptMessages"] == 1
    reader = client.create_reader(topic, pulsar.MessageId.earliest, is_read_compacted=True)
    got = []
    while reader.has_message_available():
        msg = reader.read_next(timeout_millis=RECEIVE_TIMEOUT_MS)
        got.append((msg.partition_key(), msg.data()))
    assert got == [("k1", b"c")]


def test_a_second_compaction_builds_on_a_rewritten_compressed_batch(broker, client, topic):
    """Goal: the batch compaction wrote back (uncompressed) is read again by the next
    compaction. Method: ZSTD batch k1=a, k2=b, k1=c; compact; ZSTD batch k2=<empty>, k4=f;
    compact again: k1=c and k4=f remain."""
    client.subscribe(topic, "keep", initial_position=EARLIEST)
    producer = batching_producer(client, topic, CompressionType.ZSTD)
    send_batch(producer, [("k1", b"a"), ("k2", b"b"), ("k1", b"c")])
    assert compact(broker, topic)["keptMessages"] == 2
    send_batch(producer, [("k2", b""), ("k4", b"f")])
    status = compact(broker, topic)
    assert (status["keptMessages"], status["removedMessages"]) == (2, 2), status
    reader = client.create_reader(topic, pulsar.MessageId.earliest, is_read_compacted=True)
    got = []
    while reader.has_message_available():
        msg = reader.read_next(timeout_millis=RECEIVE_TIMEOUT_MS)
        got.append((msg.partition_key(), msg.data()))
    assert got == [("k1", b"c"), ("k4", b"f")]


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
def test_dedup_reads_the_last_sequence_id_of_a_compressed_batch(tmp_path, topic, codec):
    """Goal: with deduplication, a compressed batch counts up to its last message's sequence id
    (C++ sends only the first id in SEND), durably: a producer re-created under the same name,
    before and after a broker restart, continues after the batch and a re-sent id inside it
    is dropped. Method: namespace policy; one compressed batch of ids 0..4."""
    broker = Broker(tmp_path / "data", tmp_path / "broker.log")
    try:
        request(broker.admin_url, "POST", "/admin/v2/namespaces/public/default/deduplication",
                "true")
        client = make_client(broker.service_url)
        producer = batching_producer(client, topic, codec, producer_name="py-comp")
        send_batch(producer, [(None, f"m-{i}".encode()) for i in range(5)])
        producer.close()
        producer = client.create_producer(topic, producer_name="py-comp", batching_enabled=False)
        assert producer.last_sequence_id() == 4
        dup = producer.send(b"again", sequence_id=3)
        assert (dup.ledger_id(), dup.entry_id()) == (-1, -1)
        client.close()
    finally:
        broker.terminate()

    broker = Broker(tmp_path / "data", tmp_path / "broker2.log")
    try:
        client = make_client(broker.service_url)
        producer = client.create_producer(topic, producer_name="py-comp", batching_enabled=False)
        assert producer.last_sequence_id() == 4, "the record survives the restart"
        assert producer.send(b"old", sequence_id=2).ledger_id() == -1
        producer.send(b"m-5")
        consumer = client.subscribe(topic, "s", initial_position=EARLIEST)
        got = [m.data() for m in receive_all(consumer, 6)]
        assert got == [f"m-{i}".encode() for i in range(6)]
        assert_quiet(consumer)
        client.close()
    finally:
        broker.terminate()


def test_the_broker_dead_letters_the_unacked_messages_of_a_compressed_batch(tmp_path, topic):
    """Goal: the broker's dead-lettering opens a compressed batch: the dead-letter topic gets
    only the messages still unacked, each with its key, properties and its own origin id
    (batch index included). Method: `deadLetterMaxRedeliverCount=2`, an LZ4 batch of 3, a
    Shared consumer with batch-index acks that acks message 0 and nacks the others."""
    broker = Broker(tmp_path / "data", tmp_path / "broker.log",
                    config={"deadLetterMaxRedeliverCount": 2})
    try:
        client = make_client(broker.service_url)
        consumer = client.subscribe(topic, "sub", consumer_type=ConsumerType.Shared,
                                    initial_position=EARLIEST, batch_index_ack_enabled=True,
                                    negative_ack_redelivery_delay_ms=100)
        producer = batching_producer(client, topic, CompressionType.LZ4)
        results = []
        for i in range(3):
            producer.send_async(f"m{i}".encode(), lambda res, _mid: results.append(res),
                                partition_key=f"k{i}", properties={"app": str(i)})
        producer.flush()
        first = receive_all(consumer, 3)
        assert [m.data() for m in first] == [b"m0", b"m1", b"m2"]
        ids = {m.data(): m.message_id() for m in first}
        consumer.acknowledge(first[0])
        consumer.negative_acknowledge(first[1])
        consumer.negative_acknowledge(first[2])
        again = receive_all(consumer, 2)
        assert [m.data() for m in again] == [b"m1", b"m2"]
        assert [m.redelivery_count() for m in again] == [1, 1]
        for msg in again:
            consumer.negative_acknowledge(msg)
        assert_quiet(consumer)

        dead = client.subscribe(full(f"{topic}-sub-DLQ"), "inspect", initial_position=EARLIEST)
        letters = receive_all(dead, 2)
        assert_quiet(dead)
        assert [(m.data(), m.partition_key()) for m in letters] == [(b"m1", "k1"), (b"m2", "k2")]
        for letter, index in zip(letters, (1, 2)):
            props = letter.properties()
            assert props["app"] == str(index)
            assert props["REAL_TOPIC"] == full(topic)
            origin = ids[letter.data()]
            assert props["ORIGIN_MESSAGE_ID"] == (
                f"{origin.ledger_id()}:{origin.entry_id()}:-1:{index}")
        client.close()
    finally:
        broker.terminate()
