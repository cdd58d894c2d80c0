"""The exporter's own HTTP server under hostile or careless clients.

Why: the old wsgiref server spent a thread per connection and never timed out a read. Reproduced:
200 idle or half-sent connections held 200 threads forever, ~52 of them broke /metrics under the
systemd unit's TasksMax=64, ~35 unfinished fat requests exceeded its MemoryMax. Basic auth answered
a 100-byte password with a 500 and a traceback, and told unknown user names by answering 100x faster.
SIGHUP killed the process. Every test here uses the real server on 127.0.0.1 with real sockets.
"""

from __future__ import annotations

import base64
import gc
import http.client
import logging
import os
import re
import signal
import socket
import ssl
import statistics
import subprocess
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any, cast

import bcrypt
import pytest

from exporter.metrics.metricset import MetricSet
from exporter.scrape.collector import PowerwallCollector
from exporter.web.http11 import HTTPServer
from exporter.web.http_parse import Limits
from exporter.web.server import ExporterApp, ExporterServer, parse_listen_address
from exporter.web.webconfig import TLSServerConfig, WebConfig
from exporter.web.wsgi import wsgi_handler
from tests.support.exporter import start_exporter
from tests.support.paths import REPO
from tests.support.polling import wait_for
from tests.support.prereqs import require_binary
from tests.web.test_webconfig import _issue

SHORT = Limits(header_timeout=1.0, idle_timeout=2.0, write_timeout=2.0)
USER = "prometheus"
PASSWORD = "scrape-secret-91ab"


# ------------------------------------------------------------------------------------ helpers
class FakeCollector:
    """Stands in for the collector where the gateway is irrelevant: counts scrapes, can stall or fail."""

    def __init__(self, delay: float = 0.0, fail: Exception | None = None) -> None:
        self.scrapers: dict[str, Any] = {}
        self.scrapes = 0
        self.delay = delay
        self.fail = fail
        self.entered = threading.Event()

    def scrape(self, names: Iterable[str] | None = None, timeout: float | None = None) -> MetricSet:
        self.scrapes += 1
        self.entered.set()
        if self.fail is not None:
            raise self.fail
        time.sleep(self.delay)
        return MetricSet()


def fake_app(fake: FakeCollector, web: WebConfig | None = None) -> ExporterApp:
    return ExporterApp(cast(PowerwallCollector, fake), web=web)


@pytest.fixture
def serve() -> Iterator[Callable[..., ExporterServer]]:
    """Start ExporterServers on 127.0.0.1; all stopped at the end."""
    servers: list[ExporterServer] = []

    def start(app: ExporterApp, web: WebConfig | None = None, limits: Limits | None = None) -> ExporterServer:
        server = ExporterServer(app, "127.0.0.1:0", web, limits=limits)
        server.start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


def request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    start = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, time.monotonic() - start
    finally:
        conn.close()


