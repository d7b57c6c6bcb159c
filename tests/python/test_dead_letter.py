"""Dead letters and retry letters with the C++-based pulsar-client: the client's own
dead-letter policy (with its initial subscription), the broker's dead letters for clients
without one, a poison message that crashes its consumers across a restart, and the
retry-letter flow over a delayed retry topic."""

import subprocess
import sys
import textwrap
import time
import urllib.request
from datetime import timedelta

import pulsar
from pulsar import ConsumerDeadLetterPolicy, ConsumerType

from admin_http import request
from support import Broker, assert_quiet, make_client

EARLIEST = pulsar.InitialPosition.Earliest


def full(topic):
    return f"persistent://public/default/{topic}"


def test_the_client_dead_letter_policy_uses_an_initial_subscription(client, topic):
    """Goal: C++'s dead-letter policy publishes to `<topic>-<sub>-DLQ` after its redeliveries,
    and the DLQ producer's initial subscription keeps the letter for a consumer that comes
    later at the latest position. Method: max 2 redeliveries, nack every delivery."""
    policy = ConsumerDeadLetterPolicy(max_redeliver_count=2,
                                      initial_subscription_name="dlq-init")
    consumer = client.subscribe(topic, "sub", consumer_type=ConsumerType.Shared,
                                initial_position=EARLIEST, dead_letter_policy=policy,
                                negative_ack_redelivery_delay_ms=100)
    client.create_producer(topic, batching_enabled=False).send(b"poison",
                                                              properties={"app": "v"})
    counts = []
    for _ in range(3):
        msg = consumer.receive(timeout_millis=10_000)
        counts.append(msg.redelivery_count())
        consumer.negative_acknowledge(msg)
    assert counts == [0, 1, 2]
    assert_quiet(consumer)
    # Latest position: only the initial subscription made by the DLQ producer has the letter.
    dead = client.subscribe(full(f"{topic}-sub-DLQ"), "dlq-init")
    letter = dead.receive(timeout_millis=10_000)
    assert letter.data() == b"poison"
    props = letter.properties()
    assert props["app"] == "v"
    assert props["REAL_TOPIC"] == full(topic)
    assert "ORIGIN_MESSAGE_ID" in props


def test_the_broker_dead_letters_for_a_client_without_a_policy(tmp_path):
    """Goal: with `deadLetterMaxRedeliverCount=2` the broker moves a message about to be
    delivered a third time to `<topic>-<sub>-DLQ`, key and properties kept, origin added,
    and acks it. Method: a plain Shared consumer nacking every delivery."""
    broker = Broker(tmp_path / "data", tmp_path / "broker.log",
                    config={"deadLetterMaxRedeliverCount": 2})
    try:
        client = make_client(broker.service_url)
        topic = "broker-dlq"
        consumer = client.subscribe(topic, "sub", consumer_type=ConsumerType.Shared,
                                    initial_position=EARLIEST,
                                    negative_ack_redelivery_delay_ms=100)
        sent = client.create_producer(topic, batching_enabled=False).send(
            b"poison", properties={"app": "v"}, partition_key="k1")
        counts = []
        for _ in range(2):
            msg = consumer.receive(timeout_millis=10_000)
            counts.append(msg.redelivery_count())
            consumer.negative_acknowledge(msg)
        assert counts == [0, 1]
        assert_quiet(consumer)
        dead = client.subscribe(full(f"{topic}-sub-DLQ"), "inspect", initial_position=EARLIEST)
        letter = dead.receive(timeout_millis=10_000)
        assert letter.data() == b"poison"
        assert letter.partition_key() == "k1"
        props = letter.properties()
        assert props["app"] == "v"
        assert props["REAL_TOPIC"] == full(topic)
        assert props["ORIGIN_MESSAGE_ID"] == f"{sent.ledger_id()}:{sent.entry_id()}:-1"
        client.close()
    finally:
        broker.terminate()


CRASHING_CONSUMER = textwrap.dedent("""
    import os, sys, pulsar
    client = pulsar.Client(sys.argv[1], operation_timeout_seconds=10)
    consumer = client.subscribe(sys.argv[2], "sub", consumer_type=pulsar.ConsumerType.Shared,
                                initial_position=pulsar.InitialPosition.Earliest)
    msg = consumer.receive(timeout_millis=10_000)
    print("RESULT", msg.data().decode(), msg.redelivery_count(), flush=True)
    os._exit(3)  # crash: no ack, no close, the socket just drops
""")


