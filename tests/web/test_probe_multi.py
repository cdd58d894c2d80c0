"""Multi-target: ``/probe?target=<gateway>`` and ``/metrics`` over two simulated gateways.

Why: installers run one exporter for several sites and scrape each one as its own Prometheus target
(the blackbox/snmp exporter pattern). A probe must return exactly the asked-for gateway, reject
unknown targets with a client error, and one slow or dead gateway must never delay the others beyond
the scrape timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from exporter.config import Config
from exporter.scrape.collector import PowerwallCollector
from exporter.simulator import SimulatedGateway, SiteModel
from exporter.web.server import ExporterApp, ExporterServer
from tests.scrape import Scrape, get
from tests.simtime import SIM_START
from tests.support.polling import wait_for
from tests.support.wiring import SIM_PASSWORD, gateway_config

SCRAPE_TIMEOUT = 1.5
MARGIN = 0.35


@dataclass
class Pair:
    a: SimulatedGateway
    b: SimulatedGateway
    collector: PowerwallCollector
    server: ExporterServer

    def get(self, path: str, timeout: float = SCRAPE_TIMEOUT) -> Scrape:
        r = get(self.server.port, path, timeout, timeout=30)
        return Scrape.of(r) if r.status == 200 else Scrape(r.status, r.elapsed, r.body.decode())


@pytest.fixture
def pair() -> Iterator[Pair]:
    a = SimulatedGateway(password=SIM_PASSWORD, model=SiteModel(start_time=SIM_START, seed=1, powerwalls=1)).start()
    b = SimulatedGateway(
        password=SIM_PASSWORD, model=SiteModel(start_time=SIM_START, seed=2, powerwalls=3, site_name="Cabin")
    ).start()
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
    assert not any(n.startswith(("process_", "python_")) for n in r.names())
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
    ok_b = r.success("b")
    assert ok_b and set(ok_b.values()) == {1.0}, ok_b
    assert r.value("powerwall_meter_power_watts", gateway="a", meter="site") is None

    # While a /metrics scrape is stuck on gateway a, a probe of b answers at b's own speed.
    slow: list[Scrape] = []
    b_seen = len(pair.b.requests)
    t = threading.Thread(target=lambda: slow.append(pair.get("/metrics")))
    t.start()
    # The slow scrape has asked b (fast) once b's requests arrive; from then on it waits for a.
    wait_for("the /metrics scrape to reach gateway b", lambda: len(pair.b.requests) > b_seen, timeout=5)
    fast = pair.get("/probe?target=b")
    overlapped = t.is_alive()
    t.join()
    assert overlapped, "the probe did not run while /metrics was waiting for gateway a"
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
