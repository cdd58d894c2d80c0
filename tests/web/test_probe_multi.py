"""Multi-target: ``/probe?target=<gateway>`` and ``/metrics`` over two simulated gateways.

Why: installers run one exporter for several sites and scrape each one as its own Prometheus target
(the blackbox/snmp exporter pattern). A probe must return exactly the asked-for gateway, reject
unknown targets with a client error, and one slow or dead gateway must never delay the others beyond
the scrape timeout.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.collector import PowerwallCollector
from exporter.config import Config
from exporter.simulator import SimulatedGateway, SiteModel
from exporter.web.server import ExporterApp, ExporterServer
from tests.conftest import SIM_PASSWORD, gateway_config

SCRAPE_TIMEOUT = 1.5
MARGIN = 0.35


@dataclass
class Answer:
    status: int
    body: str
    elapsed: float

    def samples(self) -> list[tuple[str, dict[str, str], float]]:
        return [
            (s.name, dict(s.labels), float(s.value))
            for f in text_string_to_metric_families(self.body)
            for s in f.samples
        ]

    def value(self, name: str, **labels: str) -> float | None:
        for n, lbl, v in self.samples():
            if n == name and all(lbl.get(k) == want for k, want in labels.items()):
                return v
        return None

    def gateways(self) -> set[str]:
        return {lbl["gateway"] for _, lbl, _ in self.samples() if "gateway" in lbl}


@dataclass
class Pair:
    a: SimulatedGateway
    b: SimulatedGateway
    collector: PowerwallCollector
    server: ExporterServer

    def get(self, path: str, timeout: float = SCRAPE_TIMEOUT) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        start = time.monotonic()
        try:
            conn.request("GET", path, headers={"X-Prometheus-Scrape-Timeout-Seconds": str(timeout)})
            resp = conn.getresponse()
            body = resp.read().decode()
        finally:
            conn.close()
        return Answer(resp.status, body, time.monotonic() - start)


@pytest.fixture
def pair() -> Iterator[Pair]:
    a = SimulatedGateway(password=SIM_PASSWORD, model=SiteModel(seed=1, powerwalls=1)).start()
    b = SimulatedGateway(password=SIM_PASSWORD, model=SiteModel(seed=2, powerwalls=3, site_name="Cabin")).start()
    collector = PowerwallCollector(Config(gateways=(gateway_config(a, "a"), gateway_config(b, "b")), state_file=None))
    server = ExporterServer(ExporterApp(collector), "127.0.0.1:0")
    server.start()
    try:
        yield Pair(a, b, collector, server)
    finally:
        server.stop()
        collector.close()
        a.stop()
        b.stop()


def test_probe_returns_only_the_target(pair: Pair) -> None:
    r = pair.get("/probe?target=b")
    assert r.status == 200
    assert r.gateways() == {"b"}
    assert r.value("powerwall_up", gateway="b") == 1
    assert r.value("powerwall_batteries", gateway="b") == 3
    assert r.value("powerwall_up", gateway="a") is None
    # A probe is about the target: no exporter process metrics mixed in.
    assert not any(n.startswith(("process_", "python_")) for n, _, _ in r.samples())
    assert not [q for q in pair.a.requests], "probing b must not touch gateway a"


@pytest.mark.parametrize(
    ("path", "status"),
    [("/probe", 400), ("/probe?target=", 400), ("/probe?module=x", 400), ("/probe?target=nope", 404)],
)
def test_probe_rejects_missing_and_unknown_targets(pair: Pair, path: str, status: int) -> None:
    r = pair.get(path)
    assert r.status == status
    assert not pair.a.requests and not pair.b.requests


def test_metrics_serves_every_gateway(pair: Pair) -> None:
    r = pair.get("/metrics")
    assert r.status == 200
    assert r.gateways() == {"a", "b"}
    assert r.value("powerwall_up", gateway="a") == 1
    assert r.value("powerwall_up", gateway="b") == 1
    assert r.value("powerwall_batteries", gateway="a") == 1
    assert r.value("powerwall_batteries", gateway="b") == 3
    assert r.value("process_resident_memory_bytes") is not None


def test_slow_gateway_does_not_delay_the_other(pair: Pair) -> None:
    pair.get("/metrics")  # log both in
    pair.a.faults.delay_seconds = SCRAPE_TIMEOUT + 2
    r = pair.get("/metrics")
    assert r.elapsed <= SCRAPE_TIMEOUT + MARGIN, r.elapsed
    assert r.value("powerwall_up", gateway="a") == 0
    assert r.value("powerwall_up", gateway="b") == 1
    ok_b = [v for n, lbl, v in r.samples() if n == "powerwall_scrape_endpoint_success" and lbl["gateway"] == "b"]
    assert ok_b and set(ok_b) == {1.0}
    assert r.value("powerwall_meter_power_watts", gateway="a", meter="site") is None

    # While a /metrics scrape is stuck on gateway a, a probe of b answers at b's own speed.
    slow: list[Answer] = []
    t = threading.Thread(target=lambda: slow.append(pair.get("/metrics")))
    t.start()
    time.sleep(0.1)
    fast = pair.get("/probe?target=b")
    t.join()
    assert fast.status == 200 and fast.value("powerwall_up", gateway="b") == 1
    assert fast.elapsed < 0.8, fast.elapsed
    assert slow[0].elapsed <= SCRAPE_TIMEOUT + MARGIN


def test_gateway_timeout_bounds_its_own_wait(pair: Pair) -> None:
    """A gateway's own timeout_seconds ends its wait even when Prometheus allows longer."""
    pair.collector.close()
    a_cfg = gateway_config(pair.a, "a", timeout_seconds=0.5)
    pair.collector = PowerwallCollector(Config(gateways=(a_cfg, gateway_config(pair.b, "b")), state_file=None))
    pair.server.set_app(ExporterApp(pair.collector))
    pair.get("/metrics", timeout=10)
    pair.a.faults.delay_seconds = 3.0
    r = pair.get("/metrics", timeout=10)
    assert r.elapsed < 0.5 + MARGIN, r.elapsed
    assert r.value("powerwall_up", gateway="a") == 0
    assert r.value("powerwall_up", gateway="b") == 1