def crash_on_poison(service_url, topic):
    """Runs a consumer process that receives one message and dies; returns what it saw."""
    run = subprocess.run([sys.executable, "-c", CRASHING_CONSUMER, service_url, topic],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 3, run.stderr
    # The client logs to stdout too; the answer is on its own marked line.
    result = [line.split() for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(result) == 1, run.stdout
    _, data, count = result[0]
    return data, int(count)


def test_a_poison_message_that_crashes_consumers_reaches_the_dlq_across_a_restart(tmp_path):
    """Goal: the broker counts deliveries, so a message whose consumers die before acking
    still reaches the dead-letter topic, and the count survives a broker restart. Method:
    `deadLetterMaxRedeliverCount=2`; a consumer process dies, the broker restarts, another
    dies; the next consumer gets nothing and the DLQ has the message."""
    data, log = tmp_path / "data", tmp_path / "broker.log"
    config = {"deadLetterMaxRedeliverCount": 2}
    broker = Broker(data, log, config=config)
    client = make_client(broker.service_url)
    client.create_producer("poison", batching_enabled=False).send(b"poison")
    client.close()
    assert crash_on_poison(broker.service_url, "poison") == ("poison", 0)
    time.sleep(0.5)  # the broker notices the dead socket and writes the count
    assert broker.terminate() == 0
    broker = Broker(data, log, config=config)
    try:
        assert crash_on_poison(broker.service_url, "poison") == ("poison", 1)
        client = make_client(broker.service_url)
        survivor = client.subscribe("poison", "sub", consumer_type=ConsumerType.Shared)
        assert_quiet(survivor)
        dead = client.subscribe(full("poison-sub-DLQ"), "inspect", initial_position=EARLIEST)
        assert dead.receive(timeout_millis=10_000).data() == b"poison"
        client.close()
    finally:
        broker.terminate()


def test_the_retry_letter_flow_redelivers_through_a_delayed_retry_topic(client, topic):
    """Goal: the retry-letter flow works: the consumer republishes a failed message to
    `<topic>-<sub>-RETRY` with a delivery time and acks the original; the copy comes back from
    the retry topic once due. Method: one consumer on both topics, a 1.5 s retry delay."""
    retry = full(f"{topic}-sub-RETRY")
    consumer = client.subscribe([full(topic), retry], "sub", consumer_type=ConsumerType.Shared,
                                initial_position=EARLIEST)
    client.create_producer(topic, batching_enabled=False).send(b"job")
    first = consumer.receive(timeout_millis=10_000)
    assert first.topic_name() == full(topic)
    retry_producer = client.create_producer(retry, batching_enabled=False)
    retry_producer.send(first.data(), deliver_after=timedelta(milliseconds=1_500),
                        properties={"RECONSUMETIMES": "1", "DELAY_TIME": "1500",
                                    "REAL_TOPIC": full(topic),
                                    "ORIGIN_MESSAGE_ID": str(first.message_id())})
    due = time.time() + 1.5
    consumer.acknowledge(first)
    again = consumer.receive(timeout_millis=10_000)
    assert time.time() >= due - 0.1, "the retry copy waited for its time"
    assert again.topic_name() == retry
    assert again.data() == b"job"
    assert again.properties()["RECONSUMETIMES"] == "1"
    consumer.acknowledge(again)
    assert_quiet(consumer)


def test_namespace_and_topic_dead_letter_policies(broker, client, topic):
    """Goal: the broker's dead-letter policy is settable per namespace and per topic through the
    admin API, the topic's winning. Method: namespace max 5 to its default topic, topic max 1 to
    a named topic; a Shared consumer nacks: after one redelivery the letter is in the topic's
    dead-letter topic; the policies read back and delete."""
    admin = broker.admin_url
    ns = "/admin/v2/namespaces/public/default/deadLetterPolicy"
    topic_path = f"/admin/v2/persistent/public/default/{topic}/deadLetterPolicy"
    consumer = client.subscribe(topic, "sub", consumer_type=ConsumerType.Shared,
                                initial_position=EARLIEST, negative_ack_redelivery_delay_ms=100)
    request(admin, "POST", ns, {"maxRedeliverCount": 5})
    request(admin, "POST", topic_path, {"maxRedeliverCount": 1,
                                        "deadLetterTopic": full(f"{topic}-letters")})
    assert request(admin, "GET", topic_path)["maxRedeliverCount"] == 1
    assert request(admin, "GET", ns)["maxRedeliverCount"] == 5
    time.sleep(1.5)  # the subscription re-reads its policy on its next tick
    client.create_producer(topic, batching_enabled=False).send(b"poison")
    msg = consumer.receive(timeout_millis=10_000)
    assert msg.redelivery_count() == 0
    consumer.negative_acknowledge(msg)
    assert_quiet(consumer)
    dead = client.subscribe(full(f"{topic}-letters"), "inspect", initial_position=EARLIEST)
    assert dead.receive(timeout_millis=10_000).data() == b"poison"
    metrics = urllib.request.urlopen(admin + "/metrics", timeout=10).read().decode()
    counted = [line for line in metrics.splitlines()
               if line.startswith("geminga_subscription_dead_lettered{")
               and f"/{topic}\"" in line and 'subscription="sub"' in line]
    assert len(counted) == 1 and float(counted[0].rsplit(" ", 1)[1]) == 1.0, counted
    request(admin, "DELETE", topic_path)
    request(admin, "DELETE", ns)
    assert request(admin, "GET", ns) is None

    backoff = f"/admin/v2/persistent/public/default/{topic}/redeliveryBackoff"
    request(admin, "POST", backoff, {"minDelayMs": 100, "maxDelayMs": 1000, "multiplier": 2})
    assert request(admin, "GET", backoff) == {"minDelayMs": 100, "maxDelayMs": 1000,
                                              "multiplier": 2}
