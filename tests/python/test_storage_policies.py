"""Storage policies with pulsar-client: retention keeps acknowledged messages for readers,
message TTL expires backlogs, producer_exception backlog quotas refuse producers with Pulsar's
error, and read_compacted readers see the latest value of each key."""

import time

import pulsar
import pytest

from admin_http import request
from support import RECEIVE_TIMEOUT_MS, Broker, make_client

# Short periods so the policies act within a test (Geminga's finer-grained keys).
FAST = {
    "retentionGracePeriodSeconds": 0,
    "retentionCheckIntervalInSeconds": 1,
    "backlogQuotaCheckIntervalInSeconds": 1,
    "brokerServiceCompactionMonitorIntervalInSeconds": 1,
    "messageExpiryCheckIntervalInSeconds": 1,
}
NS = "/admin/v2/namespaces/public/default"
WAIT_S = 15


@pytest.fixture
def fast_broker(tmp_path):
    b = Broker(tmp_path / "data", tmp_path / "broker.log", config=FAST)
    yield b
    b.terminate()


@pytest.fixture
def fast_client(fast_broker):
    c = make_client(fast_broker.service_url)
    yield c
    c.close()


def topic_path(topic):
    return f"/admin/v2/persistent/public/default/{topic}"


def wait_for(what, check):
    """Polls `check()` until it answers something truthy, at most WAIT_S; answers it."""
    deadline = time.monotonic() + WAIT_S
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def holds(broker, topic):
    return request(broker.admin_url, "GET", f"{topic_path(topic)}/storage-holds")


def consume_and_ack(client, topic, count):
    consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
    for _ in range(count):
        consumer.acknowledge(consumer.receive(timeout_millis=RECEIVE_TIMEOUT_MS))
    return consumer


def send(client, topic, payloads):
    producer = client.create_producer(topic, batching_enabled=False)
    for payload in payloads:
        producer.send(payload)
    producer.close()


def test_acknowledged_messages_are_deleted_without_retention(fast_broker, fast_client, topic):
    """Goal: by default acknowledged messages are deleted, so a reader from the earliest finds
    none. Method: send 3, consume and ack them; wait until storage-holds shows nothing stored;
    a reader from earliest reads nothing (has_message_available may still say yes: it compares
    with the last message id, which stays, as with Pulsar)."""
    send(fast_client, topic, [b"a", b"b", b"c"])
    consume_and_ack(fast_client, topic, 3)
    wait_for("trim", lambda: holds(fast_broker, topic)["storedEntries"] == 0)
    reader = fast_client.create_reader(topic, pulsar.MessageId.earliest)
    with pytest.raises(pulsar.Timeout):
        reader.read_next(timeout_millis=1000)


def test_retention_keeps_acknowledged_messages_for_readers(fast_broker, fast_client, topic):
    """Goal: with a namespace retention policy acknowledged messages stay readable by a Reader,
    and storage-holds names the policy. Method: retention 10 min / 10 MB; send 3, consume and
    ack them; the report shows a retention hold; a reader from earliest reads all 3."""
    request(fast_broker.admin_url, "POST", f"{NS}/retention",
            {"retentionTimeInMinutes": 10, "retentionSizeInMB": 10})
    assert request(fast_broker.admin_url, "GET", f"{NS}/retention") == {
        "retentionTimeInMinutes": 10, "retentionSizeInMB": 10}
    send(fast_client, topic, [b"a", b"b", b"c"])
    consume_and_ack(fast_client, topic, 3)

    report = wait_for("a retention hold", lambda: (
        r := holds(fast_broker, topic))["holds"] and any(
            h["type"] == "retention" for h in r["holds"]) and r)
    assert report["storedEntries"] == 3, report
    reader = fast_client.create_reader(topic, pulsar.MessageId.earliest)
    got = [reader.read_next(timeout_millis=RECEIVE_TIMEOUT_MS).data() for _ in range(3)]
    assert got == [b"a", b"b", b"c"]