def raw(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it (or ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        with suppress(OSError):  # the server may answer and close before a fat request is sent completely
            s.sendall(data)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except OSError:
            pass
        return out


def status_of(reply: bytes) -> int:
    m = re.match(rb"HTTP/1\.[01] (\d{3})", reply)
    assert m, reply[:200]
    return int(m.group(1))


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def basic(user: str, password: str, scheme: str = "Basic") -> str:
    return f"{scheme} " + base64.b64encode(f"{user}:{password}".encode()).decode()


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes (or resets) ``sock`` within ``within`` seconds."""
    deadline = time.monotonic() + within
    try:
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            if not sock.recv(4096):
                return True
    except TimeoutError:
        return False
    except OSError:
        return True


# ---------------------------------------------------------------------------- defaults and sizes
def test_default_limits_fit_the_brief_and_the_unit() -> None:
    lim = Limits()
    assert lim.idle_timeout == 30.0
    assert 10.0 <= lim.header_timeout <= 15.0
    assert lim.max_header_bytes == 16 * 1024 and lim.max_body_bytes == 64 * 1024
    assert lim.backlog >= 128
    assert 16 <= lim.workers <= 32
    # The unit's TasksMax must hold the HTTP workers, the gateway workers of a few gateways, the loop and main.
    unit = (REPO / "deploy" / "systemd" / "powerwall-exporter.service").read_text()
    m = re.search(r"^TasksMax=(\d+)", unit, re.M)
    assert m and int(m.group(1)) >= lim.workers + 32 + 8, "TasksMax too small for the thread budget"


def test_listen_backlog_is_large(serve: Callable[..., ExporterServer]) -> None:
    """40 scrapers connecting in the same instant must not overflow the accept queue (was 5)."""
    server = serve(fake_app(FakeCollector()))
    ss = require_binary("ss", required_in_ci=False)
    out = subprocess.run(
        [ss, "-ltnH", f"sport = :{server.port}"], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    fields = out.split()
    assert fields and int(fields[2]) >= 128, out  # Send-Q of a listening socket is its backlog


def test_listen_addresses() -> None:
    """Parsing only: tests bind 127.0.0.1 alone, never all interfaces."""
    assert parse_listen_address(":9871") == ("", 9871)  # all IPv4 interfaces, as before
    assert parse_listen_address("[::]:9871") == ("::", 9871)
    assert parse_listen_address("127.0.0.1:0") == ("127.0.0.1", 0)
    with pytest.raises(ValueError):
        parse_listen_address("9871")


# ------------------------------------------------------------------------- idle and slow clients
def test_idle_and_half_sent_connections_hold_no_threads(
    serve: Callable[..., ExporterServer], collector: PowerwallCollector
) -> None:
    server = serve(ExporterApp(collector), limits=SHORT)
    assert request(server.port, "GET", "/metrics")[0] == 200  # warm up: gateway login, worker threads
    threads0, rss0 = threading.active_count(), rss_bytes()
    with ExitStack() as stack:
        socks = []
        for i in range(200):
            s = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            if i % 2:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # half-sent
            socks.append(s)
        time.sleep(0.2)
        took = {}
        for path in ("/metrics", "/healthz"):
            status, _, _, took[path] = request(server.port, "GET", path)
            assert status == 200 and took[path] < 3.0, (path, took[path])
        grown_threads = threading.active_count() - threads0
        grown_rss = rss_bytes() - rss0
        logging.getLogger(__name__).info(
            "200 idle: +%d threads, +%.1f MiB RSS (client and server), /metrics %.3f s, /healthz %.3f s",
            grown_threads,
            grown_rss / 2**20,
            took["/metrics"],
            took["/healthz"],
        )
        assert grown_threads <= 80, grown_threads
        assert grown_rss < 32 * 2**20, grown_rss
        # The server drops them itself: half-sent ones and silent ones after header_timeout.
        start = time.monotonic()
        assert all(closed_by_server(s, 8.0) for s in socks)
        assert time.monotonic() - start < 8.0
    wait_for("the server to count no open connection", lambda: server.http.connections == 0, timeout=5)


def test_slowloris_byte_by_byte_is_cut_at_the_header_deadline(serve: Callable[..., ExporterServer]) -> None:
    server = serve(fake_app(FakeCollector()), limits=SHORT)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        start = time.monotonic()
        try:
            for ch in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":
                s.sendall(bytes([ch]))
                time.sleep(0.1)
        except OSError:
            pass
        assert closed_by_server(s, 5.0)
        assert time.monotonic() - start < SHORT.header_timeout + 1.5


def test_keep_alive_idles_longer_than_a_header_read(serve: Callable[..., ExporterServer]) -> None:
    """Between requests a connection may idle ``idle_timeout`` (not just ``header_timeout``)."""
    server = serve(fake_app(FakeCollector()), limits=SHORT)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/healthz")
    assert conn.getresponse().read() == b"ok\n"
    time.sleep(SHORT.header_timeout + 0.3)
    conn.request("GET", "/healthz")  # same socket: still open after longer than the header timeout
    resp = conn.getresponse()
    assert resp.read() == b"ok\n" and resp.getheader("Connection") is None
    sock = conn.sock
    assert sock is not None
    start = time.monotonic()
    assert closed_by_server(sock, 6.0)
    assert SHORT.idle_timeout - 0.5 < time.monotonic() - start < SHORT.idle_timeout + 2.0
    conn.close()


def test_40_simultaneous_scrapes(serve: Callable[..., ExporterServer], collector: PowerwallCollector) -> None:
    server = serve(ExporterApp(collector))
    assert request(server.port, "GET", "/metrics")[0] == 200
    threads0 = threading.active_count()
    barrier = threading.Barrier(40)
    results: list[tuple[int, float]] = []
    peak = [0]

    def scrape() -> None:
        barrier.wait()
        status, _, body, elapsed = request(server.port, "GET", "/metrics")
        peak[0] = max(peak[0], threading.active_count())
        results.append((status, elapsed if b"powerwall_up" in body else 99.0))

    workers = [threading.Thread(target=scrape) for _ in range(40)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(30)
    latencies = sorted(e for _, e in results)
    logging.getLogger(__name__).info("40 scrapes: median %.3f s, max %.3f s", latencies[20], latencies[-1])
    assert [s for s, _ in results] == [200] * 40
    assert latencies[-1] < 2.5, latencies
    # 40 client threads of our own, plus at most the server's workers and the gateway pool.
    assert peak[0] - threads0 <= 40 + 80, peak[0] - threads0


def test_healthz_answers_while_every_worker_is_busy(serve: Callable[..., ExporterServer]) -> None:
    """A liveness probe must not queue behind slow scrapes (a dead gateway), or it gets us restarted."""
    fake = FakeCollector(delay=1.5)
    server = serve(fake_app(fake), limits=Limits(workers=2))
    busy = [threading.Thread(target=request, args=(server.port, "GET", "/metrics")) for _ in range(4)]
    for t in busy:
        t.start()
    assert fake.entered.wait(5)
    status, _, body, elapsed = request(server.port, "GET", "/healthz")
    assert status == 200 and body == b"ok\n" and elapsed < 0.5, elapsed
    for t in busy:
        t.join(15)


def test_connection_cap(serve: Callable[..., ExporterServer]) -> None:
    server = serve(fake_app(FakeCollector()), limits=Limits(header_timeout=3.0, max_connections=20))
    with ExitStack() as stack:
        for _ in range(20):
            stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        wait_for("the server to count the 20 connections", lambda: server.http.connections == 20, timeout=3)
        extra = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        assert closed_by_server(extra, 2.0)  # refused right away, not queued
    # ... and once they are gone, new clients are served again.
    wait_for("the server to count no open connection", lambda: server.http.connections == 0, timeout=3)
    assert request(server.port, "GET", "/healthz")[0] == 200


# ------------------------------------------------------------------------------ HEAD and 405
def test_head_has_no_body_and_does_not_scrape(serve: Callable[..., ExporterServer]) -> None:
    fake = FakeCollector()
    server = serve(fake_app(fake))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        # Two requests on one connection: if HEAD sent a body, it would show up before the second answer.
        s.sendall(
            b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
            + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    first, _, rest = reply.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200 ") and b"Content-Type: text/plain" in first
    assert rest.startswith(b"HTTP/1.1 200 "), rest[:100]
    assert rest.endswith(b"\r\n\r\nok\n")
    assert fake.scrapes == 0
    status, headers, body, _ = request(server.port, "HEAD", "/healthz")
    assert status == 200 and body == b"" and headers["content-length"] == "3"
    assert request(server.port, "HEAD", "/")[2] == b""
    assert fake.scrapes == 0


@pytest.mark.parametrize(("method", "path"), [("POST", "/metrics"), ("DELETE", "/healthz"), ("PUT", "/")])
def test_405_carries_allow(serve: Callable[..., ExporterServer], method: str, path: str) -> None:
    fake = FakeCollector()
    server = serve(fake_app(fake))
    status, headers, _, _ = request(server.port, method, path, body=b"" if method != "DELETE" else None)
    assert status == 405
    assert headers["allow"] == "GET, HEAD"
    assert fake.scrapes == 0


# ---------------------------------------------------------------------------- size limits
def test_oversize_head_gets_431_and_keeps_memory_flat(serve: Callable[..., ExporterServer]) -> None:
    server = serve(fake_app(FakeCollector()))
    # 60 header lines of 8 KiB: each under the old 64 KiB line limit and 100-header limit.
    fat_headers = b"".join(b"X-Fat-%d: %s\r\n" % (i, b"a" * 8192) for i in range(60))
    reply = raw(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fat_headers + b"\r\n")
    assert status_of(reply) == 431
    assert status_of(raw(server.port, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n")) == 431
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(150))
    assert status_of(raw(server.port, b"GET /healthz HTTP/1.1\r\n" + many + b"\r\n")) == 431

    # Python-level memory the server keeps (tracemalloc): the process RSS of a test run also holds
    # the 40 client threads' malloc arenas, which says nothing about the server.
    errors: list[int] = []

    def fat() -> None:
        errors.append(status_of(raw(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fat_headers * 2)))

    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        threads = [threading.Thread(target=fat) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        time.sleep(1.5)  # the server's lingering closes (draining the unread rest) run out
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert errors == [431] * 40
    assert kept < 4 * 2**20, f"{kept / 2**20:.1f} MiB kept after 40 oversized requests"


def test_oversize_body_gets_413_unread(serve: Callable[..., ExporterServer]) -> None:
    server = serve(fake_app(FakeCollector()))
    start = time.monotonic()
    # The body never comes: the answer must not wait for it.
    reply = raw(server.port, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
    assert status_of(reply) == 413 and time.monotonic() - start < 2.0
    assert status_of(raw(server.port, b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")) in (411, 501)
    reply = raw(server.port, b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
    assert status_of(reply) == 400


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET /healthz\r\n\r\n", 400),  # HTTP/0.9
        (b"GET /healthz HTTP/2.0\r\n\r\n", 505),
        (b"GET  /healthz HTTP/1.1\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400),  # space before the colon (smuggling)
        (b"GET /healthz HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", 400),  # obsolete line folding
        (b"GET healthz HTTP/1.1\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"\r\nGET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", 200),  # a leading blank line is allowed
        (b"GET http://127.0.0.1/healthz HTTP/1.1\nConnection: close\n\n", 200),  # absolute-form, bare LF
    ],
)
def test_malformed_requests_are_refused(serve: Callable[..., ExporterServer], data: bytes, status: int) -> None:
    server = serve(fake_app(FakeCollector()), limits=SHORT)
    assert status_of(raw(server.port, data)) == status


def echo_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [environ["REQUEST_METHOD"].encode() + b" " + body]


@pytest.fixture
def echo_port() -> Iterator[int]:
    sock = socket.create_server(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = HTTPServer(wsgi_handler(echo_app, "http", port), sock, None, SHORT)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield port
    finally:
        server.stop()


def test_small_post_body_reaches_the_app(echo_port: int) -> None:
    body = os.urandom(40 * 1024)
    status, _, got, _ = request(echo_port, "POST", "/-/reload", body=body)
    assert status == 200 and got == b"POST " + body
    # curl's Expect: 100-continue (bodies over 1 KiB) gets its interim answer at once.
    with socket.create_connection(("127.0.0.1", echo_port), timeout=5) as s:
        s.sendall(
            b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(b"hello")
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    assert status_of(reply) == 200 and reply.endswith(b"POST hello")
    # HTTP/1.0 closes by default; pipelined requests are answered in order.
    assert raw(echo_port, b"GET /a HTTP/1.0\r\n\r\n").endswith(b"GET ")
    two = raw(
        echo_port,
        b"POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\n1"
        b"POST /b HTTP/1.1\r\nContent-Length: 1\r\nConnection: close\r\n\r\n2",
    )
    assert two.count(b"HTTP/1.1 200 OK") == 2 and two.endswith(b"POST 2")


# --------------------------------------------------------------------------------- failures
def test_app_exception_is_a_short_500_logged_once(
    serve: Callable[..., ExporterServer], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = serve(fake_app(FakeCollector(fail=RuntimeError("boom-internal-detail"))))
    status, headers, body, _ = request(server.port, "GET", "/metrics")
    assert status == 500 and headers["content-type"].startswith("text/plain")
    assert body == b"internal server error\n"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert request(server.port, "GET", "/healthz")[0] == 200  # and it keeps serving


def test_stop_does_not_wait_for_a_running_scrape(serve: Callable[..., ExporterServer]) -> None:
    fake = FakeCollector(delay=5.0)
    server = serve(fake_app(fake))
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert fake.entered.wait(5)
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 1.2
    assert closed_by_server(sock, 1.5)  # the client learns at once, not when the scrape ends
    sock.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


# ------------------------------------------------------------------------------------- auth
def users(cost: int, n: int = 1) -> dict[str, bytes]:
    out = {USER: bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=cost))}
    for i in range(1, n):
        out[f"user{i}"] = bcrypt.hashpw(f"pw{i}".encode(), bcrypt.gensalt(rounds=4))
    return out


def test_basic_auth_edge_cases(serve: Callable[..., ExporterServer]) -> None:
    web = WebConfig(users=users(4))
    server = serve(fake_app(FakeCollector(), web), web)
    port = server.port
    assert request(port, "GET", "/", {"Authorization": basic(USER, "x" * 100)})[0] == 401
    assert request(port, "GET", "/", {"Authorization": basic("nobody", "y" * 100)})[0] == 401
    assert request(port, "GET", "/", {"Authorization": basic(USER, PASSWORD, "basic")})[0] == 200
    assert request(port, "GET", "/", {"Authorization": basic(USER, PASSWORD, "BASIC")})[0] == 200
    assert request(port, "GET", "/", {"Authorization": "Basic " + base64.b64encode(b"nocolon").decode()})[0] == 401
    assert request(port, "GET", "/", {"Authorization": "Basic"})[0] == 401


def test_auth_exceptions_are_401(serve: Callable[..., ExporterServer], monkeypatch: pytest.MonkeyPatch) -> None:
    broken = WebConfig(users={USER: b"$2b$04$not-a-valid-hash"})
    server = serve(fake_app(FakeCollector(), broken), broken)
    assert request(server.port, "GET", "/", {"Authorization": basic(USER, PASSWORD)})[0] == 401

    def explode(*_: Any) -> bool:
        raise ValueError("bcrypt internal failure")

    web = WebConfig(users=users(4))
    monkeypatch.setattr(bcrypt, "checkpw", explode)
    server = serve(fake_app(FakeCollector(), web), web)
    assert request(server.port, "GET", "/metrics", {"Authorization": basic(USER, PASSWORD)})[0] == 401
    assert request(server.port, "GET", "/metrics", {"Authorization": basic("nobody", PASSWORD)})[0] == 401


def test_unknown_user_is_not_answered_faster(serve: Callable[..., ExporterServer]) -> None:
    web = WebConfig(users=users(9))
    server = serve(fake_app(FakeCollector(), web), web)

    def median(user: str) -> float:
        times = []
        for i in range(7):
            status, _, _, elapsed = request(server.port, "GET", "/", {"Authorization": basic(user, f"wrong{i}")})
            assert status == 401
            times.append(elapsed)
        return statistics.median(times)

    known, unknown = median(USER), median("no-such-user")
    logging.getLogger(__name__).info("401 for a known user %.1f ms, unknown %.1f ms", known * 1e3, unknown * 1e3)
    assert known > 0.005  # cost 9 really ran bcrypt
    assert unknown >= 0.5 * known, (known, unknown)


def test_only_successes_are_cached_and_the_cache_is_bounded() -> None:
    web = WebConfig(users=users(4, n=300))
    assert not web.authorize(basic(USER, "wrong")) and not web.authorize(basic("nobody", "x"))
    assert len(web._ok_cache) == 0
    assert web.authorize(basic(USER, PASSWORD))
    assert len(web._ok_cache) == 1 and PASSWORD.encode() not in b"".join(web._ok_cache)
    for i in range(1, 300):
        assert web.authorize(basic(f"user{i}", f"pw{i}"))
    assert len(web._ok_cache) <= 256


# -------------------------------------------------------------------------------------- TLS
@pytest.fixture(scope="module")
def server_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    _, _, pem = _issue(tmp_path_factory.mktemp("pki"), "localhost")
    return pem.cert, pem.key


def test_tls_clients_that_never_handshake_block_nobody(
    serve: Callable[..., ExporterServer], server_cert: tuple[Path, Path]
) -> None:
    cert, key = server_cert
    web = WebConfig(tls=TLSServerConfig(cert, key))
    server = serve(fake_app(FakeCollector(), web), web, limits=SHORT)
    threads0, rss0 = threading.active_count(), rss_bytes()
    ctx = ssl.create_default_context(cafile=str(cert))
    with ExitStack() as stack:
        silent = []
        for i in range(170):
            s = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            if i % 10 == 0:
                s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # the start of a ClientHello
            silent.append(s)
        time.sleep(0.3)
        # Silent clients must not get asyncio's 256 KiB TLS buffer each (that would be 40+ MiB here).
        grown = rss_bytes() - rss0
        assert grown < 16 * 2**20, grown / 2**20
        start = time.monotonic()
        conn = http.client.HTTPSConnection("localhost", server.port, context=ctx, timeout=5)
        conn.request("GET", "/healthz")
        assert conn.getresponse().read() == b"ok\n"
        conn.close()
        assert time.monotonic() - start < 1.0
        assert threading.active_count() - threads0 <= 10
        start = time.monotonic()
        assert all(closed_by_server(s, 5.0) for s in silent)  # ssl_handshake_timeout = header_timeout
        assert time.monotonic() - start < SHORT.header_timeout + 3.0


# -------------------------------------------------------------------------------------- CLI
def test_sighup_is_survived_and_the_exporter_keeps_serving(tmp_path: Path) -> None:
    exp = start_exporter(None, tmp_path, "--demo")
    try:
        exp.signal(signal.SIGHUP)
        # Wait for the handler's log line (the proof it ran), not for a guessed time.
        # The demo has no config file to re-read: the reload is refused and logged, nothing else happens.
        exp.wait_until(
            "the refused reload's log line",
            lambda: re.search(r"reload \(SIGHUP\) refused.*no --config.file", exp.log()),
            timeout=10,
        )
        assert exp.proc.poll() is None, "SIGHUP killed the exporter"
        assert 'powerwall_up{gateway="demo"} 1.0' in exp.scrape()
        exp.signal(signal.SIGTERM)
        exp.proc.wait(timeout=30)
    finally:
        err = exp.stop()
    assert exp.proc.returncode == 0, err[-2000:]
