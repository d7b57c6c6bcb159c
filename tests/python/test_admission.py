"""Deduplication, schemas (JsonSchema, AvroSchema, String), producer access modes and rate
limits with the Python client (pulsar-client, on the C++ client); policies set over HTTP."""

import threading
import time

import pulsar
import pytest
from pulsar.schema import AvroSchema, Integer, JsonSchema, Record, String, StringSchema

from admin_http import AdminError, request
from support import RECEIVE_TIMEOUT_MS, Broker, assert_quiet, make_client, receive_all


def topic_path(topic):
    return f"/admin/v2/persistent/public/default/{topic}"


def full(topic):
    return f"persistent://public/default/{topic}"


# --- deduplication -------------------------------------------------------------------------

def test_dedup_drops_resent_ids_and_survives_restart(tmp_path, topic):
    """Goal: with namespace deduplication a producer re-created under the same name learns
    its last sequence id (PRODUCER_SUCCESS), explicit re-sent ids are dropped with a -1:-1
    message id, and both survive a broker restart. Method: set the namespace policy, send,
    re-create, restart, re-create."""
    broker = Broker(tmp_path / "data", tmp_path / "broker.log")
    try:
        request(broker.admin_url, "POST", "/admin/v2/namespaces/public/default/deduplication", "true")
        assert request(broker.admin_url, "GET", "/admin/v2/namespaces/public/default/deduplication") is True
        client = make_client(broker.service_url)
        producer = client.create_producer(topic, producer_name="py-dedup", batching_enabled=False)
        for i in range(3):
            producer.send(f"a-{i}".encode())
        producer.close()
        producer = client.create_producer(topic, producer_name="py-dedup", batching_enabled=False)
        assert producer.last_sequence_id() == 2
        dup = producer.send(b"again", sequence_id=1)
        assert (dup.ledger_id(), dup.entry_id()) == (-1, -1)
        producer.send(b"b-3")
        client.close()
    finally:
        broker.terminate()

    broker = Broker(tmp_path / "data", tmp_path / "broker2.log")
    try:
        client = make_client(broker.service_url)
        producer = client.create_producer(topic, producer_name="py-dedup", batching_enabled=False)
        assert producer.last_sequence_id() == 3, "the record survives the restart"
        dup = producer.send(b"old", sequence_id=3)
        assert dup.ledger_id() == -1
        producer.send(b"c-4")
        consumer = client.subscribe(topic, "s", initial_position=pulsar.InitialPosition.Earliest)
        got = [m.data() for m in receive_all(consumer, 5)]
        assert got == [b"a-0", b"a-1", b"a-2", b"b-3", b"c-4"]
        assert_quiet(consumer)
        client.close()
    finally:
        broker.terminate()


def test_dedup_with_batches(broker, client, topic):
    """Goal: a batch counts up to its last message's sequence id, so a producer re-created
    under the same name continues after the batch. Method: topic-level policy, a batch of
    5 messages (ids 0..4), re-create, check last_sequence_id and that nothing was lost."""
    client.create_producer(topic).close()  # creates the topic
    request(broker.admin_url, "POST", topic_path(topic) + "/deduplicationEnabled", "true")
    producer = client.create_producer(
        topic, producer_name="py-batch", batching_enabled=True,
        batching_max_messages=5, batching_max_publish_delay_ms=1000)
    done = []
    for i in range(5):
        producer.send_async(f"m-{i}".encode(), lambda res, mid: done.append(res))
    producer.flush()
    deadline = time.time() + 10
    while len(done) < 5 and time.time() < deadline:
        time.sleep(0.05)
    assert done == [pulsar.Result.Ok] * 5
    producer.close()
    producer = client.create_producer(topic, producer_name="py-batch", batching_enabled=False)
    assert producer.last_sequence_id() == 4
    producer.send(b"m-5")
    consumer = client.subscribe(topic, "s", initial_position=pulsar.InitialPosition.Earliest)
    got = [m.data() for m in receive_all(consumer, 6)]
    assert got == [f"m-{i}".encode() for i in range(6)]


# --- schemas ---------------------------------------------------------------------------------

class User(Record):
    name = String()
    age = Integer()


