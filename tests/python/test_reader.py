"""Readers: non-durable reads from the earliest message or from a message id."""

import pulsar

from support import RECEIVE_TIMEOUT_MS


def _send(client, topic, prefix, count):
    producer = client.create_producer(topic)
    return [producer.send(f"{prefix}-{i}".encode()) for i in range(count)]


def _read(reader, count):
    return [reader.read_next(timeout_millis=RECEIVE_TIMEOUT_MS).data() for _ in range(count)]


def test_reader_from_earliest_and_has_message_available(client, topic):
    """Goal: a reader from earliest reads all messages in order and has_message_available tracks
    what is left. Method: send 3, check availability before, during and after reading."""
    _send(client, topic, "e", 3)
    reader = client.create_reader(topic, pulsar.MessageId.earliest)
    assert reader.has_message_available()
    assert _read(reader, 2) == [b"e-0", b"e-1"]
    assert reader.has_message_available()
    assert _read(reader, 1) == [b"e-2"]
    assert not reader.has_message_available()
    reader.close()

    again = client.create_reader(topic, pulsar.MessageId.earliest)
    assert _read(again, 3) == [b"e-0", b"e-1", b"e-2"], "reading consumed nothing"


def test_reader_from_message_id_exclusive_by_default(client, topic):
    """Goal: a reader started on a message id continues after it (the C++ default excludes the
    start message). Method: send 5, start on the 3rd, expect the 4th and 5th."""
    ids = _send(client, topic, "i", 5)
    reader = client.create_reader(topic, ids[2])
    assert _read(reader, 2) == [b"i-3", b"i-4"]
    assert not reader.has_message_available()


def test_reader_from_message_id_inclusive(client, topic):
    """Goal: with start_message_id_inclusive the start message itself comes first, which needs
    the broker to position the cursor at (not after) that entry. Method: start on the 3rd of 5."""
    ids = _send(client, topic, "i", 5)
    reader = client.create_reader(topic, ids[2], start_message_id_inclusive=True)
    assert _read(reader, 3) == [b"i-2", b"i-3", b"i-4"]
    assert not reader.has_message_available()
