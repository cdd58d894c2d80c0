"""Which scrape requests the exporter's HTTP server takes on, and with how much time.

Why: a replica holding hundreds of gateways once queued every probe until a worker was free, then
started the scrape deadline from that moment: answers came after Prometheus had given up (still
saying ``up 1``), requests whose scraper had closed the connection still ran, and the queue grew
until the connection limit reset new clients. Here, against the real server on 127.0.0.1: the
deadline runs from the request's arrival, a request with too little time left is refused (503)
instead of answered late, a full queue refuses at once, and a request whose client left never runs.

The collector is a stand-in that blocks on a gate, so "a worker is busy" is a state the test sets,
not a guess about timing.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

import pytest

from exporter.metrics.metricset import MetricSet
from exporter.scrape.collector import PowerwallCollector
from exporter.web.http_parse import Limits
from exporter.web.server import ExporterApp, ExporterServer
from tests.support.polling import wait_for
from tests.web.test_server_hardening import request

TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"


class GatedCollector:
    """Stands in for the collector: each scrape records its timeout, then waits for the gate."""

    def __init__(self) -> None:
        self.scrapers: dict[str, Any] = {}
        self.gate = threading.Event()
        self.timeouts: list[float | None] = []
        self.entered = threading.Semaphore(0)

    def scrape(self, names: Iterable[str] | None = None, timeout: float | None = None) -> MetricSet:
        self.timeouts.append(timeout)
        self.entered.release()
        self.gate.wait(30)
        return MetricSet()


@pytest.fixture
def gated() -> Iterator[tuple[GatedCollector, Callable[[Limits], tuple[ExporterServer, ExporterApp]]]]:
    fake = GatedCollector()
    servers: list[ExporterServer] = []

    def start(limits: Limits) -> tuple[ExporterServer, ExporterApp]:
        app = ExporterApp(cast(PowerwallCollector, fake))
        server = ExporterServer(app, "127.0.0.1:0", limits=limits)
        server.start()
        servers.append(server)
        return server, app

    yield fake, start
    fake.gate.set()
    for s in servers:
        s.stop()


def in_background(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    return t, out


def occupy_the_only_worker(fake: GatedCollector, port: int) -> threading.Thread:
    t, _ = in_background(lambda: request(port, "GET", "/metrics"))
    assert fake.entered.acquire(timeout=10)
    return t


def refused(app: ExporterApp) -> dict[str, int]:
    return dict(app._refused)


def queued_a_second(fake: GatedCollector, server: ExporterServer, timeout: str) -> Any:
    """The answer to a scrape announcing ``timeout`` that waited at least 1 s for the only worker."""
    busy = occupy_the_only_worker(fake, server.port)
    sent = time.monotonic()
    t, out = in_background(lambda: request(server.port, "GET", "/metrics", {TIMEOUT_HEADER: timeout}))
    wait_for("the second scrape to queue", lambda: server.http.pool.queued == 1, timeout=10)
    wait_for("a second in the queue", lambda: time.monotonic() - sent >= 1.0, timeout=5, interval=0.05)
    fake.gate.set()
    t.join(15)
    busy.join(15)
    assert out, "the queued scrape got no answer"
    return out[0]


def test_a_queued_scrape_gets_what_is_left_of_its_timeout(gated: Any) -> None:
    fake, start = gated
    server, _ = start(Limits(workers=1))
    # It waits at least 1 s for the worker: that second is spent from its 10 s.
    assert queued_a_second(fake, server, "10")[0] == 200
    given = fake.timeouts[-1]
    assert given is not None and 1.5 <= given <= 9.0, given


def test_a_scrape_queued_past_its_timeout_is_refused_not_run(gated: Any) -> None:
    fake, start = gated
    server, app = start(Limits(workers=1))
    # 2 s announced: past 0.75 s of waiting, less than the least useful budget is left.
    status, _, body, _ = queued_a_second(fake, server, "2")
    assert status == 503 and b"not started" in body
    assert len(fake.timeouts) == 1, "the refused scrape ran"
    assert refused(app) == {"no_time": 1}
    status, _, page, _ = request(server.port, "GET", "/metrics")
    assert status == 200
    assert b'powerwall_exporter_scrapes_refused_total{reason="no_time"} 1.0' in page
    assert b'powerwall_exporter_scrapes_refused_total{reason="queue_full"} 0.0' in page


def test_a_full_queue_refuses_at_once(gated: Any) -> None:
    fake, start = gated
    server, app = start(Limits(workers=1, max_queued=2))
    busy = occupy_the_only_worker(fake, server.port)
    queued = [in_background(lambda: request(server.port, "GET", "/metrics"))[0] for _ in range(2)]
    wait_for("two scrapes to queue", lambda: server.http.pool.queued == 2, timeout=10)
    status, _, body, _ = request(server.port, "GET", "/metrics")  # answered while the gate is still shut
    assert status == 503 and b"busy" in body
    assert refused(app) == {"queue_full": 1}
    fake.gate.set()
    for t in [busy, *queued]:
        t.join(15)
    assert len(fake.timeouts) == 3


def test_a_request_whose_client_left_is_not_run(gated: Any) -> None:
    fake, start = gated
    server, app = start(Limits(workers=1))
    busy = occupy_the_only_worker(fake, server.port)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(f"GET /metrics HTTP/1.1\r\nHost: x\r\n{TIMEOUT_HEADER}: 10\r\n\r\n".encode())
        wait_for("the scrape to queue", lambda: server.http.pool.queued == 1, timeout=10)
    # Closed, as Prometheus closes a scrape's connection at its timeout.
    wait_for("the server to notice the client left", lambda: server.http.abandoned == 1, timeout=10)
    fake.gate.set()
    busy.join(15)
    wait_for("the dropped request to be counted", lambda: refused(app) == {"client_gone": 1}, timeout=10)
    assert len(fake.timeouts) == 1, "the abandoned scrape ran"
    assert request(server.port, "GET", "/healthz")[0] == 200


def test_pipelined_requests_still_get_both_answers(gated: Any) -> None:
    """Reading for a closing client while a request runs must not lose the next request's bytes."""
    fake, start = gated
    server, _ = start(Limits(workers=1))
    fake.gate.set()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert reply.count(b"HTTP/1.1 200 OK") == 2, reply[:300]
