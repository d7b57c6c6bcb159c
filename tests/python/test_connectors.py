"""IO connectors driven through /admin/v3 (Pulsar's multipart form and plain JSON) and checked
with the Python client: a file source feeding a consumer, surviving a kill -9 of the broker,
and a file sink writing what a Python producer sent."""

import json
import pathlib
import time
import urllib.error
import urllib.request
import uuid

import pulsar

from support import Broker, assert_quiet, make_client, receive_all


def call(broker, method, path, body=None, content_type="application/json"):
    """One admin request; returns (status, body bytes)."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(broker.admin_url + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def multipart(broker, method, path, part, config):
    """Sends `config` as the JSON part `part` of a multipart form, as pulsar-admin does."""
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"{part}\"\r\n"
        f"Content-Type: application/json\r\n\r\n{json.dumps(config)}\r\n--{boundary}--\r\n"
    )
    return call(broker, method, path, body, f"multipart/form-data; boundary={boundary}")


def status(broker, plural, name):
    code, body = call(broker, "GET", f"/admin/v3/{plural}/public/default/{name}/status")
    assert code == 200, (code, body)
    return json.loads(body)


def wait_for(what, check, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def append(path: pathlib.Path, lines):
    with open(path, "a") as f:
        f.write("".join(f"{line}\n" for line in lines))


def test_file_source_feeds_a_python_consumer_and_resumes_after_kill_9(tmp_path, topic):
    """Goal: a source created with Pulsar's multipart form publishes each new line once, and
    after the broker is killed with SIGKILL and restarted on the same data it goes on from where
    it was (effectively-once: no line twice, none lost).
    Method: file source on a directory, Python consumer on the topic, kill -9, new lines."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    broker = Broker(tmp_path / "data", tmp_path / "broker.log")
    try:
        client = make_client(broker.service_url)
        consumer = client.subscribe(topic, "py-sub")
        config = {
            "topicName": topic,
            "archive": "builtin://file",
            "processingGuarantees": "EFFECTIVELY_ONCE",
            "configs": {"inputDirectory": str(inputs), "pollingInterval": 20},
        }
        code, body = multipart(broker, "POST", "/admin/v3/sources/public/default/lines",
                               "sourceConfig", config)
        assert code == 204, body
        append(inputs / "a.txt", [f"line-{i}" for i in range(5)])
        got = [m.data().decode() for m in receive_all(consumer, 5)]
        assert got == [f"line-{i}" for i in range(5)]
        wait_for("numWritten 5", lambda: status(broker, "sources", "lines")["instances"][0]
                 ["status"]["numWritten"] == 5)
        client.close()
        broker.kill()
    finally:
        broker.terminate()

    append(inputs / "a.txt", [f"line-{i}" for i in range(5, 8)])
    broker = Broker(tmp_path / "data", tmp_path / "broker2.log")
    try:
        client = make_client(broker.service_url)
        # The whole topic from the start: each line exactly once, in order.
        consumer = client.subscribe(topic, "py-check",
                                    initial_position=pulsar.InitialPosition.Earliest)
        got = [m.data().decode() for m in receive_all(consumer, 8)]
        assert got == [f"line-{i}" for i in range(8)]
        assert_quiet(consumer)
        client.close()
    finally:
        broker.terminate()


def test_file_sink_writes_python_messages_and_follows_updates(broker, client, topic, tmp_path):
    """Goal: a sink created with a JSON body writes every message a Python producer sent, an
    update changes its guarantee and keeps the rest, delete removes it.
    Method: file sink from the earliest position, 10 messages, then update, status, delete."""
    out = tmp_path / "out"
    config = {
        "inputs": [topic],
        "sinkType": "file",
        "sourceSubscriptionPosition": "Earliest",
        "configs": {"outputDirectory": str(out)},
    }
    code, body = call(broker, "POST", "/admin/v3/sinks/public/default/lines-out",
                      json.dumps(config))
    assert code == 204, body
    producer = client.create_producer(topic, batching_enabled=False)
    for i in range(10):
        producer.send(f"msg-{i}".encode())
    target = out / "lines-out-0.txt"
    wait_for("10 lines", lambda: target.exists() and len(target.read_text().splitlines()) == 10)
    assert target.read_text().splitlines() == [f"msg-{i}" for i in range(10)]

    code, body = multipart(broker, "PUT", "/admin/v3/sinks/public/default/lines-out",
                           "sinkConfig", {"processingGuarantees": "ATMOST_ONCE"})
    assert code == 204, body
    code, body = call(broker, "GET", "/admin/v3/sinks/public/default/lines-out")
    stored = json.loads(body)
    assert stored["processingGuarantees"] == "ATMOST_ONCE"
    assert stored["inputs"] == [topic]
    wait_for("running again", lambda: status(broker, "sinks", "lines-out")["numRunning"] == 1)
    producer.send(b"msg-10")
    wait_for("11 lines", lambda: len(target.read_text().splitlines()) == 11)

    code, _ = call(broker, "DELETE", "/admin/v3/sinks/public/default/lines-out")
    assert code == 204
    code, _ = call(broker, "GET", "/admin/v3/sinks/public/default/lines-out")
    assert code == 404