class UserWithEmail(Record):
    """User plus a field with a default: FULL compatible. Python fields are nullable but carry
    no Avro default unless `required_default=True` (Avro needs one for a reader's new field)."""
    name = String()
    age = Integer()
    email = String(required_default=True)


class UserWithRequiredRole(Record):
    name = String()
    age = Integer()
    role = String(required=True)


def rename(record_class, name):
    """Pulsar compares record names; give an evolved class its predecessor's name."""
    record_class.__name__ = name
    return record_class


def test_json_schema_records_round_trip_and_evolve(broker, client, topic):
    """Goal: JsonSchema records go through typed; an optional field is a new version, a
    required one is refused with IncompatibleSchema under FULL, accepted once the namespace
    strategy is ALWAYS_COMPATIBLE. Method: producers with three Record classes."""
    producer = client.create_producer(topic, schema=JsonSchema(User))
    consumer = client.subscribe(topic, "s", schema=JsonSchema(User))
    producer.send(User(name="ada", age=36))
    msg = consumer.receive(timeout_millis=RECEIVE_TIMEOUT_MS)
    assert (msg.value().name, msg.value().age) == ("ada", 36)
    consumer.acknowledge(msg)

    evolved = rename(UserWithEmail, "User")
    producer2 = client.create_producer(topic, schema=JsonSchema(evolved))
    producer2.send(evolved(name="bob", age=7, email="b@x"))
    assert consumer.receive(timeout_millis=RECEIVE_TIMEOUT_MS).value().name == "bob"

    strict = rename(UserWithRequiredRole, "User")
    with pytest.raises(pulsar.IncompatibleSchema):
        client.create_producer(topic, schema=JsonSchema(strict))
    request(broker.admin_url, "PUT",
            "/admin/v2/namespaces/public/default/schemaCompatibilityStrategy", '"ALWAYS_COMPATIBLE"')
    client.create_producer(topic, schema=JsonSchema(strict)).close()

    path = f"/admin/v2/schemas/public/default/{topic}"
    assert request(broker.admin_url, "GET", path + "/versions") == [0, 1, 2]
    latest = request(broker.admin_url, "GET", path + "/schema")
    assert latest["type"] == "JSON" and '"role"' in latest["data"]


def test_avro_schema_and_consumer_registration(broker, client, topic):
    """Goal: AvroSchema records round-trip; a consumer's schema registers on an idle topic
    and a producer with the same schema finds that version. Method: consumer first."""
    consumer = client.subscribe(topic, "s", schema=AvroSchema(User))
    path = f"/admin/v2/schemas/public/default/{topic}/schema"
    registered = request(broker.admin_url, "GET", path)
    assert registered["version"] == 0 and registered["type"] == "AVRO"
    producer = client.create_producer(topic, schema=AvroSchema(User))
    producer.send(User(name="cy", age=3))
    msg = consumer.receive(timeout_millis=RECEIVE_TIMEOUT_MS)
    assert msg.value().name == "cy"
    assert request(broker.admin_url, "GET", path)["version"] == 0, "same schema, same version"
    with pytest.raises(pulsar.IncompatibleSchema):
        client.create_producer(topic, schema=StringSchema())


def test_string_schema_and_bytes_producers(broker, client, topic):
    """Goal: primitive schemas compare by type; a bytes producer may still publish (schema
    validation not enforced) until the namespace enforces it. Method: String producer, a
    bytes producer, then schemaValidationEnforced."""
    producer = client.create_producer(topic, schema=StringSchema())
    producer.send("hello")
    plain = client.create_producer(topic)
    plain.send(b"raw")
    plain.close()
    request(broker.admin_url, "POST",
            "/admin/v2/namespaces/public/default/schemaValidationEnforced", "true")
    with pytest.raises(pulsar.IncompatibleSchema):
        client.create_producer(topic)
    consumer = client.subscribe(topic, "s", schema=StringSchema(),
                                initial_position=pulsar.InitialPosition.Earliest)
    assert consumer.receive(timeout_millis=RECEIVE_TIMEOUT_MS).value() == "hello"


# --- access modes ----------------------------------------------------------------------------

