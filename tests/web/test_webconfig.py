"""``--web.config.file``: TLS, client certificates and bcrypt basic auth, as in the exporter-toolkit.

Why: /metrics carries the site's layout, serial numbers and power flows; people expose it beyond the
host and want the same TLS/auth switches their Go exporters have, with the same file (checked by
``promtool check web-config``). Liveness (/healthz) must stay reachable without credentials.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import ipaddress
import logging
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from exporter.config import Config, ConfigError
from exporter.scrape.collector import PowerwallCollector
from exporter.simulator import SimulatedGateway
from exporter.web.server import ExporterApp, ExporterServer
from exporter.web.webconfig import WebConfig, load_web_config
from tests.support.exporter import start_exporter
from tests.support.prereqs import require_binary
from tests.support.wiring import gateway_config

USER = "prometheus"
PASSWORD = "scrape-secret-5d1e"  # distinctive so the leak check can search for it
PROMTOOL = "/usr/bin/promtool"


# ------------------------------------------------------------------------------ certificates
@dataclass
class Pem:
    cert: Path
    key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    out: Path,
    cn: str,
    *,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    ca: bool = False,
    client: bool = False,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, Pem]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer[0].subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if not client:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    pem = Pem(out / f"{cn}.crt", out / f"{cn}.key")
    pem.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    pem.key.chmod(0o600)
    return cert, key, pem


@dataclass
class Pki:
    server: Pem
    client_ca: Pem
    client: Pem


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    _, _, server = _issue(d, "localhost")
    ca_cert, ca_key, ca = _issue(d, "client-ca", ca=True)
    _, _, client = _issue(d, "scraper", issuer=(ca_cert, ca_key), client=True)
    return Pki(server, ca, client)


def write_web_config(path: Path, pki: Pki, *, client_auth: bool = False, users: bool = True) -> Path:
    tls: dict[str, str] = {"cert_file": pki.server.cert.name, "key_file": pki.server.key.name}
    if client_auth:
        tls["client_ca_file"] = str(pki.client_ca.cert)
        tls["client_auth_type"] = "RequireAndVerifyClientCert"
    doc: dict[str, object] = {"tls_server_config": tls}
    if users:
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
        doc["basic_auth_users"] = {USER: hashed}
    # Relative paths resolve against the web config's directory, as in the exporter-toolkit.
    shutil.copy(pki.server.cert, path.parent / pki.server.cert.name)
    shutil.copy(pki.server.key, path.parent / pki.server.key.name)
    path.write_text(yaml.safe_dump(doc))
    return path


# ------------------------------------------------------------------------------------ client
def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def https_get(
    port: int, path: str, pki: Pki, auth: str | None = None, client_cert: bool = False
) -> tuple[int, dict[str, str], bytes]:
    ctx = ssl.create_default_context(cafile=str(pki.server.cert))
    if client_cert:
        ctx.load_cert_chain(str(pki.client.cert), str(pki.client.key))
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": auth} if auth else {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.fixture
def serve(sim: SimulatedGateway) -> Iterator[Callable[[WebConfig], int]]:
    """Start an in-process exporter with a given WebConfig; returns a starter function."""
    started: list[tuple[ExporterServer, PowerwallCollector]] = []

    def start(web: WebConfig) -> int:
        collector = PowerwallCollector(Config(gateways=(gateway_config(sim),), state_file=None))
        server = ExporterServer(ExporterApp(collector, web=web), "127.0.0.1:0", web)
        server.start()
        started.append((server, collector))
        return server.port

    yield start
    for server, collector in started:
        server.stop()
        collector.close()


# ------------------------------------------------------------------------------------ tests
def test_tls_and_basic_auth(
    serve: Callable[[WebConfig], int], pki: Pki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    web = load_web_config(write_web_config(tmp_path / "web.yml", pki))
    port = serve(web)

    status, headers, _ = https_get(port, "/metrics", pki)
    assert status == 401
    assert headers["www-authenticate"].startswith("Basic ")
    for wrong in (basic(USER, "nope"), basic("someone", PASSWORD), "Basic !!!", "Bearer x", basic(USER, "")):
        assert https_get(port, "/metrics", pki, wrong)[0] == 401, wrong
    assert https_get(port, "/", pki)[0] == 401
    assert https_get(port, "/probe?target=home", pki)[0] == 401

    status, _, body = https_get(port, "/metrics", pki, basic(USER, PASSWORD))
    assert status == 200
    assert b'powerwall_up{gateway="home"} 1.0' in body
    # The verdict is cached, so Prometheus' repeated header does not cost a bcrypt each scrape.
    start = time.monotonic()
    for _ in range(5):
        assert https_get(port, "/", pki, basic(USER, PASSWORD))[0] == 200
    assert time.monotonic() - start < 2.0

    assert https_get(port, "/healthz", pki)[0] == 200  # liveness stays open

    # Plain HTTP on the TLS port gets no metrics.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        try:
            reply = s.recv(1024)
        except OSError:
            reply = b""
    assert not reply.startswith(b"HTTP/1.0 200")

    assert PASSWORD not in caplog.text


def test_client_certificate_required(serve: Callable[[WebConfig], int], pki: Pki, tmp_path: Path) -> None:
    web = load_web_config(write_web_config(tmp_path / "web.yml", pki, client_auth=True, users=False))
    port = serve(web)
    status, _, body = https_get(port, "/metrics", pki, client_cert=True)
    assert status == 200 and b"powerwall_up" in body
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        https_get(port, "/metrics", pki, client_cert=False)


def test_promtool_accepts_the_web_config(pki: Pki, tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    for kw in ({}, {"client_auth": True}):
        d = tmp_path / ("mtls" if kw else "plain")
        d.mkdir()
        path = write_web_config(d / "web.yml", pki, **kw)
        load_web_config(path)  # we accept it ...
        r = subprocess.run([promtool, "check", "web-config", str(path)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr  # ... and so does Prometheus' own checker


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        ({"basic_auth_users": {"u": "plaintext"}}, "basic_auth_users.u"),
        ({"tls_server_config": {"cert_file": "x.crt"}}, "tls_server_config.key_file"),
        ({"tls_server_config": {"cert_file": "a", "key_file": "b", "bogus": 1}}, "tls_server_config.bogus"),
        ({"tls_server_config": {"cert_file": "a", "key_file": "b", "client_auth_type": "Maybe"}}, "client_auth_type"),
        ({"no_such_section": {}}, "no_such_section"),
    ],
)
def test_invalid_web_config_names_the_key(doc: dict[str, object], key: str, tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as err:
        load_web_config(path)
    assert key in str(err.value)


def test_cli_flag_serves_tls_with_auth(pki: Pki, tmp_path: Path) -> None:
    """The real command line: ``--web.config.file`` turns the demo's /metrics into HTTPS + auth."""
    web = write_web_config(tmp_path / "web.yml", pki)
    exp = start_exporter(
        None,
        tmp_path,
        "--demo",
        f"--web.config.file={web}",
        log_level="warn",
        ready=lambda e: https_get(e.port, "/healthz", pki)[0] == 200,
    )
    try:
        assert https_get(exp.port, "/metrics", pki)[0] == 401
        status, _, body = https_get(exp.port, "/metrics", pki, basic(USER, PASSWORD))
        assert status == 200 and b'powerwall_up{gateway="demo"} 1.0' in body
    finally:
        err = exp.stop()
    assert PASSWORD not in err
    assert "Traceback" not in err, err
