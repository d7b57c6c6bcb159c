"""Security with pulsar-client: token (keys made by `geminga tokens`), Basic and TLS client
certificate authentication, authorization errors, TLS listeners and HTTPS admin with
certificates made by openssl for the test."""

import base64
import json
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pulsar
import pytest

from support import Broker, geminga_bin, receive_all

TOKEN_PROVIDER = "org.apache.pulsar.broker.authentication.AuthenticationProviderToken"
BASIC_PROVIDER = "org.apache.pulsar.broker.authentication.AuthenticationProviderBasic"
TLS_PROVIDER = "org.apache.pulsar.broker.authentication.AuthenticationProviderTls"


def run(*args) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def tokens(*args) -> str:
    return run(geminga_bin(), "tokens", *args).strip()


def client(url, **kwargs) -> pulsar.Client:
    return pulsar.Client(url, operation_timeout_seconds=5,
                         logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error), **kwargs)


def assert_refused(url, topic, **kwargs):
    """A client whose credentials the broker refuses cannot create a producer. C++ takes the
    ERROR(AuthenticationError) before CONNECTED as a disconnect and retries until its operation
    timeout, as it does against Pulsar, so a Timeout is what the caller sees."""
    c = pulsar.Client(url, operation_timeout_seconds=2,
                      logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error), **kwargs)
    try:
        with pytest.raises((pulsar.AuthenticationError, pulsar.ConnectError, pulsar.Timeout)):
            c.create_producer(topic)
    finally:
        c.close()


def http_get(url, headers=None, context=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def round_trip(c: pulsar.Client, topic: str, payload: bytes):
    consumer = c.subscribe(topic, "sub")
    producer = c.create_producer(topic)
    producer.send(payload)
    [msg] = receive_all(consumer, 1)
    assert msg.data() == payload
    consumer.acknowledge(msg)


@pytest.fixture(scope="module")
def token_keys(tmp_path_factory):
    """An RS256 key pair from `geminga tokens create-key-pair` (made once: RSA key generation
    is slow in a debug build)."""
    d = tmp_path_factory.mktemp("keys")
    private, public = d / "private.key", d / "public.key"
    tokens("create-key-pair", "--output-private-key", str(private),
           "--output-public-key", str(public))
    return private, public


@pytest.fixture
def token_broker(tmp_path, token_keys):
    """RS256 token authentication with the module's key pair."""
    private, public = token_keys
    b = Broker(tmp_path / "data", tmp_path / "broker.log", config={
        "authenticationEnabled": "true",
        "authenticationProviders": TOKEN_PROVIDER,
        "tokenPublicKey": f"file://{public}",
        "authorizationEnabled": "true",
        "superUserRoles": "admin",
    })
    b.private_key = f"file://{private}"
    b.public_key = f"file://{public}"
    yield b
    b.terminate()


def test_token_authentication_and_authorization(token_broker, topic):
    admin_token = tokens("create", "--private-key", token_broker.private_key, "--subject", "admin")
    claims = tokens("validate", "--public-key", token_broker.public_key, admin_token)
    assert "admin" in claims

    admin = client(token_broker.service_url, authentication=pulsar.AuthenticationToken(admin_token))
    round_trip(admin, topic, b"with a token")

    # A valid token for a role with no grant: authenticated, not authorized.
    nobody_token = tokens("create", "--private-key", token_broker.private_key,
                          "--subject", "nobody")
    nobody = client(token_broker.service_url,
                    authentication=pulsar.AuthenticationToken(nobody_token))
    # (create_producer reports the same lookup error as a Timeout in pulsar-client 3.13 after
    # the operation timeout; the partitions lookup surfaces it as it is.)
    with pytest.raises(pulsar.AuthorizationError):
        nobody.get_topic_partitions(topic)
    # No token, or a token that is not the broker's: refused at CONNECT.
    assert_refused(token_broker.service_url, topic)
    assert_refused(token_broker.service_url, topic,
                   authentication=pulsar.AuthenticationToken("not.a.token"))

    # The admin API: Authorization: Bearer.
    tenants = f"{token_broker.admin_url}/admin/v2/tenants"
    assert http_get(tenants)[0] == 401
    status, body = http_get(tenants, {"Authorization": f"Bearer {admin_token}"})
    assert status == 200 and "public" in json.loads(body)
    assert http_get(f"{token_broker.admin_url}/admin/v2/persistent/public/default",
                    {"Authorization": f"Bearer {nobody_token}"})[0] == 403
    admin.close()
    nobody.close()


def test_expired_tokens_are_refused(token_broker, topic):
    expired = tokens("create", "--private-key", token_broker.private_key, "--subject", "admin",
                     "--expiry-time", "1s")
    # `exp` and the broker's clock are whole seconds: wait past the next second boundary too.
    time.sleep(2.5)
    assert_refused(token_broker.service_url, topic,
                   authentication=pulsar.AuthenticationToken(expired))


def test_basic_authentication(tmp_path, topic):
    digest = run("openssl", "passwd", "-apr1", "alice-pw").strip()
    users = tmp_path / "htpasswd"
    users.write_text(f"alice:{digest}\n")
    b = Broker(tmp_path / "data", tmp_path / "broker.log", config={
        "authenticationEnabled": "true",
        "authenticationProviders": BASIC_PROVIDER,
        "basicAuthConf": f"file://{users}",
        "authorizationEnabled": "true",
        "superUserRoles": "alice",
    })
    try:
        alice = client(b.service_url, authentication=pulsar.AuthenticationBasic("alice", "alice-pw"))
        round_trip(alice, topic, b"basic")
        alice.close()
        assert_refused(b.service_url, topic,
                       authentication=pulsar.AuthenticationBasic("alice", "nope"))
        basic = base64.b64encode(b"alice:alice-pw").decode()
        assert http_get(f"{b.admin_url}/admin/v2/tenants",
                        {"Authorization": f"Basic {basic}"})[0] == 200
    finally:
        b.terminate()


def make_certificates(d):
    """A CA, a server certificate for localhost/127.0.0.1 and a client certificate whose common
    name is the role `tls-client`, all signed by the CA."""
    def openssl(*args):
        run("openssl", *args)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem",
            "-days", "2", "-subj", "/CN=geminga-test-ca")
    for name, cn, ext in (("server", "localhost",
                           "subjectAltName=DNS:localhost,IP:127.0.0.1"),
                          ("client", "tls-client", "extendedKeyUsage=clientAuth")):
        openssl("req", *ec, "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr",
                "-subj", f"/CN={cn}")
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem",
                "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-days", "2",
                "-extfile", f"{d}/{name}.ext", "-out", f"{d}/{name}.pem")