def test_exclusive_and_wait_for_exclusive(client, topic):
    """Goal: an Exclusive producer refuses another exclusive (ProducerFenced) and a shared
    one (ProducerBusy); a WaitForExclusive producer blocks until the holder leaves. Method:
    create the waiter in a thread, close the holder."""
    holder = client.create_producer(topic, access_mode=pulsar.ProducerAccessMode.Exclusive)
    with pytest.raises(pulsar.ProducerFenced):
        client.create_producer(topic, access_mode=pulsar.ProducerAccessMode.Exclusive)
    with pytest.raises(pulsar.ProducerBusy):
        client.create_producer(topic)
    created = []
    waiter = threading.Thread(target=lambda: created.append(client.create_producer(
        topic, access_mode=pulsar.ProducerAccessMode.WaitForExclusive)))
    waiter.start()
    time.sleep(1.5)
    assert not created, "the waiter must wait while the holder is attached"
    holder.send(b"from-holder")
    holder.close()
    waiter.join(20)
    assert created, "the waiter got the topic"
    created[0].send(b"from-waiter")
    consumer = client.subscribe(topic, "s", initial_position=pulsar.InitialPosition.Earliest)
    assert [m.data() for m in receive_all(consumer, 2)] == [b"from-holder", b"from-waiter"]


def test_fencing_closes_the_holder(client, topic):
    """Goal: ExclusiveWithFencing takes the topic; the old exclusive producer cannot publish
    any more. Method: holder, fencer, the holder's send fails."""
    holder = client.create_producer(topic, access_mode=pulsar.ProducerAccessMode.Exclusive,
                                    send_timeout_millis=5000)
    holder.send(b"one")
    fencer = client.create_producer(topic, access_mode=pulsar.ProducerAccessMode.ExclusiveWithFencing)
    fencer.send(b"two")
    with pytest.raises(Exception):
        holder.send(b"late")
    consumer = client.subscribe(topic, "s", initial_position=pulsar.InitialPosition.Earliest)
    assert [m.data() for m in receive_all(consumer, 2)] == [b"one", b"two"]
    assert_quiet(consumer)


# --- rate limits -----------------------------------------------------------------------------

def test_dispatch_and_publish_rates(broker, client, topic):
    """Goal: a subscription dispatch rate and a publish rate of 10 msg/s slow things down
    but lose nothing. Method: 30 messages each way; lower bounds on the time taken."""
    client.create_producer(topic).close()
    path = topic_path(topic)
    request(broker.admin_url, "POST", path + "/publishRate",
            {"publishThrottlingRateInMsg": 10, "publishThrottlingRateInByte": -1})
    request(broker.admin_url, "POST", path + "/subscriptionDispatchRate",
            {"dispatchThrottlingRateInMsg": 10, "dispatchThrottlingRateInByte": -1,
             "ratePeriodInSecond": 1})
    consumer = client.subscribe(topic, "s")
    producer = client.create_producer(topic, batching_enabled=False)
    started = time.time()
    for i in range(30):
        producer.send(f"m-{i}".encode())
    assert time.time() - started >= 1.7, "publishing at 10/s"
    request(broker.admin_url, "DELETE", path + "/publishRate")
    for i in range(30, 60):
        producer.send(f"m-{i}".encode())
    got = [m.data() for m in receive_all(consumer, 60)]
    assert got == [f"m-{i}".encode() for i in range(60)]
    assert time.time() - started >= 4.5, "60 deliveries at 10/s"


def test_namespace_policy_paths_validate(broker):
    """Goal: namespace policy paths store, show and reject like Pulsar's. Method: HTTP."""
    base = "/admin/v2/namespaces/public/default"
    request(broker.admin_url, "POST", base + "/maxConsumersPerTopic", "4")
    assert request(broker.admin_url, "GET", base + "/maxConsumersPerTopic") == 4
    with pytest.raises(AdminError) as bad:
        request(broker.admin_url, "POST", base + "/maxConsumersPerTopic", '"many"')
    assert bad.value.status == 400
    request(broker.admin_url, "POST", base + "/dispatchRate",
            {"dispatchThrottlingRateInMsg": 5, "ratePeriodInSecond": 2})
    policies = request(broker.admin_url, "GET", base)
    assert policies["topicDispatchRate"]["standalone"]["ratePeriodInSecond"] == 2
    assert policies["max_consumers_per_topic"] == 4
    request(broker.admin_url, "DELETE", base + "/dispatchRate")
    assert "topicDispatchRate" not in request(broker.admin_url, "GET", base)