def test_message_ttl_expires_the_backlog(fast_broker, fast_client, topic):
    """Goal: messages left unacknowledged past the namespace TTL are expired from the
    subscription. Method: TTL 1 s, checked every second; a subscription that never receives;
    send 3; its backlog reaches 0 and a consumer then receives nothing."""
    request(fast_broker.admin_url, "POST", f"{NS}/messageTTL", "1")
    consumer = fast_client.subscribe(topic, "idle", consumer_type=pulsar.ConsumerType.Shared,
                                     receiver_queue_size=1)
    consumer.close()
    send(fast_client, topic, [b"x", b"y", b"z"])

    def backlog():
        stats = request(fast_broker.admin_url, "GET", f"{topic_path(topic)}/stats")
        return stats["subscriptions"]["idle"]["msgBacklog"]

    wait_for("expiry", lambda: backlog() == 0)
    consumer = fast_client.subscribe(topic, "idle", consumer_type=pulsar.ConsumerType.Shared)
    with pytest.raises(pulsar.Timeout):
        consumer.receive(timeout_millis=1000)


def test_producer_exception_quota_refuses_producers(fast_broker, fast_client, topic):
    """Goal: over a producer_exception backlog quota a new producer is refused with
    ProducerBlockedQuotaExceededException, as with Pulsar, and accepted once the backlog is
    acknowledged. Method: topic quota 1 KiB; an unacknowledging subscription; two 600-byte
    messages; create_producer raises; after the acks it succeeds."""
    consumer = fast_client.subscribe(topic, "slow",
                                     initial_position=pulsar.InitialPosition.Earliest)
    request(fast_broker.admin_url, "POST",
            f"{topic_path(topic)}/backlogQuota?backlogQuotaType=destination_storage",
            {"limitSize": 1024, "limitTime": -1, "policy": "producer_exception"})
    send(fast_client, topic, [b"a" * 600, b"b" * 600])
    wait_for("blocked", lambda: holds(fast_broker, topic)["producersBlocked"])
    with pytest.raises(pulsar.ProducerBlockedQuotaExceededException):
        fast_client.create_producer(topic)

    for _ in range(2):
        consumer.acknowledge(consumer.receive(timeout_millis=RECEIVE_TIMEOUT_MS))
    wait_for("unblocked", lambda: not holds(fast_broker, topic)["producersBlocked"])
    fast_client.create_producer(topic).send(b"ok")


def test_read_compacted_sees_the_latest_value_of_each_key(fast_broker, fast_client, topic):
    """Goal: after PUT .../compaction a read_compacted reader gets only the latest message of
    each key, none of a key whose latest message is a tombstone (empty payload), then what was
    published after the compaction; a plain reader still gets everything. Method: a subscription
    keeps the log (without one it is deleted at once here); k1=a, k2=b, k1=c, k3=d, k3=<empty>;
    compact and wait for SUCCESS (2 kept, 3 removed); publish k2=e."""
    fast_client.subscribe(topic, "keep", initial_position=pulsar.InitialPosition.Earliest)
    producer = fast_client.create_producer(topic, batching_enabled=False)
    for key, value in [("k1", b"a"), ("k2", b"b"), ("k1", b"c"), ("k3", b"d"), ("k3", b"")]:
        producer.send(value, partition_key=key)
    request(fast_broker.admin_url, "PUT", f"{topic_path(topic)}/compaction")
    status = wait_for("compaction", lambda: (r := request(
        fast_broker.admin_url, "GET", f"{topic_path(topic)}/compaction"))["status"] == "SUCCESS"
        and r)
    assert (status["keptMessages"], status["removedMessages"]) == (2, 3), status
    producer.send(b"e", partition_key="k2")

    reader = fast_client.create_reader(topic, pulsar.MessageId.earliest, is_read_compacted=True)
    got = []
    while reader.has_message_available():
        msg = reader.read_next(timeout_millis=RECEIVE_TIMEOUT_MS)
        got.append((msg.partition_key(), msg.data()))
    assert got == [("k2", b"b"), ("k1", b"c"), ("k2", b"e")]

    plain = fast_client.create_reader(topic, pulsar.MessageId.earliest)
    assert [plain.read_next(timeout_millis=RECEIVE_TIMEOUT_MS).data() for _ in range(6)] == [
        b"a", b"b", b"c", b"d", b"", b"e"]
