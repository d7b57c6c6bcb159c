"""Tenants and namespaces with the Python client: missing ones refuse, new ones work,
auto topic creation follows the broker and namespace settings."""

import uuid

import pulsar
import pytest

from admin_http import AdminError, request
from support import Broker, make_client, receive_all


def _ns():
    return f"ns-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("missing", ["ghost-tenant/default", "public/ghost-namespace"])
def test_producer_and_consumer_in_a_missing_namespace_are_refused(client, missing):
    """Goal: a topic in a missing tenant or namespace is TopicNotFound. Method: create a
    producer and a consumer there and expect TopicNotFound from both."""
    topic = f"persistent://{missing}/t"
    with pytest.raises(pulsar.TopicNotFound):
        client.create_producer(topic)
    with pytest.raises(pulsar.TopicNotFound):
        client.subscribe(topic, "sub")


def test_tenant_and_namespace_made_by_admin_carry_messages(broker, client):
    """Goal: a tenant and namespace created over the admin API are usable at once, and the
    namespace lists its topic. Method: create both, produce and consume 5 messages."""
    ns = _ns()
    request(broker.admin_url, "PUT", "/admin/v2/tenants/acme",
            {"adminRoles": [], "allowedClusters": ["standalone"]})
    request(broker.admin_url, "PUT", f"/admin/v2/namespaces/acme/{ns}")
    topic = f"persistent://acme/{ns}/orders"
    consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
    producer = client.create_producer(topic)
    for i in range(5):
        producer.send(f"m-{i}".encode())
    assert [m.data() for m in receive_all(consumer, 5)] == [f"m-{i}".encode() for i in range(5)]
    assert request(broker.admin_url, "GET", f"/admin/v2/persistent/acme/{ns}") == [topic]
    with pytest.raises(AdminError) as busy:
        request(broker.admin_url, "DELETE", f"/admin/v2/namespaces/acme/{ns}")
    assert busy.value.status == 409


def test_namespace_auto_creation_partitioned_creates_partitions(broker, client):
    """Goal: a namespace whose auto-creation is `partitioned` with 3 partitions turns a new
    topic into a 3-partition topic. Method: set the policy, produce 9 round-robin messages,
    check the metadata and that all three partitions got messages."""
    ns = _ns()
    request(broker.admin_url, "PUT", f"/admin/v2/namespaces/public/{ns}")
    request(broker.admin_url, "POST", f"/admin/v2/namespaces/public/{ns}/autoTopicCreation",
            {"allowAutoTopicCreation": True, "topicType": "partitioned", "defaultNumPartitions": 3})
    topic = f"persistent://public/{ns}/auto"
    consumer = client.subscribe(topic, "sub", initial_position=pulsar.InitialPosition.Earliest)
    producer = client.create_producer(
        topic, batching_enabled=False,
        message_routing_mode=pulsar.PartitionsRoutingMode.RoundRobinDistribution)
    for i in range(9):
        producer.send(f"a-{i}".encode())
    assert request(broker.admin_url, "GET", f"/admin/v2/persistent/public/{ns}/auto/partitions") \
        == {"partitions": 3}
    partitions = {m.message_id().partition() for m in receive_all(consumer, 9)}
    assert partitions == {0, 1, 2}


def test_namespace_can_forbid_auto_creation(broker, client):
    """Goal: `allowAutoTopicCreation=false` on a namespace refuses unknown topics but keeps
    existing ones working. Method: create one topic, switch creation off, expect a new topic to
    fail and the old one to work."""
    ns = _ns()
    request(broker.admin_url, "PUT", f"/admin/v2/namespaces/public/{ns}")
    existing = f"persistent://public/{ns}/existing"
    client.create_producer(existing).close()
    request(broker.admin_url, "POST", f"/admin/v2/namespaces/public/{ns}/autoTopicCreation",
            {"allowAutoTopicCreation": False, "topicType": "non-partitioned"})
    with pytest.raises(pulsar.TopicNotFound):
        client.create_producer(f"persistent://public/{ns}/new-one")
    client.create_producer(existing).send(b"still works")


def test_broker_setting_disables_auto_creation(tmp_path):
    """Goal: `allowAutoTopicCreation=false` in the broker config refuses unknown topics, while
    an admin-created partitioned topic is usable. Method: start with that config, expect
    TopicNotFound, create a partitioned topic, produce to it."""
    conf = tmp_path / "broker.conf"
    conf.write_text("allowAutoTopicCreation=false\n")
    broker = Broker(tmp_path / "data", tmp_path / "broker.log", ["--config", str(conf)])
    try:
        client = make_client(broker.service_url)
        with pytest.raises(pulsar.TopicNotFound):
            client.create_producer("no-such-topic")
        with pytest.raises(pulsar.TopicNotFound):
            client.subscribe("no-such-topic", "sub")
        request(broker.admin_url, "PUT", "/admin/v2/persistent/public/default/made/partitions", "2")
        producer = client.create_producer("made")
        producer.send(b"x")
        client.close()
    finally:
        broker.terminate()