def test_tls_listeners_and_client_certificate_authentication(tmp_path, topic):
    make_certificates(tmp_path)
    b = Broker(tmp_path / "data", tmp_path / "broker.log", config={
        "brokerServicePortTls": "0",
        "webServicePortTls": "0",
        "tlsCertificateFilePath": f"{tmp_path}/server.pem",
        "tlsKeyFilePath": f"{tmp_path}/server.key",
        "tlsTrustCertsFilePath": f"{tmp_path}/ca.pem",
        "authenticationEnabled": "true",
        "authenticationProviders": TLS_PROVIDER,
        "authorizationEnabled": "true",
        "superUserRoles": "tls-client",
    })
    try:
        assert b.service_url_tls.startswith("pulsar+ssl://"), b.service_url_tls
        assert b.admin_url_tls.startswith("https://"), b.admin_url_tls
        tls = client(b.service_url_tls, tls_trust_certs_file_path=f"{tmp_path}/ca.pem",
                     authentication=pulsar.AuthenticationTLS(f"{tmp_path}/client.pem",
                                                             f"{tmp_path}/client.key"))
        # The lookup answers brokerServiceUrlTls, or the client could not follow it over TLS.
        round_trip(tls, topic, b"over tls")
        tls.close()

        # Without a client certificate the TLS connection carries no identity.
        assert_refused(b.service_url_tls, topic, tls_trust_certs_file_path=f"{tmp_path}/ca.pem")

        context = ssl.create_default_context(cafile=f"{tmp_path}/ca.pem")
        context.load_cert_chain(f"{tmp_path}/client.pem", f"{tmp_path}/client.key")
        status, body = http_get(f"{b.admin_url_tls}/admin/v2/tenants", context=context)
        assert status == 200 and "public" in json.loads(body)
        no_cert = ssl.create_default_context(cafile=f"{tmp_path}/ca.pem")
        assert http_get(f"{b.admin_url_tls}/admin/v2/tenants", context=no_cert)[0] == 401
    finally:
        b.terminate()


def test_expiring_tokens_are_refreshed_through_auth_challenge(token_broker, topic):
    """pulsar-client (C++) advertises supports_auth_refresh: before its token expires the
    broker sends AUTH_CHALLENGE and the client answers with a fresh token from its supplier,
    so the connection outlives the first token."""
    issued = []

    def supplier():
        issued.append(time.time())
        return tokens("create", "--private-key", token_broker.private_key, "--subject", "admin",
                      "--expiry-time", "3s")

    c = client(token_broker.service_url, authentication=pulsar.AuthenticationToken(supplier))
    consumer = c.subscribe(topic, "sub")
    producer = c.create_producer(topic)
    time.sleep(4.5)
    producer.send(b"after the first token expired")
    [msg] = receive_all(consumer, 1)
    assert msg.data() == b"after the first token expired"
    c.close()
    log = token_broker.log_tail(400)
    assert "AUTH_CHALLENGE" in log, log
    assert "authentication failed" not in log, log
    assert len(issued) >= 2, issued


def http_call(method, url, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def test_hs256_secret_key_config_and_granted_permissions(tmp_path, topic):
    """A standalone.conf-style token setup (tokenSecretKey=file://...) with a key from
    `geminga tokens create-secret-key`; a role gets in once the permissions API grants it
    produce, and is refused again once revoked."""
    key = tmp_path / "secret.key"
    tokens("create-secret-key", "--output", str(key))
    b = Broker(tmp_path / "data", tmp_path / "broker.log", config={
        "authenticationEnabled": "true",
        "authorizationEnabled": "true",
        "authenticationProviders": TOKEN_PROVIDER,
        "tokenSecretKey": f"file://{key}",
        "superUserRoles": "admin",
    })
    try:
        admin_token = tokens("create", "--secret-key", f"file://{key}", "--subject", "admin")
        writer_token = tokens("create", "--secret-key", f"file://{key}", "--subject", "writer")
        assert '"sub":"writer"' in tokens("show", writer_token).replace(" ", "")
        writer = client(b.service_url, authentication=pulsar.AuthenticationToken(writer_token))
        with pytest.raises(pulsar.AuthorizationError):
            writer.get_topic_partitions(topic)

        grants = f"{b.admin_url}/admin/v2/namespaces/public/default/permissions/writer"
        assert http_call("POST", grants, writer_token, ["produce"]) == 403, "not a tenant admin"
        assert http_call("POST", grants, admin_token, ["produce"]) == 204
        producer = writer.create_producer(topic)
        producer.send(b"granted")
        producer.close()

        assert http_call("DELETE", grants, admin_token) == 204
        with pytest.raises(pulsar.AuthorizationError):
            writer.get_topic_partitions(topic)
        writer.close()
    finally:
        b.terminate()
